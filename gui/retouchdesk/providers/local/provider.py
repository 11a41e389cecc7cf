"""``LocalProvider``: the offline engine as a provider, like any cloud one to the job engine.

``submit`` runs the operation in a worker process (``worker.Worker``) and returns the output
synchronously (``SubmitResult(outputs=[...])``); the event loop only waits on a thread that
watches the worker's pipe. Progress arrives per tile/step, cancellation is honoured between
tiles, and a worker that dies becomes a plain ProviderError. ``Output.meta["engine"]`` says
which engine made the result ("realesrgan", "classic" when the upscaler fell back, "opencv").
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

from retouchdesk.core import handover
from retouchdesk.core.schema import ResultSpec
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    Provider,
    SubmitResult,
)
from retouchdesk.providers.config import ProviderConfig
from retouchdesk.providers.local.worker import Worker


class LocalProvider(Provider):
    """The built-in engine: no account, no network, work in ``workers`` processes."""

    id = "local"
    capabilities = frozenset({Capability.LOCAL})

    @classmethod
    def from_config(cls, config: ProviderConfig) -> LocalProvider:
        """Built from ``local.toml``'s settings: device, tile size, workers, idle timeout."""
        return cls(
            device=config["device"],
            tile_size=config["tile_size"],
            workers=config["workers"],
            idle_timeout=config["idle_timeout"],
        )

    def __init__(
        self,
        *,
        device: str = "auto",
        tile_size: int = 0,
        workers: int = 1,
        cancel_grace: float = 0.2,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self.device = device
        # 0 = automatic: each job picks the tile from the memory free at that moment.
        self.tile_size = max(0, int(tile_size or 0))
        self.max_concurrency = max(1, int(workers))
        self._workers = [
            Worker(
                device=device,
                tile_size=self.tile_size,
                cancel_grace=cancel_grace,
                idle_timeout=idle_timeout,
            )
            for _ in range(self.max_concurrency)
        ]
        self._idle: asyncio.Queue[Worker] | None = None
        self._swept = False  # RAM hand-overs left by a killed run: removed before the first job

    def _queue(self) -> asyncio.Queue[Worker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for w in self._workers:
                self._idle.put_nowait(w)
        return self._idle

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for tests and diagnostics)."""
        return [w.pid for w in self._workers if w.alive() and w.pid is not None]

    def warm_up(self) -> None:
        """Start the idle workers' processes in the background (``Worker.warm_up``)."""
        for w in self._workers:
            w.warm_up()

    async def submit(self, ctx: JobContext) -> SubmitResult:
        ctx.raise_if_cancelled()
        loop = asyncio.get_running_loop()
        if not self._swept:
            self._swept = True
            await asyncio.to_thread(handover.sweep)
        params = _wire_params(ctx.params)
        # Raw pixels to the engine, which encodes once, in the output format (core.handover).
        suffix = handover.SUFFIX
        out_path = ctx.work_dir / f"result_{ctx.operation.id}{suffix}"

        def on_progress(fraction: float | None, message: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us: nobody listens
                loop.call_soon_threadsafe(ctx.progress, fraction, message)

        # Set when this coroutine itself is cancelled (engine shutdown): the worker thread
        # then stops the job at the next tile instead of finishing it for nobody.
        abandoned = threading.Event()
        idle = self._queue()
        worker = await idle.get()
        try:
            summary = await asyncio.to_thread(
                worker.run,
                ctx.operation.id,
                ctx.input_path,
                params,
                out_path,
                on_progress=on_progress,
                is_cancelled=lambda: abandoned.is_set() or ctx.is_cancelled(),
            )
        except asyncio.CancelledError:
            abandoned.set()
            raise
        finally:
            idle.put_nowait(worker)
        meta = _output_meta(summary, ctx.operation.result)
        # The worker may have written it to memory instead (core.handover.in_ram).
        written = Path(summary.get("output") or out_path)
        return SubmitResult(outputs=[Output(path=written, suffix=suffix, meta=meta)], cost=0.0)

    async def aclose(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(w.close) for w in self._workers))


def _wire_params(params: dict[str, Any]) -> dict[str, Any]:
    """Validated values as plain picklable data (paths as strings)."""
    return {k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in params.items()}


def _output_meta(summary: dict[str, Any], result: ResultSpec) -> dict[str, Any]:
    keep = {k: v for k, v in summary.items() if k not in ("output",)}
    keep.setdefault("engine", "opencv")
    if result.format and result.format != "same":
        keep["format"] = result.format
    return keep
