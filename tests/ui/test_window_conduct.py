"""Desktop conduct and the job panel's actions, driven through the real window."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.conftest import close_window

from retouchdesk.core.jobs import JobState
from retouchdesk.model.jobs import COL_STATE


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.mark.slow
def test_too_large_photo_is_sent_as_a_downscaled_copy(
    qtbot, make_window, tmp_path, fake_runtime_factory
):
    big = tmp_path / "shoot" / "wide.png"
    big.parent.mkdir()
    Image.new("RGB", (9000, 600), (90, 120, 150)).save(big)  # fake.brighten: max_side 8000
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    w.open_paths([big])
    w.model.operation.select("fake.brighten")
    (check,) = run(qtbot, w.model.session.check_inputs([big]))
    assert check.problems == ["the long side is 9000 px, the limit is 8000 px"]
    assert check.fixable and check.fit_size == (8000, 533)
    (jid,) = run(qtbot, w.model.session.queue([big], downscale={big: check.fit_size}))
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=20_000)
    rec = jobs.record(jid)
    assert rec.state is JobState.DONE, rec.error
    result = rec.results[0]
    assert result.parent == big.parent / "retouched"  # beside the original, not the copy
    assert Image.open(result).size == (8000, 533)
    assert Image.open(big).size == (9000, 600)  # the original is untouched
    assert w.model.session.original_of(rec.input_path) == big.resolve()
    assert w.model.photos.photo(big.resolve()).versions == 1


def test_failure_sentence_retry_cancel_and_remove(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    w = make_window(
        fake_runtime_factory(duration=0.1, poll_interval=0.02, fail_inputs=["chelsea.png"])
    )
    w.open_paths([photo_dir / "chelsea.png"])
    w.model.operation.select("fake.brighten")
    w.apply_current()
    jobs, panel = w.model.jobs, w.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.FAILED, timeout=10_000)
    state_text = jobs.index_of(jid).siblingAtColumn(COL_STATE).data()
    assert state_text == "Failed: Fake Cloud could not find a face in chelsea.png"
    assert "could not find a face" in w.statusBar().currentMessage()
    panel.view.setCurrentIndex(jobs.index_of(jid))
    assert panel.retry_button.isEnabled() and not panel.cancel_button.isEnabled()
    fake_runtime_factory.server().set_script(fail_inputs=[], duration=3.0)
    qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.RUNNING, timeout=10_000)
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.CANCELLED, timeout=10_000)
    panel.view.setCurrentIndex(jobs.index_of(jid))
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert jobs.job_ids() == [] and w.model.engine.get(jid) is None


def test_compare_two_results_and_discard_one(qtbot, make_window, photo_dir, fake_runtime_factory):
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    om = w.model.operation
    om.select("fake.brighten")
    om.set_value("amount", 1.2)
    (a,) = run(qtbot, w.model.session.queue([photo]))
    om.set_value("amount", 2.0)
    (b,) = run(qtbot, w.model.session.queue([photo]))
    eng = w.model.engine
    qtbot.waitUntil(lambda: eng.get(a).state.terminal and eng.get(b).state.terminal, timeout=20_000)
    w.show_compare(a)
    cm = w.model.compare
    assert [v.job_id for v in cm.versions] == [None, a, b]
    # Compare the two results with each other, side by side.
    w.compare.left_combo.setCurrentIndex(1)
    w.compare.right_combo.setCurrentIndex(2)
    qtbot.waitUntil(lambda: cm.loaded() and cm.left.path == eng.get(a).results[0], timeout=10_000)
    qtbot.waitUntil(lambda: cm.right is not None and cm.right.path == eng.get(b).results[0])
    qtbot.mouseClick(w.compare.side_button, Qt.MouseButton.LeftButton)
    side = w.compare.side
    side.left.set_zoom(3.0)
    side.left.centerOn(100, 80)
    assert side.right.zoom == side.left.zoom  # same size results: same zoom
    lc, rc = side.left.view_center(), side.right.view_center()
    assert abs(lc.x() - rc.x()) <= 2 and abs(lc.y() - rc.y()) <= 2
    # Keep marks a version (remembered); discarding moves a result to the trash.
    w.compare.split_button.click()
    w.show_compare(a)
    qtbot.waitUntil(cm.loaded, timeout=10_000)
    w.compare.keep_button.click()
    assert str(eng.get(a).results[0]) in w.model.session.kept()
    assert cm.versions[1].kept and cm.versions[1].label.endswith("· kept")
    w.show_compare(b)
    qtbot.waitUntil(lambda: cm.loaded() and cm.right_version.job_id == b, timeout=10_000)
    result_b = eng.get(b).results[0]
    qtbot.mouseClick(w.compare.discard_button, Qt.MouseButton.LeftButton)
    # The file goes to the trash; the job stays in the history (what it cost, its settings).
    assert not result_b.exists() and eng.get(b) is not None
    assert [v.job_id for v in cm.versions] == [None, a]
    w.show_compare(a)
    qtbot.keyClick(w.compare, Qt.Key.Key_Escape)
    assert w.stack.currentWidget() is w.canvas


def test_layout_recent_files_and_operation_are_remembered(qtbot, make_window, photo_dir):

    w1 = make_window(plain_runtime())
    w1.resize(1410, 850)
    w1.jobs_dock.hide()
    w1.model.operation.select("codeformer.restore")
    w1.open_paths([photo_dir / "astronaut.png"])
    close_window(qtbot, w1)
    w2 = make_window(plain_runtime(), resize=False)
    # The offscreen test screen clamps restored sizes, so the saved geometry is compared.
    saved = w2.qsettings.value("window/geometry")
    assert bytes(saved) == bytes(w1.saveGeometry())
    assert not w2.jobs_dock.isVisible()
    assert w2.model.operation.operation.key == "codeformer.restore"
    assert w2.recent()[0] == str(photo_dir / "astronaut.png")


def test_paste_an_image_from_the_clipboard(qtbot, make_window):
    from retouchdesk.services import paths

    w = make_window(plain_runtime())
    img = QImage(64, 48, QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.darkCyan)
    QGuiApplication.clipboard().setImage(img)
    w.paste_action.trigger()
    (pasted,) = w.model.photos.paths
    assert pasted.parent == (paths.data_dir() / "pasted").resolve()
    arr = np.asarray(Image.open(pasted).convert("RGB"))
    assert arr.shape == (48, 64, 3) and tuple(arr[0, 0]) == (0, 128, 128)
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)


def test_shortcuts_step_through_photos_and_zoom(qtbot, make_window, photo_dir):

    w = make_window(plain_runtime())
    w.open_paths([photo_dir])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_Right)
    assert w.model.photos.current_path.name == "chelsea.png"
    qtbot.keyClick(w.canvas, Qt.Key.Key_Left)
    assert w.model.photos.current_path.name == "astronaut.png"
    qtbot.keyClick(w.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert w.canvas.zoom == 1.0
    qtbot.keyClick(w.canvas, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert w.canvas.zoom > 1.0
    qtbot.keyClick(w.canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert w.canvas.fit_mode


def click_in_message_box(qtbot: Any, text_start: str) -> None:
    """Wait for the window's question and press the button whose text starts so."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    def box() -> Any:
        for wdg in QApplication.topLevelWidgets():
            if isinstance(wdg, QMessageBox) and wdg.isVisible():
                return wdg
        return None

    qtbot.waitUntil(lambda: box() is not None, timeout=10_000)
    b = next(b for b in box().buttons() if b.text().replace("&", "").startswith(text_start))
    qtbot.mouseClick(b, Qt.MouseButton.LeftButton)


