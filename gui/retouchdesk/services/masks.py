"""Where painted masks are kept: per photo while editing, and frozen with every job.

Two kinds of files live under ``<data dir>/masks/``:

* ``photos/<key>/<stem>-painted-mask.png``: the mask being edited for a photo (``key`` is
  derived from the photo's absolute path), saved when the photographer switches photos or
  closes the window, so it is there again next time.
* ``jobs/<sha256>.png``: the exact mask a job was sent with, content-addressed so it never
  changes afterwards. The job's mask parameter names this file, so every result (a version
  of the photo) keeps the mask it was made with and can be re-run or compared, even after
  the photographer paints over the live mask.

Masks are greyscale PNGs of the photo's size, white = selected (``core.mask`` conventions),
so the same files can be exported, imported and handed to any provider.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from retouchdesk.core.errors import InputError
from retouchdesk.services import paths

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


def _png_bytes(mask: np.ndarray) -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), "L").save(buf, format="PNG")
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> Path:
    """Write through a unique temporary file: two saves of one mask may overlap in workers."""
    from retouchdesk.core import imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    # Our .part naming: what a killed save left is swept by the next save in the folder.
    fd, tmp = imageio.create_temp(path.parent, path.stem)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def same_framing(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when ``b`` is ``a`` scaled (an upscale or a downscale of the same photo).

    Scaling one size to the other's width must give its height within a pixel (and the other
    way round): resizers round each side, but a crop of even 1 % is a different framing, on
    which a resampled mask would drift off its object.
    """
    (aw, ah), (bw, bh) = a, b
    if min(aw, ah, bw, bh) <= 0:
        return False
    return abs(ah * bw / aw - bh) <= 1.0 and abs(aw * bh / ah - bw) <= 1.0


class MaskLibrary:
    """The mask files of the app (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.data_dir() / "masks"

    @staticmethod
    def key(photo: Path) -> str:
        return hashlib.sha256(str(Path(photo).resolve()).encode("utf-8")).hexdigest()[:32]

    def photo_path(self, photo: Path) -> Path:
        """The live mask file of ``photo``; its name is what the parameter panel shows."""
        return self.root / "photos" / self.key(photo) / f"{Path(photo).stem}-painted-mask.png"

    # -- the live mask of a photo -------------------------------------------------------------
    def save(self, photo: Path, mask: np.ndarray) -> Path | None:
        """Keep the mask of ``photo``; an empty mask removes the file instead."""
        from retouchdesk.core import mask as core_mask

        target = self.photo_path(photo)
        if core_mask.is_empty(mask):
            target.unlink(missing_ok=True)
            return None
        return _atomic_write(target, _png_bytes(mask))

    def load(
        self, photo: Path, size: tuple[int, int], *, source: Path | None = None
    ) -> np.ndarray | None:
        """The saved mask of ``photo`` at ``size``, or None.

        When ``photo`` has none but ``source`` (the photo it was made from, e.g. before an
        upscale) has one of the same framing, that mask is reused, resampled to ``size``.
        """
        own = self.photo_path(photo)
        theirs = self.photo_path(source) if source is not None else None
        if not own.is_file() and (theirs is None or not theirs.is_file()):
            # Most photos have no mask: asking costs a stat, not an OpenCV import (core.mask
            # loads cv2, 0.1 s holding the GIL, on the first queued photo of a session).
            return None
        from retouchdesk.core import mask as core_mask
        from retouchdesk.core.composite import resample_mask

        if own.is_file():
            try:
                return core_mask.load_mask(own, size)
            except InputError:
                pass  # the photo file changed size since: fall through to the source
        if theirs is not None and theirs.is_file():
            arr = core_mask.load_mask(theirs, _size(theirs))
            h, w = arr.shape
            if (w, h) == tuple(size):
                return arr
            if same_framing((w, h), size):
                return resample_mask(arr, size[0], size[1])
        return None

    def forget(self, photo: Path) -> None:
        self.photo_path(photo).unlink(missing_ok=True)

    # -- masks frozen with jobs ----------------------------------------------------------------
    def freeze(self, mask: np.ndarray) -> Path:
        """Write ``mask`` for a job; the same pixels always give the same, unchanging file."""
        data = _png_bytes(mask)
        path = self.root / "jobs" / f"{hashlib.sha256(data).hexdigest()}.png"
        if not path.is_file():
            _atomic_write(path, data)
        return path

    def for_result(self, mask_file: Path, size: tuple[int, int]) -> np.ndarray:
        """A job's mask at a result's size (an upscaled result gets the mask rescaled)."""
        from retouchdesk.core import mask as core_mask
        from retouchdesk.core.composite import resample_mask

        arr = core_mask.load_mask(mask_file, _size(mask_file))
        return resample_mask(arr, size[0], size[1])
