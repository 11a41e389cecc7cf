"""Screenshots of the mask painter over a photo and of the settings dialog.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/mask_screenshots.py [out_dir]``
(default ``packaging/screenshots``). Uses a throw-away app home, the test photos and the
offline engine only: no account, no network.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["RETOUCHDESK_HOME"] = tempfile.mkdtemp(prefix="retouchdesk-shots-")
os.environ.setdefault("RETOUCHDESK_SECRETS_BACKEND", "file")
os.environ.setdefault("RETOUCHDESK_SECRETS_PASSPHRASE", "screenshots")

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "astronaut.png"


def _settle(app, seconds: float = 0.6) -> None:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    import qasync
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    import retouchdesk  # noqa: F401 - refcount guard
    from retouchdesk.app import build_window
    from retouchdesk.ui.settings.dialog import SettingsDialog

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "packaging" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.events._set_running_loop(loop)
    asyncio.set_event_loop(loop)
    w = build_window()
    w.resize(1400, 900)
    w.show()
    w.model.start()
    # A copy in the throw-away home: results go beside the photo, never into tests/data.
    photo = Path(os.environ["RETOUCHDESK_HOME"]) / "photos" / PHOTO.name
    photo.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PHOTO, photo)
    w.open_paths([photo])
    for _ in range(200):
        _settle(app, 0.05)
        if w.model.document.image is not None and w.mask_painter.masking.document is not None:
            break
    om = w.model.operation
    om.set_provider("local")
    om.set_operation("object_removal")
    painter = w.mask_painter
    painter.toolbar.edit_action.trigger()
    painter.tools.set_size(28)
    painter.tools.set_hardness(0.7)
    _settle(app)
    canvas = w.canvas
    # Paint over the flag patch on the astronaut's shoulder, in screen coordinates.
    vp = canvas.viewport()
    start = canvas.mapFromScene(330, 355)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 25):
        p = canvas.mapFromScene(330 + 4 * i, 355 + 2.5 * (i % 6))
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    QTest.mouseMove(vp, canvas.mapFromScene(250, 300) + QPoint(1, 1))
    _settle(app, 1.0)
    w.grab().save(str(out / "mask_painter.png"))

    # A whole-photo operation with "Protect outside": the compare view's Difference mode
    # must glow only inside the painted area.
    om.set_operation("lighting")
    painter.toolbar.edit_action.trigger()  # stop painting
    painter.protect_action.setChecked(True)
    w.apply_current()
    for _ in range(600):
        _settle(app, 0.1)
        ids = w.model.jobs.job_ids()
        if ids and w.model.jobs.record(ids[0]).state.terminal:
            break
    for _ in range(100):
        _settle(app, 0.05)
        if w.stack.currentWidget() is w.compare and w.model.compare.loaded():
            break
    w.compare.diff_button.click()
    _settle(app, 1.5)
    w.grab().save(str(out / "compare_difference.png"))
    w.close_compare()

    dlg = SettingsDialog(w.model.accounts, w, general=w.model.general_settings())
    dlg.show()
    dlg.show_page("youcam")
    _settle(app)
    dlg.grab().save(str(out / "settings_youcam.png"))
    dlg.show_page("output")
    _settle(app)
    dlg.grab().save(str(out / "settings_output.png"))
    dlg.close()
    loop.run_until_complete(w.model.aclose()) if not loop.is_running() else None
    print(
        "\n".join(
            str(p) for p in sorted(out.glob("*.png")) if "mask" in p.name or "settings" in p.name
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
