"""Saving and loading the live masks off the GUI thread, one at a time, in the order asked.

A 24-megapixel mask takes 0.1-0.7 s to encode or decode as PNG; done on the GUI thread at
every photo switch, the window froze that long. :class:`MaskFiles` runs every save and load
of :class:`~retouchdesk.services.masks.MaskLibrary` in one worker thread, first come first
served, so that

* a load of photo A queued after a save of A reads what that save wrote, never an older file;
* the newest mask of a photo whose save is still queued or running is kept in memory
  (:meth:`unsaved`) and is what a quick return to that photo shows, without waiting;
* :meth:`flush` waits for everything queued (the window closing, a job frozen from a file).

Without a worker (``threaded=False``: the CLI and model tests) every call runs at once in
the caller's thread and returns a finished future.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from retouchdesk.services.masks import MaskLibrary

log = logging.getLogger(__name__)

T = TypeVar("T")


class MaskFiles:
    """The live masks' file work, serialised in one worker thread (see the module docstring)."""

    def __init__(self, library: MaskLibrary, *, threaded: bool = True) -> None:
        self.library = library
        self._pool: ThreadPoolExecutor | None = None
        if threaded:
            from retouchdesk.model.tasks import lower_thread_priority

            self._pool = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="retouchdesk-mask",
                initializer=lower_thread_priority,
            )
        self._lock = threading.Lock()
        self._unsaved: dict[Path, np.ndarray] = {}

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        if self._pool is not None:
            return self._pool.submit(fn, *args, **kwargs)
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    def save(self, photo: Path, mask: np.ndarray) -> Future[Path | None]:
        """Queue writing ``mask`` (which nobody edits any more) as the live mask of ``photo``."""
        with self._lock:
            self._unsaved[photo] = mask
        return self._submit(self._write, photo, mask)

    def _write(self, photo: Path, mask: np.ndarray) -> Path | None:
        path = self.library.save(photo, mask)
        with self._lock:
            # A newer save of the same photo may be queued behind this one: it stays listed.
            # A failed write (disk full) raises above and keeps the mask listed, in memory.
            if self._unsaved.get(photo) is mask:
                del self._unsaved[photo]
        return path

    def unsaved(self, photo: Path) -> np.ndarray | None:
        """The newest mask of ``photo`` not yet on disk (read-only), or None."""
        with self._lock:
            return self._unsaved.get(photo)

    def pending(self, photo: Path) -> bool:
        return self.unsaved(photo) is not None

    def load(
        self, photo: Path, size: tuple[int, int], *, source: Path | None = None
    ) -> Future[np.ndarray | None]:
        """Queue reading the saved mask of ``photo`` (after every save queued before)."""
        return self._submit(self.library.load, photo, size, source=source)

    def has_saved(self, photo: Path, source: Path | None = None) -> bool:
        """True when a load could find something: a file, or a save on its way (a stat)."""
        for p in (photo, source):
            if p is not None and (self.pending(p) or self.library.photo_path(p).is_file()):
                return True
        return False

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every queued save and load has finished (blocks the caller)."""
        if self._pool is None:
            return
        try:
            self._pool.submit(lambda: None).result(timeout)
        except Exception:
            log.exception("waiting for the masks to be written failed")
