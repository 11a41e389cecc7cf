"""The desktop integration files: the .desktop entry and the AppStream metainfo are valid and
point at screenshots and an icon that exist."""

from __future__ import annotations

import configparser
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def test_desktop_entry_launches_the_window_with_files():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # keys are case-sensitive
    cp.read(PACKAGING / "retouchdesk.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[:2] == ["retouchdesk", "--open"]
    assert "image/jpeg" in entry["MimeType"]
    assert (ROOT / "resources" / "icons" / f"{entry['Icon']}.svg").is_file()
    # `retouchdesk --open` with no files (an empty %F) must still open the window.
    from retouchdesk.app import _parse

    assert _parse(["--open"]).open == []
    assert _parse(["--open", "a.jpg", "b.png"]).open == [Path("a.jpg"), Path("b.png")]


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
