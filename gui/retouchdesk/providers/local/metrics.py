"""Image quality measures for the offline engine's tests and benchmarks (numpy/OpenCV only).

- PSNR in dB over all channels (optionally inside a mask).
- SSIM (Wang et al. 2004) on the luma channel, 11x11 Gaussian window, sigma 1.5, the usual
  constants K1 = 0.01 and K2 = 0.03 for 8-bit data; no scikit-image needed.
- Sharpness: variance of the Laplacian of the grey image.
- High-frequency energy: mean squared difference from a Gaussian-blurred copy (sigma 2), the
  measure of skin texture that smoothing reduces.
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
