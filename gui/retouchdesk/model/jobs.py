"""The job panel's model: every job of the engine, batches grouped under one row.

It subscribes to :class:`retouchdesk.services.engine.JobEngine` events (delivered on the
loop thread, which is the GUI thread under qasync) and reads the full record with
``engine.get``. Progress events of a batch of many jobs arrive in bursts; row updates are
coalesced and flushed at most 20 times a second so that the panel never costs the event loop
more than a repaint.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QIcon

from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState
from retouchdesk.core.schema import Catalog
from retouchdesk.model.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from retouchdesk.services.engine import JobEngine

COLUMNS = ("Photo", "Operation", "State", "Progress", "Elapsed", "Cost")
COL_PHOTO, COL_OP, COL_STATE, COL_PROGRESS, COL_ELAPSED, COL_COST = range(6)
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 10
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 11  # float 0..1, or -1 when unknown (busy)
STATE_ROLE = Qt.ItemDataRole.UserRole + 12
BATCH_ROLE = Qt.ItemDataRole.UserRole + 13

STATE_WORDS = {
    JobState.QUEUED: "Queued",
    JobState.PREPARING: "Preparing",
    JobState.UPLOADING: "Uploading",
    JobState.SUBMITTED: "Submitted",
    JobState.RUNNING: "Running",
    JobState.DOWNLOADING: "Downloading",
    JobState.DONE: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
    JobState.UNCONFIRMED: "Unconfirmed",
    JobState.STALLED: "Stalled",
}


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}:{s:02d}"
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


GUESSED_SUBJECT = (
    "No face was found, so the subject was guessed from focus and contrast. If the wrong "
    "part stayed sharp, paint over the subject (Paint mask) and apply again."
)


def result_notes(rec: JobRecord, result: Path | None = None) -> list[str]:
    """What the photographer should know about a result: the engine's warnings, and that a
    subject was guessed without a face (a pet, a product) when no mask guided it."""
    out: list[str] = []
    metas = (rec.result_meta or {}).items()
    for path, meta in metas:
        if result is not None and path != str(result):
            continue
        meta = meta or {}
        for w in meta.get("warnings") or ():
            if w and str(w) not in out:
                out.append(str(w))
        guessed = "subject_sure" in meta and meta.get("faces", 1) == 0
        if guessed and not rec.params.get("mask") and GUESSED_SUBJECT not in out:
            out.append(GUESSED_SUBJECT)
    return out


_notes = result_notes


def _left_text(seconds: float) -> str:
    from retouchdesk.model.estimate import duration_text

    return duration_text(seconds)


def counted(amount: float, unit: str) -> str:
    """'1 credit', '2 credits', '1 credit per second': the unit agrees with the amount."""
    if amount == 1 and unit:
        first, _, rest = unit.partition(" ")
        if first.endswith("s") and not first.endswith("ss"):
            unit = " ".join(x for x in (first[:-1], rest) if x)
    return f"{amount:g} {unit}".strip()


def _cost_text(cost: float | None, unit: str) -> str:
    if cost is None:
        return ""
    if cost == 0:
        return "Free"
    return counted(cost, unit)


@dataclass(eq=False)  # compared by identity: list.index finds a row without calling __eq__
class _Node:
    """A top-level row: a single job (``job_id``) or a batch (``batch_id`` + children)."""

    job_id: str | None = None
    batch_id: str | None = None
    children: list[str] = field(default_factory=list)
    created_at: float = 0.0  # of the job that made the row: rows are newest first


class JobsModel(QAbstractItemModel):
    """Tree model: top rows are jobs or batches, a batch's children are its jobs.

    Signals:
        job_finished(str): a job reached done (the window offers its compare view).
        job_failed(str, str): job id and the plain sentence of the failure.
        counts_changed(): running / queued counts changed (status bar).
        older_changed(): a page of older finished jobs was shown.
    """

    job_finished = Signal(str)
    job_failed = Signal(str, str)
    counts_changed = Signal()
    older_changed = Signal()  # a page of older jobs was read (is there more?)

    def __init__(
        self,
        engine: JobEngine,
        catalog: Catalog,
        thumbs: ThumbnailCache | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.catalog = catalog
        self.thumbs = thumbs
        self._top: list[_Node] = []
        self._batch_node: dict[str, _Node] = {}
        # Where each row's job is and what state it was last seen in: counts, index_of, the
        # elapsed tick and thumbnails cost O(1) per event whatever the length of the history.
        self._node_of: dict[str, _Node] = {}
        self._state: dict[str, JobState] = {}
        self._tally: Counter[JobState] = Counter()
        self._by_input: dict[Path, set[str]] = {}
        self._input_of: dict[str, Path] = {}
        self.started = time.time()  # failures after this are news (the status bar's count)
        self._failed_recent: set[str] = set()
        self._finished: Counter[JobState] = Counter()  # arrivals in each state, this session
        self._dirty: set[str] = set()
        self._estimates: dict[str, float] = {}
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(50)
        self._flush.timeout.connect(self._flush_dirty)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._tick_elapsed)
        self._tick.start()
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)
        # What the engine holds (unfinished jobs, this session's) and the newest page of the
        # finished ones; older pages come when the list is scrolled to its end.
        engine.history.read_newest()
        for rec in sorted(engine.jobs(), key=lambda r: r.created_at):
            self._insert(rec, announce=False)
        self._unsubscribe = engine.subscribe(self._on_event)

    # -- pause ----------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.engine.paused

    def set_paused(self, on: bool) -> None:
        """Pause (queued jobs wait; started ones go on) or resume the queue."""
        (self.engine.pause if on else self.engine.resume)()
        self.counts_changed.emit()

    def waiting(self) -> int:
        """Queued jobs held back by the pause (the Resume button's count)."""
        return int(self.engine.waiting())

    def set_estimate(self, job_id: str, seconds: float) -> None:
        """How long this job should take (model.estimate): the row shows the time left."""
        self._estimates[job_id] = seconds

    def time_left(self, rec: JobRecord) -> float | None:
        """Seconds left by the job's own progress, else by its estimate; None if unknown."""
        if rec.state.terminal or not rec.started_at:
            return None
        elapsed = time.time() - rec.started_at
        if rec.progress is not None and rec.progress >= 0.05:
            return max(0.0, elapsed * (1 - rec.progress) / rec.progress)
        estimate = self._estimates.get(rec.id)
        return None if estimate is None else max(0.0, estimate - elapsed)

    def close(self) -> None:
        self._unsubscribe()
        self._tick.stop()
        self._flush.stop()

    # -- records ------------------------------------------------------------------------------
    def record(self, job_id: str) -> JobRecord | None:
        return self.engine.get(job_id)

    def job_ids(self) -> list[str]:
        out: list[str] = []
        for n in self._top:
            out.extend(n.children if n.batch_id else [n.job_id])  # type: ignore[list-item]
        return out

    def batch_records(self, batch_id: str) -> list[JobRecord]:
        node = self._batch_node.get(batch_id)
        if node is None:
            return []
        return [r for r in (self.engine.get(j) for j in node.children) if r is not None]

    def counts(self) -> dict[str, int]:
        """Jobs in the list by kind, kept up to date on every event (never a walk of the list).

        ``live``: not finished; ``done`` / ``failed``: finished rows in the list;
        ``failed_recent``: jobs that failed since this model was made (news for the status
        bar; yesterday's failures are in the list, not news). ``finished_done`` /
        ``finished_failed``: how many times a job reached done / failed while this model
        listened (they only grow: paging history in or forgetting old jobs leaves them be).
        """
        t = self._tally
        return {
            "live": sum(n for s, n in t.items() if not s.terminal),
            "done": t[JobState.DONE],
            "failed": t[JobState.FAILED],
            "failed_recent": len(self._failed_recent),
            "finished_done": self._finished[JobState.DONE],
            "finished_failed": self._finished[JobState.FAILED],
        }

    def _track(self, job_id: str, state: JobState | None) -> None:
        """Record a row's job state (None: the row is gone) in the running tallies."""
        old = self._state.pop(job_id, None)
        if old is not None:
            self._tally[old] -= 1
        self._failed_recent.discard(job_id)
        if state is None:
            return
        self._state[job_id] = state
        self._tally[state] += 1
        if state is JobState.FAILED:
            rec = self.engine.get(job_id)
            when = (rec.finished_at or rec.updated_at) if rec is not None else None
            if when is not None and when >= self.started:
                self._failed_recent.add(job_id)

    # -- events -------------------------------------------------------------------------------
    def _on_event(self, ev: JobEvent) -> None:
        if ev.kind is EventKind.ADDED:
            rec = self.engine.get(ev.job_id)
            if rec is not None:
                self._insert(rec, announce=True)
            self.counts_changed.emit()
            return
        if ev.kind is EventKind.REMOVED:
            self._remove(ev.job_id, ev.batch_id)
            self.counts_changed.emit()
            return
        self._dirty.add(ev.job_id)
        if ev.kind is EventKind.STATE:
            if ev.job_id in self._state:
                rec = self.engine.get(ev.job_id)
                now = rec.state if rec is not None else ev.state
                if now is not self._state[ev.job_id]:
                    self._finished[now] += 1
                self._track(ev.job_id, now)
            self._flush_dirty()  # state changes are shown at once, progress is coalesced
            self.counts_changed.emit()
            if ev.state is JobState.DONE:
                self.job_finished.emit(ev.job_id)
            elif ev.state is JobState.FAILED:
                self.job_failed.emit(ev.job_id, ev.error or "")
        elif not self._flush.isActive():
            self._flush.start()

    def _insert(self, rec: JobRecord, *, announce: bool) -> None:
        if rec.id in self._node_of:
            return  # already a row (a page that overlaps what the list shows)
        self._track(rec.id, rec.state)
        self._by_input.setdefault(rec.input_path, set()).add(rec.id)
        self._input_of[rec.id] = rec.input_path
        if rec.batch_id:
            node = self._batch_node.get(rec.batch_id)
            if node is not None:
                row = self._top.index(node)
                parent = self.index(row, 0)
                n = len(node.children)
                if announce:
                    self.beginInsertRows(parent, n, n)
                node.children.append(rec.id)
                self._node_of[rec.id] = node
                if announce:
                    self.endInsertRows()
                    self._dirty.add(rec.id)
                    self._flush.start()
                return
            node = _Node(batch_id=rec.batch_id, children=[rec.id], created_at=rec.created_at)
            self._batch_node[rec.batch_id] = node
        else:
            node = _Node(job_id=rec.id, created_at=rec.created_at)
        self._node_of[rec.id] = node
        # Newest first: the job just queued is where the photographer looks.
        if announce:
            self.beginInsertRows(QModelIndex(), 0, 0)
        self._top.insert(0, node)
        if announce:
            self.endInsertRows()
        if announce and self.thumbs is not None:
            # A new job's thumbnail now; a row of history asks for its own when it is drawn
            # (ThumbnailCache.pixmap), so a long history costs no thumbnail work at start.
            self.thumbs.request(rec.input_path)

    # -- older history, a page at a time ---------------------------------------------------
    def can_load_older(self) -> bool:
        """Whether older finished jobs wait in the database (the panel offers them)."""
        return bool(self.engine.history.has_older)

    def load_older(self) -> int:
        """Show the next page of older finished jobs below the others; returns how many."""
        recs = [r for r in self.engine.history.load_older() if r.id not in self._node_of]
        added = 0
        for rec in sorted(recs, key=lambda r: r.created_at):
            if rec.batch_id and rec.batch_id in self._batch_node:
                self._insert(rec, announce=True)  # a child of a row already shown
            else:
                self._insert_older(rec)
            added += 1
        if added:
            self.counts_changed.emit()
        self.older_changed.emit()
        return added

    def _insert_older(self, rec: JobRecord) -> None:
        """A new row at its place by age (pages are older than what is shown: near the end)."""
        self._track(rec.id, rec.state)
        self._by_input.setdefault(rec.input_path, set()).add(rec.id)
        self._input_of[rec.id] = rec.input_path
        if rec.batch_id:
            node = _Node(batch_id=rec.batch_id, children=[rec.id], created_at=rec.created_at)
            self._batch_node[rec.batch_id] = node
        else:
            node = _Node(job_id=rec.id, created_at=rec.created_at)
        self._node_of[rec.id] = node
        row = len(self._top)
        while row > 0 and self._top[row - 1].created_at < rec.created_at:
            row -= 1
        self.beginInsertRows(QModelIndex(), row, row)
        self._top.insert(row, node)
        self.endInsertRows()

    def _remove(self, job_id: str, batch_id: str | None) -> None:
        node = self._node_of.pop(job_id, None)
        if node is None:
            return
        self._track(job_id, None)
        ids = self._by_input.get(self._input_of.pop(job_id, Path()))
        if ids is not None:
            ids.discard(job_id)
        row = self._top.index(node)
        if node.batch_id and len(node.children) > 1:
            i = node.children.index(job_id)
            self.beginRemoveRows(self.index(row, 0), i, i)
            del node.children[i]
            self.endRemoveRows()
            self._emit_row(self.index(row, 0))
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._top[row]
        if node.batch_id:
            self._batch_node.pop(node.batch_id, None)
        self.endRemoveRows()

    def _flush_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        batches: set[str] = set()
        for jid in dirty:
            idx = self.index_of(jid)
            if idx.isValid():
                self._emit_row(idx)
                if idx.parent().isValid():
                    batches.add(idx.parent().data(BATCH_ROLE))
        for b in batches:
            node = self._batch_node.get(b)
            if node is not None:
                self._emit_row(self.index(self._top.index(node), 0))

    def _emit_row(self, idx: QModelIndex) -> None:
        last = idx.siblingAtColumn(len(COLUMNS) - 1)
        self.dataChanged.emit(idx.siblingAtColumn(0), last)

    def _tick_elapsed(self) -> None:
        """Once a second: the elapsed column of running jobs (and of their batch rows)."""
        batches: set[str] = set()
        for jid, state in self._state.items():
            if state.terminal:
                continue
            r = self.engine.get(jid)
            if r is None or not r.started_at:
                continue
            c = self.index_of(jid).siblingAtColumn(COL_ELAPSED)
            self.dataChanged.emit(c, c)
            if r.batch_id:
                batches.add(r.batch_id)
        for b in batches:
            node = self._batch_node.get(b)
            if node is not None:
                c = self.index(self._top.index(node), COL_ELAPSED)
                self.dataChanged.emit(c, c)

    def _thumb_ready(self, path: str) -> None:
        for jid in list(self._by_input.get(Path(path), ())):
            idx = self.index_of(jid)
            if idx.isValid():
                self.dataChanged.emit(idx, idx)

    # -- index plumbing -----------------------------------------------------------------------
    def index_of(self, job_id: str) -> QModelIndex:
        node = self._node_of.get(job_id)
        if node is None:
            return QModelIndex()
        row = self._top.index(node)
        if node.batch_id:
            return self.index(node.children.index(job_id), 0, self.index(row, 0))
        return self.index(row, 0)

    def index(
        self,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        if not parent.isValid():
            if 0 <= row < len(self._top) and 0 <= column < len(COLUMNS):
                return self.createIndex(row, column, 0)
            return QModelIndex()
        prow = parent.row()
        node = self._top[prow] if 0 <= prow < len(self._top) else None
        if node is None or not node.batch_id or not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, column, prow + 1)  # 0 marks a top row

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        tag = index.internalId()
        if tag == 0:
            return QModelIndex()
        return self.createIndex(tag - 1, 0, 0)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._top)
        if parent.parent().isValid() or parent.column() != 0:
            return 0
        node = self._top[parent.row()]
        return len(node.children) if node.batch_id else 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def _node_ids(
        self, index: QModelIndex | QPersistentModelIndex
    ) -> tuple[str | None, str | None]:
        """(job id, batch id) of a row: a batch row has no job id."""
        if index.parent().isValid():
            node = self._top[index.parent().row()]
            return node.children[index.row()], node.batch_id
        node = self._top[index.row()]
        return node.job_id, node.batch_id

    # -- data ---------------------------------------------------------------------------------
    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        job_id, batch_id = self._node_ids(index)
        if job_id is None:
            return None if batch_id is None else self._batch_data(batch_id, index.column(), role)
        rec = self.engine.get(job_id)
        if rec is None:
            return None
        return self._job_data(rec, index.column(), role)

    def labels(self, rec: JobRecord) -> tuple[str, str]:
        """The operation's and the provider's display names of a job."""
        return self._op_label(rec)

    def _op_label(self, rec: JobRecord) -> tuple[str, str]:
        try:
            op = self.catalog.operation(rec.provider, rec.operation)
            prov = self.catalog.provider(rec.provider)
            return op.label, prov.name
        except Exception:
            return rec.operation, rec.provider

    def _job_data(self, rec: JobRecord, col: int, role: int) -> Any:
        if role == JOB_ID_ROLE:
            return rec.id
        if role == STATE_ROLE:
            return rec.state.value
        if role == PROGRESS_ROLE:
            if rec.state is JobState.DONE:
                return 1.0
            estimate = self._estimates.get(rec.id)
            if rec.progress is None and estimate and rec.started_at and not rec.state.terminal:
                # No progress from the worker: fill the bar by the estimate, never to the end.
                return min(0.95, (time.time() - rec.started_at) / estimate)
            if rec.progress is None:
                return (
                    -1.0 if rec.state not in (JobState.QUEUED,) and not rec.state.terminal else 0.0
                )
            return rec.progress
        display = role == Qt.ItemDataRole.DisplayRole
        if col == COL_PHOTO:
            if display:
                return rec.input_path.name
            if role == Qt.ItemDataRole.DecorationRole and self.thumbs is not None:
                pm = self.thumbs.pixmap(rec.input_path)
                # An icon, so that the view scales it to its icon size (a pixmap is drawn as is).
                return QIcon(pm) if pm is not None else None
            if role == Qt.ItemDataRole.ToolTipRole:
                return str(rec.input_path)
        elif col == COL_OP:
            label, prov = self._op_label(rec)
            if display:
                classic = any(
                    (m or {}).get("engine") == "classic" for m in rec.result_meta.values()
                )
                return f"{label} · {prov}" + (" (classic)" if classic else "")
            if role == Qt.ItemDataRole.ToolTipRole:
                classic = [m for m in rec.result_meta.values() if (m or {}).get("engine")]
                extra = ""
                if classic:
                    extra = "\nEngine: " + ", ".join(str(m.get("engine")) for m in classic)
                    extra += ": the AI model was unavailable, a classic method was used."
                return f"{label} on {prov}{extra}"
        elif col == COL_STATE:
            if display:
                return self._state_text(rec)
            if role == Qt.ItemDataRole.ToolTipRole:
                notes = _notes(rec)
                if notes:
                    return "\n".join(notes)
                return rec.error or rec.message or STATE_WORDS[rec.state]
            if role == Qt.ItemDataRole.ForegroundRole and rec.state is JobState.FAILED:
                from PySide6.QtGui import QColor

                return QColor(0xD9, 0x4F, 0x3D)
        elif col == COL_ELAPSED and display:
            left = self.time_left(rec)
            text = format_elapsed(rec.elapsed)
            if left is not None and left >= 1:
                text += f" · {_left_text(left)} left"
            return text
        elif col == COL_COST and display:
            unit = rec.cost_unit
            if not unit:
                try:
                    unit = self.catalog.operation(rec.provider, rec.operation).cost.unit
                except Exception:
                    unit = ""
            return _cost_text(rec.cost, unit)
        elif col == COL_PROGRESS and display:
            return ""
        return None

    def _state_text(self, rec: JobRecord) -> str:
        word = STATE_WORDS[rec.state]
        if rec.state is JobState.FAILED and rec.error:
            return f"Failed: {rec.error}"
        if rec.state is JobState.DONE:
            n = len(rec.results)
            if n and not any(p.exists() for p in rec.results):
                return f"{word} · result discarded"
            if _notes(rec):
                return (
                    f"{word} · see the note" if n <= 1 else f"{word} ({n} results) · see the note"
                )
            return word if n <= 1 else f"{word} ({n} results)"
        msg = rec.message
        if msg and not rec.state.terminal:
            if msg.lower().startswith(word.lower()):
                return msg[:1].upper() + msg[1:]  # "Queued again", not "Queued · queued again"
            return f"{word} · {msg}"
        return word

    def _batch_data(self, batch_id: str, col: int, role: int) -> Any:
        recs = self.batch_records(batch_id)
        if role == BATCH_ROLE:
            return batch_id
        n = len(recs)
        done = sum(r.state is JobState.DONE for r in recs)
        failed = sum(r.state is JobState.FAILED for r in recs)
        cancelled = sum(r.state is JobState.CANCELLED for r in recs)
        finished = done + failed + cancelled
        if role == STATE_ROLE:
            return "done" if finished == n else "running"
        if role == PROGRESS_ROLE:
            # Work done: a cancelled job adds nothing (a fully cancelled batch is no full bar).
            total = 0.0
            for r in recs:
                if r.state in (JobState.DONE, JobState.FAILED):
                    total += 1.0
                elif not r.state.terminal:
                    total += r.progress or 0.0
            return total / n if n else 0.0
        if role != Qt.ItemDataRole.DisplayRole and not (
            role == Qt.ItemDataRole.ToolTipRole and col == COL_STATE
        ):
            return None
        # A Try On run: one photo, several operations (model.try_on).
        tried = len({r.op_key for r in recs}) > 1
        if col == COL_PHOTO:
            if tried:
                return f"Try on: {recs[0].input_path.name}"
            return f"Batch of {n} photo{'s' if n != 1 else ''}"
        if col == COL_OP:
            if tried:
                return f"{n} operations"
            return " · ".join(self._op_label(recs[0])) if recs else ""
        if col == COL_STATE:
            text = f"{done} of {n} done"
            if failed:
                text += f", {failed} failed"
            if cancelled:
                text += f", {cancelled} cancelled"
            if role == Qt.ItemDataRole.ToolTipRole:
                errors = sorted({r.error for r in recs if r.error})
                return text + ("\n" + "\n".join(errors[:5]) if errors else "")
            return text
        if col == COL_ELAPSED:
            starts = [r.started_at for r in recs if r.started_at]
            if not starts:
                return ""
            ends = [r.finished_at or time.time() for r in recs if r.started_at]
            return format_elapsed(max(ends) - min(starts))
        if col == COL_COST:
            costs = [r.cost for r in recs if r.cost is not None]
            if not costs:
                return ""
            unit = next((r.cost_unit for r in recs if r.cost_unit), "")
            return _cost_text(sum(costs), unit)
        return ""

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- actions ------------------------------------------------------------------------------
    def ids_for(self, indexes: list[QModelIndex]) -> list[str]:
        """Job ids of the selected rows; a batch row stands for all its jobs."""
        out: list[str] = []
        for idx in indexes:
            if idx.column() != 0:
                continue
            job_id, batch_id = self._node_ids(idx)
            if job_id:
                out.append(job_id)
            elif batch_id:
                out.extend(self._batch_node[batch_id].children)
        return list(dict.fromkeys(out))

    def cancel(self, ids: list[str]) -> int:
        return sum(bool(self.engine.cancel(j)) for j in ids)

    def retry(self, ids: list[str]) -> int:
        return sum(bool(self.engine.retry(j)) for j in ids)

    def resend_unconfirmed(self, ids: list[str]) -> int:
        """Send unconfirmed jobs again; the caller has warned of a possible double charge."""
        return sum(bool(self.engine.resend_unconfirmed(j)) for j in ids)

    def remove(self, ids: list[str]) -> int:
        return sum(bool(self.engine.remove(j)) for j in ids)
