"""The mask painter with real mouse events: strokes land under the cursor at any zoom and pan.

The layer is hosted in a plain QGraphicsView set up like the canvas contract (scene
coordinates are image pixels, zoom and pan are the view's transform); the same checks
against the window's canvas are in test_mask_canvas.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from retouchdesk.model.mask import MaskDocument, MaskTool, MaskTools
from retouchdesk.ui.mask_layer import MaskLayer

W, H = 400, 300


class Harness:
    def __init__(self, qtbot, zoom: float) -> None:
        self.doc = MaskDocument(W, H)
        self.tools = MaskTools()
        self.tools.set_size(20)
        self.tools.set_hardness(1.0)
        self.scene = QGraphicsScene(0, 0, W, H)
        self.view = QGraphicsView(self.scene)
        self.view.resize(360, 260)
        self.view.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.layer = MaskLayer(self.doc, self.tools)
        self.scene.addItem(self.layer)
        qtbot.addWidget(self.view)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.view.scale(zoom, zoom)
        self.layer.set_editing(True)
        self.qtbot = qtbot

    @property
    def vp(self):
        return self.view.viewport()

    def image_point(self, p: QPoint) -> QPointF:
        return self.view.mapToScene(p)

    def press(self, p: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        self.qtbot.mousePress(self.vp, Qt.MouseButton.LeftButton, modifier, p)

    def drag(self, points: list[QPoint]) -> None:
        self.press(points[0])
        for p in points[1:]:
            self.qtbot.mouseMove(self.vp, p)
        self.qtbot.mouseRelease(self.vp, Qt.MouseButton.LeftButton, pos=points[-1])

    def pixel(self, p: QPointF) -> int:
        return int(self.doc.array[math.floor(p.y()), math.floor(p.x())])


@pytest.mark.parametrize("zoom", [0.6, 3.0])
def test_dab_lands_under_the_cursor_at_every_zoom(qtbot, zoom: float) -> None:
    h = Harness(qtbot, zoom)
    click = QPoint(150, 110)
    h.press(click)
    h.qtbot.mouseRelease(h.vp, Qt.MouseButton.LeftButton, pos=click)
    centre = h.image_point(click)
    assert 0 < centre.x() < W and 0 < centre.y() < H
    assert h.pixel(centre) == 255
    # The dab is a 20 px circle in *image* pixels whatever the zoom: inside at 8, outside at 12.
    for angle in range(0, 360, 45):
        dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        assert h.pixel(centre + QPointF(8 * dx, 8 * dy)) == 255
        assert h.pixel(centre + QPointF(12 * dx, 12 * dy)) == 0
    ys, xs = np.nonzero(h.doc.array)
    assert abs(xs.mean() + 0.5 - centre.x()) < 0.6 and abs(ys.mean() + 0.5 - centre.y()) < 0.6


@pytest.mark.parametrize("zoom", [0.8, 2.5])
def test_stroke_follows_the_mouse_after_panning(qtbot, zoom: float) -> None:
    h = Harness(qtbot, zoom)
    h.view.translate(-37, -21)  # pan: the photo moves, the mapping must follow
    h.view.horizontalScrollBar().setValue(h.view.horizontalScrollBar().value() + 13)
    path = [QPoint(60 + 12 * i, 80 + 5 * i) for i in range(16)]
    h.drag(path)
    start, end = h.image_point(path[0]), h.image_point(path[-1])
    for i in range(11):  # every point of the segment is painted
        f = i / 10
        assert h.pixel(start + (end - start) * f) == 255
    # A point 15 image pixels to the side of the line is not.
    d = end - start
    n = QPointF(-d.y(), d.x()) / math.hypot(d.x(), d.y())
    mid = (start + end) / 2
    assert h.pixel(mid + n * 15) == 0 and h.pixel(mid - n * 15) == 0
    assert h.doc.can_undo() and h.doc.undo_label() == "Brush"


def test_eraser_and_subtract_modifier(qtbot) -> None:
    h = Harness(qtbot, 1.0)
    h.doc.fill_all()
    h.tools.set_tool(MaskTool.ERASER)
    h.drag([QPoint(100, 100), QPoint(140, 100)])
    assert h.pixel(h.image_point(QPoint(120, 100))) == 0
    h.tools.set_tool(MaskTool.BRUSH)
    h.press(QPoint(200, 150), Qt.KeyboardModifier.AltModifier)  # Alt subtracts with the brush
    h.qtbot.mouseRelease(h.vp, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    assert h.pixel(h.image_point(QPoint(200, 150))) == 0
    assert h.pixel(h.image_point(QPoint(250, 150))) == 255


def test_soft_brush_has_a_falloff(qtbot) -> None:
    h = Harness(qtbot, 2.0)
    h.tools.set_size(40)
    h.tools.set_hardness(0.0)
    p = QPoint(150, 120)
    h.press(p)
    h.qtbot.mouseRelease(h.vp, Qt.MouseButton.LeftButton, pos=p)
    c = h.image_point(p)
    values = [h.pixel(c + QPointF(r, 0)) for r in (0, 5, 10, 15, 19, 21)]
    assert values[0] > 240 and values[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert 80 < values[2] < 180  # half way out, about half selected


def test_undo_redo_with_keys(qtbot) -> None:
    h = Harness(qtbot, 1.5)
    h.view.setFocus()
    h.drag([QPoint(50, 50), QPoint(120, 60)])
    first = h.doc.array.copy()
    h.drag([QPoint(60, 150), QPoint(160, 150)])
    second = h.doc.array.copy()
    assert not np.array_equal(first, second)
    qtbot.keyClick(h.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(h.doc.array, first)
    qtbot.keyClick(h.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not h.doc.array.any()
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(h.view, Qt.Key.Key_Z, mods)
    assert np.array_equal(h.doc.array, first)
    qtbot.keyClick(h.view, Qt.Key.Key_Z, mods)
    assert np.array_equal(h.doc.array, second)


def test_size_and_hardness_keys_and_mouse(qtbot) -> None:
    h = Harness(qtbot, 1.0)
    h.view.setFocus()
    qtbot.keyClick(h.view, Qt.Key.Key_BracketRight)
    assert h.tools.size > 20
    qtbot.keyClick(h.view, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(h.view, Qt.Key.Key_BracketLeft)
    assert h.tools.size < 20
    qtbot.keyClick(h.view, Qt.Key.Key_BraceLeft)
    assert h.tools.hardness == pytest.approx(0.9)
    qtbot.keyClick(h.view, Qt.Key.Key_E)
    assert h.tools.tool == MaskTool.ERASER
    qtbot.keyClick(h.view, Qt.Key.Key_X)
    assert h.tools.tool == MaskTool.BRUSH
    qtbot.keyClick(h.view, Qt.Key.Key_H)
    assert not h.tools.visible
    # Shift + right-drag: 100 screen px to the right doubles the size.
    before = h.tools.size
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(h.vp, Qt.MouseButton.RightButton, shift, QPoint(100, 100))
    qtbot.mouseMove(h.vp, QPoint(200, 100))
    qtbot.mouseRelease(h.vp, Qt.MouseButton.RightButton, shift, QPoint(200, 100))
    assert h.tools.size == pytest.approx(before * 2, abs=1)
    assert not h.doc.array.any()  # resizing the brush paints nothing


def test_lasso_rectangle_polygon(qtbot) -> None:
    h = Harness(qtbot, 2.0)
    h.tools.set_tool(MaskTool.RECTANGLE)
    h.drag([QPoint(20, 20), QPoint(60, 40), QPoint(80, 60)])
    a, b = h.image_point(QPoint(20, 20)), h.image_point(QPoint(80, 60))
    sel = np.nonzero(h.doc.array)
    assert sel[1].min() == math.floor(a.x()) and sel[1].max() == math.ceil(b.x()) - 1
    assert sel[0].min() == math.floor(a.y()) and sel[0].max() == math.ceil(b.y()) - 1
    h.doc.clear()

    h.tools.set_tool(MaskTool.LASSO)
    tri = [QPoint(200, 40), QPoint(300, 200), QPoint(100, 200)]
    h.drag([tri[0], tri[1], tri[2]])
    inside = h.image_point(QPoint(200, 150))
    outside = h.image_point(QPoint(120, 60))
    assert h.pixel(inside) == 255 and h.pixel(outside) == 0
    h.doc.clear()

    h.tools.set_tool(MaskTool.POLYGON)
    for p in (QPoint(40, 120), QPoint(140, 120), QPoint(140, 220)):
        qtbot.mouseClick(h.vp, Qt.MouseButton.LeftButton, pos=p)
    assert not h.doc.array.any()  # not closed yet
    qtbot.mouseClick(h.vp, Qt.MouseButton.LeftButton, pos=QPoint(42, 121))  # near the first
    assert h.pixel(h.image_point(QPoint(120, 140))) == 255
    assert h.pixel(h.image_point(QPoint(60, 200))) == 0


def test_not_editing_leaves_the_mouse_to_the_view(qtbot) -> None:
    h = Harness(qtbot, 1.0)
    h.layer.set_editing(False)
    h.drag([QPoint(100, 100), QPoint(150, 100)])
    assert not h.doc.array.any()


def test_overlay_draws_the_mask_in_its_colour(qtbot) -> None:
    h = Harness(qtbot, 1.0)
    h.doc.fill_rect(h.doc.rect().adjusted(100, 100, -200, -100))
    h.tools.set_color(QColor(0, 0, 255))
    h.tools.set_opacity(1.0)
    img = QImage(W, H, QImage.Format.Format_ARGB32)
    img.fill(QColor(255, 255, 255))
    p = QPainter(img)
    h.scene.render(p, source=h.scene.sceneRect(), target=img.rect().toRectF())
    p.end()
    assert img.pixelColor(150, 150) == QColor(0, 0, 255)
    assert img.pixelColor(50, 50) == QColor(255, 255, 255)
    h.tools.set_visible(False)
    img.fill(QColor(255, 255, 255))
    p = QPainter(img)
    h.scene.render(p, source=h.scene.sceneRect(), target=img.rect().toRectF())
    p.end()
    assert img.pixelColor(150, 150) == QColor(255, 255, 255)


def test_expand_and_feather_preview_outlines(qapp) -> None:
    from retouchdesk.ui.mask_layer import preview_path

    mask = np.zeros((300, 400), np.uint8)
    mask[100:200, 100:200] = 255
    grown = preview_path(mask, 10, 0).boundingRect()
    assert abs(grown.left() - 90) <= 1.5 and abs(grown.right() - 210) <= 1.5
    shrunk = preview_path(mask, -10, 0).boundingRect()
    assert abs(shrunk.left() - 110) <= 1.5 and abs(shrunk.right() - 190) <= 1.5
    band = preview_path(mask, 0, 8)  # two outlines: the edge and where full strength starts
    polys = band.toSubpathPolygons()
    assert len(polys) == 2
    widths = sorted(p.boundingRect().width() for p in polys)
    assert abs(widths[1] - 100) <= 2 and 80 <= widths[0] <= 96  # the soft band lies inside
    big = np.zeros((4000, 6000), np.uint8)  # 24 MP: traced on a reduced copy, same place
    big[1000:2000, 3000:4000] = 255
    r = preview_path(big, 0, 0).boundingRect()
    assert abs(r.left() - 3000) <= 4 and abs(r.bottom() - 2000) <= 4
