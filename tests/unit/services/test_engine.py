"""The job engine against the scriptable fake provider: real SQLite, real files, real images."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.doubles.fake_provider import SERVER_ENV, FakeServer, build_fake_runtime
from tests.waiting import until

from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState
from retouchdesk.services.engine import JobRequest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    yield FakeServer(root)
    from tests.doubles.fake_provider import make

    from retouchdesk.services import registry

    registry.register("fake", make)  # some tests swap the factory: leave the real one behind


@pytest.fixture
def photo(tmp_path: Path, data_dir: Path) -> Path:
    dest = tmp_path / "in" / "astronaut.png"
    dest.parent.mkdir()
    dest.write_bytes((data_dir / "astronaut.png").read_bytes())
    return dest


@pytest.fixture
def photos(tmp_path: Path, data_dir: Path) -> list[Path]:
    folder = tmp_path / "batch"
    folder.mkdir()
    src = Image.open(data_dir / "chelsea.png").convert("RGB").resize((64, 48))
    out = []
    for i in range(5):
        p = folder / f"cat{i}.png"
        src.save(p)
        out.append(p)
    return out


class Recorder:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def __call__(self, ev: JobEvent) -> None:
        self.events.append(ev)

    def states(self, job_id: str) -> list[JobState]:
        return [
            e.state
            for e in self.events
            if e.job_id == job_id and e.kind in (EventKind.ADDED, EventKind.STATE)
        ]

    def kinds(self, kind: EventKind) -> list[JobEvent]:
        return [e for e in self.events if e.kind is kind]


async def wait_for_state(rt, job_id: str, state: JobState, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while rt.engine.get(job_id).state is not state:
        assert asyncio.get_running_loop().time() < deadline, rt.engine.get(job_id)
        await asyncio.sleep(0.01)


def req(path: Path, out: Path, **params) -> JobRequest:
    return JobRequest("fake", "brighten", path, params, output_dir=out)


def mean(path: Path) -> float:
    return float(np.asarray(Image.open(path).convert("L"), dtype=np.float32).mean())


async def test_job_goes_through_every_state_and_writes_a_brighter_result(tmp_path, server, photo):
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rec = Recorder()
    rt.engine.subscribe(rec)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out", amount="1.5"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()

    assert done.state is JobState.DONE, done.error
    assert rec.states(job.id) == [
        JobState.QUEUED,
        JobState.PREPARING,
        JobState.UPLOADING,
        JobState.SUBMITTED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.DONE,
    ]
    assert any(e.kind is EventKind.PROGRESS and 0 < (e.progress or 0) < 1 for e in rec.events)
    [result] = done.results
    assert result == tmp_path / "out" / "astronaut_brighten_fake.png"
    assert mean(result) > mean(photo) * 1.25  # the work was really done, with amount 1.5
    # The row is durable and complete: validated params, remote id, cost, results, meta.
    from retouchdesk.services.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    row = store.get(job.id)
    assert row.state is JobState.DONE and row.results == [result]
    assert row.params == {"amount": 1.5, "mode": "soft", "mask": None}
    assert row.remote_id and row.cost == 1.0 and row.submit_started
    assert row.result_meta[str(result)]["server"] == "fake"
    assert row.remote["uploaded"] == "astronaut.png"  # the provider's checkpoint
    store.close()


async def test_rate_limits_are_retried_with_a_message(tmp_path, server, photo):
    server.set_script(rate_limit_submits=2, retry_after=0.05)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rec = Recorder()
    rt.engine.subscribe(rec)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert done.state is JobState.DONE, done.error
    messages = [e.message for e in rec.kinds(EventKind.MESSAGE)]
    assert len(messages) == 2 and all(m.startswith("rate limited, retrying in") for m in messages)
    assert messages[0].endswith(" s")
    assert done.attempts == 2
    assert len(server.requests()) == 3 and len(server.created()) == 1


async def test_poll_faults_never_abandon_the_remote_job(tmp_path, server, photo):
    """Polls failing past the job deadline park the job as stalled, never failed; the next
    run polls the same remote job again and finishes it (one job at the vendor)."""
    server.set_script(poll_errors=1000)
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db, max_attempts=3, job_deadline=0.4)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [parked] = await rt.engine.wait([job.id], timeout=20)
    assert parked.state is JobState.STALLED
    remote_id = parked.remote_id
    assert remote_id and parked.error.startswith("astronaut.png: Fake Cloud has not")
    assert "run the command again" in parked.error
    # Retry (the window's button) follows the same remote job again: stalled once more.
    assert rt.engine.retry(job.id)
    [again] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert again.state is JobState.STALLED and again.remote_id == remote_id
    server.set_script(poll_errors=0)
    rt2 = build_fake_runtime(db)
    assert rt2.engine.start() == [job.id]
    [done] = await rt2.engine.wait([job.id], timeout=20)
    await rt2.aclose()
    assert done.state is JobState.DONE and done.remote_id == remote_id
    assert len(server.created()) == 1


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after(tmp_path):
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3", backoff_base=1.0, backoff_max=10.0)
    eng = rt.engine
    for tries, lo, hi in [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (6, 5.0, 10.0)]:
        delays = [eng.driver.backoff(tries, None) for _ in range(50)]
        assert lo <= min(delays) and max(delays) <= hi
        assert len(set(delays)) > 1  # jittered
    assert 12.0 <= eng.driver.backoff(1, 12.0) <= 13.2  # Retry-After wins, even above backoff_max
    rt.store.close()


async def test_cancel_a_running_job_asks_the_provider_to_stop(tmp_path, server, photo):
    server.set_script(duration=30)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    await wait_for_state(rt, job.id, JobState.RUNNING)
    assert rt.engine.cancel(job.id)
    [done] = await rt.engine.wait([job.id], timeout=5)
    await rt.aclose()
    assert done.state is JobState.CANCELLED
    assert server.cancelled() == [done.remote_id]
    assert not (tmp_path / "out" / "astronaut_brighten_fake.png").exists()


async def test_cancel_a_queued_job_never_sends_it(tmp_path, server, photos):
    server.set_script(duration=0.3)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3", concurrency={"fake": 1})
    rt.engine.start()
    first = rt.engine.submit(req(photos[0], tmp_path / "out"))
    second = rt.engine.submit(req(photos[1], tmp_path / "out"))
    await wait_for_state(rt, first.id, JobState.RUNNING)
    assert rt.engine.get(second.id).state is JobState.QUEUED
    rt.engine.cancel(second.id)
    a, b = await rt.engine.wait([first.id, second.id], timeout=10)
    await rt.aclose()
    assert a.state is JobState.DONE and b.state is JobState.CANCELLED
    assert [r["input"] for r in server.requests()] == [str(photos[0])]


@pytest.mark.parametrize("limit", [1, 2])
async def test_per_provider_concurrency_limit(tmp_path, server, photos, limit):
    server.set_script(duration=0.15)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3", concurrency={"fake": limit})
    active: set[str] = set()
    peak = 0

    def track(ev: JobEvent) -> None:
        nonlocal peak
        if ev.kind is not EventKind.STATE:
            return
        if ev.state.terminal:
            active.discard(ev.job_id)
        elif ev.state is not JobState.QUEUED:
            active.add(ev.job_id)
        peak = max(peak, len(active))

    rt.engine.subscribe(track)
    rt.engine.start()
    rt.engine.submit_batch([req(p, tmp_path / "out") for p in photos])
    recs = await rt.engine.wait(timeout=30)
    await rt.aclose()
    assert all(r.state is JobState.DONE for r in recs)
    assert peak == limit


async def test_credits_running_out_stops_the_rest_of_the_batch(tmp_path, server, photos):
    server.set_script(credits=2, duration=0.05)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3", concurrency={"fake": 1})
    rec = Recorder()
    rt.engine.subscribe(rec)
    rt.engine.start()
    batch = rt.engine.submit_batch([req(p, tmp_path / "out") for p in photos])
    recs = await rt.engine.wait(timeout=30)
    await rt.aclose()
    states = [r.state for r in recs]
    assert states == [JobState.DONE] * 2 + [JobState.FAILED] * 3
    assert recs[2].error == "cat2.png: Your Fake Cloud credits are used up"
    for r in recs[3:]:
        assert r.error == f"{r.input_path.name} was not sent: your Fake Cloud credits ran out"
    [stopped] = rec.kinds(EventKind.BATCH_STOPPED)
    assert stopped.batch_id == batch and "2 remaining photos" in stopped.message
    assert len(server.created()) == 2 and len(server.requests()) == 3


async def test_shutdown_then_restart_resumes_polling_without_resubmitting(tmp_path, server, photo):
    server.set_script(duration=1.5)
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    await wait_for_state(rt, job.id, JobState.RUNNING)
    await rt.aclose()  # the app quits: the job keeps its state
    assert rt.store.path.exists()

    rt2 = build_fake_runtime(db)
    row = rt2.engine.get(job.id)
    assert row.state is JobState.RUNNING and row.remote_id
    rec = Recorder()
    rt2.engine.subscribe(rec)
    assert rt2.engine.start() == [job.id]
    [done] = await rt2.engine.wait([job.id], timeout=20)
    await rt2.aclose()
    assert done.state is JobState.DONE, done.error
    assert JobState.PREPARING not in rec.states(job.id)  # polled, not started over
    assert len(server.requests()) == 1 and len(server.created()) == 1


async def interrupted_submit(tmp_path: Path, server, photo: Path, *, idempotent: bool):
    """A run stopped while the server holds a submission it never answered.

    Returns the job database, the job and the stopped runtime (its store still reads)."""
    server.set_script(submit_delay=30, idempotent=idempotent)
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    await until(server.created, what="the server to receive the submission")
    await rt.aclose()
    return db, job, rt


async def test_interrupted_submit_is_resent_with_the_same_key_when_idempotent(
    tmp_path, server, photo
):
    # the server got the job, the answer never came
    db, job, rt = await interrupted_submit(tmp_path, server, photo, idempotent=True)
    row = rt.engine.get(job.id)
    assert row.submit_started and row.remote_id is None

    server.set_script(submit_delay=0)
    rt2 = build_fake_runtime(db)
    rt2.engine.start()
    [done] = await rt2.engine.wait([job.id], timeout=20)
    await rt2.aclose()
    assert done.state is JobState.DONE, done.error
    assert [r["key"] for r in server.requests()] == [job.idempotency_key] * 2
    assert server.created_per_key() == {job.idempotency_key: 1}


async def test_interrupted_submit_is_not_resent_without_idempotency(tmp_path, server, photo):
    db, job, _ = await interrupted_submit(tmp_path, server, photo, idempotent=False)

    rt2 = build_fake_runtime(db)
    rt2.engine.start()
    [done] = await rt2.engine.wait([job.id], timeout=20)
    await rt2.aclose()
    assert done.state is JobState.UNCONFIRMED
    assert "was not sent again to avoid paying twice" in done.error
    assert "--resend-unconfirmed" in done.error and "charge you twice" in done.error
    assert done.error.startswith("astronaut.png")
    assert len(server.requests()) == 1

    # A plain re-run and Retry leave it alone; only the explicit resend sends it again.
    rt3 = build_fake_runtime(db)
    rt3.engine.start()
    [again] = await rt3.engine.wait([job.id], timeout=20)
    assert again.state is JobState.UNCONFIRMED and not rt3.engine.retry(job.id)
    assert len(server.requests()) == 1
    server.set_script(submit_delay=0, idempotent=False)
    assert rt3.engine.resend_unconfirmed(job.id)
    [sent] = await rt3.engine.wait([job.id], timeout=20)
    await rt3.aclose()
    assert sent.state is JobState.DONE, sent.error
    assert len(server.requests()) == 2


async def test_job_not_yet_submitted_restarts_from_queued(tmp_path, server, photo):
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    row = rt.engine.get(job.id)
    row.state = JobState.UPLOADING  # as a crash during the upload leaves it
    rt.store.save(row)
    rt.store.close()

    rt2 = build_fake_runtime(db)
    rec = Recorder()
    rt2.engine.subscribe(rec)
    rt2.engine.start()
    [done] = await rt2.engine.wait([job.id], timeout=20)
    await rt2.aclose()
    assert done.state is JobState.DONE
    assert rec.states(job.id)[:2] == [JobState.QUEUED, JobState.PREPARING]


async def test_start_with_ids_leaves_other_unfinished_jobs_alone(tmp_path, server, photos):
    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    a = rt.engine.submit(req(photos[0], tmp_path / "out"))
    b = rt.engine.submit(req(photos[1], tmp_path / "out"))
    rt.store.close()
    rt2 = build_fake_runtime(db)
    assert rt2.engine.start(resume=[a.id]) == [a.id]
    await rt2.engine.wait([a.id], timeout=20)
    assert rt2.engine.get(b.id).state is JobState.QUEUED
    await rt2.aclose()


async def test_bad_inputs_fail_with_a_sentence_and_nothing_is_sent(tmp_path, server, photo):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    jobs = [
        rt.engine.submit(req(text, tmp_path / "out")),
        rt.engine.submit(req(photo, tmp_path / "out", amount=9)),
        rt.engine.submit(req(photo, tmp_path / "out", nonsense=1)),
        rt.engine.submit(req(photo, blocker / "out")),
        rt.engine.submit(req(photo, tmp_path / "out", mask=str(tmp_path / "missing.png"))),
        rt.engine.submit(JobRequest("fake", "nope", photo, output_dir=tmp_path / "out")),
    ]
    recs = await rt.engine.wait([j.id for j in jobs], timeout=20)
    await rt.aclose()
    errors = [r.error for r in recs]
    assert all(r.state is JobState.FAILED for r in recs), errors
    assert errors[0] == "notes.jpg: not an image file that Retouch Desk can open"
    assert errors[1] == "astronaut.png: amount must be a number from 0.1 to 3 (got 9.0)"
    assert errors[2].startswith("astronaut.png: Unknown parameter 'nonsense'")
    assert (
        errors[3].startswith("astronaut.png: The output folder")
        and "cannot be written" in (errors[3])
    )
    assert errors[4].startswith("The mask file") and "astronaut.png does not exist" in errors[4]
    assert errors[5].startswith("astronaut.png: Unknown operation 'nope'")
    assert server.requests() == []


async def test_provider_failure_and_user_retry(tmp_path, server, photo):
    server.set_script(fail_inputs=["astronaut.png"])
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [failed] = await rt.engine.wait([job.id], timeout=20)
    assert failed.error == "Fake Cloud could not find a face in astronaut.png"
    first_key = failed.idempotency_key

    server.set_script(fail_inputs=[])
    assert rt.engine.retry(job.id)
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert done.state is JobState.DONE and done.error is None
    assert done.idempotency_key != first_key  # a new, deliberate submission
    assert len(server.created()) == 2


async def test_remove_forgets_the_job_but_keeps_results(tmp_path, server, photo):
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rec = Recorder()
    rt.engine.subscribe(rec)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    assert rt.engine.remove(job.id)
    assert rt.engine.get(job.id) is None and rt.store.get(job.id) is None
    assert rec.kinds(EventKind.REMOVED)[0].job_id == job.id
    assert done.results[0].exists()
    await rt.aclose()


async def test_variants_get_their_labels_and_names_never_collide(tmp_path, server, photo):
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    out = tmp_path / "out"
    a = rt.engine.submit(JobRequest("fake", "variants", photo, output_dir=out))
    b = rt.engine.submit(req(photo, out))
    c = rt.engine.submit(req(photo, out))
    recs: list[JobRecord] = await rt.engine.wait([a.id, b.id, c.id], timeout=20)
    await rt.aclose()
    names = sorted(p.name for r in recs for p in r.results)
    assert names == [
        "astronaut_brighten_fake.png",
        "astronaut_brighten_fake_2.png",
        "astronaut_variants_fake_dark.png",
        "astronaut_variants_fake_light.png",
    ]
    light, dark = recs[0].results
    assert mean(light) > mean(dark) + 40


async def test_subscriber_errors_do_not_break_the_engine(tmp_path, server, photo):
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")

    def broken(ev: JobEvent) -> None:
        raise RuntimeError("subscriber bug")

    unsubscribe = rt.engine.subscribe(broken)
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    unsubscribe()
    await rt.aclose()
    assert done.state is JobState.DONE


async def test_protect_outside_option_keeps_pixels_outside_the_mask(tmp_path, server, photo):
    from retouchdesk.services.postprocess import protect_option

    mask = np.zeros((512, 512), np.uint8)
    mask[:, :256] = 255  # only the left half may change
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    request = req(photo, tmp_path / "out", amount=1.6)
    request.options = protect_option(mask_path)
    job = rt.engine.submit(request)
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert done.state is JobState.DONE, done.error
    original = np.asarray(Image.open(photo).convert("RGB"), dtype=np.int16)
    result = np.asarray(Image.open(done.results[0]).convert("RGB"), dtype=np.int16)
    assert np.array_equal(result[:, 300:], original[:, 300:])  # outside: untouched
    assert result[:, :200].mean() > original[:, :200].mean() + 20  # inside: brightened
    assert done.result_meta[str(done.results[0])]["protected_outside"] is True
    from retouchdesk.services.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    assert store.get(job.id).options == request.options
    store.close()


async def test_a_job_run_by_another_live_process_is_left_alone(tmp_path, server, photo):
    import socket
    import subprocess
    import sys

    db = tmp_path / "jobs.sqlite3"
    rt = build_fake_runtime(db)
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rt.store.set_owner([job.id], f"{socket.gethostname()}:{other.pid}")
        rt.store.close()
        rt2 = build_fake_runtime(db)
        assert rt2.engine.start() == []
        assert rt2.engine.busy_elsewhere == {job.id: f"{socket.gethostname()}:{other.pid}"}
        await rt2.aclose()
    finally:
        other.kill()
        other.wait()
    rt3 = build_fake_runtime(db)  # the other process is gone: its job is ours now
    assert rt3.engine.start() == [job.id]
    [done] = await rt3.engine.wait([job.id], timeout=20)
    await rt3.aclose()
    assert done.state is JobState.DONE


async def test_a_too_large_photo_fails_or_is_sent_downscaled_with_fit_limits(tmp_path, server):
    wide = tmp_path / "in" / "panorama.png"
    wide.parent.mkdir()
    Image.new("RGB", (8100, 40), (90, 90, 90)).save(wide)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    plain = rt.engine.submit(req(wide, tmp_path / "out"))
    fitted_req = req(wide, tmp_path / "out")
    fitted_req.options = {"fit_limits": True}
    fitted = rt.engine.submit(fitted_req)
    a, b = await rt.engine.wait([plain.id, fitted.id], timeout=30)
    await rt.aclose()
    assert a.state is JobState.FAILED
    assert a.error == (
        "panorama.png cannot be used for Brighten: the long side is 8100 px, the limit is 8000 px"
    )
    assert b.state is JobState.DONE, b.error
    assert Image.open(b.results[0]).size == (8000, 39)
    assert b.result_meta[str(b.results[0])]["sent_downscaled_to"] == [8000, 39]
    [sent] = [r["input"] for r in server.requests()]
    assert Path(sent).name == "panorama.fitted.png"  # the copy, not the original


async def test_a_fitted_copy_is_sent_with_its_mask_at_its_size(tmp_path, server):
    """The mask drawn on the photo goes with the downscaled copy, resampled to the copy's
    size; the job keeps recording the photo's own mask. A mask of another size is refused."""
    wide = tmp_path / "in" / "panorama.png"
    wide.parent.mkdir()
    Image.new("RGB", (8100, 40), (90, 90, 90)).save(wide)
    mask = np.zeros((40, 8100), np.uint8)
    mask[:, :4050] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    wrong = tmp_path / "wrong.png"
    Image.fromarray(mask[:, :4000], "L").save(wrong)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    jobs = []
    for m in (mask_path, wrong):
        request = req(wide, tmp_path / "out", mask=str(m))
        request.options = {"fit_limits": True}
        jobs.append(rt.engine.submit(request).id)
    good, bad = await rt.engine.wait(jobs, timeout=30)
    await rt.aclose()
    assert good.state is JobState.DONE, good.error
    [created] = server.created()
    assert created["size"] == created["mask_size"] == [8000, 39]
    assert good.params["mask"] == str(mask_path)
    assert bad.state is JobState.FAILED
    assert "wrong.png: the mask is 4000x40 but the photo is 8100x40" in bad.error


