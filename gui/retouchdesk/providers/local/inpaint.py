"""Object removal: fill the selected area from its surroundings.

Methods: OpenCV's Telea (fast marching) and Navier-Stokes inpainting, and the xphoto Frequency
Selective Reconstruction (FSR, best on textures, slow). Work is done on crops around each
connected part of the mask, with enough surrounding context, never on the whole photo, so a
small hole in a 24-megapixel photo costs what the hole costs. A huge hole is filled on a
reduced copy of its crop (a hole has no detail to lose) and scaled back; the result is composited
through the expanded, inward-feathered mask, so every pixel outside it is the source's own.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from retouchdesk.core import mask as masks
from retouchdesk.providers.local.common import OpContext, blend

METHODS = ("telea", "ns", "fsr")
DEFAULT_METHOD = "telea"  # tests/bench/local_quality.py: best hole-filling PSNR on the photos

_MAX_HOLE_PIXELS = {"telea": 400_000, "ns": 250_000, "fsr": 40_000}  # per crop, at work size
_CONTEXT = 1.0  # context margin around a hole, as a fraction of its size


def fsr_available() -> bool:
    return hasattr(cv2, "xphoto") and hasattr(cv2.xphoto, "inpaint")


def _fill(crop: np.ndarray, hole: np.ndarray, method: str, radius: int) -> np.ndarray:
    """Fill ``hole`` (uint8, 255 = missing) in a BGR/RGB crop with one method."""
    if method == "fsr":
        # FSR expects an intensity-first colour space (Lab) and 255 = known pixels.
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)
        dst = np.zeros_like(lab)
        valid = np.where(hole > 0, 0, 255).astype(np.uint8)
        cv2.xphoto.inpaint(lab, valid, dst, cv2.xphoto.INPAINT_FSR_FAST)
        return cv2.cvtColor(dst, cv2.COLOR_LAB2RGB)
    flag = cv2.INPAINT_NS if method == "ns" else cv2.INPAINT_TELEA
    return cv2.inpaint(crop, hole, radius, flag)


def _boxes(hole: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Crop boxes (x0, y0, x1, y1) around each hole with context, overlapping ones merged."""
    boxes = []
    for x, y, w, h in masks.components(hole, threshold=0):
        m = int(max(24, _CONTEXT * max(w, h) / 2))
        boxes.append([max(0, x - m), max(0, y - m), min(width, x + w + m), min(height, y + h + m)])
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:] = [min(o[0], b[0]), min(o[1], b[1]), max(o[2], b[2]), max(o[3], b[3])]
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return [tuple(b) for b in boxes]  # type: ignore[misc]


def fill_holes(
    rgb: np.ndarray, hole: np.ndarray, method: str, *, radius: int = 5, ctx: OpContext | None = None
) -> np.ndarray:
    """``rgb`` with the pixels under ``hole`` (uint8, >0 = missing) reconstructed."""
    ctx = ctx or OpContext()
    if method == "fsr" and not fsr_available():
        ctx.warn("FSR needs opencv-contrib's xphoto module; filled with Telea instead")
        method = "telea"
    h, w = rgb.shape[:2]
    out = rgb.copy()
    boxes = _boxes(hole, w, h)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ctx.check()
        crop = np.ascontiguousarray(out[y0:y1, x0:x1])
        crop_hole = np.ascontiguousarray(hole[y0:y1, x0:x1])
        n = int(np.count_nonzero(crop_hole))
        scale = min(1.0, math.sqrt(_MAX_HOLE_PIXELS[method] / max(1, n)))
        if scale < 1.0:
            # A big hole: fill a reduced copy, then bring the fill back to full size.
            sw, sh = max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale))
            small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
            small_hole = cv2.resize(crop_hole, (sw, sh), interpolation=cv2.INTER_NEAREST)
            small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
            filled_small = _fill(small, small_hole, method, max(2, round(radius * scale)))
            filled = cv2.resize(filled_small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
        else:
            filled = _fill(crop, crop_hole, method, radius)
        region = crop.copy()
        inside = crop_hole > 0
        region[inside] = filled[inside]
        out[y0:y1, x0:x1] = region
        ctx.progress((i + 1) / len(boxes), f"Filling area {i + 1} of {len(boxes)}")
    return out


def remove_object(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``object_removal`` operation: ``params['mask_array']`` holds the loaded mask."""
    sel = params.get("mask_array")
    if sel is None:
        raise ValueError("object_removal needs a mask")
    if masks.is_empty(sel):
        ctx.warn("The mask is empty: nothing was removed")
        ctx.meta["noop"] = True
        return rgb.copy()
    alpha_channel = rgb[:, :, 3] if rgb.ndim == 3 and rgb.shape[2] == 4 else None
    color = np.ascontiguousarray(rgb[:, :, :3])
    expand_px = int(params.get("mask_expand", 6))
    feather_px = float(params.get("mask_feather", 3))
    method = str(params.get("method", DEFAULT_METHOD))
    radius = int(params.get("radius", 5))
    hole = masks.expand(masks.binary(sel, 0), expand_px) if expand_px else masks.binary(sel, 0)
    ctx.progress(0.02, f"Removing with {method}")
    filled = fill_holes(color, hole, method, radius=radius, ctx=ctx)
    alpha = masks.feather(hole, feather_px, inward=True) if feather_px > 0 else hole / 255.0
    out = blend(color, filled, alpha)
    ctx.meta["method"] = method
    ctx.meta["hole_fraction"] = round(masks.coverage(hole, 0), 4)
    if alpha_channel is not None:
        out = np.dstack([out, alpha_channel])
    return out
