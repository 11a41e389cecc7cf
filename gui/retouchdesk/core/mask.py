"""Selection masks: loading, growing/shrinking and feathering.

A mask is a ``uint8`` HxW array the size of the (upright) photo; 255 means selected, 0 not
selected, values between are a soft selection. Mask files come from the mask painter or from the
user: a greyscale image (white = selected), or an image with alpha where transparent means not
selected. A mask of the wrong size is refused with both sizes, unless the caller asks for it to be
resized (the user said so), because silently stretching a selection moves it off its object.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from retouchdesk.core import rewrap
from retouchdesk.core.errors import InputError
from retouchdesk.core.imageio import MAX_PIXELS, open_image, orientation_of


def load_mask(path: Path | str, size: tuple[int, int], *, resize: bool = False) -> np.ndarray:
    """The mask in ``path`` as uint8 HxW (255 = selected) for an image of ``size`` (w, h).

    Raises :class:`InputError` naming the file and both sizes when they differ and ``resize`` is
    false; with ``resize`` the mask is scaled to ``size`` (bilinear, so edges stay soft).
    """
    path = Path(path)
    mask = _grey_png(path)
    if mask is None:
        with open_image(path) as im:
            try:
                im.load()
                if orientation_of(im) != 1:
                    im = ImageOps.exif_transpose(im)
            except (OSError, ValueError, SyntaxError) as exc:
                raise InputError(f"{path.name}: the mask image is damaged ({exc})") from None
            mask = _to_mask(im)
    h, w = mask.shape
    want_w, want_h = int(size[0]), int(size[1])
    if (w, h) != (want_w, want_h):
        if not resize:
            raise InputError(
                f"{path.name}: the mask is {w}x{h} but the photo is {want_w}x{want_h}; "
                "paint a new mask or allow resizing it"
            )
        mask = cv2.resize(mask, (want_w, want_h), interpolation=cv2.INTER_LINEAR)
    return mask


def _grey_png(path: Path) -> np.ndarray | None:
    """An 8-bit greyscale PNG without transparency or orientation (what the painter and
    :func:`save_mask` write) decoded by OpenCV; None for anything else (Pillow reads it).

    Its samples are the selection as they are. OpenCV decodes straight into one array with the
    GIL released; Pillow's decoder and the conversion cost twice as long at 24 megapixels,
    where the offline engine reads the mask while it decodes the photo.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if not data.startswith(rewrap.PNG_SIGNATURE):
            return None
        w, h, depth, colour, has_trns, orientation = rewrap.png_facts(rewrap.png_chunks(data))
    except (OSError, rewrap.NotRewrappable, struct.error):
        return None
    if (depth, colour, has_trns, orientation) != (8, 0, False, 1) or w * h > MAX_PIXELS:
        return None  # a huge one is refused by the general loader, in its words
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if arr is None or arr.ndim != 2 or arr.dtype != np.uint8:
        return None
    return arr


def _to_mask(im: Image.Image) -> np.ndarray:
    """Selection from any image mode: luminance, multiplied by alpha when there is one."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return np.clip(np.rint(arr * 255.0 / top), 0, 255).astype(np.uint8)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3]
        grey = np.asarray(im.convert("RGBA").convert("L"), dtype=np.uint16)
        if grey.min() == grey.max():
            # A painter's layer: uniform colour, the strokes are in the alpha channel.
            return alpha.astype(np.uint8)
        return ((grey * alpha + 127) // 255).astype(np.uint8)
    return np.asarray(im.convert("L"), dtype=np.uint8).copy()


def binary(mask: np.ndarray, threshold: int = 127) -> np.ndarray:
    """A hard mask: 255 where ``mask`` > threshold, else 0."""
    return cv2.threshold(
        np.ascontiguousarray(mask, dtype=np.uint8), threshold, 255, cv2.THRESH_BINARY
    )[1]


def is_empty(mask: np.ndarray, threshold: int = 0) -> bool:
    """True when nothing is selected."""
    return not bool(np.any(mask > threshold))


def coverage(mask: np.ndarray, threshold: int = 127) -> float:
    """The selected fraction of the image, 0..1."""
    return float(np.count_nonzero(mask > threshold)) / max(1, mask.size)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def expand(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow the selection by ``px`` pixels (a round brush); a negative ``px`` shrinks it."""
    px = round(float(px))
    if px == 0:
        return mask.copy()
    kernel = _disk(abs(px))
    if px > 0:
        return cv2.dilate(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)


def feather(mask: np.ndarray, px: float, *, inward: bool = False) -> np.ndarray:
    """A float32 alpha 0..1 with edges softened over about ``px`` pixels.

    By default the softening straddles the edge (a Gaussian). With ``inward`` the ramp lies
    wholly inside the selection (alpha is exactly 0 outside it), which is what an operation that
    promises "pixels outside the mask are untouched" needs.
    """
    alpha = mask.astype(np.float32) / 255.0
    if px <= 0:
        return alpha
    if inward:
        inside = (mask > 127).astype(np.uint8)
        dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
        ramp = np.clip(dist / float(px), 0.0, 1.0)
        ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible seam at either end
        return (np.minimum(alpha, ramp) * (mask > 0)).astype(np.float32)
    sigma = max(0.5, float(px) / 2.0)
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)


def components(mask: np.ndarray, *, threshold: int = 127) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x, y, w, h) of the connected selected regions, largest first."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        (mask > threshold).astype(np.uint8), connectivity=8
    )
    boxes = [tuple(int(v) for v in stats[i, :4]) for i in range(1, n)]
    boxes.sort(key=lambda b: b[2] * b[3], reverse=True)
    return boxes  # type: ignore[return-value]


def save_mask(mask: np.ndarray, path: Path | str) -> Path:
    """Write ``mask`` as a greyscale PNG (the format every provider and the painter read)."""
    path = Path(path)
    Image.fromarray(np.ascontiguousarray(mask.astype(np.uint8)), "L").save(path, format="PNG")
    return path
