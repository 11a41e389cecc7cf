"""Issue 13, workflow findings: what the photographer sees while working through a shoot."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from tests.ui.test_window import plain_runtime
from tests.ui.test_window_trust import _qimage_rgb


def test_an_unreadable_photo_says_so_instead_of_showing_the_previous_one(
    qtbot, make_window, photo_dir: Path
):
    """Item 8: the canvas, the filmstrip cell and Apply all tell that the file is unreadable."""
    bad = photo_dir / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "chelsea.png", bad])
    photos, doc = w.model.photos, w.model.document
    w.model.photos.set_current_row(0)
    qtbot.waitUntil(lambda: doc.image is not None and w.canvas.photo.size == (451, 300))
    qtbot.waitUntil(photos.thumbnails_ready, timeout=10_000)
    assert w.side.apply_button.isEnabled()
    # Pick the broken one in the filmstrip, by a click on its cell.
    rect = w.filmstrip.visualRect(photos.index(1))
    qtbot.mouseClick(w.filmstrip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert photos.current_row == 1
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.broken, timeout=10_000)
    assert "broken.jpg cannot be read" in w.broken.text()
    assert w.canvas.photo.is_empty()  # chelsea is not shown under broken.jpg's name
    assert "broken.jpg" in w.windowTitle()
    assert w.info_label.text() == ""
    assert not w.side.apply_button.isEnabled()
    assert "broken.jpg" in w.side.problem.text()
    w.apply_current()  # Ctrl+Return too: nothing queued, a sentence instead
    assert w.model.engine.jobs() == []
    assert "broken.jpg" in w.statusBar().currentMessage()
    # The filmstrip cell shows a warning in red, not a forever "…".
    cell = _qimage_rgb(w.filmstrip.viewport().grab(rect).toImage()).astype(int)
    red = (cell[..., 0] > 170) & (cell[..., 1] < 120) & (cell[..., 2] < 110)
    assert red.sum() > 20
    # Back to a good photo: it is shown and Apply works again.
    rect0 = w.filmstrip.visualRect(photos.index(0))
    qtbot.mouseClick(w.filmstrip.viewport(), Qt.MouseButton.LeftButton, pos=rect0.center())
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.canvas)
    qtbot.waitUntil(lambda: w.canvas.photo.size == (451, 300))
    assert w.side.apply_button.isEnabled() and not w.side.problem.isVisible()
    assert w.canvas.photo.levels[0].width() == 451
