"""Image quality measures for the offline engine's tests and benchmarks (numpy/OpenCV only).

- PSNR in dB over all channels (optionally inside a mask).
- SSIM (Wang et al. 2004) on the luma channel, 11x11 Gaussian window, sigma 1.5, the usual
  constants K1 = 0.01 and K2 = 0.03 for 8-bit data; no scikit-image needed.
- Sharpness: variance of the Laplacian of the grey image.
- High-frequency energy: mean squared difference from a Gaussian-blurred copy (sigma 2), the
  measure of skin texture that smoothing reduces.
- Texture kept by a fill: the high-frequency energy inside a filled hole against a ring around
  it, relative to the same ratio on the original; a smear scores near 0, a fill as busy as the
  photo was there scores 1.
"""

from __future__ import annotations

import cv2
import numpy as np


def _grey(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return a.astype(np.float64)
    return cv2.cvtColor(np.ascontiguousarray(a[:, :, :3]), cv2.COLOR_RGB2GRAY).astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (inf when identical)."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        sel = mask > 0
        d = d[sel]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of the luma of two same-sized images."""
    x, y = _grey(a), _grey(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s[5:-5, 5:-5].mean()) if min(s.shape) > 10 else float(s.mean())


def sharpness(a: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: higher is crisper."""
    return float(cv2.Laplacian(_grey(a), cv2.CV_64F).var())


def hf_energy(a: np.ndarray, mask: np.ndarray | None = None, sigma: float = 2.0) -> float:
    """Mean squared high-frequency detail (grey minus its Gaussian blur), inside ``mask``."""
    g = _grey(a)
    hf = g - cv2.GaussianBlur(g, (0, 0), sigma)
    if mask is not None:
        hf = hf[mask > 0]
    return float(np.mean(hf * hf)) if hf.size else 0.0


def texture_kept(
    result: np.ndarray, original: np.ndarray, hole: np.ndarray, ring_px: int = 12
) -> float:
    """How much of the photo's texture a fill of ``hole`` has, from 0 (a smear) to 1 (capped).

    ``(hf(result, inside) / hf(result, ring)) / (hf(original, inside) / hf(original, ring))``
    where hf is :func:`hf_energy`, ``inside`` is the hole less a 4 px band along its edge (a seam
    there is high-frequency energy too and must not count as texture) and ``ring`` the band of
    ``ring_px`` around the hole. Normalising by the ring makes the figure independent of how busy
    the photo is around the hole; normalising by the original makes a flat sky that stays flat
    score 1, not 0.
    """
    binary = (hole > 0).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    inside = cv2.erode(binary, k)
    if not inside.any():
        inside = binary
    grown = cv2.dilate(binary, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1,) * 2))
    ring = np.asarray(grown, dtype=np.uint8) & (1 - binary)
    eps = 1e-6
    got = hf_energy(result, inside) / (hf_energy(result, ring) + eps)
    want = hf_energy(original, inside) / (hf_energy(original, ring) + eps)
    return float(min(1.0, got / (want + eps)))
