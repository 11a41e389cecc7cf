"""Drive one job through a provider the way the engine does, for provider-level tests.

``prepare -> submit -> poll... -> fetch`` following ``providers.base``; polls honour
``next_poll`` but are capped by ``max_wait`` (tests keep emulator delays short). Errors are
not retried here: provider tests assert what the provider itself does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retouchdesk.core.schema import Inapplicable, Operation
from retouchdesk.providers.base import JobContext, Output, PollResult, Provider, RemoteState


@dataclass
class Driven:
    ctx: JobContext
    outputs: list[Output]
    polls: list[PollResult] = field(default_factory=list)
    cost: float | None = None
    progress: list[tuple[float | None, str]] = field(default_factory=list)


def make_context(
    op: Operation,
    input_path: Path,
    params: dict[str, Any] | None,
    work_dir: Path,
    *,
    job_id: str | None = None,
) -> JobContext:
    values = op.validate(params or {}, inapplicable=Inapplicable.ERROR)
    work_dir.mkdir(parents=True, exist_ok=True)
    return JobContext(
        job_id=job_id or uuid.uuid4().hex,
        operation=op,
        input_path=input_path,
        params=values,
        idempotency_key=uuid.uuid4().hex,
        work_dir=work_dir,
    )


async def drive(
    provider: Provider,
    ctx: JobContext,
    *,
    max_wait: float = 0.5,
    timeout: float = 60.0,
) -> Driven:
    """Run ``ctx`` to the end; raises the provider's error, or AssertionError on FAILED."""
    progress: list[tuple[float | None, str]] = []
    ctx.on_progress = lambda f, m: progress.append((f, m))
    await provider.prepare(ctx)
    sub = await provider.submit(ctx)
    ctx.remote_id = sub.remote_id
    driven = Driven(ctx, [], cost=sub.cost, progress=progress)
    outputs = sub.outputs
    deadline = time.monotonic() + timeout
    while outputs is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job still running after {timeout} s")
        poll = await provider.poll(ctx)
        driven.polls.append(poll)
        if poll.cost is not None:
            driven.cost = poll.cost
        if poll.state is RemoteState.FAILED:
            raise AssertionError(f"job failed: {poll.error}")
        if poll.state is RemoteState.DONE:
            outputs = poll.outputs
            break
        await asyncio.sleep(min(poll.next_poll, max_wait))
    driven.outputs = await provider.fetch(ctx, outputs)
    return driven


def assert_retouched(result: Path, source: Path, *, min_changed: float = 0.002) -> float:
    """Check that ``result`` is ``source`` retouched: the same picture (small mean difference
    once brought to the source's size) with at least ``min_changed`` of its pixels visibly
    changed (skin smoothing touches the face only). Returns the changed fraction."""
    import numpy as np
    from PIL import Image

    src = Image.open(source).convert("RGB")
    out = Image.open(result).convert("RGB")
    if out.size != src.size:
        out = out.resize(src.size, Image.LANCZOS)
    a = np.asarray(out, np.int16)
    b = np.asarray(src, np.int16)
    diff = np.abs(a - b).max(axis=2)
    changed = float((diff >= 2).mean())
    assert np.abs(a - b).mean() < 15, "the result is not the same picture"
    assert changed >= min_changed, f"only {changed:.4%} of the pixels changed"
    return changed
