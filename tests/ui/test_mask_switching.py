"""Switching photos with painted masks: nothing waits for a file, nothing is lost or misplaced.

The masks are saved and loaded in the masking model's worker thread (``model/mask_files.py``).
To make the races real, the mask library's ``save`` and ``load`` are slowed down (a sleep
before the real work, in the worker) and record the thread they ran on. The photographer
then switches back and forth faster than a save takes, paints between switches and closes
the window while a save is still running. Checked: the PNG files on disk (read back with
Pillow), the mask document the canvas shows and the canvas pixels under the overlay.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect
from tests.doubles.plain_runtime import plain_runtime

from retouchdesk.services.masks import MaskLibrary

DELAY = 0.15  # seconds each save and load of a live mask takes in these tests


@pytest.fixture
def slow_files(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """MaskLibrary.save/load slowed down; the names of the threads they ran on."""
    threads: dict[str, list[str]] = {"save": [], "load": []}
    real_save, real_load = MaskLibrary.save, MaskLibrary.load

    def save(self: MaskLibrary, photo: Path, mask: np.ndarray) -> Path | None:
        threads["save"].append(threading.current_thread().name)
        time.sleep(DELAY)
        return real_save(self, photo, mask)

    def load(self: MaskLibrary, photo: Path, size: tuple[int, int], **kw: Any) -> Any:
        threads["load"].append(threading.current_thread().name)
        time.sleep(DELAY)
        return real_load(self, photo, size, **kw)

    monkeypatch.setattr(MaskLibrary, "save", save)
    monkeypatch.setattr(MaskLibrary, "load", load)
    return threads


@pytest.fixture
def window(qtbot: Any, make_window: Any, photo_dir: Path) -> Any:
    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "coffee.png", photo_dir / "chelsea.png", photo_dir / "astronaut.png"])
    qtbot.waitUntil(lambda: w.mask_painter.masking.document is not None, timeout=10_000)
    return w


# Each photo gets its own rectangle (image pixels), inside all three photos (>= 451x300).
RECTS = {
    "coffee.png": QRect(40, 30, 120, 90),
    "chelsea.png": QRect(200, 60, 100, 150),
    "astronaut.png": QRect(300, 200, 80, 60),
}
SIZES = {"coffee.png": (600, 400), "chelsea.png": (451, 300), "astronaut.png": (512, 512)}


def _show(qtbot: Any, w: Any, photo: Path) -> Any:
    """Make ``photo`` current and wait until its mask is the document (returns it)."""
    masking = w.mask_painter.masking
    w.model.photos.set_current_path(photo)
    qtbot.waitUntil(
        lambda: (
            masking.photo == photo
            and masking.document is not None
            and masking.document.size == SIZES[photo.name]
        ),
        timeout=10_000,
    )
    return masking.document


def _expected(name: str) -> np.ndarray:
    w, h = SIZES[name]
    r = RECTS[name]
    a = np.zeros((h, w), dtype=np.uint8)
    a[r.top() : r.bottom() + 1, r.left() : r.right() + 1] = 255
    return a


def _on_disk(masking: Any, photo: Path) -> np.ndarray | None:
    path = masking.library.photo_path(photo)
    if not path.is_file():
        return None
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def test_rapid_switching_never_loses_or_misplaces_a_mask(
    qtbot: Any, window: Any, photo_dir: Path, slow_files: dict[str, list[str]]
) -> None:
    w = window
    masking = w.mask_painter.masking
    photos = [photo_dir / n for n in RECTS]
    # Paint each photo's rectangle, leaving each one while its save is still queued.
    for p in photos:
        doc = _show(qtbot, w, p)
        doc.fill_rect(RECTS[p.name])
    # Back and forth faster than one save takes: no waiting between the clicks.
    t0 = time.perf_counter()
    for k in range(12):
        w.model.photos.set_current_path(photos[k % 3])
        w.model.photos.set_current_path(photos[(k + 1) % 3])
    clicks = time.perf_counter() - t0
    # Every photo shows its own mask, wherever its save or load was.
    for p in [*photos, *reversed(photos)]:
        doc = _show(qtbot, w, p)
        assert np.array_equal(doc.array, _expected(p.name)), p.name
    masking.save_now()
    for p in photos:
        assert np.array_equal(_on_disk(masking, p), _expected(p.name)), p.name
    # The files were written and read by the worker, never by the GUI thread.
    main = threading.main_thread().name
    assert slow_files["save"] and main not in slow_files["save"]
    assert main not in slow_files["load"]
    # 24 switches, each leaving a mask to save (DELAY each in the worker): the clicks
    # themselves did not wait for one of them.
    assert clicks < DELAY * 2, clicks


def test_painting_right_after_coming_back_adds_to_the_newest_mask(
    qtbot: Any, window: Any, photo_dir: Path, slow_files: dict[str, list[str]]
) -> None:
    w = window
    masking = w.mask_painter.masking
    coffee, cat = photo_dir / "coffee.png", photo_dir / "chelsea.png"
    _show(qtbot, w, coffee).fill_rect(RECTS["coffee.png"])
    _show(qtbot, w, cat)  # coffee's save is running now
    doc = _show(qtbot, w, coffee)  # back before it finished: the newest mask, from memory
    extra = QRect(400, 300, 50, 40)
    doc.fill_rect(extra)
    expected = _expected("coffee.png")
    expected[300:340, 400:450] = 255
    assert np.array_equal(doc.array, expected)
    _show(qtbot, w, cat)
    masking.save_now()
    assert np.array_equal(_on_disk(masking, coffee), expected)  # the older save did not win
    assert _on_disk(masking, cat) is None  # nothing painted there: no file


def test_closing_while_a_save_runs_keeps_every_mask(
    qtbot: Any, window: Any, photo_dir: Path, slow_files: dict[str, list[str]]
) -> None:
    w = window
    masking = w.mask_painter.masking
    coffee, cat = photo_dir / "coffee.png", photo_dir / "chelsea.png"
    _show(qtbot, w, coffee).fill_rect(RECTS["coffee.png"])
    _show(qtbot, w, cat).fill_rect(RECTS["chelsea.png"])
    w.model.photos.set_current_path(coffee)  # the cat's save starts in the worker
    assert masking.files.pending(cat)
    w.close()  # before it is done, and before the debounced save of anything
    assert not masking.files.pending(cat) and not masking.files.pending(coffee)
    assert np.array_equal(_on_disk(masking, coffee), _expected("coffee.png"))
    assert np.array_equal(_on_disk(masking, cat), _expected("chelsea.png"))


def test_a_load_reads_what_the_save_queued_before_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order at the level of the files: an older mask on disk is never read back, even
    when the save takes longer than the load."""
    from retouchdesk.model.mask_files import MaskFiles

    real_save = MaskLibrary.save
    lib = MaskLibrary(tmp_path / "masks")
    photo = tmp_path / "photo.png"
    old = np.zeros((40, 60), dtype=np.uint8)
    old[:10] = 255
    real_save(lib, photo, old)  # an older mask on disk

    def slow_save(self: MaskLibrary, photo: Path, mask: np.ndarray) -> Path | None:
        time.sleep(0.5)
        return real_save(self, photo, mask)

    monkeypatch.setattr(MaskLibrary, "save", slow_save)
    new = np.zeros((40, 60), dtype=np.uint8)
    new[20:] = 200
    files = MaskFiles(lib)
    saving = files.save(photo, new)
    loading = files.load(photo, (60, 40))
    assert np.array_equal(loading.result(10), new)
    assert saving.done() and not files.pending(photo)


