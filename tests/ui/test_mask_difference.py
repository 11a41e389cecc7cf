"""The compare view's Difference mode shows exactly where a result differs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PySide6.QtGui import QImage

from retouchdesk.core.imageio import load_array
from retouchdesk.ui.mask_difference import DifferenceView, qimage_to_rgb, rgb_to_qimage


def test_difference_view_glows_only_where_pixels_changed(qtbot, data_dir) -> None:
    orig = load_array(data_dir / "chelsea.png")
    changed = orig.copy()
    changed[100:150, 200:260] = 255 - changed[100:150, 200:260]
    before = SimpleNamespace(full=rgb_to_qimage(orig))
    after = SimpleNamespace(full=rgb_to_qimage(changed))
    assert np.array_equal(qimage_to_rgb(before.full), orig)  # conversions are exact
    view = DifferenceView()
    qtbot.addWidget(view)
    view.set_pair(before, after)
    assert view.photo.is_empty()  # nothing computed while hidden
    view.resize(500, 400)
    view.show()
    qtbot.waitUntil(lambda: not view.photo.is_empty(), timeout=5000)
    shown = qimage_to_rgb(view.photo.levels[0].convertToFormat(QImage.Format.Format_RGB888))
    inside = shown[110:140, 210:250].astype(int)
    outside = np.concatenate([shown[:90].reshape(-1, 3), shown[160:].reshape(-1, 3)]).astype(int)
    assert (np.abs(outside[:, 0] - outside[:, 2]) <= 1).all() and outside.max() <= 86
    assert inside[..., 0].min() >= 200  # red channel high: magenta to yellow glow
