"""The job engine: runs every job through its provider, durably, and tells everyone about it.

One :class:`JobEngine` drives jobs through ``queued -> preparing -> uploading -> submitted ->
running -> downloading -> done`` (or ``failed`` / ``cancelled``) following the call sequence
of :mod:`retouchdesk.providers.base`. Design points:

* **One place changes state**: :meth:`JobEngine._transition` checks the move with
  :func:`core.jobs.check_transition`, persists the row and emits a :class:`JobEvent`.
* **Durable**: every job is a row in :class:`services.store.JobStore` from the moment it is
  queued; ``submit_started`` is persisted *before* the provider's ``submit`` is called, so after
  a crash the engine knows whether a submission may have reached the provider.
* **Resume**: :meth:`start` picks up unfinished rows and follows :mod:`services.resume`:
  remote jobs with a ``remote_id`` resume polling (``Capability.RESUME``); a job whose
  submission may have reached the provider is sent again only when that is safe
  (``IDEMPOTENT_SUBMIT`` with the same key, or ``LOCAL``); otherwise it is ``unconfirmed``:
  never sent again by itself, adopted when a late answer names its remote job
  (``Provider.adopt``), resent only by :meth:`resend_unconfirmed`.
* **Retries**: decided by meaning in :mod:`services.retry_policy` (one place); a job the
  vendor holds is never abandoned for a transient fault, only ``stalled`` after the job
  deadline; a MESSAGE event names every wait.
* **Concurrency**: one semaphore per provider (``concurrency`` in its schema, else
  ``Provider.max_concurrency``; the ``engine.concurrency`` setting overrides both).
* **Results** are named, post-processed and written (atomically, never over another
  process's file) by :class:`services.results.ResultWriter`.
* **Never on the loop thread**: probing, image writing and folder checks run in
  ``asyncio.to_thread``; only the small SQLite writes happen on the loop.

Events are delivered synchronously on the asyncio loop thread, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from retouchdesk.core import naming
from retouchdesk.core.errors import (
    AuthError,
    Cancelled,
    ConfigurationError,
    CreditsExhausted,
    ProviderError,
    RateLimited,
    RetouchError,
)
from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState, check_transition
from retouchdesk.core.schema import Catalog, Inapplicable, Operation
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    PollResult,
    Provider,
    RemoteState,
    SubmitResult,
)
from retouchdesk.services import paths
from retouchdesk.services import results as results_mod
from retouchdesk.services import resume as resume_policy
from retouchdesk.services import retry_policy as policy
from retouchdesk.services.jobfiles import (
    check_output_dir,
    owner_alive,
)
from retouchdesk.services.resume import Resume
from retouchdesk.services.store import JobStore, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

Subscriber = Callable[[JobEvent], None]
ProviderGetter = Callable[[str], Provider]


# Job option: send a downscaled copy when the photo breaks the operation's size limits.
FIT_LIMITS = "fit_limits"
# Key in ``JobRecord.remote``: how many times the engine has called ``submit`` for the job.
SENDS = "engine_sends"


class _Parked(Exception):
    """Ends a job's run without ending the job: ``unconfirmed`` or ``stalled``."""

    def __init__(self, state: JobState, sentence: str) -> None:
        super().__init__(sentence)
        self.state = state
        self.sentence = sentence


@dataclass
class JobRequest:
    """What a caller asks for; the engine turns it into a :class:`JobRecord` row.

    ``output_dir`` and ``name_template`` default to the settings. ``dedupe_key`` lets a caller
    find the job again later (the CLI skips work that is already done).
    """

    provider: str
    operation: str
    input_path: Path
    params: dict[str, Any] = field(default_factory=dict)
    output_dir: Path | None = None
    name_template: str | None = None
    dedupe_key: str | None = None
    idempotency_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # see services.postprocess


_LAZY_STATES = frozenset(
    {JobState.PREPARING, JobState.UPLOADING, JobState.RUNNING, JobState.DOWNLOADING}
)


@dataclass
class EngineConfig:
    """The engine's knobs, normally read from settings (``EngineConfig.from_settings``)."""

    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    job_deadline: float = 3600.0  # one run follows a remote job this long, then it is stalled
    unconfirmed_wait: float = 120.0  # how long an unconfirmed job waits for a late answer
    concurrency: dict[str, int] = field(default_factory=dict)  # overrides per provider
    output_dir: str = ""
    output_subfolder: str = "retouched"
    template: str = naming.DEFAULT_TEMPLATE
    policy: dict[str, Any] = field(default_factory=dict)  # core.imageio.OutputPolicy fields
    lazy_save_delay: float = 0.1  # progress and intermediate states reach SQLite this late
    work_root: Path | None = None  # scratch folders of jobs (default: cache dir / jobs)
    # When set, the output settings are read again for every new job, so a change made in the
    # Settings dialog applies to the next job without a restart.
    live: Any = None  # services.settings.Settings
    policy_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. the CLI's --format
    # Finished jobs read per page (newest first) when a job list asks: a long history costs
    # neither start-up time nor memory (unfinished jobs are always read, all of them).
    history_page: int = 50  # rows of 34 px: more than any job panel shows at once

    @classmethod
    def from_settings(cls, settings: Any) -> EngineConfig:
        g = settings.get
        config = cls(
            max_attempts=max(1, int(g("engine", "max_attempts"))),
            backoff_base=float(g("engine", "backoff_base")),
            backoff_max=float(g("engine", "backoff_max")),
            job_deadline=float(g("engine", "job_deadline")),
            unconfirmed_wait=float(g("engine", "unconfirmed_wait")),
            concurrency=parse_concurrency(g("engine", "concurrency")),
            live=settings,
        )
        config.refresh_output()
        return config

    def refresh_output(self) -> None:
        """Re-read the output settings (folder, template, format, metadata) when live."""
        if self.live is None:
            return
        g = self.live.get
        self.output_dir = g("output", "dir")
        self.output_subfolder = g("output", "subfolder")
        self.template = g("output", "template")
        self.policy = {
            "format": g("output", "format"),
            "jpeg_quality": g("output", "jpeg_quality"),
            "keep_exif": g("output", "keep_exif"),
            "keep_icc": g("output", "keep_icc"),
            "keep_xmp": g("output", "keep_xmp"),
            "keep_gps": g("output", "keep_gps"),
        }

    def output_policy(self) -> dict[str, Any]:
        return {**self.policy, **self.policy_overrides}


