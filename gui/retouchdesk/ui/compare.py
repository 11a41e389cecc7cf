"""Before/after compare: a draggable split, hold-to-see-original, and synchronised side by side.

Both sides are shown in the *left* image's pixel coordinates: a result of another size (an
upscale) is scaled onto the same rectangle, so the split line and the synchronised zoom
always show the same part of the photo on both sides.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.compare import CompareModel
from retouchdesk.model.display import DisplayImage
from retouchdesk.ui.canvas import Canvas, PhotoItem, Zoomable

HOLD_KEY = Qt.Key.Key_Backslash  # Lightroom's before/after key
GRAB = 6  # pixels either side of the split line that start a drag


class SplitCanvas(Canvas):
    """The left image everywhere, the right image right of a vertical split line."""

    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.after = PhotoItem()
        self.after.setZValue(1)
        self.after.clip = self._after_clip
        self.scene().addItem(self.after)
        self.split = 0.5  # fraction of the image width
        self._dragging = False
        self.showing_original = False

    def set_pair(self, before: DisplayImage, after: DisplayImage) -> None:
        self.set_image(before.levels, before.width, before.height, before.has_alpha)
        self.after.set_levels(after.levels, after.width, after.height, after.has_alpha)
        self.after.setTransform(
            QTransform.fromScale(before.width / after.width, before.height / after.height)
        )
        self.viewport().update()

    def _after_clip(self) -> QRectF | None:
        w, h = self.after.size
        return QRectF(self.split * w, 0, w - self.split * w, h)

    def split_x_view(self) -> float:
        w, _ = self.photo.size
        return self.mapFromScene(QPointF(self.split * w, 0)).x()

    def set_split(self, fraction: float) -> None:
        self.split = min(1.0, max(0.0, fraction))
        self.after.update()
        self.viewport().update()
        self.split_changed.emit(self.split)

    def show_original(self, on: bool) -> None:
        self.showing_original = on
        self.after.setVisible(not on)
        self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.photo.is_empty() or self.showing_original:
            return
        _, h = self.photo.size
        painter.save()
        painter.resetTransform()
        x = self.split_x_view()
        top = max(0.0, self.mapFromScene(QPointF(0, 0)).y())
        bottom = min(float(self.viewport().height()), self.mapFromScene(QPointF(0, h)).y())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 120), 3))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        painter.setPen(QPen(QColor(255, 255, 255, 230), 1.5))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        mid = (top + bottom) / 2
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.setPen(QPen(QColor(0, 0, 0, 140), 1))
        painter.drawEllipse(QPointF(x, mid), 10, 10)
        painter.setPen(QPen(QColor(40, 40, 40), 1.5))
        painter.drawLine(QPointF(x - 4, mid - 4), QPointF(x - 4, mid + 4))
        painter.drawLine(QPointF(x + 4, mid - 4), QPointF(x + 4, mid + 4))
        for text, left in (("Before", True), ("After", False)):
            fm = painter.fontMetrics()
            tw = fm.horizontalAdvance(text) + 12
            bx = x - tw - 8 if left else x + 8
            box = QRectF(bx, top + 8, tw, fm.height() + 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (
            event.button() == Qt.MouseButton.LeftButton
            and abs(event.position().x() - self.split_x_view()) <= GRAB
        ):
            self._dragging = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            w, _ = self.photo.size
            x = self.mapToScene(event.position().toPoint()).x()
            self.set_split(x / w if w else 0.5)
            event.accept()
            return
        near = abs(event.position().x() - self.split_x_view()) <= GRAB
        self.viewport().setCursor(
            Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.OpenHandCursor
        )
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _scrolled(self, _value: int) -> None:
        super()._scrolled(_value)
        self.viewport().update()  # the line is drawn in view coordinates


class SideBySide(QSplitter):
    """Two canvases whose zoom and position follow each other."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.left = Canvas()
        self.right = Canvas()
        self.addWidget(self.left)
        self.addWidget(self.right)
        self._syncing = False
        self.left.view_changed.connect(lambda: self._follow(self.left, self.right))
        self.right.view_changed.connect(lambda: self._follow(self.right, self.left))

    def set_pair(self, before: DisplayImage, after: DisplayImage) -> None:
        self.left.set_image(before.levels, before.width, before.height, before.has_alpha)
        self.right.set_image(after.levels, after.width, after.height, after.has_alpha)
        self.fit()

    # The view actions (Ctrl+0, Ctrl+1, zoom in/out) act on both halves through the left one.
    def fit(self) -> None:
        """Each half shows its whole image (same framing: they follow each other)."""
        self.left.fit()
        self.right.fit()

    def actual_size(self) -> None:
        self.left.actual_size()

    def zoom_in(self) -> None:
        self.left.zoom_in()

    def zoom_out(self) -> None:
        self.left.zoom_out()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        # Fitted while hidden, the halves had no size yet: fit again at the real size.
        QTimer.singleShot(0, self.fit)

    def _follow(self, src: Canvas, dst: Canvas) -> None:
        if self._syncing or src.photo.is_empty() or dst.photo.is_empty():
            return
        self._syncing = True
        try:
            sw, sh = src.photo.size
            dw, dh = dst.photo.size
            ratio = dw / sw
            c = src.view_center()
            # The same part of the photo at the same on-screen size on both sides.
            dst.set_view(src.zoom / ratio, QPointF(c.x() * ratio, c.y() * dh / sh))
        finally:
            self._syncing = False


