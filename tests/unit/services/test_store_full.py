"""A full disk under the job database: one sentence, nothing sent, the jobs survive.

Two ways to fill the disk: SQLite's own ``database or disk is full`` error injected under the
store (runs everywhere), and a real, tiny tmpfs mounted in a private mount namespace under the
CLI's data folder (where ``unshare``/``mount`` are permitted, i.e. as root; skipped elsewhere).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.doubles.fake_provider import SERVER_ENV, FakeServer, build_fake_runtime

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services.engine import JobRequest
from retouchdesk.services.store import JobStore, StoreError, StoreFull

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(120)


class FullDisk:
    """The store's connection, answering writes as SQLite does on a full disk when ``full``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.full = False

    def _check(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if self.full and verb not in ("SELECT", "ROLLBACK", "PRAGMA"):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self._db.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _fill(store: JobStore) -> FullDisk:
    disk = FullDisk(store._db)
    store._db = disk  # type: ignore[assignment]
    return disk


def _record(tmp_path: Path) -> JobRecord:
    return JobRecord(
        id="job-1",
        provider="local",
        operation="upscale",
        input_path=tmp_path / "a.png",
        params={},
        output_dir=tmp_path,
        name_template="{stem}.{ext}",
    )


def test_every_write_says_the_disk_is_full_in_one_sentence(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    rec = _record(tmp_path)
    store.insert(rec)
    disk = _fill(store)
    disk.full = True
    calls = {
        "insert": lambda: store.insert(JobRecord(**{**rec.__dict__, "id": "job-2"})),
        "save": lambda: store.save(rec),
        "save_many": lambda: store.save_many([rec]),
        "counter": lambda: store.next_counter("youcam"),
        "owner": lambda: store.set_owner([rec.id], "host:1"),
    }
    for name, call in calls.items():
        with pytest.raises(StoreFull) as caught:
            call()
        text = str(caught.value)
        assert "disk is full" in text and str(store.path) in text, name
        assert "\n" not in text and caught.value.__cause__ is None, name
    assert store.get(rec.id).state is JobState.QUEUED  # reads still work
    disk.full = False  # space freed: the same store writes again, no transaction left open
    rec.message = "after"
    store.save(rec)
    assert store.next_counter("youcam") == 1
    assert store.get(rec.id).message == "after"
    store.close()


def test_other_database_failures_are_sentences_too(tmp_path):
    folder = tmp_path / "not-a-db"
    folder.mkdir()
    (folder / "jobs.sqlite3").write_bytes(b"this is not an SQLite file at all" * 100)
    with pytest.raises(StoreError) as caught:
        JobStore(folder / "jobs.sqlite3")
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    return FakeServer(root)


async def test_a_full_disk_mid_batch_fails_jobs_with_a_sentence_and_sends_nothing(
    tmp_path, server, data_dir, caplog
):
    photos = []
    for i in range(3):
        p = tmp_path / "in" / f"cat{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.open(data_dir / "chelsea.png").resize((64, 48)).save(p)
        photos.append(p)
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    batch = rt.engine.submit_batch(
        [JobRequest("fake", "brighten", p, {}, output_dir=tmp_path / "out") for p in photos]
    )
    ids = [r.id for r in rt.engine.batch_jobs(batch)]
    disk = _fill(rt.store)
    disk.full = True
    caplog.set_level(logging.INFO)
    rt.engine.start()
    done = await rt.engine.wait(ids, timeout=20)  # never hangs on a job it cannot record
    await rt.aclose()

    assert [r.state for r in done] == [JobState.FAILED] * 3
    for r in done:
        assert "disk is full" in r.error and "\n" not in r.error
    assert server.created() == []  # nothing was sent without a durable record first
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "disk is full" in str(rt.engine.store_error)

    # Space is freed: the rows never left "queued", so the next run does all three.
    rt2 = build_fake_runtime(db)
    rt2.engine.start(resume=True)
    again = await rt2.engine.wait(ids, timeout=30)
    await rt2.aclose()
    assert [r.state for r in again] == [JobState.DONE] * 3
    assert len(server.created()) == 3


def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /mnt"],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


CLI_ON_A_FULL_DISK = textwrap.dedent(
    """
    set -u
    mount -t tmpfs -o size=512k tmpfs "$RETOUCHDESK_HOME/data"
    "$PY" -m retouchdesk jobs > /dev/null 2>&1  # creates the database on the small disk
    dd if=/dev/zero of="$RETOUCHDESK_HOME/data/filler" bs=4k 2> /dev/null
    "$PY" -m retouchdesk run --provider local --op color_correction "$PHOTO" -o "$OUT" \
        > "$LOGS/full.out" 2> "$LOGS/full.err"
    echo "full=$?" > "$LOGS/codes"
    rm "$RETOUCHDESK_HOME/data/filler"
    "$PY" -m retouchdesk run --provider local --op color_correction "$PHOTO" -o "$OUT" \
        > "$LOGS/freed.out" 2> "$LOGS/freed.err"
    echo "freed=$?" >> "$LOGS/codes"
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="mounting a tmpfs is not permitted here")
def test_cli_on_a_really_full_disk_says_one_sentence_then_runs_once_space_is_freed(
    tmp_path, app_home, data_dir
):
    photo = tmp_path / "cat.png"
    Image.open(data_dir / "chelsea.png").resize((96, 64)).save(photo)
    logs = tmp_path / "logs"
    logs.mkdir()
    (app_home / "data").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(
        RETOUCHDESK_HOME=str(app_home),
        PY=sys.executable,
        PHOTO=str(photo),
        OUT=str(tmp_path / "out"),
        LOGS=str(logs),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "gui"), env.get("PYTHONPATH")])),
        COLUMNS="200",
    )
    subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", CLI_ON_A_FULL_DISK],
        env=env,
        timeout=100,
        check=True,
    )
    codes = dict(line.split("=") for line in (logs / "codes").read_text().split())
    err = (logs / "full.err").read_text()
    assert codes["full"] != "0"
    assert "Traceback" not in err and "disk is full" in err, err
    assert len(err.strip().splitlines()) == 1
    assert "done" not in (logs / "full.out").read_text()
    assert codes["freed"] == "0", (logs / "freed.err").read_text()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cat_color_correction_local.png"]
