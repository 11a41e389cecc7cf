"""Inputs for YouCam: the per-task limits checked before any upload, downscaling, file bytes.

YouCam accepts ``image/jpg``, ``image/jpeg``, ``image/png`` and ``video/mp4`` uploads, under
10 MB (100 MB for video) and within each task's pixel limits (the seed's table, carried by the
operation schema). Everything is checked here *before* the first byte is sent. A photo
too large is fitted before it gets here, by the engine's one fit path (``services.inputs``,
the job option ``fit_limits``) that the window and ``retouchdesk run --fit`` share.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError
from retouchdesk.core.mask import load_mask
from retouchdesk.core.schema import Operation


@dataclass(frozen=True)
class InputCheck:
    """What is wrong with an input for a task."""

    path: Path
    width: int
    height: int
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def sentence(self, what: str = "The photo") -> str:
        return f"{what} {self.path.name} cannot be sent: {'; '.join(self.problems)}"


@dataclass
class Prepared:
    """The bytes to upload for one file and how to announce them."""

    data: bytes
    content_type: str
    file_name: str
    width: int = 0
    height: int = 0
    duration: float | None = None
    meta: dict[str, object] = field(default_factory=dict)


def video_info(path: Path) -> tuple[int, int, float]:
    """Width, height and duration (s) of a video, read with OpenCV."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path.name} is not a video YouCam can read")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    finally:
        cap.release()
    if w <= 0 or h <= 0:
        raise InputError(f"{path.name} is not a video YouCam can read")
    return w, h, (frames / fps if fps > 0 else 0.0)


def check_input(op: Operation, path: Path | str) -> InputCheck:
    """The task's limits applied to ``path`` (no network, header-only for photos)."""
    path = Path(path)
    lim = op.limits
    if op.input_kind == "video":
        fmt = path.suffix.lower().lstrip(".")
        w, h, duration = video_info(path)
        size = path.stat().st_size
        problems = lim.problems(width=w, height=h, fmt=fmt, size_bytes=size)
        if lim.max_duration and duration > lim.max_duration:
            problems.append(
                f"the video lasts {duration:.0f} s, the limit is {lim.max_duration:g} s"
            )
        return InputCheck(path, w, h, tuple(problems))
    info = imageio.probe(path)
    problems = lim.problems(
        width=info.width, height=info.height, fmt=info.format, size_bytes=info.size_bytes
    )
    return InputCheck(path, info.width, info.height, tuple(problems))


def _encode(im: Image.Image, prefer_png: bool) -> tuple[bytes, str, str]:
    buf = io.BytesIO()
    if prefer_png:
        im.save(buf, "PNG")
        return buf.getvalue(), "image/png", ".png"
    im.convert("RGB").save(buf, "JPEG", quality=95)
    return buf.getvalue(), "image/jpeg", ".jpg"


def prepare_image(path: Path, op: Operation, *, what: str = "The photo") -> Prepared:
    """Check ``path`` against the task's limits and return the bytes to upload.

    JPEG and PNG files already upright are sent as they are; HEIC, rotated (EXIF orientation)
    and other files are re-encoded upright, since YouCam takes only JPEG and PNG and masks are
    drawn on the upright image.
    """
    check = check_input(op, path)
    if not check.ok:
        raise InputError(check.sentence(what))
    info = imageio.probe(path)
    if info.format in ("jpeg", "png") and info.orientation == 1:
        data = path.read_bytes()
        ctype = "image/png" if info.format == "png" else "image/jpeg"
        name = path.stem + (".png" if info.format == "png" else ".jpg")
    else:
        im = imageio.load_image(path).image
        png_ok = "png" in op.limits.formats
        data, ctype, ext = _encode(im, png_ok and im.mode in ("RGBA", "LA"))
        name = path.stem + ext
    if op.limits.max_bytes and len(data) > op.limits.max_bytes:
        raise InputError(
            f"{what} {path.name} is {len(data) / 1e6:.1f} MB once converted, "
            f"the limit is {op.limits.max_bytes / 1e6:g} MB"
        )
    return Prepared(data, ctype, name, info.width, info.height)


def prepare_mask(path: Path, size: tuple[int, int]) -> Prepared:
    """A greyscale PNG mask of exactly ``size`` (white = selected); a wrong size is refused."""
    mask = load_mask(path, size)
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8), "L").save(buf, "PNG")
    return Prepared(buf.getvalue(), "image/png", Path(path).stem + "_mask.png", *size)


def prepare_video(path: Path, op: Operation) -> Prepared:
    check = check_input(op, path)
    if not check.ok:
        raise InputError(check.sentence("The video"))
    _w, _h, duration = video_info(path)
    # YouCam's upload takes video/mp4 only; MOV/M4V share the MPEG-4 container family.
    return Prepared(
        path.read_bytes(), "video/mp4", path.stem + ".mp4", check.width, check.height, duration
    )


def pixel_hash(path: Path | str) -> str | None:
    """A hash of the decoded pixels: survives metadata edits and lossless re-saves."""
    try:
        im = imageio.load_image(path).image.convert("RGB")
    except Exception:
        return None
    h = hashlib.sha256(f"{im.width}x{im.height}".encode())
    h.update(im.tobytes())
    return h.hexdigest()


class ResultIndex:
    """Results YouCam still holds (``dst_id``, 30 days), found again by their pixels.

    When a result of an earlier task is the input of the next one (a chain), the task uses
    the ``dst_id`` instead of uploading the file again.
    """

    TTL = 29 * 24 * 3600.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def remember(self, digest: str, account: str, dst_id: str) -> None:
        with self._lock:
            data = self._load()
            now = time.time()
            data = {k: v for k, v in data.items() if now - float(v.get("time", 0)) < self.TTL}
            data[f"{account}/{digest}"] = {"dst_id": dst_id, "time": now}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), "utf-8")
            os.replace(tmp, self.path)

    def lookup(self, digest: str | None, account: str) -> str | None:
        if not digest:
            return None
        with self._lock:
            item = self._load().get(f"{account}/{digest}")
        if item and time.time() - float(item.get("time", 0)) < self.TTL:
            return str(item["dst_id"])
        return None


class FileCounter:
    """A persistent counter in a file, for when no job store is passed in (tools, tests)."""

    def __init__(self, path: Path, start: int = 0) -> None:
        self.path = path
        self.start = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            try:
                value = int(self.path.read_text("ascii").strip()) + 1
            except (OSError, ValueError):
                value = self.start
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(value), "ascii")
            os.replace(tmp, self.path)
            return value
