"""``kill -9`` during an offline AI upscale leaves no process behind, and the re-run finishes.

The CLI (``retouchdesk run --provider local``) and a window-less engine (a script driving the
runtime's ``JobEngine``, as the window does) each run in their own process group; after the
SIGKILL the test looks at every process of that group, as ``ps -g`` would. The upscale is the
real Real-ESRGAN call at a small tile, killed while ncnn computes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
GUI = REPO / "gui"
pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
]
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def group(pgid: int) -> dict[int, float]:
    """Live (non-zombie) processes of a process group -> CPU seconds used."""
    out: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        # fields after the name: state ppid pgrp session ... utime(11) stime(12)
        if st is None or int(st[2]) != pgid or st[0] in ("Z", "X"):
            continue
        out[int(entry)] = (int(st[11]) + int(st[12])) / TICKS
    return out


def wait_for_busy_worker(pgid: int, cpu: float = 3.0, timeout: float = 90.0) -> int:
    """The pid of a worker of ``pgid`` that has used ``cpu`` seconds (inside ncnn by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, used in group(pgid).items():
            if pid != pgid and used >= cpu:
                return pid
        time.sleep(0.1)
    raise AssertionError(f"no busy worker in process group {pgid}: {group(pgid)}")


def kill_and_time_until_empty(proc: subprocess.Popen, limit: float = 2.0) -> float:
    """SIGKILL the group leader only; seconds until its group has no live process left."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    start = time.monotonic()
    while time.monotonic() - start < 10:
        if not group(proc.pid):
            return time.monotonic() - start
        time.sleep(0.02)
    left = group(proc.pid)
    for pid in left:  # do not leave the test's orphans running
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"processes left after the kill: {left}")


def _env(app_home: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    e.update(
        RETOUCHDESK_HOME=str(app_home),
        RETOUCHDESK_LOCAL_TILE_SIZE="64",  # 64-px tiles of a 160-px crop: seconds each, 1.3 GB
        PYTHONPATH=os.pathsep.join(filter(None, [str(GUI), str(REPO), e.get("PYTHONPATH", "")])),
        COLUMNS="200",
    )
    return e


def _photo(folder: Path, data_dir: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "cat.png"
    Image.open(data_dir / "chelsea.png").crop((100, 20, 260, 180)).save(p)
    return p


def _leftovers(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob("*.part")]


def test_kill_9_of_the_cli_during_an_ai_upscale(tmp_path, app_home, data_dir):
    photo = _photo(tmp_path / "in", data_dir)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "retouchdesk", "run", "--provider", "local", "--op", "upscale"]
    cmd += ["--set", "scale=4", "--set", "engine=ai", str(photo), "-o", str(out)]
    env = _env(app_home)
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    try:
        wait_for_busy_worker(proc.pid)
    except BaseException:
        proc.kill()
        raise
    took = kill_and_time_until_empty(proc)
    print(f"no process of the killed CLI's group left after {took:.3f} s")
    assert took <= 2.0

    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=200)
    assert again.returncode == 0, again.stdout + again.stderr
    results = list(out.glob("cat*.png"))
    assert len(results) == 1, results
    with Image.open(results[0]) as im:
        assert im.size == (640, 640)
    assert _leftovers(out, app_home) == []
    assert "Traceback" not in again.stderr


ENGINE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from retouchdesk.services.engine import JobRequest
    from retouchdesk.services.runtime import build_runtime

    async def main(photo, out, fresh):
        rt = build_runtime()
        try:
            if fresh:
                rt.engine.submit(JobRequest(
                    provider="local", operation="upscale", input_path=Path(photo),
                    params={"scale": 4, "engine": "ai"}, output_dir=Path(out)))
            rt.engine.start(resume=True)
            jobs = await rt.engine.wait()
            for job in rt.engine.jobs():
                print("JOB", job.state.value, *job.results, flush=True)
        finally:
            await rt.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "fresh"))
    """
)


def test_kill_9_of_the_windowless_engine_mid_job_then_it_resumes(tmp_path, app_home, data_dir):
    photo = _photo(tmp_path / "in", data_dir)
    out = tmp_path / "out"
    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    env = _env(app_home)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(photo), str(out), "fresh"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_busy_worker(proc.pid)
    except BaseException:
        proc.kill()
        raise
    took = kill_and_time_until_empty(proc)
    print(f"no process of the killed engine's group left after {took:.3f} s")
    assert took <= 2.0

    again = subprocess.run(
        [sys.executable, str(script), str(photo), str(out), "resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert again.returncode == 0, again.stderr
    jobs = [line.split() for line in again.stdout.splitlines() if line.startswith("JOB")]
    assert len(jobs) == 1 and jobs[0][1] == "done", again.stdout
    with Image.open(jobs[0][2]) as im:
        assert im.size == (640, 640)
    assert _leftovers(out, app_home) == []
