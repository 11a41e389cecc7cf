"""Issue 13, workflow findings: what the photographer sees while working through a shoot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from tests.doubles.plain_runtime import plain_runtime
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


def test_tab_walks_every_parameter_control_in_panel_order(qtbot, make_window):
    """Item 7: the panel works from the keyboard: Tab reaches sliders, spin boxes, segmented
    buttons and toggles in the order they are drawn, scrolls to each, and arrows change them."""
    from PySide6.QtWidgets import QApplication

    w = make_window(plain_runtime())
    w.resize(1280, 720)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    om = w.model.operation
    om.select("enhancor.realistic_skin")
    panel = w.side.params
    w.side.operation_combo.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.side.operation_combo)
    visited = []
    for _ in range(120):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        f = QApplication.focusWidget()
        if not w.side.isAncestorOf(f):
            break  # out of the panel (Apply is off here: no account for Enhancor)
        visited.append(f)
        if panel.isAncestorOf(f):
            # Each control Tab lands on is scrolled into view.
            centre = f.mapTo(panel.viewport(), f.rect().center())
            assert panel.viewport().rect().contains(centre), f.objectName()
    controls = panel.controls
    version = controls["model_version"]
    # A segmented choice is one stop, on its chosen button (arrows move within, as for radio
    # buttons); then the sliders, spin boxes and toggles, top to bottom.
    wanted = [
        version.group.checkedButton(),
        controls["skin_refinement_level"].slider,
        controls["skin_refinement_level"].spin,
        controls["skin_realism_Level"].slider,
        controls["skin_realism_Level"].spin,
        controls["nose"].box,
        controls["cloth"].box,
    ]
    positions = [visited.index(x) for x in wanted]  # ValueError: Tab never got there
    assert positions == sorted(positions)  # in the order they are drawn
    assert visited[-1] is controls["cloth"].box  # the last toggle, then out of the panel
    assert panel not in visited  # not a stop of its own
    # The keyboard changes a value: Up on the focused spin box.
    spin = controls["skin_realism_Level"].spin
    spin.setFocus(Qt.FocusReason.TabFocusReason)
    before = om.request()["skin_realism_Level"]
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert om.request()["skin_realism_Level"] > before
    # Segmented choice from the keyboard: arrow to v3, Space picks it.
    buttons = version.buttons()
    buttons[0].setFocus(Qt.FocusReason.TabFocusReason)
    while QApplication.focusWidget().text() != "v3":
        before_focus = QApplication.focusWidget()
        qtbot.keyClick(before_focus, Qt.Key.Key_Right)
        assert QApplication.focusWidget() is not before_focus
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert om.request()["model_version"] == "enhancorv3"


def test_masks_missing_or_unused_are_said_before_anything_runs(qtbot, make_window, photo_dir: Path):
    """Item 6: Apply to all names the photos without the mask their operation needs and runs
    only the others; a mask painted for an operation that ignores masks is pointed out."""
    import numpy as np
    from tests.ui.test_window_trust import _answer

    w = make_window(plain_runtime())
    w.open_paths([photo_dir])
    photos, doc = w.model.photos, w.model.document
    qtbot.waitUntil(lambda: doc.image is not None and doc.image.path.name == "astronaut.png")
    masking = w.mask_painter.masking
    qtbot.waitUntil(lambda: masking.document is not None)
    arr = np.zeros((512, 512), np.uint8)
    arr[200:260, 200:300] = 255
    masking.document.set_array(arr, "test stroke")
    masking.save_now()
    om = w.model.operation
    om.select("local.object_removal")
    eng = w.model.engine
    qtbot.mouseClick(w.side.apply_all_button, Qt.MouseButton.LeftButton)
    asked = _answer(qtbot, w, "Run the 1 with a mask")
    assert "needs a painted mask. 2 of 3 photos have none" in asked
    qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
    (job,) = eng.jobs()
    assert job.input_path.name == "astronaut.png" and job.params["mask"]
    eng.cancel(job.id)
    # An operation without masks, with a mask painted: said, and Cancel sends nothing.
    om.select("local.color_correction")
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    asked = _answer(qtbot, w, "Cancel")
    assert "does not use a mask: the whole photo will change" in asked
    assert len(eng.jobs()) == 1
    # A photo whose mask was painted earlier says so when it comes back.
    photos.set_current_row(1)
    qtbot.waitUntil(lambda: doc.image is not None and doc.image.path.name == "chelsea.png")
    photos.set_current_row(0)
    qtbot.waitUntil(lambda: "the mask painted earlier is back" in w.statusBar().currentMessage())


def test_quitting_with_jobs_running_asks_and_says_what_happens(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    """Item 10: closing with jobs under way asks; the answer decides what happens to them,
    and jobs that come back at the next start are shown, never resumed silently."""
    from tests.ui.conftest import close_window
    from tests.ui.test_window_trust import _answer

    def window_with_a_sent_job(duration: float) -> tuple[Any, Any]:
        w = make_window(fake_runtime_factory(duration=duration, poll_interval=0.05))
        w.open_paths([photo_dir / "coffee.png"])
        w.model.operation.select("fake.brighten")
        eng = w.model.engine
        before = {r.id for r in eng.jobs()}
        w.apply_current()
        qtbot.waitUntil(lambda: len(eng.jobs()) == len(before) + 1, timeout=10_000)
        (job,) = [r for r in eng.jobs() if r.id not in before]
        qtbot.waitUntil(lambda: eng.get(job.id).remote_id is not None, timeout=10_000)
        return w, job

    w, job = window_with_a_sent_job(30.0)
    w.close()
    asked = w.question.text() + "\n" + w.question.informativeText()
    assert "1 job is not finished yet" in asked
    assert "already sent and paid for" in asked
    _answer(qtbot, w, "Keep working")
    assert w.isVisible()
    w.close()
    _answer(qtbot, w, "Cancel jobs and quit")
    qtbot.waitUntil(lambda: w.model.engine.get(job.id).state.name == "CANCELLED")
    assert not w.isVisible()
    close_window(qtbot, w)

    w2, job2 = window_with_a_sent_job(1.5)
    w2.close()
    _answer(qtbot, w2, "Quit, finish next time")
    qtbot.waitUntil(lambda: not w2.isVisible())
    assert not w2.model.engine.get(job2.id).state.terminal
    close_window(qtbot, w2)

    w3 = make_window(fake_runtime_factory())
    qtbot.waitUntil(lambda: "Resumed 1 job" in w3.statusBar().currentMessage())
    assert w3.jobs_dock.isVisible()
    qtbot.waitUntil(lambda: w3.model.engine.get(job2.id).state.name == "DONE", timeout=20_000)


def test_youcam_style_is_checked_in_the_panel_png_is_converted_and_reset_clears_the_grid(
    qtbot, make_window, photo_dir: Path, monkeypatch
):
    """Item 12: no hairstyle -> Apply is off with the reason (no failing job); a PNG is sent
    as a JPEG copy; Reset all also clears the highlighted style."""
    import io

    from PIL import Image
    from tests.emulators import load
    from tests.emulators.youcam_support import FAST, settings_env

    emu = load("youcam", **FAST).start()
    try:
        for k, v in settings_env(emu, "v2").items():
            monkeypatch.setenv(k, v)
        w = make_window(plain_runtime())
        w.open_paths([photo_dir / "chelsea.png"])
        om = w.model.operation
        om.select("youcam.hairstyle")
        assert not w.side.apply_button.isEnabled()
        assert w.side.problem.text().startswith("Choose hairstyle first")
        w.apply_current()
        assert w.model.engine.jobs() == []
        control = w.side.params.controls["template_id"]
        qtbot.mouseClick(control.browse, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: control.grid.count() > 0, timeout=30_000)
        # Item 17: the open style grid fits the panel; its button is not cut off.
        panel = w.side.params
        right = control.browse.mapTo(panel.viewport(), control.browse.rect().topRight()).x()
        assert right <= panel.viewport().width()
        first = control.grid.item(0)
        first.setSelected(True)
        assert om.value("template_id") and w.side.apply_button.isEnabled()
        # Reset all: the value and the highlighted thumbnail go together.
        qtbot.mouseClick(w.side.reset_button, Qt.MouseButton.LeftButton)
        assert om.value("template_id") in (None, "")
        assert control.grid.selectedItems() == []
        assert not w.side.apply_button.isEnabled()
        first.setSelected(True)
        # YouCam's hairstyle refuses PNG: the engine sends a JPEG copy, as `retouchdesk run`
        # does (services.inputs), without a question; the job's input stays the photo.
        qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
        eng = w.model.engine
        qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
        assert getattr(w, "question", None) is None
        (job,) = eng.jobs()
        assert job.input_path == photo_dir / "chelsea.png"
        qtbot.waitUntil(lambda: eng.get(job.id).state.terminal, timeout=60_000)
        sent = [f for f in emu.files.values() if f.file_name.startswith("chelsea")]
        assert [f.content_type for f in sent] == ["image/jpeg"]
        with Image.open(io.BytesIO(sent[0].data or b"")) as im:
            assert im.format == "JPEG" and im.size == (451, 300)
        assert Image.open(photo_dir / "chelsea.png").format == "PNG"  # original untouched
    finally:
        emu.stop()


def test_a_dropped_shoot_is_walked_like_the_cli_walks_it(
    qtbot, make_window, tmp_path: Path, monkeypatch
):
    """Item 15: photos in subfolders (day1/, DCIM/100CANON/) are found; retouched/, hidden
    folders and earlier results are not; the CLI's walker finds exactly the same photos; a
    huge tree is walked in the background with a count and a Stop button."""
    import shutil

    from PIL import Image

    from retouchdesk.cli import run as cli_run
    from retouchdesk.model import opening

    shoot = tmp_path / "shoot"
    data = Path(__file__).resolve().parents[1] / "data"
    layout = {
        "day1/chelsea.png": "chelsea.png",
        "day2/coffee.png": "coffee.png",
        "card/DCIM/100CANON/IMG_0001.png": "astronaut.png",
        "retouched/chelsea_old.png": "chelsea.png",  # results of earlier work
        ".thumbs/coffee.png": "coffee.png",  # hidden
    }
    for rel, src in layout.items():
        (shoot / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / src, shoot / rel)
    (shoot / "day1" / "notes.txt").write_text("not a photo")
    w = make_window(plain_runtime())
    from tests.ui.test_window import drop

    drop(w, [shoot])
    names = sorted(p.relative_to(shoot).as_posix() for p in w.model.photos.paths)
    assert names == ["card/DCIM/100CANON/IMG_0001.png", "day1/chelsea.png", "day2/coffee.png"]
    assert w.statusBar().currentMessage() == "Opened 3 photos from 3 folders"
    # The same photos as `retouchdesk run shoot/` would process.
    items = cli_run.collect_inputs([str(shoot)], None, skip_dirs=("retouched",))
    assert sorted(i.path.resolve() for i in items) == sorted(w.model.photos.paths)

    # A big tree: the walk moves to the background, counts, and Stop keeps what was found.
    big = tmp_path / "archive"
    dot = tmp_path / "dot.png"
    Image.new("RGB", (4, 4), (120, 60, 30)).save(dot)
    for d in range(12):
        for i in range(25):
            (big / f"roll{d:02d}").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dot, big / f"roll{d:02d}" / f"frame{i:02d}.png")
    monkeypatch.setattr(opening, "BUDGET", 0.0)
    assert w.open_paths([big]) == []  # not done yet: it goes on in the background
    assert w.scan_stop_button.isVisible()
    assert w.statusBar().currentMessage().startswith("Looking for photos…")
    qtbot.mouseClick(w.scan_stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.scan_stop_button.isVisible(), timeout=10_000)
    assert w.statusBar().currentMessage() == "Stopped looking: opened 1 photo"
    assert w.model.photos.rowCount() == 4
    # Without Stop, the whole tree arrives.
    said: list[str] = []
    w.statusBar().messageChanged.connect(said.append)
    w.open_paths([big])
    qtbot.waitUntil(lambda: not w.scan_stop_button.isVisible(), timeout=20_000)
    assert w.model.photos.rowCount() == 3 + 300
    assert "Opened 299 photos from 12 folders" in said


@pytest.mark.slow
def test_time_is_estimated_before_and_counted_down_while_running(
    qtbot, make_window, tmp_path: Path, photo_dir: Path, fake_runtime_factory
):
    """Item 11: the cost line says how long; a run of hours asks first; a running job says
    how long is left; a measured speed replaces the schema's hint."""
    from PIL import Image
    from tests.ui.test_window_trust import _answer

    from retouchdesk.model.jobs import COL_ELAPSED

    big = tmp_path / "big.jpg"
    Image.new("RGB", (6000, 4000), (128, 110, 90)).save(big, quality=80)
    w = make_window(plain_runtime())
    w.open_paths([big])
    qtbot.waitUntil(lambda: w.model.thumbs.size(big.resolve()) == (6000, 4000), timeout=10_000)
    om = w.model.operation
    om.select("local.upscale")
    om.set_value("scale", 4)
    qtbot.waitUntil(lambda: "Time: about 2 h" in w.side.cost.text())
    assert "(estimated)" in w.side.cost.text()
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    asked = _answer(qtbot, w, "Cancel")
    assert asked.startswith("Upscale on 1 photo will take about 2 h")
    assert w.model.engine.jobs() == []
    om.set_value("engine", "classic")
    assert "Time: about 1 s" in w.side.cost.text() or "Time: about 12 s" in w.side.cost.text()

    # A cloud job: no time claimed before any was measured; time left while it runs.
    w2 = make_window(fake_runtime_factory(duration=3.0, poll_interval=0.05))
    w2.open_paths([photo_dir / "coffee.png"])
    w2.model.operation.select("fake.brighten")
    qtbot.waitUntil(lambda: w2.model.thumbs.size((photo_dir / "coffee.png").resolve()))
    assert "Time:" not in w2.side.cost.text()
    w2.apply_current()
    jobs = w2.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(
        lambda: "left" in (jobs.index_of(jid).siblingAtColumn(COL_ELAPSED).data() or ""),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=20_000)
    w2.side.refresh()
    assert "(measured)" in w2.side.cost.text()


