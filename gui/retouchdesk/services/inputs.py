"""What a provider receives: the checked photo, or an upright copy it can use.

Run in a worker thread by the job engine before anything is uploaded:

1. **Refuse cheaply**: the size limits are checked from the header (a 571 KB file declaring
   196 megapixels is refused before it costs 850 MB of decoding), probed once; only then is
   the photo decoded, once: for the check alone, or for the copy below, whose decode is the
   check. A damaged file fails here and not at the vendor. The offline engine's worker
   decodes the photo anyway, so a local job's photo is not decoded here too.
2. **Upright everywhere**: cloud services ignore the EXIF orientation tag, so every remote
   provider (uploaded or URL-hosted, like Enhancor) receives an upright copy with the tag reset
   whenever the photo is stored rotated. The copy is also made when the photo's format is one
   the operation does not accept (a TIFF for Enhancor: PNG or JPEG instead), when it has 16 bits
   (cloud services take 8), and when it must be downscaled to the operation's limits. The
   offline engine reads every format itself and applies the orientation on load, so it gets
   the photo as it is (or a downscaled upright copy), keeping 16 bits.

Masks are drawn on the upright image, so they match the copy as they are. The job's output
folder is proved writable here too (:func:`prepare_for_job`), before anything is uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError, RetouchError
from retouchdesk.core.jobs import JobRecord
from retouchdesk.core.schema import Operation, ParamKind
from retouchdesk.services.jobfiles import WritableFolders, file_size
from retouchdesk.services.jobspec import FIT_LIMITS

_LOSSLESS_SOURCES = frozenset({"png", "tiff", "bmp", "gif"})


@dataclass
class Prepared:
    """The file to send and what was done to get it."""

    send: Path
    sent_size: tuple[int, int] | None = None  # set when a downscaled copy is sent
    notes: list[str] = field(default_factory=list)
    photo_size: tuple[int, int] | None = None  # the photo's own (upright), with sent_size


@dataclass
class LimitCheck:
    """One photo against an operation's limits, as it would be sent (header only).

    ``fit_size`` is the size of the copy that would fit when downscaling fixes every problem
    (``fixable``); the window offers it, ``retouchdesk run --fit`` sends it, both through the
    job option ``fit_limits`` and :func:`prepare_image`.
    """

    path: Path
    problems: list[str] = field(default_factory=list)
    fixable: bool = False
    fit_size: tuple[int, int] | None = None
    size: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_limits(path: Path, op: Operation, *, local: bool) -> LimitCheck:
    """Check ``path`` against ``op``'s limits from its header, in the format it would be sent.

    A remote provider gets a copy in a format it accepts (see the module text), so a refused
    format is no problem here; an unreadable file is one problem, not fixable.
    """
    try:
        info = imageio.probe(path)
    except RetouchError as exc:
        return LimitCheck(path, [str(exc)])
    return _check(path, info, op, local=local)


def _check(path: Path, info: imageio.ImageInfo, op: Operation, *, local: bool) -> LimitCheck:
    fmt = info.format if local else _copy_format(info, op)
    problems = op.limits.problems(
        width=info.width, height=info.height, fmt=fmt, size_bytes=info.size_bytes
    )
    fixable = op.limits.downscale_fixes(problems)
    fit = fit_size(info, op) if fixable else None
    return LimitCheck(path, problems, fixable, fit, (info.width, info.height))


def fit_size(info: imageio.ImageInfo, op: Operation) -> tuple[int, int]:
    """The size of a copy within ``op``'s pixel limits and, roughly, its file size limit.

    Pixels first (``Limits.fit_size``); when they fit but the file is too large, the sides
    shrink by the square root of the ratio with a margin (bytes scale roughly with pixels);
    the copy is checked again once written.
    """
    lim = op.limits
    size = lim.fit_size(info.width, info.height)
    if size == (info.width, info.height) and lim.max_bytes and info.size_bytes > lim.max_bytes:
        k = max(0.1, min(0.95, (lim.max_bytes / info.size_bytes) ** 0.5 * 0.9))
        size = (max(1, int(info.width * k)), max(1, int(info.height * k)))
    return size


def prepare_image(path: Path, op: Operation, work_dir: Path, *, fit: bool, local: bool) -> Prepared:
    """Check ``path`` against ``op``'s limits and decide what to send (see the module text)."""
    name = path.name
    info = imageio.probe(path)  # header only
    copy_format = None if local else _copy_format(info, op)
    check = _check(path, info, op, local=local)
    problems = check.problems
    size: tuple[int, int] | None = None
    if problems and fit and check.fixable:
        size = check.fit_size
        problems = []  # the copy is checked below
    if problems:
        raise InputError(f"{name} cannot be used for {op.label}: " + "; ".join(problems))
    needs_copy = size is not None or (
        not local and (info.orientation != 1 or copy_format != info.format or info.bit_depth > 8)
    )
    if not needs_copy:
        if not local:  # the offline worker decodes the photo itself and says what is wrong
            # The one decode (or a PNG's cheaper proof): a damaged file fails before upload.
            imageio.check_decodes(path, info)
        return Prepared(send=path)
    work_dir.mkdir(parents=True, exist_ok=True)
    out_format = copy_format or _local_copy_format(info)
    send, notes = upright_copy(path, work_dir, out_format, size=size, eight_bit=not local)
    if not local:
        if info.orientation != 1:
            notes.append("sent upright (the EXIF orientation applied, the tag reset)")
        if out_format != info.format:
            notes.append(f"sent as {out_format.upper()} ({info.format.upper()} not accepted)")
        if info.bit_depth > 8:
            notes.append(f"sent with 8 bits per channel (the photo has {info.bit_depth})")
    copy = imageio.probe(send)
    problems = op.limits.problems(
        width=copy.width, height=copy.height, fmt=copy.format, size_bytes=copy.size_bytes
    )
    if problems:
        raise InputError(f"{name} cannot be used for {op.label}: " + "; ".join(problems))
    if size is None:
        return Prepared(send=send, notes=notes)
    return Prepared(send, (copy.width, copy.height), notes, (info.width, info.height))


