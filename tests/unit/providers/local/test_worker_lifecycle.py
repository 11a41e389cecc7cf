"""Worker processes of the offline engine: cancel, parent death, idle release, Ctrl-C.

Real spawned processes and the real Real-ESRGAN native call (the one that cannot be
interrupted); what is checked is what ``ps`` would show: a process id that exists or not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from retouchdesk.core.errors import Cancelled
from retouchdesk.providers.local.lifecycle import rss_bytes
from retouchdesk.providers.local.worker import Worker

DATA = Path(__file__).resolve().parents[3] / "data"
GUI = Path(__file__).resolve().parents[4] / "gui"
pytestmark = pytest.mark.timeout(120)


def _photo(tmp_path: Path, size: int = 64) -> Path:
    """A small piece of the cat photo: one Real-ESRGAN call of several seconds at tile 64."""
    p = tmp_path / "piece.png"
    Image.open(DATA / "chelsea.png").crop((150, 50, 150 + size, 50 + size)).save(p)
    return p


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        return False


def wait_gone(pid: int, timeout: float) -> float | None:
    """Seconds until ``pid`` is gone, or None if it still runs after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if gone(pid):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@linux_only
def test_cancel_inside_the_native_upscale_call_stops_the_worker_within_a_second(tmp_path):
    worker = Worker(tile_size=64, cancel_grace=0.5, idle_timeout=None)
    photo = _photo(tmp_path)
    in_native = threading.Event()
    cancel_at: list[float] = []
    outcome: list[BaseException | dict] = []

    def on_progress(fraction, message):
        if "upscal" in message.lower() and not fraction:
            in_native.set()  # the model is loaded: next comes the long ncnn call

    def run():
        try:
            outcome.append(
                worker.run(
                    "upscale",
                    photo,
                    {"scale": 4, "engine": "ai"},
                    tmp_path / "out.png",
                    on_progress=on_progress,
                    is_cancelled=lambda: bool(cancel_at),
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    try:
        assert in_native.wait(60), "the upscale never started"
        time.sleep(0.5)  # well inside the native call (it takes seconds)
        pid = worker.pid
        assert pid is not None and not gone(pid)
        cancel_at.append(time.monotonic())
        t.join(5)
        latency = time.monotonic() - cancel_at[0]
        assert isinstance(outcome[0], Cancelled)
        # Killed, not waited for: the kernel reclaims the gigabyte or so meanwhile.
        reclaimed = wait_gone(pid, 5)
        assert reclaimed is not None, "the cancelled worker is still there after 5 s"
        total = latency + reclaimed
        print(f"cancel -> job ended in {latency:.3f} s; process gone after {total:.3f} s")
        assert latency < 1.0, f"cancel took {latency:.2f} s"
        assert not (tmp_path / "out.png").exists()
        # A fresh worker takes the next job.
        summary = worker.run(
            "upscale", photo, {"scale": 2, "engine": "classic"}, tmp_path / "next.png"
        )
        assert worker.pid != pid
        assert summary["width"] == 128
    finally:
        worker.close()


def test_a_worker_started_from_a_short_lived_thread_outlives_that_thread(tmp_path):
    # Linux's parent-death signal follows the thread that created the process; a worker
    # started from a thread that ends must not die with it.
    worker = Worker(idle_timeout=None)
    t = threading.Thread(target=worker.start)
    t.start()
    t.join()
    try:
        time.sleep(0.5)
        assert worker.alive()
        summary = worker.run(
            "upscale", _photo(tmp_path), {"scale": 2, "engine": "classic"}, tmp_path / "o.png"
        )
        assert summary["width"] == 128
    finally:
        worker.close()


def test_terminal_ctrl_c_reaches_the_parent_only(tmp_path):
    worker = Worker(idle_timeout=None)
    worker.start()
    try:
        # The worker must be past its start-up before the signal means anything.
        worker.run(
            "upscale", _photo(tmp_path), {"scale": 2, "engine": "classic"}, tmp_path / "a.png"
        )
        pid = worker.pid
        os.kill(pid, signal.SIGINT)
        time.sleep(0.3)
        assert worker.alive() and worker.pid == pid
        worker.run(
            "upscale", _photo(tmp_path), {"scale": 2, "engine": "classic"}, tmp_path / "b.png"
        )
        assert worker.pid == pid
    finally:
        worker.close()


@linux_only
def test_an_idle_worker_exits_and_a_new_job_starts_a_fresh_one(tmp_path):
    worker = Worker(idle_timeout=1.0)
    photo = _photo(tmp_path)
    try:
        worker.run("upscale", photo, {"scale": 2, "engine": "classic"}, tmp_path / "a.png")
        pid = worker.pid
        assert pid is not None and rss_bytes(pid)
        time.sleep(0.5)
        assert worker.alive(), "stopped before the idle timeout"
        assert wait_gone(pid, 3.0) is not None, "an idle worker kept its memory"
        deadline = time.monotonic() + 2.0
        while worker.alive() and time.monotonic() < deadline:  # the idle stop finishing
            time.sleep(0.01)
        assert not worker.alive()
        worker.run("upscale", photo, {"scale": 2, "engine": "classic"}, tmp_path / "b.png")
        assert worker.pid != pid
    finally:
        worker.close()


def test_a_job_longer_than_the_idle_timeout_is_not_stopped(tmp_path):
    worker = Worker(idle_timeout=0.2)
    photo = _photo(tmp_path, 200)
    slow = threading.Event()

    def progress(fraction, message):
        if not slow.is_set():
            slow.set()
            time.sleep(0.5)  # the job outlasts the idle timeout while it runs

    try:
        worker.run("upscale", photo, {"scale": 2, "engine": "classic"}, tmp_path / "a.png")
        summary = worker.run(
            "upscale",
            photo,
            {"scale": 4, "engine": "classic"},
            tmp_path / "b.png",
            on_progress=progress,
        )
        assert summary["width"] == 800
    finally:
        worker.close()


PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from retouchdesk.providers.local.worker import Worker

    photo, out, engine = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    w = Worker(tile_size=64, idle_timeout=None)

    def progress(fraction, message):
        if "upscal" in message.lower():
            print("WORKER", w.pid, flush=True)

    threading.Thread(
        target=w.run,
        args=("upscale", photo, {"scale": 4, "engine": engine}, out),
        kwargs={"on_progress": progress},
        daemon=True,
    ).start()
    time.sleep(600)
    """
)


def _start_parent(tmp_path: Path, engine: str) -> tuple[subprocess.Popen, int]:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(GUI), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(_photo(tmp_path)), str(tmp_path / "o.png"), engine],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("WORKER"):
            return proc, int(line.split()[1])
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the parent never reported its worker")


@linux_only
def test_sigkill_of_the_parent_during_the_native_call_leaves_no_worker(tmp_path):
    proc, pid = _start_parent(tmp_path, "ai")
    time.sleep(0.5)  # inside ncnn's call now
    assert not gone(pid)
    proc.kill()
    proc.wait()
    took = wait_gone(pid, 2.0)
    if took is None:
        os.kill(pid, signal.SIGKILL)
    assert took is not None, "the worker outlived its parent by more than 2 s"
    print(f"worker gone {took:.3f} s after its parent was killed")


@linux_only
def test_the_watchdog_alone_ends_a_worker_whose_parent_died(tmp_path):
    # Without the parent-death signal (other systems), the watchdog thread does it.
    script = tmp_path / "watch.py"
    script.write_text(
        textwrap.dedent(
            """
            import multiprocessing as mp, sys, time

            def child():
                from retouchdesk.providers.local import lifecycle
                lifecycle._start_watchdog()
                print("CHILD", flush=True)
                x = 0
                while True:  # busy in Python, as a worker between native calls
                    x += 1

            if __name__ == "__main__":
                p = mp.get_context("spawn").Process(target=child)
                p.start()
                print("PID", p.pid, flush=True)
                time.sleep(600)
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(GUI), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    pid = int(proc.stdout.readline().split()[1])
    assert proc.stdout.readline().strip() == "CHILD"
    proc.kill()
    proc.wait()
    took = wait_gone(pid, 2.0)
    if took is None:
        os.kill(pid, signal.SIGKILL)
    assert took is not None, "the watchdog did not end the orphan"


@linux_only
async def test_cancel_from_the_engine_stops_the_worker_within_a_second(
    tmp_path, monkeypatch, data_dir
):
    # The window's path: JobEngine.cancel on a running offline AI upscale.
    from retouchdesk.core.jobs import EventKind, JobState
    from retouchdesk.services.engine import JobRequest
    from retouchdesk.services.runtime import build_runtime

    monkeypatch.setenv("RETOUCHDESK_LOCAL_TILE_SIZE", "64")
    rt = build_runtime(db_path=tmp_path / "jobs.sqlite3")
    in_native = asyncio.Event()

    def watch(ev):
        if ev.kind is EventKind.PROGRESS and "upscal" in ev.message.lower():
            in_native.set()

    rt.engine.subscribe(watch)
    rt.engine.start()
    job = rt.engine.submit(
        JobRequest(
            "local", "upscale", _photo(tmp_path), {"scale": 4, "engine": "ai"}, tmp_path / "out"
        )
    )
    try:
        await asyncio.wait_for(in_native.wait(), 60)
        await asyncio.sleep(0.5)
        [pid] = rt.provider("local").worker_pids
        start = time.monotonic()
        rt.engine.cancel(job.id)
        [rec] = await rt.engine.wait([job.id], timeout=10)
        assert rec.state is JobState.CANCELLED
        assert await asyncio.to_thread(wait_gone, pid, 5) is not None
        ended = time.monotonic() - start
        print(f"engine cancel -> job cancelled and worker process gone in {ended:.3f} s")
        assert ended < 1.0
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    finally:
        await rt.aclose()


def _warmed_up(worker: Worker) -> int:
    """``worker.warm_up()``, then the process id once the background start has made one."""
    worker.warm_up()
    deadline = time.monotonic() + 10.0
    while worker.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.pid is not None and worker.alive()
    return worker.pid


@linux_only
def test_a_warmed_up_worker_takes_the_job_and_stops_when_never_used(tmp_path):
    # warm_up starts the process in the background (its imports overlap the engine's checks);
    # the job then runs in that very process. Never given a job, it stops when idle.
    worker = Worker(idle_timeout=1.0)
    photo = _photo(tmp_path)
    try:
        pid = _warmed_up(worker)
        worker.warm_up()  # already up: nothing more starts
        worker.run("upscale", photo, {"scale": 2, "engine": "classic"}, tmp_path / "a.png")
        assert worker.pid == pid
    finally:
        worker.close()
    assert wait_gone(pid, 3.0) is not None

    idle = Worker(idle_timeout=0.5)
    try:
        unused = _warmed_up(idle)
        assert wait_gone(unused, 5.0) is not None, "a warmed-up worker without a job stayed"
    finally:
        idle.close()


@linux_only
def test_closing_a_worker_that_never_had_a_job_kills_it_at_once():
    # It may still be loading numpy and OpenCV; asked politely it would answer only then
    # (a command whose photos were all done already waited for that).
    worker = Worker(idle_timeout=None)
    _warmed_up(worker)
    proc = worker._proc
    worker.close()
    assert proc is not None and proc.exitcode == -signal.SIGKILL


def test_a_worker_told_to_stop_leaves_without_the_interpreters_teardown(
    monkeypatch: pytest.MonkeyPatch,
):
    # os._exit after flushing its streams: the teardown of numpy, OpenCV and a loaded model
    # took 50-100 ms that stop() (and a command about to exit) waited for.
    from retouchdesk.providers.local import lifecycle, worker

    class Pipe:
        def recv(self):
            return None

    class Left(Exception):
        pass

    def exit_now(code: int):
        raise Left(code)

    monkeypatch.setattr(lifecycle, "ignore_interrupts", lambda: None)
    monkeypatch.setattr(worker.os, "_exit", exit_now)
    with pytest.raises(Left) as left:
        worker._child_main(Pipe(), None)
    assert left.value.args == (0,)


def _spare_pid() -> int:
    from retouchdesk.providers.local import worker as worker_module

    started = worker_module._spare.started
    assert started is not None
    return started[0].pid


@linux_only
def test_a_prestarted_process_is_the_first_workers_and_is_killed_when_nobody_takes_it(tmp_path):
    # The command line starts a process before it has the settings a Worker is made from; the
    # first Worker takes it (device and tile size come with each job), or it is killed.
    from retouchdesk.providers.local.worker import prestart

    prestart()
    pid = _spare_pid()
    prestart()  # one at most
    assert _spare_pid() == pid
    worker = Worker(tile_size=64, idle_timeout=None)
    try:
        worker.run(
            "upscale", _photo(tmp_path), {"scale": 2, "engine": "classic"}, tmp_path / "a.png"
        )
        assert worker.pid == pid
    finally:
        worker.close()

    prestart(unclaimed_after=0.3)
    unclaimed = _spare_pid()
    assert wait_gone(unclaimed, 5.0) is not None, "a prestarted process nobody took stayed"
    fresh = Worker(idle_timeout=None)
    try:
        fresh.start()
        assert fresh.pid not in (None, unclaimed)
    finally:
        fresh.close()
