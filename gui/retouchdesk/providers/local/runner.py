"""``run_operation``: one offline operation on one file, synchronously, in this process.

This is the whole offline engine behind one call: validate the parameters against
``resources/providers/local.toml``, load the photo (upright, 8-bit RGB/RGBA), load and check the
mask, run the pure operation, and write the result atomically with the photo's metadata. The
worker processes of :class:`~retouchdesk.providers.local.provider.LocalProvider` call it, and so
do the vendor emulators (to produce real output images) and the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retouchdesk.core import imageio
from retouchdesk.core import mask as masks
from retouchdesk.core.errors import InputError, ParameterError
from retouchdesk.core.schema import Inapplicable, Operation, ParamKind, load_catalog
from retouchdesk.providers.local import background, inpaint, skin, tone, upscale
from retouchdesk.providers.local.common import CancelledFn, OpContext, ProgressFn

PROVIDER_ID = "local"

Op = Callable[[np.ndarray, dict[str, Any], OpContext], np.ndarray]

#: Operation id -> pure function. Each id has its schema in resources/providers/local.toml.
OPERATIONS: dict[str, Op] = {
    "upscale": upscale.upscale,
    "object_removal": inpaint.remove_object,
    "skin_smoothing": skin.smooth_skin,
    "background_blur": background.blur_background,
    "background_removal": background.remove_background,
    "color_correction": tone.color_correct,
    "lighting": tone.relight,
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
    """Run an operation on an array whose parameters are already validated (benchmarks, tests)."""
    try:
        fn = OPERATIONS[op_id]
    except KeyError:
        raise ParameterError(
            f"Unknown offline operation '{op_id}'; known: {', '.join(OPERATIONS)}"
        ) from None
    return fn(rgb, params, ctx or OpContext())


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
    :class:`~retouchdesk.core.errors.Cancelled` when true. Returns a summary for the result's
    record: ``engine`` ("realesrgan", "classic" or "opencv"), ``warnings``, ``width``,
    ``height``, ``output`` and operation-specific figures. Raises InputError / ParameterError /
    ProviderError with a plain sentence; the source file is never written.
    """
    started = time.monotonic()
    image_path, out_path = Path(image_path), Path(out_path)
    op = operation_schema(op_id)
    values = op.validate(dict(params or {}), inapplicable=Inapplicable.DROP)
    mask_resize = bool(values.get("mask_resize", False))
    ctx = OpContext(
        progress_fn=progress,
        cancelled_fn=cancelled,
        device=device,
        tile_size=tile_size,
        source_name=image_path.name,
    )
    ctx.check()
    ctx.progress(0.0, f"Opening {image_path.name}")
    loaded = imageio.load_image(image_path)
    for note in loaded.notes:
        ctx.warnings.append(f"{image_path.name}: {note}")
    _check_limits(op, loaded.image.size, image_path)
    rgb = imageio.to_array(loaded.image)
    for p in op.params:
        if p.kind is ParamKind.MASK and values.get(p.name):
            values["mask_array"] = masks.load_mask(
                values[p.name], loaded.image.size, resize=mask_resize
            )
    ctx.meta.setdefault("engine", "opencv")
    result = run_array(op_id, rgb, values, ctx)
    ctx.check()
    ctx.progress(0.99, "Saving the result")
    imageio.save_result(
        imageio.from_array(result),
        source=image_path,
        destination=out_path,
        policy=policy or imageio.OutputPolicy(),
    )
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


def _check_limits(op: Operation, size: tuple[int, int], path: Path) -> None:
    """Refuse inputs beyond the operation's documented limits with a plain sentence."""
    w, h = size
    lim = op.limits
    if lim.max_megapixels and w * h > lim.max_megapixels * 1e6:
        raise InputError(
            f"{path.name}: {w}x{h} is {w * h / 1e6:.0f} megapixels; {op.label} accepts at most "
            f"{lim.max_megapixels:g} megapixels"
        )
    if lim.max_side and max(w, h) > lim.max_side:
        raise InputError(
            f"{path.name}: its long side is {max(w, h)} px; {op.label} accepts at most "
            f"{lim.max_side} px"
        )
