"""The job panel: every job and batch with progress, and the actions on them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.jobs import JobState
from retouchdesk.model.jobs import (
    COL_COST,
    COL_ELAPSED,
    COL_OP,
    COL_PHOTO,
    COL_PROGRESS,
    COL_STATE,
    PROGRESS_ROLE,
    STATE_ROLE,
    JobsModel,
)

ROW_HEIGHT = 34


class RowDelegate(QStyledItemDelegate):
    """Rows tall enough for a recognisable thumbnail of the photo."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), ROW_HEIGHT))


class ProgressDelegate(RowDelegate):
    """Draws the progress column as a bar (busy stripes when the fraction is unknown)."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        value = index.data(PROGRESS_ROLE)
        state = index.data(STATE_ROLE)
        if value is None:
            return
        bar = QStyleOptionProgressBar()
        r = option.rect.adjusted(4, 6, -4, -6)
        bar.rect = QRect(r.left(), r.center().y() - 7, r.width(), 14)
        bar.minimum, bar.maximum = 0, 1000
        if value < 0:
            bar.minimum = bar.maximum = 0  # unknown: the style draws a busy bar
            bar.progress = 0
        else:
            bar.progress = int(value * 1000)
        bar.textVisible = False
        # Without State_Horizontal the style fills the bar from the bottom up.
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        if state in (JobState.FAILED.value, JobState.CANCELLED.value):
            bar.palette.setColor(
                QPalette.ColorRole.Highlight, option.palette.color(QPalette.ColorRole.Mid)
            )
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class JobPanel(QWidget):
    """Signals: compare_requested(str job id), open_photo_requested(str path)."""

    compare_requested = Signal(str)
    message = Signal(str)

    def __init__(self, model: JobsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobPanel")
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 4)
        lay.setSpacing(2)
        lay.addLayout(self._build_buttons())
        lay.addWidget(self._build_view())
        lay.addWidget(self._build_older_button(), 0, Qt.AlignmentFlag.AlignHCenter)
        self._connect()
        self._update_older()
        self._update_buttons()

    def _build_buttons(self) -> QHBoxLayout:
        """The actions on the selected jobs, and Clear finished apart on the right."""
        bar = QHBoxLayout()
        st = self.style()
        SP = QStyle.StandardPixmap

        def button(text: str, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
            b = QToolButton()
            b.setText(text)
            b.setIcon(st.standardIcon(icon))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setAutoRaise(True)
            b.setToolTip(tip)
            bar.addWidget(b)
            return b

        self.compare_button = button(
            "Compare", SP.SP_FileDialogContentsView, "Before / after of the selected result"
        )
        self.open_button = button(
            "Open", SP.SP_DialogOpenButton, "Open the result in your image viewer"
        )
        self.reveal_button = button(
            "Show in folder", SP.SP_DirOpenIcon, "Reveal the result in the file manager"
        )
        self.retry_button = button(
            "Retry", SP.SP_BrowserReload, "Run failed or cancelled jobs again"
        )
        self.resend_button = button(
            "Resend",
            SP.SP_MessageBoxWarning,
            "Send unconfirmed jobs again (their first submission may be charged too)",
        )
        self.cancel_button = button("Cancel", SP.SP_BrowserStop, "Stop the selected jobs")
        self.remove_button = button(
            "Remove", SP.SP_TrashIcon, "Remove from the list (result files are kept)"
        )
        bar.addStretch(1)
        self.clear_button = button(
            "Clear finished", SP.SP_DialogResetButton, "Remove every finished job from the list"
        )
        return bar

    def _build_view(self) -> QTreeView:
        """The job tree: batches with their jobs, a thumbnail per row, progress as a bar."""
        self.view = QTreeView()
        self.view.setObjectName("jobView")
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(True)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setIconSize(QSize(44, ROW_HEIGHT - 4))
        self.view.setItemDelegate(RowDelegate(self.view))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.view))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        h = self.view.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(COL_PHOTO, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Stretch)
        self.view.setColumnWidth(COL_PHOTO, 210)
        self.view.setColumnWidth(COL_OP, 220)
        self.view.setColumnWidth(COL_PROGRESS, 140)
        self.view.setColumnWidth(COL_ELAPSED, 64)
        self.view.setColumnWidth(COL_COST, 80)
        return self.view

    def _build_older_button(self) -> QToolButton:
        """Older finished jobs stay in the database until asked for: scrolling to the end of
        the list pages them in, and so does this button. (Not Qt's fetchMore: a view calls
        that while it is first laid out, reading a page nobody asked for.)"""
        self.older_button = QToolButton()
        self.older_button.setObjectName("showOlderJobs")
        self.older_button.setText("Show older jobs")
        self.older_button.setAutoRaise(True)
        self.older_button.setToolTip("Read the next page of finished jobs from the job history")
        return self.older_button

    def _connect(self) -> None:
        model = self.model
        self.view.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.older_button.clicked.connect(self.show_older)
        model.older_changed.connect(self._update_older)
        self.cancel_button.clicked.connect(lambda: self._count(model.cancel, "cancelled"))
        self.retry_button.clicked.connect(lambda: self._count(model.retry, "queued again"))
        self.resend_button.clicked.connect(self.resend_unconfirmed)
        self.remove_button.clicked.connect(lambda: self._count(model.remove, "removed"))
        self.clear_button.clicked.connect(self.clear_finished)
        self.open_button.clicked.connect(self.open_result)
        self.reveal_button.clicked.connect(self.reveal_result)
        self.compare_button.clicked.connect(self._compare)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        model.dataChanged.connect(self._update_buttons)
        model.rowsInserted.connect(self._rows_inserted)

    def resend_unconfirmed(self) -> None:
        """Ask, naming the possible double charge, then send the unconfirmed jobs again."""
        from PySide6.QtWidgets import QMessageBox

        recs = [r for r in (self.model.record(j) for j in self.selected_ids()) if r]
        ids = [r.id for r in recs if r.state is JobState.UNCONFIRMED]
        if not ids:
            return
        costs = [r.cost for r in recs if r.id in ids and r.cost]
        cost = f" (about {sum(costs):g} credits each time)" if costs else ""
        answer = QMessageBox.question(
            self,
            "Send again?",
            f"The provider may already have {len(ids)} of these job(s): their first "
            f"submission got no answer. Sending again may charge you twice{cost}. "
            "Check the provider's dashboard first. Send again?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._count(self.model.resend_unconfirmed, "sent again")

    # -- selection ------------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        return self.model.ids_for(self.view.selectionModel().selectedRows(0))

    def _result_of_selection(self) -> Path | None:
        for jid in self.selected_ids():
            rec = self.model.record(jid)
            if rec is not None and rec.results:
                return rec.results[0]
        return None

    def _done_selected(self) -> str | None:
        for jid in self.selected_ids():
            rec = self.model.record(jid)
            if rec is not None and rec.state is JobState.DONE and rec.results:
                return jid
        return None

    def _update_buttons(self, *_args: object) -> None:
        recs = [r for r in (self.model.record(j) for j in self.selected_ids()) if r]
        self.cancel_button.setEnabled(any(not r.state.terminal for r in recs))
        self.retry_button.setEnabled(
            any(r.state in (JobState.FAILED, JobState.CANCELLED, JobState.STALLED) for r in recs)
        )
        self.resend_button.setEnabled(any(r.state is JobState.UNCONFIRMED for r in recs))
        self.remove_button.setEnabled(bool(recs))
        has_result = any(r.results for r in recs)
        self.open_button.setEnabled(has_result)
        self.reveal_button.setEnabled(has_result)
        self.compare_button.setEnabled(has_result)

    def _rows_inserted(self, parent: QModelIndex, first: int, _last: int) -> None:
        # New rows go on top: keep them in view without stealing the user's selection. Older
        # jobs paged in below leave the view where the user scrolled.
        if not parent.isValid() and first == 0:
            self.view.scrollToTop()

    def show_older(self) -> None:
        """Show the next page of older finished jobs (below the others)."""
        n = self.model.load_older()
        self.message.emit(f"{n} older job{'s' if n != 1 else ''} shown" if n else "")

    def _scrolled(self, value: int) -> None:
        bar = self.view.verticalScrollBar()
        if value > 0 and value == bar.maximum() and self.model.can_load_older():
            self.show_older()

    def _update_older(self) -> None:
        self.older_button.setVisible(self.model.can_load_older())

    # -- actions --------------------------------------------------------------------------------
    def _count(self, fn, verb: str) -> None:
        n = fn(self.selected_ids())
        if n:
            self.message.emit(f"{n} job{'s' if n != 1 else ''} {verb}")
        self._update_buttons()

    def clear_finished(self) -> None:
        """Forget done, failed and cancelled jobs (their result files stay on disk)."""
        ids = [j for j in self.model.job_ids() if (r := self.model.record(j)) and r.state.terminal]
        n = self.model.remove(ids)
        self.message.emit(f"Cleared {n} finished job{'s' if n != 1 else ''}" if n else "")
        self._update_buttons()

    def open_result(self) -> None:
        path = self._result_of_selection()
        if path is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.message.emit(no_launcher(path, "No program is set up to open"))

    def reveal_result(self) -> None:
        path = self._result_of_selection()
        if path is not None and not reveal_in_file_manager(path):
            self.message.emit(no_launcher(path, "No file manager could show"))

    def _compare(self) -> None:
        jid = self._done_selected()
        if jid:
            self.compare_requested.emit(jid)

    def _double_clicked(self, index: QModelIndex) -> None:
        ids = self.model.ids_for([index.siblingAtColumn(0)])
        if len(ids) == 1:
            rec = self.model.record(ids[0])
            if rec is not None and rec.state is JobState.DONE and rec.results:
                self.compare_requested.emit(ids[0])

    def _menu(self, pos) -> None:
        menu = QMenu(self)
        for b in (
            self.compare_button,
            self.open_button,
            self.reveal_button,
            self.retry_button,
            self.resend_button,
            self.cancel_button,
            self.remove_button,
        ):
            act = menu.addAction(b.icon(), b.text())
            act.setEnabled(b.isEnabled())
            act.triggered.connect(b.click)
        menu.exec(self.view.viewport().mapToGlobal(pos))


def no_launcher(path: Path, what: str) -> str:
    """The sentence when the desktop cannot open a file: where it is (and on the clipboard)."""
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setText(str(path))
    return f"{what} {path.name}: it is at {path} (path copied)"


def reveal_in_file_manager(path: Path) -> bool:
    """Show ``path`` selected in the platform's file manager (its folder where unsupported).

    False when nothing could be opened (no desktop session, no file manager): the caller
    says where the file is instead of failing silently.
    """
    import subprocess
    import sys

    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(path)])
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", f"/select,{path}"])
            return True
        # freedesktop file managers implement ShowItems over D-Bus; fall back to the folder.
        from PySide6.QtDBus import QDBusConnection, QDBusMessage

        msg = QDBusMessage.createMethodCall(
            "org.freedesktop.FileManager1",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1",
            "ShowItems",
        )
        msg.setArguments([[QUrl.fromLocalFile(str(path)).toString()], ""])
        if (
            QDBusConnection.sessionBus().isConnected()
            and QDBusConnection.sessionBus().call(msg).type()
            != QDBusMessage.MessageType.ErrorMessage
        ):
            return True
    except Exception:  # no D-Bus / module: open the folder instead
        pass
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
