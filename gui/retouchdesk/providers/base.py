"""The provider interface: what the job engine asks of every engine, local or cloud.

The engine drives every job through the same calls, whatever the provider:

1. ``prepare(ctx)`` (state *uploading*): make the input reachable: upload it, host it, or do
   nothing. Safe to repeat; whatever it creates goes into ``ctx.remote`` and is persisted by
   ``ctx.checkpoint()``.
2. ``submit(ctx)`` (state *submitted*): start the job. Before calling it the engine records that
   a submission may reach the provider; unless the provider declares
   ``Capability.IDEMPOTENT_SUBMIT`` (and uses ``ctx.idempotency_key``) or ``Capability.LOCAL``,
   a job interrupted during ``submit`` is never sent again. A synchronous provider returns its
   outputs directly from ``submit``.
3. ``watch(ctx)`` (state *running*): an async iterator of status updates until a terminal
   one. The default calls ``poll(ctx)`` every ``PollResult.next_poll`` seconds; a provider
   that learns of changes itself pushes them instead. After a restart the engine watches
   again the jobs whose ``remote_id`` it has (``Capability.RESUME``).
4. ``fetch(ctx, outputs)`` (state *downloading*): bring the outputs into ``ctx.work_dir``. The
   engine then writes them next to the photo with metadata, atomically.
5. ``cancel(ctx)``: best effort at the provider; the engine marks the job cancelled anyway.
6. ``adopt(ctx)``: for a submission whose answer never arrived, the remote id a late answer
   (Enhancor's webhook) carries; the engine never re-sends such a job by itself.

Providers raise :mod:`retouchdesk.core.errors` exceptions; retry decisions are the engine's.
No Qt here, ever.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from retouchdesk.core.errors import Cancelled
from retouchdesk.core.schema import Operation


class Capability(StrEnum):
    """What the job engine must know about a provider to drive, retry and resume its jobs.

    Facts the window needs before a provider can be built (hosting, credits, styles) are in
    its schema instead (``ProviderSchema.needs_hosting`` ...), since building needs keys.
    """

    LOCAL = "local"  # runs on this machine: re-running after a crash is always safe
    RESUME = "resume"  # a submitted job can be polled again by its remote id after a restart
    IDEMPOTENT_SUBMIT = "idempotent_submit"  # submit reuses ctx.idempotency_key: safe to repeat
    ADOPT = "adopt"  # a late answer (webhook) can name the job of an unconfirmed submission


class RemoteState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Output:
    """One result of a job: where to get it and what it is.

    Exactly one of ``url``, ``data`` and ``path`` is set. ``label`` names a variant when an
    operation returns several (YouCam colorize); ``meta`` goes into the result's record
    (for example ``{"engine": "classic"}`` when the offline upscaler fell back).
    """

    url: str | None = None
    data: bytes | None = None
    path: Path | None = None
    suffix: str = ""
    label: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SubmitResult:
    remote_id: str | None = None
    outputs: list[Output] | None = None  # set when the provider finished synchronously
    cost: float | None = None


@dataclass
class PollResult:
    state: RemoteState
    progress: float | None = None
    message: str = ""
    cost: float | None = None
    outputs: list[Output] = field(default_factory=list)
    error: str | None = None  # the plain sentence, when state is FAILED
    next_poll: float = 2.0  # seconds until the next poll


@dataclass
class JobContext:
    """What a provider sees of a job, and its hooks back into the engine."""

    job_id: str
    operation: Operation
    input_path: Path  # the file to process (the engine may have made a downscaled copy)
    params: dict[str, Any]  # validated, applicable parameters (``Operation.validate``)
    idempotency_key: str
    work_dir: Path  # private scratch folder of this job, removed when it ends
    remote_id: str | None = None
    remote: dict[str, Any] = field(default_factory=dict)  # provider-owned, persisted state
    on_progress: Callable[[float | None, str], None] = lambda f, m: None
    on_checkpoint: Callable[[], None] = lambda: None
    is_cancelled: Callable[[], bool] = lambda: False

    @property
    def provider_id(self) -> str:
        return self.operation.provider

    def progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress (0..1, or None when unknown) and a short status message."""
        self.on_progress(fraction, message)

    def checkpoint(self) -> None:
        """Persist ``remote`` now (after an upload, before a risky call)."""
        self.on_checkpoint()

    def raise_if_cancelled(self) -> None:
        if self.is_cancelled():
            raise Cancelled()

    def file_param(self, name: str) -> Path | None:
        value = self.params.get(name)
        return Path(value) if value else None


