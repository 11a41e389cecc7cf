"""The jobs one engine knows, and the finished ones it reads from the database on demand.

The engine holds every unfinished job (to resume it), the jobs of this session, and the
finished ones asked for so far: pages read newest first by a job list, single ones by id, the
versions of one photo. Finished rows stay in SQLite until asked for, so a long history costs
neither the CLI nor the window's start anything. A batch is read whole (never part of its
rows), and a record once read stays the one object its holders see.

:class:`JobHistory` owns the engine's table of records; the engine (``services.engine``)
adds, changes and removes the live ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services.jobfiles import remove_scratch
from retouchdesk.services.store import JobStore


class JobHistory:
    """The records an engine knows; finished ones are read page by page (newest first).

    ``page`` gives how many finished jobs a page holds; ``busy`` whether a job still has a
    running task (pruning skips it); ``removed`` is told of each record pruning forgets;
    ``work_dir`` gives a job's scratch folder.
    """

    def __init__(
        self,
        store: JobStore,
        *,
        page: Callable[[], int],
        busy: Callable[[str], bool],
        removed: Callable[[JobRecord], None],
        work_dir: Callable[[str], Path],
    ) -> None:
        self.store = store
        self._page = page
        self._busy = busy
        self._removed = removed
        self._work_dir = work_dir
        self.records: dict[str, JobRecord] = {r.id: r for r in store.unfinished()}
        self._whole: set[str] = set()  # batches read with every one of their jobs
        self._complete_batches(list(self.records.values()))
        self._older: tuple[float, int] | None = None  # cursor of the oldest page read
        self._has_older = True
        # Result files of the whole history (see earlier_results), and how far it was read.
        self._results: set[str] | None = None
        self._results_seen: float | None = None
        self._results_lock = threading.Lock()

    def jobs(self) -> list[JobRecord]:
        """The jobs read so far (see :meth:`load_older` for the rest of the history)."""
        return list(self.records.values())

    def get(self, job_id: str) -> JobRecord | None:
        """A job by id; a finished one not read yet is read from the database (one row)."""
        rec = self.records.get(job_id)
        if rec is None:
            rec = self.store.get(job_id)
            if rec is not None and rec.state.terminal:
                self.records[job_id] = rec  # kept: holders see one object per job
        return rec

    def batch_jobs(self, batch_id: str) -> list[JobRecord]:
        return [r for r in self.records.values() if r.batch_id == batch_id]

    def new_batch(self, batch_id: str) -> None:
        """A batch made in this session: every one of its jobs is here already."""
        self._whole.add(batch_id)

    @property
    def has_older(self) -> bool:
        """Whether finished jobs older than those read remain in the database (True until
        the first page is read)."""
        return self._has_older

    def read_newest(self) -> None:
        """Make sure the newest page of finished jobs is read (a job list's first view)."""
        if self._older is None and self._has_older:
            self._read_older(self._page())

    def load_older(self, limit: int | None = None) -> list[JobRecord]:
        """Read the next page of finished jobs, newest first (a batch comes whole): the first
        call gives the newest ones. Returns the page's records."""
        return self._read_older(limit or self._page())

    def _read_older(self, limit: int) -> list[JobRecord]:
        if not self._has_older:
            return []
        page, self._older, self._has_older = self.store.finished_page(limit, self._older)
        return self._complete_batches(page)

    def _complete_batches(self, recs: list[JobRecord]) -> list[JobRecord]:
        """Keep ``recs`` and read the rest of their batches (a batch row is never partial)."""
        missing = {r.batch_id for r in recs if r.batch_id and r.batch_id not in self._whole}
        if missing:
            seen = {r.id for r in recs}
            recs = recs + [r for r in self.store.batches(missing) if r.id not in seen]
            self._whole |= missing
        return [self.records.setdefault(r.id, r) for r in recs]

    def versions_of(
        self, photo: Path, inputs: Iterable[Path]
    ) -> list[tuple[JobRecord, tuple[Path, str | None] | None]]:
        """Done jobs that may be versions of ``photo`` (see ``JobStore.versions_of``).

        Read by index from the database, then mapped to the records held here, so that a
        photo's history never needs the whole job list in memory.
        """
        out = []
        for rec, row in self.store.versions_of(photo, inputs):
            known = self.records.setdefault(rec.id, rec)
            if known.state is JobState.DONE:
                out.append((known, row))
        return out

    def earlier_results(self) -> frozenset[str]:
        """Every result file a job recorded (absolute paths as text).

        The whole history is read once (:meth:`read_results`, in a worker when the engine
        starts); each later call reads only the jobs changed since, by index. Reading and
        parsing every job's results on each folder opened took 80 ms of the GUI thread with
        10 000 jobs. Jobs written by another process meanwhile are found the same way.
        """
        found = set(self.read_results())
        for rec in self.records.values():
            found.update(str(p.absolute()) for p in rec.results)
        return frozenset(found)

    def read_results(self) -> frozenset[str]:
        """The result files in the database: read whole the first time, then what changed
        (written absolute: output folders are made so). Safe from any thread: the answer is
        a snapshot, never the set another thread goes on adding to."""
        with self._results_lock:
            if self._results is None:
                self._results, self._results_seen = self.store.result_paths()
            else:
                new, self._results_seen = self.store.result_paths(self._results_seen)
                self._results |= new
            return frozenset(self._results)

    async def prune(self, keep_days: float) -> list[str]:
        """Forget finished jobs that finished more than ``keep_days`` days ago.

        Runs the deletion in a worker thread; unfinished, unconfirmed and stalled jobs are
        never touched (``JobStore.prune``). Their scratch folders go too; result files and
        originals stay. Records held here are forgotten (``removed`` is told). Returns the ids.
        """
        if keep_days <= 0:
            return []
        cutoff = time.time() - keep_days * 86400
        ids = await asyncio.to_thread(self.store.prune, cutoff)
        if ids:
            with self._results_lock:  # the pruned jobs' results are photos like any other now
                self._results = self._results_seen = None
        for job_id in ids:
            rec = self.records.get(job_id)
            if rec is None or not rec.state.terminal or self._busy(job_id):
                continue
            del self.records[job_id]
            self._removed(rec)
        dirs = [self._work_dir(j) for j in ids]
        await asyncio.to_thread(lambda: [remove_scratch(d) for d in dirs])
        return ids
