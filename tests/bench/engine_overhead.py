"""Benchmark: the job engine's own overhead per job, through a provider that does nothing.

Usage: ``.venv/bin/python tests/bench/engine_overhead.py [--jobs 500]``

Jobs run one after another through a no-op provider (it returns the input as the result), so
whatever time a job takes is the engine's. Three figures per job:

* **engine overhead**: CPU time of the event-loop thread from ``submit`` to the DONE event:
  the SQLite row and its writes, the state machine, events, scheduling, naming. This is what
  the engine adds to every job and what competes with the window for the loop.
* **image I/O in worker threads**: probing and decoding the (16x16) input to refuse damaged
  files before any upload, proving the output folder writable, writing the result atomically
  with its metadata (fsync included) and removing the scratch folder. Off the loop thread.
* **wall latency**: ``submit`` to DONE as a caller sees it (on a loaded machine this includes
  waiting for a CPU).

Then the same number of jobs as one batch (4 at a time): wall time divided by the jobs.
Target: median engine overhead <= 2 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RETOUCHDESK_HOME"] = str(Path(tmp) / "home")
        asyncio.run(run(Path(tmp), args.jobs))


async def run(tmp: Path, n: int) -> None:
    from tests.doubles.fake_provider import SCHEMA_DIR

    from retouchdesk.core.jobs import EventKind, JobState
    from retouchdesk.core.schema import load_catalog
    from retouchdesk.providers.base import Capability, JobContext, Output, Provider, SubmitResult
    from retouchdesk.services import registry
    from retouchdesk.services.engine import EngineConfig, JobRequest
    from retouchdesk.services.runtime import build_runtime
    from retouchdesk.services.settings import Settings

    inside = {"t": 0.0}

    class NoopProvider(Provider):
        """Returns the input itself as the result, synchronously: zero work."""

        id = "fake"
        capabilities = frozenset({Capability.LOCAL})
        max_concurrency = 4

        async def submit(self, ctx: JobContext) -> SubmitResult:
            t = time.perf_counter()
            out = SubmitResult(outputs=[Output(path=ctx.input_path)])
            inside["t"] += time.perf_counter() - t
            return out

    registry.register("fake", lambda env: NoopProvider())
    rt = build_runtime(
        settings=Settings(),
        catalog=load_catalog(SCHEMA_DIR),  # only the test schema: no dependency on others
        engine_config=EngineConfig(),
        db_path=tmp / "jobs.sqlite3",
    )
    src = tmp / "in"
    src.mkdir()
    photos = []
    for i in range(2 * n + 10):  # a batch of distinct photos, as a photographer has
        photos.append(src / f"tiny{i:04d}.png")
        Image.new("RGB", (16, 16), (120, 90, i % 256)).save(photos[-1])
    next_photo = iter(photos)
    out = tmp / "out"
    done_at: dict[str, float] = {}

    def on_event(ev) -> None:
        if ev.kind is EventKind.STATE and ev.state.terminal:
            done_at[ev.job_id] = time.perf_counter()

    rt.engine.subscribe(on_event)
    rt.engine.start()

    def request() -> JobRequest:
        return JobRequest("fake", "brighten", next(next_photo), output_dir=out)

    # Warm up (imports, first thread pool use, SQLite page cache).
    for _ in range(10):
        rec = rt.engine.submit(request())
        await rt.engine.wait([rec.id])

    worker = {"t": 0.0}
    real_to_thread = asyncio.to_thread

    async def timed_to_thread(fn, /, *a, **kw):
        def run():
            t = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                worker["t"] += time.thread_time() - t

        return await real_to_thread(run)

    asyncio.to_thread = timed_to_thread  # count the worker threads' CPU separately
    overheads: list[float] = []
    latencies: list[float] = []
    io_ms: list[float] = []
    for _ in range(n):
        inside["t"] = 0.0
        worker["t"] = 0.0
        t0 = time.perf_counter()
        c0 = time.thread_time()
        rec = rt.engine.submit(request())
        await rt.engine.wait([rec.id])
        cpu = time.thread_time() - c0
        assert rt.engine.get(rec.id).state is JobState.DONE, rt.engine.get(rec.id).error
        overheads.append((cpu - inside["t"]) * 1000)
        latencies.append((done_at[rec.id] - t0 - inside["t"]) * 1000)
        io_ms.append(worker["t"] * 1000)
    asyncio.to_thread = real_to_thread

    t0 = time.perf_counter()
    batch = rt.engine.submit_batch([request() for _ in range(n)])
    await rt.engine.wait([r.id for r in rt.engine.batch_jobs(batch)])
    batch_ms = (time.perf_counter() - t0) * 1000 / n
    await rt.aclose()

    def stats(values: list[float]) -> str:
        v = sorted(values)
        p99 = v[min(len(v) - 1, round(0.99 * len(v)) - 1)]
        return f"median {statistics.median(v):.2f} ms, p99 {p99:.2f} ms"

    print(f"jobs: {n}, one after another (no-op provider, 16x16 PNG in, result written)")
    print(f"engine overhead (loop thread CPU per job): {stats(overheads)}")
    print(f"image I/O in worker threads per job:       {stats(io_ms)}")
    print(f"wall latency submit -> done per job:        {stats(latencies)}")
    print(f"batch of {n}, 4 at a time: {batch_ms:.2f} ms per job (wall time / jobs)")


if __name__ == "__main__":
    main()
