"""Mask document: undo bounded by memory, PNG export/import byte-exact, reuse and rescale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect

from retouchdesk.core.errors import InputError
from retouchdesk.model.mask import TILE, MaskDocument, MaskTools
from retouchdesk.services.masks import MaskLibrary
from retouchdesk.ui.mask_toolbar import MaskToolBar


def _paint(doc: MaskDocument, y: float, hardness: float = 0.3, radius: float = 25) -> None:
    doc.begin_stroke(30, y, radius, hardness)
    for x in range(40, 560, 7):
        doc.stroke_to(x, y + 15 * np.sin(x / 40))
    doc.end_stroke()


def test_export_import_is_byte_exact(tmp_path: Path, qapp) -> None:
    doc = MaskDocument(600, 400)
    _paint(doc, 120)  # soft edges: every grey level must survive, not just 0 and 255
    doc.fill_polygon([(300, 250), (580, 300), (420, 390)])
    assert len(np.unique(doc.array)) > 50
    first = doc.export_png(tmp_path / "a.png")
    other = MaskDocument(600, 400)
    other.import_png(first)
    assert np.array_equal(other.array, doc.array)
    second = other.export_png(tmp_path / "b.png")
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as im:  # what other tools see: same-size greyscale, white = selected
        assert im.mode == "L" and im.size == (600, 400)
        assert np.array_equal(np.asarray(im), doc.array)


def test_import_refuses_another_size_with_a_plain_sentence(tmp_path: Path, qtbot) -> None:
    Image.new("L", (300, 200), 255).save(tmp_path / "small.png")
    doc = MaskDocument(600, 400)
    with pytest.raises(InputError, match="300x200 but the photo is 600x400"):
        doc.import_png(tmp_path / "small.png")
    bar = MaskToolBar(MaskTools(), doc)
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.message) as blocker:
        assert not bar.import_mask(tmp_path / "small.png")
    assert "300x200" in blocker.args[0]
    assert not doc.array.any() and not doc.can_undo()


def test_undo_redo_restores_exact_pixels(qapp) -> None:
    doc = MaskDocument(600, 400)
    states = [doc.array.copy()]
    _paint(doc, 100)
    states.append(doc.array.copy())
    doc.invert()
    states.append(doc.array.copy())
    doc.fill_rect(QRect(10, 10, 50, 50), erase=True)
    states.append(doc.array.copy())
    for expected in reversed(states[:-1]):
        assert doc.undo()
        assert np.array_equal(doc.array, expected)
    assert not doc.undo()
    for expected in states[1:]:
        assert doc.redo()
        assert np.array_equal(doc.array, expected)
    doc.undo()
    doc.fill_rect(QRect(300, 300, 20, 20), erase=True)  # a new edit drops the redo branch
    assert not doc.can_redo()


def test_undo_keeps_only_changed_tiles_and_is_bounded_by_bytes(qapp) -> None:
    doc = MaskDocument(4000, 3000, undo_limit_bytes=200_000)
    doc.begin_stroke(100, 100, 20, 1.0)
    doc.end_stroke()
    step = doc._undo[-1]
    assert len(step.patches) == 1 and step.patches[0].w == TILE  # one tile, not the image
    for i in range(40):
        doc.invert() if i % 10 == 0 else _paint(doc, 60 + i * 60, radius=40)
        assert doc.history_bytes <= 200_000
    # The oldest steps went first; the newest are still there and undo correctly.
    undone = 0
    while doc.undo():
        undone += 1
    assert 3 <= undone < 40


def test_changed_signal_reports_the_dirty_rectangle(qapp) -> None:
    doc = MaskDocument(600, 400)
    rects: list[QRect] = []
    doc.changed.connect(rects.append)
    doc.begin_stroke(200, 150, 10, 1.0)
    doc.stroke_to(260, 150)
    doc.end_stroke()
    union = QRect()
    for r in rects:
        union = union.united(r)
        assert r.width() < 100 and r.height() < 40  # never the whole mask for a dab
    ys, xs = np.nonzero(doc.array)
    assert union.contains(
        QRect(xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    )


def test_library_reuses_and_rescales_for_an_upscaled_photo(tmp_path: Path, qapp) -> None:
    lib = MaskLibrary(tmp_path / "masks")
    doc = MaskDocument(300, 200)
    doc.fill_rect(QRect(100, 50, 100, 100))
    photo, twin, upscaled = tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "a_x2.png"
    lib.save(photo, doc.array)
    assert np.array_equal(lib.load(photo, (300, 200)), doc.array)
    # another photo of the same size can reuse it as is
    assert np.array_equal(lib.load(twin, (300, 200), source=photo), doc.array)
    big = lib.load(upscaled, (600, 400), source=photo)
    assert big is not None and big.shape == (400, 600)
    # bilinear: a soft one-pixel rim, solid inside, nothing spills further out
    assert big[102:298, 202:398].min() == 255
    assert big[:98].max() == 0 and big[:, :198].max() == 0
    assert lib.load(upscaled, (500, 500), source=photo) is None  # another framing: not reused
    # the document follows an upscale too
    doc.rescale(600, 400)
    assert doc.size == (600, 400) and np.array_equal(doc.array, big)
    assert not doc.can_undo()
    # empty masks leave no file behind
    doc.clear()
    lib.save(photo, doc.array)
    assert lib.load(photo, (600, 400)) is None


def test_frozen_job_masks_never_change(tmp_path: Path, qapp) -> None:
    lib = MaskLibrary(tmp_path / "masks")
    doc = MaskDocument(300, 200)
    doc.fill_rect(QRect(10, 10, 30, 30))
    first = lib.freeze(doc.array)
    before = first.read_bytes()
    assert lib.freeze(doc.array) == first  # same pixels, same file
    doc.invert()
    second = lib.freeze(doc.array)
    assert second != first and first.read_bytes() == before
    assert lib.for_result(first, (600, 400))[22:78, 22:78].min() == 255


def test_same_framing_allows_rounding_not_crops() -> None:
    from retouchdesk.services.masks import same_framing

    assert same_framing((451, 300), (902, 600))  # 2x
    assert same_framing((451, 300), (676, 450))  # 1.5x, rounded
    assert same_framing((6000, 4000), (1500, 1000))
    assert not same_framing((6000, 4000), (6000, 3960))  # a 1 % crop
    assert not same_framing((600, 400), (512, 512))


def test_toolbar_follows_the_document(qtbot) -> None:
    tools = MaskTools()
    doc = MaskDocument(200, 100)
    bar = MaskToolBar(tools, doc)
    qtbot.addWidget(bar)
    assert not bar.undo_action.isEnabled()
    bar.invert_action.trigger()
    assert doc.array.min() == 255
    assert bar.undo_action.isEnabled() and "invert mask" in bar.undo_action.toolTip()
    bar.undo_action.trigger()
    assert not doc.array.any() and bar.redo_action.isEnabled()
    bar.size_box.spin.setValue(140)
    assert tools.size == 140
    tools.set_hardness(0.25)
    assert bar.hardness_box.spin.value() == 25
    tools.set_visible(False)
    assert not bar.show_action.isChecked()
    bar.set_document(None)
    assert not bar.fill_action.isEnabled() and not bar.undo_action.isEnabled()


def test_grow_and_shrink_are_undoable(qtbot, monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    doc = MaskDocument(200, 200)
    doc.fill_rect(QRect(80, 80, 40, 40))
    before = doc.array.copy()
    bar = MaskToolBar(MaskTools(), doc)
    qtbot.addWidget(bar)
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (10, True))
    bar.grow_action.trigger()
    _ys, xs = np.nonzero(doc.array)
    assert xs.min() == 70 and xs.max() == 129 and doc.undo_label() == "Grow mask 10 px"
    doc.undo()
    assert np.array_equal(doc.array, before)
    bar.shrink_action.trigger()
    _ys, xs = np.nonzero(doc.array)
    assert xs.min() == 90 and xs.max() == 109
