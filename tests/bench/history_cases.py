"""Window cases of a long job history (issue 15 item 5), each with its ratio to an empty history
measured in the same run. Run through ``tests/bench/ui_responsiveness.py --history``:

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/ui_responsiveness.py --history \
        [--sizes 5000,10000] [--pairs 3] [--photo-size 4000x3000] [--start-only | --stall-only]

1. **Batch stall**: the window's event-loop lateness (a 5 ms QTimer heartbeat; p99 and max)
   while a 20-photo batch of 12 MP JPEGs runs through the fake provider (the
   ``stall_during_batch`` case of ui_responsiveness.py), with 0 / 5 000 / 10 000 finished jobs
   already in the job database. Every case runs in its own process (a fresh window over its
   own database), sizes alternated, ``--pairs`` rounds; medians per size.
   Target: p99 <= 16 ms, max <= 50 ms at any history size. Also printed: the GUI thread's
   CPU time per job event delivered to every listener (job list, status bar, versions,
   history dock), which does not count a loaded machine's waiting; and the p99 and max of
   the same heartbeat in a bare Qt window run beside the app for the batch (``BARE_TICKER``):
   what the machine alone does to any window under that load.
2. **Window start**: ``python -m retouchdesk --startup-probe`` to the first paint with 10 000
   finished jobs in the database vs an empty one, alternated processes, median of ``--pairs``
   pairs. Target: flat (ratio about 1).

The history rows are written by ``tests/doubles/history.py`` (done, failed and cancelled jobs,
one a minute back from an hour ago, so none is old enough to be pruned); their photos do not
exist, so the page of history shown at start costs no thumbnail work.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parent


def seed_home(home: Path, n: int) -> None:
    """A fresh app home whose job database holds ``n`` finished jobs."""
    sys.path.insert(0, str(ROOT))
    from tests.doubles.history import seed_history

    from retouchdesk.services.store import JobStore

    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("RETOUCHDESK_HOME")
    os.environ["RETOUCHDESK_HOME"] = str(home)
    try:
        from retouchdesk.services import store as store_mod

        store = JobStore(store_mod.default_path())
        if n:
            seed_history(store, n, folder=home / "old-shoot", batch_every=100, batch_size=20)
        store.close()
    finally:
        if old is None:
            os.environ.pop("RETOUCHDESK_HOME", None)
        else:
            os.environ["RETOUCHDESK_HOME"] = old


def first_paint(home: Path) -> float:
    """Seconds from launching the window process to its first paint."""
    env = dict(os.environ, RETOUCHDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "retouchdesk", "--startup-probe"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("shown ")), None)
    if line is None:
        raise RuntimeError(f"no start-up probe output: {proc.stderr[-800:]}")
    return float(line.split()[1]) - t0


def window_start(n: int, pairs: int, tmp: Path) -> None:
    empty, full = tmp / "start-empty", tmp / "start-history"
    seed_home(empty, 0)
    seed_home(full, n)
    first_paint(empty)  # warm the file cache (Python, Qt) before anything is timed
    rows: list[tuple[float, float]] = []
    for i in range(pairs):
        # Alternate which goes first: a loaded machine slows both alike.
        if i % 2:
            b = first_paint(full)
            a = first_paint(empty)
        else:
            a = first_paint(empty)
            b = first_paint(full)
        rows.append((a, b))
        print(f"  pair {i + 1}: empty {a:.3f} s, {n} jobs {b:.3f} s", flush=True)
    ratios = [b / a for a, b in rows]
    print(
        f"window start to first paint with {n} finished jobs: median "
        f"{statistics.median(b for _, b in rows):.3f} s vs empty "
        f"{statistics.median(a for a, _ in rows):.3f} s, ratio {statistics.median(ratios):.2f} "
        f"(median of {pairs} pairs; target flat)",
        flush=True,
    )


#: A bare Qt window with the same 5 ms heartbeat, run beside the app during the batch: its
#: lateness is what the machine alone does to any window under that load (a virtual CPU the
#: host does not run for a while, the pretend server's work on the same 2 cores). It stops
#: when its standard input closes and prints its p99 and max lateness in milliseconds.
BARE_TICKER = """
import os, sys, threading, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(400, 300); w.show()
late, last = [], [0.0]
def tick():
    now = time.perf_counter()
    if last[0]:
        late.append(max(0.0, (now - last[0]) * 1000 - 5.0))
    last[0] = now
