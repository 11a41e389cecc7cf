"""The filmstrip: a horizontal strip of the open photos' thumbnails."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from retouchdesk.model.photos import ERROR_ROLE, VERSIONS_ROLE, PhotosModel

CELL = QSize(112, 96)  # compact: at 1280 x 720 the photo needs the height
BROKEN = QColor(0xD9, 0x4F, 0x3D)  # the job panel's "failed" red


class FilmstripDelegate(QStyledItemDelegate):
    """Thumbnail centred over the elided file name, with a badge counting results."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return CELL

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        r = option.rect.adjusted(3, 3, -3, -3)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(r, 5, 5)
        f = painter.font()
        f.setPointSizeF(max(7.0, f.pointSizeF() - 1))
        painter.setFont(f)
        fm = painter.fontMetrics()
        # The name's line is a whole line of the font (underscores and descenders included);
        # the thumbnail takes what is left.
        text_h = fm.height() + 2
        thumb_box = QRect(r.left(), r.top() + 3, r.width(), r.height() - text_h - 5)
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        if pm is not None and not pm.isNull():
            s = pm.size().scaled(thumb_box.size() - QSize(8, 0), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, s.width(), s.height())
            target.moveCenter(thumb_box.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pm)
        elif index.data(ERROR_ROLE):
            # Unreadable: say so in the cell (the reason is in the tooltip), never a forever "…".
            painter.setPen(BROKEN)
            f = painter.font()
            f.setPointSizeF(f.pointSizeF() * 2)
            painter.setFont(f)
            box = thumb_box.adjusted(0, 0, 0, -18)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "⚠")
            f.setPointSizeF(f.pointSizeF() / 2)
            painter.setFont(f)
            painter.drawText(
                thumb_box.adjusted(0, thumb_box.height() - 26, 0, 0),
                Qt.AlignmentFlag.AlignCenter,
                "Can't read",
            )
        else:
            painter.setPen(pal.color(QPalette.ColorRole.Mid))
            painter.drawText(thumb_box, Qt.AlignmentFlag.AlignCenter, "…")
        text_rect = QRect(r.left() + 4, r.bottom() - text_h, r.width() - 8, text_h)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.WindowText
        painter.setPen(pal.color(role))
        name = fm.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole) or ""),
            Qt.TextElideMode.ElideMiddle,
            text_rect.width(),
        )
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name
        )
        versions = index.data(VERSIONS_ROLE) or 0
        if versions:
            badge = QRect(r.right() - 24, r.top() + 4, 20, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0x3D, 0x8E, 0xE0))
            painter.drawRoundedRect(badge, 8, 8)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(versions))
        painter.restore()


class Filmstrip(QListView):
    """The open photos in a row under the canvas; picking one makes it current."""

    def __init__(self, model: PhotosModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.photos = model
        self.setModel(model)
        self.setItemDelegate(FilmstripDelegate(self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(CELL.height() + 20)
        self.setSpacing(0)
        self.selectionModel().currentChanged.connect(self._current)
        model.current_changed.connect(self._follow)

    def _current(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        if cur.isValid():
            self.photos.set_current_row(cur.row())

    def _follow(self, _path: str) -> None:
        row = self.photos.current_row
        if row >= 0 and self.currentIndex().row() != row:
            self.setCurrentIndex(self.photos.index(row))
            self.scrollTo(self.photos.index(row))
