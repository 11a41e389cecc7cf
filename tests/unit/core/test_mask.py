"""Masks: loading from any kind of file, size checks, growing, shrinking and feathering."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import mask as masks
from retouchdesk.core.errors import InputError


def _square(w: int = 120, h: int = 100) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[40:60, 50:70] = 255
    return m


def test_load_grey_mask_and_wrong_size_names_both_sizes(tmp_path: Path):
    p = masks.save_mask(_square(), tmp_path / "m.png")
    m = masks.load_mask(p, (120, 100))
    assert m.dtype == np.uint8 and m.shape == (100, 120) and np.array_equal(m, _square())
    with pytest.raises(InputError) as err:
        masks.load_mask(p, (240, 200))
    text = str(err.value)
    assert "m.png" in text and "120x100" in text and "240x200" in text
    big = masks.load_mask(p, (240, 200), resize=True)
    assert big.shape == (200, 240) and big[100, 120] == 255 and big[10, 10] == 0


def test_painter_layer_uses_alpha_and_colour_masks_use_luminance(tmp_path: Path):
    layer = np.zeros((50, 60, 4), np.uint8)
    layer[..., :3] = (255, 0, 0)  # a red brush...
    layer[10:20, 10:30, 3] = 255  # ...painted here only
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    m = masks.load_mask(tmp_path / "layer.png", (60, 50))
    assert m[15, 20] == 255 and m[40, 40] == 0 and np.count_nonzero(m) == 200
    rgb = np.zeros((50, 60, 3), np.uint8)
    rgb[5:10, 5:10] = 255
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.count_nonzero(masks.load_mask(tmp_path / "rgb.png", (60, 50))) == 25


def test_sixteen_bit_and_rotated_masks(tmp_path: Path):
    m16 = np.zeros((30, 40), np.uint16)
    m16[:, :20] = 65535
    cv2.imwrite(str(tmp_path / "m16.png"), m16)
    m = masks.load_mask(tmp_path / "m16.png", (40, 30))
    assert m[0, 0] == 255 and m[0, 39] == 0
    # A phone-made mask stored 40x30 with orientation 6 is 30x40 upright, like its photo.
    ex = Image.Exif()
    ex[0x0112] = 6
    Image.fromarray(m16 >> 8 << 0).convert("L").save(tmp_path / "rot.jpg", exif=ex.tobytes())
    assert masks.load_mask(tmp_path / "rot.jpg", (30, 40)).shape == (40, 30)


def test_not_an_image_mask_is_refused(tmp_path: Path):
    bad = tmp_path / "mask.png"
    bad.write_text("nope")
    with pytest.raises(InputError, match=r"mask\.png"):
        masks.load_mask(bad, (10, 10))


def test_expand_and_shrink():
    m = _square()
    grown = masks.expand(m, 3)
    shrunk = masks.expand(m, -3)
    assert np.count_nonzero(grown) > np.count_nonzero(m) > np.count_nonzero(shrunk) > 0
    assert np.all(grown[m > 0] == 255)  # growing never loses the selection
    assert np.all(m[shrunk > 0] == 255)  # shrinking never adds to it
    assert grown[40, 47] == 255 and grown[40, 45] == 0  # 3 px, not more
    assert np.array_equal(masks.expand(m, 0), m)


def test_feather_inward_is_zero_outside_and_full_in_the_middle():
    m = _square()
    a = masks.feather(m, 5, inward=True)
    assert a.dtype == np.float32
    assert a[m == 0].max() == 0.0
    assert a[50, 60] == pytest.approx(1.0)
    assert 0.0 < a[40, 60] < 0.5  # the edge is soft
    soft = masks.feather(m, 4)
    assert soft[38, 60] > 0.0 and soft[50, 60] == pytest.approx(1.0, abs=1e-3)


def test_components_binary_coverage_empty():
    m = _square()
    m[5:8, 5:9] = 200
    assert masks.components(m) == [(50, 40, 20, 20), (5, 5, 4, 3)]
    assert set(np.unique(masks.binary(m))) == {0, 255}
    assert masks.coverage(m) == pytest.approx((400 + 12) / (120 * 100))
    assert masks.is_empty(np.zeros((3, 3), np.uint8)) and not masks.is_empty(m)
