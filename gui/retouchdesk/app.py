"""Composition root of the window: Qt application, qasync loop, runtime, view-models, window.

``retouchdesk`` with no arguments calls :func:`main`. Start-up goes through asyncio on
qasync's loop (FeelUOwn's pattern): the engine, the providers' network clients and the
window's background tasks all share that one loop, so job events arrive on the GUI thread
without any cross-thread signalling. Blocking work (decoding, thumbnails, probing) runs in
worker threads through :class:`retouchdesk.model.tasks.TaskRunner`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # Types only: the window's modules load Qt and are imported when the window is built.
    from retouchdesk.services.runtime import Runtime
    from retouchdesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)


def ui_settings() -> Any:
    """QSettings for window geometry, dock layout and recent files (UI state only).

    An INI file in the app's config folder, so that ``RETOUCHDESK_HOME`` isolates it too.
    """
    from PySide6.QtCore import QSettings

    from retouchdesk.services import paths

    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


GIL_SWITCH_INTERVAL = 0.001


def tune_interpreter() -> None:
    """Let the GUI thread get the GIL back within ~1 ms instead of CPython's 5 ms.

    Every paint of a Python delegate or model call from Qt re-acquires the GIL; while worker
    threads decode or write images, each of those waits up to the switch interval, and a
    repaint of the job panel makes dozens of them. 1 ms keeps those waits out of sight at a
    negligible cost in worker throughput.
    """
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)


def pause_gc_until_shown() -> None:
    """Hold the cyclic garbage collector until the window is on screen (:func:`resume_gc`).

    Start-up creates hundreds of thousands of objects that all live for the whole session
    (modules, classes, Qt's enums, widgets); the collector ran about 100 times over them
    before the first paint, 18-23 ms of a 0.45 s start. Reference counting still frees
    everything else meanwhile.
    """
    import gc

    gc.disable()


def resume_gc() -> None:
    """Turn the collector back on, with what start-up made frozen out of its way.

    ``gc.freeze`` moves every object alive now to a generation the collector never scans:
    they live until the app quits anyway, and each full collection during a batch would
    otherwise walk them all again on the GUI thread.
    """
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def build_window(runtime: Runtime | None = None, *, runner: Any = None) -> MainWindow:
    """The main window over ``runtime`` (default: built from settings)."""
    tune_interpreter()
    from retouchdesk.model.app_model import AppModel
    from retouchdesk.ui.main_window import MainWindow

    if runtime is None:
        from retouchdesk.services.runtime import build_runtime

        runtime = build_runtime()
    return MainWindow(AppModel(runtime, runner), ui_settings())


async def run_window(window: MainWindow, files: list[Path] | None = None) -> int:
    """Show ``window``, open ``files`` (or the last session), start the engine; return when
    the window closes.

    Everything that is not needed for the first picture waits until it is on screen: the
    photos start decoding right after it, the secret store opens in a worker thread, and the
    engine (which may resume cloud jobs needing keys) starts once the keys are known.
    """
    from PySide6.QtWidgets import QApplication

    closed = asyncio.Event()
    app = QApplication.instance()
    app.lastWindowClosed.connect(closed.set)  # type: ignore[union-attr]
    opening = _opening_placeholder(window, files)
    if not window.restored_geometry:
        window.fit_screen()  # a first start: the whole window on the photographer's screen
    await show_first(window)
    if files:
        window.open_paths(files)
    else:
        window.history.reopen_last_session()  # the photos and versions of last time
    if opening is not None:
        window.empty.setText(opening)  # the photos are in: the usual hint for later
    await window.model.open_secrets()
    window.model.start()
    await closed.wait()
    await window.model.aclose()
    return 0


def _opening_placeholder(window: MainWindow, files: list[Path] | None) -> str | None:
    """Until the photos open (right after the first paint), the empty state says they are
    coming instead of "Drop photos here". Returns the usual text to put back, or None."""
    if files:
        names = files[0].name if len(files) == 1 else f"{len(files)} photos"
    else:
        from retouchdesk.model import last_session

        try:
            n = len(last_session.load().photos)
        except Exception:  # a damaged session file: reopen_last_session says what it can
            n = 0
        if not n:
            return None
        names = "the photos of the last session" if n > 1 else "the photo of the last session"
    usual = window.empty.text()
    # Qt's rich text needs only these three escaped (the html module costs 3 ms of start).
    shown = names.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    window.empty.setText(f"<div style='font-size:15px'>Opening {shown}…</div>")
    return usual


async def show_first(window: MainWindow) -> None:
    """Show ``window`` and return once it has painted, the collector back on (see
    :func:`pause_gc_until_shown`)."""
    window.show()
    await first_paint(window)
    resume_gc()


FIRST_PAINT_WAIT = 1.0  # seconds: a window that is never painted (minimised) goes on anyway


async def first_paint(window: MainWindow, timeout: float = FIRST_PAINT_WAIT) -> bool:
    """Return once ``window`` has painted itself (True), or after ``timeout`` (False)."""
    from PySide6.QtCore import QEvent, QObject

    loop = asyncio.get_running_loop()
    painted: asyncio.Future[bool] = loop.create_future()

    class Watch(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint and not painted.done():
                painted.set_result(True)
            return False

    watch = Watch()
    window.installEventFilter(watch)
    try:
        return await asyncio.wait_for(painted, timeout)
    except TimeoutError:
        return False
    finally:
        window.removeEventFilter(watch)


def _parse(argv: list[str]) -> argparse.Namespace:
    from retouchdesk import APP_NAME, __version__

    p = argparse.ArgumentParser(
        prog="retouchdesk",
        description="Open the Retouch Desk window (with a command, run the CLI instead).",
    )
    p.add_argument("photos", nargs="*", type=Path, metavar="PHOTO", help="photos or folders")
    p.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    # Older desktop entries started ``retouchdesk --open %F``: still understood.
    p.add_argument("--open", nargs="*", type=Path, default=[], help=argparse.SUPPRESS)
    p.add_argument("--theme", choices=("system", "light", "dark"), default=None)
    # Benchmarks: print the wall-clock time at which the first window was shown, then quit.
    p.add_argument("--startup-probe", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    pause_gc_until_shown()
    try:
        return _main(argv)
    finally:
        resume_gc()  # the window never painted (an error, a minimised start): on again


def _main(argv: list[str] | None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log_to_file()
    from retouchdesk.core.redaction import install_log_redaction

    install_log_redaction()  # keys and tokens never reach the terminal, whatever logs them
    return _run_app(args)


LOG_FILE = "retouchdesk.log"


def log_to_file() -> Path | None:
    """Keep a log file (the README's logs folder): what went wrong, for a bug report.

    Rotated at 1 MB, three old files kept; the secret-redacting filter is added to it like
    to every handler. None when the folder cannot be written (the app runs anyway).
    """
    from logging.handlers import RotatingFileHandler

    from retouchdesk import __version__
    from retouchdesk.services import paths

    try:
        path = paths.log_dir() / LOG_FILE
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level, logging.INFO) if root.level else logging.INFO)
    for h in root.handlers:
        if h is not handler and not isinstance(h, RotatingFileHandler):
            h.setLevel(max(h.level, logging.WARNING))  # the terminal stays quiet
    logging.getLogger("retouchdesk").info("Retouch Desk %s started (window)", __version__)
    return path


def _window_runtime() -> Runtime:
    """The runtime of the window, its secret store opened only after the first paint.

    Finding the OS keyring's backend costs a few hundred milliseconds (keyring, secretstorage,
    cryptography); the window shows first, then :meth:`AppModel.open_secrets` opens it in a
    worker thread. A secret looked up before that waits for the store.
    """
    from retouchdesk.services.runtime import DeferredSecrets, build_runtime
    from retouchdesk.services.settings import Settings

    settings = Settings()
    secrets = DeferredSecrets(settings)
    settings.set_secret_lookup(secrets.lookup)
    runtime = build_runtime(settings=settings)
    runtime.pending_secrets = secrets
    return runtime


def _run_app(args: argparse.Namespace) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    from retouchdesk.ui.qt_imports import skip_source_scan

    skip_source_scan()  # before the window's modules are imported: see the module
    from retouchdesk import APP_ID, APP_NAME
    from retouchdesk.ui.theme import apply_theme, follow_system

    # instance() is typed as the core application; the one made here is a QApplication.
    app = cast(QApplication, QApplication.instance()) or QApplication([sys.argv[0]])
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_ID)
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)  # the loop ends after the engine closes, not before
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # The palette and style sheet before any widget exists: setting them afterwards would
    # re-polish the whole window.
    theme = args.theme or _theme_setting()
    apply_theme(app, theme)
    if theme == "system":
        follow_system(app)
    window = build_window(_window_runtime())
    files = [*args.photos, *args.open]
    if args.startup_probe:
        return _startup_probe(loop, window, files)
    with loop:
        return loop.run_until_complete(run_window(window, files))


def _theme_setting() -> str:
    from retouchdesk.core.errors import ConfigurationError
    from retouchdesk.services.settings import Settings

    try:
        return str(Settings().get("ui", "theme"))
    except (ConfigurationError, KeyError):
        return "system"


def _startup_probe(loop: Any, window: MainWindow, files: list[Path] | None = None) -> int:
    """Benchmarks and launch tests: print when the window first painted, open ``files``
    as a start does, and quit."""

    async def probe() -> None:
        window.show()
        await first_paint(window)
        print(f"shown {time.time():.6f} cpu {time.process_time():.3f}", flush=True)
        resume_gc()
        if files:
            window.open_paths(files)
            photos = window.model.photos
            names = ",".join(p.name for p in photos.paths)
            print(f"opened {photos.rowCount()} {names}", flush=True)
        await window.model.open_secrets()
        window.model.start()
        await window.model.aclose()

    with loop:
        loop.run_until_complete(probe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
