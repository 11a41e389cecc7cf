"""The Info dock: histogram (RGB + luminance) with clipping, and the EXIF of the shown version.

The histogram draws the three channels additively over the luminance (grey); the triangles
in the top corners light up when shadows or highlights are clipped, with the counts below.
"Show clipping" (View menu, J as in Lightroom) paints the clipped pixels on the canvas: blue
where a channel is at 0, red where one is at 255. Figures come from
:class:`~retouchdesk.model.photo_info.PhotoInfoModel`, computed off the GUI thread.

:func:`install` adds the dock (tabbed with Retouch and History) and the action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFormLayout,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.photo_info import Histogram, PhotoInfoModel

if TYPE_CHECKING:  # numpy is imported where used: the window's first paint loads none
    import numpy as np

    from retouchdesk.ui.main_window import MainWindow

SHADOW_COLOUR = QColor(40, 120, 255)
HIGHLIGHT_COLOUR = QColor(255, 50, 50)


class HistogramWidget(QWidget):
    """Paints a :class:`Histogram` (square-root scale, so a spike does not flatten the rest)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("histogram")
        self.histogram: Histogram | None = None
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_histogram(self, h: Histogram | None) -> None:
        self.histogram = h
        self.update()

    def paintEvent(self, _event: Any) -> None:
        import numpy as np

        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.fillRect(r, QColor(28, 28, 30))
        h = self.histogram
        if h is None:
            p.end()
            return
        chans = [h.red, h.green, h.blue, h.luminance]
        # Ignore the extreme bins for the scale: a clipped sky would flatten everything else.
        top = max(float(np.sqrt(c[1:255].max())) for c in chans) or 1.0
        inner = r.adjusted(2, 14, -2, -2)

        def path(counts: np.ndarray) -> QPainterPath:
            pp = QPainterPath(QPointF(inner.left(), inner.bottom()))
            for i, v in enumerate(counts):
                x = inner.left() + inner.width() * i / 255
                y = inner.bottom() - inner.height() * min(1.0, float(np.sqrt(v)) / top)
                pp.lineTo(x, y)
            pp.lineTo(inner.right(), inner.bottom())
            pp.closeSubpath()
            return pp

        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(150, 150, 150, 110))
        p.drawPath(path(h.luminance))
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Plus)
        for counts, colour in (
            (h.red, (200, 40, 40)),
            (h.green, (40, 170, 40)),
            (h.blue, (40, 70, 220)),
        ):
            p.setBrush(QColor(*colour, 170))
            p.drawPath(path(counts))
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(230, 230, 230, 200), 1))
        p.drawPath(path(h.luminance))
        # Clipping triangles: lit when any pixel is clipped on that side.
        for left, count, colour in (
            (True, h.shadows, SHADOW_COLOUR),
            (False, h.highlights, HIGHLIGHT_COLOUR),
        ):
            x0 = r.left() + 3 if left else r.right() - 3
            d = 9 if left else -9
            tri = QPolygonF(
                [QPointF(x0, r.top() + 3), QPointF(x0 + d, r.top() + 3), QPointF(x0, r.top() + 12)]
            )
            p.setPen(QPen(QColor(200, 200, 200), 1))
            p.setBrush(colour if count else QColor(60, 60, 60))
            p.drawPolygon(tri)
        p.end()


def clip_overlay_image(mask: np.ndarray) -> QImage:
    """An RGBA image of the clipped pixels (worker thread): blue shadows, red highlights."""
    import numpy as np

    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    low = (mask & 1).astype(bool)
    high = (mask & 2).astype(bool)
    rgba[low] = (SHADOW_COLOUR.red(), SHADOW_COLOUR.green(), SHADOW_COLOUR.blue(), 255)
    rgba[high] = (HIGHLIGHT_COLOUR.red(), HIGHLIGHT_COLOUR.green(), HIGHLIGHT_COLOUR.blue(), 255)
    img = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return img.copy()  # own the pixels: the array goes away


def clipping_text(h: Histogram) -> str:
    return (
        f"Shadows clipped: {h.shadows:,} px ({h.percent(h.shadows):.2f} %), a channel at 0\n"
        f"Highlights clipped: {h.highlights:,} px ({h.percent(h.highlights):.2f} %), "
        "a channel at 255"
    )


