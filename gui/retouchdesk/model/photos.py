"""The open photos (the filmstrip) and which one is current.

Thumbnails are made in worker threads through :class:`TaskRunner`; rows appear immediately
with a placeholder and fill in as thumbnails arrive, so dropping a folder of 200 photos never
blocks the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from retouchdesk.model.thumbnails import ThumbnailCache
from retouchdesk.services.walk import IMAGE_EXTENSIONS, find_photos

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = IMAGE_EXTENSIONS
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
SIZE_ROLE = Qt.ItemDataRole.UserRole + 2
VERSIONS_ROLE = Qt.ItemDataRole.UserRole + 3
ERROR_ROLE = Qt.ItemDataRole.UserRole + 4  # why the photo cannot be read ("" when it can)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand_paths(paths: list[Path], *, skip_dirs: tuple[str, ...] = ("retouched",)) -> list[Path]:
    """Files as given, folders walked recursively (:func:`services.walk.find_photos`).

    The window walks folders itself, a slice at a time (:class:`model.opening.FolderScan`);
    this is the synchronous form for a few paths.
    """
    return list(find_photos(paths, skip_dirs=skip_dirs))


def _key(p: Path) -> str:
    return p.name.lower()


@dataclass
class Photo:
    path: Path
    versions: int = 0


class PhotosModel(QAbstractListModel):
    """List model of the open photos.

    Signals:
        current_changed(str): path of the current photo ("" when none).
        count_changed(int)
    """

    current_changed = Signal(str)
    count_changed = Signal(int)

    def __init__(self, thumbs: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        thumbs.ready.connect(self._thumb_ready)
        self._photos: list[Photo] = []
        self._index: dict[Path, int] = {}
        self._current = -1

    # -- Qt model ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._photos)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._photos):
            return None
        ph = self._photos[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return ph.path.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.pixmap(ph.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            sz = self.thumbs.size(ph.path)
            size = f"\n{sz[0]} × {sz[1]} px" if sz else ""
            err = self.thumbs.error(ph.path)
            ver = f"\n{ph.versions} result(s)" if ph.versions else ""
            return f"{ph.path}{size}{ver}" + (f"\n{err}" if err else "")
        if role == PATH_ROLE:
            return str(ph.path)
        if role == SIZE_ROLE:
            return self.thumbs.size(ph.path)
        if role == VERSIONS_ROLE:
            return ph.versions
        if role == ERROR_ROLE:
            return self.thumbs.error(ph.path)
        return None

    # -- API --------------------------------------------------------------------------------
    @property
    def paths(self) -> list[Path]:
        return [p.path for p in self._photos]

    def photo(self, path: Path) -> Photo | None:
        i = self._index.get(path)
        return None if i is None else self._photos[i]

    def row_of(self, path: Path) -> int:
        return self._index.get(path, -1)

    @property
    def current_row(self) -> int:
        return self._current

    @property
    def current_path(self) -> Path | None:
        return self._photos[self._current].path if 0 <= self._current < len(self._photos) else None

    def set_current_row(self, row: int) -> None:
        if row == self._current or not -1 <= row < len(self._photos):
            return
        self._current = row
        path = self.current_path
        self.current_changed.emit(str(path) if path else "")

    def set_current_path(self, path: Path) -> None:
        self.set_current_row(self.row_of(path))

    def add_paths(self, paths: list[Path], *, make_current: bool = True) -> list[Path]:
        """Add photos (folders expanded); returns the photos that were new. Thumbnails follow."""
        files = [p.resolve() for p in expand_paths(paths)]
        new = [p for p in dict.fromkeys(files) if p not in self._index]
        if new:
            first = len(self._photos)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for p in new:
                self._index[p] = len(self._photos)
                self._photos.append(Photo(p))
            self.endInsertRows()
            self.count_changed.emit(len(self._photos))
            for p in new:
                self.thumbs.request(p)
        if make_current and files:
            self.set_current_path(files[0] if not new else new[0])
        return new

    def remove_row(self, row: int) -> None:
        if not 0 <= row < len(self._photos):
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._photos[row]
        self.endRemoveRows()
        self._index = {p.path: i for i, p in enumerate(self._photos)}
        self.count_changed.emit(len(self._photos))
        if self._current >= len(self._photos) or self._current == row:
            self._current = -1
            self.set_current_row(min(row, len(self._photos) - 1))

    def set_versions(self, path: Path, count: int) -> None:
        i = self._index.get(path)
        if i is not None and self._photos[i].versions != count:
            self._photos[i].versions = count
            idx = self.index(i)
            self.dataChanged.emit(idx, idx, [VERSIONS_ROLE])

    def _thumb_ready(self, path: str) -> None:
        i = self._index.get(Path(path))
        if i is not None:
            idx = self.index(i)
            self.dataChanged.emit(idx, idx)

    def thumbnails_ready(self) -> bool:
        return all(
            self.thumbs.size(p.path) is not None or self.thumbs.error(p.path) for p in self._photos
        )
