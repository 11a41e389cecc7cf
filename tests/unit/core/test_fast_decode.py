"""Photos and masks decoded outside Pillow where that gives Pillow's very pixels, faster.

A colour JPEG (any chroma subsampling, baseline or progressive, any EXIF orientation) decoded
by libjpeg-turbo through imagecodecs, and an 8-bit greyscale PNG mask decoded by OpenCV, give
the same samples as Pillow (the same libraries with the same settings), straight into one
array. Files that are anything else, or damaged, still go through Pillow, which says what is
wrong.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import imageio
from retouchdesk.core import mask as masks
from retouchdesk.core.errors import InputError


def _photo() -> np.ndarray:
    rng = np.random.default_rng(7)
    base = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (203, 151))
    noise = rng.normal(0, 12, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _pillow_pixels(path: Path) -> np.ndarray:
    return imageio.to_array(imageio.load_image(path).image)


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 92},
        {"quality": 95, "subsampling": 0},
        {"quality": 80, "subsampling": 1},
        {"quality": 90, "progressive": True},
    ],
)
@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_a_colour_jpeg_decodes_to_pillows_pixels_without_pillows_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict, orientation: int
):
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_photo()).save(path, exif=exif.tobytes(), **options)
    expected = _pillow_pixels(path)

    def no_pillow(_path):
        raise AssertionError("decoded by Pillow")

    monkeypatch.setattr(imageio, "load_image", no_pillow)
    got = imageio.load_pixels(path)
    assert got.array.flags["C_CONTIGUOUS"] and got.array.dtype == np.uint8
    assert np.array_equal(got.array, expected)
    assert got.meta.orientation == orientation and not got.notes


def test_a_cut_or_grey_jpeg_still_goes_through_pillow(tmp_path: Path):
    cut = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, format="JPEG", quality=90)
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match="truncated") as err:
        imageio.load_pixels(cut)
    assert "cut.jpg" in str(err.value)
    grey = tmp_path / "grey.jpg"
    Image.fromarray(_photo()[:, :, 1]).save(grey, quality=90)
    arr = imageio.load_pixels(grey).array
    assert arr.shape == (151, 203, 3) and np.array_equal(arr, _pillow_pixels(grey))


def test_a_grey_png_mask_is_read_by_opencv_with_the_same_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    sel = np.zeros((90, 120), np.uint8)
    cv2.ellipse(sel, (60, 45), (40, 25), 0, 0, 360, 255, -1)
    sel = cv2.GaussianBlur(sel, (0, 0), 3)
    path = masks.save_mask(sel, tmp_path / "mask.png")

    def no_pillow(_path):
        raise AssertionError("decoded by Pillow")

    with monkeypatch.context() as m:
        m.setattr(masks, "open_image", no_pillow)
        got = masks.load_mask(path, (120, 90))
        with pytest.raises(InputError, match="120x90 but the photo is 60x45"):
            masks.load_mask(path, (60, 45))
    assert np.array_equal(got, sel)


def test_masks_that_are_not_plain_grey_pngs_are_read_by_pillow(tmp_path: Path):
    sel = np.zeros((40, 50), np.uint8)
    sel[10:30, 5:25] = 200
    keyed = tmp_path / "keyed.png"
    Image.fromarray(sel, "L").save(keyed, transparency=0)  # tRNS: 0 means not selected
    colour = tmp_path / "colour.png"
    Image.fromarray(np.dstack([sel, sel, sel]), "RGB").save(colour)
    for path in (keyed, colour):
        assert np.array_equal(masks.load_mask(path, (50, 40)), sel), path.name
    cut = tmp_path / "cut.png"
    data = masks.save_mask(sel, tmp_path / "whole.png").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.png"):
        masks.load_mask(cut, (50, 40))


PILLOW_IMAGES = Path(__file__).resolve().parents[2] / "data" / "pillow-images"


def test_pillows_own_jpegs_decode_to_pillows_pixels_and_quietly(
    capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Pillow's test corpus (odd markers, extraneous bytes, big profiles, MPO, progressive):
    every whole colour JPEG gives Pillow's pixels, upright, and libjpeg's warnings about odd
    but readable files never reach the terminal."""
    direct: list[str] = []
    real = imageio._jpeg_pixels

    def counted(path: Path) -> np.ndarray | None:
        arr = real(path)
        if arr is not None:
            direct.append(path.name)
        return arr

    monkeypatch.setattr(imageio, "_jpeg_pixels", counted)
    checked = 0
    for path in sorted(PILLOW_IMAGES.glob("*.jp*g")):
        try:
            expected = imageio.to_array(imageio.load_image(path).image)
            with Image.open(path) as im:
                plain = im.mode == "RGB" and getattr(im, "n_frames", 1) == 1
        except (InputError, OSError):
            continue  # damaged on purpose: Pillow's sentence is tested elsewhere
        if not plain:
            continue
        capfd.readouterr()
        got = imageio.load_pixels(path).array
        assert np.array_equal(got, expected), path.name
        assert capfd.readouterr().err == "", path.name
        checked += 1
    assert checked >= 30
    assert len(direct) >= 30  # decoded by libjpeg directly, not handed back to Pillow
