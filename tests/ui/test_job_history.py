"""The job panel over a long history (issue 15, item 5): counts kept by events and always equal
to a recount, older jobs paged in when the list is scrolled to its end or on "Show older jobs",
old finished jobs forgotten at start by the Settings › General value (never unfinished or
unconfirmed ones, never result files). Real window, real engine, real SQLite."""

from __future__ import annotations

import asyncio
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from tests.doubles.fake_provider import build_fake_runtime
from tests.doubles.history import seed_history

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.model.jobs import COL_PHOTO, JobsModel
from retouchdesk.services.store import JobStore

DAY = 86400.0


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def counts(jobs: JobsModel) -> dict[str, int]:
    """The kept counts a recount can check (the arrival counters have no recount)."""
    c = jobs.counts()
    return {k: c[k] for k in ("live", "done", "failed", "failed_recent")}


def recount(jobs: JobsModel) -> dict[str, int]:
    """The counts by walking every row (what counts() must equal without walking)."""
    c = {"live": 0, "done": 0, "failed": 0, "failed_recent": 0}
    for jid in jobs.job_ids():
        r = jobs.record(jid)
        assert r is not None
        if not r.state.terminal:
            c["live"] += 1
        elif r.state is JobState.DONE:
            c["done"] += 1
        elif r.state is JobState.FAILED:
            c["failed"] += 1
            if (r.finished_at or r.updated_at) >= jobs.started:
                c["failed_recent"] += 1
    return c


def seeded_runtime(tmp_path: Path, n: int, page: int, **seed: Any) -> tuple[Any, list]:
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    history = seed_history(store, n, folder=tmp_path / "old", **seed)
    store.close()
    return build_fake_runtime(db, history_page=page), history


def photo_names(jobs: JobsModel) -> list[str]:
    return [jobs.index(r, COL_PHOTO).data() for r in range(jobs.rowCount())]


def test_counts_follow_every_event_and_equal_a_recount(
    qtbot, make_window, photo_dir, fake_runtime_factory, tmp_path
):
    server = fake_runtime_factory.server()
    server.set_script(duration=0.4, poll_interval=0.02, fail_inputs=["chelsea.png"])
    rt, _ = seeded_runtime(tmp_path, 130, 40)
    w = make_window(rt)
    jobs = w.model.jobs
    assert counts(jobs) == recount(jobs)
    assert jobs.counts()["live"] == 0 and jobs.counts()["done"] > 0

    w.open_paths([photo_dir])
    w.model.operation.select("fake.brighten")
    ids = run(qtbot, w.model.session.queue(w.model.photos.paths))
    assert len(ids) == 3
    assert counts(jobs) == recount(jobs) and jobs.counts()["live"] == 3
    astronaut = next(j for j in ids if jobs.record(j).input_path.name == "astronaut.png")
    assert jobs.cancel([astronaut]) == 1
    qtbot.waitUntil(lambda: jobs.counts()["live"] == 0, timeout=20_000)
    assert counts(jobs) == recount(jobs)
    assert jobs.counts()["failed_recent"] == 1  # chelsea; yesterday's failures are not news
    assert "1 failed" in w.jobs_label.text()

    failed = next(j for j in ids if jobs.record(j).state is JobState.FAILED)
    server.set_script(duration=0.05, poll_interval=0.02, fail_inputs=[])
    assert jobs.retry([failed]) == 1
    assert counts(jobs) == recount(jobs) and jobs.counts()["failed_recent"] == 0
    qtbot.waitUntil(lambda: jobs.record(failed).state is JobState.DONE, timeout=20_000)
    assert counts(jobs) == recount(jobs)

    before = jobs.counts()
    assert before["finished_done"] == 2 and before["finished_failed"] == 1  # arrivals
    assert jobs.load_older() > 0  # a page of history: more finished rows, counted too
    assert counts(jobs) == recount(jobs) and jobs.counts()["done"] > before["done"]
    assert jobs.remove([astronaut, jobs.job_ids()[-1]]) == 2
    assert counts(jobs) == recount(jobs)
    # What the end-of-queue notification counts is untouched by paging and removing.
    after = jobs.counts()
    assert (after["finished_done"], after["finished_failed"]) == (2, 1)

    # A new model over the same engine (the window reopened) starts from the same counts.
    again = JobsModel(w.model.engine, w.model.catalog)
    assert counts(again) == recount(again)
    again.close()


