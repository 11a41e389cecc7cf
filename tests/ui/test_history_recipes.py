"""Issue 14's done-when: a three-step chain built in the window, undone and redone, saved as
a recipe and applied to two other photos; each result's XMP carries its recipe.

Real window, real offline engine (object removal by Telea, colour correction, classic 2x
upscale: all quick), real files. The chain is built with the History panel's buttons and the
Apply button; undo/redo go through Edit › Undo/Redo's shortcuts; the canvas's document is
checked after each step (its file and its pixel size).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.test_window_trust import _answer

from retouchdesk.core import recipe as rc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STEPS = ["local.object_removal", "local.color_correction", "local.upscale"]


def _row_of(w: Any, job_id: str | None) -> int:
    items = w.model.history.items
    return next(i for i, it in enumerate(items) if it.job_id == job_id)


def _apply_and_continue(qtbot: Any, w: Any, op: str, values: dict[str, Any]) -> str:
    """Apply ``op`` with the side panel's button, then Continue from its result."""
    om, eng, panel = w.model.operation, w.model.engine, w.history.panel
    om.select(op)
    for k, v in values.items():
        om.set_value(k, v)
    before = {r.id for r in eng.jobs()}
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: len(eng.jobs()) > len(before) or getattr(w, "question", None) is not None,
        timeout=10_000,
    )
    if len(eng.jobs()) == len(before):  # the mask painted for step 1 is not used: say so
        assert "does not use a mask" in _answer(qtbot, w, "Apply to the whole photo")
    qtbot.waitUntil(lambda: len(eng.jobs()) == len(before) + 1, timeout=10_000)
    (job,) = [r for r in eng.jobs() if r.id not in before]
    qtbot.waitUntil(lambda: eng.get(job.id).state.terminal, timeout=60_000)
    assert eng.get(job.id).state.name == "DONE", eng.get(job.id).error
    # The new version is listed; clicking it shows it; Continue makes it the working image.
    qtbot.waitUntil(lambda: any(it.job_id == job.id for it in w.model.history.items))
    row = panel.list.item(_row_of(w, job.id))
    rect = panel.list.visualItemRect(row)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.compare)
    qtbot.mouseClick(panel.continue_button, Qt.MouseButton.LeftButton)
    result = eng.get(job.id).results[0]
    qtbot.waitUntil(lambda: _shown(w) == result, timeout=10_000)
    return job.id


def _shown(w: Any) -> Path | None:
    img = w.model.document.image
    return img.path if img is not None and w.stack.currentWidget() is w.canvas else None


def test_chain_undo_redo_recipe_to_two_photos(
    qtbot, make_window, photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_window(plain_runtime())
    w.open_paths([photo_dir])
    photos = w.model.photos
    astronaut = next(p for p in photos.paths if p.name == "astronaut.png")
    photos.set_current_path(astronaut)
    qtbot.waitUntil(lambda: _shown(w) == astronaut, timeout=10_000)
    masking = w.mask_painter.masking
    qtbot.waitUntil(lambda: masking.document is not None)
    mask = np.zeros((512, 512), np.uint8)
    mask[200:260, 200:300] = 255
    masking.document.set_array(mask, "test stroke")
    masking.save_now()

    j1 = _apply_and_continue(qtbot, w, STEPS[0], {"method": "telea"})
    j2 = _apply_and_continue(qtbot, w, STEPS[1], {"strength": 70})
    j3 = _apply_and_continue(qtbot, w, STEPS[2], {"scale": 2, "engine": "classic"})
    eng = w.model.engine
    r1, r2, r3 = (eng.get(j).results[0] for j in (j1, j2, j3))
    assert w.model.document.image.width == 1024  # the upscale is on the canvas
    # The tree: original -> removal -> colour -> upscale, in the job database.
    rows = w.model.engine.store.versions()
    assert [rows[j][1] for j in (j1, j2, j3)] == [None, j1, j2]
    assert {rows[j][0] for j in (j1, j2, j3)} == {astronaut}
    assert [it.depth for it in w.model.history.items] == [0, 1, 2, 3]

    # Undo steps back through the applied results, redo forward (Edit's shortcuts).
    w.activateWindow()
    w.canvas.setFocus()
    qtbot.waitUntil(w.canvas.hasFocus, timeout=2_000)
    undo, redo = (a.shortcuts()[0][0] for a in (w.undo_action, w.redo_action))
    for expected in (r2, r1, astronaut):
        qtbot.keyClick(w.canvas, undo.key(), undo.keyboardModifiers())
        qtbot.waitUntil(lambda e=expected: _shown(w) == e, timeout=10_000)
    assert w.model.document.image.width == 512
    for expected in (r1, r2, r3):
        qtbot.keyClick(w.canvas, redo.key(), redo.keyboardModifiers())
        qtbot.waitUntil(lambda e=expected: _shown(w) == e, timeout=10_000)
    assert w.model.document.image.width == 1024

    # The upscale's own XMP holds the whole chain, with the photo's digest.
    digest = hashlib.sha256(astronaut.read_bytes()).hexdigest()
    made = rc.read_from_file(r3)
    assert made is not None and [s.op_key for s in made.steps] == STEPS
    assert made.source_sha256 == digest and made.source_name == "astronaut.png"
    assert made.steps[0].mask_role == "photo" and made.steps[0].params["method"] == "telea"

    # Save the chain as a recipe from the History panel (the mask goes beside it).
    recipe_file = tmp_path / "chain.toml"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(recipe_file), ""))
    w.history.panel.list.setCurrentRow(_row_of(w, j3))
    qtbot.mouseClick(w.history.panel.recipe_button, Qt.MouseButton.LeftButton)
    saved = rc.load(recipe_file)
    assert [s.op_key for s in saved.steps] == STEPS
    assert saved.steps[0].mask_role == "file"
    assert (tmp_path / saved.steps[0].mask).is_file()
    assert saved.steps[2].params["engine"] == "classic"

    # Apply it to the two other photos: three jobs each, every result carries its chain.
    others = [p for p in photos.paths if p != astronaut]
    done: list[tuple[str, bool]] = []
    w.model.recipes.finished.connect(lambda p, ok: done.append((p, ok)))
    w.history.apply_recipe(recipe_file, others)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=120_000)
    assert all(ok for _, ok in done), [r.error for r in eng.jobs() if r.error]
    for photo in others:
        versions = w.model.session.versions(photo)
        assert [f"{r.provider}.{r.operation}" for r in versions] == STEPS
        final = versions[-1].results[0]
        got = rc.read_from_file(final)
        assert got is not None and [s.op_key for s in got.steps] == STEPS
        assert got.source_sha256 == hashlib.sha256(photo.read_bytes()).hexdigest()
        assert got.source_name == photo.name
        assert got.steps[2].params == {"scale": 2, "engine": "classic"}
        from PIL import Image

        with Image.open(photo) as a, Image.open(final) as b:
            assert b.size == (a.size[0] * 2, a.size[1] * 2)
        # A recipe's steps advance the working version: the canvas would show the last one.
        assert w.model.session.working_file(photo) == final
    # The astronaut was not touched by the recipe.
    assert len(w.model.session.versions(astronaut)) == 3
