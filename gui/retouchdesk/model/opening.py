"""Opening what the user names (drop, File › Open Folder, the command line): a folder scan
that never freezes the window and can be stopped.

The walk itself is :func:`retouchdesk.services.walk.find_photos`, the CLI's walker. Small
folders are scanned at once on the GUI thread (within ``BUDGET`` seconds, so a dropped shoot
appears immediately); a huge tree continues in a worker thread, reporting how many photos it
has found, and :meth:`FolderScan.cancel` stops it (the photos found so far are kept).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.services.walk import find_photos

BUDGET = 0.15  # seconds of walking on the GUI thread before the rest moves to a worker
REPORT_EVERY = 0.25  # seconds between progress reports from the worker


class FolderScan(QObject):
    """One scan of the named paths.

    Signals:
        progress(int): photos found so far (a long scan only).
        finished(list, bool): the photos found, and whether the user stopped the scan.
    """

    progress = Signal(int)
    finished = Signal(list, bool)

    def __init__(
        self,
        paths: list[Path],
        *,
        skip_dirs: tuple[str, ...] = (),
        earlier_results: frozenset[str] = frozenset(),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self._it: Iterator[Path] = find_photos(
            paths, skip_dirs=skip_dirs, earlier_results=earlier_results
        )
        self.found: list[Path] = []
        self._stop = threading.Event()
        self.done = False
        self.cancelled = False

    def run_briefly(self) -> bool:
        """Walk on the calling thread for up to ``BUDGET`` s; True when the walk is complete."""
        deadline = time.monotonic() + BUDGET
        for p in self._it:
            self.found.append(p)
            if time.monotonic() > deadline:
                return False
        self.done = True
        return True

    async def run_rest(self, runner: Any) -> list[Path]:
        """Finish the walk in a worker thread; emits ``progress`` and then ``finished``."""
        import asyncio

        loop = asyncio.get_running_loop()

        def rest() -> None:
            last = time.monotonic()
            for p in self._it:
                if self._stop.is_set():
                    return
                self.found.append(p)
                now = time.monotonic()
                if now - last > REPORT_EVERY:
                    last = now
                    loop.call_soon_threadsafe(self.progress.emit, len(self.found))

        await runner.in_thread(rest)
        self.done = True
        self.cancelled = self._stop.is_set()
        self.finished.emit(list(self.found), self.cancelled)
        return self.found

    def cancel(self) -> None:
        self._stop.set()