class PhotoInfoPanel(QWidget):
    """Histogram, clipping figures, the overlay toggle and the EXIF form."""

    def __init__(self, model: PhotoInfoModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoInfo")
        self.model = model
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        self.histogram = HistogramWidget()
        lay.addWidget(self.histogram)
        self.clipping = QLabel()
        self.clipping.setObjectName("clipping")
        self.clipping.setProperty("hint", True)
        lay.addWidget(self.clipping)
        self.overlay_box = QCheckBox("Show clipping on the photo (J)")
        self.overlay_box.setObjectName("showClipping")
        lay.addWidget(self.overlay_box)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for name in ("Camera", "Lens", "Exposure", "Date", "GPS"):
            value = QLabel("—")
            value.setObjectName(f"exif{name}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[name] = value
            form.addRow(f"{name}:", value)
        lay.addLayout(form)
        self.file_label = QLabel()
        self.file_label.setProperty("hint", True)
        self.file_label.setWordWrap(True)
        lay.addWidget(self.file_label)
        lay.addStretch(1)
        model.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        m = self.model
        self.histogram.set_histogram(m.histogram)
        if m.error:
            self.clipping.setText(m.error)
        elif m.histogram is None:
            self.clipping.setText("Working…" if m.busy else "No photo")
        else:
            self.clipping.setText(clipping_text(m.histogram))
        rows = dict(m.exif.rows()) if m.exif is not None else {}
        for name, label in self.fields.items():
            label.setText(rows.get(name) or "—")
        self.file_label.setText(m.path.name if m.path is not None else "")


class PhotoInfoHook:
    """What :func:`install` adds to the window (kept as ``window.photo_info``)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        m = window.model
        self.model = PhotoInfoModel(m.runner, parent=window)
        self.panel = PhotoInfoPanel(self.model)
        self.dock = QDockWidget("Info", window)
        self.dock.setObjectName("infoDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.side_dock, self.dock)
        window.side_dock.raise_()
        self.overlay: QGraphicsPixmapItem | None = None
        self._overlay_for: Any = None
        self.action = window.add_action(
            "Show &Clipping", self.toggle_overlay, "J", context=window.centre
        )
        self.action.setCheckable(True)
        view_menu = window.menus["View"]
        view_menu.addAction(self.action)
        view_menu.addAction(self.dock.toggleViewAction())
        self.dock.toggleViewAction().setShortcut("Ctrl+I")
        self.panel.overlay_box.toggled.connect(self._box_toggled)
        m.document.image_changed.connect(self._shown_changed)
        m.photos.current_changed.connect(lambda p: None if p else self.model.set_path(None))
        # Once the tab switch is laid out (the new tab's region is known a turn later).
        self.dock.visibilityChanged.connect(lambda _v: QTimer.singleShot(0, self._shown_changed))
        self.model.changed.connect(self._update_overlay)

    def _shown_changed(self) -> None:
        img = self.window.model.document.image
        # Computed when the panel or the overlay is looked at: a dock tabbed behind another
        # reports itself visible with nothing of it on screen (its histogram would decode and
        # count 24 MP for nobody).
        seen = self.dock.isVisible() and not self.dock.visibleRegion().isEmpty()
        if not seen and not self.action.isChecked():
            return
        if img is None:
            self.model.set_path(None)
        else:
            pixels = img.full if img.decoded_pixels else None
            self.model.set_path(img.path, img.histogram, pixels)

    def toggle_overlay(self) -> None:
        self.panel.overlay_box.setChecked(self.action.isChecked())

    def _box_toggled(self, on: bool) -> None:
        self.action.setChecked(on)
        if on:
            self._shown_changed()
        self._update_overlay()

    def _update_overlay(self) -> None:
        on = self.action.isChecked()
        h = self.model.histogram
        canvas = self.window.canvas
        if not on or h is None or h.clip_bits is None:
            if self.overlay is not None:
                self.overlay.setVisible(False)
            return
        if self._overlay_for is not h:
            self._overlay_for = h
            self.window.model.runner.spawn(self._build(h), name="clip-overlay", preempt=True)
            return
        if self.overlay is not None:
            self.overlay.setVisible(True)
        canvas.viewport().update()

    async def _build(self, h: Histogram) -> None:
        from PySide6.QtGui import QPixmap

        def overlay_image() -> QImage | None:
            # The mask is unpacked in the worker too (24 MB for a 24 MP photo).
            mask = h.clip_mask
            return None if mask is None else clip_overlay_image(mask)

        img = await self.window.model.runner.in_thread(overlay_image)
        if img is None or h is not self.model.histogram:
            return
        if self.overlay is None:
            self.overlay = QGraphicsPixmapItem()
            self.overlay.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
            self.window.canvas.add_overlay(self.overlay, 5.0)
        self.overlay.setPixmap(QPixmap.fromImage(img))
        self._update_overlay()


def install(window: MainWindow) -> PhotoInfoHook:
    return PhotoInfoHook(window)
