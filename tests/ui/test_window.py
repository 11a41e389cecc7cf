"""The main window driven like a photographer would: drop, tune, apply, watch, compare."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.conftest import close_window

from retouchdesk.core.jobs import JobState
from retouchdesk.model.jobs import COL_PROGRESS, COL_STATE, PROGRESS_ROLE


def drop(widget: Any, paths: list[Path]) -> None:
    """Drag files over the window (a real DragEnter through Qt), then drop them.

    QApplication discards a synthetic Drop event when no platform drag is in progress, so the
    drop itself is handed to the window's dropEvent directly, as Qt would after the enter.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with warnings.catch_warnings():  # PySide marks the only QDragEnterEvent constructor
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(200, 200), *args)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    widget.dropEvent(QDropEvent(QPointF(200, 200), *args))


def test_drop_folder_fills_filmstrip_and_shows_first_photo(qtbot, make_window, photo_dir):
    w = make_window(plain_runtime())
    assert w.stack.currentWidget() is w.empty
    drop(w, [photo_dir])
    photos = w.model.photos
    # Photos directly inside the folder, sorted by name; no text file, no result subfolder.
    assert [p.name for p in photos.paths] == ["astronaut.png", "chelsea.png", "coffee.png"]
    qtbot.waitUntil(photos.thumbnails_ready, timeout=10_000)
    for row in range(3):
        pm = photos.index(row).data(Qt.ItemDataRole.DecorationRole)
        assert pm is not None and not pm.isNull() and max(pm.width(), pm.height()) <= 160
    assert w.filmstrip.model().rowCount() == 3
    # The first photo is decoded and on the canvas at its real pixel size.
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    assert w.stack.currentWidget() is w.canvas
    assert w.canvas.photo.size == (512, 512)
    assert w.canvas.sceneRect().width() == 512
    # Dropping the same folder again adds nothing; dropping a file adds it.
    drop(w, [photo_dir])
    assert photos.rowCount() == 3
    # Picking another photo in the filmstrip shows it.
    w.filmstrip.setCurrentIndex(photos.index(1))
    qtbot.waitUntil(lambda: w.canvas.photo.size == (451, 300), timeout=10_000)
    assert "chelsea.png" in w.windowTitle()