def test_start_lists_one_page_and_scrolling_to_the_end_shows_older_jobs(
    qtbot, make_window, fake_runtime_factory, tmp_path
):
    rt, history = seeded_runtime(tmp_path, 2000, 50)
    w = make_window(rt)
    jobs, panel = w.model.jobs, w.jobs
    assert len(w.model.engine.jobs()) == 50  # rows read at start: a page, not 2 000
    assert photo_names(jobs) == [r.input_path.name for r in history[:50]]
    panel.show()
    panel.resize(900, 400)
    qtbot.waitUntil(panel.older_button.isVisible)

    # The photographer scrolls to the end of the list: the next page comes in below.
    panel.view.scrollToBottom()
    bar = panel.view.verticalScrollBar()
    qtbot.waitUntil(lambda: jobs.rowCount() > 50, timeout=5_000)
    assert photo_names(jobs) == [r.input_path.name for r in history[: jobs.rowCount()]]
    assert bar.value() > 0  # older rows came in below: the view was not thrown to the top

    # "Show older jobs", clicked until the history ends.
    for _ in range(60):
        if not panel.older_button.isVisible():
            break
        qtbot.mouseClick(panel.older_button, Qt.MouseButton.LeftButton)
    assert not panel.older_button.isVisible()
    assert photo_names(jobs) == [r.input_path.name for r in history]
    assert counts(jobs) == recount(jobs)


def test_old_finished_jobs_are_forgotten_at_start_and_nothing_else(
    qtbot, make_window, fake_runtime_factory, tmp_path
):
    from retouchdesk.services.settings import Settings

    # Without idempotent submission, the unconfirmed job stays unconfirmed at start.
    fake_runtime_factory.server().set_script(idempotent=False)
    settings = Settings()
    settings.set("jobs", "keep_days", 30)
    now = time.time()
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    old = seed_history(store, 25, folder=tmp_path / "old", newest=now - 40 * DAY, step=DAY)
    recent = seed_history(store, 5, folder=tmp_path / "new", newest=now - 3 * DAY, step=3600)
    parked = JobRecord(
        id=uuid.uuid4().hex,
        provider="fake",
        operation="brighten",
        input_path=tmp_path / "old" / "sent_once.jpg",
        params={},
        output_dir=tmp_path / "out",
        name_template="{stem}_{operation}",
        state=JobState.UNCONFIRMED,
        submit_started=True,
        error="the answer never arrived",
        created_at=now - 200 * DAY,
        updated_at=now - 200 * DAY,
    )
    store.insert(parked)
    store.close()
    kept_result = next(r for r in old if r.results).results[0]
    kept_result.parent.mkdir(parents=True)
    kept_result.write_bytes(b"result")

    import threading

    rt = build_fake_runtime(db, history_page=100)
    threads: list[str] = []
    delete = rt.store.prune

    def spy(cutoff: float) -> list[str]:
        threads.append(threading.current_thread().name)
        return delete(cutoff)

    rt.store.prune = spy
    w = make_window(rt)
    qtbot.waitUntil(lambda: w.model.pruning is not None and w.model.pruning.done(), timeout=10_000)
    assert threads and threads[0] != threading.main_thread().name  # off the GUI thread
    assert set(w.model.pruning.result()) == {r.id for r in old}
    jobs = w.model.jobs
    assert set(jobs.job_ids()) == {r.id for r in recent} | {parked.id}
    assert counts(jobs) == recount(jobs)
    assert jobs.record(parked.id).state is JobState.UNCONFIRMED
    assert kept_result.read_bytes() == b"result"


def test_keep_days_is_set_on_the_general_page_and_persisted(qtbot, make_window):
    from retouchdesk.services.settings import Settings
    from retouchdesk.ui.settings.dialog import SettingsDialog

    w = make_window()
    dlg = SettingsDialog(w.model.accounts, w, page="general")
    qtbot.addWidget(dlg)
    page = dlg.general_page
    assert page.keep_days.value() == 0  # the default: a done job guards against paying twice
    assert page.keep_days.text() == "Forever"
    page.keep_days.setValue(14)
    qtbot.mouseClick(dlg.buttons.button(dlg.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    doc = tomllib.loads(Settings().path.read_text(encoding="utf-8"))
    assert doc["jobs"] == {"keep_days": 14}
    assert Settings().get("jobs", "keep_days") == 14
    again = SettingsDialog(w.model.accounts, w, page="general")
    qtbot.addWidget(again)
    assert again.general_page.keep_days.value() == 14
    QCoreApplication.processEvents()
