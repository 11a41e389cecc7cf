"""Photo information: histogram with clipping, EXIF of the shown version.

The counts are checked against numpy computed independently on real photos and on an image
whose clipping is known by construction; the EXIF panel against a Google Pixel 6 JPEG from
Pillow's test images (tests/data/ultrahdr.jpg) whose tags Pillow reads one by one; a file with
malformed EXIF (exif_gps.jpg) shows blanks, never an error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from retouchdesk.model.photo_info import LUMA_10000, exif_summary, histogram_of, histogram_of_file

DATA = Path(__file__).resolve().parents[1] / "data"


def expected(arr: np.ndarray) -> dict:
    """The same figures computed the plain numpy way."""
    rgb = arr[..., :3].astype(np.int64)
    out = {
        name: np.histogram(rgb[..., i], bins=256, range=(0, 256))[0]
        for i, name in enumerate(("red", "green", "blue"))
    }
    wr, wg, wb = LUMA_10000
    y = (rgb[..., 0] * wr + rgb[..., 1] * wg + rgb[..., 2] * wb + 5000) // 10000
    out["luminance"] = np.histogram(y, bins=256, range=(0, 256))[0]
    out["shadows"] = int(np.count_nonzero(rgb.min(axis=2) == 0))
    out["highlights"] = int(np.count_nonzero(rgb.max(axis=2) == 255))
    return out


@pytest.mark.parametrize("name", ["astronaut.png", "chelsea.png", "coffee.png"])
def test_histogram_counts_match_numpy(name: str):
    with Image.open(DATA / name) as im:
        arr = np.asarray(im.convert("RGB"))
    h = histogram_of_file(DATA / name)
    want = expected(arr)
    for key in ("red", "green", "blue", "luminance"):
        assert np.array_equal(getattr(h, key), want[key]), key
    assert (h.shadows, h.highlights) == (want["shadows"], want["highlights"])
    assert h.pixels == arr.shape[0] * arr.shape[1] == int(h.red.sum()) == int(h.luminance.sum())


def test_clipping_counts_and_mask_on_a_known_image():
    rng = np.random.default_rng(7)
    arr = rng.integers(1, 255, size=(40, 60, 3), dtype=np.uint8)  # nothing clipped
    arr[0, :10, 0] = 0  # 10 shadow pixels (red at 0)
    arr[5, :7, 2] = 255  # 7 highlight pixels (blue at 255)
    arr[9, 3] = (0, 128, 255)  # one pixel clipped both ways
    arr[20:22, 30:33] = 255  # 6 white pixels
    h = histogram_of(arr)
    assert h.shadows == 11 and h.highlights == 14
    assert h.clip_mask is not None
    assert h.clip_mask[0, 3] == 1 and h.clip_mask[5, 3] == 2 and h.clip_mask[9, 3] == 3
    assert int((h.clip_mask > 0).sum()) == 11 + 14 - 1
    assert h.luminance[255] == 6 and h.red[0] == 11


def test_exif_of_a_file_with_known_tags():
    e = exif_summary(DATA / "ultrahdr.jpg")
    assert e.camera == "Google Pixel 6"
    assert e.lens == "Google Pixel 6 back camera 6.81mm f/1.85"
    assert e.exposure == "1/25 s · f/1.85 · ISO 89 · 6.81 mm"
    assert e.date == "2024-05-07 09:33:04 +08:00"
    # 30° 37' 39.54" N, 119° 44' 19.56" E, 98.9 m above sea level
    assert e.latitude == pytest.approx(30 + 37 / 60 + 39.54 / 3600)
    assert e.longitude == pytest.approx(119 + 44 / 60 + 19.56 / 3600)
    assert e.gps == "30.62765° N, 119.73877° E, 98.9 m"


def test_malformed_exif_is_left_blank():
    e = exif_summary(DATA / "exif_gps.jpg")  # GPS 0xFFFFFFFF, date 1999:99:99, etc.
    assert e.gps == "" and e.latitude is None
    assert "4294967295" not in e.exposure
    assert exif_summary(DATA / "chelsea.png").rows() == [
        ("Camera", ""),
        ("Lens", ""),
        ("Exposure", ""),
        ("Date", ""),
        ("GPS", ""),
    ]


def test_info_dock_shows_the_shown_version_and_paints_clipping(qtbot, make_window, tmp_path: Path):
    # ultrahdr.jpg's pixels are cut short (Pillow's truncated-file case): its camera's EXIF
    # block, byte for byte, on a photo that decodes.
    with Image.open(DATA / "ultrahdr.jpg") as src:
        exif = src.info["exif"]
    with Image.open(DATA / "chelsea.png") as im:
        im.convert("RGB").save(tmp_path / "pixel.jpg", quality=92, exif=exif)
    shutil.copyfile(DATA / "astronaut.png", tmp_path / "astronaut.png")
    w = make_window()
    w.open_paths([tmp_path / "pixel.jpg", tmp_path / "astronaut.png"])
    info = w.photo_info
    info.dock.show()
    info.dock.raise_()
    panel = info.panel
    qtbot.waitUntil(lambda: panel.fields["Camera"].text() == "Google Pixel 6", timeout=20_000)
    assert panel.fields["Lens"].text() == "Google Pixel 6 back camera 6.81mm f/1.85"
    assert panel.fields["Date"].text() == "2024-05-07 09:33:04 +08:00"
    assert panel.fields["GPS"].text() == "30.62765° N, 119.73877° E, 98.9 m"
    assert panel.fields["Exposure"].text().startswith("1/25 s")
    # The next photo: its own figures (no EXIF: dashes), counted off the GUI thread.
    w.model.photos.set_current_row(1)
    qtbot.waitUntil(lambda: info.model.path == tmp_path / "astronaut.png", timeout=10_000)
    qtbot.waitUntil(lambda: info.model.histogram is not None, timeout=20_000)
    assert panel.fields["Camera"].text() == "—"
    with Image.open(tmp_path / "astronaut.png") as im:
        want = expected(np.asarray(im.convert("RGB")))
    assert f"Shadows clipped: {want['shadows']:,} px" in panel.clipping.text()
    assert f"Highlights clipped: {want['highlights']:,} px" in panel.clipping.text()
    # J shows the clipped pixels on the canvas (where the photo is black: blue).
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_J)
    assert info.action.isChecked() and panel.overlay_box.isChecked()
    qtbot.waitUntil(lambda: info.overlay is not None and info.overlay.isVisible(), timeout=10_000)
    img = info.overlay.pixmap().toImage()
    assert (img.width(), img.height()) == (512, 512)
    h = info.model.histogram
    ys, xs = np.nonzero(h.clip_mask == 1)
    c = img.pixelColor(int(xs[0]), int(ys[0]))
    assert (c.blue(), c.alpha()) == (255, 255) and c.red() < 100
    ys, xs = np.nonzero(h.clip_mask == 0)
    assert img.pixelColor(int(xs[0]), int(ys[0])).alpha() == 0
    qtbot.keyClick(w.canvas, Qt.Key.Key_J)
    assert not info.overlay.isVisible()


def test_the_info_tab_behind_retouch_counts_nothing_until_it_is_shown(
    qtbot, make_window, tmp_path: Path
):
    """Tabbed behind the Retouch panel (the default layout) the Info panel reads nothing: a
    24 MP photo's histogram and clipping mask would cost memory and time for nobody."""
    shutil.copyfile(DATA / "coffee.png", tmp_path / "coffee.png")
    w = make_window()
    w.open_paths([tmp_path / "coffee.png"])
    info = w.photo_info
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    qtbot.wait(200)
    assert info.dock.visibleRegion().isEmpty()  # behind the Retouch tab
    assert info.model.path is None and info.model.histogram is None
    info.dock.raise_()  # the photographer clicks the Info tab
    qtbot.waitUntil(lambda: info.model.histogram is not None, timeout=10_000)
    with Image.open(tmp_path / "coffee.png") as im:
        want = expected(np.asarray(im.convert("RGB")))
    assert info.model.histogram.shadows == want["shadows"]
