"""Try on…: the dialog that picks the operations, and the grid that compares their results.

The dialog lists every image operation of every service (the four a portrait retoucher
compares first are checked), with each price and the total before anything is sent. The grid
shows the version that was sent and one cell per operation: the result on a real
:class:`~retouchdesk.ui.canvas.Canvas` (zoom and pan follow each other across the cells, so
the same pore is under the cursor everywhere), and the cost and time under it. "Use this"
makes a result the photo's working version.

:func:`install` adds Photo › Try On… (Ctrl+T), a Try on… button beside Apply, and the grid
to the window's central stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.try_on import Cell, Choice, TryOnModel, TryOnRun, total_cost_text
from retouchdesk.ui.canvas import Canvas

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class TryOnDialog(QDialog):
    """Which operations to try, with each price and the total (see module docstring)."""

    def __init__(
        self,
        choices: list[Choice],
        checked: list[Choice],
        photo_name: str,
        parent: QWidget,
        estimate: Callable[[Choice], float | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("tryOnDialog")
        # Choice -> seconds or None: the Apply flow's estimate (measured, else the schema's).
        self.estimate = estimate
        self.setWindowTitle("Try on…")
        self.choices = {c.key: c for c in choices}
        lay = QVBoxLayout(self)
        head = QLabel(f"Send <b>{photo_name}</b> to several operations and compare the results.")
        head.setWordWrap(True)
        lay.addWidget(head)
        self.list = QListWidget()
        self.list.setObjectName("tryOnChoices")
        on = {c.key for c in checked}
        for c in choices:
            item = QListWidgetItem(f"{c.label}  —  {_short_price(c)}")
            item.setData(KEY_ROLE, c.key)
            flags = Qt.ItemFlag.ItemIsUserCheckable
            if c.ready:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Checked if c.key in on else Qt.CheckState.Unchecked)
            item.setToolTip(c.reason or c.cost_text or c.price())  # the full sentence
            self.list.addItem(item)
        self.list.setMinimumSize(560, 300)
        lay.addWidget(self.list, 1)
        self.total = QLabel()
        self.total.setObjectName("tryOnTotal")
        self.total.setWordWrap(True)
        lay.addWidget(self.total)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton("Send", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setObjectName("tryOnSend")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.list.itemChanged.connect(lambda _i: self._update())
        self._update()

    def chosen(self) -> list[Choice]:
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            c = self.choices[item.data(KEY_ROLE)]
            if item.checkState() == Qt.CheckState.Checked and c.ready:
                out.append(c)
        return out

    def set_checked(self, keys: list[str]) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            state = (
                Qt.CheckState.Checked if item.data(KEY_ROLE) in keys else Qt.CheckState.Unchecked
            )
            item.setCheckState(state)

    def _update(self) -> None:
        chosen = self.chosen()
        n = len(chosen)
        if not n:
            self.total.setText("Check at least one operation.")
        else:
            cost = total_cost_text(chosen)
            text = f"<b>Total for {n} operation{'s' if n != 1 else ''}: {cost}</b>"
            times = [self.estimate(c) for c in chosen] if self.estimate is not None else []
            known = [t for t in times if t is not None]
            if known:
                from retouchdesk.model.estimate import duration_text

                # The services work side by side: the slowest known one sets the wait.
                text += f"<br>Time: {duration_text(max(known))}"
                if len(known) < len(times):
                    text += " for those that publish one (cloud services do not)"
            self.total.setText(text)
        self.send_button.setText(f"Send to {n}" if n else "Send")
        self.send_button.setEnabled(n > 0)


def _short_price(c: Choice) -> str:
    """One short line per row; the schema's full sentence or the reason is the tooltip."""
    if not c.ready:
        if "mask" in c.reason:
            return "needs a painted mask"
        return "not set up (see Settings)"
    if c.amount is None:
        return "priced by the service when it runs"
    return c.price()


class GridCell(QFrame):
    """One image of the grid: title, canvas, cost and time, and Use this."""

    use = Signal(str)

    def __init__(self, title: str, job_id: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gridCell")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.job_id = job_id
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        self.title = QLabel(f"<b>{title}</b>")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.title)
        self.canvas = Canvas()
        self.canvas.setMinimumSize(160, 120)
        # Small cells: scroll bars would eat them; dragging and the wheel still pan and zoom.
        self.canvas.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.canvas.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        self.info = QLabel()
        self.info.setObjectName("cellInfo")
        self.info.setWordWrap(True)
        self.info.setProperty("hint", True)
        row.addWidget(self.info, 1)
        self.use_button = QPushButton("Use this")
        self.use_button.setObjectName("useThis")
        self.use_button.setToolTip("Make this result the working version of the photo")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self.use.emit(self.job_id or ""))
        row.addWidget(self.use_button)
        if job_id is None:
            self.use_button.hide()
        lay.addLayout(row)
        self.shown: Any = None

    def show_image(self, img: Any) -> None:
        if img is not None and img is not self.shown:
            self.shown = img
            self.canvas.set_image(img.levels, img.width, img.height, img.has_alpha)


