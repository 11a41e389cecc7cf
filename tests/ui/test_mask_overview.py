"""The mask layer zoomed far out paints from a reduced copy made in a worker thread.

A 4000 x 3000 mask in a 700 x 500 view (about 6 mask pixels per screen pixel): the first
paint samples the mask directly while the overview is made off the GUI thread; once it is
there, edits update only their blocks of it. Checked on the grabbed viewport: the overlay
colour where the mask is painted, the photo's grey elsewhere, before and after an edit.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from retouchdesk.model.mask import MaskDocument, MaskTools
from retouchdesk.ui.mask_layer import MaskLayer

W, H = 4000, 3000
GREY = 0x808080


def _view(qtbot: Any) -> tuple[QGraphicsView, MaskLayer, MaskDocument]:
    scene = QGraphicsScene(0, 0, W, H)
    photo = QImage(W // 10, H // 10, QImage.Format.Format_RGB32)
    photo.fill(GREY)
    scene.addPixmap(QPixmap.fromImage(photo)).setScale(10)
    doc = MaskDocument(W, H)
    tools = MaskTools()
    tools.set_color(QColor(255, 0, 0))
    tools.set_opacity(0.8)
    layer = MaskLayer(doc, tools)
    scene.addItem(layer)
    view = QGraphicsView(scene)
    view.resize(700, 500)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.fitInView(QRectF(0, 0, W, H))
    view._keep = (scene, layer, tools)  # type: ignore[attr-defined]
    return view, layer, doc


def _red_at(view: QGraphicsView, x: float, y: float) -> bool:
    view.viewport().repaint()
    img = view.viewport().grab().toImage()
    p = view.mapFromScene(QPointF(x, y))
    c = img.pixelColor(p.x(), p.y())
    return c.red() > 180 and c.green() < 90


def test_far_out_the_overlay_comes_from_the_overview_and_follows_edits(qtbot: Any) -> None:
    view, layer, doc = _view(qtbot)
    doc.fill_rect(QRect(400, 300, 1200, 900))
    assert _red_at(view, 1000, 750)  # first paint: sampled directly, already right
    assert not _red_at(view, 3000, 2000)
    qtbot.waitUntil(lambda: layer._overview is not None, timeout=5000)  # made in a worker
    assert layer._overview.shape == (H // 4, W // 4)
    assert _red_at(view, 1000, 750) and not _red_at(view, 3000, 2000)
    before = layer._overview
    doc.fill_rect(QRect(2600, 1600, 800, 800))  # an edit: only its blocks are redone
    assert _red_at(view, 3000, 2000)
    assert layer._overview is before  # updated in place, not rebuilt
    doc.undo()
    assert not _red_at(view, 3000, 2000) and _red_at(view, 1000, 750)