@pytest.mark.slow
def test_apply_offers_to_downscale_and_confirms_a_paid_batch(
    qtbot, make_window, tmp_path, fake_runtime_factory
):
    folder = tmp_path / "shoot"
    folder.mkdir()
    Image.new("RGB", (8400, 500), (90, 120, 150)).save(folder / "a_wide.png")
    Image.new("RGB", (300, 200), (90, 120, 150)).save(folder / "b_small.png")
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    w.open_paths([folder])
    w.model.operation.select("fake.brighten")
    qtbot.mouseClick(w.side.apply_all_button, Qt.MouseButton.LeftButton)
    click_in_message_box(qtbot, "Downscale to 8000")  # the limits dialog comes first
    click_in_message_box(qtbot, "Yes")  # then the price: 2 credits for 2 photos
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 2, timeout=10_000)
    qtbot.waitUntil(
        lambda: all(jobs.record(j).state is JobState.DONE for j in jobs.job_ids()),
        timeout=20_000,
    )
    sizes = sorted(Image.open(jobs.record(j).results[0]).size for j in jobs.job_ids())
    assert sizes == [(300, 200), (8000, 476)]


def test_invalid_combination_disables_apply_with_the_reason(qtbot, make_window, monkeypatch):

    monkeypatch.setenv("RETOUCHDESK_YOUCAM_API_KEY", "sk-placeholder-for-the-panel")
    w = make_window(plain_runtime())
    w.open_paths([Path(__file__).resolve().parents[1] / "data" / "coffee.png"])
    om = w.model.operation
    om.select("youcam.image_extender")
    panel = w.side.params
    panel.controls["output_width"].spin.setValue(1000)
    panel.controls["input_width"].spin.setValue(600)
    panel.controls["input_x"].spin.setValue(200)
    assert om.can_run and w.side.apply_button.isEnabled()
    panel.controls["input_x"].spin.setValue(500)  # 500 + 600 > 1000
    assert not om.can_run
    assert not w.side.apply_button.isEnabled()
    assert w.side.problem.isVisibleTo(w.side)
    assert w.side.problem.text().startswith("The photo does not fit in the output")
    panel.controls["input_x"].spin.setValue(400)
    assert om.can_run and w.side.apply_button.isEnabled() and not w.side.problem.isVisibleTo(w.side)


