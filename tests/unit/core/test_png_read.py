"""An 8-bit PNG result is read by libpng (imagecodecs), exactly as Pillow reads it.

Vendors return 8-bit truecolour PNGs, and results are read in worker threads of the window's
process. Pillow's PNG decoder holds the GIL for up to 35 ms at a time on a 12 MP photo, which
stalled the window during a batch; imagecodecs releases it for the whole decode. Every other
kind of PNG (palette, grey, colour key, interlaced, animated, damaged) still goes through
Pillow, so the pixels and the sentences about a bad file stay what they were.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data"
PNGS = sorted(p for p in DATA.rglob("*.png") if p.is_file())


def pillow_pixels(path: Path) -> np.ndarray:
    """What the app read before: Pillow's decode, upright, 8-bit RGB(A)."""
    return imageio.to_array(imageio.load_image(path).image)


@pytest.mark.parametrize("path", PNGS, ids=lambda p: p.name)
def test_every_png_reads_as_pillow_reads_it(path: Path) -> None:
    try:
        want = pillow_pixels(path)
    except InputError:
        with pytest.raises(InputError):
            imageio.load_pixels(path)
        return
    got = imageio.load_pixels(path)
    if got.array.dtype == np.uint16:  # 16-bit files keep their precision (not this change)
        return
    assert got.array.shape == want.shape
    assert np.array_equal(got.array, want)


def test_a_vendor_png_is_decoded_without_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    path = tmp_path / "result.png"
    Image.fromarray(pixels).save(path)

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("Pillow decoded the pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    got = imageio.load_pixels(path)
    assert got.meta.format == "png"
    assert np.array_equal(got.array, pixels)


def test_an_rgba_result_keeps_its_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    pixels = rng.integers(0, 256, (120, 160, 4), dtype=np.uint8)
    path = tmp_path / "cutout.png"
    Image.fromarray(pixels, "RGBA").save(path)
    assert np.array_equal(imageio.load_pixels(path).array, pixels)


def test_a_truncated_png_is_the_same_sentence_as_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:-400])
    with pytest.raises(InputError) as before:
        pillow_pixels(path)
    with pytest.raises(InputError) as now:
        imageio.load_pixels(path)
    assert str(now.value) == str(before.value)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pixels_copied_in_strips_are_the_image(mode: str) -> None:
    """``pixels_of`` copies in strips of about 1 MB (the GIL is held per strip, not for the
    whole image): a size whose rows do not divide into strips evenly still comes out whole."""
    bands = len(mode)
    rng = np.random.default_rng(8)
    shape = (1031, 2053) if bands == 1 else (1031, 2053, bands)
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    im = Image.fromarray(arr, mode)
    got = imageio.pixels_of(im)
    assert got.flags.c_contiguous and np.array_equal(got, np.array(im))