async def test_a_provider_that_cannot_be_built_stops_its_batch(tmp_path, server, photos):
    from retouchdesk.core.errors import ConfigurationError
    from retouchdesk.services import registry

    def unconfigured(env):
        raise ConfigurationError("Fake Cloud needs an API key: add it in Settings")

    rt = build_fake_runtime(tmp_path / "jobs.sqlite3", concurrency={"fake": 1})
    registry.register("fake", unconfigured)
    rec = Recorder()
    rt.engine.subscribe(rec)
    rt.engine.start()
    rt.engine.submit_batch([req(p, tmp_path / "out") for p in photos])
    recs = await rt.engine.wait(timeout=20)
    await rt.aclose()
    assert recs[0].error == "cat0.png: Fake Cloud needs an API key: add it in Settings"
    for r in recs[1:]:
        assert r.state is JobState.FAILED
        assert r.error == (
            f"{r.input_path.name} was not sent: Fake Cloud needs an API key: add it in Settings"
        )
    [stopped] = rec.kinds(EventKind.BATCH_STOPPED)
    assert "4 remaining photos of this batch were not sent" in stopped.message


async def test_progress_reported_from_another_thread_arrives_on_the_loop_thread(
    tmp_path, server, photo
):
    import threading

    from tests.doubles.fake_provider import FakeProvider

    class ThreadedProgress(FakeProvider):
        async def prepare(self, ctx):
            t = threading.Thread(target=ctx.progress, args=(0.5, "uploading from a thread"))
            t.start()
            t.join()
            await asyncio.sleep(0.05)
            await super().prepare(ctx)

    from tests.doubles.fake_provider import FakeServer as _Server

    from retouchdesk.services import registry

    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    registry.register("fake", lambda env: ThreadedProgress(_Server(server.root)))
    loop_thread = threading.get_ident()
    threads: list[tuple[str, int]] = []
    rt.engine.subscribe(lambda ev: threads.append((ev.message, threading.get_ident())))
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert done.state is JobState.DONE
    assert ("uploading from a thread", loop_thread) in threads
    assert {t for _, t in threads} == {loop_thread}


