"""The mask layer drawn over the photo on the canvas, and the painting it does.

The canvas (``ui/canvas.py``) puts the photo at scene (0, 0) with no transform, so
scene coordinates are image pixels. :class:`MaskLayer` lives in the same scene (added with
``canvas.add_overlay``) with no transform either: a mouse position in item coordinates *is* the
image pixel, at every zoom level and after any pan. Painting therefore never converts
coordinates itself, which is where peer tools get misaligned strokes.

Drawing: only the exposed rectangle is drawn; the visible part of the mask becomes an 8-bit
indexed image whose colour table carries the overlay colour and opacity (changing the colour
costs nothing). When zoomed out, the region is first reduced to about one sample per screen
pixel (area averaging), so a 24-megapixel mask never costs a full-resolution conversion per
frame. Edits report their dirty rectangle, and only that is repainted.

Tools (see :class:`~retouchdesk.model.mask.MaskTools`): brush and eraser (size, hardness),
lasso (freehand, closes on release), polygon (click points; double-click, Enter or a click on
the first point closes; Backspace removes the last point; Esc cancels), rectangle. Holding Alt
or Ctrl subtracts with any tool. Shift + right-drag changes the brush: sideways for size, up and
down for hardness. Keys (when the canvas has focus): ``[`` ``]`` size, ``{`` ``}`` hardness,
B E L P R tools, X brush/eraser, H show/hide, Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPen,
    qRgba,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from retouchdesk.model.mask import MaskDocument, MaskTool, MaskTools

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


PREVIEW_MAX_PIXELS = 4_000_000  # outlines of expand/feather previews are traced at most this big
CLOSE_DISTANCE_PX = 8  # screen pixels: a polygon click this near the first point closes it


class _BrushCursor(QGraphicsItem):
    """The size preview: the brush outline, two-tone so it shows on light and dark photos."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.radius = 10.0
        self.hardness = 1.0
        self.margin = 2.0
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(3)

    def set_shape(self, radius: float, hardness: float, margin: float) -> None:
        self.prepareGeometryChange()
        self.radius, self.hardness, self.margin = radius, hardness, margin
        self.update()

    def boundingRect(self) -> QRectF:
        r = self.radius + self.margin
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        r = self.radius
        dark = QPen(QColor(0, 0, 0, 200), 0)  # width 0: cosmetic, one screen pixel
        light = QPen(QColor(255, 255, 255, 230), 0, Qt.PenStyle.DashLine)
        for pen in (dark, light):
            painter.setPen(pen)
            painter.drawEllipse(QPointF(0, 0), r, r)
        if 0 < self.hardness < 1 and r * (1 - self.hardness) > 1:
            soft = QPen(QColor(255, 255, 255, 120), 0, Qt.PenStyle.DotLine)
            painter.setPen(soft)  # where the soft edge starts
            ri = r * self.hardness
            painter.drawEllipse(QPointF(0, 0), ri, ri)


OVERVIEW = 4  # the overview's reduction: used from 4 mask pixels per screen pixel out
_POOL: list[Any] = []


