"""Object removal: the hole is filled plausibly, nothing outside the expanded mask changes."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from retouchdesk.core import mask as masks
from retouchdesk.providers.local import inpaint, run_array
from retouchdesk.providers.local.common import OpContext, blend
from retouchdesk.providers.local.metrics import psnr, texture_kept
from retouchdesk.providers.local.runner import operation_schema


def _blob_mask(shape: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for x, y, w, h in boxes:
        cv2.ellipse(m, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    return m


@pytest.mark.parametrize("method", inpaint.METHODS)
def test_fill_is_plausible_and_outside_is_identical(coffee: np.ndarray, method: str):
    sel = _blob_mask(coffee.shape[:2], [(40, 30, 30, 24), (480, 300, 40, 30)])
    params = {"mask_array": sel, "method": method, "mask_expand": 4, "mask_feather": 2}
    ctx = OpContext()
    out = run_array("object_removal", coffee, params, ctx)
    grown = masks.expand(sel, 4)
    assert np.array_equal(out[grown == 0], coffee[grown == 0])  # bit-identical outside
    assert ctx.meta["method"] == method
    # Filled from the surroundings: far closer to the truth than a flat grey patch would be.
    grey = coffee.copy()
    grey[grown > 0] = 128
    assert psnr(coffee, out, grown) > psnr(coffee, grey, grown) + 6


def test_large_hole_is_filled_on_a_reduced_copy_quickly(astronaut: np.ndarray):
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    sel = _blob_mask(big.shape[:2], [(300, 300, 600, 500)])  # ~6% of the image
    t = time.perf_counter()
    out = inpaint.fill_holes(big, sel, "fsr")
    assert time.perf_counter() - t < 6.0
    assert np.array_equal(out[sel == 0], big[sel == 0])
    inner = masks.expand(sel, -20)
    assert out[inner > 0].std() > 2.0  # not a flat colour


def test_empty_mask_is_a_noop_with_a_warning(chelsea: np.ndarray):
    ctx = OpContext()
    out = run_array("object_removal", chelsea, {"mask_array": np.zeros((300, 451), np.uint8)}, ctx)
    assert np.array_equal(out, chelsea)
    assert ctx.meta.get("noop") and "empty" in ctx.warnings[0]


def test_alpha_channel_is_kept(chelsea: np.ndarray):
    rgba = np.dstack([chelsea, np.full((300, 451), 90, np.uint8)])
    sel = _blob_mask((300, 451), [(100, 100, 40, 40)])
    out = run_array("object_removal", rgba, {"mask_array": sel, "method": "telea"}, OpContext())
    assert out.shape == (300, 451, 4) and np.all(out[..., 3] == 90)


def test_crops_cover_each_hole_with_context():
    sel = _blob_mask((400, 600), [(10, 10, 20, 20), (500, 300, 40, 40)])
    boxes = inpaint._boxes(sel, 600, 400)
    assert len(boxes) == 2
    for x0, y0, x1, y1 in boxes:
        assert x1 - x0 >= 40 and y1 - y0 >= 40


def test_texture_measure_scores_a_smear_near_zero_and_the_truth_one(chelsea: np.ndarray):
    sel = _blob_mask(chelsea.shape[:2], [(150, 180, 70, 60)])  # fur under the cat's chin
    smear = chelsea.copy()
    smear[sel > 0] = cv2.GaussianBlur(chelsea, (0, 0), 8)[sel > 0]
    assert texture_kept(chelsea, chelsea, sel) == pytest.approx(1.0, abs=1e-6)
    assert texture_kept(smear, chelsea, sel) < 0.1


def test_default_fill_keeps_texture_that_diffusion_smears(chelsea: np.ndarray):
    """The default method copies fur into a hole in fur; Telea and FSR leave a smooth patch."""
    sel = _blob_mask(chelsea.shape[:2], [(150, 180, 70, 60)])
    scores = {
        m: texture_kept(inpaint.fill_holes(chelsea, sel, m), chelsea, sel)
        for m in ("telea", "fsr", "texture")
    }
    assert operation_schema("object_removal").param("method").default == "texture"
    assert scores["texture"] >= 0.5, scores
    assert scores["texture"] > 2 * max(scores["telea"], scores["fsr"]), scores


def test_texture_fill_is_reproducible(coffee: np.ndarray):
    sel = _blob_mask(coffee.shape[:2], [(60, 250, 50, 40)])
    a = inpaint.fill_holes(coffee, sel, "texture")
    b = inpaint.fill_holes(coffee, sel, "texture")
    assert np.array_equal(a, b)


def test_without_the_patchmatch_library_the_fill_falls_back_with_a_sentence(
    coffee: np.ndarray, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(inpaint, "_patchmatch", lambda: None)
    sel = _blob_mask(coffee.shape[:2], [(60, 250, 50, 40)])
    ctx = OpContext()
    out = run_array("object_removal", coffee, {"mask_array": sel, "method": "texture"}, ctx)
    assert ctx.meta["method"] == "fsr"
    assert any("pypatchmatch" in w for w in ctx.warnings)
    assert not np.array_equal(out, coffee)


def test_local_expansion_equals_expanding_the_whole_frame():
    sel = _blob_mask((2400, 3000), [(10, 10, 300, 200), (2600, 2100, 390, 290), (1400, 900, 7, 5)])
    sel[1200, 2990:] = 255  # a thin line at the edge
    assert np.array_equal(inpaint._expand_near(sel, 6), masks.expand(sel, 6))
    assert np.array_equal(inpaint._expand_near(sel, 25), masks.expand(sel, 25))


def _overlapping_masks(shape: tuple[int, int]) -> list[np.ndarray]:
    """Holes near each other (overlapping crops), at the edges, soft, and scattered dots."""
    h, w = shape
    near = _blob_mask(shape, [(150, 100, 120, 80), (250, 150, 60, 60), (0, 0, 40, 40)])
    cv2.circle(near, (w - 3, h - 10), 25, 255, -1)
    soft = np.zeros(shape, np.uint8)
    soft[100:300, 50:400] = 255
    soft[120:140, 60:200] = 0
    soft = cv2.GaussianBlur(soft, (0, 0), 4)
    dots = (np.random.default_rng(5).random(shape) > 0.997).astype(np.uint8) * 255
    return [near, soft, cv2.dilate(dots, np.ones((9, 9), np.uint8))]


@pytest.mark.parametrize(
    ("method", "expand", "feather"),
    [("telea", 0, 0), ("telea", 4, 2.5), ("ns", 7, 12), ("texture", 4, 2.5), ("texture", 0, 0)],
)
def test_compositing_in_the_holes_rectangle_equals_compositing_the_whole_crop(
    coffee: np.ndarray, monkeypatch: pytest.MonkeyPatch, method: str, expand: int, feather: float
):
    # The feathered blend (and the texture method's mix of structure and detail) is computed
    # around each hole, its rectangle and the reach of the feather and the blurs, not over the
    # whole crop with its context; the pixels are the same to the bit.
    params = {"method": method, "mask_expand": expand, "mask_feather": feather}
    cases = _overlapping_masks(coffee.shape[:2])
    for sel in cases[:1] if method == "texture" else cases:  # PatchMatch takes its time
        fast = run_array("object_removal", coffee, {**params, "mask_array": sel})
        with monkeypatch.context() as m:
            m.setattr(
                inpaint, "_around", lambda sel, margin: np.s_[0 : sel.shape[0], 0 : sel.shape[1]]
            )
            whole = run_array("object_removal", coffee, {**params, "mask_array": sel})
        assert np.array_equal(fast, whole)


def _sizes_seen(monkeypatch: pytest.MonkeyPatch, module, name: str) -> list[tuple[int, ...]]:
    """The (height, width) of the first array each call of ``module.name`` gets, from now."""
    sizes: list[tuple[int, ...]] = []
    real = getattr(module, name)

    def recording(first, *args, **kwargs):
        sizes.append(first.shape[:2])
        return real(first, *args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return sizes


def _removal_sizes(
    photo: np.ndarray, size: tuple[int, int], hole: tuple[int, int, int, int], params: dict
) -> None:
    big = cv2.resize(photo, size)
    run_array("object_removal", big, {**params, "mask_array": _blob_mask(big.shape[:2], [hole])})


def test_the_feather_is_computed_around_the_hole_not_over_its_context(
    astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
):
    sizes = _sizes_seen(monkeypatch, masks, "feather")
    params = {"method": "telea", "mask_expand": 4, "mask_feather": 3}
    _removal_sizes(astronaut, (2000, 1500), (800, 600, 200, 150), params)
    reach = 4 + 3 + 2 + 1  # expansion, feather, the distance's reach, rounding
    assert sizes and all(h <= 150 + 2 * reach and w <= 200 + 2 * reach for h, w in sizes), sizes


def test_blend_mixes_only_where_alpha_is_set_exactly_as_pixel_by_pixel():
    rng = np.random.default_rng(3)
    for shape, alpha_shape in (
        ((60, 80, 3), (60, 80)),
        ((60, 80, 3), (60, 80, 3)),
        ((60, 80), (60, 80)),
    ):
        src = rng.integers(0, 256, shape, dtype=np.uint8)
        res = rng.integers(0, 256, shape, dtype=np.uint8)
        a = rng.random(alpha_shape).astype(np.float32)
        a[a < 0.6] = 0
        a[:10] = 0
        a[:, :15] = 0
        sel = a > 0 if a.ndim == 2 else np.any(a > 0, axis=2)
        one = a[sel][:, None] if a.ndim == 2 and src.ndim == 3 else a[sel]
        expected = src.copy()
        mixed = src[sel].astype(np.float32) * (1.0 - one) + res[sel].astype(np.float32) * one
        expected[sel] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        assert np.array_equal(blend(src, res, a), expected)
        assert np.array_equal(blend(src, res, np.zeros(alpha_shape, np.float32)), src)


def test_the_texture_mix_is_computed_around_the_hole_not_over_its_context(
    astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
):
    sizes = _sizes_seen(monkeypatch, inpaint, "_combine")
    params = {"method": "texture", "mask_expand": 0, "mask_feather": 0}
    _removal_sizes(astronaut, (1200, 900), (500, 400, 120, 90), params)
    reach = inpaint._COMBINE_REACH + 1
    assert sizes and all(h <= 90 + 2 * reach and w <= 120 + 2 * reach for h, w in sizes), sizes
