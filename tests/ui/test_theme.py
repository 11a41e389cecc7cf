"""Both palettes as the photographer sees them: every field and option has a visible edge."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QCheckBox, QLineEdit, QRadioButton, QVBoxLayout, QWidget

from retouchdesk.ui import theme


def _lightness(img: QImage, x: int, y: int) -> int:
    return img.pixelColor(x, y).lightness()


def _edge_contrast(widget: QWidget, backdrop: int) -> int:
    """Largest lightness difference from the window in the widget's left part (its edge)."""
    img = widget.grab().toImage()
    h = img.height()
    return max(
        abs(_lightness(img, x, y) - backdrop) for x in range(min(18, img.width())) for y in range(h)
    )


@pytest.fixture
def restore_theme(qtbot):
    """Put the application's style back as the other tests expect it."""
    app = QApplication.instance()
    before = app.palette(), app.styleSheet(), app.style().name()
    yield app
    app.setStyle(before[2])
    app.setPalette(before[0])
    app.setStyleSheet(before[1])


@pytest.fixture(params=["light", "dark"])
def themed(request, restore_theme):
    theme.apply_theme(restore_theme, request.param)
    return request.param


def test_empty_fields_and_unchecked_options_have_a_visible_edge(themed, qtbot):
    host = QWidget()
    lay = QVBoxLayout(host)
    field, radio, check = QLineEdit(), QRadioButton("Off"), QCheckBox("Off")
    for w in (field, radio, check):
        lay.addWidget(w)
    qtbot.addWidget(host)
    host.resize(240, 120)
    host.show()
    qtbot.waitExposed(host)
    backdrop = host.palette().window().color().lightness()
    for w in (field, radio, check):
        # A threshold a reader can see on a monitor: Fusion's own dark outline gave about 10.
        assert _edge_contrast(w, backdrop) >= 40, (themed, type(w).__name__)


def test_a_checked_box_shows_its_mark_in_the_dark(restore_theme, qtbot):
    theme.apply_theme(restore_theme, "dark")
    on, off = QCheckBox("On"), QCheckBox("Off")
    on.setChecked(True)
    for w in (on, off):
        qtbot.addWidget(w)
        w.show()
    qtbot.waitExposed(on)
    a, b = on.grab().toImage(), off.grab().toImage()
    differing = sum(
        a.pixelColor(x, y) != b.pixelColor(x, y)
        for x in range(min(16, a.width(), b.width()))
        for y in range(min(a.height(), b.height()))
    )
    assert differing >= 40  # the accent fill and the tick, not a one-pixel change
