"""Before/after: which two images of one photo are compared, loaded off the GUI thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QFile, QObject, Signal

from retouchdesk.model.display import DisplayImage, load_display
from retouchdesk.model.session import SessionModel
from retouchdesk.model.tasks import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Version:
    """One image of a photo: the original (``job_id`` None) or a result of a job."""

    path: Path
    label: str
    job_id: str | None = None
    detail: str = ""
    kept: bool = False


class CompareModel(QObject):
    """The photo under comparison, its versions and the two chosen sides.

    Signals:
        versions_changed(): the list of versions changed.
        sides_changed(): ``left`` / ``right`` images changed (loaded).
        message(str)
    """

    versions_changed = Signal()
    sides_changed = Signal()
    message = Signal(str)

    def __init__(self, session: SessionModel, runner: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.photo: Path | None = None
        self.versions: list[Version] = []
        self.left_index = 0
        self.right_index = 0
        self.left: DisplayImage | None = None
        self.right: DisplayImage | None = None
        self._cache: dict[Path, DisplayImage] = {}

    def refresh_versions(self) -> None:
        if self.photo is None:
            self.versions = []
        else:
            vs = [Version(self.photo, "Original")]
            kept = self.session.kept()
            for rec in self.session.versions(self.photo):
                op_label, prov = rec.operation, rec.provider
                try:
                    op = self.session.engine.catalog.operation(rec.provider, rec.operation)
                    op_label = op.label
                    prov = self.session.engine.catalog.provider(rec.provider).name
                except Exception:
                    pass
                for res in rec.results:
                    meta = rec.result_meta.get(str(res)) or {}
                    extra = " (classic)" if meta.get("engine") == "classic" else ""
                    variant = f" {meta['label']}" if meta.get("label") else ""
                    params = ", ".join(f"{k}={v}" for k, v in list(rec.params.items())[:6])
                    is_kept = str(res) in kept
                    label = f"{op_label}{variant} · {prov}{extra}" + (" · kept" if is_kept else "")
                    vs.append(Version(res, label, rec.id, params, is_kept))
            self.versions = vs
        self.versions_changed.emit()

    def show_job(self, job_id: str) -> bool:
        """Compare the first result of ``job_id`` with its original photo."""
        rec = self.session.engine.get(job_id)
        if rec is None or not rec.results:
            return False
        self.photo = self.session.original_of(rec.input_path)
        self.refresh_versions()
        right = next((i for i, v in enumerate(self.versions) if v.job_id == job_id), 0)
        self.set_sides(0, right)
        return True

    def set_sides(self, left: int, right: int) -> None:
        self.left_index, self.right_index = left, right
        self.runner.spawn(self._load(), name="compare:load", preempt=True)

    async def _load(self) -> None:
        imgs = []
        for i in (self.left_index, self.right_index):
            if not 0 <= i < len(self.versions):
                imgs.append(None)
                continue
            path = self.versions[i].path
            img = self._cache.get(path)
            if img is None:
                img = await self.runner.in_thread(load_display, path)
                self._cache[path] = img
                if len(self._cache) > 4:
                    self._cache.pop(next(iter(self._cache)))
            imgs.append(img)
        self.left, self.right = imgs
        self.sides_changed.emit()

    def loaded(self) -> bool:
        return self.left is not None and self.right is not None

    @property
    def right_version(self) -> Version | None:
        return (
            self.versions[self.right_index] if 0 <= self.right_index < len(self.versions) else None
        )

    def keep(self) -> None:
        v = self.right_version
        if v is not None and v.job_id:
            self.session.set_kept(v.path)
            self.message.emit(f"Kept {v.path.name}")
            left, right = self.left_index, self.right_index
            self.refresh_versions()
            self.left_index, self.right_index = left, right

    def discard(self) -> bool:
        """Move the right-hand result to the trash and forget its job."""
        v = self.right_version
        if v is None or v.job_id is None:
            return False
        if v.path.exists() and not QFile.moveToTrash(str(v.path)):
            try:
                v.path.unlink()
            except OSError as exc:
                self.message.emit(f"{v.path.name} cannot be removed: {exc.strerror or exc}")
                return False
        rec = self.session.engine.get(v.job_id)
        if rec is not None and all((not p.exists()) or p == v.path for p in rec.results):
            self.session.engine.remove(v.job_id)
        self._cache.pop(v.path, None)
        self.message.emit(f"Discarded {v.path.name}")
        self.refresh_versions()
        if len(self.versions) > 1:
            self.set_sides(0, min(self.right_index, len(self.versions) - 1))
        return True