timer = QTimer(); timer.setInterval(5); timer.timeout.connect(tick); timer.start()
def report_at_eof():  # a plain thread cannot stop Qt's loop: it reports and ends the process
    sys.stdin.read()
    done = sorted(late)
    p99 = done[int(len(done) * 0.99)] if done else 0.0
    print(f"{p99:.3f} {max(done, default=0.0):.3f}", flush=True)
    os._exit(0)
threading.Thread(target=report_at_eof, daemon=True).start()
QTimer.singleShot(0, lambda: print("ready", flush=True))
app.exec()
"""


def start_bare_ticker() -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_TICKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready": its window is up and ticking
    return proc


def stop_bare_ticker(proc: subprocess.Popen[str]) -> tuple[float, float]:
    """(p99, max) lateness of the bare window's heartbeat, in milliseconds."""
    out, _ = proc.communicate("", timeout=30)
    p99, worst = (float(v) for v in out.split()[-2:])
    return p99, worst


def stall_case(n: int, work: Path, size: tuple[int, int] = (4000, 3000)) -> dict[str, float]:
    """Runs in its own process: one window over a database of ``n`` jobs, one batch."""
    work.mkdir(parents=True)
    os.environ["RD_BENCH_HOME"] = str(work)
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(ROOT))
    import ui_responsiveness as ur  # reads RD_BENCH_HOME when imported

    if ur.SAMPLE:
        ur.profile_c_calls()
    if os.environ.get("RD_BENCH_NICE"):  # an A/B of the worker threads' nice value
        import retouchdesk.model.tasks as tasks

        tasks.BACKGROUND_NICE = int(os.environ["RD_BENCH_NICE"])
    if os.environ.get("RD_BENCH_SWITCH_MS"):  # an A/B of the GIL switch interval
        sys.setswitchinterval(float(os.environ["RD_BENCH_SWITCH_MS"]) / 1000)
    db = ur.HOME / "jobs.sqlite3"
    from tests.doubles.history import seed_history

    from retouchdesk.services.store import JobStore

    store = JobStore(db)
    seed_history(store, n, folder=ur.HOME / "old-shoot", batch_every=100, batch_size=20)
    store.close()
    photos_dir = ur.HOME / "shoot"
    photos_dir.mkdir()
    first = photos_dir / "photo_01.jpg"
    shared = work.parent / f"photo_{size[0]}x{size[1]}.jpg"  # made once, copied per case
    if not shared.exists():
        ur.make_jpeg(shared, size)
    photos = []
    for i in range(1, ur.N_JOBS + 1):
        p = first if i == 1 else photos_dir / f"photo_{i:02d}.jpg"
        p.write_bytes(shared.read_bytes())
        photos.append(p)

    import asyncio

    import qasync
    from PySide6.QtWidgets import QApplication
    from tests.doubles.fake_provider import FakeServer, build_fake_runtime

    from retouchdesk.app import build_window
    from retouchdesk.ui.theme import apply_theme

    app = QApplication([])
    apply_theme(app, "dark")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    ur._render_in_server_process()
    FakeServer(Path(os.environ["RETOUCHDESK_FAKE_SERVER"])).set_script(
        duration=0.3, poll_interval=0.1, max_concurrency=2
    )
    import gc

    from retouchdesk.app import pause_gc_until_shown, show_first

    pause_gc_until_shown()  # as the app starts: see app.main
    t0 = time.perf_counter()
    window = build_window(build_fake_runtime(db))
    built = time.perf_counter() - t0
    window.resize(1400, 900)
    out: dict[str, float] = {}

    # The GUI thread's CPU time spent delivering each job event to every listener (job
    # list, status bar, versions, history): what a long history could make slower, measured
    # as CPU time so that a loaded machine's waiting does not count.
    engine = window.model.engine
    per_event: list[float] = []
    deliver = engine._emit

    def timed_emit(event: Any) -> None:
        t = time.thread_time()
        deliver(event)
        per_event.append((time.thread_time() - t) * 1000)

    engine._emit = timed_emit

    # Every garbage collection during the batch, on whichever thread triggered it.
    pauses: list[float] = []
    began = [0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        elif info["generation"] == 2:
            pauses.append((time.perf_counter() - began[0]) * 1000)

    async def run() -> None:
        await show_first(window)
        gc.callbacks.append(collected)
        window.model.start()
        await asyncio.sleep(0.5)  # the start's own work (prune, first thumbnails) settles
        per_event.clear()
        late_imports = _watch_imports() if ur.SAMPLE else None
        bare = start_bare_ticker()
        out.update(await ur.stall_during_batch(window, photos))
        out["bare_p99"], out["bare_max"] = stop_bare_ticker(bare)
        if late_imports:
            # Modules first imported during the batch: an import holds its module's lock,
            # and a thread importing the same module waits for it.
            print(f"--- {len(late_imports)} modules first imported during the batch:")
            for when, thread, name in late_imports:
                print(f"  {when:7.3f} s  {thread:<22} {name}", flush=True)
        out["rows_read"] = len(window.model.engine.jobs())
        out["events"] = len(per_event)
        out["event_cpu_p99"] = ur.percentile(per_event, 99)
        out["event_cpu_max"] = max(per_event)
        out["event_cpu_total"] = sum(per_event)
        out["gc_full_collections"] = len(pauses)
        out["gc_full_max_ms"] = max(pauses, default=0.0)
        await window.model.aclose()

    with loop:
        loop.run_until_complete(run())
    out["window_built_s"] = built
    return out


def _watch_imports() -> list[tuple[float, str, str]]:
    """Record (seconds from now, thread, module) for each module imported from now on."""
    import threading

    seen: list[tuple[float, str, str]] = []
    t0 = time.perf_counter()

    def hook(event: str, args: tuple) -> None:
        if event == "import" and args[0] not in sys.modules:
            seen.append((time.perf_counter() - t0, threading.current_thread().name, args[0]))
            if args[0].startswith("retouchdesk."):  # who asked for it, in short
                import traceback

                frames = [
                    f"{Path(f.filename).name}:{f.lineno} {f.name}"
                    for f in traceback.extract_stack()[:-1]
                    if "retouchdesk" in f.filename and "importlib" not in f.filename
                ]
                seen.append((0.0, "  from", " < ".join(frames[::-1][:5])))

    sys.addaudithook(hook)
    return seen


def stall_breakdown(r: dict[str, float]) -> str:
    """ "running X ms, waiting for a CPU Y ms, blocked Z ms" of the longest stall."""
    if "max_running" not in r:
        return ""
    interval = r["max"] + 5.0  # the tick's whole interval
    blocked = max(0.0, interval - r["max_running"] - r["max_waiting"])
    return (
        f"longest tick: GUI thread running {r['max_running']:.1f} ms, waiting for a CPU "
        f"{r['max_waiting']:.1f} ms, blocked {blocked:.1f} ms"
    )


def batch_stall(sizes: list[int], pairs: int, tmp: Path, photo: str = "4000x3000") -> None:
    cases = [0, *(n for n in sizes if n)]  # the empty history is the baseline, once
    results: dict[int, list[dict[str, float]]] = {n: [] for n in cases}
    for round_ in range(pairs):
        order = cases if round_ % 2 == 0 else cases[::-1]
        for n in order:
            work = tmp / f"stall-{n}-{round_}"
            trace = [f for f in ("--trace-stalls", "--sample-threads") if f in sys.argv]
            proc = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__)),
                    "--stall-case",
                    str(n),
                    str(work),
                    photo,
                    *trace,
                ],
                capture_output=True,
                text=True,
                timeout=600,
                env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
            )
            if trace:  # the case's stall traces (everything but its result line)
                print("\n".join(ln for ln in proc.stdout.splitlines() if not ln.startswith("{")))
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
            if line is None:
                raise RuntimeError(f"stall case {n} failed: {proc.stderr[-1500:]}")
            r = json.loads(line)
            results[n].append(r)
            print(
                f"  round {round_ + 1}, history {n}: job events cost the GUI thread p99 "
                f"{r['event_cpu_p99']:.2f} ms, max {r['event_cpu_max']:.2f} ms CPU "
                f"({r['events']:.0f} events, {r['event_cpu_total']:.0f} ms in all)",
                flush=True,
            )
            print(
                f"  round {round_ + 1}, history {n}: p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms "
                f"({r['seconds']:.1f} s, {r['ticks']} ticks, {r['rows_read']} rows read, "
                f"window built in {r['window_built_s']:.2f} s); a bare window beside it: p99 "
                f"{r['bare_p99']:.1f} ms, max {r['bare_max']:.1f} ms; {stall_breakdown(r)}",
                flush=True,
            )
    base = results[0]
    p99_0 = statistics.median(r["p99"] for r in base)
    max_0 = statistics.median(r["max"] for r in base)
    build_0 = statistics.median(r["window_built_s"] for r in base)
    ev_0 = statistics.median(r["event_cpu_p99"] for r in base)
    tot_0 = statistics.median(r["event_cpu_total"] for r in base)
    for n in cases:
        ev = statistics.median(r["event_cpu_p99"] for r in results[n])
        tot = statistics.median(r["event_cpu_total"] for r in results[n])
        print(
            f"GUI-thread CPU per job event with {n} jobs of history: p99 {ev:.2f} ms (ratio "
            f"{ev / ev_0:.2f}), all events {tot:.0f} ms (ratio {tot / tot_0:.2f})",
            flush=True,
        )
    for n in cases:
        p99 = statistics.median(r["p99"] for r in results[n])
        mx = statistics.median(r["max"] for r in results[n])
        built = statistics.median(r["window_built_s"] for r in results[n])
        bare_mx = statistics.median(r["bare_max"] for r in results[n])
        print(
            f"event-loop stall during a {os.environ.get('BENCH_JOBS', '20')}-photo batch "
            f"({photo} JPEGs) with "
            f"{n} jobs of history: p99 {p99:.1f} ms (ratio {p99 / p99_0:.2f}), max {mx:.1f} ms "
            f"(ratio {mx / max_0:.2f}; a bare window beside it {bare_mx:.1f} ms); window built "
            f"in {built:.2f} s (ratio {built / build_0:.2f}); medians of {pairs} (target p99 <= "
            "16 ms, max <= 50 ms)",
            flush=True,
        )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--stall-case"]:
        w, h = (int(v) for v in argv[3].split("x"))
        print(json.dumps(stall_case(int(argv[1]), Path(argv[2]), (w, h))), flush=True)
        return 0
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--history", action="store_true", help="(the flag that brought us here)")
    ap.add_argument("--sizes", default="5000,10000", help="history sizes of the stall case")
    ap.add_argument("--start-history", type=int, default=10000, help="jobs of the start case")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument(
        "--photo-size", default="4000x3000", help="WxH of the batch's JPEGs (12 MP as before)"
    )
    ap.add_argument("--start-only", action="store_true")
    ap.add_argument("--stall-only", action="store_true")
    ap.add_argument(
        "--trace-stalls", action="store_true", help="print the busy threads of long stalls"
    )
    ap.add_argument(
        "--sample-threads",
        action="store_true",
        help="explain the longest stalls with every thread's kernel state (thread_sampler.py)",
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="rd-history-bench-"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if not args.stall_only:
        window_start(args.start_history, args.pairs, tmp)
    if not args.start_only:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        batch_stall(sizes, args.pairs, tmp, args.photo_size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
