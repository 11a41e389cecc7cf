"""Issue 15 item 5: nothing heavy is imported before the window's first paint.

The real start (``retouchdesk.app.main`` with a photo on the command line, a fresh
interpreter, offscreen Qt) runs under an application-wide event filter that records
``sys.modules`` when the main window receives its first Paint event, then again once the
photo is on the canvas and the engine has started. The second record shows that the probe
sees imports (Pillow decodes the photo, the secret store opens): the first one cannot pass
merely because nothing was ever imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

HEAVY = ("numpy", "cv2", "rich", "httpx", "keyring", "cryptography", "secretstorage", "PIL")
# Standard-library modules the start does not need, 2-15 ms each before the first paint:
# xml.sax pulls in urllib.request, http.client and email (the recipe's XMP writer);
# fractions pulls in decimal (the shutter-speed label).
SLOW_STDLIB = ("xml.sax", "urllib.request", "http.client", "email.parser", "fractions")

PROBE = textwrap.dedent(
    """
    import gc, json, sys
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    seen = {}

    def top_modules():
        return sorted({m.split(".")[0] for m in sys.modules})

    def later():
        window = next(w for w in app.topLevelWidgets() if isinstance(w, QMainWindow))
        doc = window.model.document
        if doc.image is None or window.model.runtime.pending_secrets is not None:
            QTimer.singleShot(20, later)
            return
        seen["after"] = top_modules()
        seen["gc_after"] = [gc.isenabled(), gc.get_freeze_count()]
        seen["shown"] = doc.image.path.name
        seen["empty_after"] = window.empty.text()
        window.close()

    class Probe(QObject):
        def eventFilter(self, obj, event):
            if (
                "first_paint" not in seen
                and event.type() == QEvent.Type.Paint
                and isinstance(obj, QMainWindow)
            ):
                seen["first_paint"] = top_modules()
                seen["gc_at_paint"] = gc.isenabled()
                seen["first_paint_full"] = sorted(sys.modules)
                seen["window"] = obj.objectName()
                seen["empty_text"] = obj.empty.text()
                QTimer.singleShot(0, later)
            return False

    probe = Probe()
    app.installEventFilter(probe)
    from retouchdesk.app import main

    code = main(sys.argv[1:])
    print("SEEN " + json.dumps(seen), flush=True)
    sys.exit(code)
    """
)


def run_probe(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter as the app starts (offscreen, its own home)."""
    env = dict(
        os.environ,
        RETOUCHDESK_HOME=str(tmp_path / "home"),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join([str(ROOT / "gui"), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_nothing_heavy_is_imported_before_the_first_paint(tmp_path):
    photo = tmp_path / "coffee.png"
    shutil.copyfile(DATA / "coffee.png", photo)
    proc = run_probe(tmp_path, PROBE, str(photo))
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("SEEN "))
    seen = json.loads(line[len("SEEN ") :])
    assert seen["window"] == "mainWindow"
    early = set(seen["first_paint"])
    assert "retouchdesk" in early and "PySide6" in early
    assert early.isdisjoint(HEAVY), sorted(early.intersection(HEAVY))
    early_full = set(seen["first_paint_full"])
    assert early_full.isdisjoint(SLOW_STDLIB), sorted(early_full.intersection(SLOW_STDLIB))
    # The collector waits until the window is painted, then runs again with start-up's
    # objects frozen out of its scans.
    assert seen["gc_at_paint"] is False
    gc_on, frozen = seen["gc_after"]
    assert gc_on is True and frozen > 10_000, seen["gc_after"]
    # The first picture says the photo is coming, not "drop photos here"; the hint is back after.
    assert "Opening coffee.png" in seen["empty_text"]
    assert "Drop photos" in seen["empty_after"]
    # The same probe sees the heavy imports once the photo is shown and the keys are read.
    assert seen["shown"] == "coffee.png"
    after = set(seen["after"])
    assert "PIL" in after, sorted(after)
    assert after & {"keyring", "cryptography"}, sorted(after)


WARM_PROBE = textwrap.dedent(
    """
    import asyncio, sys, time
    import qasync
    from PySide6.QtWidgets import QApplication
    from retouchdesk.app import build_window

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_window()
    WANTED = ("numpy", "PIL.JpegImagePlugin", "retouchdesk.core.imageio")

    async def run():
        window.show()
        before = [m for m in WANTED if m in sys.modules]
        window.model.start()
        deadline = time.monotonic() + 30
        while not all(m in sys.modules for m in WANTED) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        print("BEFORE", ",".join(before), flush=True)
        print("AFTER", ",".join(m for m in WANTED if m in sys.modules), flush=True)
        print("PHOTOS", window.model.photos.rowCount(), flush=True)
        await window.model.aclose()

    with loop:
        loop.run_until_complete(run())
    """
)


def test_the_image_stack_is_imported_after_start_without_a_photo(tmp_path):
    """With no photo to open, the engine's start imports numpy, Pillow's plugins and the
    image I/O in a worker anyway: the first photo opened later does not pay for them while
    the window waits for the GIL."""
    proc = run_probe(tmp_path, WARM_PROBE)
    lines = dict(ln.split(" ", 1) for ln in proc.stdout.splitlines() if " " in ln)
    assert lines["PHOTOS"] == "0"  # nothing was opened: the imports are the warm-up's
    assert lines["BEFORE"].strip() == ""
    assert lines["AFTER"] == "numpy,PIL.JpegImagePlugin,retouchdesk.core.imageio"
