"""Export: a version written for its destination (format, size, sharpening, colour, metadata).

Unlike a result (written as exactly as the operation made it), an export is the photographer's
delivery: JPEG/PNG/TIFF/WebP at a chosen quality and bit depth, the long side resized, output
sharpening for the new size, the colours converted to sRGB or Display P3 (or kept), metadata
kept, kept without GPS, or left out, and a file name from a template. It goes through the one
result writer (:func:`core.imageio.save_result`), so it is atomic and keeps EXIF/XMP (with
the version's recipe) exactly as results do.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retouchdesk.core.errors import OutputError

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


FORMATS = ("jpeg", "png", "tiff", "webp")
COLOURS = ("keep", "srgb", "p3")
METADATA = ("all", "nogps", "none")
TEMPLATE_FIELDS = ("stem", "n", "date", "ext", "format", "size")
DEFAULT_TEMPLATE = "{stem}.{ext}"


@dataclass(frozen=True)
class ExportOptions:
    """What an export writes (see module docstring)."""

    format: str = "jpeg"
    quality: int = 92  # JPEG and WebP
    bit_depth: int = 8  # 16 only for PNG and TIFF
    long_side: int = 0  # 0: keep the size
    sharpen: float = 0.0  # output sharpening amount (0 none, 0.5 screen, 1 strong)
    colour: str = "keep"
    metadata: str = "all"
    template: str = DEFAULT_TEMPLATE

    def problems(self) -> list[str]:
        """Plain sentences for choices that cannot be written."""
        out = []
        if self.format not in FORMATS:
            out.append(f"The format must be one of {', '.join(FORMATS)}")
        if self.bit_depth not in (8, 16):
            out.append("The bit depth must be 8 or 16")
        elif self.bit_depth == 16 and self.format in ("jpeg", "webp"):
            out.append(f"{self.format.upper()} holds 8 bits per channel; choose PNG or TIFF")
        if self.colour not in COLOURS:
            out.append(f"The colour space must be one of {', '.join(COLOURS)}")
        if self.metadata not in METADATA:
            out.append(f"Metadata must be one of {', '.join(METADATA)}")
        if not 1 <= self.quality <= 100:
            out.append("The quality must be between 1 and 100")
        if self.long_side < 0 or self.sharpen < 0:
            out.append("The long side and the sharpening cannot be negative")
        unknown = set(re.findall(r"{(\w*)}", self.template)) - set(TEMPLATE_FIELDS)
        if unknown:
            out.append(
                f"The name template uses {', '.join(sorted('{' + u + '}' for u in unknown))}; "
                f"it may use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
            )
        return out


def file_name(opts: ExportOptions, source: Path, n: int, size: tuple[int, int]) -> str:
    from retouchdesk.core import imageio

    ext = imageio.extension_for(opts.format)
    name = opts.template.format(
        stem=source.stem,
        n=n,
        date=time.strftime("%Y%m%d"),
        ext=ext,
        format=opts.format,
        size=f"{size[0]}x{size[1]}",
    )
    if not name.lower().endswith(f".{ext}"):
        name += f".{ext}"
    return name.replace("/", "_")


def _space_of(icc: bytes | None) -> str | None:
    """ "srgb", "p3" or None (another profile) for a source's embedded profile."""
    from retouchdesk.core import iccprofiles

    if not icc:
        return "srgb"  # untagged pixels are taken as sRGB everywhere in the app
    if icc == iccprofiles.display_p3():
        return "p3"
    try:
        from PIL import ImageCms

        desc = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except Exception:
        return None
    low = (desc or "").lower()
    if "srgb" in low:
        return "srgb"
    if "p3" in low:
        return "p3"
    return None


def _target_icc(colour: str) -> bytes:
    from retouchdesk.core import iccprofiles, imageio

    return imageio.srgb_profile() if colour == "srgb" else iccprofiles.display_p3()


