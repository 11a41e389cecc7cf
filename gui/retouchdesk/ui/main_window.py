"""The main window: canvas and filmstrip in the middle, retouch panel right, jobs below.

The window shows and asks; its parts live in their own modules: the menus
(:mod:`ui.window_menus`), opening photos (:mod:`ui.open_photos`), the questions of Apply
(:mod:`ui.questions`, decided by :mod:`model.apply`) and the parts installed by
:meth:`MainWindow._install_extensions`.
"""

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
from retouchdesk.core.jobs import JobRecord
from retouchdesk.model.app_model import AppModel
from retouchdesk.model.apply import ApplyFlow, Question
from retouchdesk.ui import questions, window_menus
from retouchdesk.ui.canvas import Canvas, Zoomable
from retouchdesk.ui.compare import CompareView
from retouchdesk.ui.filmstrip import Filmstrip
from retouchdesk.ui.job_panel import JobPanel
from retouchdesk.ui.open_photos import PhotoOpener
from retouchdesk.ui.side_panel import SidePanel

STATUS_TIMEOUT = 6000
DEFAULT_SIZE = (1400, 900)  # a first start's window, where the screen has room for it
FRAME_ROOM = (16, 48)  # what a window manager adds around it (borders, title bar)
LOADING_TEXT = "Opening photo…"


class MainWindow(QMainWindow):
    """The photographer's window over :class:`AppModel`."""

    def __init__(self, model: AppModel, settings: QSettings | None = None) -> None:
        super().__init__()
        self.model = model
        self.qsettings = settings or QSettings()
        self.question: QMessageBox | None = None  # the open question (tests answer it)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(_app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        self._build_centre()
        self._build_docks()
        self._build_status_bar()
        self._quit_confirmed = False
        self.opener = PhotoOpener(self, self.scan_stop_button)
        self.apply_flow = ApplyFlow(model, self.ask_question, parent=self)
        self._build_actions()
        self._connect()
        self._install_extensions()
        self._update_enabled()
        self._restore()
        self._update_title()
        self._update_jobs_label()
        self.filmstrip.setVisible(model.photos.rowCount() > 0)

    def _build_centre(self) -> None:
        """Canvas (or compare, or what is wrong with the photo) over the filmstrip."""
        model = self.model
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

    def _build_docks(self) -> None:
        """Retouch on the right at full height, the job list under the photo."""
        model = self.model
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

    def _build_status_bar(self) -> None:
        """The photo's size, the pixel under the cursor, the zoom, the jobs; two buttons that
        show only when there is something to stop or to undo."""
        sb = self.statusBar()
        self.info_label = QLabel()
        self.pixel_label = QLabel()
        self.zoom_label = QLabel()
        self.jobs_label = QLabel()
        for w in (self.info_label, self.pixel_label, self.zoom_label, self.jobs_label):
            w.setProperty("hint", True)
            sb.addPermanentWidget(w)
        # A big folder tree is walked in the background: its way out, in sight.
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
        """The menus (:mod:`ui.window_menus`); the actions that tests and the installed parts
        reach are the window's too."""
        m = self.menu_bar_actions = window_menus.install(self)
        self.menus, self.photo_actions, self.view_actions = m.menus, m.photo_actions, m.view_actions
        self.undo_action, self.redo_action = m.undo_action, m.redo_action
        self.paste_action, self.save_action = m.paste_action, m.save_action
        self.compare_action, self.close_photo_action = m.compare_action, m.close_photo_action
        self.apply_action, self.apply_all_action = m.apply_action, m.apply_all_action

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
        self.canvas.zoom_changed.connect(self._zoom_changed)
        self.canvas.cursor_pixel_changed.connect(self._pixel)
        self.apply_flow.message.connect(self.show_message)
        self.apply_flow.compare_requested.connect(self.show_compare)

    # -- opening (ui.open_photos) -------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> list[Path]:
        """Open photos and folders; returns the photos that were new (see PhotoOpener)."""
        return self.opener.open_paths(paths)

    def recent(self) -> list[str]:
        return self.opener.recent()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if PhotoOpener.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.opener.drop(event.mimeData()):
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

    def step(self, delta: int) -> None:
        """The next (1) or previous (-1) photo of the filmstrip."""
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

    def shown_view(self) -> Zoomable:
        """What zooms: the photo, the compare view's canvas or the Try On grid."""
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

    # -- running (the decisions: model.apply) --------------------------------------------------
    def apply_current(self) -> None:
        self.apply_flow.apply_current(self.side.photo_problem)

    def apply_all(self) -> None:
        self.apply_flow.apply_all()

    async def ask_question(self, question: Question) -> str | None:
        """Ask what Apply needs to know in a window-modal box; the key of the answer."""
        box, buttons = questions.message_box(question, self)
        return questions.chosen(buttons, await self.ask(box))

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
    def undo(self) -> None:
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

    def redo(self) -> None:
        target = self.mask_painter.undo_document
        if target is not None and target.can_redo():
            target.redo()
            return
        if self.model.history.redo():
            self.close_compare()

    def toggle_full_screen(self) -> None:
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
        self.restored_geometry = isinstance(geo, QByteArray | bytes)
        if isinstance(geo, QByteArray | bytes):
            self.restoreGeometry(geo)
        else:
            self.resize(*DEFAULT_SIZE)
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        op = self.qsettings.value("operation")
        if isinstance(op, str) and "." in op:
            with contextlib.suppress(RetouchError):  # an operation removed since last time
                self.model.operation.select(op)

    def fit_screen(self) -> None:
        """Place the window of a first start on its screen: :data:`DEFAULT_SIZE`, centred,
        where the screen has room for it; maximized where it has not.

        A fixed 1400 x 900 on a 1280 x 720 or 1366 x 768 screen put Apply, the job list and
        the status bar below the screen's edge. A later start restores the saved geometry
        (Qt keeps that on screen).
        """
        screen = self.screen()
        if screen is None:
            return
        room = screen.availableGeometry()
        w, h = DEFAULT_SIZE
        if room.width() < w + FRAME_ROOM[0] or room.height() < h + FRAME_ROOM[1]:
            # Sized to the screen as well: maximizing is the window manager's to do, and a
            # session without one (a kiosk, a bare X server) would keep the oversized window.
            self.resize(room.width() - FRAME_ROOM[0], room.height() - FRAME_ROOM[1])
            self.move(room.topLeft())
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
            return
        self.resize(w, h)
        self.move(room.x() + (room.width() - w) // 2, room.y() + (room.height() - h) // 2)

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
        """Ask before quitting with jobs under way; closing again after the answer."""
        box, buttons = questions.message_box(questions.quit_question(local, cloud), self)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def done(_r: int) -> None:
            key = questions.chosen(buttons, box.clickedButton())
            box.deleteLater()
            if key == "cancel_jobs":
                self.model.cancel_jobs([rec.id for rec in local + cloud])
            if key in ("resume", "cancel_jobs"):
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
