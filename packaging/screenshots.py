"""Render the screenshots used by the README and the AppStream metainfo.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py \
        [--theme dark|light] [--size 1280x720|1920x1080]

Writes ``packaging/screenshots/{main_window,enhancor_skin,batch_running,before_after,
compare_grid}.png`` (1600 x 900, the AppStream set) or, with ``--size``, the same into
``packaging/screenshots/<size>-<theme>/``, from the real window: real photos from
``tests/data``, the real offline engine doing real work, the vendor emulators of
``tests/emulators`` on loopback for the Try On grid (``--only compare_grid`` renders that
one alone), an isolated app home in a temporary folder. The Enhancor panel is shown as a
configured account would see it (a placeholder key in this process's environment; nothing is sent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "packaging" / "screenshots"
SIZE = (1600, 900)


async def wait_for(cond, timeout: float = 120.0, step: float = 0.05) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the window did not reach the expected state")
        await asyncio.sleep(step)


def save(window, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    path = OUT / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")
    return path


async def shoot(window, shoot_dir: Path) -> None:
    from PySide6.QtCore import QPointF, Qt

    from retouchdesk.core.jobs import JobState

    m = window.model
    window.resize(*SIZE)
    window.show()
    m.start()
    window.open_paths([shoot_dir])
    await wait_for(lambda: m.photos.thumbnails_ready() and m.document.image is not None)

    # 1. The main window with a photo and the offline skin smoothing panel.
    m.operation.select("local.skin_smoothing")
    await asyncio.sleep(0.3)
    save(window, "main_window")

    # 2. Enhancor Realistic Skin: model v3, from its options down to the area-control grid.
    m.operation.select("enhancor.realistic_skin")
    m.operation.set_value("model_version", "enhancorv3")
    m.operation.set_value("skin_refinement_level", 35)
    window.jobs_dock.hide()  # the panel's full height, as a photographer tuning it would
    await asyncio.sleep(0.2)
    panel = window.side.params
    if panel.grids:
        top = panel.grids[0].mapTo(panel.widget(), panel.grids[0].rect().topLeft()).y()
        panel.verticalScrollBar().setValue(top - 380)
    await asyncio.sleep(0.2)
    save(window, "enhancor_skin")
    panel.verticalScrollBar().setValue(0)
    window.jobs_dock.show()

    # 3. A running batch: offline colour correction on every photo of the filmstrip.
    m.operation.select("local.color_correction")
    ids = await m.session.queue(m.photos.paths)
    window.resizeDocks([window.jobs_dock], [250], Qt.Orientation.Vertical)
    window.jobs.view.expandAll()
    engine = m.engine

    def mid_batch() -> bool:
        states = [engine.get(j).state for j in ids]
        return any(s is JobState.DONE for s in states) and any(not s.terminal for s in states)

    with contextlib.suppress(TimeoutError):
        await wait_for(mid_batch, timeout=300, step=0.01)
    await asyncio.sleep(0.3)
    save(window, "batch_running")
    await wait_for(lambda: all(engine.get(j).state.terminal for j in ids), timeout=600)

    # 4. Before/after: offline skin smoothing of the portrait, zoomed on the face.
    window.resizeDocks([window.jobs_dock], [170], Qt.Orientation.Vertical)
    m.photos.set_current_row(0)
    m.operation.select("local.skin_smoothing")
    m.operation.set_value("strength", 85)
    (job,) = await m.session.queue([m.photos.paths[0]])
    await wait_for(lambda: engine.get(job).state.terminal, timeout=600)
    window.show_compare(job)
    await wait_for(m.compare.loaded)
    split = window.compare.split
    await asyncio.sleep(0.2)
    split.set_view(2.2, QPointF(256, 150))
    split.set_split(0.5)
    await asyncio.sleep(0.3)
    save(window, "before_after")
    window.close_compare()
    await shoot_compare_grid(window)
    await m.aclose()


async def shoot_compare_grid(window) -> None:
    """5. Try On…: the portrait sent to four services (the vendor emulators of tests/emulators
    on loopback, and the offline engine), their results side by side, zoomed on the face."""
    from PySide6.QtCore import QPointF

    m = window.model
    m.photos.set_current_row(0)
    await wait_for(lambda: m.document.image is not None)
    hook = window.try_on
    dlg = hook.open_dialog()
    dlg.set_checked(list(TRY_ON))
    dlg.accept()
    await wait_for(lambda: hook.model.run is not None and hook.model.run.finished, timeout=300)
    await wait_for(lambda: all(not c.canvas.photo.is_empty() for c in hook.grid.cells))
    await asyncio.sleep(0.3)
    hook.grid.fit()
    await asyncio.sleep(0.2)
    first = hook.grid.cells[0].canvas
    w, h = first.photo.size
    first.set_view(first.fit_zoom() * 1.8, QPointF(w * 0.45, h * 0.33))
    await asyncio.sleep(0.3)
    save(window, "compare_grid")


TRY_ON = (
    "enhancor.realistic_skin",
    "codeformer.restore",
    "adcreative.face_enhance",
    "local.skin_smoothing",
)


def start_emulators() -> list:
    """The cloud vendors' emulators (tests/emulators) on loopback, with fake credentials in
    this process's environment: the Try On grid shows real results, nothing leaves the host."""
    sys.path.insert(0, str(ROOT))
    from tests.emulators import load

    adc = {
        "application_id": "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6",
        "jwt_private_key": "screenshot-jwt",
        "api_key": "screenshot-key",
        "api_secret": "screenshot-secret",
    }
    enh = load("enhancor", api_key="screenshot-placeholder", time_scale=0.05).start()
    cf = load("codeformer", time_scale=0.05, token="screenshot-token").start()
    ad = load("adcreative", time_scale=0.05, **adc).start()
    os.environ.update(
        RETOUCHDESK_ENHANCOR_BASE_URL=enh.url,
        RETOUCHDESK_HOSTING_STRATEGY="local",
        RETOUCHDESK_ENHANCOR_POLL_INTERVAL="0.1",
        RETOUCHDESK_CODEFORMER_BASE_URL=cf.url,
        RETOUCHDESK_CODEFORMER_TOKEN="screenshot-token",
        RETOUCHDESK_ADCREATIVE_BASE_URL=ad.url,
        RETOUCHDESK_ADCREATIVE_POLL_INTERVAL="0.1",
        **{f"RETOUCHDESK_ADCREATIVE_{k.upper()}": v for k, v in adc.items()},
    )
    return [enh, cf, ad]


