"""The main window: canvas and filmstrip in the middle, retouch panel right, jobs below."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from retouchdesk import APP_NAME
from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.model.app_model import AppModel
from retouchdesk.model.photos import IMAGE_SUFFIXES
from retouchdesk.ui.canvas import Canvas, Zoomable
from retouchdesk.ui.compare import CompareView
from retouchdesk.ui.filmstrip import Filmstrip
from retouchdesk.ui.job_panel import JobPanel
from retouchdesk.ui.side_panel import SidePanel

MAX_RECENT = 12
SLOW_SECONDS = 120.0  # a run this long is announced before it starts
STATUS_TIMEOUT = 6000
OPEN_FILTER = "Photos (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"


LOADING_TEXT = "Opening photo…"


class MainWindow(QMainWindow):
    """The photographer's window over :class:`AppModel`."""

    def __init__(self, model: AppModel, settings: QSettings | None = None) -> None:
        super().__init__()
        self.model = model
        self.qsettings = settings or QSettings()
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(_app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )

        # -- centre: canvas (or compare) over the filmstrip --------------------------------------
        self.canvas = Canvas()
        self.empty = QLabel(
            "<div style='font-size:15px'>Drop photos or a folder here</div>"
            "<div style='margin-top:6px'>or use File › Open (Ctrl+O), or paste an image</div>"
        )
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("hint", True)
        self.compare = CompareView(model.compare)
        # A photo that cannot be read says so where the photo would be (never the last one).
        self.broken = QLabel()
        self.broken.setObjectName("photoError")
        self.broken.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.broken.setWordWrap(True)
        self.broken.setProperty("hint", True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.compare)
        self.stack.addWidget(self.broken)
        self.filmstrip = Filmstrip(model.photos)
        centre = QWidget()
        centre.setObjectName("centre")
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.filmstrip)
        self.centre = centre
        self.setCentralWidget(centre)

        # -- docks ------------------------------------------------------------------------------
        self.side = SidePanel(model.operation, model.style_loader)
        self.side_dock = QDockWidget("Retouch", self)
        self.side_dock.setObjectName("retouchDock")
        self.side_dock.setWidget(self.side)
        self.side_dock.setMinimumWidth(320)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.side_dock)
        self.jobs = JobPanel(model.jobs)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobsDock")
        self.jobs_dock.setWidget(self.jobs)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        # The Retouch panel keeps the full height on the right; the job list sits under the
        # photo only, low by default: at 1280 x 720 the photo needs the height.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.jobs_dock], [150], Qt.Orientation.Vertical)
        self.resizeDocks([self.side_dock], [360], Qt.Orientation.Horizontal)

        # -- status bar -------------------------------------------------------------------------
        sb = self.statusBar()
        self.info_label = QLabel()
        self.pixel_label = QLabel()
        self.zoom_label = QLabel()
        self.jobs_label = QLabel()
        for w in (self.info_label, self.pixel_label, self.zoom_label, self.jobs_label):
            w.setProperty("hint", True)
            sb.addPermanentWidget(w)
        # A big folder tree is walked in the background: its way out, in sight.
        self._scan: Any = None
        self.scan_stop_button = QPushButton("Stop")
        self.scan_stop_button.setToolTip("Stop looking for photos (keep those found so far)")
        self.scan_stop_button.hide()
        sb.addPermanentWidget(self.scan_stop_button)
        # After Discard: the way back, in sight (Ctrl+Z does the same).
        self.undo_discard_button = QPushButton("Undo discard")
        self.undo_discard_button.setObjectName("undoDiscard")
        self.undo_discard_button.setToolTip("Bring the discarded result back from the trash")
        self.undo_discard_button.hide()
        sb.addPermanentWidget(self.undo_discard_button)

        self._quit_confirmed = False
        self._build_actions()
        self._connect()
        self._install_extensions()
        self._update_enabled()
        self._restore()
        self._update_title()
        self._update_jobs_label()
        self.filmstrip.setVisible(model.photos.rowCount() > 0)

    def _install_extensions(self) -> None:
        """The parts that live in their own modules: mask painter, credits and passphrase,
        history, export, Try On, queue controls, photo info and the shortcut list.

        Each ``install(window)`` uses only the window's public parts and returns what the
        window keeps; none of them sets attributes on the window.
        """
        from retouchdesk.ui import (
            compare_grid,
            export_dialog,
            history_panel,
            mask_painter,
            photo_info,
            queue_controls,
            shortcuts,
        )
        from retouchdesk.ui.settings import status

        self.mask_painter = mask_painter.install(self)
        self.credits_label = status.install(self)
        self.history = history_panel.install(self)
        self.exporter = export_dialog.install(self)
        self.try_on = compare_grid.install(self)  # Try On… and its grid
        self.queue_controls = queue_controls.install(self)
        self.photo_info = photo_info.install(self)  # histogram and EXIF
        self.shortcuts = shortcuts.install(self)  # Help › Keyboard Shortcuts

    # -- actions -------------------------------------------------------------------------------
    def add_action(
        self,
        text: str,
        slot: Any,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        *,
        tip: str = "",
        context: QWidget | None = None,
    ) -> QAction:
        act = QAction(text, context or self)
        if shortcut is not None:
            act.setShortcut(shortcut if not isinstance(shortcut, str) else QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        if context is not None:
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            context.addAction(act)
        return act

    def _build_actions(self) -> None:
        # The menus by name, for the parts installed from other modules.
        self.menus: dict[str, QMenu] = {
            "File": self._file_menu(),
            "Edit": self._edit_menu(),
            "View": self._view_menu(),
            "Photo": self._photo_menu(),
            "Help": self._help_menu(),
        }

    def _file_menu(self) -> QMenu:
        """Open, recent photos, paste, save a result, settings, quit."""
        SK = QKeySequence.StandardKey
        file = self.menuBar().addMenu("&File")
        self.open_action = self.add_action("&Open…", self.open_dialog, SK.Open)
        file.addAction(self.open_action)
        file.addAction(self.add_action("Open &Folder…", self.open_folder_dialog, "Ctrl+Shift+O"))
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self.paste_action = self.add_action("&Paste Image", self.paste, SK.Paste)
        file.addAction(self.paste_action)
        self.save_action = self.add_action(
            "&Save Result As…", self.save_result_as, SK.Save, tip="Copy the compared result"
        )
        file.addAction(self.save_action)
        file.addSeparator()
        file.addAction(
            self.add_action("&Settings…", lambda: self.open_settings(""), SK.Preferences)
        )
        file.addSeparator()
        file.addAction(self.add_action("&Quit", self.close, SK.Quit))
        return file

    def _edit_menu(self) -> QMenu:
        """Undo and redo (mask strokes, discards, versions), reset parameters."""
        SK = QKeySequence.StandardKey
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self.add_action("&Undo", self._undo, SK.Undo)
        self.redo_action = self.add_action("&Redo", self._redo, SK.Redo)
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(self.add_action("Reset Parameters", self.model.operation.reset_all))
        return edit

    def _view_menu(self) -> QMenu:
        """Zoom, compare, the docks, full screen."""
        SK = QKeySequence.StandardKey
        view = self.menuBar().addMenu("&View")
        # Zoom acts on what is shown: the photo, or the compare view's canvases.
        self.view_actions = [
            self.add_action("Zoom &In", lambda: self._shown_view().zoom_in(), SK.ZoomIn),
            self.add_action("Zoom &Out", lambda: self._shown_view().zoom_out(), SK.ZoomOut),
            self.add_action("&Fit", lambda: self._shown_view().fit(), "Ctrl+0"),
            self.add_action("&100%", lambda: self._shown_view().actual_size(), "Ctrl+1"),
        ]
        for act in self.view_actions:
            view.addAction(act)
        view.addSeparator()
        self.compare_action = self.add_action(
            "&Compare Before/After", self.toggle_compare, "C", context=self.centre
        )
        view.addAction(self.compare_action)
        view.addSeparator()
        view.addAction(self.side_dock.toggleViewAction())
        view.addAction(self.jobs_dock.toggleViewAction())
        self.jobs_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+J"))
        self.side_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+R"))
        self.fullscreen_action = self.add_action("&Full Screen", self._fullscreen, SK.FullScreen)
        view.addAction(self.fullscreen_action)
        return view

    def _photo_menu(self) -> QMenu:
        """Apply, Apply to all, moving between photos, closing one."""
        SK = QKeySequence.StandardKey
        photo = self.menuBar().addMenu("&Photo")
        self.apply_action = self.add_action("&Apply", self.apply_current, "Ctrl+Return")
        self.apply_all_action = self.add_action(
            "Apply to &All", self.apply_all, "Ctrl+Shift+Return"
        )
        photo.addAction(self.apply_action)
        photo.addAction(self.apply_all_action)
        photo.addSeparator()
        self.next_action = self.add_action(
            "&Next Photo", lambda: self._step(1), "Right", context=self.centre
        )
        self.previous_action = self.add_action(
            "&Previous Photo", lambda: self._step(-1), "Left", context=self.centre
        )
        self.close_photo_action = self.add_action("&Close Photo", self.close_photo, SK.Close)
        for act in (self.next_action, self.previous_action, self.close_photo_action):
            photo.addAction(act)
        # What needs an open photo looks (and is) unavailable without one.
        self.photo_actions = [
            *self.view_actions,
            self.compare_action,
            self.save_action,
            self.apply_action,
            self.apply_all_action,
            self.next_action,
            self.previous_action,
            self.close_photo_action,
        ]
        return photo

    def _help_menu(self) -> QMenu:
        help_ = self.menuBar().addMenu("&Help")
        help_.addAction(self.add_action(f"&About {APP_NAME}", self.about))
        return help_

    def _connect(self) -> None:
        m = self.model
        self.filmstrip.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.filmstrip.customContextMenuRequested.connect(self._filmstrip_menu)
        m.message.connect(self.show_message)
        m.photos.current_changed.connect(self._photo_changed)
        m.photos.count_changed.connect(self._count_changed)
        m.document.image_changed.connect(self._image_ready)
        m.document.loading_changed.connect(self._loading)
        m.document.error_changed.connect(self._document_error)
        m.thumbs.ready.connect(self._thumb_ready)
        m.jobs.counts_changed.connect(self._update_jobs_label)
        m.jobs.job_finished.connect(self._job_finished)
        m.jobs.job_failed.connect(self._job_failed)
        m.session.queued.connect(lambda _ids: self.jobs_dock.show())
        m.resumed.connect(lambda _ids: self.jobs_dock.show())  # never silently
        self.side.estimator = self._estimate_current
        m.thumbs.ready.connect(lambda _p: self.side.refresh())
        self.side.apply_requested.connect(self.apply_current)
        self.side.apply_all_requested.connect(self.apply_all)
        self.side.settings_requested.connect(self.open_settings)
        self.side.message.connect(self.show_message)
        self.jobs.message.connect(self.show_message)
        self.jobs.compare_requested.connect(self.show_compare)
        self.compare.closed.connect(self.close_compare)
        m.compare.discard_changed.connect(self._discard_changed)
        self.undo_discard_button.clicked.connect(self.undo_discard)
        self.scan_stop_button.clicked.connect(self.stop_scan)
        self.canvas.zoom_changed.connect(self._zoom_changed)
        self.canvas.cursor_pixel_changed.connect(self._pixel)

    # -- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> list[Path]:
        """Open photos and folders (walked recursively, earlier results left out).

        Returns the photos that were new; a folder tree too big to walk at once continues in
        the background with a count and a Stop button, and returns [] here.
        """
        from retouchdesk.model.opening import FolderScan

        files = [p for p in paths if p.is_file()]
        for p in files + [p for p in paths if p.is_dir()]:
            self._add_recent(p)
        if self._scan is not None:
            self._scan.cancel()  # a new request replaces a scan still running
        scan = FolderScan(
            paths,
            skip_dirs=(self.model.output_subfolder(),),
            earlier_results=self.model.earlier_results(),
            parent=self,
        )
        if scan.run_briefly():
            return self._opened(paths, scan.found, stopped=False)
        self._scan = scan
        self.scan_stop_button.show()
        self._scan_progress(len(scan.found))
        scan.progress.connect(self._scan_progress)
        scan.finished.connect(lambda found, stopped: self._opened(paths, found, stopped=stopped))
        self.model.runner.spawn(scan.run_rest(self.model.runner), name="open-folders")
        return []

    def _scan_progress(self, n: int) -> None:
        self.statusBar().showMessage(f"Looking for photos… {n:,} found so far", STATUS_TIMEOUT)

    def stop_scan(self) -> None:
        if self._scan is not None:
            self._scan.cancel()

    def _opened(self, paths: list[Path], found: list[Path], *, stopped: bool) -> list[Path]:
        self._scan = None
        self.scan_stop_button.hide()
        new = self.model.photos.add_paths(found)
        if not found:
            if paths:
                self.show_message("No photos found in what was dropped")
            return new
        n = len(new)
        folders = len({p.parent for p in found})
        where = f" from {folders} folders" if folders > 1 else ""
        if stopped:
            self.show_message(f"Stopped looking: opened {n:,} photo{'s' if n != 1 else ''}")
        elif n:
            self.show_message(f"Opened {n:,} photo{'s' if n != 1 else ''}{where}")
        else:
            self.show_message("These photos are already open")
        return new

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos", self._last_dir(), OPEN_FILTER)
        if files:
            self.open_paths([Path(f) for f in files])

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", self._last_dir())
        if folder:
            self.open_paths([Path(folder)])

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

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = [r for r in self.recent() if Path(r).exists()]
        for r in items:
            act = self.recent_menu.addAction(Path(r).name or r)
            act.setToolTip(r)
            act.triggered.connect(lambda _=False, r=r: self.open_paths([Path(r)]))
        if not items:
            self.recent_menu.addAction("Nothing yet").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(
                lambda: self.qsettings.setValue("recent", [])
            )

    def paste(self) -> None:
        """Paste file URLs or a bitmap (saved as a PNG in the app's data folder)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        if mime.hasUrls():
            files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if files:
                self.open_paths(files)
                return
        if mime.hasImage():
            img = QGuiApplication.clipboard().image()
            if img.isNull():
                return
            dest = self.model.new_pasted_path()
            if not img.save(str(dest)):  # PNG: the suffix of a new pasted path
                self.show_message(f"The pasted image cannot be saved to {dest.parent}")
                return
            self.open_paths([dest])
            # The app's data folder is hidden: say where the image (and its results) went.
            self.show_message(f"Pasted image saved as {dest}; its results go beside it")
            return
        self.show_message("The clipboard holds no image")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.open_paths(files)
            event.acceptProposedAction()

    def close_photo(self) -> None:
        self.model.photos.remove_row(self.model.photos.current_row)

    def filmstrip_menu_for(self, row: int) -> QMenu:
        """The photo's menu: its versions (each opens the compare view), folder, close."""
        photos = self.model.photos
        path = photos.paths[row]
        menu = QMenu(self)
        versions = self.model.session.versions(path)
        sub = menu.addMenu(f"Versions ({sum(len(r.results) for r in versions)})")
        sub.setEnabled(bool(versions))
        for rec in reversed(versions):
            label, prov = self.model.jobs.labels(rec)
            when = time.strftime("%H:%M", time.localtime(rec.finished_at or rec.created_at))
            act = sub.addAction(f"{label} · {prov} · {when}")
            act.setToolTip(str(rec.results[0]))
            act.triggered.connect(lambda _=False, j=rec.id: self.show_compare(j))
        menu.addAction("Show in Folder").triggered.connect(lambda: self.reveal(path))
        menu.addSeparator()
        menu.addAction("Close Photo").triggered.connect(lambda: photos.remove_row(row))
        return menu

    def reveal(self, path: Path) -> None:
        from retouchdesk.ui.job_panel import no_launcher, reveal_in_file_manager

        if not reveal_in_file_manager(path):
            self.show_message(no_launcher(path, "No file manager could show"))

    def _filmstrip_menu(self, pos: Any) -> None:
        index = self.filmstrip.indexAt(pos)
        if index.isValid():
            self.filmstrip_menu_for(index.row()).exec(self.filmstrip.viewport().mapToGlobal(pos))

    def _step(self, delta: int) -> None:
        photos = self.model.photos
        n = photos.rowCount()
        if n:
            photos.set_current_row(max(0, min(n - 1, photos.current_row + delta)))

    # -- the photo on the canvas -----------------------------------------------------------------
    def _photo_changed(self, path: str) -> None:
        self._update_title()
        if self.stack.currentWidget() is self.compare:
            self.close_compare()
        if not path:
            self.canvas.clear()
            self.stack.setCurrentWidget(self.empty)
            self.info_label.setText("")
            return
        p = Path(path)
        thumb_error = self.model.thumbs.error(p)
        if thumb_error:
            self._show_broken(thumb_error)
            return
        self.side.set_photo_problem("")
        doc = self.model.document.image
        if doc is not None and doc.path == self.model.shown_file(p):
            # The model opened the document before this slot ran, and a cached decode is
            # already on the canvas: a placeholder now would replace the real pixels for good.
            self._image_ready()
            return
        # Show the thumbnail stretched to the photo's size at once; the decode replaces it.
        pm = self.model.thumbs.pixmap(p)
        size = self.model.thumbs.size(p)
        if pm is not None and size is not None:
            self.canvas.set_image([pm.toImage()], size[0], size[1])
        else:
            self.canvas.clear()  # never the previous photo under this one's name
        self.stack.setCurrentWidget(self.canvas)
        self.info_label.setText("")
        self.pixel_label.setText("")

    def _estimate_current(self) -> tuple[float | None, str]:
        p = self.model.photos.current_path
        return self.model.estimate([p]) if p is not None else (None, "")

    def _show_broken(self, reason: str) -> None:
        """The current photo cannot be read: say so in place of the photo; nothing to apply."""
        self.canvas.clear()
        self.broken.setText(
            f"<div style='font-size:15px'>⚠ {reason}</div>"
            "<div style='margin-top:6px'>Close it (Ctrl+W) or pick another photo.</div>"
        )
        self.stack.setCurrentWidget(self.broken)
        self.info_label.setText("")
        self.pixel_label.setText("")
        self.side.set_photo_problem(reason)
        self.show_message(reason)

    def _document_error(self, error: str) -> None:
        if error and self.model.document.path == self.model.photos.current_path:
            self._show_broken(error)

    def _thumb_ready(self, path: str) -> None:
        """A thumbnail failed for the photo on screen: tell now, not after a full decode."""
        p = Path(path)
        error = self.model.thumbs.error(p)
        if (
            error
            and p == self.model.photos.current_path
            and self.stack.currentWidget() is not self.broken
        ):
            self._show_broken(error)

    def _image_ready(self) -> None:
        img = self.model.document.image
        current = self.model.photos.current_path
        if img is None or current is None or img.path != self.model.shown_file(current):
            return
        self.side.set_photo_problem("")
        self.canvas.set_image(img.levels, img.width, img.height, img.has_alpha)
        self.stack.setCurrentWidget(self.canvas)
        prof = img.icc_name or "sRGB (assumed)"
        self.info_label.setText(f"{img.width} × {img.height} px · {prof}")

    def _loading(self, on: bool) -> None:
        # Shown in the photo's own field, not the message area: a message that just told the
        # user something (what a drop opened, a job that finished) must not be replaced by it.
        if on:
            self.info_label.setText(LOADING_TEXT)
        elif self.info_label.text() == LOADING_TEXT:
            self.info_label.setText("")

    def _count_changed(self, n: int) -> None:
        self.side.set_photo_count(n)
        self.filmstrip.setVisible(n > 0)  # an empty strip is just a dark band
        if n == 0:
            self.stack.setCurrentWidget(self.empty)
        self._update_enabled()
        # Badges count every result on disk, from this session or an earlier one.
        self.model.refresh_versions()

    def _update_enabled(self) -> None:
        n = self.model.photos.rowCount()
        for act in self.photo_actions:
            act.setEnabled(n > 0)
        self.apply_all_action.setEnabled(n > 1)
        self.mask_painter.toolbar.setEnabled(n > 0)

    def _shown_view(self) -> Zoomable:
        shown = self.stack.currentWidget()
        if shown is self.compare:
            return self.compare.view()
        return shown if isinstance(shown, Zoomable) else self.canvas  # the Try On grid zooms too

    def _zoom_changed(self, _z: float) -> None:
        self.zoom_label.setText(f"{self.canvas.pixel_zoom * 100:.0f}%")

    def _pixel(self, x: int, y: int) -> None:
        self.pixel_label.setText("" if x < 0 else f"x {x}  y {y}")

    def _update_title(self) -> None:
        p = self.model.photos.current_path
        self.setWindowTitle(f"{p.name} — {APP_NAME}" if p else APP_NAME)

    # -- running -------------------------------------------------------------------------------
    def apply_current(self) -> None:
        p = self.model.photos.current_path
        if p is None:
            self.show_message("Open a photo first")
            return
        if self.side.photo_problem:
            self.show_message(self.side.photo_problem)
            return
        self.model.runner.spawn(self._apply([p]), name="apply")

    def apply_all(self) -> None:
        paths = self.model.photos.paths
        if not paths:
            self.show_message("Open photos first")
            return
        self.model.runner.spawn(self._apply(paths), name="apply")

    async def _apply(self, paths: list[Path]) -> list[str]:
        om = self.model.operation
        if not om.can_run:
            self.show_message(om.problem)
            return []
        op = om.operation
        checks = await self.model.session.check_inputs(paths)
        bad = [c for c in checks if not c.ok]
        downscale: dict[Path, tuple[int, int]] = {}
        skip: set[Path] = set()
        if bad:
            answer = await self._ask_limits(op.label, bad)
            if answer is None:
                return []
            downscale, skip = answer
        run = [p for p in paths if p not in skip]
        if not run:
            return []
        try:
            planned = await self.model.session.prepare(run, downscale=downscale)
        except RetouchError as exc:
            self.show_message(str(exc))
            return []
        planned = await self._ask_masks(planned)
        if not planned:
            return []
        planned = await self._ask_same_work(planned)
        if not planned:
            return []
        run = [p.photo for p in planned]
        seconds, how = self.model.estimate(run)
        if seconds is not None and seconds >= SLOW_SECONDS:
            from retouchdesk.model.estimate import duration_text

            n = len(run)
            where = " on this computer" if om.provider.kind == "local" else ""
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "A long job",
                f"{op.label} on {n} photo{'s' if n != 1 else ''} will take "
                f"{duration_text(seconds)} ({how}{where}).",
                QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setInformativeText("You can keep working meanwhile, and cancel it in the job list.")
            start = box.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
            if await self.ask(box) is not start:
                return []
        threshold = self.model.cost_threshold()
        total = (op.cost.amount or 0) * len(run)
        # Above the threshold (the service's unit) always ask; at 0 every paid batch asks.
        if op.cost.amount and total > threshold and (len(run) > 1 or threshold > 0):
            text = om.cost_text(len(run))
            limit = f" (above your limit of {threshold:g})" if threshold else ""
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Run the batch?" if len(run) > 1 else "Send this job?",
                f"{op.label} on {len(run)} photo{'s' if len(run) != 1 else ''} costs {text}"
                f"{limit}. Send it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                self,
            )
            clicked = await self.ask(box)
            if clicked is not box.button(QMessageBox.StandardButton.Yes):
                return []
        try:
            ids = self.model.session.submit(planned)
        except RetouchError as exc:
            self.show_message(str(exc))
            return []
        for job_id, photo in zip(ids, run, strict=False):
            one, _ = self.model.estimate([photo])
            if one is not None:
                self.model.jobs.set_estimate(job_id, one)
        return ids

    def _lacks_mask(self, planned: Any) -> bool:
        """The job would fail at once: its operation needs a mask and this photo has none."""
        from retouchdesk.core.schema import ParamKind

        values = planned.request.params
        return any(
            p.kind is ParamKind.MASK and p.required and p.applies(values) and not values.get(p.name)
            for p in self.model.operation.operation.params
        )

    def _painted_mask(self) -> bool:
        doc = self.mask_painter.masking.document
        return doc is not None and not doc.is_empty()

    async def _ask_masks(self, planned: list[Any]) -> list[Any]:
        """Photos without the mask their operation needs are named before anything is sent;
        a mask painted for an operation that ignores masks is pointed out, not dropped."""
        om = self.model.operation
        label = om.operation.label
        lacking = [p for p in planned if self._lacks_mask(p)]
        if lacking:
            with_mask = [p for p in planned if p not in lacking]
            if not with_mask:
                names = ", ".join(p.photo.name for p in lacking[:3])
                self.show_message(
                    f"{label} needs a painted mask and {names} has none: click Paint mask "
                    "in the tool bar and paint over the area"
                )
                return []
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Question)
            box.setWindowTitle("Photos without a mask")
            box.setText(
                f"{label} needs a painted mask. {len(lacking)} of {len(planned)} photos "
                "have none and would fail:"
            )
            more = f"\n… and {len(lacking) - 8} more" if len(lacking) > 8 else ""
            box.setInformativeText("\n".join(f"• {p.photo.name}" for p in lacking[:8]) + more)
            run = box.addButton(
                f"Run the {len(with_mask)} with a mask", QMessageBox.ButtonRole.AcceptRole
            )
            box.addButton(QMessageBox.StandardButton.Cancel)
            if await self.ask(box) is not run:
                return []
            planned = with_mask
        masking = self.mask_painter.masking
        uses_mask = bool(masking.mask_params())
        protect = masking.protect_outside
        if self._painted_mask() and not uses_mask and not protect:
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Question)
            box.setWindowTitle("The mask is not used")
            box.setText(f"{label} does not use a mask: the whole photo will change.")
            box.setInformativeText(
                "To change only the painted area, turn on Protect outside in the mask bar."
            )
            whole = box.addButton("Apply to the whole photo", QMessageBox.ButtonRole.AcceptRole)
            box.addButton(QMessageBox.StandardButton.Cancel)
            if await self.ask(box) is not whole:
                return []
        return planned

    async def _ask_same_work(self, planned: list[Any]) -> list[Any]:
        """Offer what earlier identical jobs made instead of running (and paying) again.

        Like an export preset in Lightroom that finds the file already there: the default
        is to keep what exists; running a done job again is a deliberate second click. The
        rules are the CLI's (``services.batch``): work still queued, running, unconfirmed
        or stalled is never sent again from here (the job list resends an unconfirmed one).
        """
        again = [p for p in planned if p.previous is not None]
        if not again:
            return planned
        fresh = self.model.session.sendable(planned)
        done = [p for p in again if not p.unfinished]
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Already done")
        show = None
        if len(planned) == 1:
            rec = again[0].previous
            name = again[0].photo.name
            if rec.state is JobState.UNCONFIRMED:
                box.setText(
                    f"{name} was already sent with these settings and its answer was lost: "
                    "the service may be running it."
                )
                box.setInformativeText(
                    "The job list can send it again (the service may charge it twice)."
                )
            elif again[0].unfinished:
                box.setText(f"{name} is already being processed with these settings.")
            else:
                when = time.strftime("%H:%M", time.localtime(rec.finished_at or rec.created_at))
                box.setText(
                    f"{name} already has this result with the same settings "
                    f"({rec.results[0].name}, {when})."
                )
                show = box.addButton("Show result", QMessageBox.ButtonRole.AcceptRole)
                box.setInformativeText("Running it again sends (and pays for) the same job twice.")
        else:
            box.setText(
                f"{len(again)} of {len(planned)} photos already have this result "
                "with the same settings (or are being processed)."
            )
            if fresh:
                show = box.addButton(
                    f"Run the other {len(fresh)}", QMessageBox.ButtonRole.AcceptRole
                )
        # Only a done job can be run again: an unfinished one would be sent twice.
        rerun = box.addButton("Run again", QMessageBox.ButtonRole.DestructiveRole) if done else None
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(show or cancel)
        clicked = await self.ask(box)
        if rerun is not None and clicked is rerun:
            return self.model.session.sendable(planned, again=True)
        if show is not None and clicked is show:
            if len(planned) == 1:
                self.show_compare(again[0].previous.id)
                return []
            return fresh
        return []

    async def ask(self, box: QMessageBox) -> Any:
        """Show ``box`` window-modal and await the clicked button.

        Never ``exec()`` inside a coroutine: a nested event loop would run other asyncio
        tasks re-entrantly under qasync.
        """
        future = asyncio.get_event_loop().create_future()

        def done(_result: int) -> None:
            if not future.done():
                future.set_result(box.clickedButton())

        box.finished.connect(done)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.question = box  # the open question (tests answer it like a user would)
        box.open()
        try:
            return await future
        finally:
            box.deleteLater()

    async def _ask_limits(
        self, label: str, bad: list[Any]
    ) -> tuple[dict[Path, tuple[int, int]], set[Path]] | None:
        """Tell which photos break the limits; offer to send downscaled copies."""
        fixable = [c for c in bad if c.fixable and c.fit_size]
        lines = [f"• {c.path.name}: {'; '.join(c.problems)}" for c in bad[:8]]
        if len(bad) > 8:
            lines.append(f"… and {len(bad) - 8} more")
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Photos outside the limits")
        box.setText(f"{len(bad)} photo(s) do not fit the limits of {label}.")
        box.setInformativeText("\n".join(lines))
        down = None
        if fixable:
            w, h = fixable[0].fit_size
            text = "Send downscaled copies" if len(fixable) > 1 else f"Downscale to {w} × {h}"
            down = box.addButton(text, QMessageBox.ButtonRole.AcceptRole)
            box.setInformativeText(
                box.informativeText() + "\n\nYour photos are not changed: copies are sent."
            )
        skip = box.addButton("Skip them", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        clicked = await self.ask(box)
        if down is not None and clicked is down:
            return {c.path: c.fit_size for c in fixable}, {
                c.path for c in bad if not (c.fixable and c.fit_size)
            }
        if clicked is skip:
            return {}, {c.path for c in bad}
        return None

    def _job_finished(self, job_id: str) -> None:
        rec = self.model.jobs.record(job_id)
        if rec is None:
            return
        photo = self.model.session.original_of(rec.input_path)
        from retouchdesk.model.jobs import result_notes

        notes = result_notes(rec)
        if notes:
            # What the engine was unsure about (no face found for the subject...), in words.
            self.statusBar().showMessage(f"{photo.name}: done. {notes[0]}", STATUS_TIMEOUT * 3)
        else:
            self.show_message(f"{photo.name}: done, {rec.results[0].name if rec.results else ''}")
        # A single job on the photo being looked at: show the result right away.
        if (
            rec.batch_id is None
            and photo == self.model.photos.current_path
            and self.stack.currentWidget() is not self.compare
        ):
            self.show_compare(job_id)

    def _job_failed(self, _job_id: str, error: str) -> None:
        if error:
            self.show_message(error)

    def _update_jobs_label(self) -> None:
        c = self.model.jobs.counts()
        parts = []
        if c["live"]:
            parts.append(f"{c['live']} in progress")
        # Failures of this session only: yesterday's are in the job list, not news.
        failed = c["failed_recent"]  # kept by the job model's events, never a walk
        if failed:
            parts.append(f"{failed} failed")
        self.jobs_label.setText(" · ".join(parts))

    # -- compare -------------------------------------------------------------------------------
    def show_compare(self, job_id: str) -> None:
        if self.model.compare.show_job(job_id):
            photo = self.model.compare.photo
            if photo is not None and photo in self.model.photos.paths:
                blocked = self.model.photos.blockSignals(True)
                self.model.photos.set_current_path(photo)
                self.model.photos.blockSignals(blocked)
                self.filmstrip._follow("")
                self.model.document.open(photo)
            self.stack.setCurrentWidget(self.compare)
            self.compare.setFocus()

    def toggle_compare(self) -> None:
        if self.stack.currentWidget() is self.compare:
            self.close_compare()
            return
        p = self.model.photos.current_path
        versions = self.model.session.versions(p) if p else []
        if versions:
            self.show_compare(versions[-1].id)
        else:
            self.show_message("This photo has no results to compare yet")

    def close_compare(self) -> None:
        self.stack.setCurrentWidget(self.canvas if self.model.photos.rowCount() else self.empty)
        self.canvas.setFocus()

    def save_result_as(self) -> None:
        """Save a copy of the compared result; the typed suffix decides the format."""
        from retouchdesk.model import export

        v = self.model.compare.right_version
        if self.stack.currentWidget() is not self.compare or v is None or v.job_id is None:
            self.show_message("Open a result in the compare view to save a copy of it")
            return
        dest, chosen = QFileDialog.getSaveFileName(
            self, "Save result as", str(v.path), export.save_filter(), export.filter_for(v.path)
        )
        if dest:
            target = export.destination_for(Path(dest), chosen, v.path)
            self.model.runner.spawn(self._save_copy(v.path, target), name="save-as")

    async def _save_copy(self, result: Path, dest: Path) -> None:
        from retouchdesk.model import export

        policy = self.model.export_policy()
        try:
            await self.model.runner.in_thread(export.export_result, result, dest, policy)
        except RetouchError as exc:
            self.show_message(str(exc))
            return
        self.show_message(f"Saved {dest}")

    def _discard_changed(self) -> None:
        cm = self.model.compare
        self.undo_discard_button.setVisible(cm.can_undo_discard())
        self.model.refresh_versions()  # the filmstrip's badges
        if self.stack.currentWidget() is self.compare and len(cm.versions) <= 1:
            self.close_compare()  # nothing left to compare with the original

    def undo_discard(self) -> None:
        job_id = self.model.compare.undo_discard()
        if job_id is not None:
            self.show_compare(job_id)

    # -- misc ------------------------------------------------------------------------------------
    def _undo(self) -> None:
        target = self.mask_painter.undo_document
        # In the compare view (or with no mask being painted) Undo brings back a discard.
        if self.model.compare.can_undo_discard() and (
            target is None or self.stack.currentWidget() is self.compare
        ):
            self.undo_discard()
            return
        if target is not None and target.can_undo():
            target.undo()
            return
        # Not painting (or nothing painted to undo): step back through the working versions.
        if self.model.history.undo():
            self.close_compare()

    def _redo(self) -> None:
        target = self.mask_painter.undo_document
        if target is not None and target.can_redo():
            target.redo()
            return
        if self.model.history.redo():
            self.close_compare()

    def _fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def open_settings(self, provider_id: str = "") -> None:
        from retouchdesk.ui.settings.dialog import open_settings

        open_settings(self, provider_id or None)
        self.model.operation.refresh_statuses()

    def about(self) -> None:
        from retouchdesk.ui.about import about_text

        QMessageBox.about(self, f"About {APP_NAME}", about_text())

    def show_message(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, STATUS_TIMEOUT)

    # -- state ------------------------------------------------------------------------------------
    def _restore(self) -> None:
        geo = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        if isinstance(geo, QByteArray | bytes):
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 900)
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        op = self.qsettings.value("operation")
        if isinstance(op, str) and "." in op:
            with contextlib.suppress(RetouchError):  # an operation removed since last time
                self.model.operation.select(op)

    def save_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        if self.model.operation.operation_id:
            self.qsettings.setValue("operation", self.model.operation.operation.key)
        self.qsettings.sync()

    def live_jobs(self) -> tuple[list[JobRecord], list[JobRecord]]:
        """Jobs not finished yet: (offline ones, cloud ones)."""
        return self.model.live_jobs()

    def closeEvent(self, event: QCloseEvent) -> None:
        local, cloud = self.live_jobs() if self.isVisible() else ([], [])
        if (local or cloud) and not self._quit_confirmed:
            event.ignore()  # asked below; closing again after the answer
            self._ask_quit(local, cloud)
            return
        self.save_state()
        super().closeEvent(event)

    def _ask_quit(self, local: list[JobRecord], cloud: list[JobRecord]) -> None:
        """Quitting with work under way asks, as Lightroom does during an export."""
        n = len(local) + len(cloud)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Jobs are still running")
        box.setText(f"{n} job{'s are' if n != 1 else ' is'} not finished yet.")
        lines = []
        sent = [r for r in cloud if r.remote_id or r.submit_started]
        if cloud:
            lines.append(
                f"{len(cloud)} on cloud services"
                + (f" ({len(sent)} already sent and paid for)" if sent else "")
                + ": the services keep working and the results are fetched when you next "
                "open Retouch Desk."
            )
        if local:
            lines.append(
                f"{len(local)} offline: they stop now and start again from the beginning "
                "when you next open Retouch Desk, unless you cancel them."
            )
        box.setInformativeText("\n\n".join(lines))
        resume = box.addButton("Quit, finish next time", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel jobs and quit", QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def done(_r: int) -> None:
            clicked = box.clickedButton()
            box.deleteLater()
            if clicked is cancel:
                self.model.cancel_jobs([rec.id for rec in local + cloud])
            if clicked in (resume, cancel):
                self._quit_confirmed = True
                self.close()

        box.finished.connect(done)
        self.question = box
        box.open()


def _app_icon() -> QIcon:
    from retouchdesk.resources import resource_path

    try:
        path = resource_path("icons", "retouchdesk.svg")
    except FileNotFoundError:
        return QIcon()
    return QIcon(str(path)) if path.exists() else QIcon()


__all__ = ["MainWindow", "QTimer"]