def fit_masks(
    op: Operation, params: dict[str, Any], prepared: Prepared, work_dir: Path
) -> dict[str, Any]:
    """Mask parameters resampled for the downscaled copy sent instead of the photo.

    A mask is drawn on the upright photo and must have its size (as when nothing is fitted);
    the copy has the photo's framing, so the mask is resampled (area averaging) into the
    job's scratch folder. Returns the changed values (none when no copy was downscaled).
    """
    if prepared.sent_size is None or prepared.photo_size is None:
        return {}
    from PIL import Image

    from retouchdesk.core.composite import resample_mask
    from retouchdesk.core.mask import load_mask

    changed: dict[str, Any] = {}
    for p in op.params:
        value = params.get(p.name)
        if p.kind is not ParamKind.MASK or not value:
            continue
        mask = load_mask(value, prepared.photo_size)
        dest = work_dir / f"{Path(value).stem}.fitted.png"
        Image.fromarray(resample_mask(mask, *prepared.sent_size), "L").save(dest)
        changed[p.name] = str(dest)
    return changed


@dataclass
class JobInput:
    """What the engine sends for one job, and what it notes about it."""

    send: Path
    fitted: dict[str, Any] = field(default_factory=dict)  # masks at a downscaled copy's size
    sent_size: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)

    def result_meta(self) -> dict[str, Any]:
        """What a result's metadata records about the file sent (a downscaled size, notes)."""
        meta: dict[str, Any] = {}
        if self.sent_size is not None:
            meta["sent_downscaled_to"] = list(self.sent_size)
        if self.notes:
            meta["input_notes"] = list(self.notes)
        return meta


