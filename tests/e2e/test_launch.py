"""Issue 13 item 14: how file managers and people start the app, through the real entry point.

``retouchdesk PHOTO...`` (what the desktop entry's ``Exec`` runs for "Open with") opens the
window with those photos; ``retouchdesk --version`` prints the version. Each runs in a fresh
interpreter, as a launcher would start it (offscreen Qt, the start-up probe quits at once).
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RETOUCHDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "retouchdesk", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=home,
    )


def test_version_prints_the_version(tmp_path):
    from retouchdesk import __version__

    proc = _run(["--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Retouch Desk {__version__}"


def test_photos_on_the_command_line_open_in_the_window(tmp_path):
    shoot = tmp_path / "my shoot"
    shoot.mkdir()
    for name in ("chelsea.png", "coffee.png"):
        shutil.copyfile(DATA / name, shoot / name)
    proc = _run(
        [str(shoot / "chelsea.png"), str(shoot / "coffee.png"), "--startup-probe"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "opened 2 chelsea.png,coffee.png" in proc.stdout
    # Issue 13 item 16: the log file the README promises is written.
    log = tmp_path / "logs" / "retouchdesk.log"
    assert log.is_file() and "Retouch Desk" in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_desktop_entry_exec_line_opens_files(tmp_path):
    """The Exec line with %F expanded to a file (spaces in its path), as a launcher does."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(ROOT / "packaging" / "retouchdesk.desktop", encoding="utf-8")
    exec_line = cp["Desktop Entry"]["Exec"]
    photo = tmp_path / "from the file manager.png"
    shutil.copyfile(DATA / "coffee.png", photo)
    argv = []
    for word in shlex.split(exec_line):
        if word == "%F":
            argv.append(str(photo))
        else:
            argv.append(word)
    assert argv[0] == "retouchdesk"
    proc = _run([*argv[1:], "--startup-probe"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "opened 1 from the file manager.png" in proc.stdout