def _overview_pool() -> Any:
    """One worker thread for overviews, kept: starting a thread waits until it runs, which
    on a busy machine took tens of milliseconds of the GUI thread at every photo switch."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        from retouchdesk.model.tasks import lower_thread_priority

        _POOL.append(
            ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="retouchdesk-mask-overview",
                initializer=lower_thread_priority,
            )
        )
    return _POOL[0]


class MaskLayer(QGraphicsObject):
    """Shows and edits a :class:`MaskDocument` over the photo (scene units = image pixels)."""

    _overview_built = Signal(object, object)  # (document, overview), from a worker thread

    def __init__(
        self, document: MaskDocument, tools: MaskTools, parent: QGraphicsItem | None = None
    ) -> None:
        super().__init__(parent)
        self._doc = document
        self._tools = tools
        self._editing = False
        self._table = self._color_table()
        self._gesture: str | None = None  # "stroke", "lasso", "rect", "resize"
        self._erase = False
        self._points: list[tuple[float, float]] = []
        self._polygon: list[tuple[float, float]] = []
        self._polygon_erase = False  # the modifier held at the polygon's first click
        self._press = QPointF()
        self._resize_from = (0, 0.0)
        self._hover = QPointF(-1e9, -1e9)
        # The mask reduced OVERVIEW times (area average), for painting when zoomed out: made
        # at the first such paint, then only the edited blocks are brought up to date.
        self._overview: Any = None
        self._overview_stale = QRect()
        self._overview_building: Any = None  # the document whose overview a worker makes
        self._overview_built.connect(self._install_overview)  # queued: back on this thread
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(10)

        self._cursor = _BrushCursor(self)
        self._cursor.setVisible(False)
        self._outline = _DualPath(QColor(255, 255, 255), self)  # lasso/polygon/rect in progress
        self._outline.setZValue(2)
        self._preview = _DualPath(QColor(0, 220, 255), self)  # expand / feather outlines
        self._preview.setZValue(1)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)  # re-trace after painting pauses, not per dab
        self._preview_timer.timeout.connect(self._update_preview)

        self._connect_document(document)
        tools.color_changed.connect(self._restyle)
        tools.opacity_changed.connect(self._restyle)
        tools.visible_changed.connect(self._visibility)
        tools.size_changed.connect(self._refresh_cursor)
        tools.hardness_changed.connect(self._refresh_cursor)
        tools.tool_changed.connect(self._tool_changed)
        tools.preview_changed.connect(self._preview_timer.start)

    # -- wiring ---------------------------------------------------------------------------
    @property
    def document(self) -> MaskDocument:
        return self._doc

    @property
    def tools(self) -> MaskTools:
        return self._tools

    def set_document(self, document: MaskDocument) -> None:
        """Show another photo's mask (the current photo changed)."""
        if document is self._doc:
            return
        for sig, slot in self._doc_slots():
            sig.disconnect(slot)
        self._cancel_gesture()
        self.prepareGeometryChange()
        self._doc = document
        self._overview = None
        self._overview_building = None
        self._connect_document(document)
        self.update()
        self._preview_timer.start()

    def _doc_slots(self):
        return (
            (self._doc.changed, self._on_changed),
            (self._doc.size_changed, self._on_resized),
        )

    def _connect_document(self, document: MaskDocument) -> None:
        document.changed.connect(self._on_changed)
        document.size_changed.connect(self._on_resized)

    def _on_changed(self, rect: QRect) -> None:
        if self._overview is not None or self._overview_building is self._doc:
            self._overview_stale = self._overview_stale.united(rect)
        self.update(QRectF(rect))  # only the dirty region
        if self._tools.preview_expand or self._tools.preview_feather:
            self._preview_timer.start()

    def _on_resized(self, _w: int, _h: int) -> None:
        self._overview = None
        self._overview_building = None
        self.prepareGeometryChange()
        self.update()

    def _restyle(self, *_args: object) -> None:
        self._table = self._color_table()
        self.update()

    def _visibility(self, visible: bool) -> None:
        self.update()
        self._preview.setVisible(visible)

    def _color_table(self) -> list[int]:
        c = self._tools.color
        op = self._tools.opacity
        return [qRgba(c.red(), c.green(), c.blue(), round(i * op)) for i in range(256)]

    # -- editing mode -----------------------------------------------------------------------
    @property
    def editing(self) -> bool:
        return self._editing

    def set_editing(self, editing: bool) -> None:
        """Take the mouse for painting (the canvas stops drag-panning; space-drag still pans)."""
        self._editing = editing
        buttons = (
            Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton
            if editing
            else Qt.MouseButton.NoButton
        )
        self.setAcceptedMouseButtons(buttons)
        self.setAcceptHoverEvents(editing)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsFocusable, editing)
        if editing:
            self.setCursor(Qt.CursorShape.CrossCursor)
            self.setFocus()
        else:
            self.unsetCursor()
            self._cancel_gesture()
            self._cursor.setVisible(False)
        for view in self.scene().views() if self.scene() else ():
            set_pan = getattr(view, "set_pan_enabled", None)
            if set_pan is not None:
                set_pan(not editing)

    # -- drawing --------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._doc.width, self._doc.height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self._tools.visible or self._doc.is_empty():  # emptiness is remembered
            return
        import cv2
        import numpy as np

        exposed = option.exposedRect.intersected(self.boundingRect())
        if exposed.isEmpty():
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        device = painter.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        # One sample per *device* pixel: a HiDPI screen gets the sharper overlay it can show.
        step = max(1, math.floor(1.0 / (lod * dpr))) if lod > 0 else 1
        w, h = self._doc.width, self._doc.height
        # Align to the sampling grid so neighbouring repaints meet without seams.
        x0 = math.floor(exposed.left() / step) * step
        y0 = math.floor(exposed.top() / step) * step
        x1 = min(w, math.ceil(exposed.right() / step) * step)
        y1 = min(h, math.ceil(exposed.bottom() / step) * step)
        if x0 >= x1 or y0 >= y1:
            return
        region = self._doc.array[y0:y1, x0:x1]
        if region.size <= 1 << 20 and not region.any():  # a big one costs more to scan
            return
        ov = self._current_overview() if step >= OVERVIEW else None
        if step >= OVERVIEW and ov is None:
            # The overview of a mask just shown is being made in a worker (a 24 MP reduction
            # would stall the window): until then every step-th pixel, no averaging.
            sub = region[::step, ::step]
        elif ov is not None:
            # From the overview: a 24 MP mask at fit reads 1.5 MB per frame, not 24 MB.
            f = OVERVIEW
            part = ov[y0 // f : math.ceil(y1 / f), x0 // f : math.ceil(x1 / f)]
            size = (math.ceil((x1 - x0) / step), math.ceil((y1 - y0) / step))
            if part.shape != (size[1], size[0]):
                part = cv2.resize(part, size, interpolation=cv2.INTER_AREA)
            sub = part
        elif step > 1:
            size = (math.ceil((x1 - x0) / step), math.ceil((y1 - y0) / step))
            sub = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        else:
            sub = region
        target = QRectF(x0, y0, x1 - x0, y1 - y0)
        smooth = lod < 1
        if step > 1:
            # Reduced to the device pixels it covers here, so that Qt blits it instead of
            # scaling 1.5 MP smoothly on every frame (that was most of a repaint at fit).
            device_rect = painter.worldTransform().mapRect(target)
            dw, dh = max(1, round(device_rect.width())), max(1, round(device_rect.height()))
            if dw < sub.shape[1] and dh < sub.shape[0]:
                # Less than 2 samples per device pixel are left (step = floor(1 / lod)):
                # bilinear is enough, and an area resize by such a ratio costs 10x more.
                sub = cv2.resize(sub, (dw, dh), interpolation=cv2.INTER_LINEAR)
                smooth = False
        sub = np.ascontiguousarray(sub)
        sh, sw = sub.shape
        image = QImage(sub.data, sw, sh, sub.strides[0], QImage.Format.Format_Indexed8)
        image.setColorTable(self._table)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, image)
        del image  # ``sub`` must outlive the QImage that wraps its memory

    def _current_overview(self) -> Any:
        """The mask reduced OVERVIEW times, its edited blocks brought up to date; None while
        a worker makes it (started here)."""
        import numpy as np

        f = OVERVIEW
        a = self._doc.array
        h, w = a.shape
        if self._overview is None:
            self._build_overview()
            return None
        if not self._overview_stale.isEmpty():
            r = self._overview_stale.intersected(QRect(0, 0, w, h))
            self._overview_stale = QRect()
            bx0, by0 = r.left() // f, r.top() // f
            bx1, by1 = (
                min(math.ceil(w / f), (r.right() + f) // f),
                min(math.ceil(h / f), (r.bottom() + f) // f),
            )
            # Whole blocks of f x f pixels, so the update matches a full reduction.
            block = a[by0 * f : by1 * f, bx0 * f : bx1 * f]
            bh, bw = by1 - by0, bx1 - bx0
            if block.shape == (bh * f, bw * f):
                small = block.reshape(bh, f, bw, f).mean(axis=(1, 3))
                self._overview[by0:by1, bx0:bx1] = np.rint(small).astype(np.uint8)
            else:  # the last partial row or column of blocks: made again, as a whole
                self._overview = None
                self._build_overview()
                return None
        return self._overview

    def _build_overview(self) -> None:
        """Reduce the whole mask in a worker thread; edits meanwhile are applied after."""
        doc = self._doc
        if self._overview_building is doc:
            return
        self._overview_building = doc
        self._overview_stale = QRect()  # edits from now on are re-applied on arrival
        array = doc.array

        def build() -> None:
            import cv2

            h, w = array.shape
            f = OVERVIEW
            small = cv2.resize(
                array, (math.ceil(w / f), math.ceil(h / f)), interpolation=cv2.INTER_AREA
            )
            with contextlib.suppress(RuntimeError):  # the layer was deleted meanwhile
                self._overview_built.emit(doc, small)

        _overview_pool().submit(build)

    def _install_overview(self, doc: Any, overview: Any) -> None:
        if doc is not self._doc:
            return  # another photo's mask is shown now
        self._overview_building = None
        self._overview = overview
        self.update()

    # -- brush cursor ---------------------------------------------------------------------
    def _view_scale(self) -> float:
        views = self.scene().views() if self.scene() else []
        return views[0].transform().m11() if views else 1.0

    def _refresh_cursor(self, *_args: object) -> None:
        margin = 3.0 / max(1e-3, self._view_scale())
        self._cursor.set_shape(self._tools.size / 2.0, self._tools.hardness, margin)
        show = self._editing and self._tools.tool in (MaskTool.BRUSH, MaskTool.ERASER)
        self._cursor.setVisible(
            show and self.boundingRect().adjusted(-1e4, -1e4, 1e4, 1e4).contains(self._hover)
        )

    def _tool_changed(self, _tool: str) -> None:
        self._cancel_gesture()
        self._refresh_cursor()

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = event.pos()
        self._cursor.setPos(event.pos())
        self._refresh_cursor()
        if self._tools.tool == MaskTool.POLYGON and self._polygon:
            self._show_outline([*self._polygon, (event.pos().x(), event.pos().y())], closed=False)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._cursor.setVisible(False)

    # -- mouse ----------------------------------------------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if not self._editing:
            event.ignore()
            return
        pos = event.pos()
        mods = event.modifiers()
        if event.button() == Qt.MouseButton.RightButton:
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self._gesture = "resize"
                self._press = event.screenPos().toPointF()
                self._resize_from = (self._tools.size, self._tools.hardness)
                event.accept()
                return
            event.ignore()
            return
        subtract = bool(
            mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier)
        )
        tool = self._tools.tool
        self._erase = (tool == MaskTool.ERASER) != subtract
        if tool in (MaskTool.BRUSH, MaskTool.ERASER):
            self._gesture = "stroke"
            self._doc.begin_stroke(
                pos.x(), pos.y(), self._tools.size / 2.0, self._tools.hardness, self._erase
            )
        elif tool == MaskTool.LASSO:
            self._gesture = "lasso"
            self._points = [(pos.x(), pos.y())]
        elif tool == MaskTool.RECTANGLE:
            self._gesture = "rect"
            self._press = pos
        elif tool == MaskTool.POLYGON:
            self._polygon_click(pos)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        pos = event.pos()
        self._hover = pos
        self._cursor.setPos(pos)
        if self._gesture == "stroke":
            self._doc.stroke_to(pos.x(), pos.y())
        elif self._gesture == "lasso":
            self._points.append((pos.x(), pos.y()))
            self._show_outline(self._points, closed=False)
        elif self._gesture == "rect":
            self._outline.setPath(_rect_path(_pixel_rect(self._press, pos)))
            self._outline.setVisible(True)
        elif self._gesture == "resize":
            delta = event.screenPos().toPointF() - self._press
            size, hardness = self._resize_from
            self._tools.set_size(size * 2.0 ** (delta.x() / 100.0))  # 100 px right = double
            self._tools.set_hardness(hardness - delta.y() / 200.0)  # up = harder
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        gesture, self._gesture = self._gesture, None
        pos = event.pos()
        if gesture == "stroke":
            self._doc.stroke_to(pos.x(), pos.y())
            self._doc.end_stroke()
        elif gesture == "lasso":
            self._points.append((pos.x(), pos.y()))
            points, self._points = self._points, []
            self._outline.setVisible(False)
            self._doc.fill_polygon(points, erase=self._erase)
        elif gesture == "rect":
            self._outline.setVisible(False)
            self._doc.fill_rect(_pixel_rect(self._press, pos), erase=self._erase)
        event.accept()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._editing and self._tools.tool == MaskTool.POLYGON and len(self._polygon) >= 3:
            self._close_polygon()
            event.accept()
            return
        self.mousePressEvent(event)

    def _polygon_click(self, pos: QPointF) -> None:
        if len(self._polygon) >= 3:
            fx, fy = self._polygon[0]
            close = CLOSE_DISTANCE_PX / max(1e-3, self._view_scale())
            if math.hypot(pos.x() - fx, pos.y() - fy) <= close:
                self._close_polygon()
                return
        if not self._polygon:
            self._polygon_erase = self._erase
        self._polygon.append((pos.x(), pos.y()))
        self._show_outline(self._polygon, closed=False)

    def _close_polygon(self) -> None:
        points, self._polygon = self._polygon, []
        self._outline.setVisible(False)
        self._doc.fill_polygon(points, erase=self._polygon_erase)

    def _show_outline(self, points: list[tuple[float, float]], *, closed: bool) -> None:
        path = QPainterPath()
        if points:
            path.moveTo(*points[0])
            for p in points[1:]:
                path.lineTo(*p)
            if closed:
                path.closeSubpath()
        self._outline.setPath(path)
        self._outline.setVisible(True)

    def _cancel_gesture(self) -> None:
        if self._gesture == "stroke":
            self._doc.end_stroke()
        self._gesture = None
        self._points = []
        self._polygon = []
        self._outline.setVisible(False)

    # -- keys -----------------------------------------------------------------------------
    def sceneEvent(self, event: QEvent) -> bool:
        # Claim our keys before window-wide shortcuts (an Undo action elsewhere) take them.
        override = event.type() == QEvent.Type.ShortcutOverride and self._editing
        if override and self._key_action(event) is not None:  # type: ignore[arg-type]
            event.accept()
            return True
        return super().sceneEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._key_action(event) if self._editing else None
        if action is None:
            event.ignore()
            return
        action()
        event.accept()

    def _key_action(self, event: QKeyEvent):
        if event.matches(QKeySequence.StandardKey.Undo):
            return self._doc.undo
        if event.matches(QKeySequence.StandardKey.Redo):
            return self._doc.redo
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        key = event.key()
        if ctrl:
            if key == Qt.Key.Key_Z and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                return self._doc.redo
            if key == Qt.Key.Key_Y:
                return self._doc.redo
            return None
        tools = self._tools
        simple: dict[int, Callable[[], object]] = {
            Qt.Key.Key_BracketLeft: tools.shrink,
            Qt.Key.Key_BracketRight: tools.grow,
            Qt.Key.Key_BraceLeft: lambda: tools.set_hardness(tools.hardness - 0.1),
            Qt.Key.Key_BraceRight: lambda: tools.set_hardness(tools.hardness + 0.1),
            Qt.Key.Key_B: lambda: tools.set_tool(MaskTool.BRUSH),
            Qt.Key.Key_E: lambda: tools.set_tool(MaskTool.ERASER),
            Qt.Key.Key_L: lambda: tools.set_tool(MaskTool.LASSO),
            Qt.Key.Key_P: lambda: tools.set_tool(MaskTool.POLYGON),
            Qt.Key.Key_R: lambda: tools.set_tool(MaskTool.RECTANGLE),
            Qt.Key.Key_X: self._swap_brush,
            Qt.Key.Key_H: tools.toggle_visible,
        }
        if key in simple:
            return simple[key]
        if self._polygon:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and len(self._polygon) >= 3:
                return self._close_polygon
            if key == Qt.Key.Key_Escape:
                return self._cancel_gesture
            if key == Qt.Key.Key_Backspace:
                return self._drop_last_point
        return None

    def _swap_brush(self) -> None:
        t = self._tools
        t.set_tool(MaskTool.ERASER if t.tool == MaskTool.BRUSH else MaskTool.BRUSH)

    def _drop_last_point(self) -> None:
        self._polygon.pop()
        self._show_outline(self._polygon, closed=False)

    # -- expand / feather preview ---------------------------------------------------------
    def _update_preview(self) -> None:
        """Outline what the operation will use: the mask grown/shrunk, and the feather band."""
        expand, feather = self._tools.preview_expand, self._tools.preview_feather
        if (not expand and not feather) or self._doc.is_empty():
            self._preview.setPath(QPainterPath())
            return
        self._preview.setPath(preview_path(self._doc.array, expand, feather))


def preview_path(mask: np.ndarray, expand: int, feather: float) -> QPainterPath:
    """Outlines (image pixels) of ``mask`` expanded by ``expand`` and feathered by ``feather``.

    With feathering two outlines bound the soft band, which lies inside the (grown) edge as
    in the offline removal and "protect outside" (``feather(..., inward=True)``); without,
    one outline shows the grown or shrunk edge. Large masks are traced on a reduced
    copy (at most :data:`PREVIEW_MAX_PIXELS`), which is plenty for an outline on screen.
    """
    import cv2
    import numpy as np

    from retouchdesk.core import mask as core_mask

    h, w = mask.shape
    scale = min(1.0, math.sqrt(PREVIEW_MAX_PIXELS / float(w * h)))
    small = mask
    if scale < 1.0:
        small = cv2.resize(
            mask, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    grown = core_mask.expand(small, round(expand * scale)) if expand else small
    levels: list[np.ndarray] = []
    if feather > 0:
        alpha = core_mask.feather(grown, feather * scale, inward=True)
        levels = [(alpha > 0.02).astype(np.uint8), (alpha > 0.98).astype(np.uint8)]
    else:
        levels = [(grown > 127).astype(np.uint8)]
    path = QPainterPath()
    sx, sy = w / small.shape[1], h / small.shape[0]
    for level in levels:
        contours, _ = cv2.findContours(level, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            pts = c.reshape(-1, 2)
            if len(pts) < 2:
                continue
            path.moveTo((pts[0][0] + 0.5) * sx, (pts[0][1] + 0.5) * sy)
            for x, y in pts[1:]:
                path.lineTo((x + 0.5) * sx, (y + 0.5) * sy)
            path.closeSubpath()
    return path


def _pixel_rect(a: QPointF, b: QPointF) -> QRect:
    """The whole pixels covered by the drag from ``a`` to ``b`` (both ends included)."""
    x0, x1 = sorted((a.x(), b.x()))
    y0, y1 = sorted((a.y(), b.y()))
    left, top = math.floor(x0), math.floor(y0)
    return QRect(left, top, max(1, math.ceil(x1) - left), max(1, math.ceil(y1) - top))


def _rect_path(r: QRect) -> QPainterPath:
    path = QPainterPath()
    path.addRect(QRectF(r))
    return path


class _DualPath(QGraphicsPathItem):
    """A path drawn dark and solid under a light dashed line: visible on any photo."""

    def __init__(self, color: QColor, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self._light = QPen(color, 0, Qt.PenStyle.DashLine)  # width 0: one screen pixel
        self._dark = QPen(QColor(0, 0, 0, 180), 0)
        self.setPen(self._dark)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen in (self._dark, self._light):
            painter.setPen(pen)
            painter.drawPath(self.path())
