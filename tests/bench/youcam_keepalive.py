"""Figures of YouCam's keep-alive polling under a busy event loop, with realistic timings.

Run: ``.venv/bin/python -m tests.bench.youcam_keepalive [--jobs 12] [--task 4]`` (prints a
table; no assertions). The emulator drops a task after 10 s without a poll and answers
``polling_interval`` 1000 ms, as documented; the app runs the default poll policy (longest gap
3 s, 80 polls per minute per token) through the real job engine with 4 jobs at once while the
event loop is blocked in slices of the given lengths, including one longer than 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import cast

from PIL import Image
from tests.emulators import load
from tests.emulators.youcam import YouCamEmulator

from retouchdesk.services.engine import EngineConfig, JobRequest
from retouchdesk.services.runtime import build_runtime
from retouchdesk.services.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"


async def busy(stop: asyncio.Event, lo: float, hi: float, blocked: list[float]) -> None:
    rng = random.Random(1)
    while not stop.is_set():
        s = rng.uniform(lo, hi)
        time.sleep(s)  # the event loop can do nothing else meanwhile
        blocked.append(s)
        await asyncio.sleep(0.01)


async def one_run(jobs: int, task_s: float, lo: float, hi: float, tmp: Path) -> dict[str, float]:
    emu = cast(
        YouCamEmulator,
        load("youcam", task_seconds=task_s, polling_interval_ms=1000, drop_after=10.0).start(),
    )
    try:
        env = {
            "RETOUCHDESK_YOUCAM_BASE_URL": emu.url,
            "RETOUCHDESK_YOUCAM_CLIENT_ID": emu.client_id,
            "RETOUCHDESK_YOUCAM_CLIENT_SECRET": emu.client_secret,
        }
        rt = build_runtime(
            settings=Settings(tmp / "settings.toml", environ=env),
            db_path=tmp / f"jobs-{lo}-{hi}.sqlite3",
            engine_config=EngineConfig(concurrency={"youcam": 4}, work_root=tmp / "work"),
        )
        src = Image.open(DATA / "astronaut.png").convert("RGB")
        inputs = []
        for i in range(jobs):
            p = tmp / f"in-{lo}-{i}.jpg"
            src.crop((i * 7, i * 5, 256 + i * 7, 256 + i * 5)).save(p)
            inputs.append(p)
        stop, blocked = asyncio.Event(), []
        rt.engine.start()
        t0 = time.monotonic()
        worker = asyncio.create_task(busy(stop, lo, hi, blocked))
        rt.engine.submit_batch(
            JobRequest("youcam", "photo_lighting", p, {}, output_dir=tmp / "out") for p in inputs
        )
        recs = await rt.engine.wait(timeout=600)
        elapsed = time.monotonic() - t0
        stop.set()
        await worker
        await rt.aclose()
        tasks = emu.tasks_created()
        polls = [r for r in emu.received() if r.method == "GET" and "/task/" in r.path]
        return {
            "done": sum(r.state.value == "done" for r in recs),
            "elapsed": elapsed,
            "blocked": sum(blocked) / elapsed,
            "longest_block": max(blocked, default=0.0),
            "max_gap": max(t.max_gap for t in tasks),
            "dropped": sum(t.dropped for t in tasks),
            "lost_polls": emu.lost_polls,
            "polls_per_min": len(polls) / elapsed * 60,
            "charged": emu.charged_total(),
        }
    finally:
        emu.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--task", type=float, default=4.0, help="seconds YouCam works per task")
    args = ap.parse_args()
    os.environ.setdefault("RETOUCHDESK_HOME", tempfile.mkdtemp(prefix="rd-bench-"))
    slices = [(0.05, 0.1), (0.5, 1.0), (2.0, 3.0), (11.0, 12.0)]
    print(f"{args.jobs} photo_lighting jobs, 4 at once, YouCam works {args.task:g} s per task")
    print(
        f"{'loop blocked in':>16} {'busy':>5} {'done':>5} {'time s':>7} {'max gap s':>9} "
        f"{'dropped':>7} {'polls/min':>9} {'charged':>7}"
    )
    for lo, hi in slices:
        with tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(one_run(args.jobs, args.task, lo, hi, Path(tmp)))
        print(
            f"{f'{lo:g}-{hi:g} s':>16} {r['blocked']:>5.0%} {r['done']:>5.0f} "
            f"{r['elapsed']:>7.1f} {r['max_gap']:>9.2f} {r['dropped']:>7.0f} "
            f"{r['polls_per_min']:>9.0f} {r['charged']:>7.0f}"
        )


if __name__ == "__main__":
    main()
