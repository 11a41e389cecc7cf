"""Object removal: fill the selected area from its surroundings.

Methods: OpenCV's Telea (fast marching) and Navier-Stokes inpainting, the xphoto Frequency
Selective Reconstruction (FSR, best hole PSNR, slow) - all three diffuse colour and leave a
smear - then PatchMatch (exemplar-based: copies real patches from around the hole, through the
``pypatchmatch`` wheel's prebuilt library) and ``texture``, the default: FSR's low frequencies
(structure, tone) plus PatchMatch's high frequencies (texture). Work is done on crops around each
connected part of the mask, with enough surrounding context, never on the whole photo, so a
small hole in a 24-megapixel photo costs what the hole costs. A huge hole is filled on a
reduced copy of its crop (a hole has no detail to lose) and scaled back; the result is composited
through the expanded, inward-feathered mask, so every pixel outside it is the source's own.
"""

from __future__ import annotations

import math
import time
from typing import Any

import cv2
import numpy as np

from retouchdesk.core import mask as masks
from retouchdesk.providers.local.common import OpContext, blend

METHODS = ("telea", "ns", "fsr", "patchmatch", "texture")  # the benchmark order

#: Missing pixels each method may fill per operation at full resolution. Their cost grows with
#: the hole, not the crop (measured on this 2-core CPU: FSR ~200 us per hole pixel, Telea
#: ~4.5 us, Navier-Stokes ~3 us). Beyond the budget the biggest holes are filled at reduced
#: resolution first (a big hole has no detail to lose) while small ones keep theirs, so a 5%
#: hole in a 24 MP photo stays within about a second and a half whatever the method.
_BUDGET = {"telea": 300_000, "ns": 400_000, "fsr": 6_000, "patchmatch": 40_000, "texture": 40_000}
_PATCH_RADIUS = 3  # PatchMatch compares 7x7 patches: fine texture, ~35 us per hole pixel
_STRUCTURE_SIGMA = 3.0  # px: below this scale detail comes from exemplars, above from diffusion
_SEED = 20260
_FSR_MIN_SCALE = 0.25  # below this resolution a box is filled by Telea instead (see _fill_all)
_MIN_MARGIN = 48  # px of context around a hole at least: FSR works in blocks and needs them
_CONTEXT = 1.0  # context margin around a hole, as a fraction of its size


def fsr_available() -> bool:
    return hasattr(cv2, "xphoto") and hasattr(cv2.xphoto, "inpaint")


def _patchmatch() -> Any:
    """The ``pypatchmatch`` module when its prebuilt native library loads, else None."""
    try:
        from patchmatch import patch_match
    except ImportError:
        return None
    if not patch_match.patchmatch_available:
        return None
    patch_match.set_random_seed(_SEED)  # the same photo and mask give the same fill
    return patch_match


def patchmatch_available() -> bool:
    return _patchmatch() is not None


