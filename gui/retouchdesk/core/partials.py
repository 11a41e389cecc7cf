"""Temporary ``.part`` files of atomic writes, and cleaning up the ones a killed run left.

Results are written to a hidden temporary file beside the destination and renamed over it
(:func:`retouchdesk.core.imageio.save_result`, :func:`retouchdesk.services.jobfiles.copy_atomic`).
A process killed between the two leaves the temporary file behind, in the user's output
folder. Their names carry the writer's process id, ``.<stem>.<pid>-<8 hex>.part``, so a later
run can tell a leftover from a file another live process is writing right now.

:func:`sweep` removes, once per folder and process, only files that match our own name
patterns, were last modified before this process started, and whose writer is no longer
running (names of older versions, without a pid, count as leftovers by age alone).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path

log = logging.getLogger("retouchdesk.files")

#: When this process started (well enough: before it could write any temporary file).
STARTED = time.time()

_OURS = re.compile(
    r"^\.(?P<stem>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{8}\.part$"  # core.imageio, jobfiles
)
_swept: set[str] = set()
_swept_lock = threading.Lock()


def temp_name(folder: Path, stem: str) -> Path:
    """A fresh temporary name for ``stem`` in ``folder`` (``.<stem>.<pid>-<hex>.part``)."""
    return folder / f".{stem}.{os.getpid()}-{secrets.token_hex(4)}.part"


def is_ours(name: str) -> bool:
    """Whether a file name is one of our temporary names."""
    return _OURS.match(name) is not None


def sweep(folder: Path, *, started: float | None = None) -> list[Path]:
    """Remove leftover temporary files in ``folder`` once per process; returns what went.

    Never raises: cleaning up must not stop the write that asked for it.
    """
    key = str(folder)
    with _swept_lock:
        if key in _swept:
            return []
        _swept.add(key)
    return sweep_now(folder, started=STARTED if started is None else started)


def sweep_now(folder: Path, *, started: float) -> list[Path]:
    """The sweep itself (no once-per-process memory): see :func:`sweep`."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _OURS.match(entry.name)
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= started:
                continue  # written since this process started: maybe in progress
        except OSError:
            continue
        pid = m.group("pid")
        if pid is not None and _running(int(pid)):
            continue  # its writer still runs (another window or CLI)
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    if removed:
        log.info("removed %d leftover temporary file(s) in %s", len(removed), folder)
    return removed


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process other than this one (unsure counts as running)."""
    if pid == os.getpid():
        return False  # older than this process, so written by an earlier one with our pid
    if os.name == "nt":
        return True  # os.kill would terminate it there; age alone is not enough to delete
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError, OverflowError):
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
