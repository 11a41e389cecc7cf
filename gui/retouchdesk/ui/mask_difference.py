"""The compare view's "Difference" mode: what the provider changed, at a glance.

Shows :func:`retouchdesk.core.composite.difference_image` of the two compared versions on a
canvas (same zoom and pan as the others): unchanged pixels are a dim grey copy of the photo,
changed ones glow from magenta (slight) to yellow (strong). After "protect the outside of the
mask", the glow must stay inside the painted area; anything outside would be a leak. A result
of another size (upscaled) is compared with the original resampled to the result's size.
The image is computed only when the mode is shown, in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage, QShowEvent
from PySide6.QtWidgets import QWidget

from retouchdesk.model.display import DisplayImage
from retouchdesk.ui.canvas import Canvas

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """HxWx3 uint8 RGB copy of ``image``."""
    import numpy as np

    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def rgb_to_qimage(arr: np.ndarray) -> QImage:
    """A QImage that owns a copy of the HxWx3 uint8 ``arr``."""
    import numpy as np

    a = np.ascontiguousarray(arr)
    h, w = a.shape[:2]
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888).copy()


def difference_qimage(before: QImage, after: QImage) -> QImage:
    from retouchdesk.core import composite

    return rgb_to_qimage(composite.difference_image(qimage_to_rgb(before), qimage_to_rgb(after)))


class DifferenceView(Canvas):
    """A canvas showing the difference of the compared pair (computed when first shown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("differenceView")
        self._pair: tuple[DisplayImage, DisplayImage] | None = None
        self._shown_pair: tuple[DisplayImage, DisplayImage] | None = None
        self._task: asyncio.Future | None = None

    def set_pair(self, before: DisplayImage, after: DisplayImage) -> None:
        self._pair = (before, after)
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if self._pair is None or _same(self._pair, self._shown_pair):
            return
        before, after = self._pair
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # no event loop (a plain script): compute here
            self._show(self._pair, difference_qimage(before.full, after.full))
            return
        pair = self._pair
        future = loop.run_in_executor(None, difference_qimage, before.full, after.full)
        future.add_done_callback(lambda f: self._done(pair, f))
        self._task = future

    def _done(self, pair: tuple[DisplayImage, DisplayImage], future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is None:
            self._show(pair, future.result())

    def _show(self, pair: tuple[DisplayImage, DisplayImage], image: QImage) -> None:
        if not _same(pair, self._pair):
            return  # another pair was picked meanwhile
        self._shown_pair = pair
        self.set_image([image], image.width(), image.height())


def _same(a: tuple | None, b: tuple | None) -> bool:
    """Identity, not equality: comparing DisplayImages would compare all their pixels."""
    return a is not None and b is not None and a[0] is b[0] and a[1] is b[1]