def test_parameter_changes_show_in_the_request(qtbot, make_window):
    w = make_window(plain_runtime())
    om = w.model.operation
    om.select("enhancor.realistic_skin")
    panel = w.side.params
    req = om.request()
    assert req["model_version"] == "enhancorv1"
    assert req["skin_realism_Level"] == 1.7
    assert "output_resolution" not in req  # v3 only
    assert not panel.controls["output_resolution"].isEnabled()
    row = next(r for r in panel.rows if r.control.param.name == "output_resolution")
    assert row.note.isVisibleTo(panel) and row.note.text() == "Only for model v3"

    v3 = next(b for b in panel.controls["model_version"].buttons() if b.text() == "v3")
    qtbot.mouseClick(v3, Qt.MouseButton.LeftButton)
    req = om.request()
    assert req["model_version"] == "enhancorv3"
    assert req["skin_realism_Level"] == 0.1  # the v3 default replaces v1's
    assert req["output_resolution"] == 2048
    assert "enhancementMode" not in req  # v1 only
    assert panel.controls["output_resolution"].isEnabled()
    realism = panel.controls["skin_realism_Level"]
    assert realism.spin.maximum() == 3  # v3's range

    realism.spin.setValue(2.5)
    assert om.request()["skin_realism_Level"] == 2.5
    # The area-control grid: None clears all 19, then one toggle by a real click.
    grid = panel.grids[0]
    qtbot.mouseClick(grid.none_button, Qt.MouseButton.LeftButton)
    areas = [p.name for p in om.operation.params if p.group == "Area control"]
    assert len(areas) == 19
    assert not any(om.request()[a] for a in areas)
    nose = panel.controls["nose"]
    qtbot.mouseClick(nose.box, Qt.MouseButton.LeftButton, pos=QPoint(5, nose.box.height() // 2))
    assert om.request()["nose"] is True
    assert grid.heads["face"].checkState() == Qt.CheckState.PartiallyChecked
    # Reset to default per parameter.
    row = next(r for r in panel.rows if r.control.param.name == "skin_realism_Level")
    assert row.reset.isEnabled()
    qtbot.mouseClick(row.reset, Qt.MouseButton.LeftButton)
    assert om.request()["skin_realism_Level"] == 0.1

    om.select("codeformer.restore")
    fidelity = w.side.params.controls["fidelity"]
    assert [lab.text() for lab in fidelity.ends] == ["← more detail", "more identity →"]
    fidelity.spin.setValue(0.8)
    upscale = w.side.params.controls["upscale"]
    qtbot.mouseClick(upscale.buttons()[2], Qt.MouseButton.LeftButton)
    assert om.request() == {
        "fidelity": 0.8,
        "upscale": 4,
        "background_enhance": False,
        "face_upsample": False,
    }
    # Providers without credentials say how to add them and cannot run.
    assert not om.can_run
    assert "Settings" in w.side.banner_text.text()
    assert not w.side.apply_button.isEnabled()


def test_presets_round_trip_and_refuse_misfits(qtbot, make_window, tmp_path):
    w = make_window(plain_runtime())
    om = w.model.operation
    om.select("codeformer.restore")
    om.set_value("fidelity", 0.25)
    om.set_value("upscale", 1)
    path = om.save_preset("Soft faces")
    assert path.read_text().count("fidelity = 0.25") == 1
    om.reset_all()
    assert om.request()["fidelity"] == 0.5
    om.select("enhancor.realistic_skin")
    assert om.load_preset(path) == "Soft faces"
    assert om.operation.key == "codeformer.restore"
    assert om.request()["fidelity"] == 0.25 and om.request()["upscale"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('[preset]\nname="x"\noperation="codeformer.restore"\n[values]\nfidelity=7\n')
    with pytest.raises(Exception, match=r"bad\.toml.*fidelity"):
        om.load_preset(bad)
    assert om.request()["fidelity"] == 0.25  # unchanged by the refused preset


def test_canvas_zoom_keeps_the_pixel_under_the_cursor(qtbot, make_window, photo_dir):
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "coffee.png"])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    c = w.canvas
    c.actual_size()
    assert c.zoom == pytest.approx(1.0)
    anchor = QPointF(c.viewport().width() / 3, c.viewport().height() / 3)
    before = c.mapToScene(anchor.toPoint())
    c.set_zoom(4.0, anchor=anchor)
    after = c.mapToScene(anchor.toPoint())
    assert abs(after.x() - before.x()) <= 1 and abs(after.y() - before.y()) <= 1
    # At 400 % the full-resolution level is painted; zoomed out a halved one would be.
    assert c.photo.level_for(4.0)[1] == 1.0
    c.fit()
    assert c.zoom <= 1.0 and c.fit_mode
    # The mouse wheel zooms around the pointer too (a real wheel event on the viewport),
    # once the photo is larger than the view (smaller photos stay centred).
    from PySide6.QtGui import QWheelEvent

    c.set_zoom(2.0)

    pos = QPointF(c.viewport().width() * 0.7, c.viewport().height() * 0.4)
    under = c.mapToScene(pos.toPoint())
    z0 = c.zoom
    for _ in range(3):
        ev = QWheelEvent(
            pos,
            c.viewport().mapToGlobal(pos),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(c.viewport(), ev)
    assert c.zoom == pytest.approx(z0 * 1.2**3)
    after = c.mapToScene(pos.toPoint())
    assert abs(after.x() - under.x()) <= 1.5 and abs(after.y() - under.y()) <= 1.5


@pytest.mark.slow
def test_local_job_reaches_done_and_compare_shows_both(qtbot, make_window, photo_dir):
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "chelsea.png"])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    om = w.model.operation
    local = next(p for p, s in w.model.catalog.providers.items() if s.kind == "local")
    om.set_provider(local)
    # Colour correction: a real offline operation that takes a second or two (the AI
    # upscaler takes minutes on a shared CPU).
    om.set_operation("color_correction")
    assert om.can_run, om.problem
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=60_000)
    rec = jobs.record(jid)
    assert rec.state is JobState.DONE, rec.error
    assert jobs.index_of(jid).siblingAtColumn(COL_STATE).data().startswith("Done")
    # The compare view opens on its own for a single job of the photo being looked at.
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.compare, timeout=10_000)
    qtbot.waitUntil(w.model.compare.loaded, timeout=20_000)
    left, right = w.model.compare.left, w.model.compare.right
    assert left.path == photo_dir / "chelsea.png"
    assert right.path == rec.results[0]
    assert (left.width, left.height) == (451, 300)
    split = w.compare.split
    assert split.photo.size == (left.width, left.height)
    assert split.after.size == (right.width, right.height)
    # Holding backslash shows the original; the versions list holds original + result.
    qtbot.keyPress(w.compare, Qt.Key.Key_Backslash)
    assert not split.after.isVisible()
    qtbot.keyRelease(w.compare, Qt.Key.Key_Backslash)
    assert split.after.isVisible()
    assert w.model.compare.versions[0].label == "Original"
    assert len(w.model.compare.versions) == 2
    assert w.model.photos.photo(photo_dir / "chelsea.png").versions == 1