async def test_output_settings_changed_while_running_apply_to_the_next_job(tmp_path, server, photo):
    from tests.doubles.fake_provider import SCHEMA_DIR, make

    from retouchdesk.core.schema import load_catalog
    from retouchdesk.services import registry
    from retouchdesk.services.engine import EngineConfig
    from retouchdesk.services.runtime import build_runtime
    from retouchdesk.services.settings import Settings

    registry.register("fake", make)
    settings = Settings(tmp_path / "settings.toml", environ={})
    settings.set("output", "dir", str(tmp_path / "results"))
    rt = build_runtime(
        settings=settings,
        catalog=load_catalog(SCHEMA_DIR),
        engine_config=EngineConfig.from_settings(settings),
        db_path=tmp_path / "jobs.sqlite3",
    )
    rt.engine.start()
    first = rt.engine.submit(JobRequest("fake", "brighten", photo))
    [a] = await rt.engine.wait([first.id], timeout=20)
    settings.set("output", "template", "{stem}-{provider}-v2.{ext}")  # the Settings dialog
    settings.set("output", "format", "jpeg")
    second = rt.engine.submit(JobRequest("fake", "brighten", photo))
    [b] = await rt.engine.wait([second.id], timeout=20)
    await rt.aclose()
    assert a.results == [tmp_path / "results" / "astronaut_brighten_fake.png"]
    assert b.results == [tmp_path / "results" / "astronaut-fake-v2.jpg"]
    assert Image.open(b.results[0]).format == "JPEG"


async def test_the_provider_is_warmed_up_before_the_photo_is_checked(tmp_path, server, photo):
    # A provider slow to start (the offline engine's worker process) starts while the engine
    # checks the photo, not after.
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    provider = rt.provider("fake")
    calls: list[str] = []
    provider.warm_up = lambda: calls.append("warm_up")  # type: ignore[method-assign]
    rt.engine.subscribe(
        lambda ev: calls.append(ev.state.value) if ev.kind is EventKind.STATE else None
    )
    rt.engine.start()
    job = rt.engine.submit(req(photo, tmp_path / "out", amount="1.5"))
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()
    assert done.state is JobState.DONE, done.error
    assert calls[0] == "warm_up" and calls.index("warm_up") < calls.index("preparing")
