"""Before/after: which two images of one photo are compared, loaded off the GUI thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from retouchdesk.model import trash
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


@dataclass(frozen=True)
class Discarded:
    """A result moved to the trash by Discard, remembered so that Undo can put it back."""

    original: Path
    in_trash: Path
    job_id: str
    photo: Path | None


class CompareModel(QObject):
    """The photo under comparison, its versions and the two chosen sides.

    Signals:
        versions_changed(): the list of versions changed.
        sides_changed(): ``left`` / ``right`` images changed (loaded), or the right one's
            kept state.
        chosen(): the two sides were picked (their images follow with ``sides_changed``).
        discard_changed(): a result was discarded or restored (Undo's availability).
        message(str)
    """

    versions_changed = Signal()
    sides_changed = Signal()
    discard_changed = Signal()
    chosen = Signal()
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
        self.discarded: list[Discarded] = []  # newest last: what Undo restores

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
                    if not res.exists():
                        continue  # discarded (in the trash) or removed outside the app
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
        if not any(p.exists() for p in rec.results):
            name = rec.results[0].name
            self.message.emit(f"The result of this job is gone ({name} was discarded)")
            return False
        self.photo = self.session.original_of(rec.input_path)
        self.refresh_versions()
        right = next((i for i, v in enumerate(self.versions) if v.job_id == job_id), 0)
        self.set_sides(0, right)
        return True

    def set_sides(self, left: int, right: int) -> None:
        self.left_index, self.right_index = left, right
        self.chosen.emit()
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

    def right_notes(self) -> list[str]:
        """What the photographer should know about the right-hand result (the engine's
        warnings on it), [] for an original or a result without any."""
        from retouchdesk.model.jobs import result_notes

        v = self.right_version
        rec = self.session.engine.get(v.job_id) if v is not None and v.job_id else None
        return result_notes(rec, v.path) if rec is not None and v is not None else []

    def keep(self, kept: bool = True) -> None:
        """Pin (or unpin) the right-hand result: a kept result is protected from Discard."""
        v = self.right_version
        if v is not None and v.job_id:
            self.session.set_kept(v.path, kept)
            self.message.emit(f"Kept {v.path.name}" if kept else f"{v.path.name} is no longer kept")
            left, right = self.left_index, self.right_index
            self.refresh_versions()
            self.left_index, self.right_index = left, right
            self.sides_changed.emit()

    def discard(self, *, permanently: bool = False) -> str:
        """Move the right-hand result to the system trash; :meth:`undo_discard` brings it back.

        Returns "trashed", "deleted", "confirm" (no trash here: the caller must ask before
        deleting for good, then call again with ``permanently``) or "" (nothing done). The
        job stays in the history (what it cost, with which settings); only its file goes.
        """
        v = self.right_version
        if v is None or v.job_id is None:
            return ""
        if v.kept:
            self.message.emit(f"{v.path.name} is kept: click Kept to unpin it before discarding")
            return ""
        outcome = "trashed"
        if v.path.exists():
            ok, in_trash = trash.move_to_trash(v.path)
            if ok and in_trash is not None:
                self.discarded.append(Discarded(v.path, in_trash, v.job_id, self.photo))
            elif not permanently:
                return "confirm"
            else:
                try:
                    v.path.unlink()
                except OSError as exc:
                    self.message.emit(f"{v.path.name} cannot be removed: {exc.strerror or exc}")
                    return ""
                outcome = "deleted"
        self._cache.pop(v.path, None)
        if outcome == "trashed":
            undo = " (Undo brings it back)" if self.discarded else ""
            self.message.emit(f"Moved {v.path.name} to the trash{undo}")
        else:
            self.message.emit(f"Deleted {v.path.name}")
        self.refresh_versions()
        if len(self.versions) > 1:
            self.set_sides(0, min(self.right_index, len(self.versions) - 1))
        self.discard_changed.emit()
        return outcome

    def can_undo_discard(self) -> bool:
        return bool(self.discarded)

    def undo_discard(self) -> str | None:
        """Put the last discarded result back where it was; returns its job id."""
        if not self.discarded:
            return None
        d = self.discarded.pop()
        try:
            return self._restore(d)
        finally:
            self.discard_changed.emit()

    def _restore(self, d: Discarded) -> str | None:
        if d.original.exists() or not d.in_trash.exists():
            self.message.emit(f"{d.original.name} cannot be restored: it is no longer in the trash")
            return None
        try:
            trash.restore(d.in_trash, d.original)
        except OSError as exc:
            self.message.emit(f"{d.original.name} cannot be restored: {exc.strerror or exc}")
            return None
        self.message.emit(f"Restored {d.original.name}")
        return d.job_id
