"""Colour correction (white balance + levels) and lighting (local contrast + shadow lift).

Both work in linear light where it matters (white balance gains are physical), keep hue when
changing brightness (a luminance ratio applied to R, G and B alike), and blend with the original
by ``strength`` so that 0 is the photo unchanged.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from retouchdesk.providers.local.common import OpContext, scale01, to_uint8

#: Percent of the darkest and of the brightest pixels that levels let clip (noise, speculars).
LEVELS_CLIP = 0.5


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    x = srgb.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055) * 255.0


def white_balance_gains(rgb: np.ndarray) -> np.ndarray:
    """Per-channel gains from a robust grey-world estimate in linear light.

    Only mid-tone, not-too-saturated pixels vote (blown highlights and deep shadows carry no
    colour information), and the gains are limited to 0.6..1.6 so a photo that really is
    orange (a sunset) is corrected gently rather than turned grey.
    """
    lin = _to_linear(rgb[:, :, :3])
    step = max(1, int(np.sqrt(lin.shape[0] * lin.shape[1] / 250_000)))
    s = lin[::step, ::step].reshape(-1, 3)
    lum = s @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    mx, mn = s.max(axis=1), s.min(axis=1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    sel = (lum > 0.02) & (lum < 0.9) & (sat < 0.6)
    if sel.sum() < 100:
        sel = lum > 0.0
    if not sel.any():
        # All black (or a 1-px image of black): no colour to balance; grey-world would divide
        # by zero and turn every pixel into NaN.
        return np.ones(3, dtype=np.float32)
    means = s[sel].mean(axis=0)
    grey = float(means @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32))
    gains = grey / np.maximum(means, 1e-6)
    return np.clip(gains, 0.6, 1.6).astype(np.float32)


def color_correct(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``color_correction`` operation, on 8- or 16-bit pixels (the result has the same)."""
    strength = scale01(params["strength"])
    if strength == 0.0:
        ctx.progress(1.0, "Colours unchanged (strength 0)")
        return rgb.copy()  # exactly the photo, as the slider promises, without the work
    # 16-bit pixels are worked on in the same 0..255 float scale, without rounding to 8 bits
    scale = 257.0 if rgb.dtype == np.uint16 else 1.0
    color = rgb[:, :, :3].astype(np.float32) / scale if scale != 1.0 else rgb[:, :, :3]
    out = color.astype(np.float32)
    if bool(params["white_balance"]):
        gains = white_balance_gains(color)
        ctx.meta["wb_gains"] = [round(float(g), 3) for g in gains]
        out = _to_srgb(_to_linear(color) * gains)
    ctx.check()
    ctx.progress(0.5, "Levels")
    if bool(params["levels"]):
        lum = cv2.cvtColor(to_uint8(out), cv2.COLOR_RGB2GRAY)
        lo, hi = np.percentile(lum, [LEVELS_CLIP, 100.0 - LEVELS_CLIP])
        if hi - lo > 16:
            out = (out - lo) * (255.0 / (hi - lo))
        ctx.meta["levels"] = [round(float(lo), 1), round(float(hi), 1)]
    result = color.astype(np.float32) + strength * (out - color.astype(np.float32))
    ctx.progress(1.0, "Colours corrected")
    if scale != 1.0:
        res = np.clip(np.rint(result.astype(np.float64) * scale), 0, 65535).astype(np.uint16)
    else:
        res = to_uint8(result)
    return np.dstack([res, rgb[:, :, 3]]) if rgb.shape[2] == 4 else res


def relight(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``lighting`` operation: CLAHE on lightness plus a smooth shadow lift."""
    strength = scale01(params["strength"])
    contrast = scale01(params["local_contrast"])
    shadows = scale01(params["shadow_lift"])
    color = np.ascontiguousarray(rgb[:, :, :3])
    lab = cv2.cvtColor(color, cv2.COLOR_RGB2LAB)
    L = lab[:, :, 0].astype(np.float32)
    new_l = L.copy()
    if contrast > 0:
        h, w = L.shape
        tiles = max(2, min(16, round(max(h, w) / 256)))
        clahe = cv2.createCLAHE(clipLimit=1.0 + 2.5 * contrast, tileGridSize=(tiles, tiles))
        new_l = clahe.apply(lab[:, :, 0]).astype(np.float32)
        new_l = L + contrast * (new_l - L)
    ctx.check()
    if shadows > 0:
        # Lift by the local (blurred) darkness, so shadows open up without flattening texture.
        base = cv2.GaussianBlur(new_l, (0, 0), max(2.0, max(L.shape) / 100.0)) / 255.0
        lift = shadows * 0.6 * (1.0 - base) ** 2
        new_l = new_l + lift * (255.0 - new_l) * (1.0 - new_l / 255.0)
    ratio = (np.maximum(new_l, 1.0) / np.maximum(L, 1.0))[:, :, None]
    lit = color.astype(np.float32) * ratio
    result = color.astype(np.float32) + strength * (lit - color.astype(np.float32))
    ctx.progress(1.0, "Lighting adjusted")
    res = to_uint8(result)
    return np.dstack([res, rgb[:, :, 3]]) if rgb.shape[2] == 4 else res