def test_fake_provider_progress_moves_the_bar(qtbot, make_window, photo_dir, fake_runtime_factory):
    rt = fake_runtime_factory(duration=2.0, poll_interval=0.05)
    w = make_window(rt)
    w.open_paths([photo_dir / "astronaut.png"])
    w.model.operation.select("fake.brighten")
    assert w.model.operation.can_run, w.model.operation.problem
    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    seen: list[float] = []

    def midway() -> bool:
        v = jobs.index_of(jid).data(PROGRESS_ROLE)
        if v is not None and 0 < v < 1:
            seen.append(v)
        return len(set(seen)) >= 2

    qtbot.waitUntil(midway, timeout=15_000)
    assert seen == sorted(seen)
    # The bar the user sees is painted from that value: its filled (accent blue) part
    # grows with the progress, and is full when the job is done.
    view = w.jobs.view

    def filled() -> float:
        rect = view.visualRect(jobs.index_of(jid).siblingAtColumn(COL_PROGRESS))
        img = view.viewport().grab(rect).toImage()
        y = img.height() // 2
        blue = [
            x
            for x in range(img.width())
            if (c := img.pixelColor(x, y)).blue() > c.red() + 60 and c.blue() > 150
        ]
        return len(blue) / max(1, img.width())

    qtbot.waitUntil(lambda: 0.15 < filled() < 0.95, timeout=10_000)
    first = filled()
    assert abs(first - jobs.index_of(jid).data(PROGRESS_ROLE)) < 0.25
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.DONE, timeout=15_000)
    assert jobs.index_of(jid).data(PROGRESS_ROLE) == 1.0
    assert filled() > max(first, 0.8)


def test_batch_row_counts_x_of_n(qtbot, make_window, photo_dir, fake_runtime_factory):
    rt = fake_runtime_factory(duration=0.1, poll_interval=0.02)
    w = make_window(rt)
    w.open_paths([photo_dir])
    w.model.operation.select("fake.brighten")
    assert "3 photos" in w.model.operation.cost_text(3)
    assert w.side.cost.text() == "Cost: 1 credit per photo · all 3: 3 credit"
    task = asyncio.ensure_future(w.model.session.queue(w.model.photos.paths))
    qtbot.waitUntil(task.done, timeout=10_000)
    ids = task.result()
    jobs = w.model.jobs
    assert jobs.rowCount() == 1  # one batch row ...
    batch = jobs.index(0, 0)
    assert jobs.rowCount(batch) == 3  # ... holding the three jobs
    qtbot.waitUntil(lambda: all(jobs.record(j).state is JobState.DONE for j in ids), timeout=20_000)
    qtbot.waitUntil(lambda: batch.siblingAtColumn(COL_STATE).data() == "3 of 3 done")
    assert batch.data(PROGRESS_ROLE) == 1.0
    for j in ids:
        out = jobs.record(j).results[0]
        assert out.parent.name == "retouched" and out.exists()
    qtbot.mouseClick(w.jobs.clear_button, Qt.MouseButton.LeftButton)
    assert jobs.rowCount() == 0 and w.model.engine.jobs() == []
    assert out.exists()  # clearing the list keeps the files


def test_restarted_window_shows_and_continues_a_job(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    rt = fake_runtime_factory(duration=2.0, poll_interval=0.05)
    w1 = make_window(rt)
    w1.open_paths([photo_dir / "coffee.png"])
    w1.model.operation.select("fake.brighten")
    w1.apply_current()
    jobs = w1.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.RUNNING, timeout=10_000)
    close_window(qtbot, w1)  # the app quits while the provider still works on the job

    w2 = make_window(fake_runtime_factory())
    jobs2 = w2.model.jobs
    assert jobs2.job_ids() == [jid]  # the job is back in the panel at once
    assert not jobs2.record(jid).state.terminal
    qtbot.waitUntil(lambda: jobs2.record(jid).state is JobState.DONE, timeout=20_000)
    assert fake_runtime_factory.server().created_per_key()[jobs2.record(jid).idempotency_key] == 1
    result = jobs2.record(jid).results[0]
    a = np.asarray(Image.open(photo_dir / "coffee.png").convert("RGB"), dtype=float)
    b = np.asarray(Image.open(result).convert("RGB"), dtype=float)
    assert b.mean() > a.mean() + 5  # the fake brightens: a real result, not a copy


@pytest.mark.slow
def test_classic_fallback_is_labelled_and_upscale_compares_on_one_grid(
    qtbot, make_window, photo_dir
):
    from retouchdesk.model.jobs import COL_OP

    w = make_window(plain_runtime())
    photo = photo_dir / "chelsea.png"
    w.open_paths([photo])
    om = w.model.operation
    om.select("local.upscale")
    om.set_value("engine", "classic")
    assert om.request() == {"scale": 2, "engine": "classic"}
    w.apply_current()
    jobs = w.model.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state.terminal, timeout=60_000)
    assert jobs.record(jid).state is JobState.DONE, jobs.record(jid).error
    assert jobs.index_of(jid).siblingAtColumn(COL_OP).data().endswith("(classic)")
    qtbot.waitUntil(w.model.compare.loaded, timeout=20_000)
    assert "(classic)" in w.model.compare.versions[1].label
    split = w.compare.split
    assert split.photo.size == (451, 300) and split.after.size == (902, 600)
    # The 2x result is drawn over the same scene rectangle as the original.
    r = split.after.mapRectToScene(split.after.boundingRect())
    assert (r.width(), r.height()) == (451, 300)
