"""The desktop integration files: the .desktop entry and the AppStream metainfo are valid and
point at screenshots and an icon that exist."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def test_desktop_entry_launches_the_window_with_files():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # keys are case-sensitive
    cp.read(PACKAGING / "retouchdesk.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "retouchdesk %F"  # documented: `retouchdesk PHOTO...`
    assert "image/jpeg" in entry["MimeType"]
    assert (ROOT / "resources" / "icons" / f"{entry['Icon']}.svg").is_file()
    # An empty %F opens the window; older entries' `--open` is still understood.
    from retouchdesk.app import _parse

    assert _parse([]).photos == []
    assert _parse(["a.jpg", "b.png"]).photos == [Path("a.jpg"), Path("b.png")]
    assert _parse(["--open", "a.jpg"]).open == [Path("a.jpg")]


def test_metainfo_names_existing_screenshots():
    (path,) = PACKAGING.glob("*.metainfo.xml")
    root = ET.parse(path).getroot()
    assert root.findtext("launchable") == "retouchdesk.desktop"
    shots = [img.text.rsplit("/", 1)[-1] for img in root.iter("image")]
    assert {"main_window.png", "enhancor_skin.png", "batch_running.png", "before_after.png"} <= set(
        shots
    )
    for name in shots:
        png = PACKAGING / "screenshots" / name
        assert png.is_file(), name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/setup.sh test installs it)")
    return path


def test_desktop_entry_passes_desktop_file_validate():
    tool = _tool("desktop-file-validate")
    done = subprocess.run(
        [tool, str(PACKAGING / "retouchdesk.desktop")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout.lower()


def test_metainfo_passes_appstreamcli_validate():
    tool = _tool("appstreamcli")
    (path,) = PACKAGING.glob("*.metainfo.xml")
    # --no-net: the screenshot URLs are not fetched (no network in tests).
    done = subprocess.run([tool, "validate", "--no-net", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    root = ET.parse(path).getroot()
    assert root.find("releases/release") is not None
