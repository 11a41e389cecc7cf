"""Raw pixels handed from an offline worker process to the engine: an uncompressed ``.npy`` file.

A worker used to write its result as a PNG (zlib level 6) that the engine decoded again, only to
encode it once more in the output format: at 24 megapixels that hand-over cost several seconds,
more than most fills. An ``.npy`` file is the array's bytes behind a small header: written and
read at the speed of the page cache, lossless for 8 and 16 bits, with or without alpha. The
engine encodes once, in the output format, with the source's metadata (``core.resultwrite``).

Only the engine's scratch folder holds these files; they are never a user's result.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the app names the suffix before it needs numpy
    import numpy as np

SUFFIX = ".npy"


def is_handover(path: Path | str) -> bool:
    return Path(path).suffix.lower() == SUFFIX


def save(arr: np.ndarray, path: Path | str) -> Path:
    """Write ``arr`` (HxW[xC], uint8/uint16) to ``path`` atomically (temporary file, rename)."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def load(path: Path | str) -> np.ndarray:
    """The array of a hand-over file (no pickled objects are ever read)."""
    import numpy as np

    arr = np.load(Path(path), allow_pickle=False)
    if arr.dtype not in (np.uint8, np.uint16) or arr.ndim not in (2, 3):
        raise ValueError(f"{Path(path).name}: not an image array ({arr.dtype}, {arr.shape})")
    return arr


def has_alpha(path: Path | str) -> bool:
    """Whether the handed-over pixels carry alpha (2 or 4 channels), from the header alone."""
    import numpy as np

    arr = np.load(Path(path), mmap_mode="r", allow_pickle=False)
    return arr.ndim == 3 and arr.shape[2] in (2, 4)
