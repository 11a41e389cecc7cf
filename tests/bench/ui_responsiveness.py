"""How responsive the window stays: event-loop stalls during a batch, start-up, a 24 MP photo.

Prints three figures (run from the repository root, about 1-2 minutes):

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/ui_responsiveness.py

1. Event-loop stall: while a batch of 20 jobs runs through the scriptable fake provider
   (``tests/doubles/fake_provider.py``: a pretend server in a folder that reads each 12-MP JPEG
   and writes a brightened result, with the real engine downloading and writing results
   beside the photos), a 5 ms repeating QTimer records how late it fires. The window shows
   the filmstrip (20 thumbnails made in workers) and the job panel the whole time.
   Target: max <= 50 ms.
2. Start-up: wall time from launching ``python -m retouchdesk`` to the first shown window
   (median of 3). Target: <= 1.0 s.
3. Opening a 24-megapixel JPEG: time until it is decoded, colour-managed and on the canvas,
   and the time of one repaint at fit and at 100 % (what panning and zooming cost per frame).

Window cases of issue 15 (``tests/bench/window_cases.py``), each with its ratio to a baseline:
``--first-paint`` (start to first paint vs a bare QMainWindow, alternated processes, median of
``BENCH_PAIRS`` pairs), ``--open-24mp`` and ``--mask-switch`` (event-loop stalls while a
24 MP photo opens / while switching painted masks), ``--memory`` (peak RSS opening 24 and
50 MP vs a bare QImage viewer); ``--window`` runs all four.

History cases of issue 15 (``tests/bench/history_cases.py``): ``--history`` runs the batch
stall with 5 000 and 10 000 finished jobs in the database and the window start with 10 000,
each against an empty history in the same run (``--sizes``, ``--pairs``, ``--start-only``,
``--stall-only``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One folder for the run; the pretend server's child process inherits it through the env.
HOME = Path(os.environ.get("RD_BENCH_HOME") or tempfile.mkdtemp(prefix="rd-bench-"))
os.environ["RD_BENCH_HOME"] = str(HOME)
os.environ["RETOUCHDESK_HOME"] = str(HOME / "home")
os.environ["RETOUCHDESK_FAKE_SERVER"] = str(HOME / "fake-server")

N_JOBS = int(os.environ.get("BENCH_JOBS", "20"))
TRACE = "--trace-stalls" in sys.argv  # print what the GUI thread was doing during long stalls
# Sample every thread's kernel state from another process (tests/bench/thread_sampler.py) and
# explain the three longest stalls with it.
SAMPLE = "--sample-threads" in sys.argv
TRACE_S = float(os.environ.get("BENCH_TRACE_MS", "40")) / 1000


def make_jpeg(path: Path, size: tuple[int, int]) -> None:
    """A photo-like JPEG (smooth gradients plus grain, so it compresses like a real one)."""
    import numpy as np
    from PIL import Image

    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(1)
    r = 128 + 100 * np.sin(x / w * 6.0) * np.cos(y / h * 4.0)
    g = 128 + 90 * np.cos(x / w * 3.0 + y / h * 2.0)
    b = 128 + 80 * np.sin((x + y) / (w + h) * 9.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (h, w, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def startup_times(runs: int = 3) -> list[tuple[float, float]]:
    out = []
    env = dict(os.environ, RETOUCHDESK_HOME=str(HOME / "startup"))
    for _ in range(runs):
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "retouchdesk", "--startup-probe"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("shown ")), None)
        if line is None:
            raise RuntimeError(f"no start-up probe output: {proc.stderr[-500:]}")
        parts = line.split()
        out.append((float(parts[1]) - t0, float(parts[3]) if len(parts) > 3 else float("nan")))
    return out


async def stall_during_batch(window, photos: list[Path]) -> dict[str, float]:
    from PySide6.QtCore import QTimer

    from retouchdesk.core.jobs import JobState

    late: list[float] = []
    last = [time.perf_counter()]
    clock = [gui_thread_clock()]
    worst = [0.0, 0.0, 0.0]  # the longest tick: late ms, GUI thread running ms, waiting ms
    longest: list[tuple[float, float, float]] = []  # (late ms, start, end) of the worst ticks

    def tick() -> None:
        now, sched = time.perf_counter(), gui_thread_clock()
        late.append(max(0.0, (now - last[0]) * 1000 - 5.0))
        if late[-1] > worst[0]:
            worst[:] = [late[-1], sched[0] - clock[0][0], sched[1] - clock[0][1]]
        if late[-1] > 20:
            longest.append((late[-1], last[0], now))
            longest.sort(reverse=True)
            del longest[3:]
        last[0], clock[0] = now, sched

    sampler = _start_thread_sampler() if SAMPLE else None

    if TRACE:
        _start_stall_tracer(last)
    timer = QTimer()
    timer.setTimerType(timer.timerType().PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(tick)
    # Choosing the operation (building its panel) is the photographer's click before the
    # batch; the measurement covers opening the folder and the whole batch.
    window.model.operation.select("fake.brighten")
    t0 = time.perf_counter()
    timer.start()
    last[0] = time.perf_counter()
    window.open_paths([photos[0].parent])
    ids = await window.model.session.queue(window.model.photos.paths)
    engine = window.model.engine
    while not all(engine.get(j).state.terminal for j in ids):
        await asyncio.sleep(0.05)
    timer.stop()
    if sampler is not None:
        _explain_stalls(sampler, longest)
    failed = [engine.get(j).error for j in ids if engine.get(j).state is not JobState.DONE]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs failed: {failed[0]}")
    return {
        "seconds": time.perf_counter() - t0,
        "ticks": len(late),
        "p50": percentile(late, 50),
        "p99": percentile(late, 99),
        "max": max(late),
        "max_running": worst[1],
        "max_waiting": worst[2],
    }


SLOW_C_CALLS: list[tuple[float, float, str, str, str]] = []  # start, end, call, caller, thread


def profile_c_calls(threshold: float = 0.01) -> None:
    """Record every call into C that takes over ``threshold`` seconds on threads started from
    now on (the engine's and the window's worker pools): with the GIL held, such a call is
    what the GUI thread waits for; :func:`_explain_stalls` prints those inside a stall."""
    import threading

    started: dict[int, tuple[float, object]] = {}
    calls: dict[int, list[float]] = {}  # Python calls in progress, per thread

    def prof(frame: object, event: str, arg: object) -> None:
        if event == "call":
            calls.setdefault(threading.get_ident(), []).append(time.perf_counter())
        elif event == "return":
            stack = calls.get(threading.get_ident())
            if stack:
                begun_at = stack.pop()
                now = time.perf_counter()
                code = frame.f_code  # type: ignore[attr-defined]
                # The app's own functions that ran long: what a busy worker was doing.
                if now - begun_at > 0.02 and "retouchdesk" in code.co_filename:
                    where = f"{Path(code.co_filename).name}:{code.co_firstlineno}"
                    SLOW_C_CALLS.append(
                        (begun_at, now, f"{code.co_name} (Python, {where})", "",
                         threading.current_thread().name)
                    )  # fmt: skip
        elif event == "c_call":
            started[threading.get_ident()] = (time.perf_counter(), arg)
        elif event in ("c_return", "c_exception"):
            begun = started.pop(threading.get_ident(), None)
            if begun is None:
                return
            now = time.perf_counter()
            if now - begun[0] > threshold:
                code = frame.f_code  # type: ignore[attr-defined]
                caller = f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}"  # type: ignore[attr-defined]
                name = getattr(begun[1], "__qualname__", repr(begun[1]))
                SLOW_C_CALLS.append((begun[0], now, name, caller, threading.current_thread().name))

    # Not on the GUI thread: profiling every call there made it the slow one (tried).
    threading.setprofile(prof)


def _start_thread_sampler() -> tuple[subprocess.Popen, Path]:
    out = HOME / f"threads-{os.getpid()}.json"
    script = Path(__file__).with_name("thread_sampler.py")
    proc = subprocess.Popen([sys.executable, str(script), str(os.getpid()), str(out)])
    time.sleep(0.3)  # sampling from the start of the batch
    return proc, out


def _explain_stalls(
    sampler: tuple[subprocess.Popen, Path], longest: list[tuple[float, float, float]]
) -> None:
    """Print what the kernel saw of every thread during the longest stalls."""
    import json
    import threading

    from thread_sampler import explain

    proc, out = sampler
    proc.terminate()
    proc.wait(timeout=30)
    samples = json.loads(out.read_text())
    gui = threading.main_thread().native_id or 0
    names = {t.native_id or 0: t.name for t in threading.enumerate()}
    for late_ms, start, end in longest:
        print(f"--- stall {late_ms:.0f} ms late:", flush=True)
        print("\n".join(explain(samples, start, end, gui, names)), flush=True)
        for c0, c1, call, caller, thread in SLOW_C_CALLS:
            if c0 < end and c1 > start:
                print(
                    f"  C call over the stall: {call} ({(c1 - c0) * 1000:.0f} ms, from "
                    f"{caller}, {thread})",
                    flush=True,
                )


def gui_thread_clock() -> tuple[float, float]:
    """This thread's CPU time and its time spent runnable but waiting for a CPU, in ms, from
    the kernel's scheduler statistics (Linux; zeros elsewhere).

    Over a stall they say where it went: running (work on the GUI thread, in Python or in
    Qt), waiting for a CPU (other threads and processes, or the hypervisor, had the cores),
    or neither (blocked: the GIL, a lock, I/O).
    """
    try:
        with open("/proc/thread-self/schedstat", "rb") as fh:
            running, waiting, _ = fh.read().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(running) / 1e6, int(waiting) / 1e6


def _start_stall_tracer(last: list[float]) -> None:
    """A watchdog thread: while the GUI thread has not ticked for ``BENCH_TRACE_MS`` (40 ms),
    every thread's stack is sampled each 10 ms; when the stall ends, its length and the busy
    threads' samples are printed (one snapshot at the threshold can miss what came after)."""
    import threading

    from tests.bench.window_cases import thread_stacks

    def busy(text: str) -> str:
        """The threads doing something (not idle pool workers, not this watchdog)."""
        parts = ("\n" + text).split("\n[")[1:]
        keep = [p for p in parts if "work_queue.get" not in p and "(watch)" not in p]
        return "".join("\n[" + p for p in keep)

    def watch() -> None:
        samples: list[str] = []
        stalled_since = 0.0
        while True:
            time.sleep(0.01)
            begun = last[0]
            if time.perf_counter() - begun > TRACE_S:
                stalled_since = begun
                samples.append(busy(thread_stacks(limit=6)))
            elif samples and begun != stalled_since:
                length = (begun - stalled_since) * 1000
                body = "\n~~~ 10 ms later:\n".join(samples)
                print(f"--- GUI thread stalled {length:.0f} ms; samples:\n{body}", flush=True)
                samples = []

    threading.Thread(target=watch, daemon=True).start()


