"""How job rows reach SQLite (services.saver.RowSaver): durable saves at once, lazy ones
coalesced a moment later, nothing for a forgotten job, and a full disk remembered once."""

from __future__ import annotations

import asyncio

import pytest
from tests.doubles.records import job_record

from retouchdesk.core.jobs import JobState
from retouchdesk.services.saver import RowSaver
from retouchdesk.services.store import JobStore, StoreError


async def test_lazy_saves_arrive_together_after_the_delay_and_durable_ones_at_once(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    a, b, gone = job_record("a"), job_record("b"), job_record("gone")
    store.insert_many([(a, None), (b, None), (gone, None)])
    saver = RowSaver(store, known=lambda job_id: job_id != "gone", delay=lambda: 0.05)
    a.message, b.message, gone.message = "lazy a", "lazy b", "never"
    saver.save(a, durable=False)
    saver.save(b, durable=False)
    saver.save(gone)
    assert store.get("a").message == ""  # type: ignore[union-attr]
    await asyncio.sleep(0.2)
    assert [store.get(j).message for j in "ab"] == ["lazy a", "lazy b"]  # type: ignore[union-attr]
    assert store.get("gone").message == ""  # type: ignore[union-attr]
    a.state = JobState.PREPARING
    saver.save(a)
    assert store.get("a").state is JobState.PREPARING  # type: ignore[union-attr]
    store.close()


async def test_a_failed_write_is_remembered_once_and_a_durable_one_raises(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    rec = job_record("a")
    store.insert(rec)
    first, second = StoreError("the disk is full"), StoreError("still full")
    failures = iter([first, second])

    def broken(*args, **kwargs):
        raise next(failures)

    store.save_many = broken  # type: ignore[method-assign]
    store.save = broken  # type: ignore[method-assign]
    saver = RowSaver(store, known=lambda job_id: True, delay=lambda: 10.0)
    saver.save(rec, durable=False)
    saver.flush()  # a lazy save that fails is only remembered
    assert saver.error is first
    with pytest.raises(StoreError):
        saver.save(rec)
    assert saver.error is first  # the first failure is the one kept
