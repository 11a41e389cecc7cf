"""A shared cache of small previews made in worker threads (filmstrip, job panel, versions)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from retouchdesk.model.display import make_thumbnail
from retouchdesk.model.tasks import TaskRunner

log = logging.getLogger(__name__)


class ThumbnailCache(QObject):
    """Thumbnails by path; ``request`` starts one in a worker and ``ready`` announces it.

    Signals:
        ready(str): the thumbnail of this path is available (or failed: ``error(path)``).
    """

    ready = Signal(str)

    def __init__(self, runner: TaskRunner, limit: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self._runner = runner
        self._images: dict[Path, QImage] = {}
        self._pixmaps: dict[Path, QPixmap] = {}
        self._sizes: dict[Path, tuple[int, int]] = {}
        self._errors: dict[Path, str] = {}
        self._pending: set[Path] = set()
        self._limit = limit

    def pixmap(self, path: Path) -> QPixmap | None:
        """The thumbnail if ready (GUI thread); otherwise starts making it and returns None."""
        pm = self._pixmaps.get(path)
        if pm is not None:
            return pm
        img = self._images.get(path)
        if img is not None:
            pm = self._pixmaps[path] = QPixmap.fromImage(img)
            return pm
        self.request(path)
        return None

    def size(self, path: Path) -> tuple[int, int] | None:
        return self._sizes.get(path)

    def error(self, path: Path) -> str:
        return self._errors.get(path, "")

    def request(self, path: Path) -> None:
        if path in self._images or path in self._pending or path in self._errors:
            return
        self._pending.add(path)
        self._runner.spawn(self._make(path), name=f"thumb:{path}")

    def forget(self, path: Path) -> None:
        for d in (self._images, self._pixmaps, self._sizes, self._errors):
            d.pop(path, None)  # type: ignore[attr-defined]

    async def _make(self, path: Path) -> None:
        try:
            img, size = await self._runner.in_thread(make_thumbnail, path)
        except Exception as exc:  # unreadable: remembered, shown as the reason
            from retouchdesk.core.errors import RetouchError

            plain = str(exc) if isinstance(exc, RetouchError) else "it is damaged or not a photo"
            self._errors[path] = f"{path.name} cannot be read: {plain}"
            log.info("no thumbnail for %s: %s", path, exc)
        else:
            if len(self._images) >= self._limit:
                oldest = next(iter(self._images))
                self.forget(oldest)
            self._images[path] = img
            self._sizes[path] = size
        finally:
            self._pending.discard(path)
        self.ready.emit(str(path))

    def pending(self) -> int:
        return len(self._pending)
