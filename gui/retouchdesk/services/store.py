"""The durable job store: one SQLite row per job from the moment it is queued.

WAL mode with ``synchronous=NORMAL``: a committed transition survives a crash of the app (a
power cut may lose the last few, never corrupt the file). The schema carries a version number
(``PRAGMA user_version``) and is migrated forward on open. Several processes (the window and a
CLI batch) may share the file; writes are tiny and wait up to 5 s for each other.

Also here: per-provider persistent counters (``next_counter``), e.g. YouCam's ``request_id``,
which must never repeat for an account even across restarts.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services import paths

SCHEMA_VERSION = 6

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        batch_id TEXT,
        provider TEXT NOT NULL,
        operation TEXT NOT NULL,
        input_path TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        output_dir TEXT NOT NULL,
        name_template TEXT NOT NULL,
        state TEXT NOT NULL,
        progress REAL,
        message TEXT NOT NULL DEFAULT '',
        error TEXT,
        idempotency_key TEXT NOT NULL DEFAULT '',
        remote_id TEXT,
        remote TEXT NOT NULL DEFAULT '{}',
        submit_started INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        cost_unit TEXT NOT NULL DEFAULT '',
        results TEXT NOT NULL DEFAULT '[]',
        result_meta TEXT NOT NULL DEFAULT '{}',
        dedupe_key TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
    CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch_id);
    CREATE INDEX IF NOT EXISTS jobs_dedupe ON jobs(dedupe_key);
    CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # Job options (services.postprocess: protect the outside of a mask, ...).
    2: "ALTER TABLE jobs ADD COLUMN options TEXT NOT NULL DEFAULT '{}'",
    # The process running a job ("host:pid"), so two processes never run the same job.
    3: "ALTER TABLE jobs ADD COLUMN owner TEXT",
    # Versions of a photo as a tree: each job's photo and the version it continued from
    # (NULL: the original). Written when the job is queued, so a chain survives a crash.
    4: """
    CREATE TABLE IF NOT EXISTS versions (
        job_id TEXT PRIMARY KEY,
        photo TEXT NOT NULL,
        parent_id TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS versions_photo ON versions(photo);
    """,
    # A long history is read a page at a time (newest finished first) and a photo's versions
    # by its path: neither may walk every row.
    5: """
    CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
    CREATE INDEX IF NOT EXISTS jobs_input ON jobs(input_path);
    """,
    # The result files written since a moment (a folder opened skips them): read by the
    # change time, not by walking the whole history.
    6: """
    CREATE INDEX IF NOT EXISTS jobs_updated ON jobs(updated_at);
    """,
}

# Finished for good: the rows a page of history and the prune deal with. Unconfirmed and
# stalled jobs are not among them (they protect against paying twice).
_FINISHED = "('done', 'failed', 'cancelled')"
_LIVE = ", ".join(f"'{s.value}'" for s in JobState if not s.terminal)

_COLUMNS = (
    "id",
    "batch_id",
    "provider",
    "operation",
    "input_path",
    "params",
    "output_dir",
    "name_template",
    "state",
    "progress",
    "message",
    "error",
    "idempotency_key",
    "remote_id",
    "remote",
    "submit_started",
    "attempts",
    "cost",
    "cost_unit",
    "results",
    "result_meta",
    "options",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
)
_UPDATE_SQL = "UPDATE jobs SET " + ", ".join(f"{c} = ?" for c in _COLUMNS[1:]) + " WHERE id = ?"
_INSERT_SQL = (
    f"INSERT INTO jobs ({', '.join(_COLUMNS)}, dedupe_key, owner) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}, ?, ?)"
)


class StoreError(RetouchError):
    """The job database cannot be opened, read or written, or is newer than this app.

    A :class:`RetouchError`, so the CLI and the engine show its one sentence, never a
    traceback.
    """


class StoreFull(StoreError):
    """The disk holding the job database is full: nothing more can be recorded."""


def _no_space(path: Path) -> bool:
    """Whether the file system holding ``path`` has (almost) no space left for us."""
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):  # no statvfs on Windows: SQLite's own message decides
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def _store_error(path: Path, exc: sqlite3.Error, doing: str) -> StoreError:
    """One sentence for an SQLite failure (the disk-full case says what to do)."""
    text = str(exc)
    low = text.lower()
    # SQLITE_FULL, or an I/O error (the WAL index cannot grow) on a disk with no space left.
    if "full" in low or getattr(exc, "sqlite_errorcode", None) == 13 or _no_space(path):
        return StoreFull(
            f"The job database {path} cannot be {doing}: its disk is full. Free some space "
            "and run again; unfinished jobs resume where they stopped"
        )
    return StoreError(f"The job database {path} cannot be {doing} ({text})")


def default_path() -> Path:
    return paths.data_dir() / "jobs.sqlite3"


def _to_row(rec: JobRecord) -> tuple[Any, ...]:
    return (
        rec.id,
        rec.batch_id,
        rec.provider,
        rec.operation,
        str(rec.input_path),
        json.dumps(rec.params, default=str, sort_keys=True),
        str(rec.output_dir),
        rec.name_template,
        str(rec.state),
        rec.progress,
        rec.message,
        rec.error,
        rec.idempotency_key,
        rec.remote_id,
        json.dumps(rec.remote, default=str),
        int(rec.submit_started),
        rec.attempts,
        rec.cost,
        rec.cost_unit,
        json.dumps([str(p) for p in rec.results]),
        json.dumps(rec.result_meta, default=str),
        json.dumps(rec.options, default=str),
        rec.created_at,
        rec.updated_at,
        rec.started_at,
        rec.finished_at,
    )


def _from_row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        batch_id=row["batch_id"],
        provider=row["provider"],
        operation=row["operation"],
        input_path=Path(row["input_path"]),
        params=json.loads(row["params"]),
        output_dir=Path(row["output_dir"]),
        name_template=row["name_template"],
        state=JobState(row["state"]),
        progress=row["progress"],
        message=row["message"],
        error=row["error"],
        idempotency_key=row["idempotency_key"],
        remote_id=row["remote_id"],
        remote=json.loads(row["remote"]),
        submit_started=bool(row["submit_started"]),
        attempts=row["attempts"],
        cost=row["cost"],
        cost_unit=row["cost_unit"],
        results=[Path(p) for p in json.loads(row["results"])],
        result_meta=json.loads(row["result_meta"]),
        options=json.loads(row["options"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class JobStore:
    """Jobs and counters in one SQLite file; safe to call from any thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of _tx (exclusive() holds the outer transaction)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"The job database {self.path} cannot be opened: {exc}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (sqlite3.Error, StoreError) as exc:
            with suppress(sqlite3.Error):
                self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise _store_error(self.path, exc, "opened") from None

    # -- schema ---------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._lock, self._tx():
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"The job database {self.path} was written by a newer Retouch Desk "
                    f"(schema {current}, this version knows {SCHEMA_VERSION})"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: takes the write lock at once, so counters never race.

        Nested use (inside :meth:`exclusive`) joins the outer transaction.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
        with self._lock, self._guard("written"):
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._depth = 0
                # SQLite may have rolled back already (a full disk does): nothing to undo then.
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn SQLite failures (disk full, I/O error, read-only) into one StoreError sentence."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc, doing) from None

    @contextmanager
    def exclusive(self) -> Iterator[JobStore]:
        """Hold the database's write lock: another process's planning waits until the end.

        The CLI plans a batch (find earlier jobs by key, insert new ones, claim the ones to
        resume) inside this, so two identical commands started at once cannot both queue the
        same photo: the second sees the first one's rows and their live owner.
        """
        with self._tx():
            yield self

    def claim(
        self, job_ids: Iterable[str], owner: str, alive: Callable[[str | None], bool]
    ) -> tuple[list[str], dict[str, str | None]]:
        """Atomically take the jobs no live process owns; returns (claimed, busy owners)."""
        ids = list(job_ids)
        if not ids:
            return [], {}
        with self._tx() as db:
            owners = self.owners(ids)
            busy = {i: o for i, o in owners.items() if alive(o)}
            claimed = [i for i in ids if i not in busy]
            db.executemany("UPDATE jobs SET owner = ? WHERE id = ?", [(owner, i) for i in claimed])
        return claimed, busy

    # -- jobs -----------------------------------------------------------------------------

    def insert(
        self, rec: JobRecord, *, dedupe_key: str | None = None, owner: str | None = None
    ) -> None:
        with self._lock, self._guard("written"):
            self._db.execute(_INSERT_SQL, (*_to_row(rec), dedupe_key, owner))

    def insert_many(
        self, items: Iterable[tuple[JobRecord, str | None]], *, owner: str | None = None
    ) -> None:
        with self._tx() as db:
            db.executemany(_INSERT_SQL, [(*_to_row(r), k, owner) for r, k in items])

    def set_owner(self, job_ids: Iterable[str], owner: str | None) -> None:
        """Record which process runs these jobs (``host:pid``)."""
        with self._tx() as db:
            db.executemany("UPDATE jobs SET owner = ? WHERE id = ?", [(owner, i) for i in job_ids])

    def owners(self, job_ids: Iterable[str]) -> dict[str, str | None]:
        ids = list(job_ids)
        out: dict[str, str | None] = {}
        with self._lock, self._guard("read"):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self._db.execute(
                    f"SELECT id, owner FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                out.update({r[0]: r[1] for r in rows})
        return out

    def save(self, rec: JobRecord) -> None:
        """Write every field of ``rec`` (one small UPDATE; the caller sets ``updated_at``)."""
        row = _to_row(rec)
        with self._lock, self._guard("written"):
            self._db.execute(_UPDATE_SQL, (*row[1:], row[0]))

    def save_many(self, recs: Iterable[JobRecord]) -> None:
        """Write several records in one transaction."""
        rows = [_to_row(r) for r in recs]
        with self._tx() as db:
            db.executemany(_UPDATE_SQL, [(*row[1:], row[0]) for row in rows])

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock, self._guard("read"):
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def delete(self, job_id: str) -> None:
        with self._lock, self._guard("written"):
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def all(self) -> list[JobRecord]:
        with self._lock, self._guard("read"):
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created_at, rowid").fetchall()
        return [_from_row(r) for r in rows]

    def recent(self, limit: int = 0, state: str | None = None) -> list[JobRecord]:
        """The newest jobs first (``limit`` 0: all), optionally of one state (the CLI's list)."""
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        with self._lock, self._guard("read"):
            rows = self._db.execute(
                f"SELECT * FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*args, limit if limit > 0 else -1),
            ).fetchall()
        return [_from_row(r) for r in rows]

    def unfinished(self) -> list[JobRecord]:
        """Jobs a previous run left in a live state (to resume, re-queue or fail)."""
        with self._lock, self._guard("read"):
            # The live states named (not "NOT IN" the finished ones): the state index then
            # finds them without reading the finished history.
            rows = self._db.execute(
                f"SELECT * FROM jobs WHERE state IN ({_LIVE}) ORDER BY created_at, rowid"
            ).fetchall()
        return [_from_row(r) for r in rows]

    def finished_page(
        self, limit: int, before: tuple[float, int] | None = None
    ) -> tuple[list[JobRecord], tuple[float, int] | None, bool]:
        """The newest ``limit`` finished jobs created before ``before`` (a cursor).

        Returns the records (newest first), the cursor of the last one (for the next page)
        and whether older finished jobs remain. Walks the ``created_at`` index backwards: the
        cost is the page's, whatever the length of the history.
        """
        where = f"+state IN {_FINISHED}"  # '+': walk the created_at index, not the state one
        args: list[Any] = []
        if before is not None:
            where += " AND (created_at < ? OR (created_at = ? AND rowid < ?))"
            args += [before[0], before[0], before[1]]
        with self._lock, self._guard("read"):
            rows = self._db.execute(
                f"SELECT rowid AS _rowid, * FROM jobs WHERE {where} "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = (rows[-1]["created_at"], rows[-1]["_rowid"]) if rows else before
        return [_from_row(r) for r in rows], cursor, more

    def batches(self, batch_ids: Iterable[str]) -> list[JobRecord]:
        """Every job of these batches (a page of history shows a batch whole)."""
        ids = list(dict.fromkeys(batch_ids))
        out: list[JobRecord] = []
        with self._lock, self._guard("read"):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self._db.execute(
                    f"SELECT * FROM jobs WHERE batch_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY created_at, rowid",
                    chunk,
                ).fetchall()
                out += [_from_row(r) for r in rows]
        return out

    def count_by_state(self) -> dict[str, int]:
        """How many rows each state has (a full recount, for checks and the CLI)."""
        with self._lock, self._guard("read"):
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def versions_of(
        self, photo: Path, inputs: Iterable[Path]
    ) -> list[tuple[JobRecord, tuple[Path, str | None] | None]]:
        """Done jobs that may be versions of ``photo``, each with its version row.

        Those recorded as versions of ``photo`` (the ``versions`` table), and those made from
        one of ``inputs`` that have no version row (jobs from before the table existed, or
        from the CLI). Both through indexes: the cost follows the photo's own history.
        """
        paths = [str(p) for p in dict.fromkeys([*inputs])]
        out: list[tuple[JobRecord, tuple[Path, str | None] | None]] = []
        with self._lock, self._guard("read"):
            rows = self._db.execute(
                "SELECT j.*, v.photo AS _v_photo, v.parent_id AS _v_parent "
                "FROM versions v JOIN jobs j ON j.id = v.job_id "
                "WHERE v.photo = ? AND j.state = 'done'",
                (str(photo),),
            ).fetchall()
            out += [(_from_row(r), (Path(r["_v_photo"]), r["_v_parent"])) for r in rows]
            for start in range(0, len(paths), 500):
                chunk = paths[start : start + 500]
                rows = self._db.execute(
                    f"SELECT * FROM jobs j WHERE j.input_path IN ({', '.join('?' * len(chunk))}) "
                    "AND j.state = 'done' "
                    "AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.job_id = j.id)",
                    chunk,
                ).fetchall()
                out += [(_from_row(r), None) for r in rows]
        return out

    def result_paths(self, since: float | None = None) -> tuple[set[str], float | None]:
        """The result files jobs recorded (a folder scan skips them as inputs): of every job,
        or of the jobs changed at or after ``since``; and the latest change time among them
        (None when there were none), to pass as ``since`` next time."""
        query = "SELECT results, updated_at FROM jobs WHERE results != '[]'"
        args: tuple[float, ...] = ()
        if since is not None:
            query += " AND updated_at >= ?"
            args = (since,)
        with self._lock, self._guard("read"):
            rows = self._db.execute(query, args).fetchall()
        out: set[str] = set()
        latest = since
        for text, changed in rows:
            out.update(json.loads(text))
            latest = changed if latest is None else max(latest, changed)
        return out, latest

    def prune(self, finished_before: float) -> list[str]:
        """Delete finished jobs (done, failed, cancelled) that finished before the time.

        Unfinished, unconfirmed and stalled jobs are never touched: they are what keeps a
        job from being sent (and paid) twice. Their version rows go with them. Returns the
        ids deleted (the caller removes their scratch folders; result files stay).
        """
        old = f"state IN {_FINISHED} AND COALESCE(finished_at, updated_at) < ?"
        with self._lock, self._guard("read"):
            ids = [
                r[0]
                for r in self._db.execute(
                    f"SELECT id FROM jobs WHERE {old}", (finished_before,)
                ).fetchall()
            ]
        deleted: list[str] = []
        # Small transactions: the window's own writes never wait long for the lock.
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            marks = ", ".join("?" * len(chunk))
            with self._tx() as db:
                # The condition again: a job retried meanwhile is no longer finished.
                gone = [
                    r[0]
                    for r in db.execute(
                        f"DELETE FROM jobs WHERE id IN ({marks}) AND {old} RETURNING id",
                        (*chunk, finished_before),
                    ).fetchall()
                ]
                if gone:
                    db.execute(
                        f"DELETE FROM versions WHERE job_id IN ({', '.join('?' * len(gone))})",
                        gone,
                    )
            deleted += gone
        return deleted

    def batch(self, batch_id: str) -> list[JobRecord]:
        with self._lock, self._guard("read"):
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE batch_id = ? ORDER BY created_at, rowid", (batch_id,)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def find_by_dedupe_key(self, key: str) -> JobRecord | None:
        """The newest job created with ``key`` (the CLI uses it to skip finished work)."""
        with self._lock, self._guard("read"):
            row = self._db.execute(
                "SELECT * FROM jobs WHERE dedupe_key = ? ORDER BY created_at DESC, rowid DESC "
                "LIMIT 1",
                (key,),
            ).fetchone()
        return _from_row(row) if row else None

    def dedupe_key(self, job_id: str) -> str | None:
        with self._lock, self._guard("read"):
            row = self._db.execute("SELECT dedupe_key FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    # -- versions -------------------------------------------------------------------------

    def add_version(self, job_id: str, photo: Path, parent_id: str | None) -> None:
        """Record that ``job_id`` makes a version of ``photo`` continuing from ``parent_id``."""
        with self._lock, self._guard("written"):
            self._db.execute(
                "INSERT OR REPLACE INTO versions (job_id, photo, parent_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                (job_id, str(photo), parent_id, time.time()),
            )

    def version_rows(self, job_ids: Iterable[str]) -> dict[str, tuple[Path, str | None]]:
        """The version rows of these jobs only: job id -> (photo, parent job id or None)."""
        ids = list(job_ids)
        out: dict[str, tuple[Path, str | None]] = {}
        with self._lock, self._guard("read"):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self._db.execute(
                    "SELECT job_id, photo, parent_id FROM versions "
                    f"WHERE job_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                out.update({r[0]: (Path(r[1]), r[2]) for r in rows})
        return out

    def versions(self) -> dict[str, tuple[Path, str | None]]:
        """Every recorded version: job id -> (photo, parent job id or None)."""
        with self._lock, self._guard("read"):
            rows = self._db.execute("SELECT job_id, photo, parent_id FROM versions").fetchall()
        return {r[0]: (Path(r[1]), r[2]) for r in rows}

    # -- counters -------------------------------------------------------------------------

    def next_counter(self, name: str, *, start: int = 1) -> int:
        """The next value of a named counter, persisted before it is returned (never reused)."""
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                (name, start),
            ).fetchone()
        return int(row[0])

    def peek_counter(self, name: str) -> int | None:
        with self._lock, self._guard("read"):
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock, suppress(sqlite3.Error):
            self._db.close()

    def touch(self, rec: JobRecord) -> None:
        rec.updated_at = time.time()
        self.save(rec)