def cell_text(cell: Cell) -> str:
    """What is written under a tried result: cost and time, or where it stands."""
    from retouchdesk.model.estimate import duration_text

    if cell.state in ("done", "loading"):
        parts = [f"Cost: {cell.cost or cell.choice.price()}"]
        if cell.seconds is not None:
            parts.append(f"Time: {cell.seconds:.1f} s")
        if cell.note:
            parts.append(cell.note)
        return " · ".join(parts)
    if cell.state in ("failed", "skipped"):
        return f"⚠ {cell.note}"
    wait = "Running…"
    if cell.estimate is not None:
        wait += f" ({duration_text(cell.estimate)})"
    return wait


class CompareGrid(QWidget):
    """The results of a Try on… run side by side (see module docstring).

    Signals: closed().
    """

    closed = Signal()

    def __init__(self, model: TryOnModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareGrid")
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        self.heading = QLabel()
        bar.addWidget(self.heading)
        bar.addStretch(1)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Every cell shows its whole image")
        self.actual_button = QPushButton("100%")
        self.actual_button.setToolTip("One image pixel per screen pixel, in every cell")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Back to the photo (Esc)")
        for b in (self.fit_button, self.actual_button, self.close_button):
            bar.addWidget(b)
        lay.addLayout(bar)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(6, 0, 6, 6)
        self.grid.setSpacing(6)
        lay.addWidget(self.grid_host, 1)
        self.cells: list[GridCell] = []
        self._run: TryOnRun | None = None
        self._syncing = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.fit_button.clicked.connect(self.fit)
        self.actual_button.clicked.connect(self.actual_size)
        self.close_button.clicked.connect(self.closed)
        model.changed.connect(self.refresh)

    # -- building ----------------------------------------------------------------------------
    def _rebuild(self, run: TryOnRun) -> None:
        for c in self.cells:
            self.grid.removeWidget(c)
            c.deleteLater()
        self.cells = []
        self._run = run
        titles: list[tuple[str, str | None]] = [
            ("Sent: " + ("working version" if run.parent_id else "original"), None)
        ]
        titles += [(c.choice.label, c.job_id) for c in run.cells]
        cols = max(1, math.ceil(math.sqrt(len(titles))))
        for i, (title, job_id) in enumerate(titles):
            cell = GridCell(title, job_id)
            cell.use.connect(self._use)
            cell.canvas.view_changed.connect(lambda c=cell.canvas: self._follow(c))
            self.grid.addWidget(cell, i // cols, i % cols)
            self.cells.append(cell)
        for r in range(math.ceil(len(titles) / cols)):
            self.grid.setRowStretch(r, 1)
        for c in range(cols):
            self.grid.setColumnStretch(c, 1)

    def refresh(self) -> None:
        run = self.model.run
        if run is None:
            return
        if run is not self._run or len(self.cells) != len(run.cells) + 1:
            self._rebuild(run)
        done = sum(1 for c in run.cells if c.state == "done")
        self.heading.setText(
            f"<b>{run.photo.name}</b> · {done} of {len(run.cells)} results · "
            "zoom and pan move every cell"
        )
        first = self.cells[0]
        first.show_image(run.original)
        first.info.setText(str(run.source.name))
        for gc, cell in zip(self.cells[1:], run.cells, strict=True):
            gc.job_id = cell.job_id
            fresh = cell.image is not None and gc.shown is None
            gc.show_image(cell.image)
            gc.info.setText(cell_text(cell))
            gc.info.setToolTip(cell.choice.cost_text)  # what the service says of its price
            gc.use_button.setEnabled(cell.state == "done")
            if fresh:
                self._follow_first(gc.canvas)

    # -- synchronised zoom and pan ---------------------------------------------------------
    def canvases(self) -> list[Canvas]:
        return [c.canvas for c in self.cells if not c.canvas.photo.is_empty()]

    def _follow(self, src: Canvas) -> None:
        if self._syncing or src.photo.is_empty():
            return
        self._syncing = True
        try:
            for dst in self.canvases():
                if dst is not src:
                    _copy_view(src, dst)
        finally:
            self._syncing = False

    def _follow_first(self, dst: Canvas) -> None:
        """A result that arrives late takes the framing the others already have."""
        others = [c for c in self.canvases() if c is not dst]
        if others and not others[0].fit_mode:
            self._syncing = True
            try:
                _copy_view(others[0], dst)
            finally:
                self._syncing = False

    def fit(self) -> None:
        for c in self.canvases():
            c.fit()

    def actual_size(self) -> None:
        cs = self.canvases()
        if cs:
            cs[0].actual_size()

    def zoom_in(self) -> None:
        cs = self.canvases()
        if cs:
            cs[0].zoom_in()

    def zoom_out(self) -> None:
        cs = self.canvases()
        if cs:
            cs[0].zoom_out()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.fit)  # fitted while hidden, the cells had no size yet

    def _use(self, job_id: str) -> None:
        if job_id and self.model.pick(job_id):
            self.closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.closed.emit()
            return
        super().keyPressEvent(event)


def _copy_view(src: Canvas, dst: Canvas) -> None:
    """The same part of the photo at the same on-screen size (results may differ in size)."""
    sw, sh = src.photo.size
    dw, dh = dst.photo.size
    if not sw or not sh or not dw or not dh:
        return
    ratio = dw / sw
    c = src.view_center()
    dst.set_view(src.zoom / ratio, QPointF(c.x() * ratio, c.y() * dh / sh))


# -- the window's hook ----------------------------------------------------------------------------
def _layout_holding(layout: QLayout, widget: QWidget) -> QLayout | None:
    if layout.indexOf(widget) >= 0:
        return layout
    for i in range(layout.count()):
        item = layout.itemAt(i)
        child = item.layout() if item is not None else None
        if child is not None:
            found = _layout_holding(child, widget)
            if found is not None:
                return found
    return None


class TryOnHook:
    """What :func:`install` adds to the main window (kept as ``window.try_on``)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        m = window.model
        self.model = m.try_on_model(parent=window)
        self.grid = CompareGrid(self.model)
        window.stack.addWidget(self.grid)
        self.dialog: TryOnDialog | None = None
        self.action = window.add_action(
            "&Try On…",
            self.open_dialog,
            "Ctrl+T",
            tip="Send the photo to several operations at once and compare the results",
        )
        photo_menu = window.menus["Photo"]
        acts = photo_menu.actions()
        i = acts.index(window.apply_all_action)
        if i + 1 < len(acts):
            photo_menu.insertAction(acts[i + 1], self.action)  # right under Apply to All
        else:
            photo_menu.addAction(self.action)
        window.photo_actions.append(self.action)
        self.action.setEnabled(m.photos.rowCount() > 0)
        self.button = QPushButton("Try on…")
        self.button.setObjectName("tryOn")
        self.button.setToolTip("Send this photo to several operations and compare (Ctrl+T)")
        side = window.side
        outer = side.layout()
        row = _layout_holding(outer, side.apply_button) if outer is not None else None
        if isinstance(row, QBoxLayout):
            row.insertWidget(0, self.button)
        self.button.clicked.connect(self.open_dialog)
        m.photos.count_changed.connect(lambda n: self.button.setEnabled(n > 0))
        self.button.setEnabled(m.photos.rowCount() > 0)
        self.model.message.connect(window.show_message)
        m.jobs.job_finished.connect(self.model.job_finished)
        m.jobs.job_failed.connect(self.model.job_failed)
        self.grid.closed.connect(self.close_grid)
        m.photos.current_changed.connect(lambda _p: self._leave_if_shown())

    def open_dialog(self) -> TryOnDialog | None:
        w = self.window
        photo = w.model.photos.current_path
        if photo is None:
            w.show_message("Open a photo first")
            return None
        if w.side.photo_problem:
            w.show_message(w.side.photo_problem)
            return None
        choices = self.model.choices()
        # The shown version is the one sent: its decoded size, else the photo's thumbnail's.
        img = w.model.document.image
        size = (img.width, img.height) if img is not None else w.model.thumbs.size(photo)
        dlg = TryOnDialog(
            choices,
            self.model.suggested(choices),
            photo.name,
            w,
            estimate=lambda c: self.model.estimate_seconds(c, size),
        )
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.accepted.connect(lambda: self._send(photo, dlg.chosen()))
        dlg.finished.connect(lambda _r: dlg.deleteLater())
        self.dialog = dlg
        dlg.open()
        return dlg

    def _send(self, photo: Any, chosen: list[Choice]) -> None:
        if not chosen:
            return
        self.show_grid()
        self.window.model.runner.spawn(self.model.start(photo, chosen), name="try-on")

    def show_grid(self) -> None:
        self.window.stack.setCurrentWidget(self.grid)
        self.grid.setFocus()

    def close_grid(self) -> None:
        w = self.window
        w.stack.setCurrentWidget(w.canvas if w.model.photos.rowCount() else w.empty)
        w.canvas.setFocus()

    def _leave_if_shown(self) -> None:
        if self.window.stack.currentWidget() is self.grid:
            self.close_grid()


def install(window: MainWindow) -> TryOnHook:
    return TryOnHook(window)
