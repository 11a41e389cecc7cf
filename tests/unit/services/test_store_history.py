"""A long job history: the engine reads unfinished jobs and one page of finished ones at start,
pages older ones on demand, and forgets finished jobs older than N days (never unfinished or
unconfirmed ones, never result files). Real SQLite files, the real engine."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from tests.doubles.fake_provider import SERVER_ENV, FakeServer, build_fake_runtime
from tests.doubles.history import seed_history

from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState
from retouchdesk.services.store import JobStore

pytestmark = pytest.mark.timeout(60)
DAY = 86400.0


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    return FakeServer(root)


def live_job(folder: Path, state: JobState, created: float, **extra) -> JobRecord:
    """An unfinished row as a crashed run leaves it."""
    return JobRecord(
        id=uuid.uuid4().hex,
        provider="fake",
        operation="brighten",
        input_path=folder / f"{state.value}.jpg",
        params={},
        output_dir=folder / "out",
        name_template="{stem}_{operation}",
        state=state,
        created_at=created,
        updated_at=created,
        **extra,
    )


def test_start_reads_unfinished_jobs_and_one_page_of_the_newest_finished(tmp_path, server):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    history = seed_history(store, 2000, folder=tmp_path)
    ancient = time.time() - 400 * DAY  # older than every finished job: no page reaches it
    live = [
        live_job(tmp_path, JobState.UNCONFIRMED, ancient, submit_started=True),
        live_job(tmp_path, JobState.STALLED, ancient + 1, remote_id="r-1"),
    ]
    store.insert_many([(r, None) for r in live])
    store.close()

    rt = build_fake_runtime(db, history_page=50)
    engine = rt.engine
    # The engine alone (the CLI) reads only what it must resume: no history at all.
    assert {r.id for r in engine.jobs()} == {r.id for r in live}
    engine.history.read_newest()  # a job list's first view: the newest page
    engine.history.read_newest()  # asked twice, still one page
    loaded = {r.id for r in engine.jobs()}
    assert len(loaded) == 50 + len(live)  # rows read, not the 2 002 in the file
    assert loaded - {r.id for r in live} == {r.id for r in history[:50]}  # the newest page
    assert engine.history.has_older

    # A finished job that was not read is still one call away (one row, kept afterwards).
    old = history[1500]
    got = engine.get(old.id)
    assert got is not None and got.state is old.state and got.results == old.results
    assert engine.get(old.id) is got
    rt.store.close()


def test_pages_reach_every_finished_job_once_newest_first(tmp_path, server):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    # Batches of 7 among single jobs; a batch comes whole even when a page boundary cuts it.
    history = seed_history(store, 230, folder=tmp_path, batch_every=20, batch_size=7)
    store.close()
    rt = build_fake_runtime(db, history_page=30)
    engine = rt.engine
    engine.history.read_newest()
    seen = [r.id for r in engine.jobs()]
    pages = 1
    while engine.history.has_older:
        page = engine.history.load_older()
        seen += [r.id for r in page]
        pages += 1
        assert pages < 20
    assert len(seen) == len(set(seen)) == 230
    assert engine.history.load_older() == []
    for rec in engine.jobs():  # every batch read is read whole
        if rec.batch_id:
            whole = [h.id for h in history if h.batch_id == rec.batch_id]
            assert {r.id for r in engine.batch_jobs(rec.batch_id)} == set(whole)
    first = {r.id for r in history[:30]}
    assert first <= set(seen[: 30 + 7])  # the first page holds the newest, completed batches
    rt.store.close()


def test_the_page_query_walks_an_index_not_the_table(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT rowid AS _rowid, * FROM jobs "
        "WHERE +state IN ('done', 'failed', 'cancelled') "
        "ORDER BY created_at DESC, rowid DESC LIMIT 10"
    ).fetchall()
    text = " ".join(str(tuple(r)) for r in plan)
    assert "jobs_created" in text and "TEMP B-TREE" not in text, text
    versions = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs j WHERE j.input_path IN (?) AND j.state = 'done'",
        ("x",),
    ).fetchall()
    assert "jobs_input" in " ".join(str(tuple(r)) for r in versions)
    store.close()


def test_an_old_database_gets_the_history_indexes(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    store._db.execute("DROP INDEX jobs_created")
    store._db.execute("DROP INDEX jobs_input")
    store._db.execute("DROP INDEX jobs_updated")
    store._db.execute("PRAGMA user_version = 4")
    store.close()
    store = JobStore(db)
    assert store.schema_version == 6
    names = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert {"jobs_created", "jobs_input", "jobs_updated"} <= names
    store.close()


async def test_prune_forgets_old_finished_jobs_only(tmp_path, server):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    now = time.time()
    old = seed_history(store, 40, folder=tmp_path, newest=now - 100 * DAY, step=DAY)
    recent = seed_history(store, 10, folder=tmp_path, newest=now - 2 * DAY, step=3600)
    unfinished = [
        live_job(tmp_path, JobState.UNCONFIRMED, now - 300 * DAY, submit_started=True),
        live_job(tmp_path, JobState.STALLED, now - 300 * DAY, remote_id="r-9"),
        live_job(tmp_path, JobState.SUBMITTED, now - 200 * DAY, remote_id="r-8"),
    ]
    store.insert_many([(r, None) for r in unfinished])
    for r in old[:5]:
        store.add_version(r.id, r.input_path, None)
    store.close()
    # The result and the photo of a pruned job, and its scratch folder.
    victim = next(r for r in old if r.state is JobState.DONE)
    victim.input_path.write_bytes(b"original")
    victim.results[0].parent.mkdir(parents=True, exist_ok=True)
    victim.results[0].write_bytes(b"result")

    rt = build_fake_runtime(db, history_page=1000, work_root=tmp_path / "work")
    engine = rt.engine
    engine.history.read_newest()  # what a job list shows: its listeners hear of the forgotten ones
    scratch = tmp_path / "work" / victim.id
    scratch.mkdir(parents=True)
    (scratch / "download_0.png").write_bytes(b"partial")
    events: list[JobEvent] = []
    engine.subscribe(events.append)

    pruned = await engine.history.prune(90)
    assert set(pruned) == {r.id for r in old}
    left = {r.id for r in rt.store.all()}
    assert left == {r.id for r in recent} | {r.id for r in unfinished}
    assert not set(rt.store.version_rows([r.id for r in old[:5]]))
    assert victim.input_path.read_bytes() == b"original"
    assert victim.results[0].read_bytes() == b"result"
    assert not scratch.exists()
    assert {e.job_id for e in events if e.kind is EventKind.REMOVED} == {r.id for r in old}
    assert all(engine.get(r.id) is None for r in old)
    assert await engine.history.prune(0) == []  # 0 keeps forever
    rt.store.close()


async def test_prune_spares_a_job_retried_since_it_finished(tmp_path, server):
    """The deletion checks the state again: a job queued again is no longer finished."""
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    (old,) = seed_history(store, 1, folder=tmp_path, newest=time.time() - 200 * DAY)
    cutoff = time.time() - 90 * DAY
    rec = store.get(old.id)
    assert rec is not None
    rec.state = JobState.QUEUED
    store.save(rec)
    assert store.prune(cutoff) == []
    assert store.get(old.id) is not None
    store.close()


def test_cli_jobs_prune_forgets_what_the_setting_would(tmp_path, capsys):
    from retouchdesk import cli
    from retouchdesk.services import paths
    from retouchdesk.services.store import default_path

    store = JobStore(default_path())
    now = time.time()
    old = seed_history(store, 12, folder=tmp_path, newest=now - 60 * DAY, step=DAY)
    recent = seed_history(store, 3, folder=tmp_path, newest=now - DAY, step=60)
    parked = live_job(tmp_path, JobState.UNCONFIRMED, now - 500 * DAY, submit_started=True)
    store.insert(parked)
    store.close()
    scratch = paths.cache_dir() / "jobs" / old[0].id
    scratch.mkdir(parents=True)

    assert cli.main(["jobs", "prune", "--older-than", "30"]) == 0
    assert "Forgot 12 finished jobs older than 30 days" in capsys.readouterr().out
    store = JobStore(default_path())
    assert {r.id for r in store.all()} == {r.id for r in recent} | {parked.id}
    store.close()
    assert not scratch.exists()
    assert cli.main(["jobs", "-n", "2"]) == 0  # the plain listing still works
    listed = capsys.readouterr().out
    assert "Jobs (2 shown" in listed
    store = JobStore(default_path())  # what it lists: the newest, through the index
    assert [r.id for r in store.recent(2)] == [recent[0].id, recent[1].id]
    assert [r.id for r in store.recent(0, "unconfirmed")] == [parked.id]
    store.close()
    assert cli.main(["jobs", "--state", "unconfirmed"]) == 0
    assert "Jobs (1 shown" in capsys.readouterr().out
    assert cli.main(["jobs", "prune", "--older-than", "-1"]) == 2
