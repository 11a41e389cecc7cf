"""The batch planner: which photos of a batch to send, and which are done, running or repeated.

One set of rules for the command line (``retouchdesk run``) and the window (Apply, Apply to
all), so that neither pays twice for the same pixels:

* A photo listed twice (a file and its folder) is planned once: the repeat is a **duplicate**.
* Each job carries a key (:func:`work_key`) made of the provider, operation, validated
  parameters, what the caller adds (output folder, name template, format, job options...)
  and the input's absolute path, size and modification time. Equal keys are the same work.
* A job with that key that is **done**, whose result files all still exist, is not sent
  again: the caller shows (window) or skips (CLI) its result.
* One that is not finished is **running** (queued, submitting, processing...),
  **unconfirmed** (its submission's answer was lost: the vendor may have it) or **stalled**
  (its vendor stopped answering). None of them is sent again: the CLI resumes them (polling
  the remote job, never paying twice) and the window, whose engine already drives them,
  points at them. Only an explicit choice resends an unconfirmed job.
* A failed or cancelled one, or none, is sent (**submit**).

The planner knows no user interface and no engine: it reads earlier jobs through a lookup
(``JobStore.find_by_dedupe_key``, or the window's live records first) and returns a typed
:class:`BatchPlan` the caller acts on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

from retouchdesk.core.jobs import JobRecord, JobState

T = TypeVar("T")

Lookup = Callable[[str], JobRecord | None]


def work_key(
    provider: str, operation: str, photo: Path, params: dict[str, Any], extra: dict[str, Any]
) -> str:
    """A digest that is equal for two requests that would produce the same result.

    ``photo`` is the file sent; its absolute path, size and modification time are part of
    the key, so an edited photo is new work. ``extra`` holds what else changes the result
    for the caller (output folder, name template, format, job options, a downscaled size).
    The JSON is canonical (sorted keys), so the key is stable across runs and processes:
    a command run again after ``kill -9`` finds its jobs.
    """
    try:
        st = photo.stat()
        stamp: list[Any] = [st.st_size, st.st_mtime_ns]
    except OSError:
        stamp = [None, None]
    payload = {
        "provider": provider,
        "op": operation,
        "input": str(photo.absolute()),
        "stamp": stamp,
        "params": params,
        **extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Decision(Enum):
    """What the planner decided for one entry of a batch."""

    SUBMIT = "submit"  # send it (never done, or failed or cancelled before)
    DONE = "done"  # the same work is done and its results are all there
    RUNNING = "running"  # the same work is queued or under way
    UNCONFIRMED = "unconfirmed"  # sent, the answer lost: the vendor may have it
    STALLED = "stalled"  # sent, the vendor stopped answering
    DUPLICATE = "duplicate"  # the same work appears earlier in this batch
    MISSING = "missing"  # the input file does not exist


@dataclass
class Planned(Generic[T]):
    """One entry of a batch with the planner's decision and the earlier job behind it."""

    entry: T
    key: str
    decision: Decision
    previous: JobRecord | None = None  # the job that did or does the same work

    @property
    def earlier(self) -> bool:
        """Done, running, unconfirmed or stalled: sending it would repeat that job."""
        return self.previous is not None


@dataclass
class BatchPlan(Generic[T]):
    """The planner's answer, in the batch's order and grouped by decision."""

    items: list[Planned[T]] = field(default_factory=list)

    def where(self, *decisions: Decision) -> list[Planned[T]]:
        return [p for p in self.items if p.decision in decisions]

    @property
    def submit(self) -> list[Planned[T]]:
        """The entries to send."""
        return self.where(Decision.SUBMIT)

    @property
    def done(self) -> list[Planned[T]]:
        """The entries whose work is done, each with the job (``previous``) and its results."""
        return self.where(Decision.DONE)

    @property
    def unfinished(self) -> list[Planned[T]]:
        """Running, unconfirmed and stalled entries: never sent again without a choice."""
        return self.where(Decision.RUNNING, Decision.UNCONFIRMED, Decision.STALLED)

    @property
    def duplicates(self) -> list[Planned[T]]:
        return self.where(Decision.DUPLICATE)

    @property
    def missing(self) -> list[Planned[T]]:
        return self.where(Decision.MISSING)


def decide(previous: JobRecord | None) -> Decision:
    """The decision for work whose latest job with the same key is ``previous``."""
    if previous is None:
        return Decision.SUBMIT
    if previous.state is JobState.DONE:
        kept = bool(previous.results) and all(p.exists() for p in previous.results)
        return Decision.DONE if kept else Decision.SUBMIT  # a result deleted is work to redo
    if previous.state.terminal:  # failed or cancelled: run it again
        return Decision.SUBMIT
    if previous.state is JobState.UNCONFIRMED:
        return Decision.UNCONFIRMED
    if previous.state is JobState.STALLED:
        return Decision.STALLED
    return Decision.RUNNING


def plan_batch(
    entries: Iterable[T],
    key: Callable[[T], str],
    lookup: Lookup,
    *,
    path: Callable[[T], Path] | None = None,
    force: bool = False,
) -> BatchPlan[T]:
    """Decide for each entry of a batch (see the module text).

    ``key`` gives an entry's :func:`work_key`; ``lookup`` the newest job with a key (or
    None); ``path``, when given, the input file whose absence makes the entry MISSING.
    ``force`` sends everything that is not a duplicate or missing, as if nothing were
    recorded (the CLI's ``--force``).
    """
    plan: BatchPlan[T] = BatchPlan()
    seen: set[str] = set()
    for entry in entries:
        if path is not None and not path(entry).exists():
            plan.items.append(Planned(entry, "", Decision.MISSING))
            continue
        k = key(entry)
        if k in seen:
            plan.items.append(Planned(entry, k, Decision.DUPLICATE))
            continue
        seen.add(k)
        previous = None if force else lookup(k)
        decision = decide(previous)
        kept = previous if decision is not Decision.SUBMIT else None
        plan.items.append(Planned(entry, k, decision, kept))
    return plan
