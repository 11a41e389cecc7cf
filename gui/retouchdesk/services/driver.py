"""The provider calls of one job's run, with the retry policy: sending a job and following it.

:class:`StepDriver` makes the calls of :mod:`retouchdesk.providers.base` for a job the engine
has prepared: ``prepare`` (upload or host), ``submit``, then ``fetch`` at once (a synchronous
answer) or ``watch`` until the vendor is done and ``fetch``. What a failure means is
:mod:`services.retry_policy`'s call; every wait is named in a MESSAGE event. A job that cannot
go on by itself ends its run with :class:`Parked` (``unconfirmed`` or ``stalled``), which the
engine records. :func:`job_context` makes what the provider sees of a job's run.

The driver changes no state itself: it asks the engine (``services.engine``), the one owner of
job state, through the callbacks it is built with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from retouchdesk.core.errors import ProviderError, RateLimited
from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.core.schema import Operation
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    PollResult,
    Provider,
    RemoteState,
    SubmitResult,
)
from retouchdesk.services import resume as resume_policy
from retouchdesk.services import retry_policy as policy
from retouchdesk.services.jobspec import EngineConfig

log = logging.getLogger(__name__)

# Key in ``JobRecord.remote``: how many times the engine has called ``submit`` for the job.
SENDS = "engine_sends"


class Parked(Exception):
    """Ends a job's run without ending the job: ``unconfirmed`` or ``stalled``."""

    def __init__(self, state: JobState, sentence: str) -> None:
        super().__init__(sentence)
        self.state = state
        self.sentence = sentence


class Transition(Protocol):
    """The engine's one state change: check the move, persist it, announce it."""

    def __call__(
        self,
        rec: JobRecord,
        new: JobState,
        *,
        message: str | None = None,
        error: str | None = None,
    ) -> None: ...


