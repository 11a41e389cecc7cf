"""The SQLite job store: durable rows, versioned schema, WAL, persistent counters."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services import store as store_mod
from retouchdesk.services.store import SCHEMA_VERSION, JobStore, StoreError


def record(**kw) -> JobRecord:
    base = dict(
        id="j1",
        provider="fake",
        operation="brighten",
        input_path=Path("/photos/a.jpg"),
        params={"amount": 1.5, "mask": None},
        output_dir=Path("/out"),
        name_template="{stem}_{operation}_{provider}.{ext}",
        idempotency_key="k1",
    )
    base.update(kw)
    return JobRecord(**base)


def test_default_location_is_the_data_dir(app_home: Path):
    s = JobStore()
    assert s.path == app_home / "data" / "jobs.sqlite3"
    s.close()


def test_round_trip_of_every_field(tmp_path: Path):
    s = JobStore(tmp_path / "j.sqlite3")
    rec = record(batch_id="b1")
    s.insert(rec, dedupe_key="d1")
    rec.state = JobState.RUNNING
    rec.remote_id = "r-9"
    rec.remote = {"file_id": "f", "n": [1, 2]}
    rec.submit_started = True
    rec.attempts = 3
    rec.cost = 2.5
    rec.cost_unit = "credits"
    rec.results = [Path("/out/a_x.jpg")]
    rec.result_meta = {"/out/a_x.jpg": {"engine": "classic"}}
    rec.progress = 0.4
    rec.message = "on the server"
    s.save(rec)
    s.close()

    again = JobStore(tmp_path / "j.sqlite3")
    got = again.get("j1")
    assert got == rec
    assert again.find_by_dedupe_key("d1") == rec
    assert again.dedupe_key("j1") == "d1"
    assert [r.id for r in again.unfinished()] == ["j1"]
    assert [r.id for r in again.batch("b1")] == ["j1"]
    again.delete("j1")
    assert again.get("j1") is None and again.all() == []
    again.close()


def test_wal_mode_and_schema_version(tmp_path: Path):
    s = JobStore(tmp_path / "j.sqlite3")
    assert s.schema_version == SCHEMA_VERSION
    s.close()
    db = sqlite3.connect(tmp_path / "j.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_newer_database_is_refused_with_a_sentence(tmp_path: Path):
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer Retouch Desk"):
        JobStore(path)


def test_migrations_apply_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    JobStore(tmp_path / "j.sqlite3").close()
    monkeypatch.setitem(store_mod._MIGRATIONS, SCHEMA_VERSION + 1, "CREATE TABLE extra (x INTEGER)")
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    s = JobStore(tmp_path / "j.sqlite3")
    assert s.schema_version == SCHEMA_VERSION + 1
    s.close()


def test_newest_job_wins_for_a_dedupe_key(tmp_path: Path):
    s = JobStore(tmp_path / "j.sqlite3")
    s.insert(record(id="old", created_at=1.0), dedupe_key="same")
    s.insert(record(id="new", created_at=2.0), dedupe_key="same")
    assert s.find_by_dedupe_key("same").id == "new"
    assert s.find_by_dedupe_key("other") is None
    s.close()


def test_counters_persist_and_never_repeat_across_threads_and_connections(tmp_path: Path):
    path = tmp_path / "j.sqlite3"
    a, b = JobStore(path), JobStore(path)
    seen: list[int] = []
    lock = threading.Lock()

    def take(st: JobStore) -> None:
        for _ in range(50):
            v = st.next_counter("youcam.request_id")
            with lock:
                seen.append(v)

    threads = [threading.Thread(target=take, args=(st,)) for st in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 201))
    a.close()
    b.close()
    c = JobStore(path)
    assert c.peek_counter("youcam.request_id") == 200
    assert c.next_counter("youcam.request_id") == 201
    assert c.next_counter("other", start=1000) == 1000
    c.close()


def test_a_version_1_database_is_migrated_and_keeps_its_jobs(tmp_path: Path):
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(store_mod._MIGRATIONS[1])
    db.execute(
        "INSERT INTO jobs (id, provider, operation, input_path, output_dir, name_template, "
        "state, created_at, updated_at) VALUES ('old', 'local', 'upscale', '/a.jpg', '/out', "
        "'{stem}.{ext}', 'done', 1, 1)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    s = JobStore(path)
    assert s.schema_version == SCHEMA_VERSION
    old = s.get("old")
    assert old.state is JobState.DONE and old.options == {} and old.params == {}
    s.close()


def test_a_version_3_database_gains_the_version_tree(tmp_path: Path):
    """Schema 4: the versions table is added to an existing database and survives a reopen."""
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    for v in (1, 2, 3):
        for statement in store_mod._MIGRATIONS[v].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    s = JobStore(path)
    assert s.schema_version == SCHEMA_VERSION >= 4
    s.add_version("a", Path("/p/photo.jpg"), None)
    s.add_version("b", Path("/p/photo.jpg"), "a")
    s.close()
    again = JobStore(path)
    assert again.versions() == {
        "a": (Path("/p/photo.jpg"), None),
        "b": (Path("/p/photo.jpg"), "a"),
    }
    again.close()


def test_planning_is_exclusive_and_a_claim_sees_the_other_process(tmp_path: Path):
    """Issue 10: while one connection plans (``exclusive``), another one's claim waits, then
    finds the job owned by a live process and leaves it alone."""
    db = tmp_path / "jobs.sqlite3"
    first, second = JobStore(db), JobStore(db)
    rec = record()
    first.insert(rec)
    outcome: list[tuple[list[str], dict]] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(second.claim([rec.id], "host:2", lambda o: o == "host:1"))
    )
    try:
        with first.exclusive():
            waiter.start()
            waiter.join(0.3)
            assert waiter.is_alive()  # blocked behind the planning transaction
            claimed, busy = first.claim([rec.id], "host:1", lambda o: False)
            assert claimed == [rec.id] and busy == {}
        waiter.join(10)
    finally:
        first.close()
        second.close()
    assert outcome == [([], {rec.id: "host:1"})]
