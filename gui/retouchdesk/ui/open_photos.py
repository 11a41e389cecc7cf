"""Opening photos into the window: File › Open, Open Folder, Open Recent, paste and drop.

Folders are walked recursively with earlier results left out (``model.opening.FolderScan``);
a tree too big to walk at once goes on in the background with a count in the status bar and
the window's Stop button in sight. Every way in ends in :meth:`PhotoOpener.open_paths`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton

from retouchdesk.model.opening import FolderScan
from retouchdesk.model.photos import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow

MAX_RECENT = 12
OPEN_FILTER = "Photos (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"


class PhotoOpener:
    """Opens what the photographer points at and keeps the list of recent photos."""

    def __init__(self, window: MainWindow, stop_button: QPushButton) -> None:
        self.window = window
        self.model = window.model
        self.qsettings = window.qsettings
        self.stop_button = stop_button
        self._scan: FolderScan | None = None
        stop_button.clicked.connect(self.stop_scan)

    # -- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> list[Path]:
        """Open photos and folders (walked recursively, earlier results left out).

        Returns the photos that were new; a folder tree too big to walk at once continues in
        the background with a count and a Stop button, and returns [] here.
        """
        files = [p for p in paths if p.is_file()]
        for p in files + [p for p in paths if p.is_dir()]:
            self._add_recent(p)
        if self._scan is not None:
            self._scan.cancel()  # a new request replaces a scan still running
        scan = FolderScan(
            paths,
            skip_dirs=(self.model.output_subfolder(),),
            earlier_results=self.model.earlier_results(),
            parent=self.window,
        )
        if scan.run_briefly():
            return self._opened(paths, scan.found, stopped=False)
        self._scan = scan
        self.stop_button.show()
        self._scan_progress(len(scan.found))
        scan.progress.connect(self._scan_progress)
        scan.finished.connect(lambda found, stopped: self._opened(paths, found, stopped=stopped))
        self.model.runner.spawn(scan.run_rest(self.model.runner), name="open-folders")
        return []

    def _scan_progress(self, n: int) -> None:
        self.window.show_message(f"Looking for photos… {n:,} found so far")

    def stop_scan(self) -> None:
        if self._scan is not None:
            self._scan.cancel()

    def _opened(self, paths: list[Path], found: list[Path], *, stopped: bool) -> list[Path]:
        self._scan = None
        self.stop_button.hide()
        new = self.model.photos.add_paths(found)
        say = self.window.show_message
        if not found:
            if paths:
                say("No photos found in what was dropped")
            return new
        n = len(new)
        folders = len({p.parent for p in found})
        where = f" from {folders} folders" if folders > 1 else ""
        if stopped:
            say(f"Stopped looking: opened {n:,} photo{'s' if n != 1 else ''}")
        elif n:
            say(f"Opened {n:,} photo{'s' if n != 1 else ''}{where}")
        else:
            say("These photos are already open")
        return new

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.window, "Open photos", self._last_dir(), OPEN_FILTER
        )
        if files:
            self.open_paths([Path(f) for f in files])

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open a folder of photos", self._last_dir()
        )
        if folder:
            self.open_paths([Path(folder)])

    # -- recent --------------------------------------------------------------------------------
    def _last_dir(self) -> str:
        recent = self.recent()
        if recent:
            p = Path(recent[0])
            return str(p if p.is_dir() else p.parent)
        return str(Path.home())

    def recent(self) -> list[str]:
        value = self.qsettings.value("recent", [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a string
            value = [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def _add_recent(self, path: Path) -> None:
        items = [str(path)] + [r for r in self.recent() if r != str(path)]
        self.qsettings.setValue("recent", items[:MAX_RECENT])

    def fill_recent(self, menu: QMenu) -> None:
        """File › Open Recent, filled each time it opens (gone files left out)."""
        menu.clear()
        items = [r for r in self.recent() if Path(r).exists()]
        for r in items:
            act = menu.addAction(Path(r).name or r)
            act.setToolTip(r)
            act.triggered.connect(lambda _=False, r=r: self.open_paths([Path(r)]))
        if not items:
            menu.addAction("Nothing yet").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(
                lambda: self.qsettings.setValue("recent", [])
            )

    # -- paste and drop ------------------------------------------------------------------------
    def paste(self) -> None:
        """Paste file URLs or a bitmap (saved as a PNG in the app's data folder)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        if self.drop(mime):
            return
        if mime.hasImage():
            img = QGuiApplication.clipboard().image()
            if img.isNull():
                return
            dest = self.model.new_pasted_path()
            if not img.save(str(dest)):  # PNG: the suffix of a new pasted path
                self.window.show_message(f"The pasted image cannot be saved to {dest.parent}")
                return
            self.open_paths([dest])
            # The app's data folder is hidden: say where the image (and its results) went.
            self.window.show_message(f"Pasted image saved as {dest}; its results go beside it")
            return
        self.window.show_message("The clipboard holds no image")

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        """A drag carries local files or folders."""
        return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    def drop(self, mime: QMimeData) -> bool:
        """Open the local files of a drop (or a paste); False when it holds none."""
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if files:
            self.open_paths(files)
        return bool(files)
