"""How an offline ``retouchdesk run`` starts: its worker first, the heavy libraries only there.

The worker process decodes, fills and hands the pixels over; the command plans, checks the
photo's header and encodes the result. The worker's start-up (interpreter, numpy, OpenCV: a
third of a second) runs while the command plans, not after. OpenCV (and numpy's share of the
offline operations) would cost the command a quarter of a second before it could even start
the worker, and the HTTP client a tenth of a second, for a job that never goes online.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from tests.e2e.clienv import subprocess_env

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent(
    """
    import sys
    from retouchdesk.cli import main
    code = main(sys.argv[1:])
    print("LOADED", sorted(m for m in ("cv2", "httpx") if m in sys.modules))
    sys.exit(code)
    """
)


def _removal_args(tmp_path: Path, data_dir: Path) -> list[str]:
    """``retouchdesk run`` arguments of a Telea removal on a JPEG of the astronaut."""
    photo = tmp_path / "astronaut.jpg"
    Image.open(data_dir / "astronaut.png").convert("RGB").save(photo, quality=92)
    sel = np.zeros((512, 512), np.uint8)
    cv2.circle(sel, (300, 200), 30, 255, -1)
    Image.fromarray(sel, "L").save(tmp_path / "mask.png")
    args = ["run", "--provider", "local", "--op", "object_removal", "--quiet"]
    args += ["--set", f"mask={tmp_path / 'mask.png'}", "--set", "method=telea"]
    return [*args, "-o", str(tmp_path / "out"), str(photo)]


def _record(monkeypatch: pytest.MonkeyPatch, calls: list[str], owner, name: str) -> None:
    """Append ``name`` to ``calls`` each time ``owner.name`` is called (then call it)."""
    real = getattr(owner, name)

    def recording(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)


def test_the_worker_starts_before_the_command_plans_the_batch(
    tmp_path: Path, app_home: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    from retouchdesk.cli import main
    from retouchdesk.cli import run as cli_run
    from retouchdesk.providers.local.provider import LocalProvider

    calls: list[str] = []
    _record(monkeypatch, calls, LocalProvider, "warm_up")
    _record(monkeypatch, calls, cli_run, "plan_batch")
    assert main(_removal_args(tmp_path, data_dir)) == 0
    assert calls[:2] == ["warm_up", "plan_batch"], calls
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_the_worker_process_is_launched_before_the_command_reads_its_settings(
    tmp_path: Path, app_home: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    from retouchdesk.cli import main
    from retouchdesk.providers.local import worker
    from retouchdesk.services import runtime

    calls: list[str] = []
    _record(monkeypatch, calls, worker, "prestart")
    _record(monkeypatch, calls, runtime, "build_runtime")
    assert main(_removal_args(tmp_path, data_dir)) == 0
    assert calls == ["prestart", "build_runtime"], calls
    assert worker._spare.started is None  # the job's worker took it


def test_an_offline_removal_loads_neither_opencv_nor_httpx_in_the_command(
    tmp_path: Path, app_home: Path, data_dir: Path
):
    args = _removal_args(tmp_path, data_dir)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        env=subprocess_env(app_home),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "LOADED []" in done.stdout, done.stdout
    assert len(list((tmp_path / "out").iterdir())) == 1