def prepare_for_job(
    rec: JobRecord,
    op: Operation,
    params: dict[str, Any],
    work_dir: Path,
    *,
    local: bool,
    folders: WritableFolders,
) -> JobInput:
    """Everything a job checks before anything is uploaded (worker thread).

    The input and the file parameters (:func:`prepare_job_input`: the photo may be replaced
    by an upright or downscaled copy, the latter with the job option ``fit_limits``), the
    output folder (proved writable, once a minute) and the job's scratch folder.
    """
    job = prepare_job_input(
        rec.input_path, op, params, work_dir, fit=bool(rec.options.get(FIT_LIMITS)), local=local
    )
    folders.check(rec.output_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    return job


def prepare_job_input(
    path: Path, op: Operation, params: dict[str, Any], work_dir: Path, *, fit: bool, local: bool
) -> JobInput:
    """Check a job's input and file parameters before anything is uploaded (worker thread).

    A photo goes through :func:`prepare_image` (and its masks through :func:`fit_masks` when a
    downscaled copy is sent); another input (a video) is checked for its format and file
    size. A file parameter (a mask, a reference photo) that does not exist is refused.
    """
    name = path.name
    if op.input_kind == "image":
        prepared = prepare_image(path, op, work_dir, fit=fit, local=local)
        job = JobInput(prepared.send, {}, prepared.sent_size, list(prepared.notes))
    else:
        problems = op.limits.problems(
            width=0, height=0, fmt=path.suffix or "?", size_bytes=file_size(path)
        )
        problems = [p for p in problems if "px" not in p and "megapixels" not in p]
        if problems:
            raise InputError(f"{name} cannot be used for {op.label}: " + "; ".join(problems))
        prepared, job = None, JobInput(path)
    for p in op.file_params:
        value = params.get(p.name)
        if value and not Path(value).is_file():
            raise InputError(f"The {p.label.lower()} file {value} for {name} does not exist")
    if prepared is not None:
        # Masks drawn on the photo go with the smaller copy at its size (the job keeps
        # recording the photo's own masks).
        job.fitted = fit_masks(op, params, prepared, work_dir)
    return job


def _copy_format(info: imageio.ImageInfo, op: Operation) -> str:
    """The format a remote provider gets: the photo's own when accepted and writable."""
    accepted = [f for f in op.limits.formats if f in imageio.WRITE_FORMATS] or ["jpeg"]
    if info.format in accepted:
        return info.format
    lossless = info.format in _LOSSLESS_SOURCES or info.has_alpha
    for fmt in ("png", "jpeg", "webp", "tiff") if lossless else ("jpeg", "png", "webp", "tiff"):
        if fmt in accepted:
            return fmt
    return accepted[0]


def _local_copy_format(info: imageio.ImageInfo) -> str:
    if info.format in imageio.WRITE_FORMATS:
        return info.format
    return "png" if info.format in _LOSSLESS_SOURCES or info.has_alpha else "jpeg"


def upright_copy(
    source: Path,
    folder: Path,
    fmt: str,
    *,
    size: tuple[int, int] | None = None,
    eight_bit: bool = True,
) -> tuple[Path, list[str]]:
    """``source`` upright (orientation applied, tag reset), maybe resized, in ``fmt``.

    The copy carries the photo's metadata like any result (EXIF with orientation 1, ICC, XMP).
    """
    try:
        pixels = imageio.load_pixels(source)  # the one decode, which is also the check
    except InputError:
        imageio.check_decodes(source)  # its sentence says best what is wrong with the file
        raise
    arr = pixels.array
    if eight_bit and arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if size is not None and size != pixels.size:
        # Only here: a photo sent upright at its own size (a rotated camera JPEG to a cloud
        # service) does not load OpenCV's 37 MB into the window process, nor hold the GIL
        # for its import while the window waits.
        import cv2

        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    if fmt == "jpeg" and arr.shape[2] == 4:
        fmt = "png"  # keep the alpha the operation may need
    kind = "fitted" if size is not None else "upright"
    dest = folder / f"{source.stem}.{kind}.{imageio.extension_for(fmt)}"
    report: dict = {}
    policy = imageio.OutputPolicy(format=fmt, jpeg_quality=95)
    imageio.save_result(arr, source=source, destination=dest, policy=policy, report=report)
    return dest, list(pixels.notes) + list(report.get("notes", []))