def parse_concurrency(text: str) -> dict[str, int]:
    """``"youcam=1, local=2"`` -> ``{"youcam": 1, "local": 2}``; bad entries are ignored."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            if name.strip() and int(value) > 0:
                out[name.strip()] = int(value)
    return out


def default_output_dir(input_path: Path, config: EngineConfig) -> Path:
    """The settings' output folder, or a subfolder beside the photo."""
    if config.output_dir:
        return Path(config.output_dir).expanduser()
    return input_path.parent / (config.output_subfolder or "retouched")


class JobEngine:
    """Runs jobs; the only owner of job state. See the module docstring.

    Signals (as events to :meth:`subscribe` callbacks): ADDED, STATE, PROGRESS, MESSAGE,
    REMOVED, BATCH_STOPPED (:class:`retouchdesk.core.jobs.EventKind`).
    """

    def __init__(
        self,
        store: JobStore,
        catalog: Catalog,
        provider_for: ProviderGetter,
        *,
        config: EngineConfig | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self._provider_for = provider_for
        self.config = config or EngineConfig()
        # The jobs this engine knows: every unfinished one (to resume), this session's, and
        # the finished ones read so far (pages asked for by a job list, newest first, and
        # single ones asked for by id). Finished rows stay in SQLite until asked for, so a
        # long history costs neither the CLI nor the window's start anything.
        self._records: dict[str, JobRecord] = {r.id: r for r in store.unfinished()}
        self._whole: set[str] = set()  # batches read with every one of their jobs
        self._complete_batches(list(self._records.values()))
        self._older: tuple[float, int] | None = None  # cursor of the oldest page read
        self._has_older = True
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done_events: dict[str, asyncio.Event] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        # Set while the queue runs; cleared by pause(): queued jobs wait, started ones go on.
        self._not_paused = asyncio.Event()
        self._not_paused.set()
        self._cancel_requested: set[str] = set()
        self._pending: set[str] = set()
        self._sent_sizes: dict[str, tuple[int, int]] = {}  # jobs that send a downscaled copy
        self._sent_notes: dict[str, list[str]] = {}  # what the sent copy changed (first page...)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.busy_elsewhere: dict[str, str | None] = {}  # job id -> owner, after start()
        self._dirty: dict[str, JobRecord] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._work_root: Path | None = None
        self._verified_dirs: dict[Path, float] = {}
        self._contexts: dict[str, JobContext] = {}
        self._started = False
        self._closing = False
        self.results = results_mod.ResultWriter(
            policy_fields=lambda: self.config.output_policy(),
            work_dir=self._work_dir,
            touch=self._touch,
            provider_label=self._provider_label,
            result_written=self._result_written,
        )
        # The first failure to write the job database (a full disk): jobs end in memory with
        # its sentence and resume from their last durable state at the next run.
        self.store_error: StoreError | None = None
        self._adopting: set[str] = set()  # unconfirmed jobs waiting for a late answer

    # -- public API -----------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def submit(self, request: JobRequest, *, batch_id: str | None = None) -> JobRecord:
        """Queue one job (a row at once); it runs when the engine is started."""
        rec = self._new_record(request, batch_id)
        self.store.insert(rec, dedupe_key=request.dedupe_key, owner=self.owner)
        self._added(rec)
        return rec

    def submit_batch(self, requests: Iterable[JobRequest]) -> str:
        """Queue several jobs as one batch (credits running out stops the rest of it)."""
        batch_id = uuid.uuid4().hex
        self._whole.add(batch_id)
        recs = [(self._new_record(r, batch_id), r.dedupe_key) for r in requests]
        self.store.insert_many(recs, owner=self.owner)
        for rec, _ in recs:
            self._added(rec)
        return batch_id

    def get(self, job_id: str) -> JobRecord | None:
        """A job by id; a finished one not read yet is read from the database (one row)."""
        rec = self._records.get(job_id)
        if rec is None:
            rec = self.store.get(job_id)
            if rec is not None and rec.state.terminal:
                self._records[job_id] = rec  # kept: holders see one object per job
        return rec

    def jobs(self) -> list[JobRecord]:
        """The jobs read so far (see :meth:`load_older` for the rest of the history)."""
        return list(self._records.values())

    @property
    def has_older(self) -> bool:
        """Whether finished jobs older than those read remain in the database (True until
        the first page is read)."""
        return self._has_older

    def read_newest(self) -> None:
        """Make sure the newest page of finished jobs is read (a job list's first view)."""
        if self._older is None and self._has_older:
            self._read_older(self.config.history_page)

    def load_older(self, limit: int | None = None) -> list[JobRecord]:
        """Read the next page of finished jobs, newest first (a batch comes whole): the first
        call gives the newest ones. Returns the page's records."""
        return self._read_older(limit or self.config.history_page)

    def _read_older(self, limit: int) -> list[JobRecord]:
        if not self._has_older:
            return []
        page, self._older, self._has_older = self.store.finished_page(limit, self._older)
        return self._complete_batches(page)

    def _complete_batches(self, recs: list[JobRecord]) -> list[JobRecord]:
        """Keep ``recs`` and read the rest of their batches (a batch row is never partial)."""
        missing = {r.batch_id for r in recs if r.batch_id and r.batch_id not in self._whole}
        if missing:
            seen = {r.id for r in recs}
            recs = recs + [r for r in self.store.batches(missing) if r.id not in seen]
            self._whole |= missing
        return [self._records.setdefault(r.id, r) for r in recs]

    def versions_of(
        self, photo: Path, inputs: Iterable[Path]
    ) -> list[tuple[JobRecord, tuple[Path, str | None] | None]]:
        """Done jobs that may be versions of ``photo`` (see ``JobStore.versions_of``).

        Read by index from the database, then mapped to the records this engine holds, so
        that a photo's history never needs the whole job list in memory.
        """
        out = []
        for rec, row in self.store.versions_of(photo, inputs):
            known = self._records.setdefault(rec.id, rec)
            if known.state is JobState.DONE:
                out.append((known, row))
        return out

    def earlier_results(self) -> frozenset[str]:
        """Every result file a job recorded (absolute paths as text)."""
        found = self.store.result_paths()  # written absolute (output folders are made so)
        for rec in self._records.values():
            found.update(str(p.absolute()) for p in rec.results)
        return frozenset(found)

    async def prune(self, keep_days: float) -> list[str]:
        """Forget finished jobs that finished more than ``keep_days`` days ago.

        Runs the deletion in a worker thread; unfinished, unconfirmed and stalled jobs are
        never touched (``JobStore.prune``). Their scratch folders go too; result files and
        originals stay. Listeners hear REMOVED for the ones they may show. Returns the ids.
        """
        if keep_days <= 0:
            return []
        cutoff = time.time() - keep_days * 86400
        ids = await asyncio.to_thread(self.store.prune, cutoff)
        for job_id in ids:
            rec = self._records.get(job_id)
            if rec is None or not rec.state.terminal or job_id in self._tasks:
                continue
            del self._records[job_id]
            self._emit(JobEvent(EventKind.REMOVED, job_id, rec.state, batch_id=rec.batch_id))
        dirs = [self._work_dir(j) for j in ids]
        await asyncio.to_thread(lambda: [shutil.rmtree(d, True) for d in dirs])
        return ids

    def batch_jobs(self, batch_id: str) -> list[JobRecord]:
        return [r for r in self._records.values() if r.batch_id == batch_id]

    def start(
        self, *, resume: bool | Iterable[str] = True, resend: Iterable[str] = ()
    ) -> list[str]:
        """Start running (needs a running loop); resume unfinished jobs of earlier runs.

        ``resume`` True picks up every unfinished job in the store, False none, or an
        iterable of job ids picks up only those (the CLI resumes only its own batch).
        ``resend`` names unconfirmed jobs among them to send again (``--resend-unconfirmed``).
        Returns the ids of the resumed jobs.
        """
        asyncio.get_running_loop()  # fail early and clearly outside a loop
        self._started = True
        self._closing = False
        if resume is True:
            wanted = None
        elif resume is False:
            wanted = set()
        else:
            wanted = set(resume)
        candidates: list[str] = []
        for rec in list(self._records.values()):
            if rec.state.terminal or rec.id in self._tasks:
                continue
            if rec.id in self._pending:
                self._spawn(rec.id, resume=False)  # queued in this session before start()
                continue
            if wanted is not None and rec.id not in wanted:
                continue  # another run's job (e.g. the window's): leave it to its owner
            candidates.append(rec.id)
        self._pending.clear()
        # A job another live process is running (the window while a CLI batch runs, or the
        # other way round) is left to it: two processes must never drive the same job. The
        # check and the claim are one transaction, so two processes cannot both win.
        resumed, self.busy_elsewhere = self.store.claim(
            candidates, self.owner, lambda owner: owner_alive(owner, self.owner)
        )
        for job_id in resumed:
            fresh = self.store.get(job_id)  # another process may have moved it meanwhile
            current = self._records.get(job_id)
            if fresh is not None and current is not None:
                moved = fresh.state is not current.state
                vars(current).update(vars(fresh))  # same object: holders keep seeing it
                if moved:  # listeners keeping counts by state must hear of it
                    self._emit(
                        JobEvent(
                            EventKind.STATE,
                            job_id,
                            current.state,
                            progress=current.progress,
                            message=current.message,
                            error=current.error,
                            batch_id=current.batch_id,
                        )
                    )
        again = set(resend)
        for job_id in resumed:
            if job_id in again and self.resend_unconfirmed(job_id):
                continue  # the user accepted a possible double charge (CLI option)
            self._spawn(job_id, resume=True)
        return resumed

    # -- pause --------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self._not_paused.is_set()

    def pause(self) -> None:
        """Start no further queued job; jobs already sent or running go on (they are paid)."""
        self._not_paused.clear()

    def resume(self) -> None:
        """Let queued jobs start again."""
        self._not_paused.set()

    def waiting(self) -> int:
        """Queued jobs of this session not started yet (held back while paused)."""
        return sum(1 for r in self._records.values() if r.state is JobState.QUEUED)

    def cancel(self, job_id: str) -> bool:
        """Cancel a job in any live state; the provider is asked to stop, best effort."""
        rec = self._records.get(job_id)
        if rec is None or rec.state.terminal:
            return False
        self._cancel_requested.add(job_id)
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            task.cancel()
        else:
            self._transition(rec, JobState.CANCELLED, message="cancelled")
        return True

    def retry(self, job_id: str) -> bool:
        """Run a failed or cancelled job again, as a fresh submission with a new key; a
        stalled job is followed again by its remote id (never sent again)."""
        rec = self._records.get(job_id)
        if rec is not None and rec.state is JobState.STALLED and self._started:
            self._cancel_requested.discard(job_id)
            self._spawn(job_id, resume=True)
            return True
        if rec is None or rec.state not in (JobState.FAILED, JobState.CANCELLED):
            return False
        self._cancel_requested.discard(job_id)
        resume_policy.new_submission(rec, clear_outcome=True)  # the user chose to send it again
        self._transition(rec, JobState.QUEUED, message="queued again")
        if self._started:
            self._spawn(job_id, resume=False)
        else:
            self._pending.add(job_id)
        return True

    def resend_unconfirmed(self, job_id: str) -> bool:
        """Send an unconfirmed job again: the user accepts that it may be paid twice.

        The first submission may have reached the provider, so this is never automatic; the
        CLI's ``--resend-unconfirmed`` and the window's Resend call it.
        """
        rec = self._records.get(job_id)
        if rec is None or rec.state is not JobState.UNCONFIRMED:
            return False
        resume_policy.new_submission(rec, clear_outcome=False)
        self._transition(rec, JobState.QUEUED, message="sent again at your request")
        if self._started:
            self._spawn(job_id, resume=False)
        else:
            self._pending.add(job_id)
        return True

    def remove(self, job_id: str) -> bool:
        """Forget a job (cancelling it first if it runs); result files are kept."""
        rec = self._records.get(job_id)
        if rec is None:
            return False
        if not rec.state.terminal:
            self.cancel(job_id)
        self._records.pop(job_id, None)
        self.store.delete(job_id)
        self._emit(JobEvent(EventKind.REMOVED, job_id, rec.state, batch_id=rec.batch_id))
        return True

    async def wait(
        self, job_ids: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> list[JobRecord]:
        """Wait until the given jobs (default: every live job) are done, failed or cancelled,
        or parked (``unconfirmed``, ``stalled``) until the user or the next run acts."""
        ids = (
            list(job_ids)
            if job_ids is not None
            else [r.id for r in self._records.values() if not r.state.settled]
        )
        events = [self._done_event(i) for i in ids if i in self._records]
        if events:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout)
        return [self._records[i] for i in ids if i in self._records]

    async def close(self) -> None:
        """Stop running tasks without marking them: the next :meth:`start` resumes them."""
        self._closing = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        self._started = False

    # -- records --------------------------------------------------------------------------

    def _new_record(self, req: JobRequest, batch_id: str | None) -> JobRecord:
        self.config.refresh_output()
        input_path = Path(req.input_path).expanduser().absolute()
        out_dir = Path(req.output_dir).expanduser().absolute() if req.output_dir else None
        return JobRecord(
            id=uuid.uuid4().hex,
            provider=req.provider,
            operation=req.operation,
            input_path=input_path,
            params=self._absolute_file_params(req),
            output_dir=out_dir or default_output_dir(input_path, self.config).absolute(),
            name_template=req.name_template or self.config.template,
            batch_id=batch_id,
            idempotency_key=req.idempotency_key or uuid.uuid4().hex,
            options=dict(req.options),
            message="queued",
        )

    def _absolute_file_params(self, req: JobRequest) -> dict[str, Any]:
        """File parameters are made absolute now, against the caller's working folder."""
        params = dict(req.params)
        try:
            op = self.catalog.operation(req.provider, req.operation)
        except RetouchError:
            return params  # reported when the job runs
        for p in op.file_params:
            value = params.get(p.name)
            if isinstance(value, str | Path) and str(value):
                params[p.name] = str(Path(value).expanduser().absolute())
        return params

    def _added(self, rec: JobRecord) -> None:
        self._records[rec.id] = rec
        self._emit(
            JobEvent(EventKind.ADDED, rec.id, rec.state, message=rec.message, batch_id=rec.batch_id)
        )
        if self._started:
            self._spawn(rec.id, resume=False)
        else:
            self._pending.add(rec.id)

    # -- the one place where state changes ------------------------------------------------

    def _transition(
        self,
        rec: JobRecord,
        new: JobState,
        *,
        message: str | None = None,
        error: str | None = None,
        recovering: bool = False,
    ) -> None:
        """Move ``rec`` to ``new``, persist it and announce it.

        ``recovering`` is the one exception to :func:`check_transition`: after a crash a job
        that never reached the provider (or may be sent again safely) restarts from queued.
        """
        old = rec.state
        if not (recovering and new is JobState.QUEUED and not old.terminal):
            check_transition(old, new)
        now = time.time()
        rec.state = new
        if new is JobState.PREPARING and rec.started_at is None:
            rec.started_at = now
        if new is JobState.QUEUED:
            rec.finished_at = None
            rec.progress = None
            rec.error = None
        if new.terminal:
            rec.finished_at = now
        if new is JobState.DONE:
            rec.progress = 1.0
        if message is not None:
            rec.message = message
        if error is not None:
            rec.error = error
        rec.updated_at = now
        if rec.id not in self._records:
            return  # removed while it was winding down
        unsaved: StoreError | None = None
        try:
            self._save(rec, durable=new not in _LAZY_STATES)
        except StoreError as exc:
            unsaved = self._store_failed(exc)
            if new.terminal:
                rec.error = rec.error or str(exc)
        self._emit(
            JobEvent(
                EventKind.STATE,
                rec.id,
                new,
                progress=rec.progress,
                message=rec.message,
                error=rec.error if new is JobState.FAILED or new.settled else None,
                results=tuple(rec.results),
                batch_id=rec.batch_id,
            )
        )
        ev = self._done_events.get(rec.id)
        if ev is not None:
            if new.settled and rec.id not in self._adopting:
                ev.set()
            else:
                ev.clear()
        if unsaved is not None and not new.terminal:
            raise unsaved  # the job cannot go on without a durable record of this step

    def _save(self, rec: JobRecord, *, durable: bool = True) -> None:
        """Persist ``rec``: now, or (``durable=False``) within ``lazy_save_delay`` seconds.

        Lazy saves are for changes a crash may lose without harm (progress, messages, and the
        intermediate states that resume treats like their neighbours); they coalesce into one
        transaction. Everything resume depends on is written before the engine goes on.
        """
        if rec.id not in self._records:
            return
        if durable:
            self._dirty.pop(rec.id, None)
            self.store.save(rec)
            return
        self._dirty[rec.id] = rec
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.config.lazy_save_delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        dirty = [r for r in self._dirty.values() if r.id in self._records]
        self._dirty.clear()
        if dirty:
            try:
                self.store.save_many(dirty)
            except StoreError as exc:  # lazy saves only: progress a crash may lose anyway
                self._store_failed(exc)

    def _store_failed(self, exc: StoreError) -> StoreError:
        """Remember the first database failure and log it once, as a sentence."""
        if self.store_error is None:
            self.store_error = exc
            log.error("%s", exc)
        return exc

    def _touch(self, rec: JobRecord) -> None:
        rec.updated_at = time.time()
        self._save(rec)

    def _emit(self, event: JobEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("job event subscriber failed")

    def _message(self, rec: JobRecord, text: str) -> None:
        rec.message = text
        rec.updated_at = time.time()
        if rec.id in self._records:
            self._save(rec, durable=False)
            self._emit(
                JobEvent(
                    EventKind.MESSAGE,
                    rec.id,
                    rec.state,
                    progress=rec.progress,
                    message=text,
                    batch_id=rec.batch_id,
                )
            )

    def _progress(self, rec: JobRecord, fraction: float | None, text: str) -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        rec.progress = fraction
        if text:
            rec.message = text
        rec.updated_at = time.time()
        self._save(rec, durable=False)
        if rec.id in self._records:
            self._emit(
                JobEvent(
                    EventKind.PROGRESS,
                    rec.id,
                    rec.state,
                    progress=fraction,
                    message=rec.message,
                    batch_id=rec.batch_id,
                )
            )

    def _done_event(self, job_id: str) -> asyncio.Event:
        ev = self._done_events.get(job_id)
        if ev is None:
            ev = self._done_events[job_id] = asyncio.Event()
            rec = self._records.get(job_id)
            if rec is not None and rec.state.settled and job_id not in self._tasks:
                ev.set()
        return ev

    # -- running --------------------------------------------------------------------------

    def _spawn(self, job_id: str, *, resume: bool) -> None:
        previous = self._tasks.get(job_id)
        self._done_event(job_id).clear()
        coro = self._run(job_id, resume=resume)
        if previous is not None and not previous.done():
            coro = self._run_after(previous, coro)  # a retry while the last run winds down
        task = asyncio.get_running_loop().create_task(coro, name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda t, j=job_id: self._task_done(j, t))

    async def _run_after(self, previous: asyncio.Task[None], coro: Awaitable[None]) -> None:
        await asyncio.wait([previous])
        await coro

    def _task_done(self, job_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(job_id) is task:
            del self._tasks[job_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("job %s crashed", job_id, exc_info=task.exception())

    def _semaphore(self, provider: Provider, provider_id: str) -> asyncio.Semaphore:
        sem = self._semaphores.get(provider_id)
        if sem is None:
            # The setting, else what the vendor allows (its schema), else the provider's own.
            declared = self.catalog.providers.get(provider_id)
            limit = (
                self.config.concurrency.get(provider_id)
                or (declared.concurrency if declared is not None else None)
                or provider.max_concurrency
                or 1
            )
            sem = self._semaphores[provider_id] = asyncio.Semaphore(max(1, limit))
        return sem

    async def _run(self, job_id: str, *, resume: bool) -> None:
        rec = self._records.get(job_id)
        if rec is None or rec.state.terminal:
            return
        provider: Provider | None = None
        try:
            if job_id in self._cancel_requested:
                raise Cancelled()
            provider = self._provider_for(rec.provider)
            op = self.catalog.operation(rec.provider, rec.operation)
            while True:
                if rec.state is JobState.QUEUED:
                    await self._not_paused.wait()  # a paused queue starts nothing new
                async with self._semaphore(provider, rec.provider):
                    if rec.state is JobState.QUEUED and self.paused:
                        continue  # paused while it waited for a slot: give the slot back
                    await self._drive(rec, op, provider, resume)
                    break
        except asyncio.CancelledError:
            if job_id not in self._cancel_requested and not rec.state.terminal:
                raise  # shutting down: the job keeps its state and resumes next time
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._finish_cancelled(rec, provider, self._contexts.get(job_id))
        except Cancelled:
            await self._finish_cancelled(rec, provider, self._contexts.get(job_id))
        except _Parked as parked:
            self._park(rec, parked.state, parked.sentence)
        except (CreditsExhausted, AuthError, ConfigurationError) as exc:
            self._fail(rec, exc)
            self._stop_batch(rec, exc)
        except RetouchError as exc:
            self._fail(rec, exc)
        except Exception as exc:  # a bug in a provider must not take the engine down
            log.exception("job %s failed unexpectedly", job_id)
            self._fail(
                rec, f"{rec.input_path.name}: unexpected error ({type(exc).__name__}: {exc})"
            )
        finally:
            self._adopting.discard(job_id)
            self._contexts.pop(job_id, None)
            self._sent_sizes.pop(job_id, None)
            self._sent_notes.pop(job_id, None)
            ev = self._done_events.get(job_id)
            if ev is not None and rec.state.settled:
                ev.set()
            if rec.state.terminal:
                self._cancel_requested.discard(job_id)
                await self._cleanup(rec)

    async def _drive(self, rec: JobRecord, op: Operation, provider: Provider, resume: bool) -> None:
        """The call sequence of providers.base, from wherever the job stands."""
        ctx: JobContext | None = None
        follow = False
        if resume and rec.state is not JobState.QUEUED:
            label = self._provider_label(rec.provider)
            decision = resume_policy.decide(rec, provider, label)
            if decision.action is Resume.POLL:
                follow = True
            elif decision.action is Resume.ADOPT:
                ctx = await self._resume_context(rec, op)
                sentence = resume_policy.unconfirmed_sentence(rec, label)
                await self._await_late_answer(rec, ctx, provider, sentence)
                follow = True
            elif decision.action is Resume.RESTART:
                rec.submit_started = False  # set again right before the new submit
                if provider.supports(Capability.LOCAL):
                    rec.remote_id, rec.remote = None, {}
                self._transition(rec, JobState.QUEUED, message="restarting", recovering=True)
            else:
                raise ProviderError(decision.sentence)
        if rec.state.terminal:
            return
        if follow:
            if ctx is None:
                ctx = await self._resume_context(rec, op)
                self._message(rec, "resuming after a restart")
            files = await self._follow(rec, ctx, provider, None)
        else:
            self._transition(rec, JobState.PREPARING, message="checking the photo")
            local = provider.supports(Capability.LOCAL)
            params, send, fitted = await self._prepare_input(rec, op, local)
            rec.params = _jsonable(params)
            ctx = self._context(rec, op, {**params, **fitted})
            ctx.input_path = send
            self._transition(rec, JobState.UPLOADING, message="preparing the upload")
            await self._prepare_step(rec, ctx, provider)
            ctx.raise_if_cancelled()
            submitted = await self._submit_step(rec, ctx, provider)
            if submitted.cost is not None:
                rec.cost = submitted.cost
            if submitted.outputs is not None:
                self._transition(rec, JobState.DOWNLOADING, message="downloading the result")
                files = await self._fetch_once(rec, ctx, provider, submitted.outputs)
            else:
                if not submitted.remote_id:
                    raise ProviderError(
                        f"{provider.id} accepted {rec.input_path.name} without a job id"
                    )
                rec.remote_id = ctx.remote_id = submitted.remote_id
                rec.remote = ctx.remote
                self._transition(rec, JobState.SUBMITTED, message="submitted")
                files = await self._follow(rec, ctx, provider, None)
        ctx.raise_if_cancelled()
        await self._write_results(rec, op, files)
        self._transition(rec, JobState.DONE, message="done")

    async def _resume_context(self, rec: JobRecord, op: Operation) -> JobContext:
        params = op.validate(rec.params, inapplicable=Inapplicable.DROP)
        work_dir = self._work_dir(rec.id)
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        return self._context(rec, op, params)

    # -- steps, with the retry policy -----------------------------------------------------

    async def _prepare_step(self, rec: JobRecord, ctx: JobContext, provider: Provider) -> None:
        """Upload or host the input; safe to repeat, so retryable errors are retried."""
        tries = 0
        while True:
            tries += 1
            try:
                await provider.prepare(ctx)
                return
            except ProviderError as exc:
                verdict = policy.prepare(exc, tries=tries, max_attempts=self.config.max_attempts)
                if verdict is not policy.Verdict.RETRY:
                    raise
                await self._wait_retry(rec, ctx, tries, exc)

    async def _submit_step(
        self, rec: JobRecord, ctx: JobContext, provider: Provider
    ) -> SubmitResult:
        """Start the job; what a failure means is :func:`retry_policy.submission`'s call."""
        idempotent = provider.supports(Capability.IDEMPOTENT_SUBMIT)
        local = provider.supports(Capability.LOCAL)
        tries = 0
        while True:
            tries += 1
            sends = int(rec.remote.get(SENDS, 0)) + 1
            ctx.remote[SENDS] = sends
            rec.submit_started = True  # persisted before the call: it may reach the provider
            rec.remote = ctx.remote
            if local:
                self._transition(rec, JobState.RUNNING, message="working")  # a rerun is free
            else:
                self._touch(rec)
            try:
                return await provider.submit(ctx)
            except ProviderError as exc:
                if local:
                    verdict = policy.prepare(
                        exc, tries=tries, max_attempts=self.config.max_attempts
                    )
                else:
                    verdict = policy.submission(
                        exc,
                        idempotent=idempotent,
                        sends=sends,
                        tries=tries,
                        max_attempts=self.config.max_attempts,
                    )
                if verdict is policy.Verdict.UNCONFIRMED:
                    log.info("submission of %s unconfirmed: %s", rec.id, exc)
                    sentence = resume_policy.unconfirmed_sentence(
                        rec, self._provider_label(rec.provider)
                    )
                    await self._await_late_answer(rec, ctx, provider, sentence)
                    assert ctx.remote_id
                    return SubmitResult(remote_id=ctx.remote_id)
                if verdict is not policy.Verdict.RETRY:
                    raise
                if policy.not_processed(exc):
                    ctx.remote[SENDS] = sends - 1  # the vendor did nothing with it
                await self._wait_retry(rec, ctx, tries, exc)

    async def _await_late_answer(
        self, rec: JobRecord, ctx: JobContext, provider: Provider, sentence: str
    ) -> None:
        """An unconfirmed submission: wait a while for the vendor to name the job (a late
        webhook), then park it as ``unconfirmed``. Returns only when the job was adopted,
        with ``ctx.remote_id`` set and the job ``submitted``."""
        rec.error = None  # the sentence comes when the job is parked, if nothing answers
        self._adopting.add(rec.id)  # before the transition: waiters must not see it settled
        try:
            self._transition(
                rec, JobState.UNCONFIRMED, message="unconfirmed: waiting for an answer"
            )
            wait = self.config.unconfirmed_wait if provider.supports(Capability.ADOPT) else 0.0
            deadline = time.monotonic() + wait
            while True:
                remote_id = await provider.adopt(ctx) if wait > 0 else None
                if remote_id:
                    rec.remote_id = ctx.remote_id = remote_id
                    rec.remote = ctx.remote
                    rec.error = None
                    self._transition(rec, JobState.SUBMITTED, message="adopted from a late answer")
                    return
                if time.monotonic() >= deadline:
                    raise _Parked(JobState.UNCONFIRMED, sentence)
                ctx.raise_if_cancelled()
                await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        finally:
            self._adopting.discard(rec.id)

    async def _fetch_once(
        self, rec: JobRecord, ctx: JobContext, provider: Provider, outputs: list[Output]
    ) -> list[Output]:
        """Bring a synchronous job's outputs in (data in the answer, or a short-lived URL)."""
        tries = 0
        while True:
            tries += 1
            try:
                return await provider.fetch(ctx, outputs)
            except ProviderError as exc:
                if not exc.retryable or tries >= self.config.max_attempts:
                    raise
                await self._wait_retry(rec, ctx, tries, exc)

    async def _follow(
        self, rec: JobRecord, ctx: JobContext, provider: Provider, outputs: list[Output] | None
    ) -> list[Output]:
        """Poll a job the vendor holds until it is done, then download its outputs.

        Nothing transient ends it: a failed poll is tried again, a failed download asks the
        status again (a fresh result link) and downloads again. After ``job_deadline``
        seconds of this run the job is parked as ``stalled``; the next run picks it up.
        """
        deadline = time.monotonic() + self.config.job_deadline
        failures = 0
        while True:
            ctx.raise_if_cancelled()
            try:
                if outputs is None:
                    outputs = await self._poll_until_done(rec, ctx, provider)
                if rec.state is not JobState.DOWNLOADING:
                    self._transition(rec, JobState.DOWNLOADING, message="downloading the result")
                return await provider.fetch(ctx, outputs)
            except ProviderError as exc:
                if policy.remote(exc) is not policy.Verdict.KEEP:
                    raise
                outputs = None  # ask the status again: it may carry a fresh result link
                failures += 1
                left = deadline - time.monotonic()
                label = self._provider_label(rec.provider)
                if left <= 0:
                    raise _Parked(
                        JobState.STALLED,
                        f"{rec.input_path.name}: {label} has not delivered job {rec.remote_id} "
                        f"yet ({str(exc).rstrip('. ')}); it is kept, run the command again "
                        f"to pick it up",
                    ) from None
                delay = min(left, self._backoff(failures, exc.retry_after))
                self._message(
                    rec,
                    f"{str(exc).rstrip('. ')}; asking {label} again in {_seconds(delay)} s",
                )
                await asyncio.sleep(delay)

    async def _wait_retry(
        self, rec: JobRecord, ctx: JobContext, tries: int, exc: ProviderError
    ) -> None:
        delay = self._backoff(tries, exc.retry_after)
        rec.attempts += 1
        limited = isinstance(exc, RateLimited) or exc.status == 429
        reason = "rate limited" if limited else str(exc).rstrip(". ")
        self._message(rec, f"{reason}, retrying in {_seconds(delay)} s")
        await asyncio.sleep(delay)
        ctx.raise_if_cancelled()

    def _park(self, rec: JobRecord, state: JobState, sentence: str) -> None:
        """Leave the job for the user (unconfirmed) or the next run (stalled)."""
        if rec.state.terminal:
            return
        self._transition(rec, state, message=str(state), error=sentence)

    def _context(self, rec: JobRecord, op: Operation, params: dict[str, Any]) -> JobContext:
        work_dir = self._work_dir(rec.id)  # created by _check_files or _drive
        ctx = JobContext(
            job_id=rec.id,
            operation=op,
            input_path=rec.input_path,
            params=params,
            idempotency_key=rec.idempotency_key,
            work_dir=work_dir,
            remote_id=rec.remote_id,
            remote=rec.remote,
        )
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        def on_progress(fraction: float | None, message: str) -> None:
            # Events are delivered on the loop thread, even when a provider reports from another.
            if threading.get_ident() == loop_thread:
                self._progress(rec, fraction, message)
            else:
                loop.call_soon_threadsafe(self._progress, rec, fraction, message)

        ctx.on_progress = on_progress

        def checkpoint() -> None:
            rec.remote = ctx.remote
            if ctx.remote_id:
                rec.remote_id = ctx.remote_id
            self._touch(rec)

        ctx.on_checkpoint = checkpoint
        ctx.is_cancelled = lambda: rec.id in self._cancel_requested
        self._contexts[rec.id] = ctx
        return ctx

    def _work_dir(self, job_id: str) -> Path:
        if self._work_root is None:
            self._work_root = self.config.work_root or paths.cache_dir() / "jobs"
        return self._work_root / job_id

    def _backoff(self, tries: int, retry_after: float | None) -> float:
        return policy.backoff(
            tries, retry_after, base=self.config.backoff_base, cap=self.config.backoff_max
        )

    async def _poll_until_done(
        self, rec: JobRecord, ctx: JobContext, provider: Provider
    ) -> list[Output]:
        """Follow the provider's status updates (``Provider.watch``) to the job's end."""
        ctx.raise_if_cancelled()
        async with contextlib.aclosing(provider.watch(ctx)) as updates:
            async for res in updates:
                outputs = self._status_update(rec, res, provider)
                if outputs is not None:
                    return outputs
                ctx.raise_if_cancelled()
        raise ProviderError(
            f"{self._provider_label(rec.provider)} stopped reporting on the job", retryable=True
        )

    def _status_update(
        self, rec: JobRecord, res: PollResult, provider: Provider
    ) -> list[Output] | None:
        """Record one status update; the outputs once the job is done."""
        if res.cost is not None:
            rec.cost = res.cost
        if res.state is RemoteState.RUNNING and rec.state is JobState.SUBMITTED:
            self._transition(rec, JobState.RUNNING, message=res.message or "running")
        if res.state is RemoteState.DONE:
            return list(res.outputs)
        if res.state is RemoteState.FAILED:
            raise ProviderError(
                res.error or f"{provider.id} could not process the photo",
                code=policy.REMOTE_FAILED,
            )
        if res.progress is not None or res.message:
            self._progress(rec, res.progress, res.message)
        return None

    async def _finish_cancelled(
        self, rec: JobRecord, provider: Provider | None, ctx: JobContext | None
    ) -> None:
        if provider is not None and ctx is not None and rec.state.remote and rec.remote_id:
            try:
                await asyncio.wait_for(provider.cancel(ctx), 10.0)
            except Exception:  # best effort: the job is cancelled locally anyway
                log.info("provider %s could not cancel %s", rec.provider, rec.remote_id)
        if not rec.state.terminal:
            self._transition(rec, JobState.CANCELLED, message="cancelled")

    def _fail(self, rec: JobRecord, error: RetouchError | str) -> None:
        text = str(error).strip() or type(error).__name__
        name = rec.input_path.name
        if name not in text:
            text = f"{name}: {text}"
        if rec.state.terminal:
            return
        self._transition(rec, JobState.FAILED, message="failed", error=text)

    def _stop_batch(self, rec: JobRecord, exc: RetouchError) -> None:
        """Credits ran out or the account cannot work: the provider's queued batch jobs stop.

        Sending the rest would only fail the same way (and, for refused credentials, may get
        the account locked), so they fail at once with a sentence saying why.
        """
        if rec.batch_id is None:
            return
        label = self._provider_label(rec.provider)
        credits = isinstance(exc, CreditsExhausted)
        reason = f"your {label} credits ran out" if credits else str(exc).rstrip(". ")
        stopped = 0
        for other in list(self._records.values()):
            if (
                other.id == rec.id
                or other.batch_id != rec.batch_id
                or other.provider != rec.provider
                or other.state is not JobState.QUEUED
            ):
                continue
            self._transition(
                other,
                JobState.FAILED,
                message="not sent",
                error=f"{other.input_path.name} was not sent: {reason}",
            )
            task = self._tasks.get(other.id)
            if task is not None and not task.done():
                task.cancel()
            stopped += 1
        if not stopped:
            return  # nothing was left to stop: the failure itself says it all
        headline = f"Your {label} credits ran out" if credits else reason[:1].upper() + reason[1:]
        self._emit(
            JobEvent(
                EventKind.BATCH_STOPPED,
                rec.id,
                rec.state,
                message=(
                    headline
                    + f": {stopped} remaining photo"
                    + ("s of this batch were" if stopped != 1 else " of this batch was")
                    + " not sent"
                ),
                error=str(exc),
                batch_id=rec.batch_id,
            )
        )

    def _provider_label(self, provider_id: str) -> str:
        try:
            return self.catalog.provider(provider_id).name
        except RetouchError:
            return provider_id

    async def _cleanup(self, rec: JobRecord) -> None:
        await asyncio.to_thread(shutil.rmtree, self._work_dir(rec.id), True)

    # -- preparing and writing ------------------------------------------------------------

    async def _prepare_input(
        self, rec: JobRecord, op: Operation, local: bool = False
    ) -> tuple[dict[str, Any], Path, dict[str, Any]]:
        """Check the parameters, then (in one worker-thread call) the files and folders.

        Returns the validated parameters, the file to send (the photo, or a downscaled copy
        when it breaks the operation's size limits and the job has the ``fit_limits`` option)
        and, for such a copy, its masks at its size (sent, not recorded).
        """
        params = op.validate(rec.params, inapplicable=Inapplicable.DROP)
        send, fitted = await asyncio.to_thread(self._check_files, rec, op, params, local)
        return params, send, fitted

    def _check_files(
        self, rec: JobRecord, op: Operation, params: dict[str, Any], local: bool = False
    ) -> tuple[Path, dict[str, Any]]:
        """Runs in a worker thread: the photo, file parameters, output folder, scratch folder.

        The input and the file parameters are checked (:func:`services.inputs.prepare_job_input`:
        a photo may be replaced by an upright or downscaled copy); the output folder is proved
        writable here, once a minute. Returns the file to send and the mask parameters
        resampled for a downscaled copy.
        """
        work_dir = self._work_dir(rec.id)
        # Imported here: it loads numpy and Pillow, which the window's first paint avoids.
        from retouchdesk.services import inputs

        prepared = inputs.prepare_job_input(
            rec.input_path,
            op,
            params,
            work_dir,
            fit=bool(rec.options.get(FIT_LIMITS)),
            local=local,
        )
        if prepared.sent_size is not None:
            self._sent_sizes[rec.id] = prepared.sent_size
        if prepared.notes:
            self._sent_notes[rec.id] = list(prepared.notes)
        folder = rec.output_dir
        # Proving a folder writable costs a file creation: once a minute per folder is enough.
        if time.monotonic() - self._verified_dirs.get(folder, -1e9) > 60.0:
            check_output_dir(folder)
            self._verified_dirs[folder] = time.monotonic()
        work_dir.mkdir(parents=True, exist_ok=True)
        return prepared.send, prepared.fitted

    async def _write_results(self, rec: JobRecord, op: Operation, files: list[Output]) -> None:
        """Write the outputs next to the photo (:class:`services.results.ResultWriter`)."""
        input_meta: dict[str, Any] = {}
        if rec.id in self._sent_sizes:
            input_meta["sent_downscaled_to"] = list(self._sent_sizes[rec.id])
        if rec.id in self._sent_notes:
            input_meta["input_notes"] = list(self._sent_notes[rec.id])
        await self.results.write(rec, op, files, input_meta=input_meta)

    async def _result_written(self, rec: JobRecord, out: Output, written: Path) -> None:
        """Tell the provider where its result now lives (a chain may send it back)."""
        try:
            await self._provider_for(rec.provider).result_written(dict(out.meta), written)
        except Exception:  # a convenience: never fails a job whose result is written
            log.warning("job %s: the provider could not note its written result", rec.id)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def _seconds(delay: float) -> str:
    return f"{delay:.0f}" if delay >= 10 else f"{delay:.1f}".rstrip("0").rstrip(".") or "0"
