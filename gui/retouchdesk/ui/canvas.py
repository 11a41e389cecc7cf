"""The photo canvas: a QGraphicsView whose scene coordinates are the photo's pixels.

Contract: the photo item sits at (0, 0) with no transform of its own;
zoom and pan are the view's transform, so ``scene x, y`` is always image pixel ``x, y`` at
every zoom level. Overlays (the mask layer, guides) are ``QGraphicsItem``s added with
:meth:`Canvas.add_overlay`.

Smoothness on 24-megapixel photos comes from :class:`PhotoItem`: it paints only the exposed
rectangle, from the smallest pyramid level that still has at least one source pixel per
screen pixel, so zooming out never resamples the full image per frame. Above 100 % the
pixels are drawn without smoothing so that they stay crisp and exact (pixel peeping).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

MIN_ZOOM = 0.01
MAX_ZOOM = 32.0
WHEEL_STEP = 1.2
GRID_ZOOM = 12.0  # physical pixels per image pixel from which the pixel grid is drawn
BACKGROUND = QColor(0x3A, 0x3A, 0x3C)  # neutral mid-dark grey: does not bias colour judgement


def _checker_brush() -> QBrush:
    pm = QPixmap(16, 16)
    pm.fill(QColor(0xCC, 0xCC, 0xCC))
    p = QPainter(pm)
    p.fillRect(0, 0, 8, 8, QColor(0x99, 0x99, 0x99))
    p.fillRect(8, 8, 8, 8, QColor(0x99, 0x99, 0x99))
    p.end()
    return QBrush(pm)


@runtime_checkable
class Zoomable(Protocol):
    """What the View menu's zoom actions act on: the canvas, the compare views, the Try On
    grid."""

    def zoom_in(self) -> None: ...
    def zoom_out(self) -> None: ...
    def fit(self) -> None: ...
    def actual_size(self) -> None: ...


class PhotoItem(QGraphicsItem):
    """Paints a photo from a pyramid of levels; its bounding rect is the full pixel size.

    ``levels`` are QImages of decreasing size; each one's scale is its width over the full
    width, so a small preview (a thumbnail) can stand in until the full image is decoded.
    ``clip`` optionally limits painting to part of the item (the compare view's split).
    """

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._levels: list[QImage] = []
        self._w = 0
        self._h = 0
        self._alpha = False
        self._checker: QBrush | None = None
        self.clip: Callable[[], QRectF | None] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_levels(self, levels: list[QImage], width: int, height: int, alpha: bool) -> None:
        self.prepareGeometryChange()
        self._levels = sorted(levels, key=lambda q: -q.width())
        self._w, self._h, self._alpha = width, height, alpha
        self.update()

    @property
    def levels(self) -> list[QImage]:
        return self._levels

    @property
    def size(self) -> tuple[int, int]:
        return self._w, self._h

    def is_empty(self) -> bool:
        return not self._levels

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._w, self._h)

    def level_for(self, lod: float) -> tuple[QImage, float]:
        """The smallest level with scale >= ``lod`` (else the largest) and its scale."""
        best = self._levels[0]
        for q in self._levels:
            if q.width() / self._w >= lod - 1e-9:
                best = q
            else:
                break
        return best, best.width() / self._w

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        if not self._levels or self._w <= 0:
            return
        exposed = option.exposedRect.intersected(self.boundingRect())
        if self.clip is not None:
            c = self.clip()
            if c is not None:
                exposed = exposed.intersected(c)
        if exposed.isEmpty():
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if widget is not None:
            lod *= widget.devicePixelRatioF()  # physical pixels per image pixel (HiDPI)
        img, scale = self.level_for(lod)
        # Snap the exposed rectangle outwards to whole source pixels: no seams while panning.
        sx0 = math.floor(exposed.left() * scale)
        sy0 = math.floor(exposed.top() * scale)
        sx1 = min(img.width(), math.ceil(exposed.right() * scale))
        sy1 = min(img.height(), math.ceil(exposed.bottom() * scale))
        src = QRectF(sx0, sy0, sx1 - sx0, sy1 - sy0)
        dst = QRectF(sx0 / scale, sy0 / scale, (sx1 - sx0) / scale, (sy1 - sy0) / scale)
        if self._alpha:
            if self._checker is None:
                self._checker = _checker_brush()
            painter.fillRect(dst, self._checker)
        # Smooth when a screen pixel covers more than one source pixel; exact pixels above.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, lod * 1.0 / scale < 1)
        painter.drawImage(dst, img, src)


class Canvas(QGraphicsView):
    """Zoomable, pannable photo view.

    Signals:
        zoom_changed(float): the view scale (1.0 = 100 %, one image pixel per screen pixel).
        cursor_pixel_changed(int, int): image pixel under the mouse (-1, -1 outside).
        view_changed(): zoom or scroll position changed (side-by-side compare follows it).
    """

    zoom_changed = Signal(float)
    cursor_pixel_changed = Signal(int, int)
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.photo = PhotoItem()
        self.photo.setZValue(0)
        self._scene.addItem(self.photo)
        self._fit_mode = True
        self._space_down = False
        self._pan_enabled = True
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window handles dropped files
        self.horizontalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    # -- content --------------------------------------------------------------------------
    def set_image(self, levels: list[QImage], width: int, height: int, alpha: bool = False):
        """Show a photo; keeps the current zoom when only the resolution of it improves."""
        same = self.photo.size == (width, height)
        self.photo.set_levels(levels, width, height, alpha)
        self._scene.setSceneRect(QRectF(0, 0, width, height))
        if not same or self._fit_mode:
            self._fit_mode = True
            self.fit()

    def clear(self) -> None:
        self.photo.set_levels([], 0, 0, False)
        self._scene.setSceneRect(QRectF())

    def add_overlay(self, item: QGraphicsItem, z: float = 10.0) -> QGraphicsItem:
        """Add an item drawn over the photo in image pixel coordinates (mask layer etc.)."""
        if item.zValue() == 0:
            item.setZValue(z)
        self._scene.addItem(item)
        return item

    def set_pan_enabled(self, enabled: bool) -> None:
        """Drag pans when enabled; a painting tool disables it (space-drag still pans)."""
        self._pan_enabled = enabled
        self._update_drag_mode()

    # -- zoom -----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    def fit_zoom(self) -> float:
        w, h = self.photo.size
        if w <= 0 or h <= 0:
            return 1.0
        vp = self.viewport().rect()
        margin = 16
        fit = min((vp.width() - margin) / w, (vp.height() - margin) / h)
        # Never enlarge a small photo past 100 %: replicated pixels look like a defect.
        return max(MIN_ZOOM, min(1.0 / self.devicePixelRatioF(), fit))

    def fit(self) -> None:
        self._fit_mode = True
        self._apply_zoom(self.fit_zoom(), anchor=None)
        self.centerOn(self.photo.boundingRect().center())

    def actual_size(self) -> None:
        """100 %: one image pixel per physical screen pixel (also on HiDPI screens)."""
        self.set_zoom(1.0 / self.devicePixelRatioF())

    @property
    def pixel_zoom(self) -> float:
        """Physical screen pixels per image pixel: the zoom a photographer means by 100 %."""
        return self.zoom * self.devicePixelRatioF()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * WHEEL_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / WHEEL_STEP)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping ``anchor`` (viewport coordinates) still, or the view's centre."""
        self._fit_mode = False
        self._apply_zoom(zoom, anchor)

    def _apply_zoom(self, zoom: float, anchor: QPointF | None) -> None:
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.resetTransform()
        self.scale(zoom, zoom)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        # translate() is a no-op when the scene fits; move the scroll bars explicitly.
        after = self.mapFromScene(before)
        dx, dy = after.x() - anchor.x(), after.y() - anchor.y()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(dy))
        self.zoom_changed.emit(zoom)
        self.view_changed.emit()

    def view_center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def set_view(self, zoom: float, center: QPointF) -> None:
        """Show ``center`` (scene coordinates) in the middle at ``zoom`` (synchronised views)."""
        self._fit_mode = False
        self.resetTransform()
        self.scale(zoom, zoom)
        self.centerOn(center)
        self.zoom_changed.emit(zoom)
        self.view_changed.emit()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """A faint pixel grid when each image pixel is a big square (pixel peeping)."""
        if self.pixel_zoom < GRID_ZOOM or self.photo.is_empty():
            return
        w, h = self.photo.size
        area = rect.intersected(QRectF(0, 0, w, h))
        if area.isEmpty():
            return
        x0, x1 = math.floor(area.left()), math.ceil(area.right())
        y0, y1 = math.floor(area.top()), math.ceil(area.bottom())
        painter.save()
        pen = QPen(QColor(128, 128, 128, 90))
        pen.setCosmetic(True)  # one screen pixel wide at every zoom
        painter.setPen(pen)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        lines = [QLineF(x, y0, x, y1) for x in range(x0, x1 + 1)]
        lines += [QLineF(x0, y, x1, y) for y in range(y0, y1 + 1)]
        painter.drawLines(lines)
        painter.restore()

    # -- events ---------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier or delta == 0:
            super().wheelEvent(event)  # shift+wheel and touchpad sideways scroll pan
            return
        self.set_zoom(self.zoom * WHEEL_STEP ** (delta / 120), anchor=event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode and not self.photo.is_empty():
            self._apply_zoom(self.fit_zoom(), None)
            self.centerOn(self.photo.boundingRect().center())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self._update_drag_mode()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._update_drag_mode()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._space_down or event.button() == Qt.MouseButton.MiddleButton:
            # Pan even when a painting overlay would take the press: a fake left press
            # starts QGraphicsView's hand drag without reaching the scene items.
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.setInteractive(False)
            fake = QMouseEvent(
                QEvent.Type.MouseButtonPress,
                event.position(),
                event.globalPosition(),
                Qt.MouseButton.LeftButton,
                Qt.MouseButton.LeftButton,
                event.modifiers(),
            )
            super().mousePressEvent(fake)
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self.isInteractive():
            fake = QMouseEvent(
                QEvent.Type.MouseButtonRelease,
                event.position(),
                event.globalPosition(),
                Qt.MouseButton.LeftButton,
                Qt.MouseButton.NoButton,
                event.modifiers(),
            )
            super().mouseReleaseEvent(fake)
            self.setInteractive(True)
            self._update_drag_mode()
            return
        super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        p = self.mapToScene(event.position().toPoint())
        w, h = self.photo.size
        x, y = math.floor(p.x()), math.floor(p.y())
        if 0 <= x < w and 0 <= y < h:
            self.cursor_pixel_changed.emit(x, y)
        else:
            self.cursor_pixel_changed.emit(-1, -1)

    def _update_drag_mode(self) -> None:
        pan = self._pan_enabled or self._space_down
        mode = QGraphicsView.DragMode.ScrollHandDrag if pan else QGraphicsView.DragMode.NoDrag
        self.setDragMode(mode)

    def _scrolled(self, _value: int) -> None:
        self.view_changed.emit()
