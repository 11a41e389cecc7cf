"""Image helpers of the emulated engine: decoding, encoding, faces, subject, fills, colours.

Fast and deterministic stand-ins for the vendor's models (OpenCV and Pillow), so that every
result is a real image that depends on its input.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from tests.emulators.youcam.errors import EngineError


def decode(data: bytes, code: str, grey: bool = False) -> np.ndarray:
    """The RGB (or grey) pixels of a file; one that does not decode fails the task with
    ``code``."""
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception:
        raise EngineError(code) from None
    return np.asarray(im.convert("L" if grey else "RGB"))


def encode(arr: np.ndarray, suffix: str) -> bytes:
    """``arr`` as PNG, or as JPEG (quality 92) for any other ``suffix``."""
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    if suffix == ".png":
        im.save(buf, "PNG")
    else:
        im.convert("RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces as skin-coloured blobs of a face's shape, boxes padded like a detector's, left
    to right. (No face model ships with the test environment; this finds the test portraits'
    faces and none in the cat and coffee photos.)"""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    m = cv2.inRange(ycc, (60, 140, 90), (255, 175, 125))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    _n, _lab, stats, _c = cv2.connectedComponentsWithStats(m)
    h, w = m.shape
    out = []
    for x, y, bw, bh, area in stats[1:]:
        if area < 0.01 * m.size or bw * bh > 0.4 * m.size:
            continue
        if not 0.9 <= bh / bw <= 2.0 or area / (bw * bh) < 0.5:
            continue
        borders = (x == 0) + (y == 0) + (x + bw >= w) + (y + bh >= h)
        if borders >= 2:
            continue
        px, py = int(bw * 0.1), int(bh * 0.1)
        box = (max(0, x - px), max(0, y - py), min(w, x + bw + px), min(h, y + bh + py))
        out.append(tuple(int(v) for v in box))
    return sorted(out)


def offline_result(
    op_id: str, rgb: np.ndarray, params: dict[str, Any], mask: np.ndarray | None = None
) -> np.ndarray | None:
    """The offline engine's result for ``op_id`` when it implements it, else None.

    (The AI upscaler is not used here: minutes of CPU in the test process would starve the
    client's threads of the GIL, which a remote server never does.)
    """
    try:
        from retouchdesk.providers.local import run_operation
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.png"
        Image.fromarray(rgb).save(src)
        params = dict(params)
        if mask is not None:
            Image.fromarray(mask).save(Path(tmp) / "mask.png")
            params["mask"] = str(Path(tmp) / "mask.png")
        try:
            run_operation(op_id, src, params, out, device="cpu")
            im = Image.open(out)
            return np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA") else "RGB"))
        except Exception:
            return None


def subject_alpha(rgb: np.ndarray) -> np.ndarray:
    """A foreground alpha (0..1) by GrabCut from a centred rectangle."""
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    rect = (int(w * 0.08), int(h * 0.05), int(w * 0.84), int(h * 0.95) - 1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 2,
                cv2.GC_INIT_WITH_RECT)  # fmt: skip
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    return cv2.GaussianBlur(fg, (0, 0), 2)


def colour_of(text: str) -> tuple[int, int, int]:
    """A soft colour derived from ``text``: the same prompt or style paints the same."""
    h = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb((h % 360) / 360, 0.55, 0.85))  # type: ignore[return-value]


def quick_inpaint(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (uint8, 255 = fill) quickly: inpaint at low resolution, keep the rest."""
    h, w = rgb.shape[:2]
    k = max(1, max(h, w) // 384)
    small = cv2.resize(rgb, (w // k, h // k), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (w // k, h // k), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    a = (cv2.GaussianBlur(hole, (0, 0), 2).astype(np.float32) / 255.0)[..., None]
    return (rgb * (1 - a) + big * a).astype(np.uint8)
