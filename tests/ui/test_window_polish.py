"""Issue 13, polish findings: what looks wrong or stale in the window."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.conftest import close_window


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


def test_at_1280x720_the_photo_gets_the_height_and_the_tool_bar_fits(qtbot, make_window, photo_dir):
    """Item 22: a laptop screen shows the photo large and the whole mask tool bar; a wide
    screen does not stretch the tool bar's sliders."""
    w = make_window(plain_runtime())
    w.resize(1280, 720)
    w.open_paths([photo_dir])
    qtbot.waitUntil(lambda: w.model.document.image is not None)
    qtbot.wait(100)
    assert w.canvas.viewport().height() >= 340
    bar = w.mask_painter.toolbar
    feather = w.mask_painter.feather
    assert feather.isVisible()
    right = feather.mapTo(bar, feather.rect().topRight()).x()
    assert right <= bar.width()
    # The Retouch panel keeps the full height: the job list sits under the photo only.
    assert w.jobs_dock.geometry().right() < w.side_dock.geometry().left()
    # Item 17: the Retouch dock keeps its width whichever provider is picked.
    width = w.side_dock.width()
    for op in (
        "enhancor.realistic_skin",
        "youcam.hairstyle",
        "codeformer.restore",
        "local.upscale",
    ):
        w.model.operation.select(op)
        qtbot.wait(20)
        assert w.side_dock.width() == width, op
    w.resize(1920, 1080)
    qtbot.wait(100)
    for box in (bar.size_box, bar.hardness_box):
        assert box.width() <= box.sizeHint().width() + 2


def test_small_words_are_right(qtbot, make_window, fake_runtime_factory, photo_dir):
    """Item 17: '1 credit', 'Queued again', a cancelled batch's empty bar, a wide enough
    passphrase prompt, the About box naming installed packages, whole file names."""
    from importlib import metadata

    from retouchdesk.core.jobs import JobState
    from retouchdesk.model.jobs import COL_STATE, PROGRESS_ROLE, counted
    from retouchdesk.ui.about import versions
    from retouchdesk.ui.settings.passphrase import PASSPHRASE_TITLE, passphrase_dialog

    assert counted(1, "credits") == "1 credit"
    assert counted(2, "credits") == "2 credits"
    assert counted(1, "credits per second") == "1 credit per second"
    w = make_window(fake_runtime_factory(duration=5.0, poll_interval=0.05))
    w.open_paths([photo_dir])
    w.model.operation.select("fake.brighten")
    ids = run(qtbot, w.model.session.queue(w.model.photos.paths))
    eng, jobs = w.model.engine, w.model.jobs
    batch = eng.get(ids[0]).batch_id
    for j in ids:
        eng.cancel(j)
    qtbot.waitUntil(lambda: all(eng.get(j).state is JobState.CANCELLED for j in ids))
    batch_row = jobs.index_of(ids[0]).parent()
    assert jobs.batch_records(batch)  # the batch row stands for these jobs
    assert batch_row.data(PROGRESS_ROLE) == 0.0
    # Retry before the engine picks the job up again: it reads "Queued again".
    rec = eng.get(ids[0])
    rec.state, rec.message = JobState.QUEUED, "queued again"
    assert jobs.index_of(ids[0]).siblingAtColumn(COL_STATE).data() == "Queued again"
    rec.state, rec.message = JobState.CANCELLED, "cancelled"
    # The passphrase prompt is wide enough for its title next to the window buttons.
    dialog = passphrase_dialog(w, "Enter the passphrase of your encrypted key file:")
    title = dialog.fontMetrics().horizontalAdvance(PASSPHRASE_TITLE)
    assert dialog.minimumWidth() >= title + 200
    # The About box names only packages that are installed, under their own names.
    for name, version in versions().items():
        if name not in ("Python", "Qt"):
            assert metadata.version(name) == version
    # A file name's line in the filmstrip holds the font's descenders (underscores).
    from PySide6.QtGui import QFontMetrics

    fm = QFontMetrics(w.filmstrip.font())
    cell = w.filmstrip.visualRect(w.model.photos.index(0))
    assert cell.height() >= 60 + fm.height()


def test_open_and_show_in_folder_say_where_the_file_is_without_a_launcher(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    """Item 16: with no desktop launcher (this offscreen session has none), Open and Show in
    folder say where the result is and copy its path; a pasted image says where it went."""
    from PySide6.QtGui import QGuiApplication, QImage

    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo]))
    qtbot.waitUntil(lambda: w.model.engine.get(jid).state.terminal, timeout=20_000)
    result = w.model.engine.get(jid).results[0]
    panel = w.jobs
    panel.view.setCurrentIndex(w.model.jobs.index_of(jid))
    for button, words in ((panel.open_button, "open"), (panel.reveal_button, "show")):
        QGuiApplication.clipboard().clear()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        said = w.statusBar().currentMessage()
        assert words in said and str(result) in said
        assert QGuiApplication.clipboard().text() == str(result)
    img = QImage(32, 24, QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.darkCyan)
    QGuiApplication.clipboard().setImage(img)
    w.paste_action.trigger()
    pasted = w.model.photos.paths[-1]
    assert str(pasted) in w.statusBar().currentMessage()
