"""Lifecycle figures of the offline engine's workers on this machine (a script, not a test).

    .venv/bin/python tests/bench/worker_lifecycle.py [--size 128] [--tile 0] [--repeat 3]

1. Memory: resident set of a fresh idle worker, after one Real-ESRGAN 4x job on a
   ``size`` x ``size`` crop (the heap is trimmed after each job), and whether it is gone
   after the idle timeout (2 s here; ``local.idle_timeout`` defaults to 60 s).
2. Cancel: the user cancels 0.5 s into the native ncnn call; seconds until the job has ended
   (``Worker.run`` returns, the worker killed) and until the process is gone from ``ps``.
3. ``kill -9`` of ``retouchdesk run --provider local`` during the upscale: seconds until no
   process of its process group is left.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from retouchdesk.core.errors import Cancelled
from retouchdesk.providers.local import budget
from retouchdesk.providers.local.lifecycle import rss_bytes
from retouchdesk.providers.local.worker import Worker

DATA = Path(__file__).resolve().parents[1] / "data"
GUI = Path(__file__).resolve().parents[2] / "gui"


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def until(cond, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def crop(folder: Path, size: int) -> Path:
    p = folder / f"cat{size}.png"
    Image.open(DATA / "chelsea.png").crop((100, 20, 100 + size, 20 + size)).save(p)
    return p


def memory(folder: Path, size: int, tile: int) -> None:
    w = Worker(tile_size=tile, idle_timeout=2.0)
    w.start()
    pid = w.pid
    assert pid is not None
    time.sleep(1.0)  # its imports done
    idle = rss_bytes(pid) or 0
    photo = crop(folder, size)
    t = time.monotonic()
    w.run("upscale", photo, {"scale": 4, "engine": "ai"}, folder / "m.png")
    took = time.monotonic() - t
    after = rss_bytes(pid) or 0
    exited = until(lambda: gone(pid), 10)
    print(
        f"memory: tile {tile or budget.auto_tile_size()} ({'auto' if not tile else 'set'}), "
        f"{size}x{size} in {took:.1f} s; worker resident {idle / 2**20:.0f} MiB idle, "
        f"{after / 2**20:.0f} MiB after the job (heap trimmed); "
        + (f"gone {exited:.2f} s after the job (idle timeout 2 s)" if exited else "STILL THERE")
    )
    w.close()


def cancel(folder: Path, size: int, tile: int, repeat: int) -> None:
    photo = crop(folder, size)
    for _ in range(repeat):
        w = Worker(tile_size=tile, idle_timeout=None)
        ready, flag, done = threading.Event(), threading.Event(), []

        def on_progress(f, m, ready=ready):
            if "upscal" in m.lower() and not f:
                ready.set()

        def run(w=w, flag=flag, done=done, on_progress=on_progress):
            try:
                w.run("upscale", photo, {"scale": 4, "engine": "ai"}, folder / "c.png",
                      on_progress=on_progress, is_cancelled=flag.is_set)  # fmt: skip
            except Cancelled:
                done.append(time.monotonic())

        th = threading.Thread(target=run)
        th.start()
        ready.wait(120)
        time.sleep(0.5)
        pid = w.pid
        assert pid is not None
        t0 = time.monotonic()
        flag.set()
        th.join()
        ended = done[0] - t0 if done else float("nan")
        away = until(lambda pid=pid: gone(pid), 10)
        total = (time.monotonic() - t0) if away is None else ended + away
        print(f"cancel: job ended after {ended:.3f} s, worker process gone after {total:.3f} s")
        w.close()


def group(pgid: int) -> list[int]:
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat", encoding="ascii") as fh:
                    st = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(st[2]) == pgid and st[0] not in ("Z", "X"):
                out.append(int(e))
    return out


def kill9(folder: Path, size: int, tile: int, repeat: int) -> None:
    photo = crop(folder, size)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(RETOUCHDESK_HOME=str(folder / "home"), RETOUCHDESK_LOCAL_TILE_SIZE=str(tile))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUI), env.get("PYTHONPATH")]))
    for i in range(repeat):
        cmd = [sys.executable, "-m", "retouchdesk", "run", "--provider", "local", "--op",
               "upscale", "--set", "scale=4", "--set", "engine=ai", str(photo),
               "-o", str(folder / f"out{i}"), "--force"]  # fmt: skip
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        # Wait for the worker to be well into ncnn (3 s of CPU).
        until(lambda p=p: any(pid != p.pid and _cpu(pid) > 3 for pid in group(p.pid)), 120)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        t = until(lambda p=p: not group(p.pid), 10)
        print(f"kill -9 of the CLI: no process of its group left after {t:.3f} s")


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            st = fh.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--tile", type=int, default=0, help="0 = automatic from free memory")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    free = budget.available_bytes() or 0
    print(f"free memory {free / 2**30:.1f} GiB -> automatic tile {budget.auto_tile_size()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        memory(folder, args.size, args.tile)
        cancel(folder, args.size, args.tile, args.repeat)
        kill9(folder, args.size, args.tile, args.repeat)


if __name__ == "__main__":
    main()
