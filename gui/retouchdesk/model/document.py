"""The photo shown on the canvas: decoded, oriented and colour-managed off the GUI thread."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from retouchdesk.model.display import DisplayImage, load_display
from retouchdesk.model.tasks import TaskRunner

log = logging.getLogger(__name__)


class DocumentModel(QObject):
    """Loads the current photo for display; a newer request cancels an older one.

    Signals:
        image_changed(): ``image`` is a new DisplayImage (or None).
        loading_changed(bool)
        error_changed(str): a plain sentence when the photo cannot be shown.
    """

    image_changed = Signal()
    loading_changed = Signal(bool)
    error_changed = Signal(str)

    CACHE = 4  # decoded photos kept for quick flipping through the filmstrip ...
    CACHE_BYTES = 512 * 1024 * 1024  # ... within this much memory (a 24 MP photo: ~130 MB)

    def __init__(
        self, runner: TaskRunner, display_profile: Path | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._profile = display_profile
        self._image: DisplayImage | None = None
        self._path: Path | None = None
        self._loading = False
        self._error = ""
        self._cache: OrderedDict[Path, DisplayImage] = OrderedDict()

    @property
    def image(self) -> DisplayImage | None:
        return self._image

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def error(self) -> str:
        return self._error

    def open(self, path: Path | None) -> None:
        self._path = path
        self._set_error("")  # a new photo: an earlier photo's failure no longer applies
        if path is None:
            self._set_image(None)
            return
        cached = self._cache.get(path)
        if cached is not None:
            self._cache.move_to_end(path)
            self._set_image(cached)
            return
        self._runner.spawn(self._load(path), name="document:open", preempt=True)

    def forget(self, path: Path) -> None:
        """Drop a cached decode (the file changed on disk)."""
        self._cache.pop(path, None)

    async def _load(self, path: Path) -> None:
        self._set_loading(True)
        try:
            img = await self._runner.in_thread(load_display, path, self._profile)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if path != self._path:
                return  # the user moved on; the next photo's load reports its own state
            msg = str(exc) if str(exc).startswith(path.name) else f"{path.name}: {exc}"
            self._set_error(msg)
            self._set_loading(False)
            return
        if path != self._path:
            return  # the user moved on while this decoded
        self._cache[path] = img
        while len(self._cache) > 1 and (
            len(self._cache) > self.CACHE or _cache_bytes(self._cache) > self.CACHE_BYTES
        ):
            self._cache.popitem(last=False)
        self._set_error("")
        self._set_image(img)
        self._set_loading(False)

    def _set_image(self, img: DisplayImage | None) -> None:
        self._image = img
        self.image_changed.emit()

    def _set_loading(self, v: bool) -> None:
        if v != self._loading:
            self._loading = v
            self.loading_changed.emit(v)

    def _set_error(self, msg: str) -> None:
        if msg != self._error:
            self._error = msg
            self.error_changed.emit(msg)


def _cache_bytes(cache: OrderedDict[Path, DisplayImage]) -> int:
    return sum(q.sizeInBytes() for img in cache.values() for q in img.levels)
