"""File › Export… and Export Pinned… in the window: the dialog's choices reach the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from tests.doubles.plain_runtime import plain_runtime


def test_export_dialog_writes_what_it_shows(qtbot, make_window, photo_dir: Path, tmp_path: Path):
    import tifffile

    w = make_window(plain_runtime())
    w.open_paths([photo_dir / "chelsea.png", photo_dir / "coffee.png"])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    w.exporter.export_action.trigger()
    d = w.exporter.dialog
    assert d is not None and d.isVisible()
    d.folder.setText(str(tmp_path / "exp"))
    d.format.setCurrentIndex(d.format.findData("jpeg"))
    ok = d.buttons.button(QDialogButtonBox.StandardButton.Ok)
    # 16 bits cannot be picked for JPEG; TIFF takes it.
    assert not d.bits.model().item(1).isEnabled()
    d.format.setCurrentIndex(d.format.findData("tiff"))
    assert d.bits.model().item(1).isEnabled()
    d.bits.setCurrentIndex(1)
    d.long_side.setValue(200)
    d.template.setText("{stem}-{bad}")
    assert not ok.isEnabled() and "{bad}" in d.problem.text()
    d.template.setText("{stem}-{size}")
    assert ok.isEnabled() and d.problem.text() == ""
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    out = tmp_path / "exp" / "chelsea-200x133.tif"
    qtbot.waitUntil(out.exists, timeout=10_000)
    with tifffile.TiffFile(out) as tf:
        arr = tf.pages[0].asarray()
    assert arr.dtype == np.uint16 and arr.shape == (133, 200, 3)

    # Export Pinned: every pinned version, the dialog remembering the last choices.
    for name in ("chelsea.png", "coffee.png"):
        w.model.session.set_kept(photo_dir / name, True)
    w.exporter.pinned_action.trigger()
    d = w.exporter.dialog
    assert d.windowTitle() == "Export 2 pinned versions"
    assert d.format.currentData() == "tiff" and d.long_side.value() == 200
    d.format.setCurrentIndex(d.format.findData("webp"))
    assert d.bits.currentData() == 8  # dropped back to 8 bits for WebP
    d.template.setText("{n}-{stem}")
    qtbot.mouseClick(
        d.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    files = [tmp_path / "exp" / "1-chelsea.webp", tmp_path / "exp" / "2-coffee.webp"]
    qtbot.waitUntil(lambda: all(f.exists() for f in files), timeout=10_000)
    for f in files:
        with Image.open(f) as im:
            assert im.format == "WEBP" and max(im.size) == 200
    qtbot.waitUntil(lambda: "Exported 2 files" in w.statusBar().currentMessage())
