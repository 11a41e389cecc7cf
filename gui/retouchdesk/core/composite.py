"""Protect the outside of the mask: composite a provider's result over the original.

Cloud services retouch the whole photo even when the photographer only wanted one area
changed. :func:`protect_outside` puts the result back over the original through the (expanded,
feathered) mask, so that every pixel outside the mask is *identical* to the original, and
:func:`difference_image` shows what the provider changed, for the compare view.

Sizes. A provider may return a different size than it was given (an upscaler, Enhancor v3's
output resolution, a server that caps large inputs). The composite is made at the **result's**
size: the original is resampled to it (Lanczos when enlarging, area averaging when reducing)
and so is the mask (bilinear, so soft edges stay soft); ``expand`` and ``feather`` are given in
original pixels and scaled by the same factor. Outside the mask the output then equals the
resampled original, exactly (the only faithful meaning "unchanged" can have at another size);
at the same size it equals the original byte for byte.

Channels and depth. The output has the result's channel count when that has alpha (a
background removal), otherwise the original's; a missing alpha is opaque. The original is
brought to the result's dtype (8 or 16 bits), so a 16-bit original with an 8-bit result gives
an 8-bit composite.

Feathering uses :func:`retouchdesk.core.mask.feather` with ``inward=True``: the soft ramp lies
inside the selection, so alpha is exactly 0 wherever the mask is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from retouchdesk.core import mask as core_mask


@dataclass(frozen=True)
class ChangeStats:
    """How much a result differs from the original, inside and outside the mask."""

    changed_inside: float  # fraction of selected pixels that changed (0..1)
    changed_outside: float  # fraction of unselected pixels that changed (0 after protection)
    max_outside: int  # largest channel difference outside the mask


def resample_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """``mask`` at ``width`` x ``height``: area averaging when reducing, bilinear enlarging."""
    h, w = mask.shape[:2]
    if (w, h) == (width, height):
        return mask.copy()
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_LINEAR
    return cv2.resize(mask, (int(width), int(height)), interpolation=interp)


def resample_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` at ``width`` x ``height``: Lanczos when enlarging, area averaging reducing."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_LANCZOS4
    out = cv2.resize(image, (int(width), int(height)), interpolation=interp)
    if out.ndim == 2 and image.ndim == 3:  # cv2 drops a single channel axis
        out = out[:, :, None]
    return out


def _channels(a: np.ndarray) -> np.ndarray:
    return a[:, :, None] if a.ndim == 2 else a


def _match(original: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bring both images to the result's size and dtype and a common channel count."""
    res = _channels(np.asarray(result))
    orig = _channels(np.asarray(original))
    if orig.dtype != res.dtype:
        if orig.dtype == np.uint16 and res.dtype == np.uint8:
            orig = ((orig.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        elif orig.dtype == np.uint8 and res.dtype == np.uint16:
            orig = orig.astype(np.uint16) * 257
        else:
            orig = orig.astype(res.dtype)
    h, w = res.shape[:2]
    orig = _channels(resample_image(orig, w, h))
    top = np.iinfo(res.dtype).max if res.dtype.kind in "ui" else 1.0
    co, cr = orig.shape[2], res.shape[2]
    # Either has alpha: keep it (a missing alpha is opaque); else colour if either has colour.
    want = 4 if co in (2, 4) or cr in (2, 4) else 3 if max(co, cr) >= 3 else 1
    return _to_channels(orig, want, top), _to_channels(res, want, top)


def _to_channels(a: np.ndarray, want: int, top: float) -> np.ndarray:
    c = a.shape[2]
    if c == want:
        return a
    colour = a[:, :, :1] if c in (1, 2) else a[:, :, :3]
    if want == 1:
        return colour[:, :, :1]
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if want == 3:
        return colour
    alpha = a[:, :, -1:] if c in (2, 4) else np.full((*a.shape[:2], 1), top, dtype=a.dtype)
    return np.concatenate([colour, alpha], axis=2)


def protection_alpha(
    mask: np.ndarray, width: int, height: int, *, expand: float = 0, feather: float = 0
) -> np.ndarray:
    """Float32 HxW alpha 0..1 at the result's size: where the result shows through.

    ``expand`` and ``feather`` are in the mask's own pixels and scaled with it. Alpha is 0
    exactly where the (expanded) mask is 0.
    """
    mh, mw = mask.shape[:2]
    scale = ((width / mw) + (height / mh)) / 2.0
    m = resample_mask(np.asarray(mask, dtype=np.uint8), width, height)
    if expand:
        m = core_mask.expand(m, round(expand * scale))
    return core_mask.feather(m, feather * scale, inward=True)


def protect_outside(
    original: np.ndarray,
    result: np.ndarray,
    mask: np.ndarray,
    *,
    expand: float = 0,
    feather: float = 0,
) -> np.ndarray:
    """The result inside the mask, the original outside it, blended over the feather band.

    ``original`` and ``result`` are HxW(xC) arrays (uint8 or uint16; sizes may differ, see the
    module docstring); ``mask`` is uint8 at the original's size, 255 = selected. Returns an
    array of the result's size and dtype.
    """
    orig, res = _match(original, result)
    h, w = res.shape[:2]
    alpha = protection_alpha(mask, w, h, expand=expand, feather=feather)
    out = orig.copy()
    full = alpha >= 1.0
    out[full] = res[full]
    band = (alpha > 0.0) & ~full
    if band.any():
        a = alpha[band][:, None]
        mixed = orig[band].astype(np.float32) * (1.0 - a) + res[band].astype(np.float32) * a
        out[band] = np.rint(mixed).astype(res.dtype)
    return out[:, :, 0] if np.asarray(result).ndim == 2 and out.shape[2] == 1 else out


def difference(original: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Per-pixel largest channel difference (HxW, the result's dtype), at the result's size."""
    orig, res = _match(original, result)
    d = np.abs(orig.astype(np.int32) - res.astype(np.int32)).max(axis=2)
    return d.astype(res.dtype)


def difference_image(
    original: np.ndarray, result: np.ndarray, *, gain: float = 4.0, threshold: int = 2
) -> np.ndarray:
    """A picture of what changed: a dim grey copy of the result with changes glowing on it.

    Unchanged pixels are shown in grey at a third of their brightness, so the photo stays
    recognisable; changed pixels light up from magenta (small change) to yellow (large),
    ``gain`` times amplified so subtle retouching is visible. Differences of at most
    ``threshold`` levels (of 255) count as unchanged: JPEG re-encoding noise is not a change
    the photographer needs to see. HxWx3 uint8 RGB.
    """
    orig, res = _match(original, result)
    top = float(np.iinfo(res.dtype).max) if res.dtype.kind in "ui" else 1.0
    d = np.abs(orig.astype(np.float32) - res.astype(np.float32)).max(axis=2) / top
    strength = np.clip(d * gain, 0.0, 1.0)[:, :, None]
    colour = res[:, :, :3] if res.shape[2] >= 3 else np.repeat(res[:, :, :1], 3, axis=2)
    grey = colour.astype(np.float32).mean(axis=2, keepdims=True) / top
    base = np.repeat(grey * (255.0 / 3.0), 3, axis=2)
    # magenta (255, 0, 255) at low strength to yellow (255, 255, 0) at full strength
    heat = np.concatenate(
        [np.full_like(strength, 255.0), 255.0 * strength, 255.0 * (1.0 - strength)], axis=2
    )
    # Any real change is clearly visible (at least 55 % cover), large ones fully.
    changed = d[:, :, None] > threshold / 255.0
    shown = np.where(changed, 0.55 + 0.45 * strength, 0.0)
    out = base * (1.0 - shown) + heat * shown
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def change_stats(
    original: np.ndarray, result: np.ndarray, mask: np.ndarray, *, threshold: int = 0
) -> ChangeStats:
    """How much of the selected and unselected areas changed (mask > 0 counts as selected)."""
    d = difference(original, result)
    h, w = d.shape
    sel = resample_mask(np.asarray(mask, dtype=np.uint8), w, h) > 0
    changed = d > threshold
    inside = float(changed[sel].mean()) if sel.any() else 0.0
    outside = float(changed[~sel].mean()) if (~sel).any() else 0.0
    max_out = int(d[~sel].max()) if (~sel).any() else 0
    return ChangeStats(inside, outside, max_out)


# -- files --------------------------------------------------------------------------------------


def protect_file(
    original_path: Path | str,
    result_path: Path | str,
    mask: np.ndarray | Path | str,
    out_path: Path | str,
    *,
    expand: float = 0,
    feather: float = 0,
) -> Path:
    """:func:`protect_outside` on files; writes ``out_path`` as a lossless PNG (or TIFF).

    The mask may be an array or a mask file of the original's size (``core.mask.load_mask``).
    16-bit PNG/TIFF inputs keep 16 bits when the result has them.
    """
    from retouchdesk.core import imageio

    original = imageio.load_array(original_path, keep_16bit=True)
    result = imageio.load_array(result_path, keep_16bit=True)
    if not isinstance(mask, np.ndarray):
        h, w = original.shape[:2]
        mask = core_mask.load_mask(mask, (w, h))
    out = protect_outside(original, result, mask, expand=expand, feather=feather)
    return write_lossless(out, Path(out_path))


def write_lossless(arr: np.ndarray, path: Path) -> Path:
    """Write ``arr`` losslessly (PNG, or TIFF by extension).

    16-bit arrays go through OpenCV: Pillow has no 16-bit RGB mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.dtype == np.uint16:
        a = _channels(arr)
        if a.shape[2] == 3:
            a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
        elif a.shape[2] == 4:
            a = cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA)
        ok, data = cv2.imencode(path.suffix or ".png", a)
        if not ok:
            raise OSError(f"cannot encode {path.name}")
        path.write_bytes(data.tobytes())
        return path
    from retouchdesk.core import imageio

    imageio.from_array(arr).save(
        path, format="TIFF" if path.suffix.lower() in (".tif", ".tiff") else "PNG"
    )
    return path
