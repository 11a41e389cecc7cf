"""Skin smoothing: the offline counterpart of Enhancor Realistic Skin.

1. Faces are detected (``faces.detect_faces``); none found is an error, the file is untouched.
2. The skin mask is the face oval (or, for ``scope = body``, the whole photo) intersected with
   a per-photo skin-colour model, minus the protected regions (eyes, brows, mouth... by
   default), feathered inward so that pixels outside it stay bit-identical.
3. Smoothing is a frequency separation: the fine band (pores, fine hairs: below ``sigma_fine``)
   is kept in proportion to ``texture``; the middle band (blotches, uneven tone, small bumps) is
   replaced by an edge-preserving bilateral smoothing, so the face's contours stay put.
   ``strength`` blends the result with the original.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from retouchdesk.core import mask as masks
from retouchdesk.core.errors import InputError
from retouchdesk.providers.local import faces as facemod
from retouchdesk.providers.local.common import OpContext, blend, scale01


def skin_mask(
    rgb: np.ndarray, params: dict[str, Any], ctx: OpContext
) -> tuple[np.ndarray, list[facemod.Face]]:
    """uint8 mask of the skin to smooth (255 = fully), and the faces found."""
    h, w = rgb.shape[:2]
    found = facemod.detect_faces(rgb)
    if not found:
        raise InputError(f"{ctx.source_name}: no face found, so there is no skin to smooth")
    ctx.meta["faces"] = len(found)
    prob = facemod.skin_probability(rgb, found)
    if str(params["scope"]) == "body":
        area = np.full((h, w), 255, dtype=np.uint8)
    else:
        area = np.zeros((h, w), dtype=np.uint8)
        for f in found:
            area = np.maximum(area, facemod.face_oval((h, w), f))
    skin = (prob * area.astype(np.float32)).clip(0, 255)
    skin = np.where(skin >= 100, 255, 0).astype(np.uint8)
    # Fill pinholes (pores, freckles, highlights) and drop specks far from the face.
    k = max(3, int(min(f.box.w for f in found) / 40) | 1)
    skin = cv2.morphologyEx(
        skin, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    )
    skin = cv2.morphologyEx(
        skin, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    )
    protect = [n for n in facemod.REGIONS if params[n]]  # the "Area control" toggles
    if protect:
        guard = facemod.region_mask((h, w), found, protect)
        skin[guard > 0] = 0
        ctx.meta["protected"] = protect
    user = params.get("mask_array")
    if user is not None:
        skin = np.minimum(skin, user)
    return skin, found


def smooth_skin(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``skin_smoothing`` operation; alpha, if any, is left as it is."""
    alpha = rgb[:, :, 3] if rgb.ndim == 3 and rgb.shape[2] == 4 else None
    color = np.ascontiguousarray(rgb[:, :, :3])
    ctx.progress(0.05, "Finding faces")
    skin, found = skin_mask(color, params, ctx)
    ctx.check()
    strength = scale01(params["strength"])
    texture = scale01(params["texture"])
    if strength <= 0 or masks.is_empty(skin):
        ctx.warn("Nothing was smoothed: the strength is 0 or no skin was found on the faces")
        return rgb.copy()
    face_w = float(np.median([f.box.w for f in found]))
    ctx.progress(0.3, "Smoothing skin")
    result = frequency_smooth(color, face_w, strength, texture, skin)
    ctx.check()
    alpha_mask = masks.feather(skin, max(1.0, face_w / 40), inward=True)
    out = blend(color, result, alpha_mask * 1.0)
    ctx.meta["skin_fraction"] = round(float(np.count_nonzero(skin)) / skin.size, 4)
    ctx.progress(1.0, "Skin smoothed")
    if alpha is not None:
        out = np.dstack([out, alpha])
    return out


def frequency_smooth(
    rgb: np.ndarray, face_w: float, strength: float, texture: float, skin: np.ndarray
) -> np.ndarray:
    """Frequency-separated smoothing of the area under ``skin`` (computed on its bounding box)."""
    ys, xs = np.nonzero(skin)
    pad = int(face_w / 4) + 8
    y0, y1 = max(0, ys.min() - pad), min(rgb.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(rgb.shape[1], xs.max() + pad + 1)
    crop = rgb[y0:y1, x0:x1].astype(np.float32)
    sigma_fine = max(0.8, face_w / 260.0)  # pores are ~1/200 of a face across
    low = cv2.GaussianBlur(crop, (0, 0), sigma_fine)
    fine = crop - low
    # Edge-preserving smoothing of the low band; diameter grows with the face and the strength.
    d = int(max(5, face_w / 18 * (0.5 + strength))) | 1
    d = min(d, 31)
    sigma_color = 12.0 + 30.0 * strength
    smoothed = cv2.bilateralFilter(low, d, sigma_color, d / 2.0)
    smoothed = cv2.bilateralFilter(smoothed, d, sigma_color * 0.8, d / 2.0)
    keep_fine = 0.25 + 0.75 * texture  # texture 0 still keeps a little grain: no plastic look
    result = smoothed + keep_fine * fine
    mixed = crop + strength * (result - crop)
    out = rgb.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out
