"""``run_operation``: one offline operation on one file, synchronously, in this process.

This is the whole offline engine behind one call: validate the parameters against
``resources/providers/local.toml``, load the photo (upright, 8-bit RGB/RGBA), load and check the
mask, run the pure operation, and write the result atomically with the photo's metadata. The
worker processes of :class:`~retouchdesk.providers.local.provider.LocalProvider` call it, and so
do the vendor emulators (to produce real output images) and the tests.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from retouchdesk.core import handover, imageio
from retouchdesk.core import mask as masks
from retouchdesk.core.errors import InputError, ParameterError
from retouchdesk.core.schema import Inapplicable, Operation, ParamKind, load_catalog
from retouchdesk.providers.local.common import CancelledFn, OpContext, ProgressFn

PROVIDER_ID = "local"

Op = Callable[[np.ndarray, dict[str, Any], OpContext], np.ndarray]


def _on_first_call(module: str, name: str) -> Op:
    """The function ``name`` of ``providers.local.<module>``, imported when first called.

    A worker process loads only the operations it runs: an object removal does without face
    detection, Real-ESRGAN and the tone curves (20-30 ms of the worker's start, which the
    user waits for).
    """

    def op(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
        fn = getattr(importlib.import_module(f"retouchdesk.providers.local.{module}"), name)
        return fn(rgb, params, ctx)

    op.__name__ = op.__qualname__ = name
    return op


#: Operation id -> pure function. Each id has its schema in resources/providers/local.toml.
OPERATIONS: dict[str, Op] = {
    "upscale": _on_first_call("upscale", "upscale"),
    "object_removal": _on_first_call("inpaint", "remove_object"),
    "skin_smoothing": _on_first_call("skin", "smooth_skin"),
    "background_blur": _on_first_call("background", "blur_background"),
    "background_removal": _on_first_call("background", "remove_background"),
    "color_correction": _on_first_call("tone", "color_correct"),
    "lighting": _on_first_call("tone", "relight"),
}


def operation_schema(op_id: str) -> Operation:
    """The schema of a local operation (raises ParameterError naming the known ones)."""
    return load_catalog().operation(PROVIDER_ID, op_id)


def run_array(
    op_id: str,
    rgb: np.ndarray,
    params: dict[str, Any],
    ctx: OpContext | None = None,
) -> np.ndarray:
    """Run an operation on an array whose given parameters are already validated.

    Parameters not given (inapplicable ones, or those a benchmark leaves out) get their
    schema default here, so the operations read ``params[name]`` and never restate a default
    of ``local.toml`` in code.
    """
    try:
        fn = OPERATIONS[op_id]
    except KeyError:
        raise ParameterError(
            f"Unknown offline operation '{op_id}'; known: {', '.join(OPERATIONS)}"
        ) from None
    return fn(rgb, operation_schema(op_id).initial_values(params), ctx or OpContext())


#: Operations that work on 16-bit pixels themselves; the others run on 8 bits and their change
#: is applied to the 16-bit source (``lift_16bit``), so untouched pixels keep all 16 bits.
NATIVE_16BIT = frozenset({"color_correction"})


def to_8bit(arr: np.ndarray) -> np.ndarray:
    """uint16 samples rounded to uint8 (x * 255 / 65535)."""
    return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def lift_16bit(src16: np.ndarray, src8: np.ndarray, res8: np.ndarray) -> np.ndarray:
    """A same-size 8-bit result as 16 bits: the source's samples plus the operation's change.

    Where the operation left a sample alone it is the source's own 16-bit value; where it
    changed it, the change (in 8-bit steps) is added to the 16-bit value. A new alpha channel
    (background removal) is scaled to 16 bits.
    """
    colour = (
        src16[:, :, :3].astype(np.int32)
        + (res8[:, :, :3].astype(np.int32) - src8[:, :, :3].astype(np.int32)) * 257
    )
    out = np.clip(colour, 0, 65535).astype(np.uint16)
    if res8.shape[2] == 4:
        if src16.shape[2] == 4:
            alpha = (
                src16[:, :, 3].astype(np.int32)
                + (res8[:, :, 3].astype(np.int32) - src8[:, :, 3].astype(np.int32)) * 257
            )
        else:
            alpha = res8[:, :, 3].astype(np.int32) * 257
        out = np.dstack([out, np.clip(alpha, 0, 65535).astype(np.uint16)])
    return out


def run_pixels(
    op_id: str, pixels: np.ndarray, params: dict[str, Any], ctx: OpContext, bit_depth: int
) -> np.ndarray:
    """:func:`run_array` on 8- or 16-bit pixels; 16-bit in gives 16-bit out when the schema's
    ``result.bit_depth`` is 16 and the result has the source's size, 8-bit otherwise."""
    if pixels.dtype != np.uint16:
        return run_array(op_id, pixels, params, ctx)
    if bit_depth < 16:
        ctx.warnings.append(
            f"{ctx.source_name}: this operation gives an 8-bit result (the photo has 16 bits)"
        )
        return run_array(op_id, to_8bit(pixels), params, ctx)
    if op_id in NATIVE_16BIT:
        return run_array(op_id, pixels, params, ctx)
    src8 = to_8bit(pixels)
    res8 = run_array(op_id, src8, params, ctx)
    if res8.shape[:2] != pixels.shape[:2] or res8.dtype != np.uint8:
        return res8
    return lift_16bit(pixels, src8, res8)