def test_the_canvas_shows_the_mask_of_the_photo_on_screen(
    qtbot: Any, window: Any, photo_dir: Path, slow_files: dict[str, list[str]]
) -> None:
    w = window
    coffee, cat = photo_dir / "coffee.png", photo_dir / "chelsea.png"
    _show(qtbot, w, coffee).fill_rect(RECTS["coffee.png"])
    _show(qtbot, w, cat).fill_rect(RECTS["chelsea.png"])
    _show(qtbot, w, coffee)
    w.canvas.fit()
    tools = w.mask_painter.tools

    def colour_at(x: float, y: float) -> tuple[int, int, int]:
        w.canvas.viewport().repaint()
        img = w.canvas.viewport().grab().toImage()
        p = w.canvas.mapFromScene(x, y)
        c = img.pixelColor(p.x(), p.y())
        return c.red(), c.green(), c.blue()

    r, other = RECTS["coffee.png"], RECTS["chelsea.png"]
    inside = (r.center().x(), r.center().y())
    cat_spot = (other.center().x(), other.center().y())  # the cat's mask, not coffee's
    tools.set_visible(True)
    with_mask = colour_at(*inside), colour_at(*cat_spot)
    tools.set_visible(False)
    without = colour_at(*inside), colour_at(*cat_spot)
    assert sum(abs(a - b) for a, b in zip(with_mask[0], without[0], strict=True)) > 30
    assert with_mask[1] == without[1]
