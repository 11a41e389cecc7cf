"""Protect the outside of the mask: outside pixels stay identical, inside shows the result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import composite
from retouchdesk.core.imageio import load_array


@pytest.fixture
def photo(data_dir: Path) -> np.ndarray:
    return load_array(data_dir / "coffee.png")  # 600x400 RGB


def _retouched(img: np.ndarray) -> np.ndarray:
    """A stand-in for a cloud result that changed *every* pixel (blur plus a colour shift)."""
    out = cv2.GaussianBlur(img, (0, 0), 3).astype(np.int16) + 12
    return np.clip(out, 0, 255).astype(np.uint8)


def _ellipse_mask(w: int, h: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 5, h // 4), 0, 0, 360, 255, -1)
    return m


@pytest.mark.parametrize("feather", [0, 6])
@pytest.mark.parametrize("expand", [0, 8, -5])
def test_outside_pixels_are_identical(photo: np.ndarray, feather: int, expand: int) -> None:
    h, w = photo.shape[:2]
    mask = _ellipse_mask(w, h)
    result = _retouched(photo)
    out = composite.protect_outside(photo, result, mask, expand=expand, feather=feather)
    assert out.shape == photo.shape and out.dtype == np.uint8
    grown = cv2.dilate(mask, np.ones((2 * abs(expand) + 3,) * 2, np.uint8)) if expand > 0 else mask
    outside = grown == 0
    assert np.array_equal(out[outside], photo[outside])  # byte-identical outside
    # Deep inside the selection the result shows through unchanged.
    core = cv2.erode(mask, np.ones((2 * (abs(expand) + feather) + 5,) * 2, np.uint8)) > 0
    assert np.array_equal(out[core], result[core])
    stats = composite.change_stats(photo, out, grown)
    assert stats.changed_outside == 0.0 and stats.max_outside == 0
    assert stats.changed_inside > 0.9


def test_feather_blends_inside_the_mask_only(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[:, w // 2 :] = 255  # right half selected
    flat_o = np.full_like(photo, 40)
    flat_r = np.full_like(photo, 240)
    out = composite.protect_outside(flat_o, flat_r, mask, feather=20)
    row = out[h // 2, :, 0].astype(int)
    assert (row[: w // 2] == 40).all()  # outside: untouched, no halo spilling out
    ramp = row[w // 2 : w // 2 + 20]
    assert ramp[0] < 60 and ramp[-1] > 220 and (np.diff(ramp) >= 0).all()
    assert (row[w // 2 + 25 :] == 240).all()


def test_upscaled_result_uses_resampled_original_outside(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    mask = _ellipse_mask(w, h)
    big = cv2.resize(_retouched(photo), (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
    out = composite.protect_outside(photo, big, mask, feather=4)
    assert out.shape == (h * 2, w * 2, 3)
    up_orig = composite.resample_image(photo, w * 2, h * 2)
    up_mask = composite.resample_mask(mask, w * 2, h * 2)
    outside = up_mask == 0
    assert np.array_equal(out[outside], up_orig[outside])
    # and the upscaled original is a faithful enlargement (not a shifted or wrong-size copy)
    back = cv2.resize(up_orig, (w, h), interpolation=cv2.INTER_AREA)
    assert np.abs(back.astype(int) - photo.astype(int)).mean() < 2.0
    inside = cv2.erode(up_mask, np.ones((25, 25), np.uint8)) > 0
    assert np.array_equal(out[inside], big[inside])


def test_alpha_and_grey_inputs(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    mask = _ellipse_mask(w, h)
    rgba = np.dstack([_retouched(photo), np.full((h, w), 128, np.uint8)])  # a cut-out result
    out = composite.protect_outside(photo, rgba, mask)
    assert out.shape == (h, w, 4)
    assert (out[mask == 0][:, 3] == 255).all()  # outside: the opaque original
    assert (out[mask == 255][:, 3] == 128).all()
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    out = composite.protect_outside(grey, grey // 2, mask)
    assert out.shape == (h, w) and np.array_equal(out[mask == 0], grey[mask == 0])


def test_sixteen_bit(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    mask = _ellipse_mask(w, h)
    o16 = photo.astype(np.uint16) * 257
    r16 = _retouched(photo).astype(np.uint16) * 257 + 3
    out = composite.protect_outside(o16, r16, mask, feather=3)
    assert out.dtype == np.uint16
    assert np.array_equal(out[mask == 0], o16[mask == 0])


def test_difference_image_shows_only_what_changed(photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    mask = _ellipse_mask(w, h)
    out = composite.protect_outside(photo, _retouched(photo), mask)
    diff = composite.difference_image(photo, out)
    assert diff.shape == (h, w, 3) and diff.dtype == np.uint8
    unchanged = diff[mask == 0].astype(int)
    changed = diff[mask == 255].astype(int)
    # unchanged: grey (r == g == b) and dim; changed: coloured (red high, strongly saturated)
    assert (np.abs(unchanged[:, 0] - unchanged[:, 1]) <= 1).all()
    assert unchanged.max() <= 86
    assert changed[:, 0].mean() > 160
    assert (changed.max(axis=1) - changed.min(axis=1)).mean() > 100


def test_protect_file_round_trip(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "chelsea.png"
    orig = load_array(src)
    h, w = orig.shape[:2]
    result_path = tmp_path / "result.png"
    Image.fromarray(_retouched(orig)).save(result_path)
    mask = _ellipse_mask(w, h)
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    out = composite.protect_file(src, result_path, mask_path, tmp_path / "out.png", feather=3)
    got = load_array(out)
    assert np.array_equal(got[mask == 0], orig[mask == 0])
    with pytest.raises(Exception, match="mask is 10x10"):
        Image.fromarray(np.zeros((10, 10), np.uint8)).save(mask_path)
        composite.protect_file(src, result_path, mask_path, tmp_path / "out2.png")
