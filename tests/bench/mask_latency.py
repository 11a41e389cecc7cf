"""Mask painting latency on a 24-megapixel photo (target: <= 16 ms per brush dab).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/mask_latency.py``

A 6000x4000 mask is shown in a 1600x1000 view over a 6000x4000 photo, as on the canvas. For a
100 px brush it measures, at fit zoom and at 100 %:

* per dab: one ``stroke_to`` step of one brush spacing (the mask edit and its undo snapshot)
  followed by a synchronous repaint of the dirty region of the viewport, which is what the
  photographer waits for between two mouse events;
* per full stroke: a 4000 px long stroke (200 mouse events) with the end of the stroke (the
  undo step is compressed and stored), and the memory its undo step holds.

Prints median, 95th percentile and maximum.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView

import retouchdesk  # noqa: F401 - applies the PySide refcount guard
from retouchdesk.model.mask import MaskDocument, MaskTools
from retouchdesk.ui.mask_layer import MaskLayer

W, H = 6000, 4000
BRUSH = 100


def _ms(values: list[float]) -> str:
    v = sorted(values)
    p95 = v[min(len(v) - 1, int(len(v) * 0.95))]
    return f"median {statistics.median(v):6.2f} ms  p95 {p95:6.2f} ms  max {v[-1]:6.2f} ms"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    scene = QGraphicsScene(0, 0, W, H)
    photo = QImage(W, H, QImage.Format.Format_RGB32)
    photo.fill(0x808080)
    scene.addPixmap(QPixmap.fromImage(photo))
    doc = MaskDocument(W, H)
    tools = MaskTools()
    tools.set_size(BRUSH)
    layer = MaskLayer(doc, tools)
    scene.addItem(layer)
    view = QGraphicsView(scene)
    view.resize(1600, 1000)
    view.show()
    app.processEvents()
    print(f"mask {W}x{H} ({W * H / 1e6:.0f} MP), brush {BRUSH} px, view 1600x1000")

    for label, zoom in (("fit", min(1600 / W, 1000 / H)), ("100%", 1.0)):
        view.resetTransform()
        view.scale(zoom, zoom)
        view.centerOn(W / 2, H / 2)
        app.processEvents()
        doc.clear()
        doc.clear_history()
        dabs: list[float] = []
        model_only: list[float] = []
        y = H / 2
        x = W / 2 - 1000
        spacing = BRUSH / 2 * 0.2  # one dab per step (the document's spacing)
        doc.begin_stroke(x, y, BRUSH / 2, tools.hardness)
        for i in range(300):
            x += spacing
            yy = y + 200 * np.sin(i / 30)
            t0 = time.perf_counter()
            dirty = doc.stroke_to(x, yy)
            t1 = time.perf_counter()
            view.viewport().repaint(view.mapFromScene(QRectF(dirty)).boundingRect())
            t2 = time.perf_counter()
            model_only.append((t1 - t0) * 1000)
            dabs.append((t2 - t0) * 1000)
        doc.end_stroke()
        print(f"[{label:>4}] per dab, edit only     : {_ms(model_only)}")
        print(f"[{label:>4}] per dab, edit + repaint: {_ms(dabs)}")

        strokes: list[float] = []
        for s in range(5):
            t0 = time.perf_counter()
            doc.begin_stroke(1000, 500 + s * 600, BRUSH / 2, tools.hardness)
            for i in range(1, 201):
                dirty = doc.stroke_to(1000 + i * 20, 500 + s * 600 + 100 * np.sin(i / 20))
                view.viewport().repaint(view.mapFromScene(QRectF(dirty)).boundingRect())
            doc.end_stroke()
            strokes.append((time.perf_counter() - t0) * 1000)
        step_kb = doc._undo[-1].nbytes / 1024
        print(
            f"[{label:>4}] full 4000 px stroke (200 events, with repaint and undo step): "
            f"{_ms(strokes)}; undo step {step_kb:.0f} KiB"
        )

    t0 = time.perf_counter()
    doc.invert()
    t1 = time.perf_counter()
    doc.undo()
    t2 = time.perf_counter()
    print(
        f"invert 24 MP: {(t1 - t0) * 1000:.0f} ms, its undo {(t2 - t1) * 1000:.0f} ms, "
        f"history {doc.history_bytes / 1e6:.1f} MB"
    )
    view.resetTransform()
    view.scale(min(1600 / W, 1000 / H), min(1600 / W, 1000 / H))
    t0 = time.perf_counter()
    view.viewport().repaint()
    print(f"full repaint of the view at fit zoom: {(time.perf_counter() - t0) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
