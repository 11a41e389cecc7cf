"""The provider calls of one run (services.driver.StepDriver) against a scripted provider,
with the engine's callbacks recorded: what is retried, what is parked, what each wait says."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest
from tests.doubles.records import job_record

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
from retouchdesk.services.driver import SENDS, Parked, StepDriver, job_context, seconds
from retouchdesk.services.jobspec import EngineConfig

OP = Operation(provider="stub", id="op", label="Op", description="", endpoint="", params=())


class Scripted(Provider):
    """Raises the scripted errors in turn, then answers; ``watch`` yields ``updates``."""

    id = "stub"

    def __init__(
        self,
        *,
        caps: Sequence[Capability] = (),
        prepare: Sequence[Exception] = (),
        submit: Sequence[Exception] = (),
        answer: SubmitResult | None = None,
        updates: Sequence[PollResult | Exception] = (),
    ) -> None:
        self.capabilities = frozenset(caps)
        self._prepare = list(prepare)
        self._submit = list(submit)
        self._answer = answer or SubmitResult(remote_id="r-1")
        self._updates = list(updates)
        self.submits = 0

    async def prepare(self, ctx: JobContext) -> None:
        if self._prepare:
            raise self._prepare.pop(0)

    async def submit(self, ctx: JobContext) -> SubmitResult:
        self.submits += 1
        if self._submit:
            raise self._submit.pop(0)
        return self._answer

    async def watch(self, ctx: JobContext) -> AsyncGenerator[PollResult, None]:
        while self._updates:
            item = self._updates.pop(0)
            if isinstance(item, Exception):
                raise item
            yield item
            if item.state in (RemoteState.DONE, RemoteState.FAILED):
                return
        raise ProviderError("the status page is down", retryable=True)


class Engine:
    """The callbacks a driver is given, recording what it asked for."""

    def __init__(self) -> None:
        self.moves: list[JobState] = []
        self.messages: list[str] = []
        self.progress: list[tuple[float | None, str]] = []
        self.touched = 0
        self.adopting: set[str] = set()

    def transition(self, rec, new, *, message=None, error=None) -> None:
        rec.state = new
        self.moves.append(new)

    def driver(self, **config) -> StepDriver:
        return StepDriver(
            EngineConfig(backoff_base=0.01, backoff_max=0.02, **config),
            transition=self.transition,
            message=lambda rec, text: self.messages.append(text),
            progress=lambda rec, f, text: self.progress.append((f, text)),
            touch=lambda rec: setattr(self, "touched", self.touched + 1),
            provider_label=lambda provider_id: "Stub Cloud",
            adopting=self.adopting,
        )


def job(tmp_path: Path, state: JobState = JobState.UPLOADING) -> tuple[JobRecord, JobContext]:
    rec = job_record("j1", tmp_path, provider="stub", operation="op", state=state)
    ctx = JobContext(
        job_id=rec.id,
        operation=OP,
        input_path=rec.input_path,
        params={},
        idempotency_key=rec.idempotency_key,
        work_dir=tmp_path,
    )
    return rec, ctx


async def test_send_retries_a_rate_limit_then_follows_the_job_to_its_outputs(tmp_path):
    done = PollResult(RemoteState.DONE, outputs=[Output(data=b"x", suffix=".png")])
    provider = Scripted(
        prepare=[RateLimited("slow down", retry_after=0.01)],
        updates=[PollResult(RemoteState.RUNNING, message="busy"), done],
    )
    engine = Engine()
    rec, ctx = job(tmp_path)
    files = await engine.driver().send(rec, ctx, provider)
    assert [f.path.read_bytes() for f in files if f.path] == [b"x"]
    assert engine.messages[0].startswith("rate limited, retrying in ")
    assert engine.moves == [JobState.SUBMITTED, JobState.RUNNING, JobState.DOWNLOADING]
    assert engine.progress == [(None, "busy")] and len(engine.messages) == 1
    assert rec.remote_id == "r-1" and rec.remote[SENDS] == 1 and rec.attempts == 1
    assert engine.touched == 1  # submit_started persisted before the call


async def test_a_lost_answer_parks_a_non_idempotent_submission_unconfirmed(tmp_path):
    provider = Scripted(submit=[ProviderError("no answer", code="ambiguous")])
    engine = Engine()
    rec, ctx = job(tmp_path)
    with pytest.raises(Parked) as parked:
        await engine.driver().send(rec, ctx, provider)
    assert parked.value.state is JobState.UNCONFIRMED
    assert "--resend-unconfirmed" in parked.value.sentence
    assert provider.submits == 1 and engine.moves == [JobState.UNCONFIRMED]
    assert not engine.adopting  # the wait for a late answer is over


async def test_an_idempotent_submission_is_sent_again_at_most_twice(tmp_path):
    lost = [ProviderError("no answer", code="ambiguous") for _ in range(3)]
    provider = Scripted(caps=[Capability.IDEMPOTENT_SUBMIT], submit=lost)
    rec, ctx = job(tmp_path)
    with pytest.raises(ProviderError):
        await Engine().driver().send(rec, ctx, provider)
    assert provider.submits == 2


async def test_a_job_that_never_delivers_is_stalled_after_the_deadline(tmp_path):
    engine = Engine()
    rec, ctx = job(tmp_path, JobState.RUNNING)
    rec.remote_id = "r-9"
    with pytest.raises(Parked) as parked:
        await engine.driver(job_deadline=0.05).follow(rec, ctx, Scripted())
    assert parked.value.state is JobState.STALLED
    assert "Stub Cloud has not delivered job r-9" in parked.value.sentence
    assert engine.messages and all("asking Stub Cloud again in" in m for m in engine.messages)


async def test_the_vendor_failing_the_job_ends_it_at_once(tmp_path):
    failed = PollResult(RemoteState.FAILED, error="the photo has no face")
    rec, ctx = job(tmp_path, JobState.SUBMITTED)
    with pytest.raises(ProviderError, match="no face"):
        await Engine().driver().follow(rec, ctx, Scripted(updates=[failed]))


async def test_job_context_reports_progress_on_the_loop_thread_and_checkpoints(tmp_path):
    engine = Engine()
    rec, _ = job(tmp_path)
    reported: list[tuple[float | None, str, bool]] = []
    ctx = job_context(
        rec,
        OP,
        {"a": 1},
        tmp_path,
        progress=lambda r, f, text: reported.append(
            (f, text, threading.current_thread() is threading.main_thread())
        ),
        touch=lambda r: setattr(engine, "touched", engine.touched + 1),
        cancelled=lambda: False,
    )
    await asyncio.to_thread(ctx.progress, 0.5, "half")
    await asyncio.sleep(0.01)
    ctx.remote_id, ctx.remote["upload"] = "r-2", "u"
    ctx.checkpoint()
    assert reported == [(0.5, "half", True)]
    assert rec.remote_id == "r-2" and rec.remote == {"upload": "u"} and engine.touched == 1


def test_waits_read_as_seconds():
    assert [seconds(d) for d in (0.04, 0.5, 1.25, 9.96, 12.4)] == ["0", "0.5", "1.2", "10", "12"]