class Provider(abc.ABC):
    """Base class of every provider; see the module docstring for the call sequence."""

    id: str = ""
    capabilities: frozenset[Capability] = frozenset()
    max_concurrency: int = 2

    def supports(self, cap: Capability) -> bool:
        return cap in self.capabilities

    def warm_up(self) -> None:  # noqa: B027 - optional step
        """A job for this provider is about to run: start what is slow to start (a worker
        process) now, without waiting for it, so that it overlaps the engine's checks of the
        photo. Never raises; the default has nothing to start."""

    async def prepare(self, ctx: JobContext) -> None:  # noqa: B027 - optional step
        """Make the input reachable (upload); the default has nothing to do."""

    @abc.abstractmethod
    async def submit(self, ctx: JobContext) -> SubmitResult: ...

    async def poll(self, ctx: JobContext) -> PollResult:
        raise NotImplementedError(f"{self.id} is synchronous and cannot be polled")

    async def watch(self, ctx: JobContext) -> AsyncGenerator[PollResult, None]:
        """Status updates of a job the vendor holds, pushed as they happen, until it ends.

        The engine follows a submitted job only through this iterator; it stops after a DONE
        or FAILED update, and an error raised here is judged like a failed poll. The neutral
        default pulls: :meth:`poll`, then waits the ``next_poll`` it asked for. A provider
        with a channel of its own (YouCam's keep-alive poller, a webhook) overrides it and
        yields when something changed, waking the engine at once.
        """
        while True:
            res = await self.poll(ctx)
            yield res
            if res.state in (RemoteState.DONE, RemoteState.FAILED):
                return  # queued and running both go on polling
            await asyncio.sleep(max(0.0, res.next_poll))

    async def fetch(self, ctx: JobContext, outputs: Sequence[Output]) -> list[Output]:
        """Turn outputs into local files in ``ctx.work_dir``; the base handles data and paths."""
        out: list[Output] = []
        for i, o in enumerate(outputs):
            if o.path is not None:
                out.append(o)
            elif o.data is not None:
                p = ctx.work_dir / f"result_{i}{o.suffix or '.bin'}"
                p.write_bytes(o.data)
                out.append(Output(path=p, suffix=o.suffix, label=o.label, meta=o.meta))
            else:
                raise NotImplementedError(f"{self.id} must download URL outputs itself")
        return out

    async def adopt(self, ctx: JobContext) -> str | None:
        """The remote id of an unconfirmed submission, if a late answer named it.

        Called repeatedly (``Capability.ADOPT``) while a job whose submit answer was lost
        waits; also after a restart, so a provider should make its late-answer channel (the
        job's webhook route) ready again here.
        """
        return None

    async def cancel(self, ctx: JobContext) -> None:  # noqa: B027 - optional step
        """Stop the job at the provider if it can; the engine cancels locally regardless."""

    async def aclose(self) -> None:  # noqa: B027 - optional step
        """Close network clients and worker processes."""

    async def result_written(self, meta: dict[str, Any], path: Path) -> None:  # noqa: B027
        """A result was written where the photographer keeps it (``path``; ``meta`` as fetch
        gave it). A provider that can take its own results back as inputs without a new
        upload (YouCam's ``dst_id``) learns the written file here: writing may re-encode it,
        so the downloaded file's fingerprint no longer finds it."""

    # -- optional features, with neutral defaults ---------------------------------------------
    # A provider overrides the ones it offers; its schema says so where the window must know
    # before building it (``has_credits``, ``lists_styles``).

    async def test_connection(self) -> str | None:
        """One cheap authenticated call; a short sentence of what it saw. None: no such call."""
        return None

    async def balance(self) -> Any:
        """The credit balance (``total``, ``nearest_expiry``, ``credits``); None: no balance."""
        return None

    async def history(self, limit: int = 20) -> list[Any]:
        """The last ``limit`` credit changes, newest first (``has_credits`` providers)."""
        return []

    async def list_styles(
        self, style_source: str, page_token: str | None = None
    ) -> tuple[list[Any], str | None]:
        """One page of a style catalogue and the next page's token (``lists_styles``)."""
        return [], None
