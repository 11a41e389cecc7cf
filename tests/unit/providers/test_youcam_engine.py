"""YouCam through the real job engine: batches, keep-alive under a busy loop, credits, tokens."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.emulators.youcam_support import DROP_AFTER, FAST, settings_env
from tests.waiting import until

from retouchdesk.core.jobs import EventKind, JobState
from retouchdesk.services.engine import EngineConfig, JobRequest
from retouchdesk.services.runtime import build_runtime
from retouchdesk.services.settings import Settings

pytestmark = pytest.mark.timeout(120)


def photos(data_dir: Path, folder: Path, n: int) -> list[Path]:
    """``n`` different 256x256 photos cut from the portrait."""
    folder.mkdir(parents=True, exist_ok=True)
    src = Image.open(data_dir / "astronaut.png").convert("RGB")
    out = []
    for i in range(n):
        x, y = (i * 37) % 256, (i * 53) % 256
        path = folder / f"p{i:02d}.jpg"
        src.crop((x, y, x + 256, y + 256)).save(path, quality=90)
        out.append(path)
    return out


def runtime(emu, gen: str, tmp: Path, concurrency: int = 4):
    return build_runtime(
        settings=Settings(tmp / "settings.toml", environ=settings_env(emu, gen)),
        db_path=tmp / "jobs.sqlite3",
        engine_config=EngineConfig(
            max_attempts=4,
            backoff_base=0.05,
            concurrency={"youcam": concurrency},
            work_root=tmp / "work",
        ),
    )


async def busy_loop(stop: asyncio.Event, blocked: list[float]) -> None:
    """Other work of the app: blocks the event loop in 50-100 ms slices, back to back."""
    rng = random.Random(5)
    while not stop.is_set():
        slice_ = rng.uniform(0.05, 0.1)
        time.sleep(slice_)  # deliberately blocking: a decode, a repaint, a slow disk
        blocked.append(slice_)
        await asyncio.sleep(0.01)  # a breath between slices, as a UI event loop has


@pytest.mark.slow
@pytest.mark.parametrize("gen", ["v1", "v2"])
async def test_batch_of_20_with_4_at_once_stays_alive_while_the_loop_is_busy(
    emulator, tmp_path, data_dir, gen
):
    emu = emulator("youcam", **{**FAST, "task_seconds": 0.6})
    rt = runtime(emu, gen, tmp_path)
    stop, blocked = asyncio.Event(), []
    rt.engine.start()
    busy = asyncio.create_task(busy_loop(stop, blocked))
    started = time.monotonic()
    rt.engine.submit_batch(
        JobRequest("youcam", "colorize", p, {}, output_dir=tmp_path / "out")
        for p in photos(data_dir, tmp_path / "in", 20)
    )
    recs = await rt.engine.wait(timeout=100)
    elapsed = time.monotonic() - started
    stop.set()
    await busy
    await rt.aclose()
    assert [r.state for r in recs] == [JobState.DONE] * 20, [r.error for r in recs]
    assert all(len(r.results) == 4 for r in recs)  # four colour variants each
    tasks = emu.tasks_created("colorize")
    assert len(tasks) == 20 and emu.lost_polls == 0 and not any(t.dropped for t in tasks)
    worst = max(t.max_gap for t in tasks)
    figures = (
        f"{gen}: {elapsed:.1f} s, loop blocked {sum(blocked):.1f} s, longest gap {worst:.2f} s"
    )
    assert worst < DROP_AFTER * 0.75, figures  # MAX_GAP is 0.5 s; headroom for a loaded CI
    # never more than 4 tasks alive at the vendor at once
    edges = sorted([(t.created, 1) for t in tasks] + [(t.finished, -1) for t in tasks])
    alive = peak = 0
    for _, step in edges:
        alive += step
        peak = max(peak, alive)
    assert peak <= 4
    assert sum(blocked) > 0.5 * elapsed, figures  # the loop really was busy most of the time
    assert emu.charged_total() == 40


async def test_credit_insufficiency_stops_the_rest_of_the_batch(emulator, tmp_path, data_dir):
    emu = emulator("youcam", **FAST)
    emu.set_credits(5)  # two enhancements (2 credits each), not three
    rt = runtime(emu, "v1", tmp_path, concurrency=1)
    events = []
    rt.engine.subscribe(events.append)
    rt.engine.start()
    batch = rt.engine.submit_batch(
        JobRequest("youcam", "photo_enhance", p, {"scale": 2}, output_dir=tmp_path / "out")
        for p in photos(data_dir, tmp_path / "in", 5)
    )
    recs = await rt.engine.wait(timeout=60)
    await rt.aclose()
    assert [r.state for r in recs] == [JobState.DONE] * 2 + [JobState.FAILED] * 3
    assert "Your YouCam account has no credits left for this task" in recs[2].error
    for r in recs[3:]:
        assert "was not sent" in r.error and "credits" in r.error
    [stopped] = [e for e in events if e.kind is EventKind.BATCH_STOPPED]
    assert stopped.batch_id == batch
    assert len(emu.tasks_created()) == 2 and emu.balance == 1
    assert len(emu.received("/s2s/v1.0/task/enhance", "POST")) == 3  # the refused third only


async def test_expired_token_is_renewed_transparently_during_a_batch(emulator, tmp_path, data_dir):
    emu = emulator("youcam", **FAST)
    rt = runtime(emu, "v1", tmp_path, concurrency=2)
    rt.engine.start()
    ids = [
        rt.engine.submit(
            JobRequest("youcam", "photo_lighting", p, {}, output_dir=tmp_path / "out")
        ).id
        for p in photos(data_dir, tmp_path / "in", 4)
    ]
    await rt.engine.wait(ids[:1], timeout=30)
    emu.expire_tokens()  # tokens revoked long before their announced two hours
    recs = await rt.engine.wait(ids, timeout=60)
    await rt.aclose()
    assert [r.state for r in recs] == [JobState.DONE] * 4, [r.error for r in recs]
    assert emu.sign_ins == 2
    refused = [r for r in emu.received() if r.header("authorization")]
    assert refused  # the renewal happened on a real 401, then everything went on
    for r in recs:
        out = np.asarray(Image.open(r.results[0]).convert("L"), np.float32)
        src = np.asarray(Image.open(r.input_path).convert("L"), np.float32)
        assert out.mean() > src.mean() + 3  # lighting brightened the photo


@pytest.mark.slow
@pytest.mark.parametrize("pause", [0.3, DROP_AFTER + 1.0])
async def test_restart_resumes_the_running_task_and_never_pays_twice(
    emulator, tmp_path, data_dir, pause
):
    """Quit while YouCam works, start again: a short break resumes polling the same task; a
    break longer than YouCam waits finds it dropped (no charge) and starts it afresh."""
    emu = emulator("youcam", **{**FAST, "task_seconds": DROP_AFTER + 0.5})
    [photo] = photos(data_dir, tmp_path / "in", 1)
    rt = runtime(emu, "v1", tmp_path)
    rt.engine.start()
    job = rt.engine.submit(JobRequest("youcam", "color_correction", photo, {},
                                      output_dir=tmp_path / "out"))  # fmt: skip
    await until(lambda: rt.engine.get(job.id).state is JobState.RUNNING, what="the job to run")
    await rt.aclose()  # the app quits: the job stays "running" in the database
    first = emu.tasks_created()[0]
    await asyncio.sleep(pause)
    rt = runtime(emu, "v1", tmp_path)
    assert rt.engine.start() == [job.id]
    [rec] = await rt.engine.wait([job.id], timeout=30)
    await rt.aclose()
    assert rec.state is JobState.DONE, rec.error
    assert len(rec.results) == 4
    tasks = emu.tasks_created()
    assert emu.charged_total() == 2  # one task paid, whatever happened
    if pause < DROP_AFTER:
        assert tasks == [first] and not first.dropped  # the same task, polled again
    else:
        assert first.dropped and len(tasks) == 2 and tasks[1].charged == 2
        ids = [p.json["request_id"] for p in emu.received("/s2s/v1.0/task/color-correct", "POST")]
        assert len(set(ids)) == 2  # the dropped task's id is never reused
