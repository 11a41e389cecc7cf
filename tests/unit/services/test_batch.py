"""The batch planner (services.batch) over a real SQLite job store.

The CLI's ``run`` and the window's Apply / Apply to all both plan through it; the end-to-end
forms of these cases, counted on the pretend server, are in ``tests/e2e/test_batch_rules_cli.py``
and ``tests/ui/test_batch_rules_window.py``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services.batch import Decision, plan_batch, work_key
from retouchdesk.services.store import JobStore

_ids = itertools.count()


@pytest.fixture
def store(tmp_path: Path):
    s = JobStore(tmp_path / "jobs.sqlite3")
    yield s
    s.close()


def photo(folder: Path, name: str, content: bytes = b"pixels") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def key_of(path: Path) -> str:
    return work_key("fake", "brighten", path, {"amount": 1.5}, {"out": "/out"})


def record_job(store: JobStore, path: Path, state: JobState, results: list[Path] = ()) -> str:
    job_id = f"j{next(_ids)}"
    rec = JobRecord(
        id=job_id,
        provider="fake",
        operation="brighten",
        input_path=path,
        params={"amount": 1.5},
        output_dir=Path("/out"),
        name_template="{stem}.{ext}",
        idempotency_key=job_id,
        state=state,
        results=list(results),
    )
    store.insert(rec, dedupe_key=key_of(path))
    return job_id


def plan(store: JobStore, paths: list[Path], **kw):
    return plan_batch(paths, key_of, store.find_by_dedupe_key, path=lambda p: p, **kw)


def test_each_state_of_an_earlier_job_decides_what_is_sent(tmp_path: Path, store: JobStore):
    folder = tmp_path / "shoot"
    names = ["done", "gone", "failed", "cancelled", "running", "queued", "unconf", "stalled"]
    paths = {n: photo(folder, f"{n}.png", n.encode()) for n in [*names, "new"]}
    result = photo(tmp_path / "out", "done_x.png")
    ids = {
        "done": record_job(store, paths["done"], JobState.DONE, [result]),
        "gone": record_job(store, paths["gone"], JobState.DONE, [tmp_path / "out" / "deleted.png"]),
        "failed": record_job(store, paths["failed"], JobState.FAILED),
        "cancelled": record_job(store, paths["cancelled"], JobState.CANCELLED),
        "running": record_job(store, paths["running"], JobState.RUNNING),
        "queued": record_job(store, paths["queued"], JobState.QUEUED),
        "unconf": record_job(store, paths["unconf"], JobState.UNCONFIRMED),
        "stalled": record_job(store, paths["stalled"], JobState.STALLED),
    }
    got = plan(store, list(paths.values()))
    decisions = {p.entry.stem: p.decision for p in got.items}
    assert decisions == {
        "done": Decision.DONE,
        "gone": Decision.SUBMIT,  # its result was deleted: work to redo
        "failed": Decision.SUBMIT,
        "cancelled": Decision.SUBMIT,
        "running": Decision.RUNNING,
        "queued": Decision.RUNNING,
        "unconf": Decision.UNCONFIRMED,
        "stalled": Decision.STALLED,
        "new": Decision.SUBMIT,
    }
    by_stem = {p.entry.stem: p for p in got.items}
    assert by_stem["done"].previous.id == ids["done"]
    assert by_stem["done"].previous.results == [result]
    assert by_stem["failed"].previous is None and by_stem["new"].previous is None
    assert {p.entry.stem for p in got.unfinished} == {"running", "queued", "unconf", "stalled"}
    assert [p.entry.stem for p in got.submit] == ["gone", "failed", "cancelled", "new"]


def test_a_photo_listed_twice_is_planned_once_and_a_missing_one_is_named(
    tmp_path: Path, store: JobStore
):
    a = photo(tmp_path, "a.png")
    b = photo(tmp_path, "b.png", b"other")
    again = tmp_path / "a.png"  # named again (the CLI: a file and its folder)
    got = plan(store, [a, b, again, tmp_path / "nope.png"])
    assert [p.decision for p in got.items] == [
        Decision.SUBMIT,
        Decision.SUBMIT,
        Decision.DUPLICATE,
        Decision.MISSING,
    ]
    assert [p.entry for p in got.submit] == [a, b]


def test_force_sends_what_is_done_or_running_but_never_a_duplicate(tmp_path: Path, store: JobStore):
    done = photo(tmp_path, "done.png")
    running = photo(tmp_path, "running.png", b"r")
    record_job(store, done, JobState.DONE, [photo(tmp_path / "out", "r.png")])
    record_job(store, running, JobState.RUNNING)
    got = plan(store, [done, running, done], force=True)
    assert [p.decision for p in got.items] == [Decision.SUBMIT, Decision.SUBMIT, Decision.DUPLICATE]


def test_the_key_changes_with_the_file_and_the_settings(tmp_path: Path):
    p = photo(tmp_path, "a.png")
    base = work_key("fake", "brighten", p, {"amount": 1.5}, {"out": "/out"})
    assert base == key_of(p)  # stable: the same request in another process finds the job
    assert work_key("fake", "brighten", p, {"amount": 1.6}, {"out": "/out"}) != base
    assert work_key("fake", "brighten", p, {"amount": 1.5}, {"out": "/other"}) != base
    assert work_key("fake", "other", p, {"amount": 1.5}, {"out": "/out"}) != base
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the photo was edited
    assert key_of(p) != base
