"""Benchmark: the job engine's own overhead per job, through a provider that does nothing.

Usage: ``.venv/bin/python tests/bench/engine_overhead.py [--jobs 500] [--history 10000]
[--pairs 3]``

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

With a history (``--history N``, default 10 000; 0 skips it): the same figures with N finished
jobs already in the job database (``tests/doubles/history.py``), plus the engine's start
(opening the store, reading what it must, ``start()``) and the rows it read, each as a ratio
to an empty database measured in the same run: ``--pairs`` rounds (default 3), empty and
history alternated, medians. Target: ratios about 1 (a long history costs nothing).
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
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--history", type=int, default=10000, help="finished jobs already stored")
    ap.add_argument("--pairs", type=int, default=3, help="empty/history rounds")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if not args.history:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["RETOUCHDESK_HOME"] = str(Path(tmp) / "home")
            report(asyncio.run(run(Path(tmp), args.jobs, 0)), args.jobs)
        return
    results: dict[int, list[dict[str, float]]] = {0: [], args.history: []}
    for round_ in range(args.pairs):
        order = [0, args.history] if round_ % 2 == 0 else [args.history, 0]
        for h in order:
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["RETOUCHDESK_HOME"] = str(Path(tmp) / "home")
                r = asyncio.run(run(Path(tmp), args.jobs, h))
            results[h].append(r)
            print(
                f"  round {round_ + 1}, history {h}: start {r['start_ms']:.1f} ms "
                f"({r['rows_read']:.0f} rows read), first page {r['page_ms']:.1f} ms, "
                f"overhead median {r['overhead_med']:.2f} ms, "
                f"batch {r['batch_ms']:.2f} ms/job",
                flush=True,
            )
    report(median_of(results[args.history]), args.jobs, args.history)
    compare(median_of(results[0]), median_of(results[args.history]), args.history, args.pairs)


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


FIGURES = (
    ("start_ms", "engine start (store opened, jobs to resume read, start())", "ms"),
    ("rows_read", "job rows read at start", "rows"),
    ("page_ms", "the job list's first page (read_newest)", "ms"),
    ("page_rows", "job rows held after it", "rows"),
    ("overhead_med", "engine overhead per job, median", "ms"),
    ("overhead_p99", "engine overhead per job, p99", "ms"),
    ("latency_med", "wall latency submit -> done, median", "ms"),
    ("batch_ms", "batch, wall time per job", "ms"),
)


def compare(empty: dict[str, float], full: dict[str, float], n: int, pairs: int) -> None:
    print(f"with {n} finished jobs in the database vs an empty one (medians of {pairs} rounds):")
    for key, label, unit in FIGURES:
        ratio = full[key] / empty[key] if empty[key] else float("nan")
        ratio_text = f"ratio {ratio:.2f}" if unit != "rows" else "rows, not a time"
        print(
            f"  {label}: {full[key]:.2f} {unit} vs {empty[key]:.2f} {unit} ({ratio_text})",
            flush=True,
        )


async def run(tmp: Path, n: int, history: int) -> dict[str, float]:
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

    from tests.doubles.history import seed_history

    from retouchdesk.services.store import JobStore

    registry.register("fake", lambda env: NoopProvider())
    db = tmp / "jobs.sqlite3"
    seeding = JobStore(db)  # an existing database in both cases: only its history differs
    if history:
        seed_history(seeding, history, folder=tmp / "old", batch_every=100, batch_size=20)
    seeding.close()
    settings = Settings()
    catalog = load_catalog(SCHEMA_DIR)  # only the test schema: no dependency on others
    src = tmp / "in"
    src.mkdir()
    photos = []
    for i in range(2 * n + 10):  # a batch of distinct photos, as a photographer has
        photos.append(src / f"tiny{i:04d}.png")
        Image.new("RGB", (16, 16), (120, 90, i % 256)).save(photos[-1])
    next_photo = iter(photos)
    t_start = time.perf_counter()
    rt = build_runtime(settings=settings, catalog=catalog, engine_config=EngineConfig(), db_path=db)
    out = tmp / "out"
    done_at: dict[str, float] = {}

    def on_event(ev) -> None:
        if ev.kind is EventKind.STATE and ev.state.terminal:
            done_at[ev.job_id] = time.perf_counter()

    rt.engine.subscribe(on_event)
    rt.engine.start()
    start_ms = (time.perf_counter() - t_start) * 1000
    rows_read = len(rt.engine.jobs())
    t_page = time.perf_counter()
    rt.engine.history.read_newest()  # what the window's job list asks for first
    page_ms = (time.perf_counter() - t_page) * 1000
    page_rows = len(rt.engine.jobs())

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
        done = rt.engine.get(rec.id)
        assert done is not None and done.state is JobState.DONE, done and done.error
        overheads.append((cpu - inside["t"]) * 1000)
        latencies.append((done_at[rec.id] - t0 - inside["t"]) * 1000)
        io_ms.append(worker["t"] * 1000)
    asyncio.to_thread = real_to_thread

    t0 = time.perf_counter()
    batch = rt.engine.submit_batch([request() for _ in range(n)])
    await rt.engine.wait([r.id for r in rt.engine.batch_jobs(batch)])
    batch_ms = (time.perf_counter() - t0) * 1000 / n
    await rt.aclose()

    def p99(values: list[float]) -> float:
        v = sorted(values)
        return v[min(len(v) - 1, round(0.99 * len(v)) - 1)]

    return {
        "start_ms": start_ms,
        "rows_read": float(rows_read),
        "page_ms": page_ms,
        "page_rows": float(page_rows),
        "overhead_med": statistics.median(overheads),
        "overhead_p99": p99(overheads),
        "io_med": statistics.median(io_ms),
        "io_p99": p99(io_ms),
        "latency_med": statistics.median(latencies),
        "latency_p99": p99(latencies),
        "batch_ms": batch_ms,
    }


def report(r: dict[str, float], n: int, history: int = 0) -> None:
    print(
        f"jobs: {n}, one after another (no-op provider, 16x16 PNG in, result written)"
        + (f", {history} finished jobs already in the database" if history else "")
    )
    print(f"engine start: {r['start_ms']:.1f} ms, {r['rows_read']:.0f} job rows read")
    print(f"the job list's first page: {r['page_ms']:.1f} ms, {r['page_rows']:.0f} job rows held")
    print(
        f"engine overhead (loop thread CPU per job): median {r['overhead_med']:.2f} ms, "
        f"p99 {r['overhead_p99']:.2f} ms"
    )
    print(
        f"image I/O in worker threads per job:       median {r['io_med']:.2f} ms, "
        f"p99 {r['io_p99']:.2f} ms"
    )
    print(
        f"wall latency submit -> done per job:        median {r['latency_med']:.2f} ms, "
        f"p99 {r['latency_p99']:.2f} ms"
    )
    print(f"batch of {n}, 4 at a time: {r['batch_ms']:.2f} ms per job (wall time / jobs)")


if __name__ == "__main__":
    main()