def test_filmstrip_menu_lists_a_photos_versions(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "chelsea.png"
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo]))
    qtbot.waitUntil(lambda: w.model.jobs.record(jid).state is JobState.DONE, timeout=20_000)
    w.close_compare()
    menu = w.filmstrip_menu_for(0)
    versions = menu.actions()[0].menu()
    assert menu.actions()[0].text() == "Versions (1)"
    (act,) = versions.actions()
    assert act.text().startswith("Brighten · Fake Cloud · ")
    act.trigger()
    assert w.stack.currentWidget() is w.compare
    qtbot.waitUntil(w.model.compare.loaded, timeout=10_000)
    assert w.model.compare.right.path == w.model.jobs.record(jid).results[0]


def test_a_broken_file_is_listed_with_a_plain_reason(qtbot, make_window, tmp_path):

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    w = make_window(plain_runtime())
    w.open_paths([bad])
    qtbot.waitUntil(lambda: bool(w.model.document.error), timeout=10_000)
    assert "broken.jpg" in w.model.document.error
    assert "broken.jpg" in w.statusBar().currentMessage()
    qtbot.waitUntil(w.model.photos.thumbnails_ready, timeout=10_000)
    tip = w.model.photos.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "broken.jpg cannot be read" in tip
    assert "Traceback" not in tip and "Traceback" not in w.model.document.error


def test_a_first_start_puts_the_whole_window_on_a_small_screen(qtbot, make_window):
    # A first start made the window 1400 x 900 whatever the screen: on a 1280 x 720 laptop,
    # Apply, the job list and the status bar were below the screen's edge (seen under Xvfb).
    # The offscreen test screen is smaller than 1400 x 900: the window is maximized into it.
    w = make_window(plain_runtime(), resize=False)
    room = w.screen().availableGeometry()
    assert room.width() < 1400 and not w.restored_geometry  # what this test relies on
    w.fit_screen()
    qtbot.waitUntil(w.isMaximized)
    qtbot.waitUntil(lambda: room.contains(w.frameGeometry()))
    apply = w.side.apply_button  # the button a photographer needs, inside the screen
    assert apply.isVisible() and room.contains(apply.mapToGlobal(apply.rect().bottomRight()))
    close_window(qtbot, w)
    again = make_window(plain_runtime(), resize=False)
    assert again.restored_geometry  # a later start keeps the size the photographer chose