@pytest.mark.slow  # a real offline background blur (GrabCut): ~15 s on a loaded 2-core CPU
def test_background_blur_without_a_face_says_to_paint_the_subject(
    qtbot, make_window, photo_dir: Path
):
    """Item 13: a cat has no human face; the result says the subject was a guess and how to
    do better (paint it), in the compare view, the status bar and the job's row."""
    from retouchdesk.model.jobs import COL_STATE

    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "chelsea.png"])
    om = w.model.operation
    om.select("local.background_blur")
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    eng = w.model.engine
    qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
    (job,) = eng.jobs()
    qtbot.waitUntil(lambda: eng.get(job.id).state.terminal, timeout=120_000)
    rec = eng.get(job.id)
    assert rec.state.name == "DONE", rec.error
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.compare, timeout=10_000)
    qtbot.waitUntil(lambda: w.compare.note.isVisible(), timeout=10_000)
    assert "No face was found" in w.compare.note.text()
    assert "paint over the subject" in w.compare.note.text()
    assert "paint over the subject" in w.statusBar().currentMessage()
    row = w.model.jobs.index_of(job.id).siblingAtColumn(COL_STATE)
    assert row.data() == "Done · see the note"
    assert "paint over the subject" in row.data(Qt.ItemDataRole.ToolTipRole)
