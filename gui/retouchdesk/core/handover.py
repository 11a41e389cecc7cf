"""Raw pixels handed from an offline worker process to the engine: an uncompressed ``.npy`` file.

A worker used to write its result as a PNG (zlib level 6) that the engine decoded again, only to
encode it once more in the output format: at 24 megapixels that hand-over cost several seconds,
more than most fills. An ``.npy`` file is the array's bytes behind a small header: written and
read at the speed of the page cache, lossless for 8 and 16 bits, with or without alpha. The
engine encodes once, in the output format, with the source's metadata (``core.resultwrite``).

Only the engine's scratch folder holds these files; they are never a user's result.

**In memory when there is room.** Writing the file to the data disk cost the worker 0.12-0.21 s
at 24 MP on this machine (72 MB; 0.02-0.03 s on ``/dev/shm``), in every removal or tone job.
The worker therefore writes it to the job's folder in this user's private directory on the
RAM-backed file system (:func:`ram_root`), when the array is at most :data:`RAM_MAX_BYTES`,
that file system has room for twice it and the system has four times it available; otherwise
to the job's scratch folder on disk as before. The engine removes the RAM folder when the job
ends (:func:`discard`); one left by a killed run is swept later (:func:`sweep`). A job whose
hand-over was lost to a restart of the machine runs again: local work is free
(``services.resume``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the app names the suffix before it needs numpy
    import numpy as np

SUFFIX = ".npy"
RAM_ENV = "RETOUCHDESK_RAM_DIR"  # the RAM-backed file system ("/dev/shm" unless set)
RAM_MAX_BYTES = 512 * 1024 * 1024  # larger arrays go to disk: page cache can be evicted, RAM not
SWEEP_AGE_S = 6 * 3600  # a RAM folder untouched this long belongs to no running job


def is_handover(path: Path | str) -> bool:
    return Path(path).suffix.lower() == SUFFIX


def _ram_dir() -> Path | None:
    """Where this user's folder on the RAM-backed file system is (not checked nor made)."""
    getuid = getattr(os, "getuid", None)  # POSIX only
    if getuid is None:
        return None
    return Path(os.environ.get(RAM_ENV) or "/dev/shm") / f"retouchdesk-{getuid()}"


def ram_root() -> Path | None:
    """This user's private folder on the RAM-backed file system, made if missing; None when
    there is none, or the folder is not this user's own (then the disk is used)."""
    root = _ram_dir()
    if root is None or not root.parent.is_dir():
        return None
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(root)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # a link, someone else's, or open to others: never written into
    return root


def in_ram(path: Path, nbytes: int) -> Path:
    """Where the hand-over meant for ``path`` (in a job's scratch folder) is written: the same
    name in the job's RAM folder when :func:`ram_root` has room for ``nbytes``, else ``path``."""
    if nbytes > RAM_MAX_BYTES:
        return path
    root = ram_root()
    if root is None:
        return path
    try:
        fs = os.statvfs(root)
    except OSError:
        return path
    if fs.f_bavail * fs.f_frsize < 2 * nbytes:
        return path
    from retouchdesk.core.memory import available_bytes

    free = available_bytes()
    if free is not None and free < 4 * nbytes:
        return path  # memory is short: a file in RAM cannot be evicted, page cache can
    return root / path.parent.name / path.name


def discard(work_dir: Path) -> None:
    """Remove the RAM folder of the job whose scratch folder is ``work_dir``."""
    root = _ram_dir()
    if root is not None:
        shutil.rmtree(root / work_dir.name, ignore_errors=True)


def sweep(max_age_s: float = SWEEP_AGE_S) -> int:
    """Remove RAM folders left by runs that were killed (untouched for ``max_age_s``).

    Another process may be running jobs with folders here (the window and a command line
    at once), so only old folders go. Returns how many were removed.
    """
    root = ram_root()
    if root is None:
        return 0
    removed = 0
    now = time.time()
    for entry in list(os.scandir(root)):
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime > max_age_s:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed


def save(arr: np.ndarray, path: Path | str, *, ram: bool = False) -> Path:
    """Write ``arr`` (HxW[xC], uint8/uint16) to ``path`` atomically (temporary file, rename);
    with ``ram``, to its place in memory when there is room (:func:`in_ram`). Returns the path
    written."""
    import numpy as np

    path = Path(path)
    if ram:
        path = in_ram(path, arr.nbytes)
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
