"""Issue 13, "wrong image, lost work or money": what a photographer sees after each action.

Each test drives the real window and checks what reaches the user: the canvas's pixels at
100 %, the file on disk opened by Pillow, the jobs the provider received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.test_window import drop


def canvas_patch(w: Any, x: int, y: int, size: int = 24) -> np.ndarray:
    """The RGB pixels the canvas shows for image pixels (x..x+size, y..y+size) at 100 %."""
    c = w.canvas
    c.actual_size()
    c.centerOn(QPointF(x + size / 2, y + size / 2))
    top_left = c.mapFromScene(QPointF(x, y))
    img = c.viewport().grab().toImage()
    dpr = img.devicePixelRatio()
    arr = _qimage_rgb(img)
    x0, y0 = round(top_left.x() * dpr), round(top_left.y() * dpr)
    return arr[y0 : y0 + size, x0 : x0 + size]


def _qimage_rgb(img: Any) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def file_patch(path: Path, x: int, y: int, size: int = 24) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))[y : y + size, x : x + size].astype(np.int16)


def test_going_back_to_a_viewed_photo_shows_its_real_pixels(qtbot, make_window, photo_dir):
    """Item 1: a cache hit must not be replaced by the stretched 160 px thumbnail."""
    w = make_window(plain_runtime())
    drop(w, [photo_dir])
    photos, doc = w.model.photos, w.model.document
    astronaut = photo_dir / "astronaut.png"
    qtbot.waitUntil(photos.thumbnails_ready, timeout=10_000)
    qtbot.waitUntil(lambda: doc.image is not None and doc.image.path.name == "astronaut.png")
    qtbot.keyClick(w.canvas, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: doc.image is not None and doc.image.path.name == "chelsea.png")
    qtbot.waitUntil(lambda: w.canvas.photo.levels[0].width() == 451)
    qtbot.keyClick(w.canvas, Qt.Key.Key_Left)  # back: the decode is cached
    qtbot.wait(200)
    assert "astronaut.png" in w.windowTitle()
    # The canvas shows the photo's own pixels at 100 %, not an enlarged thumbnail: a detail
    # area (the astronaut's badge) matches the file within display rounding.
    shown = canvas_patch(w, 200, 300).astype(np.int16)
    real = file_patch(astronaut, 200, 300)
    assert shown.shape == real.shape
    assert np.abs(shown - real).mean() < 2.0
    assert w.canvas.photo.levels[0].width() == 512


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    import asyncio

    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def _two_results(qtbot: Any, w: Any, photo: Path) -> tuple[str, str]:
    om = w.model.operation
    om.select("fake.brighten")
    om.set_value("amount", 1.2)
    (a,) = run(qtbot, w.model.session.queue([photo]))
    om.set_value("amount", 2.0)
    (b,) = run(qtbot, w.model.session.queue([photo]))
    eng = w.model.engine
    qtbot.waitUntil(lambda: eng.get(a).state.terminal and eng.get(b).state.terminal, timeout=20_000)
    return a, b


def test_discard_moves_to_the_trash_with_undo_and_keep_pins(
    qtbot, make_window, photo_dir, fake_runtime_factory, private_trash
):
    """Item 2: Discard never destroys a paid result: trash + Undo; Keep pins and protects."""
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    a, b = _two_results(qtbot, w, photo)
    eng, cm, view = w.model.engine, w.model.compare, w.compare
    result_a, result_b = eng.get(a).results[0], eng.get(b).results[0]
    qtbot.waitUntil(lambda: w.model.photos.photo(photo.resolve()).versions == 2)
    # Keep is a visible pin: the button says so and Discard is refused for a kept result.
    w.show_compare(a)
    qtbot.waitUntil(lambda: cm.loaded() and cm.right.path == result_a, timeout=10_000)
    qtbot.mouseClick(view.keep_button, Qt.MouseButton.LeftButton)
    assert view.keep_button.isChecked() and view.keep_button.text() == "★ Kept"
    assert not view.discard_button.isEnabled()
    assert w.stack.currentWidget() is view  # the compare view stays: the user sees the pin
    assert "· kept" in view.right_combo.currentText()
    # Discard b: the file goes to the trash (not deleted), its badge drops to 1, Undo shows.
    w.show_compare(b)
    qtbot.waitUntil(lambda: cm.loaded() and cm.right.path == result_b, timeout=10_000)
    assert view.keep_button.text() == "Keep" and view.discard_button.isEnabled()
    qtbot.mouseClick(view.discard_button, Qt.MouseButton.LeftButton)
    assert not result_b.exists()
    trashed = private_trash / "files" / result_b.name
    assert trashed.is_file()
    with Image.open(trashed) as im, Image.open(photo) as orig:  # intact in the trash
        assert im.size == orig.size
    assert [v.job_id for v in cm.versions] == [None, a]
    assert w.model.photos.photo(photo.resolve()).versions == 1
    assert w.undo_discard_button.isVisible()
    # Undo (Ctrl+Z, as in every editor) brings it back where it was.
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(result_b.exists, timeout=5_000)
    assert not trashed.exists()
    assert not (private_trash / "info" / f"{result_b.name}.trashinfo").exists()
    assert [v.job_id for v in cm.versions] == [None, a, b]
    assert w.model.photos.photo(photo.resolve()).versions == 2
    assert not w.undo_discard_button.isVisible()
    assert result_a.exists()


def test_discard_without_a_trash_asks_before_deleting(
    qtbot, make_window, photo_dir, fake_runtime_factory, monkeypatch, tmp_path
):
    """Item 2: where no trash exists the result is deleted only after a confirmation."""
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "no-such-folder"))  # Qt: no trash
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    _a, b = _two_results(qtbot, w, photo)
    cm, view = w.model.compare, w.compare
    result_b = w.model.engine.get(b).results[0]
    w.show_compare(b)
    qtbot.waitUntil(lambda: cm.loaded() and cm.right.path == result_b, timeout=10_000)
    qtbot.mouseClick(view.discard_button, Qt.MouseButton.LeftButton)
    box = view.confirm_box
    qtbot.waitUntil(box.isVisible)
    assert "permanently" in box.text()
    assert result_b.exists()  # nothing happened yet
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert result_b.exists()
    qtbot.mouseClick(view.discard_button, Qt.MouseButton.LeftButton)
    box = view.confirm_box
    qtbot.waitUntil(box.isVisible)
    next(b for b in box.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: not result_b.exists())


def wheel_at(w: Any, widget: Any, notches: int = -1) -> None:
    """A real (spontaneous) wheel turn over ``widget``'s centre, through the window system."""
    from PySide6.QtTest import QTest

    pos = widget.mapTo(w, widget.rect().center())
    QTest.wheelEvent(w.windowHandle(), QPointF(pos), QPoint(0, 120 * notches))
    QApplication.processEvents()


