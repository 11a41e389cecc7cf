"""The engine's table of jobs (services.history.JobHistory) on its own, over a real database:
pages come newest first and batches whole, a row read once stays one object, and pruning
tells its owner what it forgot, never a job that still runs."""

from __future__ import annotations

import time
from pathlib import Path

from tests.doubles.history import seed_history

from retouchdesk.core.jobs import JobRecord
from retouchdesk.services.history import JobHistory
from retouchdesk.services.store import JobStore

DAY = 86400.0


def history(store: JobStore, tmp_path: Path, *, page: int, busy=(), removed=None) -> JobHistory:
    return JobHistory(
        store,
        page=lambda: page,
        busy=lambda job_id: job_id in busy,
        removed=(removed.append if removed is not None else lambda rec: None),
        work_dir=lambda job_id: tmp_path / "work" / job_id,
    )


def test_pages_come_newest_first_with_their_batches_whole(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    seeded = seed_history(store, 60, folder=tmp_path, batch_every=30, batch_size=20)
    h = history(store, tmp_path, page=10)
    assert h.jobs() == [] and h.has_older  # nothing finished is read before it is asked for
    h.read_newest()
    h.read_newest()  # asked twice, still one page
    first = h.jobs()
    assert seeded[0].id in {r.id for r in first}
    assert len(first) == 20  # the page's 10 rows drew in the rest of their batch
    while h.has_older:
        h.load_older()
    assert {r.id for r in h.jobs()} == {r.id for r in seeded}
    assert h.load_older() == []
    batch = seeded[0].batch_id
    assert batch is not None and len(h.batch_jobs(batch)) == 20
    store.close()


def test_a_row_read_by_id_stays_the_one_object_holders_see(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    seeded = seed_history(store, 3, folder=tmp_path)
    h = history(store, tmp_path, page=50)
    one = h.get(seeded[1].id)
    assert one is not None and h.get(seeded[1].id) is one
    h.read_newest()
    assert [r for r in h.jobs() if r.id == one.id] == [one]
    assert str(one.results[0].absolute()) in h.earlier_results()
    store.close()


async def test_prune_forgets_old_finished_jobs_but_not_running_ones(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    old = seed_history(store, 4, folder=tmp_path, newest=time.time() - 100 * DAY)
    removed: list[JobRecord] = []
    h = history(store, tmp_path, page=50, busy={old[0].id}, removed=removed)
    h.read_newest()
    scratch = tmp_path / "work" / old[1].id
    scratch.mkdir(parents=True)
    ids = await h.prune(90)
    assert set(ids) == {r.id for r in old}  # gone from the database
    assert {r.id for r in removed} == {r.id for r in old[1:]}  # the running one is kept
    assert [r.id for r in h.jobs()] == [old[0].id]
    assert not scratch.exists()
    assert await h.prune(0) == []  # 0 keeps forever
    store.close()


def test_earlier_results_read_the_history_once_then_only_what_changed(tmp_path, monkeypatch):
    """A folder opened asks for every result file the history recorded (a scan skips them).
    With 10 000 jobs, reading and parsing them all on every open took 80 ms of the window's
    thread; after the first read (in a worker at start) only jobs changed since are read."""
    import json

    from retouchdesk.services import store as store_mod

    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    seeded = seed_history(store, 300, folder=tmp_path / "shoot")
    h = history(store, tmp_path, page=50)
    first = h.earlier_results()
    assert {str(r.results[0].absolute()) for r in seeded if r.results} <= first

    parsed: list[str] = []
    real = json.loads

    def counting(text, *a, **k):
        parsed.append(text)
        return real(text, *a, **k)

    monkeypatch.setattr(store_mod.json, "loads", counting)
    assert h.earlier_results() == first
    assert len(parsed) <= 2, len(parsed)  # the newest row again at most, never the history

    # Another process (the CLI) finishes a job meanwhile: the next open skips its result too.
    other = JobStore(path)
    later = seed_history(other, 1, folder=tmp_path / "later", newest=time.time())
    other.close()
    parsed.clear()
    now = h.earlier_results()
    assert str(later[0].results[0].absolute()) in now
    assert len(parsed) <= 3, len(parsed)
    store.close()


async def test_pruned_jobs_results_are_photos_again(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    old = seed_history(store, 3, folder=tmp_path / "old", newest=time.time() - 100 * DAY)
    recent = seed_history(store, 2, folder=tmp_path / "recent")
    h = history(store, tmp_path, page=50)
    before = h.earlier_results()
    assert str(old[0].results[0].absolute()) in before
    await h.prune(90)
    after = h.earlier_results()
    assert str(old[0].results[0].absolute()) not in after
    assert str(recent[0].results[0].absolute()) in after
    store.close()