async def open_24mp(window, path: Path) -> dict[str, float]:
    doc = window.model.document
    t0 = time.perf_counter()
    window.open_paths([path])
    while doc.image is None or doc.image.path != path.resolve():
        await asyncio.sleep(0.002)
    canvas = window.canvas
    canvas.viewport().repaint()
    shown = time.perf_counter() - t0
    t1 = time.perf_counter()
    canvas.viewport().repaint()
    fit_paint = time.perf_counter() - t1
    canvas.actual_size()
    canvas.viewport().repaint()
    t2 = time.perf_counter()
    for _ in range(10):
        canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().value() + 40)
        canvas.viewport().repaint()
    pan_paint = (time.perf_counter() - t2) / 10
    return {"open_s": shown, "fit_paint_ms": fit_paint * 1000, "pan_paint_ms": pan_paint * 1000}


def _server_render(root: str, job: dict) -> list[Path]:
    """Runs in the pretend server's process: the fake provider's own rendering."""
    from tests.doubles.fake_provider import FakeServer

    return FakeServer.__dict__["_render"](FakeServer(Path(root)), job)


def _render_in_server_process() -> None:
    """Let the pretend server do its image work in its own process, as a real server would.

    The fake provider's server lives in a folder and normally renders results inside the
    test process; here that work (decode, brighten, PNG encode of 12 MP) goes to a child
    process so that the figures measure the app (polling, downloading, writing results with
    metadata, thumbnails, the job panel), not the pretend server's CPU time in our GIL.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tests.doubles import fake_provider

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def render(self, job):
        return pool.submit(_server_render, str(self.root), job).result()

    fake_provider.FakeServer._render = render  # type: ignore[method-assign]

    # The double "downloads" with a blocking shutil.copyfile on the event loop (25 MB PNGs);
    # a real provider streams its download asynchronously, so this copy runs in a thread
    # (same files, names and metadata as the double's own fetch).
    import shutil

    from retouchdesk.providers.base import Output

    async def fetch(self, ctx, outputs):
        out = []
        for i, o in enumerate(outputs):
            dest = ctx.work_dir / f"download_{i}.png"
            await asyncio.to_thread(shutil.copyfile, o.url[len("fake://") :], dest)
            out.append(Output(path=dest, suffix=".png", label=o.label, meta=o.meta))
        return out

    fake_provider.FakeProvider.fetch = fetch  # type: ignore[method-assign]


def main() -> int:
    print(f"start-up: launching the window {3} times ...", flush=True)
    starts = startup_times() if not TRACE else [(0.0, 0.0)]
    walls = [w for w, _ in starts]
    cpus = [c for _, c in starts]
    print(
        f"time to first shown window: median {statistics.median(walls):.3f} s wall, "
        f"{statistics.median(cpus):.3f} s CPU of the process "
        f"(runs: {', '.join(f'{w:.3f}' for w in walls)}; target <= 1.0 s; "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        flush=True,
    )

    photos_dir = HOME / "shoot"
    photos_dir.mkdir()
    print(f"making {N_JOBS} 12-MP JPEGs and one 24-MP JPEG ...", flush=True)
    first = photos_dir / "photo_01.jpg"
    make_jpeg(first, (4000, 3000))
    photos = [first]
    for i in range(2, N_JOBS + 1):
        p = photos_dir / f"photo_{i:02d}.jpg"
        p.write_bytes(first.read_bytes())
        photos.append(p)
    big_dir = HOME / "big"
    big_dir.mkdir()
    big = big_dir / "big_24mp.jpg"
    make_jpeg(big, (6000, 4000))

    import qasync
    from PySide6.QtWidgets import QApplication
    from tests.doubles.fake_provider import FakeServer, build_fake_runtime

    from retouchdesk.app import build_window
    from retouchdesk.ui.theme import apply_theme

    app = QApplication([])
    apply_theme(app, "dark")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    _render_in_server_process()
    FakeServer(Path(os.environ["RETOUCHDESK_FAKE_SERVER"])).set_script(
        duration=0.3, poll_interval=0.1, max_concurrency=2
    )
    runtime = build_fake_runtime(HOME / "jobs.sqlite3")
    window = build_window(runtime)
    window.resize(1400, 900)

    async def run() -> None:
        window.show()
        window.model.start()
        print(
            f"running a batch of {N_JOBS} jobs on 12-MP JPEGs through the fake provider ...",
            flush=True,
        )
        s = await stall_during_batch(window, photos)
        print(
            f"event-loop stall during the batch ({s['seconds']:.1f} s, {s['ticks']} ticks of a "
            f"5 ms timer): p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms "
            f"(target max <= 50 ms)",
            flush=True,
        )
        o = await open_24mp(window, big)
        print(
            f"open and show a 24-MP JPEG: {o['open_s']:.2f} s; repaint at fit "
            f"{o['fit_paint_ms']:.1f} ms, at 100 % while panning {o['pan_paint_ms']:.1f} ms/frame",
            flush=True,
        )
        await window.model.aclose()

    with loop:
        loop.run_until_complete(run())
    return 0


WINDOW_FLAGS = ("--window", "--first-paint", "--open-24mp", "--mask-switch", "--memory")


def window_cases(argv: list[str]) -> int:
    """Issue 15: first paint vs a bare QMainWindow, 24 MP open and mask switch stalls, peak
    memory vs a bare QImage viewer (``tests/bench/window_cases.py``; ``--window``: all)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import window_cases as cases

    return cases.main(argv)


def history_cases(argv: list[str]) -> int:
    """Issue 15: batch stalls with 5 000 / 10 000 jobs of history and window start with
    10 000, each vs an empty history (``tests/bench/history_cases.py``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import history_cases as cases

    return cases.main(argv)


if __name__ == "__main__":
    if "--history" in sys.argv:
        sys.exit(history_cases(sys.argv[1:]))
    if any(flag in sys.argv for flag in WINDOW_FLAGS):
        sys.exit(window_cases(sys.argv[1:]))
    sys.exit(main())