def test_wheel_over_a_slider_scrolls_the_panel_not_the_value(qtbot, make_window):
    """Item 3: scrolling the panel never changes a value that passes under the pointer."""
    w = make_window(plain_runtime())
    w.resize(1280, 720)
    om = w.model.operation
    om.select("enhancor.realistic_skin")
    panel = w.side.params
    qtbot.waitUntil(lambda: panel.verticalScrollBar().maximum() > 0)
    realism = panel.controls["skin_realism_Level"]
    bar = panel.verticalScrollBar()

    def bring_to_top(widget: Any) -> None:
        """Scroll so that ``widget`` sits near the top of the panel's viewport."""
        y = widget.mapTo(panel.widget(), widget.rect().topLeft()).y()
        bar.setValue(max(0, y - 20))
        qtbot.waitUntil(
            lambda: (
                panel.viewport()
                .rect()
                .contains(widget.mapTo(panel.viewport(), widget.rect().center()))
            )
        )

    before = om.request()["skin_realism_Level"]
    for target in (realism.slider, realism.spin, panel.controls["model_version"]):
        bring_to_top(target)
        start = bar.value()
        assert start < bar.maximum()
        wheel_at(w, target, -1)
        assert om.request()["skin_realism_Level"] == before
        assert om.request()["model_version"] == "enhancorv1"
        assert bar.value() > start  # the panel scrolled instead
    # Once the user clicks into the control, the wheel is theirs to change it.
    bring_to_top(realism.spin)
    qtbot.mouseClick(realism.spin, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert realism.spin.hasFocus()
    wheel_at(w, realism.spin, 1)
    assert om.request()["skin_realism_Level"] != before


def test_save_result_as_writes_the_format_its_name_asks_for(
    qtbot, make_window, photo_dir, fake_runtime_factory, monkeypatch, tmp_path
):
    """Item 4: ``x.jpg`` is a JPEG (Pillow says so), ``x.tif`` a TIFF; pixels survive."""
    from PySide6.QtWidgets import QFileDialog

    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    photo = photo_dir / "coffee.png"
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    (jid,) = run(qtbot, w.model.session.queue([photo]))
    qtbot.waitUntil(lambda: w.model.engine.get(jid).state.terminal, timeout=20_000)
    result = w.model.engine.get(jid).results[0]
    assert Image.open(result).format == "PNG"
    w.show_compare(jid)
    qtbot.waitUntil(w.model.compare.loaded, timeout=10_000)
    answers = iter(
        [
            (str(tmp_path / "out" / "x.jpg"), "PNG (*.png)"),
            (str(tmp_path / "out" / "x.tif"), ""),
            (str(tmp_path / "out" / "plain"), "WebP (*.webp)"),
            (str(tmp_path / "out" / "same.png"), ""),
        ]
    )
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    (tmp_path / "out").mkdir()
    expected = {"x.jpg": "JPEG", "x.tif": "TIFF", "plain.webp": "WEBP", "same.png": "PNG"}
    with Image.open(result) as im:
        ref = np.asarray(im.convert("RGB")).astype(np.int16)
    for name, fmt in expected.items():
        w.save_action.trigger()
        out = tmp_path / "out" / name
        qtbot.waitUntil(out.exists, timeout=10_000)
        qtbot.waitUntil(lambda n=name: w.statusBar().currentMessage().endswith(n))
        with Image.open(out) as im:
            assert im.format == fmt, name
            got = np.asarray(im.convert("RGB")).astype(np.int16)
        assert got.shape == ref.shape
        assert np.abs(got - ref).mean() < 3.0, name  # the same picture, within JPEG/WebP loss
    assert (tmp_path / "out" / "same.png").read_bytes() == result.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(expected)


def _answer(qtbot: Any, w: Any, text: str) -> str:
    """Click the button labelled ``text`` in the window's open question; returns its text."""
    qtbot.waitUntil(lambda: getattr(w, "question", None) is not None)
    box = w.question
    qtbot.waitUntil(box.isVisible)
    asked = box.text()
    button = next(b for b in box.buttons() if b.text().replace("&", "") == text)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    w.question = None
    return asked


def test_identical_apply_offers_the_existing_result_instead_of_paying_again(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    """Item 5: the provider sees a second identical job only when the user asks for it."""
    w = make_window(fake_runtime_factory(duration=0.3, poll_interval=0.02))
    server = fake_runtime_factory.server()
    w.open_paths([photo_dir])
    photos = w.model.photos
    w.model.photos.set_current_row(2)  # coffee.png
    w.model.operation.select("fake.brighten")
    eng = w.model.engine
    apply = w.side.apply_button
    qtbot.waitUntil(apply.isEnabled)
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
    # Apply again while it still runs: the window says so; cancelling sends nothing.
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    assert "already being processed" in _answer(qtbot, w, "Cancel")
    (first,) = eng.jobs()
    qtbot.waitUntil(lambda: eng.get(first.id).state.terminal, timeout=20_000)
    assert eng.get(first.id).state.name == "DONE"
    # Apply again once done: "Show result" opens it; no job, no request, no _2 file.
    w.close_compare()
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    _answer(qtbot, w, "Show result")
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.compare)
    assert w.model.compare.right_version.job_id == first.id
    assert len(eng.jobs()) == 1 and len(server.created()) == 1
    # Apply to all: only the two photos without this result are sent.
    qtbot.mouseClick(w.side.apply_all_button, Qt.MouseButton.LeftButton)
    assert "1 of 3 photos already have this result" in _answer(qtbot, w, "Run the other 2")
    assert "on 2 photos costs" in _answer(qtbot, w, "Yes")  # the price of the two only
    qtbot.waitUntil(lambda: len(eng.jobs()) == 3, timeout=10_000)
    qtbot.waitUntil(lambda: all(r.state.terminal for r in eng.jobs()), timeout=20_000)
    assert len(server.created()) == 3
    assert sorted(server.created_per_input().values()) == [1, 1, 1]
    # "Run again" is a deliberate choice, and it is honoured.
    w.close_compare()
    photos.set_current_row(2)
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    _answer(qtbot, w, "Run again")
    qtbot.waitUntil(lambda: len(server.created()) == 4, timeout=10_000)
    # Other settings are other work: no question.
    w.model.operation.set_value("amount", 2.0)
    qtbot.waitUntil(lambda: all(r.state.terminal for r in eng.jobs()), timeout=20_000)
    w.close_compare()
    qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.created()) == 5, timeout=10_000)
