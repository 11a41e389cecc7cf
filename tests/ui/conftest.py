"""Fixtures for window tests: a qasync loop on pytest-qt's QApplication, runtimes, windows.

The qasync loop is created with ``already_running=True`` so that pytest-qt's waits
(``qtbot.waitUntil``), which spin the Qt event loop, also run asyncio callbacks: the engine,
the window's background tasks and the fake provider all make progress while a test waits,
exactly as they do in the application.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def _mark_running(loop: asyncio.AbstractEventLoop | None) -> None:
    """Make ``loop`` this thread's running loop while Qt drives it (None: no loop runs).

    asyncio has no public call for this; ``_set_running_loop`` is the hook it exports for loop
    implementations, and qasync itself uses it (``QEventLoop.__init__`` with
    ``already_running=True``, qasync 0.28), but only once, when the loop is made. Here it must
    be switched per test: the window's coroutines call ``asyncio.get_running_loop()`` (opening
    photos, unlocking the secret store), stepped by qasync from Qt callbacks while pytest-qt
    waits, and that raises unless a loop is registered as running; while the pytest-asyncio
    tests that share this worker refuse to start when one is. ``asyncio.set_event_loop`` is no
    substitute: it sets the current loop, which ``get_running_loop`` does not read.
    """
    asyncio.events._set_running_loop(loop)


@pytest.fixture(scope="session")
def session_qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop for the whole session: a qasync loop cannot be replaced cleanly while
    the same QApplication lives. Closed at the end so that its worker threads stop."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    yield loop
    _mark_running(None)
    loop.stop()
    loop.close()


@pytest.fixture
def qloop(session_qloop: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """The session loop, current for this test; the test's leftover tasks are cancelled."""
    loop = session_qloop
    _mark_running(loop)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        # Let cancelled tasks unwind (they need the loop, which the Qt event loop drives).
        from PySide6.QtCore import QCoreApplication, QEventLoop

        for _ in range(50):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
            if all(t.done() for t in pending):
                break
    _mark_running(None)


@pytest.fixture(autouse=True)
def private_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Discard moves results to the freedesktop trash: the test's own, never the user's."""
    data = tmp_path / "xdg-data"
    data.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data / "Trash"


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder with the three test photos, a text file and a subfolder (not recursed)."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copyfile(DATA / name, folder / name)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "retouched").mkdir()
    shutil.copyfile(DATA / "coffee.png", folder / "retouched" / "old_result.png")
    return folder


@pytest.fixture
def fake_runtime_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Builds runtimes with the scriptable fake provider over one job database."""
    from tests.doubles.fake_provider import FakeServer, build_fake_runtime

    server = tmp_path / "fake-server"
    monkeypatch.setenv("RETOUCHDESK_FAKE_SERVER", str(server))
    db = tmp_path / "jobs.sqlite3"

    def make(**script: Any) -> Any:
        if script:
            FakeServer(server).set_script(**script)
        return build_fake_runtime(db)

    make.server = lambda: FakeServer(server)  # type: ignore[attr-defined]
    return make


@pytest.fixture
def make_window(qtbot: Any, qloop: Any) -> Iterator[Callable[..., Any]]:
    """Build real main windows over a runtime; closes them (and their engines) afterwards."""
    from retouchdesk.app import build_window

    windows: list[Any] = []

    def make(runtime: Any = None, *, resize: bool = True) -> Any:
        w = build_window(runtime)  # closed below, not by qtbot: the engine must stop first
        if resize:
            w.resize(1280, 820)
        w.show()
        qtbot.waitExposed(w)
        w.model.start()
        windows.append(w)
        return w

    yield make
    for w in windows:
        close_window(qtbot, w)
        w.close()
        w.deleteLater()


def close_window(qtbot: Any, w: Any) -> None:
    """Close a window the way the app does: stop the engine, keep the jobs' state."""
    if getattr(w, "_closed_for_test", False):
        return
    w._closed_for_test = True
    w.save_state()
    task = asyncio.ensure_future(w.model.aclose())
    qtbot.waitUntil(task.done, timeout=10_000)
    task.result()
    w.hide()
