"""Issue 13, polish findings: what looks wrong or stale in the window."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest
from tests.ui.conftest import close_window
from tests.ui.test_window import plain_runtime


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def test_nothing_looks_available_without_a_photo(qtbot, make_window, photo_dir: Path):
    """Item 23: menus and the mask tool bar are disabled until a photo is open."""
    w = make_window(plain_runtime())
    off = [w.save_action, w.compare_action, w.apply_action, w.close_photo_action]
    off += w.view_actions
    assert not any(a.isEnabled() for a in off)
    assert not w.mask_painter.toolbar.isEnabled()
    w.open_paths([photo_dir / "coffee.png"])
    assert all(a.isEnabled() for a in off)
    assert w.mask_painter.toolbar.isEnabled()
    assert not w.apply_all_action.isEnabled()  # one photo: nothing "all" to do
    w.close_photo()
    assert not any(a.isEnabled() for a in off)


def test_status_bar_forgets_the_last_photo_and_old_failures(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    """Item 20: no cursor coordinates of the previous photo; no failures of an earlier
    session in the status bar (they stay in the job list)."""
    w = make_window(
        fake_runtime_factory(duration=0.05, poll_interval=0.02, fail_inputs=["chelsea.png"])
    )
    w.open_paths([photo_dir / "chelsea.png", photo_dir / "coffee.png"])
    w.model.photos.set_current_row(0)
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo_dir / "chelsea.png"]))
    qtbot.waitUntil(lambda: w.model.engine.get(jid).state.terminal, timeout=20_000)
    assert w.jobs_label.text() == "1 failed"
    doc = w.model.document
    qtbot.waitUntil(lambda: doc.image is not None and w.canvas.photo.levels[0].width() == 451)
    QTest.mouseMove(w.canvas.viewport(), w.canvas.mapFromScene(QPointF(100, 100)))
    qtbot.waitUntil(lambda: w.pixel_label.text().startswith("x "))
    w.model.photos.set_current_row(1)
    assert w.pixel_label.text() == ""
    close_window(qtbot, w)
    w2 = make_window(fake_runtime_factory())
    assert w2.jobs_label.text() == ""
    assert w2.model.jobs.job_ids() == [jid]  # still listed


def test_badges_count_results_of_earlier_sessions(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    """Item 18: a photo opened again shows its results from last time on its badge."""
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo]))
    qtbot.waitUntil(lambda: w.model.engine.get(jid).state.terminal, timeout=20_000)
    close_window(qtbot, w)
    w2 = make_window(fake_runtime_factory())
    w2.open_paths([photo])
    from retouchdesk.model.photos import VERSIONS_ROLE

    assert w2.model.photos.index(0).data(VERSIONS_ROLE) == 1


def test_side_by_side_fits_each_half_and_ctrl0_fits_it_again(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    """Item 21: both halves show their whole image; Ctrl+0 fits them after zooming."""
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    w.resize(1280, 720)
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo]))
    qtbot.waitUntil(lambda: w.model.engine.get(jid).state.terminal, timeout=20_000)
    w.show_compare(jid)
    cm = w.model.compare
    qtbot.waitUntil(cm.loaded, timeout=10_000)
    qtbot.mouseClick(w.compare.side_button, Qt.MouseButton.LeftButton)
    side = w.compare.side

    def whole_image_shown(c: Any) -> bool:
        shown = c.mapFromScene(QRectF(0, 0, *c.photo.size)).boundingRect()
        vp = c.viewport().rect().adjusted(-1, -1, 1, 1)
        fills = shown.width() >= vp.width() - 24 or shown.height() >= vp.height() - 24
        return vp.contains(shown) and fills

    qtbot.waitUntil(lambda: whole_image_shown(side.left) and whole_image_shown(side.right))
    side.left.set_zoom(3.0)
    assert not whole_image_shown(side.left)
    w.compare.setFocus()
    qtbot.keyClick(w.compare, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: whole_image_shown(side.left) and whole_image_shown(side.right))
