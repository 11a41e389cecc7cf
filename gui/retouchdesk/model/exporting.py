"""Exporting versions from the window: one version or every pinned one, in worker threads.

The choices (:class:`core.export.ExportOptions`) are remembered between exports in the
settings file of the window (QSettings, by the dialog); the writing is :mod:`core.export`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from retouchdesk.core import export as core_export
from retouchdesk.core.errors import RetouchError
from retouchdesk.model.tasks import TaskRunner

ExportOptions = core_export.ExportOptions
FORMATS = core_export.FORMATS
COLOURS = core_export.COLOURS
METADATA = core_export.METADATA


class ExportModel(QObject):
    """Writes exports off the GUI thread and says what happened.

    Signals:
        finished(list): the files written.
        message(str)
    """

    finished = Signal(list)
    message = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner

    @staticmethod
    def problems(opts: ExportOptions) -> list[str]:
        return opts.problems()

    async def export(self, files: list[Path], folder: Path, opts: ExportOptions) -> list[Path]:
        """Export each file; one that fails is said and the others go on."""
        written: list[Path] = []
        failed: list[str] = []
        for n, path in enumerate(files, start=1):
            try:
                out = await self.runner.in_thread(core_export.export, path, folder, opts, n=n)
            except (RetouchError, OSError) as exc:
                text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                failed.append(f"{path.name}: {text}")
                continue
            written.append(out)
        if failed:
            self.message.emit(f"Exported {len(written)} of {len(files)}; " + failed[0])
        else:
            n = len(written)
            self.message.emit(f"Exported {n} file{'s' if n != 1 else ''} to {folder}")
        self.finished.emit(written)
        return written