class StepDriver:
    """Sends jobs to providers and follows them; one per engine.

    ``transition`` changes a job's state; ``message`` and ``progress`` announce a wait or a
    status; ``touch`` persists a record now; ``provider_label`` names a provider in
    sentences. ``adopting`` is the engine's set of unconfirmed jobs waiting for a late answer
    (the engine's waiters must not take them for settled).
    """

    def __init__(
        self,
        config: EngineConfig,
        *,
        transition: Transition,
        message: Callable[[JobRecord, str], None],
        progress: Callable[[JobRecord, float | None, str], None],
        touch: Callable[[JobRecord], None],
        provider_label: Callable[[str], str],
        adopting: set[str],
    ) -> None:
        self.config = config
        self._transition = transition
        self._message = message
        self._progress = progress
        self._touch = touch
        self._label = provider_label
        self._adopting = adopting

    def backoff(self, tries: int, retry_after: float | None) -> float:
        """Seconds before try ``tries + 1`` (:func:`retry_policy.backoff` with the settings)."""
        return policy.backoff(
            tries, retry_after, base=self.config.backoff_base, cap=self.config.backoff_max
        )

    async def send(self, rec: JobRecord, ctx: JobContext, provider: Provider) -> list[Output]:
        """Prepare and submit a job (``uploading``), then bring its outputs in."""
        await self._prepare_step(rec, ctx, provider)
        ctx.raise_if_cancelled()
        submitted = await self._submit_step(rec, ctx, provider)
        if submitted.cost is not None:
            rec.cost = submitted.cost
        if submitted.outputs is not None:
            self._transition(rec, JobState.DOWNLOADING, message="downloading the result")
            return await self._fetch_once(rec, ctx, provider, submitted.outputs)
        if not submitted.remote_id:
            raise ProviderError(f"{provider.id} accepted {rec.input_path.name} without a job id")
        rec.remote_id = ctx.remote_id = submitted.remote_id
        rec.remote = ctx.remote
        self._transition(rec, JobState.SUBMITTED, message="submitted")
        return await self.follow(rec, ctx, provider)

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
                verdict = self._submit_verdict(exc, provider, sends=sends, tries=tries)
                if verdict is policy.Verdict.UNCONFIRMED:
                    log.info("submission of %s unconfirmed: %s", rec.id, exc)
                    sentence = resume_policy.unconfirmed_sentence(rec, self._label(rec.provider))
                    await self.await_late_answer(rec, ctx, provider, sentence)
                    assert ctx.remote_id
                    return SubmitResult(remote_id=ctx.remote_id)
                if verdict is not policy.Verdict.RETRY:
                    raise
                if policy.not_processed(exc):
                    ctx.remote[SENDS] = sends - 1  # the vendor did nothing with it
                await self._wait_retry(rec, ctx, tries, exc)

    def _submit_verdict(
        self, exc: ProviderError, provider: Provider, *, sends: int, tries: int
    ) -> policy.Verdict:
        """Local work is free to repeat like an upload; a vendor's submission is not."""
        if provider.supports(Capability.LOCAL):
            return policy.prepare(exc, tries=tries, max_attempts=self.config.max_attempts)
        return policy.submission(
            exc,
            idempotent=provider.supports(Capability.IDEMPOTENT_SUBMIT),
            sends=sends,
            tries=tries,
            max_attempts=self.config.max_attempts,
        )

    async def await_late_answer(
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
                    raise Parked(JobState.UNCONFIRMED, sentence)
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

    async def follow(self, rec: JobRecord, ctx: JobContext, provider: Provider) -> list[Output]:
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
                outputs = await self._poll_until_done(rec, ctx, provider)
                if rec.state is not JobState.DOWNLOADING:
                    self._transition(rec, JobState.DOWNLOADING, message="downloading the result")
                return await provider.fetch(ctx, outputs)
            except ProviderError as exc:
                if policy.remote(exc) is not policy.Verdict.KEEP:
                    raise
                failures += 1
                left = deadline - time.monotonic()
                label = self._label(rec.provider)
                if left <= 0:
                    raise Parked(
                        JobState.STALLED,
                        f"{rec.input_path.name}: {label} has not delivered job {rec.remote_id} "
                        f"yet ({str(exc).rstrip('. ')}); it is kept, run the command again "
                        f"to pick it up",
                    ) from None
                # The status is asked again: it may carry a fresh result link.
                delay = min(left, self.backoff(failures, exc.retry_after))
                self._message(
                    rec,
                    f"{str(exc).rstrip('. ')}; asking {label} again in {seconds(delay)} s",
                )
                await asyncio.sleep(delay)

    async def _wait_retry(
        self, rec: JobRecord, ctx: JobContext, tries: int, exc: ProviderError
    ) -> None:
        delay = self.backoff(tries, exc.retry_after)
        rec.attempts += 1
        limited = isinstance(exc, RateLimited) or exc.status == 429
        reason = "rate limited" if limited else str(exc).rstrip(". ")
        self._message(rec, f"{reason}, retrying in {seconds(delay)} s")
        await asyncio.sleep(delay)
        ctx.raise_if_cancelled()

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
            f"{self._label(rec.provider)} stopped reporting on the job", retryable=True
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


def job_context(
    rec: JobRecord,
    op: Operation,
    params: dict[str, Any],
    work_dir: Path,
    *,
    progress: Callable[[JobRecord, float | None, str], None],
    touch: Callable[[JobRecord], None],
    cancelled: Callable[[], bool],
) -> JobContext:
    """What a provider sees of one job's run, wired to the engine.

    Progress reported from any thread reaches ``progress`` on the loop thread (events are
    delivered there, in order); a provider's checkpoint copies its remote state onto the
    record and persists it (``touch``); ``cancelled`` answers ``ctx.is_cancelled``.
    """
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
        if threading.get_ident() == loop_thread:
            progress(rec, fraction, message)
        else:
            loop.call_soon_threadsafe(progress, rec, fraction, message)

    def checkpoint() -> None:
        rec.remote = ctx.remote
        if ctx.remote_id:
            rec.remote_id = ctx.remote_id
        touch(rec)

    ctx.on_progress = on_progress
    ctx.on_checkpoint = checkpoint
    ctx.is_cancelled = cancelled
    return ctx


def seconds(delay: float) -> str:
    """A wait as a message shows it: whole seconds from 10 on, else one decimal."""
    return f"{delay:.0f}" if delay >= 10 else f"{delay:.1f}".rstrip("0").rstrip(".") or "0"
