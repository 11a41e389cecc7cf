"""The job engine: runs every job through its provider, durably, and tells everyone about it.

One :class:`JobEngine` drives jobs through ``queued -> preparing -> uploading -> submitted ->
running -> downloading -> done`` (or ``failed`` / ``cancelled``) following the call sequence
of :mod:`retouchdesk.providers.base`. It keeps the scheduler and the state machine; each other
concern is a module of its own, which the engine owns or consults:

* **One place changes state**: :meth:`JobEngine._transition` checks the move with
  :func:`core.jobs.check_transition`, persists the row and emits a :class:`JobEvent`.
* **Durable**: every job is a row in :class:`services.store.JobStore` from the moment it is
  queued (:func:`services.jobspec.new_record`); ``submit_started`` is persisted *before* the
  provider's ``submit`` is called, so after a crash the engine knows whether a submission may
  have reached the provider. Progress is written lazily (:mod:`services.saver`).
* **Resume**: :meth:`start` picks up unfinished rows and follows :mod:`services.resume`:
  remote jobs with a ``remote_id`` resume polling (``Capability.RESUME``); a job whose
  submission may have reached the provider is sent again only when that is safe
  (``IDEMPOTENT_SUBMIT`` with the same key, or ``LOCAL``); otherwise it is ``unconfirmed``:
  never sent again by itself, adopted when a late answer names its remote job
  (``Provider.adopt``), resent only by :meth:`resend_unconfirmed`.
* **Retries**: the provider calls are made by :class:`services.driver.StepDriver`, with the
  rules of :mod:`services.retry_policy` (one place); a job the vendor holds is never abandoned
  for a transient fault, only ``stalled`` after the job deadline; a MESSAGE event names every
  wait. Credits running out stop the provider's queued jobs of the batch.
* **Concurrency**: one semaphore per provider (``concurrency`` in its schema, else
  ``Provider.max_concurrency``; the ``engine.concurrency`` setting overrides both).
* **Inputs** are checked before anything is uploaded (:func:`services.inputs.prepare_for_job`);
  **results** are named, post-processed and written (atomically, never over another process's
  file) by :class:`services.results.ResultWriter`.
* **History**: finished jobs are read from the database page by page, when asked
  (:class:`services.history.JobHistory`, :attr:`JobEngine.history`).
* **Never on the loop thread**: probing, image writing and folder checks run in
  ``asyncio.to_thread``; only the small SQLite writes happen on the loop.

Events are delivered synchronously on the asyncio loop thread, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core.errors import Cancelled, ProviderError, RetouchError
from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState, check_transition
from retouchdesk.core.schema import Catalog, Inapplicable, Operation
from retouchdesk.providers.base import Capability, JobContext, Output, Provider
from retouchdesk.services import paths
from retouchdesk.services import resume as resume_policy
from retouchdesk.services import retry_policy as policy
from retouchdesk.services.driver import Parked, StepDriver, job_context
from retouchdesk.services.history import JobHistory
from retouchdesk.services.jobfiles import WritableFolders, owner_alive, remove_scratch
from retouchdesk.services.jobspec import EngineConfig, JobRequest, new_record
from retouchdesk.services.results import ResultWriter
from retouchdesk.services.resume import Resume
from retouchdesk.services.saver import RowSaver
from retouchdesk.services.store import JobStore, StoreError

if TYPE_CHECKING:
    from retouchdesk.services.inputs import JobInput

log = logging.getLogger(__name__)

Subscriber = Callable[[JobEvent], None]
ProviderGetter = Callable[[str], Provider]

_LAZY_STATES = frozenset(
    {JobState.PREPARING, JobState.UPLOADING, JobState.RUNNING, JobState.DOWNLOADING}
)
CLEANUP_WAIT = 2.0  # seconds :meth:`JobEngine.close` lets ended jobs remove their scratch


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
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.busy_elsewhere: dict[str, str | None] = {}  # job id -> owner, after start()
        self._subscribers: list[Subscriber] = []
        self._started = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done_events: dict[str, asyncio.Event] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        # Set while the queue runs; cleared by pause(): queued jobs wait, started ones go on.
        self._not_paused = asyncio.Event()
        self._not_paused.set()
        self._cancel_requested: set[str] = set()
        self._pending: set[str] = set()  # queued before start()
        self._adopting: set[str] = set()  # unconfirmed jobs waiting for a late answer
        self._contexts: dict[str, JobContext] = {}  # what each running job's provider sees
        self._inputs: dict[str, JobInput] = {}  # what each running job sent, for its results
        self._work_root: Path | None = None
        self._folders = WritableFolders()
        self._build_parts()

    def _build_parts(self) -> None:
        """The engine's parts, each told through callbacks what it needs of the engine."""
        # Every unfinished job (to resume), this session's, and the finished ones read so far.
        self.history = JobHistory(
            self.store,
            page=lambda: self.config.history_page,
            busy=lambda job_id: job_id in self._tasks,
            removed=self._removed,
            work_dir=self._work_dir,
        )
        self._records = self.history.records  # the same table: the engine changes live jobs
        self.saver = RowSaver(
            self.store,
            known=lambda job_id: job_id in self._records,
            delay=lambda: self.config.lazy_save_delay,
        )
        self.results = ResultWriter(
            policy_fields=lambda: self.config.output_policy(),
            work_dir=self._work_dir,
            touch=self._touch,
            provider_label=self._provider_label,
            result_written=self._result_written,
        )
        self.driver = StepDriver(
            self.config,
            transition=self._transition,
            message=self._message,
            progress=self._progress,
            touch=self._touch,
            provider_label=self._provider_label,
            adopting=self._adopting,
        )

    # -- public API -----------------------------------------------------------------------

    @property
    def store_error(self) -> StoreError | None:
        """The first failure to write the job database (a full disk): jobs end in memory with
        its sentence and resume from their last durable state at the next run."""
        return self.saver.error

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def submit(self, request: JobRequest, *, batch_id: str | None = None) -> JobRecord:
        """Queue one job (a row at once); it runs when the engine is started."""
        rec = new_record(request, batch_id, self.config, self.catalog)
        self.store.insert(rec, dedupe_key=request.dedupe_key, owner=self.owner)
        self._added(rec)
        return rec

    def submit_batch(self, requests: Iterable[JobRequest]) -> str:
        """Queue several jobs as one batch (credits running out stops the rest of it)."""
        batch_id = uuid.uuid4().hex
        self.history.new_batch(batch_id)
        recs = [
            (new_record(r, batch_id, self.config, self.catalog), r.dedupe_key) for r in requests
        ]
        self.store.insert_many(recs, owner=self.owner)
        for rec, _ in recs:
            self._added(rec)
        return batch_id

    def get(self, job_id: str) -> JobRecord | None:
        """A job by id; a finished one not read yet is read from the database (one row)."""
        return self.history.get(job_id)

    def jobs(self) -> list[JobRecord]:
        """The jobs read so far (``history.load_older`` reads more of the history)."""
        return self.history.jobs()

    def batch_jobs(self, batch_id: str) -> list[JobRecord]:
        return self.history.batch_jobs(batch_id)

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
        wanted = None if resume is True else set() if resume is False else set(resume)
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
        resumed = self._claim(candidates)
        again = set(resend)
        for job_id in resumed:
            if job_id in again and self.resend_unconfirmed(job_id):
                continue  # the user accepted a possible double charge (CLI option)
            self._spawn(job_id, resume=True)
        return resumed

    def _claim(self, candidates: list[str]) -> list[str]:
        """Take the jobs no other live process runs; returns those taken, their rows fresh.

        A job another live process is running (the window while a CLI batch runs, or the
        other way round) is left to it: two processes must never drive the same job. The
        check and the claim are one transaction, so two processes cannot both win.
        """
        resumed, self.busy_elsewhere = self.store.claim(
            candidates, self.owner, lambda owner: owner_alive(owner, self.owner)
        )
        for job_id in resumed:
            fresh = self.store.get(job_id)  # another process may have moved it meanwhile
            current = self._records.get(job_id)
            if fresh is None or current is None:
                continue
            moved = fresh.state is not current.state
            vars(current).update(vars(fresh))  # same object: holders keep seeing it
            if moved:  # listeners keeping counts by state must hear of it
                self._announce(
                    EventKind.STATE,
                    current,
                    progress=current.progress,
                    message=current.message,
                    error=current.error,
                )
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
        self._schedule(job_id)
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
        self._schedule(job_id)
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
        self._removed(rec)
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
        """Stop running tasks without marking them: the next :meth:`start` resumes them.

        A job that has ended is only removing its scratch folder (and an offline result held
        in memory): that is let finish, for up to :data:`CLEANUP_WAIT` seconds. Cancelled
        midway, it left both behind in about half the command-line runs, which close as
        soon as their jobs are done.
        """
        tasks = {j: t for j, t in self._tasks.items() if not t.done()}
        ending = [t for j, t in tasks.items() if (r := self._records.get(j)) and r.state.terminal]
        if ending:
            await asyncio.wait(ending, timeout=CLEANUP_WAIT)
        for t in tasks.values():
            if not t.done():
                t.cancel()
        if tasks:
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        self.saver.flush()
        self._started = False

    # -- records --------------------------------------------------------------------------

    def _added(self, rec: JobRecord) -> None:
        self._records[rec.id] = rec
        self._announce(EventKind.ADDED, rec, message=rec.message)
        self._schedule(rec.id)

    def _schedule(self, job_id: str) -> None:
        """Run a queued job now, or when :meth:`start` is called."""
        if self._started:
            self._spawn(job_id, resume=False)
        else:
            self._pending.add(job_id)

    def _removed(self, rec: JobRecord) -> None:
        """A job forgotten (removed, or pruned by the history): listeners drop it."""
        self._announce(EventKind.REMOVED, rec)

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
        _enter(rec, new, message=message, error=error)
        if rec.id not in self._records:
            return  # removed while it was winding down
        unsaved: StoreError | None = None
        try:
            self.saver.save(rec, durable=new not in _LAZY_STATES)
        except StoreError as exc:
            unsaved = self.saver.failed(exc)
            if new.terminal:
                rec.error = rec.error or str(exc)
        self._announce(
            EventKind.STATE,
            rec,
            progress=rec.progress,
            message=rec.message,
            error=rec.error if new is JobState.FAILED or new.settled else None,
            results=tuple(rec.results),
        )
        ev = self._done_events.get(rec.id)
        if ev is not None:
            if new.settled and rec.id not in self._adopting:
                ev.set()
            else:
                ev.clear()
        if unsaved is not None and not new.terminal:
            raise unsaved  # the job cannot go on without a durable record of this step

    def _touch(self, rec: JobRecord) -> None:
        rec.updated_at = time.time()
        self.saver.save(rec)

    def _announce(self, kind: EventKind, rec: JobRecord, **fields: Any) -> None:
        """Emit a ``kind`` event about ``rec`` in its current state; ``fields`` as JobEvent's."""
        self._emit(JobEvent(kind, rec.id, rec.state, batch_id=rec.batch_id, **fields))

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
            self.saver.save(rec, durable=False)
            self._announce(EventKind.MESSAGE, rec, progress=rec.progress, message=text)

    def _progress(self, rec: JobRecord, fraction: float | None, text: str) -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        rec.progress = fraction
        if text:
            rec.message = text
        rec.updated_at = time.time()
        self.saver.save(rec, durable=False)
        if rec.id in self._records:
            self._announce(EventKind.PROGRESS, rec, progress=fraction, message=rec.message)

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
            provider.warm_up()
            op = self.catalog.operation(rec.provider, rec.operation)
            await self._run_in_slot(rec, op, provider, resume)
        except asyncio.CancelledError:
            if job_id not in self._cancel_requested and not rec.state.terminal:
                raise  # shutting down: the job keeps its state and resumes next time
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._finish_cancelled(rec, provider, self._contexts.get(job_id))
        except Cancelled:
            await self._finish_cancelled(rec, provider, self._contexts.get(job_id))
        except Parked as parked:
            self._park(rec, parked.state, parked.sentence)
        except RetouchError as exc:
            self._fail(rec, exc)
            if policy.stops_batch(exc):
                self._stop_batch(rec, exc)
        except Exception as exc:  # a bug in a provider must not take the engine down
            log.exception("job %s failed unexpectedly", job_id)
            self._fail(
                rec, f"{rec.input_path.name}: unexpected error ({type(exc).__name__}: {exc})"
            )
        finally:
            await self._run_ended(rec)

    async def _run_in_slot(
        self, rec: JobRecord, op: Operation, provider: Provider, resume: bool
    ) -> None:
        """Drive the job within its provider's concurrency; a paused queue starts nothing new."""
        while True:
            if rec.state is JobState.QUEUED:
                await self._not_paused.wait()
            async with self._semaphore(provider, rec.provider):
                if rec.state is JobState.QUEUED and self.paused:
                    continue  # paused while it waited for a slot: give the slot back
                await self._drive(rec, op, provider, resume)
                return

    async def _run_ended(self, rec: JobRecord) -> None:
        """A run ended, whatever way: forget its working state, wake its waiters."""
        job_id = rec.id
        self._adopting.discard(job_id)
        self._contexts.pop(job_id, None)
        self._inputs.pop(job_id, None)
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
            ctx, follow = await self._resume(rec, op, provider)
        if rec.state.terminal:
            return
        if follow:
            if ctx is None:
                ctx = await self._resume_context(rec, op)
                self._message(rec, "resuming after a restart")
            files = await self.driver.follow(rec, ctx, provider)
        else:
            ctx = await self._prepare(rec, op, provider)
            files = await self.driver.send(rec, ctx, provider)
        ctx.raise_if_cancelled()
        await self._write_results(rec, op, files)
        self._transition(rec, JobState.DONE, message="done")

    async def _resume(
        self, rec: JobRecord, op: Operation, provider: Provider
    ) -> tuple[JobContext | None, bool]:
        """A job an earlier run left behind, by :func:`services.resume.decide`: returns the
        context made on the way (if any) and whether the job is followed by its remote id."""
        label = self._provider_label(rec.provider)
        decision = resume_policy.decide(rec, provider, label)
        if decision.action is Resume.POLL:
            return None, True
        if decision.action is Resume.ADOPT:
            ctx = await self._resume_context(rec, op)
            sentence = resume_policy.unconfirmed_sentence(rec, label)
            await self.driver.await_late_answer(rec, ctx, provider, sentence)
            return ctx, True
        if decision.action is Resume.RESTART:
            rec.submit_started = False  # set again right before the new submit
            if provider.supports(Capability.LOCAL):
                rec.remote_id, rec.remote = None, {}
            self._transition(rec, JobState.QUEUED, message="restarting", recovering=True)
            return None, False
        raise ProviderError(decision.sentence)

    async def _prepare(self, rec: JobRecord, op: Operation, provider: Provider) -> JobContext:
        """Check the parameters, then (in one worker-thread call) the files and folders.

        The context sends the photo, or a copy (upright, or downscaled when it breaks the
        operation's size limits and the job has the ``fit_limits`` option) with its masks
        at the copy's size (sent, not recorded). Ends ``uploading``.
        """
        self._transition(rec, JobState.PREPARING, message="checking the photo")
        params = op.validate(rec.params, inapplicable=Inapplicable.DROP)
        local = provider.supports(Capability.LOCAL)

        def check() -> JobInput:  # in a worker thread, like every folder made or proved
            # Imported here: it loads numpy and Pillow, which the window's first paint avoids.
            from retouchdesk.services import inputs

            work_dir = self._work_dir(rec.id)
            return inputs.prepare_for_job(
                rec, op, params, work_dir, local=local, folders=self._folders
            )

        sent = await asyncio.to_thread(check)
        self._inputs[rec.id] = sent
        rec.params = _jsonable(params)
        ctx = self._context(rec, op, {**params, **sent.fitted})
        ctx.input_path = sent.send
        self._transition(rec, JobState.UPLOADING, message="preparing the upload")
        return ctx

    async def _resume_context(self, rec: JobRecord, op: Operation) -> JobContext:
        params = op.validate(rec.params, inapplicable=Inapplicable.DROP)
        work_dir = self._work_dir(rec.id)
        await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
        return self._context(rec, op, params)

    def _park(self, rec: JobRecord, state: JobState, sentence: str) -> None:
        """Leave the job for the user (unconfirmed) or the next run (stalled)."""
        if rec.state.terminal:
            return
        self._transition(rec, state, message=str(state), error=sentence)

    def _context(self, rec: JobRecord, op: Operation, params: dict[str, Any]) -> JobContext:
        ctx = job_context(
            rec,
            op,
            params,
            self._work_dir(rec.id),  # created by _prepare or _resume_context
            progress=self._progress,
            touch=self._touch,
            cancelled=lambda: rec.id in self._cancel_requested,
        )
        self._contexts[rec.id] = ctx
        return ctx

    def _work_dir(self, job_id: str) -> Path:
        if self._work_root is None:
            self._work_root = self.config.work_root or paths.cache_dir() / "jobs"
        return self._work_root / job_id

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
        """The provider's queued jobs of ``rec``'s batch fail, not sent (see
        :mod:`services.retry_policy`), and listeners hear BATCH_STOPPED once."""
        if rec.batch_id is None:
            return
        label = self._provider_label(rec.provider)
        reason = policy.batch_stop_reason(exc, label)
        stopped = 0
        for other in list(self._records.values()):
            if not policy.stopped_with(rec, other):
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
        self._announce(
            EventKind.BATCH_STOPPED,
            rec,
            message=policy.batch_stopped_message(exc, label, stopped),
            error=str(exc),
        )

    def _provider_label(self, provider_id: str) -> str:
        try:
            return self.catalog.provider(provider_id).name
        except RetouchError:
            return provider_id

    async def _cleanup(self, rec: JobRecord) -> None:
        await asyncio.to_thread(remove_scratch, self._work_dir(rec.id))

    # -- writing --------------------------------------------------------------------------

    async def _write_results(self, rec: JobRecord, op: Operation, files: list[Output]) -> None:
        """Write the outputs next to the photo (:class:`services.results.ResultWriter`)."""
        sent = self._inputs.get(rec.id)
        input_meta = sent.result_meta() if sent is not None else {}
        await self.results.write(rec, op, files, input_meta=input_meta)

    async def _result_written(self, rec: JobRecord, out: Output, written: Path) -> None:
        """Tell the provider where its result now lives (a chain may send it back)."""
        try:
            await self._provider_for(rec.provider).result_written(dict(out.meta), written)
        except Exception:  # a convenience: never fails a job whose result is written
            log.warning("job %s: the provider could not note its written result", rec.id)


def _enter(rec: JobRecord, new: JobState, *, message: str | None, error: str | None) -> None:
    """Set the fields a move to ``new`` changes: times, progress, message, error."""
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


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
