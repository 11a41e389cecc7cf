"""Pausing the queue: nothing new reaches the provider until it resumes.

Counted on the fake server's side (its request log), so a job that started anyway fails here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image
from tests.doubles.fake_provider import SERVER_ENV, FakeServer, build_fake_runtime

from retouchdesk.core.jobs import JobState
from retouchdesk.services.engine import JobRequest

pytestmark = pytest.mark.timeout(60)


async def test_paused_queue_sends_nothing_until_resumed(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    server = FakeServer(root)
    server.set_script(duration=0.3, poll_interval=0.02)
    src = Image.open(data_dir / "chelsea.png").convert("RGB").resize((64, 48))
    photos = []
    for i in range(3):
        p = tmp_path / f"cat{i}.png"
        src.save(p)
        photos.append(p)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    eng = rt.engine
    eng.start()
    first = eng.submit(JobRequest("fake", "brighten", photos[0], {}, output_dir=tmp_path / "o"))
    while eng.get(first.id).state is JobState.QUEUED:
        await asyncio.sleep(0.01)
    eng.pause()
    assert eng.paused
    later = [
        eng.submit(JobRequest("fake", "brighten", p, {}, output_dir=tmp_path / "o"))
        for p in photos[1:]
    ]
    # The job already sent finishes; the others wait, and the server never hears of them.
    [done] = await eng.wait([first.id], timeout=20)
    assert done.state is JobState.DONE
    await asyncio.sleep(0.5)
    assert all(eng.get(r.id).state is JobState.QUEUED for r in later)
    assert eng.waiting() == 2
    sent = len(server.requests())
    await asyncio.sleep(0.3)
    assert len(server.requests()) == sent
    eng.resume()
    finished = await eng.wait([r.id for r in later], timeout=20)
    assert all(r.state is JobState.DONE for r in finished)
    assert len(server.requests()) > sent
    # A job cancelled while it waits is cancelled, never sent.
    eng.pause()
    held = eng.submit(JobRequest("fake", "brighten", photos[0], {"amount": "1.2"},
                                 output_dir=tmp_path / "o"))  # fmt: skip
    await asyncio.sleep(0.1)
    before = len(server.requests())
    eng.cancel(held.id)
    [gone] = await eng.wait([held.id], timeout=10)
    assert gone.state is JobState.CANCELLED and len(server.requests()) == before
    await rt.aclose()
