"""History panel: Pin and Trash act on a version; Trash goes to the system trash with Undo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from tests.ui.test_window_trust import _two_results


def test_pin_protects_and_trash_is_undone(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory, private_trash: Path
):
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    a, b = _two_results(qtbot, w, photo)
    hist, panel = w.model.history, w.history.panel
    qtbot.waitUntil(lambda: {i.job_id for i in hist.items} == {None, a, b})
    rb = w.model.engine.get(b).results[0]

    def select(job_id: str | None) -> None:
        panel.select(job_id)
        assert panel.selected_job() == job_id

    # Pin a: the row says so, Trash is off for it.
    select(a)
    qtbot.mouseClick(panel.pin_button, Qt.MouseButton.LeftButton)
    assert hist.item(a).pinned and "★" in panel.list.currentItem().text()
    assert not panel.trash_button.isEnabled()
    # Continue from b, then trash it: the canvas goes back to the original.
    select(b)
    qtbot.mouseClick(panel.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.model.document.path == rb, timeout=10_000)
    qtbot.mouseClick(panel.trash_button, Qt.MouseButton.LeftButton)
    assert not rb.exists() and (private_trash / "files" / rb.name).is_file()
    assert [i.job_id for i in hist.items] == [None, a]
    qtbot.waitUntil(lambda: w.model.document.path == photo.resolve(), timeout=10_000)
    assert w.undo_discard_button.isVisible()
    # Undo discard brings the version back into the tree.
    qtbot.mouseClick(w.undo_discard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(rb.exists, timeout=5_000)
    qtbot.waitUntil(lambda: {i.job_id for i in hist.items} == {None, a, b})
    assert not w.undo_discard_button.isVisible()
