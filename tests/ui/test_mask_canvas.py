"""The mask painter inside the real main window: the window's canvas, masked jobs.

Strokes are real mouse events on the canvas viewport; the mask pixels under them are checked
through ``canvas.mapToScene`` (scene coordinates are image pixels).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from tests.doubles.plain_runtime import plain_runtime

from retouchdesk.core.jobs import JobState


@pytest.fixture
def window(qtbot, make_window, photo_dir: Path):
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "coffee.png"])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    qtbot.waitUntil(lambda: w.mask_painter.masking.document is not None, timeout=5_000)
    return w


def _stroke(qtbot, w, points: list[QPoint]) -> None:
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=points[-1])


def _px(w, p: QPoint) -> int:
    s = w.canvas.mapToScene(p)
    return int(w.mask_painter.masking.document.array[math.floor(s.y()), math.floor(s.x())])


def test_strokes_align_on_the_window_canvas_at_two_zooms_and_after_pan(qtbot, window) -> None:
    w = window
    painter = w.mask_painter
    painter.tools.set_size(16)
    painter.tools.set_hardness(1.0)
    painter.toolbar.edit_action.trigger()
    assert painter.layer is not None and painter.layer.editing
    assert painter.undo_document is painter.masking.document
    doc = painter.masking.document
    assert doc.size == (600, 400)

    w.canvas.fit()
    line = [QPoint(200 + 10 * i, 200) for i in range(8)]
    _stroke(qtbot, w, line)
    assert all(_px(w, p) == 255 for p in line)
    assert _px(w, QPoint(230, 240)) == 0  # 40 screen px below, at fit zoom ~22 image px

    w.canvas.set_zoom(3.0)
    w.canvas.horizontalScrollBar().setValue(w.canvas.horizontalScrollBar().value() - 57)
    w.canvas.verticalScrollBar().setValue(w.canvas.verticalScrollBar().value() + 31)
    line2 = [QPoint(300, 120 + 9 * i) for i in range(10)]
    _stroke(qtbot, w, line2)
    assert all(_px(w, p) == 255 for p in line2)
    assert _px(w, QPoint(300 + 40, 150)) == 0  # 40 screen px = 13 image px: outside 8 px brush

    # The window's Edit > Undo acts on the mask while painting.
    before = doc.array.copy()
    w.undo_action.trigger()
    assert not np.array_equal(doc.array, before)
    w.redo_action.trigger()
    assert np.array_equal(doc.array, before)

    # Space-drag still pans while painting (and paints nothing).
    w.canvas.setFocus()
    qtbot.keyPress(w.canvas, Qt.Key.Key_Space)
    h0 = w.canvas.horizontalScrollBar().value()
    _stroke(qtbot, w, [QPoint(400, 300), QPoint(340, 300)])
    qtbot.keyRelease(w.canvas, Qt.Key.Key_Space)
    assert w.canvas.horizontalScrollBar().value() != h0
    assert np.array_equal(doc.array, before)

    painter.toolbar.edit_action.trigger()
    assert not painter.layer.editing and painter.undo_document is None


@pytest.mark.slow
def test_painted_mask_drives_offline_object_removal(qtbot, window) -> None:
    w = window
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("object_removal")
    assert not om.can_run  # the mask is required and nothing is painted yet
    painter = w.mask_painter
    # The expand/feather parameters of the operation drive the outline preview.
    assert painter.tools.preview_expand == om.value("mask_expand")
    assert painter.tools.preview_feather == om.value("mask_feather")
    doc = painter.masking.document
    doc.begin_stroke(300, 200, 30, 1.0)
    doc.stroke_to(340, 210)
    doc.end_stroke()
    qtbot.waitUntil(lambda: bool(om.value("mask")), timeout=5_000)
    assert om.can_run, om.problem
    live = Path(om.value("mask"))
    assert np.array_equal(np.asarray(Image.open(live)), doc.array)

    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    rec = jobs.record(jobs.job_ids()[0])
    frozen = Path(rec.params["mask"])
    assert frozen != live and frozen.parent.name == "jobs"  # a frozen copy, kept with the job
    assert np.array_equal(np.asarray(Image.open(frozen)), doc.array)
    # Painting on after queueing does not change the job's mask.
    doc.fill_all()
    assert np.asarray(Image.open(frozen)).min() == 0
    qtbot.waitUntil(lambda: jobs.record(rec.id).state.terminal, timeout=90_000)
    assert jobs.record(rec.id).state is JobState.DONE, jobs.record(rec.id).error


def test_masks_follow_the_photo(qtbot, window, photo_dir: Path) -> None:
    w = window
    masking = w.mask_painter.masking
    masking.document.fill_rect(masking.document.rect().adjusted(10, 10, -500, -300))
    first = masking.document.array.copy()
    w.open_paths([photo_dir / "chelsea.png"])
    qtbot.waitUntil(
        lambda: masking.document is not None and masking.document.size == (451, 300),
        timeout=10_000,
    )
    assert not masking.document.array.any()
    w.model.photos.set_current_path(photo_dir / "coffee.png")
    qtbot.waitUntil(lambda: getattr(masking.document, "size", None) == (600, 400), timeout=10_000)
    assert np.array_equal(masking.document.array, first)


@pytest.mark.slow
def test_protect_outside_keeps_every_outside_pixel(qtbot, window, photo_dir: Path) -> None:
    """A job that changes the whole photo, with "Protect outside": only the mask changes."""
    w = window
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("lighting")  # opens shadows everywhere: every pixel may change
    painter = w.mask_painter
    assert painter.protect_action.isEnabled()
    doc = painter.masking.document
    doc.fill_rect(doc.rect().adjusted(150, 100, -250, -150))  # x 150..349, y 100..249
    painter.feather.setValue(4)
    painter.protect_action.trigger()
    assert painter.masking.protect_outside
    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    rec = jobs.record(jid)
    assert rec.options["protect_outside"]["feather"] == 4
    assert Path(rec.options["protect_outside"]["mask"]).parent.name == "jobs"
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=90_000)
    rec = jobs.record(jid)
    assert rec.state is JobState.DONE, rec.error
    from retouchdesk.core.imageio import load_array

    original = load_array(photo_dir / "coffee.png")
    result = load_array(rec.results[0])
    assert result.shape == original.shape
    mask = doc.array
    assert np.array_equal(result[mask == 0], original[mask == 0])
    inside = result[110:240, 160:340].astype(int) - original[110:240, 160:340].astype(int)
    assert np.abs(inside).mean() > 1.0  # the operation really changed the inside
    assert rec.result_meta[str(rec.results[0])]["protected_outside"] is True


def test_mask_reaches_enhancor_v3_when_it_applies(qtbot, window) -> None:
    w = window
    om = w.model.operation
    om.set_provider("enhancor")
    om.set_operation("realistic_skin")
    masking = w.mask_painter.masking
    masking.document.fill_rect(masking.document.rect().adjusted(200, 100, -200, -100))
    masking.save_now()
    assert "mask_image_url" not in om.validated()  # v1: no mask parameter at all
    # Nothing takes the mask and nothing is protected: a v1 job freezes no copy of it.
    jobs = masking.library.root / "jobs"
    assert masking.prepare_job(masking.photo, masking.photo, om.validated()) == (
        om.validated(),
        {},
    )
    assert not jobs.exists() or not any(jobs.iterdir())
    assert w.mask_painter.tools.preview_expand == 0
    om.set_value("model_version", "enhancorv3")
    qtbot.waitUntil(lambda: bool(om.value("mask_image_url")), timeout=5_000)
    assert Path(om.value("mask_image_url")).name == "coffee-painted-mask.png"
    assert w.mask_painter.tools.preview_expand == om.value("mask_expand") == 15
    # The job gets a frozen copy at the input's size.
    params, options = masking.prepare_job(masking.photo, masking.photo, om.validated())
    frozen = Path(params["mask_image_url"])
    assert frozen.parent.name == "jobs" and options == {}
    assert np.array_equal(np.asarray(Image.open(frozen)), masking.document.array)


def test_batch_masks_per_photo(qtbot, window, photo_dir: Path, tmp_path: Path) -> None:
    """Own mask, else the current one for a photo of the same size, else none."""
    w = window
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("object_removal")
    masking = w.mask_painter.masking
    masking.document.fill_rect(masking.document.rect().adjusted(100, 100, -400, -200))
    masking.save_now()
    params = om.validated()
    twin = tmp_path / "coffee_twin.png"  # same size, no mask of its own
    twin.write_bytes((photo_dir / "coffee.png").read_bytes())
    p_twin, _ = masking.prepare_job(twin, twin, params)
    assert np.array_equal(np.asarray(Image.open(p_twin["mask"])), masking.document.array)
    p_cat, _ = masking.prepare_job(photo_dir / "chelsea.png", photo_dir / "chelsea.png", params)
    assert p_cat["mask"] is None  # another size: never the coffee mask
    small = tmp_path / "coffee_small.png"  # a downscaled copy of the current photo
    Image.open(photo_dir / "coffee.png").resize((300, 200)).save(small)
    p_small, _ = masking.prepare_job(masking.photo, small, params)
    assert Image.open(p_small["mask"]).size == (300, 200)


def test_removing_the_painted_mask_from_the_operation_sticks(qtbot, window) -> None:
    w = window
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("object_removal")
    masking = w.mask_painter.masking
    masking.document.fill_rect(masking.document.rect().adjusted(100, 100, -400, -200))
    masking.save_now()
    assert om.value("mask")
    om.set_value("mask", None)  # the ✕ of the mask field
    om.set_value("method", "ns")  # any other change must not bring it back
    assert om.value("mask") is None
    masking.document.fill_rect(masking.document.rect().adjusted(300, 100, -200, -200))
    qtbot.waitUntil(lambda: bool(om.value("mask")), timeout=5_000)  # painting links it again


def test_reuse_the_previous_photos_mask(qtbot, window, photo_dir: Path, tmp_path: Path) -> None:
    w = window
    masking = w.mask_painter.masking
    masking.document.fill_rect(masking.document.rect().adjusted(100, 100, -400, -200))
    big = tmp_path / "coffee_x2.png"  # same framing, twice the size (an upscale)
    Image.open(photo_dir / "coffee.png").resize((1200, 800)).save(big)
    w.open_paths([big])
    qtbot.waitUntil(lambda: getattr(masking.document, "size", None) == (1200, 800), timeout=10_000)
    assert masking.previous_photo() == photo_dir / "coffee.png"
    w.mask_painter._update_reuse()
    assert w.mask_painter.reuse_action.isEnabled()
    w.mask_painter.reuse_action.trigger()
    got = masking.document.array
    assert got[204:396, 204:396].min() == 255 and got[:196].max() == 0 and got[:, 404:].max() == 0
    assert masking.document.undo_label() == "Mask of coffee.png"
    w.open_paths([photo_dir / "astronaut.png"])  # another framing: not offered
    qtbot.waitUntil(lambda: getattr(masking.document, "size", None) == (512, 512), timeout=10_000)
    assert masking.previous_photo() is None and not masking.reuse_previous()


def test_choosing_a_masked_operation_points_at_the_painter(qtbot, window) -> None:
    w = window
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("object_removal")
    assert "Paint mask" in w.statusBar().currentMessage()


@pytest.mark.slow
def test_enhancor_v3_gets_the_painted_mask_and_outside_is_protected(
    qtbot, make_window, photo_dir: Path, emulator, monkeypatch
) -> None:
    """Window -> engine -> Enhancor provider -> hosting -> emulator, and back through the
    protect-outside hook: the mask Enhancor downloads is the painted one, byte for byte."""
    enh = emulator("enhancor", time_scale=0.02, api_key="enh-key")
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", "enh-key")
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_BASE_URL", enh.url)
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_POLL_INTERVAL", "0.05")
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "astronaut.png"])
    qtbot.waitUntil(lambda: w.mask_painter.masking.document is not None, timeout=10_000)
    om = w.model.operation
    om.set_provider("enhancor")
    om.set_operation("realistic_skin")
    om.set_value("model_version", "enhancorv3")
    masking = w.mask_painter.masking
    doc = masking.document
    doc.fill_polygon([(180, 120), (330, 120), (330, 300), (180, 300)])
    w.mask_painter.protect_action.setChecked(True)
    masking.save_now()
    assert om.can_run, om.problem
    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=60_000)
    rec = jobs.record(jid)
    assert rec.state is JobState.DONE, rec.error
    [job] = list(enh.jobs.values())
    frozen = Path(rec.params["mask_image_url"])
    assert job.mask == frozen.read_bytes()  # what Enhancor downloaded is the painted mask
    assert job.body["mask_image_url"].startswith("http")
    from retouchdesk.core import composite
    from retouchdesk.core.imageio import load_array

    original = load_array(photo_dir / "astronaut.png")
    result = load_array(rec.results[0])
    outside = composite.resample_mask(doc.array, result.shape[1], result.shape[0]) == 0
    expected = composite.resample_image(original, result.shape[1], result.shape[0])
    assert np.array_equal(result[outside], expected[outside])
    assert result.shape[:2] == (2048, 2048)  # v3 output resolution: another size than sent
    assert (result[~outside] != expected[~outside]).mean() > 0.1  # the retouch did happen


@pytest.mark.slow
def test_youcam_object_removal_uploads_the_painted_mask(
    qtbot, make_window, photo_dir: Path, emulator, monkeypatch
) -> None:
    emu = emulator("youcam", time_scale=0.02, api_key="sk-yc-key")
    monkeypatch.setenv("RETOUCHDESK_YOUCAM_API_KEY", "sk-yc-key")
    monkeypatch.setenv("RETOUCHDESK_YOUCAM_BASE_URL", emu.url)
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "coffee.png"])
    qtbot.waitUntil(lambda: w.mask_painter.masking.document is not None, timeout=10_000)
    om = w.model.operation
    om.set_provider("youcam")
    om.set_operation("object_removal")
    doc = w.mask_painter.masking.document
    doc.fill_polygon([(250, 150), (350, 150), (350, 260), (250, 260)])
    w.mask_painter.masking.save_now()
    assert om.can_run, om.problem
    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=60_000)
    rec = jobs.record(jid)
    assert rec.state is JobState.DONE, rec.error
    [task] = emu.tasks_created("object_removal") or emu.tasks_created()
    mask_keys = [k for k in task.files if k in ("mask_ids", "msk_ids", "msk_file_id")]
    assert mask_keys, task.files
    uploaded = emu.store.data(task.files[mask_keys[0]][0])
    assert uploaded == Path(rec.params["mask"]).read_bytes()


def test_closing_the_window_keeps_the_last_stroke(qtbot, window) -> None:
    w = window
    masking = w.mask_painter.masking
    photo = masking.photo
    masking.document.fill_rect(masking.document.rect().adjusted(10, 10, -500, -300))
    expected = masking.document.array.copy()
    w.close()  # before the debounced save had a chance to run
    saved = masking.library.load(photo, (600, 400))
    assert saved is not None and np.array_equal(saved, expected)


def test_switching_photos_frees_the_previous_mask(qtbot, window, photo_dir: Path) -> None:
    import gc
    import weakref

    w = window
    masking = w.mask_painter.masking
    old = weakref.ref(masking.document.array)
    w.open_paths([photo_dir / "chelsea.png"])
    qtbot.waitUntil(lambda: getattr(masking.document, "size", None) == (451, 300), timeout=10_000)
    gc.collect()
    assert old() is None  # the 600x400 buffer is gone, not kept by a Qt parent


def test_ctrl_z_on_the_canvas_undoes_exactly_one_step(qtbot, window) -> None:
    w = window
    painter = w.mask_painter
    painter.toolbar.edit_action.trigger()
    doc = painter.masking.document
    doc.fill_rect(doc.rect().adjusted(10, 10, -500, -300))
    one = doc.array.copy()
    doc.fill_rect(doc.rect().adjusted(300, 200, -200, -100))
    w.activateWindow()
    w.canvas.setFocus()
    qtbot.waitUntil(lambda: w.canvas.hasFocus(), timeout=2_000)
    qtbot.keyClick(w.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.array, one)  # exactly one step undone
    qtbot.keyClick(
        w.canvas,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert doc.array[250, 350] == 255
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketRight)
    assert painter.tools.size > 60