def _convert(arr: np.ndarray, icc: bytes | None, colour: str) -> np.ndarray:
    """Pixels converted from the source's profile to ``colour`` ("srgb" or "p3")."""
    import numpy as np

    from retouchdesk.core import iccprofiles

    if arr.ndim == 2 or arr.shape[2] < 3:  # grey: nothing to convert
        return arr
    src = _space_of(icc)
    if src is not None:  # exact: one matrix in linear light, 8 or 16 bits
        return iccprofiles.convert_pixels(arr, src, colour)
    if arr.dtype == np.uint16:
        raise OutputError(
            "16-bit export converts between sRGB and Display P3 only; this photo has another "
            "profile: keep its colour space, or export 8 bits"
        )
    from PIL import Image, ImageCms

    rgb = Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")
    out = ImageCms.profileToProfile(
        rgb,
        ImageCms.ImageCmsProfile(io.BytesIO(icc or b"")),
        ImageCms.ImageCmsProfile(io.BytesIO(_target_icc(colour))),
        outputMode="RGB",
    )
    assert out is not None
    res = np.asarray(out)
    return np.concatenate([res, arr[..., 3:]], axis=-1) if arr.shape[2] == 4 else res


def _resize(arr: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    h, w = arr.shape[:2]
    if not long_side or max(w, h) == long_side:
        return arr
    scale = long_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    how = cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4
    return cv2.resize(arr, size, interpolation=how)


def _sharpen(arr: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask at a radius for output (about a pixel): detail lost to resizing."""
    import numpy as np

    if amount <= 0:
        return arr
    import cv2

    peak = 65535.0 if arr.dtype == np.uint16 else 255.0
    f = arr.astype(np.float32)
    blurred = cv2.GaussianBlur(f, (0, 0), 1.0)
    out = f + amount * (f - blurred)
    if arr.ndim == 3 and arr.shape[2] == 4:
        out[..., 3] = f[..., 3]
    return np.clip(np.round(out), 0, peak).astype(arr.dtype)


def export(
    source: Path, folder: Path, opts: ExportOptions, *, n: int = 1, report: dict | None = None
) -> Path:
    """Write ``source`` (a version) into ``folder`` as ``opts`` say; never over an existing file.

    Raises :class:`OutputError` (one sentence) when the options cannot be written.
    """
    import numpy as np

    from retouchdesk.core import imageio

    problems = opts.problems()
    if problems:
        raise OutputError(problems[0])
    meta = imageio.read_meta(source)
    arr = imageio.load_array(source, keep_16bit=opts.bit_depth == 16)
    if opts.bit_depth == 8 and arr.dtype == np.uint16:
        arr = (arr.astype(np.uint32) * 255 + 32767) // 65535
        arr = arr.astype(np.uint8)
    if opts.bit_depth == 16 and arr.dtype == np.uint8:
        arr = arr.astype(np.uint16) * 257  # exact: 255 -> 65535
    arr = _sharpen(_resize(arr, opts.long_side), opts.sharpen)
    icc: bytes | None = None
    if opts.colour != "keep":
        arr = _convert(arr, meta.icc, opts.colour)
        # sRGB without metadata needs no label (untagged is sRGB); Display P3 always does.
        if opts.metadata != "none" or opts.colour == "p3":
            icc = _target_icc(opts.colour)
    policy = imageio.OutputPolicy(
        format=opts.format,
        jpeg_quality=opts.quality,
        keep_exif=opts.metadata != "none",
        keep_icc=opts.metadata != "none" or opts.colour == "keep",
        keep_xmp=opts.metadata != "none",
        keep_gps=opts.metadata == "all",
    )
    folder.mkdir(parents=True, exist_ok=True)
    size = (int(arr.shape[1]), int(arr.shape[0]))
    dest = folder / file_name(opts, source, n, size)
    k = 2
    while dest.exists():
        dest = dest.with_name(f"{Path(file_name(opts, source, n, size)).stem}_{k}{dest.suffix}")
        k += 1
    if imageio.same_file(source, dest):
        raise OutputError(f"{dest.name}: refusing to write over the version itself")
    return imageio.save_result(
        arr, source=source, destination=dest, policy=policy, report=report, icc_override=icc
    )