class CompareView(QWidget):
    """Signals: closed() when the user leaves the compare view."""

    closed = Signal()

    def __init__(self, model: CompareModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(self._bar())
        # What the engine was unsure about for the shown result, where the user looks.
        self.note = QLabel()
        self.note.setObjectName("resultNote")
        self.note.setWordWrap(True)
        self.note.setContentsMargins(10, 2, 10, 4)
        self.note.setStyleSheet("color: #E0A030;")
        self.note.hide()
        lay.addWidget(self.note)
        self.stack = QStackedWidget()
        self.split = SplitCanvas()
        self.side = SideBySide()
        self.stack.addWidget(self.split)
        self.stack.addWidget(self.side)
        from retouchdesk.ui.mask_difference import DifferenceView

        self.diff = DifferenceView()
        self.stack.addWidget(self.diff)
        lay.addWidget(self.stack, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.modes.idClicked.connect(self.stack.setCurrentIndex)
        self.left_combo.currentIndexChanged.connect(self._sides_picked)
        self.right_combo.currentIndexChanged.connect(self._sides_picked)
        self.keep_button.clicked.connect(self._keep)
        self.discard_button.clicked.connect(self._discard)
        self.close_button.clicked.connect(self.closed)
        model.versions_changed.connect(self._fill)
        model.sides_changed.connect(self._show)
        model.chosen.connect(self._show_kept)  # the buttons act on the new pick at once

    def _bar(self) -> QHBoxLayout:
        """The bar above the photos: view mode, the two versions, Keep, Discard, Close."""
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        self.split_button = QToolButton()
        self.split_button.setText("Split")
        self.side_button = QToolButton()
        self.side_button.setText("Side by side")
        # "Difference" (ui/mask_difference.py): what the provider changed.
        self.diff_button = QToolButton()
        self.diff_button.setText("Difference")
        self.diff_button.setToolTip("Show only what changed: unchanged pixels grey, changes glow")
        self.modes = QButtonGroup(self)
        buttons = (self.split_button, self.side_button, self.diff_button)
        for i, b in enumerate(buttons):
            b.setCheckable(True)
            b.setProperty("segment", ("first", "middle", "last")[i])
            self.modes.addButton(b, i)
            bar.addWidget(b)
        self.split_button.setChecked(True)
        bar.addSpacing(12)
        self.left_combo = QComboBox()
        self.left_combo.setObjectName("leftVersion")
        self.right_combo = QComboBox()
        self.right_combo.setObjectName("rightVersion")
        for c in (self.left_combo, self.right_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(QLabel("Before:"))
        bar.addWidget(self.left_combo)
        bar.addWidget(QLabel("After:"))
        bar.addWidget(self.right_combo)
        hint = QLabel("Hold \\ to see the original")
        hint.setProperty("hint", True)
        bar.addSpacing(8)
        bar.addWidget(hint)
        bar.addStretch(1)
        # Keep is a pick flag (Lightroom's P): it pins the result, and a pinned result cannot
        # be discarded by a stray click. Discard moves the file to the system trash (undo).
        self.keep_button = QPushButton("Keep")
        self.keep_button.setCheckable(True)
        self.keep_button.setToolTip("Pin this result: it is marked kept and protected from Discard")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Move this result to the trash (Ctrl+Z brings it back)")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Back to the photo (Esc)")
        for b in (self.keep_button, self.discard_button, self.close_button):
            bar.addWidget(b)
        return bar

    def view(self) -> Zoomable:
        """What the View menu's zoom actions act on: the split canvas, both halves, or the
        difference canvas."""
        shown = self.stack.currentWidget()
        return shown if isinstance(shown, Zoomable) else self.split

    def _fill(self) -> None:
        for combo in (self.left_combo, self.right_combo):
            blocked = combo.blockSignals(True)
            combo.clear()
            for v in self.model.versions:
                combo.addItem(v.label, v.path)
                combo.setItemData(
                    combo.count() - 1, f"{v.path}\n{v.detail}", Qt.ItemDataRole.ToolTipRole
                )
            combo.blockSignals(blocked)

    def _sides_picked(self, _i: int) -> None:
        self.model.set_sides(self.left_combo.currentIndex(), self.right_combo.currentIndex())

    def _show(self) -> None:
        m = self.model
        for combo, i in ((self.left_combo, m.left_index), (self.right_combo, m.right_index)):
            blocked = combo.blockSignals(True)
            combo.setCurrentIndex(i)
            combo.blockSignals(blocked)
        if m.left is None or m.right is None:
            return
        self.split.set_pair(m.left, m.right)
        self.side.set_pair(m.left, m.right)
        self.diff.set_pair(m.left, m.right)
        self._show_kept()

    def _show_note(self) -> None:
        notes = self.model.right_notes()
        self.note.setText("⚠ " + " ".join(notes) if notes else "")
        self.note.setVisible(bool(notes))

    def _show_kept(self) -> None:
        self._show_note()
        v = self.model.right_version
        is_result = v is not None and v.job_id is not None
        kept = bool(is_result and v is not None and v.kept)
        self.keep_button.setEnabled(is_result)
        blocked = self.keep_button.blockSignals(True)
        self.keep_button.setChecked(kept)
        self.keep_button.blockSignals(blocked)
        self.keep_button.setText("★ Kept" if kept else "Keep")
        self.discard_button.setEnabled(is_result and not kept)
        self.discard_button.setToolTip(
            "Kept results are protected: click Kept to unpin this one first"
            if kept
            else "Move this result to the trash (Ctrl+Z brings it back)"
        )

    def _keep(self) -> None:
        self.model.keep(self.keep_button.isChecked())
        self._show_kept()

    def _discard(self) -> None:
        if self.model.discard() != "confirm":
            return
        # No trash on this file system (a network share, a card): deleting is for good, so ask.
        v = self.model.right_version
        name = v.path.name if v is not None else "this result"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete the result?",
            f"{name} cannot be moved to the trash here. Delete it permanently?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def done(_r: int) -> None:
            if box.clickedButton() is delete:
                self.model.discard(permanently=True)
            box.deleteLater()

        box.finished.connect(done)
        self.confirm_box = box
        box.open()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == HOLD_KEY and not event.isAutoRepeat():
            self.split.show_original(True)
            return
        if event.key() == Qt.Key.Key_Escape:
            self.closed.emit()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == HOLD_KEY and not event.isAutoRepeat():
            self.split.show_original(False)
            return
        super().keyReleaseEvent(event)
