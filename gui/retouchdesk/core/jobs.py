"""Job records, states and the events the engine emits.

A job is plain data (a row in SQLite, see ``services.store``). Its state changes only in the
engine, through :func:`check_transition`, and every change is announced as a
:class:`JobEvent` that the CLI and the window's view-models consume.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    PREPARING = "preparing"  # reading and checking the input, validating parameters
    UPLOADING = "uploading"  # making the input reachable: upload, hosting, file ids
    SUBMITTED = "submitted"  # the provider accepted the job and gave an id
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The submission may have reached the provider but its answer never arrived (a reset, a
    # 502, a kill in flight): it is never sent again by itself; a late answer (Enhancor's
    # webhook) adopts it, or the user resends it knowing it may be paid twice.
    UNCONFIRMED = "unconfirmed"
    # The provider holds the job (it has a remote id) but it did not finish within the job
    # deadline, or the provider could not be reached: the next run polls it again.
    STALLED = "stalled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def settled(self) -> bool:
        """Nothing more happens in this run: terminal, or waiting for the user or a re-run."""
        return self in TERMINAL or self in PARKED

    @property
    def remote(self) -> bool:
        """States in which the provider may hold the job (resume by polling after a restart)."""
        return self in (JobState.SUBMITTED, JobState.RUNNING, JobState.DOWNLOADING)


TERMINAL = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
#: Not finished, not running: resumed by the next run (stalled) or by the user (unconfirmed).
PARKED = frozenset({JobState.UNCONFIRMED, JobState.STALLED})
ORDER = (
    JobState.QUEUED,
    JobState.PREPARING,
    JobState.UPLOADING,
    JobState.SUBMITTED,
    JobState.RUNNING,
    JobState.DOWNLOADING,
    JobState.DONE,
)


def check_transition(old: JobState, new: JobState) -> None:
    """Allow forward moves, failure/cancel from any live state, and a retry back to queued."""
    if old == new:
        return
    if new in (JobState.FAILED, JobState.CANCELLED) and not old.terminal:
        return
    if new is JobState.QUEUED and old in (JobState.FAILED, JobState.CANCELLED):
        return  # the user pressed Retry
    if new is JobState.QUEUED and old is JobState.UNCONFIRMED:
        return  # the user chose to resend despite a possible double charge
    if new in PARKED and not old.terminal:
        return
    if old is JobState.UNCONFIRMED and new is JobState.SUBMITTED:
        return  # a late answer (webhook) named the remote job
    if old is JobState.STALLED and new in (
        JobState.SUBMITTED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.DONE,
    ):
        return  # resumed by its remote id
    if old in ORDER and new in ORDER and ORDER.index(new) > ORDER.index(old):
        return
    raise ValueError(f"job cannot go from {old} to {new}")


@dataclass
class JobRecord:
    """Everything known about one job; the engine persists it after every change."""

    id: str
    provider: str
    operation: str
    input_path: Path
    params: dict[str, Any]
    output_dir: Path
    name_template: str
    batch_id: str | None = None
    state: JobState = JobState.QUEUED
    progress: float | None = None
    message: str = ""
    error: str | None = None
    idempotency_key: str = ""
    remote_id: str | None = None
    remote: dict[str, Any] = field(default_factory=dict)  # provider-owned resumable state
    submit_started: bool = False  # the submit call may have reached the provider
    attempts: int = 0
    cost: float | None = None
    cost_unit: str = ""
    results: list[Path] = field(default_factory=list)
    result_meta: dict[str, Any] = field(default_factory=dict)
    # App-level choices applied to the results (services.postprocess), e.g. protect_outside.
    options: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def op_key(self) -> str:
        return f"{self.provider}.{self.operation}"

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at


class EventKind(StrEnum):
    ADDED = "added"
    STATE = "state"
    PROGRESS = "progress"
    MESSAGE = "message"  # e.g. "rate limited, retrying in 12 s"
    REMOVED = "removed"
    BATCH_STOPPED = "batch_stopped"  # e.g. credits ran out: the rest of the batch is stopped


@dataclass(frozen=True)
class JobEvent:
    """One thing that happened to a job, in the order it happened."""

    kind: EventKind
    job_id: str
    state: JobState
    progress: float | None = None
    message: str = ""
    error: str | None = None
    results: tuple[Path, ...] = ()
    batch_id: str | None = None
