"""Post-processing of a job's downloaded results, before they are written next to the photo.

Job options are recorded on the job (``JobRecord.options``, a JSON-able dict next to the
provider parameters, which the schemas validate and which cannot carry app-level choices).
After ``fetch`` and before ``save_result``, the engine calls :func:`apply` on every image
output; each known option transforms the file and returns the path to write instead.

Options:

``protect_outside``: ``{"mask": "<mask png>", "expand": px, "feather": px}``. The result is
composited over the original through the mask so every pixel outside it stays as it was
(:mod:`retouchdesk.core.composite`; a result of another size is handled there). The mask file
is the frozen copy the job was queued with (``services.masks.MaskLibrary.freeze``), so
re-running or resuming the job after the live mask changed still uses the same mask. The
compare view draws the difference (``core.composite.difference_image``) from the original and
the written result; the result's record notes that it was protected and with which mask.
The composite is handed to the engine losslessly (PNG); when the output format is JPEG or
WebP, writing the result re-encodes every pixel, so "identical outside" then holds up to that
encoding (choose PNG or TIFF output for bit-exact pixels outside the mask).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from retouchdesk.core.errors import InputError

PROTECT_OUTSIDE = "protect_outside"


@dataclass(frozen=True)
class Processed:
    """What post-processing made of one output."""

    path: Path  # the file to write as the result
    meta: dict[str, Any]  # goes into the result's record (e.g. where the difference image is)


def protect_option(mask: Path | str, *, expand: float = 0, feather: float = 0) -> dict[str, Any]:
    """The ``options`` entry that asks for the outside of ``mask`` to be protected."""
    return {PROTECT_OUTSIDE: {"mask": str(mask), "expand": expand, "feather": feather}}


def apply(
    options: dict[str, Any] | None, original: Path, result: Path, work_dir: Path
) -> Processed:
    """Run the options recorded on a job over one downloaded ``result`` of ``original``.

    Returns the result unchanged when no option applies. Raises :class:`InputError` (a plain
    sentence) when the mask of a protected job is missing or of the wrong size.
    """
    opts = options or {}
    protect = opts.get(PROTECT_OUTSIDE)
    if not protect:
        return Processed(result, {})
    from retouchdesk.core import composite, imageio
    from retouchdesk.core import mask as core_mask

    mask_path = Path(str(protect.get("mask", "")))
    if not mask_path.is_file():
        raise InputError(
            f"The mask {mask_path.name or '(none)'} that protects {original.name} is missing"
        )
    orig = imageio.load_array(original, keep_16bit=True)
    res = imageio.load_array(result, keep_16bit=True)
    h, w = orig.shape[:2]
    # The input may be a downscaled copy of the photo the mask was painted on (--fit, the
    # window's downscale offer): a mask of the same framing is resampled, any other refused.
    from retouchdesk.services.masks import same_framing

    with Image.open(mask_path) as im:
        mask_size = im.size
    fits = mask_size == (w, h) or same_framing(mask_size, (w, h))
    mask = core_mask.load_mask(mask_path, (w, h), resize=fits)
    out = composite.protect_outside(
        orig,
        res,
        mask,
        expand=float(protect.get("expand", 0) or 0),
        feather=float(protect.get("feather", 0) or 0),
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    target = composite.write_lossless(out, work_dir / f"{result.stem}.protected.png")
    stats = composite.change_stats(orig, out, mask)
    return Processed(
        target,
        {
            "protected_outside": True,
            "mask": str(mask_path),
            "changed_inside": round(stats.changed_inside, 4),
        },
    )