async def shoot_only_grid(window, shoot_dir: Path) -> None:
    m = window.model
    window.resize(*SIZE)
    window.show()
    m.start()
    window.open_paths([shoot_dir])
    await wait_for(lambda: m.photos.thumbnails_ready() and m.document.image is not None)
    await shoot_compare_grid(window)
    await m.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", choices=("dark", "light"), default="dark")
    parser.add_argument("--size", default="", help="WIDTHxHEIGHT, e.g. 1280x720")
    parser.add_argument("--only", choices=("compare_grid",), help="render this one only")
    args = parser.parse_args()
    global OUT, SIZE
    if args.size:
        w, h = (int(v) for v in args.size.lower().split("x"))
        SIZE = (w, h)
        OUT = OUT / f"{w}x{h}-{args.theme}"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="rd-shots-"))
    os.environ["RETOUCHDESK_HOME"] = str(home / "home")
    os.environ["RETOUCHDESK_ENHANCOR_API_KEY"] = "screenshot-placeholder"
    shoot_dir = home / "Portrait session"
    shoot_dir.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copyfile(ROOT / "tests" / "data" / name, shoot_dir / name)
    OUT.mkdir(parents=True, exist_ok=True)

    import qasync
    from PySide6.QtWidgets import QApplication

    from retouchdesk.app import build_window
    from retouchdesk.services.runtime import build_runtime
    from retouchdesk.services.settings import Settings
    from retouchdesk.ui.theme import apply_theme

    app = QApplication([sys.argv[0]])
    app.setApplicationName("retouchdesk")
    apply_theme(app, args.theme)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    emulators = start_emulators()
    window = build_window(build_runtime(settings=Settings()))
    with loop:
        if args.only == "compare_grid":
            loop.run_until_complete(shoot_only_grid(window, shoot_dir))
        else:
            loop.run_until_complete(shoot(window, shoot_dir))
    for emu in emulators:
        emu.stop()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
