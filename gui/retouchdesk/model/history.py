"""The versions of the current photo as a tree, its working version, undo/redo of results.

Every finished job of a photo is a version with its parent (the version it was made from, or
the original), operation, provider, parameters, cost, time and mask; the tree lives in the job
database (``versions`` table, written when a job is queued) so it survives restarts.

The *working version* is what the canvas shows and what the next operation starts from.
"Continue from this version" picks any version (a recipe's steps advance it by themselves), so
a chain is Apply, Continue, Apply... Undo/redo step through these moves per photo; pin and
move-to-trash act on one version (the compare view's Keep and Discard, same files:
``SessionModel.kept`` and the system trash).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.core.jobs import JobRecord
from retouchdesk.model import trash
from retouchdesk.model.session import SessionModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionItem:
    """One row of the History panel."""

    job_id: str | None  # None: the original photo
    path: Path
    parent_id: str | None
    depth: int
    operation: str
    provider: str
    cost: str
    seconds: float | None
    params: dict[str, Any]
    pinned: bool
    working: bool


class HistoryModel(QObject):
    """The version tree of the current photo and its working version (see module docstring).

    Signals:
        changed(): the rows or the working version changed.
        working_changed(str): the working version of this photo changed (its path).
        message(str)
    """

    changed = Signal()
    working_changed = Signal(str)
    message = Signal(str)
    trashed = Signal(object, object, str, object)  # file, where in the trash, job id, photo

    def __init__(self, session: SessionModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.catalog = session.engine.catalog
        self.photo: Path | None = None
        self.items: list[VersionItem] = []
        self._undo: dict[Path, list[str | None]] = {}
        self._redo: dict[Path, list[str | None]] = {}

    # -- the tree -----------------------------------------------------------------------------
    def set_photo(self, photo: Path | None) -> None:
        self.photo = photo
        self.refresh()

    def refresh(self) -> None:
        photo = self.photo
        if photo is None:
            self.items = []
            self.changed.emit()
            return
        recs = self.session.versions(photo)
        rows = self.session.version_rows_of([r.id for r in recs])
        kept = self.session.kept()
        working = self.working_job(photo)
        present = {r.id for r in recs}
        children: dict[str | None, list[JobRecord]] = {}
        for r in recs:
            parent = self.session.parent_of(r.id, rows)
            children.setdefault(parent if parent in present else None, []).append(r)
        items = [
            VersionItem(None, photo, None, 0, "Original", "", "", None, {}, False, working is None)
        ]

        def walk(parent: str | None, depth: int) -> None:
            for r in children.get(parent, []):
                items.append(self._item(r, parent, depth, kept, working))
                walk(r.id, depth + 1)

        walk(None, 1)
        self.items = items
        self.changed.emit()

    def _item(
        self, r: JobRecord, parent: str | None, depth: int, kept: set[str], working: str | None
    ) -> VersionItem:
        op_label, prov = r.operation, r.provider
        try:
            op_label = self.catalog.operation(r.provider, r.operation).label
            prov = self.catalog.provider(r.provider).name
        except Exception:  # a provider removed since: its ids are still meaningful
            pass
        path = next((p for p in r.results if p.exists()), r.results[0])
        return VersionItem(
            r.id,
            path,
            parent,
            depth,
            op_label,
            prov,
            _cost(r),
            r.elapsed,
            dict(r.params),
            str(path) in kept,
            r.id == working,
        )

    def item(self, job_id: str | None) -> VersionItem | None:
        return next((i for i in self.items if i.job_id == job_id), None)

    # -- the working version -------------------------------------------------------------------
    def working_job(self, photo: Path) -> str | None:
        job_id = self.session.working.get(photo)
        return job_id if job_id and self.session.working_file(photo) is not None else None

    def continue_from(self, job_id: str | None, photo: Path | None = None) -> None:
        """Make a version (None: the original) the photo's working version; undoable."""
        photo = photo or self.photo
        if photo is None:
            return
        old = self.working_job(photo)
        if old == job_id:
            return
        self._undo.setdefault(photo, []).append(old)
        self._redo.pop(photo, None)
        self._set_working(photo, job_id)

    def _set_working(self, photo: Path, job_id: str | None) -> None:
        if job_id is None:
            self.session.working.pop(photo, None)
        else:
            self.session.working[photo] = job_id
        if photo == self.photo:
            self.refresh()
        self.working_changed.emit(str(photo))

    def job_finished(self, rec: JobRecord, *, advance: bool = False) -> None:
        """A new version arrived; with ``advance`` (a recipe's step) it becomes the working
        version when it was made from the working version.

        A plain Apply does not move the working version: applying the same operation again
        must find the same work (and offer its result) rather than stack a second copy on
        the first; "Continue from this version" is the photographer's explicit step.
        """
        photo = self.session.photo_of_job(rec)
        parent = self.session.parent_of(rec.id)
        if advance and rec.results and parent == self.working_job(photo):
            self.continue_from(rec.id, photo)
        elif photo == self.photo:
            self.refresh()

    def can_undo(self) -> bool:
        return self.photo is not None and bool(self._undo.get(self.photo))

    def can_redo(self) -> bool:
        return self.photo is not None and bool(self._redo.get(self.photo))

    def undo(self) -> bool:
        """Go back to the working version before the last applied result (or Continue)."""
        photo = self.photo
        if photo is None or not self._undo.get(photo):
            return False
        self._redo.setdefault(photo, []).append(self.working_job(photo))
        self._set_working(photo, self._undo[photo].pop())
        return True

    def redo(self) -> bool:
        photo = self.photo
        if photo is None or not self._redo.get(photo):
            return False
        self._undo.setdefault(photo, []).append(self.working_job(photo))
        self._set_working(photo, self._redo[photo].pop())
        return True

    # -- pin and trash -------------------------------------------------------------------------
    def pin(self, job_id: str, on: bool = True) -> None:
        it = self.item(job_id)
        if it is None or it.job_id is None:
            return
        self.session.set_kept(it.path, on)
        self.message.emit(f"Pinned {it.path.name}" if on else f"{it.path.name} is unpinned")
        self.refresh()

    def pinned_files(self) -> list[Path]:
        """Pinned versions of every photo that still exist (for batch export)."""
        return [Path(p) for p in sorted(self.session.kept()) if Path(p).exists()]

    def move_to_trash(self, job_id: str) -> bool:
        """Move a version's file to the system trash (a pinned one is refused)."""
        it = self.item(job_id)
        if it is None or it.job_id is None:
            return False
        if it.pinned:
            self.message.emit(f"{it.path.name} is pinned: unpin it before moving it to the trash")
            return False
        ok, where = trash.move_to_trash(it.path)
        if not ok:
            self.message.emit(f"{it.path.name} cannot be moved to the trash here")
            return False
        if self.photo is not None and it.working:
            self._set_working(self.photo, it.parent_id)  # the canvas goes back to its parent
        undo = " (Undo brings it back)" if where is not None else ""
        self.message.emit(f"Moved {it.path.name} to the trash{undo}")
        if where is not None:
            self.trashed.emit(it.path, where, it.job_id, self.photo)
        self.refresh()
        return True

    # -- recipes -------------------------------------------------------------------------------
    def chain(self, job_id: str) -> list[JobRecord]:
        """The jobs from the original to ``job_id``, oldest first."""
        rows = self.session.version_rows()
        out: list[JobRecord] = []
        seen: set[str] = set()
        current: str | None = job_id
        while current and current not in seen:
            seen.add(current)
            rec = self.session.engine.get(current)
            if rec is None:
                break
            out.append(rec)
            current = self.session.parent_of(current, rows)
        return out[::-1]

    def save_recipe(self, job_id: str, destination: Path) -> Any:
        """Write the chain leading to ``job_id`` as a TOML recipe (masks copied beside it)."""
        from retouchdesk.services import recipes

        chain = self.chain(job_id)
        recipe = recipes.save_recipe(self.catalog, chain, destination)
        self.message.emit(f"Saved the recipe of {len(chain)} steps as {destination.name}")
        return recipe


def _cost(rec: JobRecord) -> str:
    if rec.cost is None:
        return ""
    if rec.cost == 0:
        return "free"
    return f"{rec.cost:g} {rec.cost_unit}".strip()
