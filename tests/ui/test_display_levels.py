"""The canvas's reduced levels: block averages by numpy, within a level of Qt's own scaling.

Qt's smooth scaling held the GIL through every call, and a worker building the levels of a
24 MP photo kept the window's event loop waiting; opaque RGB levels are now averaged by numpy,
which releases it (the figure is in ``tests/bench/history_cases.py --sample-threads``). Checked
here against Qt's own result on a real photo, for both source formats the display makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QColorSpace, QImage

from retouchdesk.model.display import _reduced, qimage_levels

DATA = Path(__file__).resolve().parents[1] / "data"


def _qimage(arr: np.ndarray, fmt: QImage.Format) -> QImage:
    h, w = arr.shape[:2]
    rgb = QImage(np.ascontiguousarray(arr).data, w, h, w * 3, QImage.Format.Format_RGB888)
    return rgb.convertToFormat(fmt)  # a deep copy, in the format the display holds


def _pixels(q: QImage) -> np.ndarray:
    """RGB samples of an RGB32 image (its bytes are B, G, R, 0xFF on little-endian)."""
    arr = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    return arr[:, : q.width() * 4].reshape(q.height(), q.width(), 4)[..., 2::-1].astype(int)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    img = Image.open(DATA / "astronaut.png").convert("RGB").resize((1024, 768))
    return np.asarray(img).copy()


@pytest.mark.parametrize("fmt", [QImage.Format.Format_RGB888, QImage.Format.Format_RGB32])
@pytest.mark.parametrize("factor", [2, 4])
def test_a_level_is_what_qt_would_have_made(photo: np.ndarray, fmt, factor: int) -> None:
    src = _qimage(photo, fmt)
    src.setColorSpace(QColorSpace(QColorSpace.NamedColorSpace.DisplayP3))
    level = _reduced(src, factor)
    qt = src.scaled(
        1024 // factor,
        768 // factor,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    ).convertToFormat(QImage.Format.Format_RGB32)
    assert level.format() == QImage.Format.Format_RGB32
    assert (level.width(), level.height()) == (1024 // factor, 768 // factor)
    assert level.colorSpace() == src.colorSpace()  # the colour management still applies
    diff = np.abs(_pixels(level) - _pixels(qt))
    assert diff.max() <= 3 and diff.mean() < 1  # Qt's halving rounds its own way
    # And exactly the rounded mean of each block of the photo.
    blocks = photo.reshape(768 // factor, factor, 1024 // factor, factor, 3).mean(axis=(1, 3))
    assert np.abs(_pixels(level) - blocks).max() <= 0.5


def test_odd_sizes_and_the_pyramid(photo: np.ndarray) -> None:
    """A photo whose sides are not multiples of the factor: whole blocks only, the last few
    rows and columns left out; the pyramid halves down to a few hundred pixels."""
    odd = np.ascontiguousarray(photo[:767, :1023])
    level = _reduced(_qimage(odd, QImage.Format.Format_RGB888), 4)
    assert (level.width(), level.height()) == (255, 191)
    blocks = odd[:764, :1020].reshape(191, 4, 255, 4, 3).mean(axis=(1, 3))
    assert np.abs(_pixels(level) - blocks).max() <= 0.5
    sizes = [
        (q.width(), q.height()) for q in qimage_levels(_qimage(photo, QImage.Format.Format_RGB888))
    ]
    assert sizes[0] == (1024, 768) and sizes[1] == (512, 384)


def test_images_with_alpha_keep_qts_scaling() -> None:
    """Averaging straight alpha would bleed hidden colours into the edge: Qt does those."""
    img = QImage(64, 64, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    level = _reduced(img, 2)
    assert level.format() == QImage.Format.Format_ARGB32 and level.width() == 32