def _exemplar(crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """PatchMatch (Barnes et al. 2009): the hole rebuilt from patches copied from the crop."""
    pm = _patchmatch()
    return pm.inpaint(crop, hole, patch_size=_PATCH_RADIUS)


def _combine(structure: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """The low frequencies of ``structure`` plus the high frequencies of ``texture``.

    FSR gives the best hole PSNR of the reconstruction methods (tone and edges continued from
    the rim) but leaves a smear; PatchMatch copies real texture but may pick a patch of the
    wrong tone. Together (the ``texture`` method, the default) they keep most of both:
    tests/bench/local_quality.py chose the method and the split scale.
    """
    s = _STRUCTURE_SIGMA
    low = cv2.GaussianBlur(structure.astype(np.float32), (0, 0), s)
    tex = texture.astype(np.float32)
    detail = tex - cv2.GaussianBlur(tex, (0, 0), s)
    return np.clip(np.rint(low + detail), 0, 255).astype(np.uint8)


#: Pixels each side that the blurs of :func:`_combine` read (OpenCV's kernel for a float
#: image reaches 4 sigma), plus one.
_COMBINE_REACH = math.ceil(4 * _STRUCTURE_SIGMA) + 1


def _combine_within(structure: np.ndarray, texture: np.ndarray, sy: slice, sx: slice) -> np.ndarray:
    """:func:`_combine` of the rows ``sy`` and columns ``sx`` of two crops.

    Only the hole's rectangle is kept, so only it and the blurs' reach around it are
    computed: the same pixels there as blurring the whole crop (its context is often three
    times the hole) at a third of the cost.
    """
    h, w = structure.shape[:2]
    r = _COMBINE_REACH
    by = slice(max(0, sy.start - r), min(h, sy.stop + r))
    bx = slice(max(0, sx.start - r), min(w, sx.stop + r))
    both = _combine(structure[by, bx], texture[by, bx])
    return both[sy.start - by.start : sy.stop - by.start, sx.start - bx.start : sx.stop - bx.start]


def _fill(crop: np.ndarray, hole: np.ndarray, method: str, radius: int) -> np.ndarray:
    """Fill ``hole`` (uint8, 255 = missing) in a BGR/RGB crop with one method."""
    if method == "patchmatch":
        return _exemplar(crop, hole)
    if method == "fsr":
        # FSR works on 32 px blocks and fails badly (5 dB) on crops whose size is not a
        # multiple of them or whose hole touches the edge: mirror the crop outward to a
        # multiple of 32 with a 32 px band all round. 255 = known pixels. The documentation
        # suggests Lab; RGB scored better on the benchmark photos, so pixels go in as they are.
        h, w = crop.shape[:2]
        pad, ph, pw = 32, (-(h + 64)) % 32, (-(w + 64)) % 32
        border = cv2.BORDER_REFLECT_101 if min(h, w) > pad + 1 else cv2.BORDER_REPLICATE
        big = cv2.copyMakeBorder(crop, pad, pad + ph, pad, pad + pw, border)
        big_hole = cv2.copyMakeBorder(hole, pad, pad + ph, pad, pad + pw, border)
        dst = np.zeros_like(big)
        valid = np.where(big_hole > 0, 0, 255).astype(np.uint8)
        cv2.xphoto.inpaint(big, valid, dst, cv2.xphoto.INPAINT_FSR_FAST)
        return np.ascontiguousarray(dst[pad : pad + h, pad : pad + w])
    flag = cv2.INPAINT_NS if method == "ns" else cv2.INPAINT_TELEA
    return cv2.inpaint(crop, hole, radius, flag)


def _span(a: int, b: int, limit: int) -> tuple[int, int]:
    """[a, b) kept inside [0, limit) at the same length when possible: a hole at the photo's
    edge gets its missing context from the other side (FSR fails on thin crops)."""
    if a < 0:
        a, b = 0, b - a
    if b > limit:
        a, b = a - (b - limit), limit
    return max(0, a), min(limit, b)


def _boxes(hole: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Crop boxes (x0, y0, x1, y1) around each hole with context, largest hole first.

    Boxes may overlap; they are not merged (three holes far apart must not become one crop the
    size of the photo): the holes are filled one box after the other, each seeing the fills
    before it as context.

    The components are found on a reduced copy of the mask (labelling 24 MP costs most of a
    second; the boxes only need to be roughly right, they get a margin anyway).
    """
    k = max(1, int(np.ceil(np.sqrt(width * height / 1_000_000))))
    small = (
        hole
        if k == 1
        else cv2.resize(hole, (-(-width // k), -(-height // k)), interpolation=cv2.INTER_AREA)
    )
    boxes = []
    for x, y, w, h in masks.components(small, threshold=0):
        x, y, w, h = x * k - k, y * k - k, w * k + 2 * k, h * k + 2 * k
        m = int(max(_MIN_MARGIN, _CONTEXT * max(w, h) / 2))
        x0, x1 = _span(x - m, x + w + m, width)
        y0, y1 = _span(y - m, y + h + m, height)
        boxes.append([x0, y0, x1, y1])
    return [tuple(b) for b in boxes]  # type: ignore[misc]


def _expand_near(hole: np.ndarray, px: int) -> np.ndarray:
    """``masks.expand(hole, px)``, dilating only around the selected parts.

    A 5 % mask on 24 megapixels is mostly empty photo: dilating the whole frame cost more than
    a Telea fill. Each part's bounding box (found on a reduced copy, as in :func:`_boxes`) is
    dilated with a margin of ``px`` + its rounding, which gives the same pixels.
    """
    if px <= 0:
        return masks.expand(hole, px)
    h, w = hole.shape
    k = max(1, int(np.ceil(np.sqrt(w * h / 1_000_000))))
    if k == 1:
        return masks.expand(hole, px)
    small = cv2.resize(hole, (-(-w // k), -(-h // k)), interpolation=cv2.INTER_AREA)
    out = hole.copy()
    m = px + 2 * k
    for x, y, bw, bh in masks.components(small, threshold=0):
        x0, y0 = max(0, x * k - m), max(0, y * k - m)
        x1, y1 = min(w, (x + bw) * k + m), min(h, (y + bh) * k + m)
        grown = masks.expand(np.ascontiguousarray(hole[y0:y1, x0:x1]), px)
        np.maximum(out[y0:y1, x0:x1], grown, out=out[y0:y1, x0:x1])
    return out


def _around(sel: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The rows and columns of ``sel``'s non-zero pixels, ``margin`` more on each side.

    An inward feather of ``px`` reads the distance to the nearest unselected pixel only up to
    ``px`` (beyond, the ramp is 1); OpenCV's 5x5 distance moves at most one pixel per unit, so
    a margin of ``ceil(px) + 2`` gives the same alpha as the whole crop.
    """
    rows = np.flatnonzero(sel.any(axis=1))
    cols = np.flatnonzero(sel.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    h, w = sel.shape
    return (
        slice(max(0, int(rows[0]) - margin), min(h, int(rows[-1]) + 1 + margin)),
        slice(max(0, int(cols[0]) - margin), min(w, int(cols[-1]) + 1 + margin)),
    )


def _work_scales(
    hole: np.ndarray, boxes: list[tuple[int, int, int, int]], method: str
) -> list[float]:
    """The resolution each box is filled at (1 = full), within the method's budget.

    Water-filling: every box may fill up to ``cap`` pixels at full resolution, with ``cap`` as
    large as the budget allows, so small holes stay sharp and only the big ones are reduced.
    """
    sizes = [max(1, int(np.count_nonzero(hole[y0:y1, x0:x1]))) for x0, y0, x1, y1 in boxes]
    budget = _BUDGET[method]
    if sum(sizes) <= budget:
        return [1.0] * len(boxes)
    lo, hi = 0.0, float(max(sizes))
    for _ in range(40):
        cap = (lo + hi) / 2
        if sum(min(n, cap) for n in sizes) > budget:
            hi = cap
        else:
            lo = cap
    return [min(1.0, math.sqrt(lo / n)) if lo > 0 else 0.05 for n in sizes]


def _fill_box(
    crop: np.ndarray, crop_hole: np.ndarray, method: str, radius: int, scale: float
) -> np.ndarray:
    """The crop with its hole filled, at ``scale`` of its resolution when below 1."""
    if scale < 1.0:
        h, w = crop.shape[:2]
        sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
        small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(crop_hole, (sw, sh), interpolation=cv2.INTER_AREA)
        small_hole = np.where(small_hole > 0, 255, 0).astype(np.uint8)
        filled_small = _fill(small, small_hole, method, max(2, round(radius * scale)))
        filled = cv2.resize(filled_small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        filled = _fill(crop, crop_hole, method, radius)
    out = crop.copy()
    inside = crop_hole > 0
    out[inside] = filled[inside]
    return out


def _prepare(method: str, ctx: OpContext) -> str:
    if method in ("patchmatch", "texture") and not patchmatch_available():
        ctx.warn(
            "The texture fill needs the pypatchmatch package's native library, which did not "
            "load; filled with FSR instead"
        )
        method = "fsr"
    if method == "fsr" and not fsr_available():
        ctx.warn("FSR needs opencv-contrib's xphoto module; filled with Telea instead")
        return "telea"
    return method


def _fill_all(
    rgb: np.ndarray,
    hole: np.ndarray,
    method: str,
    radius: int,
    ctx: OpContext,
    feather_px: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Fill every hole box by box, blended through the hole feathered inward by
    ``feather_px`` (0: a hard edge)."""
    h, w = hole.shape
    out = rgb.copy()
    pending = hole.copy()
    boxes = _boxes(hole, w, h)
    # The texture method is two passes, each within its own budget: FSR for the structure,
    # PatchMatch for the detail.
    passes = ("fsr", "patchmatch") if method == "texture" else (method,)
    scales = {m: _work_scales(hole, boxes, m) for m in passes}
    used: set[str] = set()
    fill_seconds = 0.0  # the fills alone, without the mask work around them (for the bench)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ctx.check()
        todo = pending[y0:y1, x0:x1]
        if not todo.any():
            continue
        crop = np.ascontiguousarray(out[y0:y1, x0:x1, :3])
        todo = np.ascontiguousarray(todo)
        fills = []
        swapped = False
        for m in passes:
            box_method, scale = m, scales[m][i]
            if m == "fsr" and scale < _FSR_MIN_SCALE:
                # A huge hole: FSR would work on a thumbnail and take seconds for a blur;
                # Telea at far higher resolution is as good there and ~50x faster.
                box_method = "telea"
                scale = min(1.0, scale * math.sqrt(_BUDGET["telea"] / _BUDGET["fsr"]))
                used.add("telea (large areas)")
                swapped = True
            started = time.perf_counter()
            fills.append(_fill_box(crop, todo, box_method, radius, scale))
            fill_seconds += time.perf_counter() - started
        if not swapped or method == "texture":
            used.add(method)
        # Composited within the hole's own rectangle and the reach of its feather: outside
        # it the alpha is 0 and the crop keeps its pixels.
        sy, sx = _around(todo, math.ceil(feather_px) + 2 if feather_px > 0 else 0)
        if len(fills) == 2:
            filled = _combine_within(fills[0], fills[1], sy, sx)
        else:
            filled = fills[0][sy, sx]
        near = todo[sy, sx] > 0
        if feather_px > 0:
            edge = np.ascontiguousarray(hole[y0:y1, x0:x1][sy, sx])
            alpha = masks.feather(edge, feather_px, inward=True) * near
        else:
            alpha = near.astype(np.float32)
        region = out[y0:y1, x0:x1, :3]
        region[sy, sx] = blend(crop[sy, sx], filled, alpha)
        pending[y0:y1, x0:x1] = 0
        ctx.progress((i + 1) / len(boxes), f"Filling area {i + 1} of {len(boxes)}")
    ctx.meta["fill_seconds"] = round(fill_seconds, 3)
    if len(used) > 1 or (used and method not in used):
        ctx.meta["methods"] = sorted(used)
    return out, min((min(v, default=1.0) for v in scales.values()), default=1.0)


def fill_holes(
    rgb: np.ndarray, hole: np.ndarray, method: str, *, radius: int = 5, ctx: OpContext | None = None
) -> np.ndarray:
    """``rgb`` with the pixels under ``hole`` (uint8, >0 = missing) reconstructed."""
    ctx = ctx or OpContext()
    out, _ = _fill_all(rgb, masks.binary(hole, 0), _prepare(method, ctx), radius, ctx)
    return out


def remove_object(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``object_removal`` operation: ``params['mask_array']`` holds the loaded mask.

    Everything happens inside the crops around the holes; the rest of the photo is copied.
    """
    sel = params.get("mask_array")
    if sel is None:
        raise ValueError("object_removal needs a mask")
    if masks.is_empty(sel):
        ctx.warn("The mask is empty: nothing was removed")
        ctx.meta["noop"] = True
        return rgb.copy()
    expand_px = int(params["mask_expand"])
    feather_px = float(params["mask_feather"])
    method = _prepare(str(params["method"]), ctx)
    radius = int(params["radius"])
    hole = masks.binary(sel, 0)
    if expand_px:
        hole = _expand_near(hole, expand_px)
    ctx.progress(0.02, f"Removing with {method}")
    out, scale = _fill_all(rgb, hole, method, radius, ctx, feather_px)
    ctx.meta["method"] = method
    ctx.meta["hole_fraction"] = round(masks.coverage(hole, 0), 4)
    if scale < 1.0:
        ctx.meta["work_scale"] = round(scale, 3)
    return out