def run_operation(
    op_id: str,
    image_path: Path | str,
    params: dict[str, Any] | None,
    out_path: Path | str,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    device: str = "auto",
    tile_size: int = 256,
    policy: imageio.OutputPolicy | None = None,
) -> dict[str, Any]:
    """Run ``op_id`` on ``image_path`` and write the result to ``out_path``.

    ``params`` are raw values (CLI strings or Python values), validated against the schema;
    a mask parameter is a file path. ``progress(fraction, message)`` is called as work advances;
    ``cancelled()`` is polled between tiles and steps and raises
    :class:`~retouchdesk.core.errors.Cancelled` when true. An ``out_path`` ending in ``.npy`` gets
    the raw pixels (:mod:`core.handover`, the worker's hand-over to the engine), any other the
    encoded image with the photo's metadata. Returns a summary for the result's
    record: ``engine`` ("realesrgan", "classic" or "opencv"), ``warnings``, ``width``,
    ``height``, ``output`` and operation-specific figures. Raises InputError / ParameterError /
    ProviderError with a plain sentence; the source file is never written.
    """
    started = time.monotonic()
    image_path, out_path = Path(image_path), Path(out_path)
    op = operation_schema(op_id)
    values = op.validate(dict(params or {}), inapplicable=Inapplicable.DROP)
    ctx = OpContext(
        progress_fn=progress,
        cancelled_fn=cancelled,
        device=device,
        tile_size=tile_size,
        source_name=image_path.name,
    )
    ctx.check()
    ctx.progress(0.0, f"Opening {image_path.name}")
    pixels = _load(op, image_path, values, ctx)
    ctx.meta.setdefault("engine", "opencv")
    loaded_at = time.monotonic()
    result = run_pixels(op_id, pixels, values, ctx, op.result.bit_depth)
    ctx.check()
    ctx.progress(0.99, "Saving the result")
    computed_at = time.monotonic()
    out_path = _write(result, image_path, out_path, policy, ctx)
    # Where the time went (tests/bench/local_speed.py reads these from the result record).
    ctx.meta["timings"] = {
        "load": round(loaded_at - started, 3),
        "operation": round(computed_at - loaded_at, 3),
        "save": round(time.monotonic() - computed_at, 3),
    }
    summary: dict[str, Any] = {
        "operation": op_id,
        "output": str(out_path),
        "width": int(result.shape[1]),
        "height": int(result.shape[0]),
        "seconds": round(time.monotonic() - started, 3),
        "warnings": list(ctx.warnings),
    }
    summary.update(ctx.meta)
    ctx.progress(1.0, "Done")
    return summary


def _load(op: Operation, image_path: Path, values: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The photo's pixels (decoded once), within the limits; masks loaded at its size into
    ``values["mask_array"]``.

    The mask is read while the photo decodes (both decoders release the GIL): at 24
    megapixels each takes a tenth of a second or more. A photo that cannot be read is reported
    before its mask, as when they were read one after the other.
    """
    header = imageio.probe(image_path)  # refuse from the header, before decoding anything
    _check_limits(op, (header.width, header.height), image_path)
    mask_resize = bool(values.get("mask_resize", False))
    mask_files = [
        values[p.name] for p in op.params if p.kind is ParamKind.MASK and values.get(p.name)
    ]

    def read_masks(size: tuple[int, int]) -> list[np.ndarray]:
        return [masks.load_mask(f, size, resize=mask_resize) for f in mask_files]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mask") as pool:
        early = pool.submit(read_masks, (header.width, header.height)) if mask_files else None
        try:
            loaded = imageio.load_pixels(image_path)  # the job's one decode of the photo
        except InputError:
            imageio.check_decodes(image_path)  # its sentence says best what is wrong
            raise
        for note in loaded.notes:
            ctx.warnings.append(f"{image_path.name}: {note}")
        _check_limits(op, loaded.size, image_path)
        if early is not None:
            same_size = loaded.size == (header.width, header.height)
            for arr in early.result() if same_size else read_masks(loaded.size):
                values["mask_array"] = arr
    return loaded.array


def _write(
    result: np.ndarray,
    image_path: Path,
    out_path: Path,
    policy: imageio.OutputPolicy | None,
    ctx: OpContext,
) -> Path:
    """The raw pixels to the engine's hand-over, or the encoded image with the metadata.
    Returns the path written (a hand-over may go to memory: ``core.handover``)."""
    if handover.is_handover(out_path):
        # To the engine, which encodes once in the output format with the metadata.
        written_to = handover.save(result, out_path, ram=True)
        ctx.meta["bit_depth"] = 16 if result.dtype == np.uint16 else 8
        return written_to
    written: dict[str, Any] = {}
    imageio.save_result(
        result,
        source=image_path,
        destination=out_path,
        policy=policy or imageio.OutputPolicy(),
        report=written,
    )
    ctx.meta["bit_depth"] = written.get("bit_depth", 8)
    return out_path


def _check_limits(op: Operation, size: tuple[int, int], path: Path) -> None:
    """Refuse pixels beyond the operation's limits, in the engine's words (``services.inputs``).

    The engine checked the header before starting the job; this holds for the decoded image
    too, and for callers that run an operation without the engine.
    """
    w, h = size
    problems = op.limits.problems(width=w, height=h, fmt="", size_bytes=0)
    problems = [p for p in problems if "is not accepted" not in p]  # the file was read
    if problems:
        raise InputError(f"{path.name} cannot be used for {op.label}: " + "; ".join(problems))
