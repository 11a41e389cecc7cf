"""JPEGs decoded by Qt straight into the canvas's buffer show what Pillow + ImageCms showed.

``model.display`` reads plain RGB/grey JPEGs with ``QImageReader`` (one full-size buffer
instead of Pillow's plus the QImage made from it) and converts the colour profile in place.
Checked against the Pillow path on the same files: the pixels after colour management, the
histogram the Info panel shows (counted before colour management, as from Pillow's decode),
orientation, and that CMYK JPEGs still go through Pillow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.photos import prophoto_icc

from retouchdesk.model.display import load_display, to_display
from retouchdesk.model.photo_info import histogram_of_file, histogram_of_qimage

DATA = Path(__file__).resolve().parents[1] / "data"


def _rgb(q) -> np.ndarray:
    from PySide6.QtGui import QImage

    q = q.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    return arr[:, : q.width() * 3].reshape(q.height(), q.width(), 3).copy()


def _close_counts(a: np.ndarray, b: np.ndarray, pixels: int, share: float) -> bool:
    """Two 256-bin histograms differ by at most ``share`` of the pixels (decoder rounding)."""
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).sum()) <= share * 2 * pixels


def test_a_tagged_jpeg_is_colour_managed_like_imagecms(tmp_path: Path) -> None:
    src = Image.open(DATA / "chelsea.png").convert("RGB")
    path = tmp_path / "prophoto.jpg"
    src.save(path, quality=95, icc_profile=prophoto_icc())
    shown = load_display(path)
    assert shown.meta["format"] == "JPEG" and not shown.decoded_pixels
    assert "ProPhoto" in shown.icc_name
    with Image.open(path) as im:
        decoded = im.convert("RGB")
        expected = np.asarray(to_display(decoded, im.info["icc_profile"]), dtype=int)
    got = _rgb(shown.full).astype(int)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 3.0  # Qt's and LittleCMS's transforms agree
    # The colours really changed (ProPhoto primaries are wider than sRGB's).
    assert np.abs(got - np.asarray(decoded, dtype=int)).mean() > 5.0
    # The Info panel's histogram is of the decoded pixels, before colour management.
    ref = histogram_of_file(path)
    h = shown.histogram
    assert h is not None and h.pixels == ref.pixels
    for a, b in ((h.red, ref.red), (h.green, ref.green), (h.blue, ref.blue)):
        assert _close_counts(a, b, h.pixels, 0.05)


def test_an_untagged_jpeg_is_shown_as_decoded_and_counted_from_the_canvas(tmp_path: Path):
    src = Image.open(DATA / "coffee.png").convert("RGB")
    path = tmp_path / "plain.jpg"
    src.save(path, quality=92)
    shown = load_display(path)
    assert shown.decoded_pixels and shown.histogram is None
    with Image.open(path) as im:
        pil = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(_rgb(shown.full).astype(int) - pil).mean() < 1.5  # same JPEG, two decoders
    ref = histogram_of_file(path)
    h = histogram_of_qimage(shown.full)
    assert h.pixels == ref.pixels
    assert _close_counts(h.luminance, ref.luminance, h.pixels, 0.05)
    assert abs(h.shadows - ref.shadows) <= 0.01 * h.pixels
    # The clipping mask is kept packed and unpacks to the pixels' positions.
    mask = h.clip_mask
    assert mask is not None and mask.shape == (400, 600)
    rgb = _rgb(shown.full)
    assert np.array_equal(mask & 1, (rgb.min(axis=2) == 0).astype(np.uint8))


def test_orientation_and_levels_of_a_big_jpeg(tmp_path: Path) -> None:
    w, h = 4400, 3000  # 13 MP, stored sideways
    arr = np.zeros((w, h, 3), np.uint8)  # stored rotated: h wide, w high
    arr[: w // 2] = (220, 30, 30)
    arr[w // 2 :] = (30, 30, 220)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big_sideways.jpg"
    Image.fromarray(arr).save(path, quality=85, exif=exif)
    shown = load_display(path)
    assert (shown.width, shown.height) == (w, h)
    rgb = _rgb(shown.levels[-1])
    # Orientation 6: the stored top (red) is on the right once upright.
    assert rgb[:, -5, 0].mean() > 180 and rgb[:, 5, 2].mean() > 180
    # No half-size level above 12 MP: full, then a quarter, then halvings.
    assert shown.levels[1].width() == w // 4
    pairs = zip(shown.levels[1:], shown.levels[2:], strict=False)
    assert all(b.width() == a.width() // 2 for a, b in pairs)


def test_a_cmyk_jpeg_still_goes_through_pillow(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path, quality=95)
    shown = load_display(path)
    assert not shown.decoded_pixels and shown.histogram is None
    red = _rgb(shown.full)[10, 10]
    assert red[0] > 200 and red[1] < 80 and red[2] < 80  # ink converted by ImageCms


def test_an_upright_rgb_jpeg_is_held_in_three_bytes_a_pixel(tmp_path: Path) -> None:
    """The canvas keeps a plain RGB JPEG as RGB888 (72 MB for 24 MP, not RGB32's 96 MB),
    decoded by libjpeg-turbo into the QImage's own buffer: the same pixels as Qt's reader
    gives, the embedded profile kept, the reduced levels in the painter's RGB32."""
    from PySide6.QtGui import QImage, QImageReader

    src = Image.open(DATA / "chelsea.png").convert("RGB").resize((1600, 1100))
    path = tmp_path / "tagged.jpg"
    src.save(path, quality=90, icc_profile=prophoto_icc())
    shown = load_display(path)
    full = shown.full
    assert full.format() == QImage.Format.Format_RGB888
    assert full.bytesPerLine() == 1600 * 3 and full.sizeInBytes() == 1600 * 1100 * 3
    assert all(q.format() == QImage.Format.Format_RGB32 for q in shown.levels[1:])
    assert len(shown.levels) > 1
    assert "ProPhoto" in shown.icc_name and shown.histogram is not None
    qt = QImageReader(str(path)).read()
    qt.convertToColorSpace(full.colorSpace())  # the same transform as the display's
    diff = np.abs(_rgb(full).astype(int) - _rgb(qt).astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 8  # libjpeg-turbo either way; CMS rounding


def test_rows_that_would_be_padded_and_rotated_photos_take_qts_reader(tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    odd = tmp_path / "odd.jpg"  # 601 * 3 bytes is not a multiple of 4
    Image.new("RGB", (601, 400), (10, 200, 30)).save(odd, quality=95)
    shown = load_display(odd)
    assert shown.full.format() == QImage.Format.Format_RGB32 and shown.width == 601
    assert tuple(_rgb(shown.full)[200, 300]) == pytest.approx((10, 200, 30), abs=4)
    turned = tmp_path / "turned.jpg"
    stored = np.zeros((400, 600, 3), np.uint8)
    stored[:200] = (220, 30, 30)  # red on top as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(turned, quality=95, exif=exif)
    shown = load_display(turned)
    assert shown.full.format() == QImage.Format.Format_RGB32
    assert (shown.width, shown.height) == (400, 600)
    assert _rgb(shown.full)[300, -5, 0] > 180  # upright: the stored top is on the right
