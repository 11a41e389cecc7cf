"""The local receiver under bad input and after a job ends: 400s, not 500s; 404 once it is over.

Webhooks are written byte by byte on a raw socket (what a broken proxy or a hostile client
sends); jobs run through the real runtime (engine, Enhancor provider, hosting) against the
Enhancor emulator, and the photo's URL is fetched the way the vendor would.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from retouchdesk.core.jobs import JobState
from retouchdesk.services.engine import JobRequest
from retouchdesk.services.hosting import LocalReceiver
from retouchdesk.services.runtime import build_runtime

pytestmark = pytest.mark.timeout(60)
KEY = "enh-test-key-0123456789"


async def raw(receiver: LocalReceiver, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` on a fresh connection, half-close, return (status, body) of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def post(path: str, body: bytes, headers: str = "Transfer-Encoding: chunked\r\n") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n"
    ).encode() + body


@pytest.fixture
async def receiver():
    r = LocalReceiver()
    await r.start()
    yield r
    await r.aclose()


MALFORMED = {
    "size is not hexadecimal": b"zz\r\n{}\r\n0\r\n\r\n",
    "negative size": b"-5\r\n{}\r\n0\r\n\r\n",
    "size with spaces inside": b"1 0\r\n{}\r\n0\r\n\r\n",
    "absurdly long size": b"f" * 40 + b"\r\n{}\r\n0\r\n\r\n",
    "data longer than its size": b'2\r\n{"a": 1}\r\n0\r\n\r\n',
    "body ends inside a chunk": b"10\r\n{}",
    "no last chunk": b"2\r\n{}\r\n",
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_chunked_webhook_gets_400_and_the_receiver_goes_on(
    receiver, case, caplog
):
    caplog.set_level(logging.DEBUG, logger="retouchdesk.receiver")
    hook = urlsplit(await receiver.webhook_url("job-1")).path

    status, body = await raw(receiver, post(hook, MALFORMED[case]))

    assert status == 400, (case, body)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert receiver.webhook_result("job-1") is None
    # A well-formed chunked webhook (with an extension and a trailer) still works.
    good = b'9;ext=1\r\n{"ok": 1}\r\n0\r\nX-Trailer: yes\r\n\r\n'
    status, _ = await raw(receiver, post(hook, good))
    assert status == 200
    assert receiver.webhook_result("job-1") == {"ok": 1}


async def test_a_negative_content_length_gets_400(receiver):
    hook = urlsplit(await receiver.webhook_url("job-1")).path
    status, _ = await raw(receiver, post(hook, b"{}", "Content-Length: -2\r\n"))
    assert status == 400


# -- the photo of a job that ended is no longer served ---------------------------------------


@pytest.fixture
def enhancor_runtime(emulator, monkeypatch, tmp_path):
    emu = emulator("enhancor", api_key=KEY, time_scale=0.05)
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_BASE_URL", emu.url)
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", KEY)
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "0.01")
    rt = build_runtime(db_path=tmp_path / "jobs.sqlite3")
    return emu, rt


def _photo(tmp_path: Path, data_dir: Path) -> Path:
    p = tmp_path / "portrait.png"
    Image.open(data_dir / "astronaut.png").resize((128, 128)).save(p)
    return p


def _request(photo: Path, tmp_path: Path) -> JobRequest:
    return JobRequest("enhancor", "realistic_skin", photo, {}, output_dir=tmp_path / "out")


async def _fetch(url: str) -> int:
    async with httpx.AsyncClient() as c:
        return (await c.get(url)).status_code


async def test_the_photo_of_a_failed_job_is_no_longer_served(enhancor_runtime, tmp_path, data_dir):
    emu, rt = enhancor_runtime
    # Enhancor refuses the job: final for the submission, and nobody releases the photo but
    # the end of the job itself.
    emu.faults.status(400, path=r".*/queue", body=b'{"error": {"message": "Bad request"}}')
    rt.engine.start()
    job = rt.engine.submit(_request(_photo(tmp_path, data_dir), tmp_path))
    try:
        [done] = await rt.engine.wait([job.id], timeout=30)
        assert done.state is JobState.FAILED, done
        [queued] = emu.queued()
        url = queued.json["img_url"]
        assert await _fetch(url) == 404
        assert rt.extras["hosting"].receiver.active_jobs() == []
    finally:
        await rt.aclose()


async def test_the_photo_of_a_job_cancelled_before_enhancor_answered_is_no_longer_served(
    enhancor_runtime, tmp_path, data_dir
):
    emu, rt = enhancor_runtime
    emu.faults.slow(1.5, path=r".*/queue")  # the queue call is in flight when the user cancels
    rt.engine.start()
    job = rt.engine.submit(_request(_photo(tmp_path, data_dir), tmp_path))
    try:
        for _ in range(500):
            if emu.queued():
                break
            await asyncio.sleep(0.01)
        url = emu.queued()[0].json["img_url"]
        assert await _fetch(url) == 200  # served while the job is alive
        rt.engine.cancel(job.id)
        [done] = await rt.engine.wait([job.id], timeout=30)
        assert done.state is JobState.CANCELLED
        assert await _fetch(url) == 404
        await asyncio.sleep(1.7)  # the slow queue call now downloads the photo: refused
        assert emu.jobs == {}  # so Enhancor never processed (or billed) a cancelled photo
    finally:
        await rt.aclose()


async def test_a_webhook_that_cannot_be_kept_is_not_acknowledged(tmp_path: Path):
    """The journal's folder cannot be written (here a file stands where it should be): the
    vendor gets 503, so it sends the webhook again, and nothing is taken as received. Once
    it can be kept, the retry gets 200, and a receiver of a later run finds it."""
    from retouchdesk.services.hosting.journal import HookJournal

    blocked = tmp_path / "webhooks"
    blocked.write_text("not a folder")
    r = LocalReceiver(journal=HookJournal(blocked))
    await r.start()
    try:
        url = await r.webhook_url("job-1")
        body = {"request_id": "req-1", "status": "COMPLETED", "result": "https://x/r.png"}
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=body)
            assert refused.status_code == 503
            assert r.webhook_result("job-1") is None
            blocked.unlink()
            kept = await client.post(url, json=body)
        assert kept.status_code == 200 and r.webhook_result("job-1") == body
    finally:
        await r.aclose()  # what a killed run leaves: nothing in memory
    later = LocalReceiver(journal=HookJournal(blocked))
    try:
        token = url.rpartition("/")[2]
        assert await later.webhook_url("job-1", token=token) == f"{later.base_url}/hooks/{token}"
        assert later.webhook_result("job-1") == body
        later.forget("job-1")  # the job ended: its webhook goes too
        assert not list(blocked.iterdir())
    finally:
        await later.aclose()


def test_webhooks_left_behind_by_a_killed_run_are_swept_after_a_month(tmp_path: Path):
    """A run killed after its job finished but before it dropped the kept webhook leaves
    the file; the next webhook kept removes those older than the journal's 30 days."""
    import os
    import time

    from retouchdesk.services.hosting.journal import HookJournal

    journal = HookJournal(tmp_path / "webhooks")
    journal.save("old", {"request_id": "r-old"})
    journal.save("recent", {"request_id": "r-recent"})
    month_ago = time.time() - 31 * 86400
    os.utime(journal.path("old"), (month_ago, month_ago))
    later = HookJournal(tmp_path / "webhooks")  # the next run
    later.save("new", {"request_id": "r-new"})
    assert sorted(p.stem for p in (tmp_path / "webhooks").iterdir()) == ["new", "recent"]
    assert later.load("recent") == {"request_id": "r-recent"} and later.load("old") is None


async def test_a_webhook_for_a_job_that_ends_while_it_is_written_leaves_no_file(tmp_path: Path):
    """The job ends (the receiver forgets it) while its webhook is being written: nothing
    would drop that file later, so the receiver does at once."""
    from retouchdesk.services.hosting.journal import HookJournal

    class EndsMeanwhile(HookJournal):
        def save(self, job_id: str, body: dict) -> None:
            receiver.forget(job_id)  # the job's end, just before the write
            super().save(job_id, body)

    folder = tmp_path / "webhooks"
    receiver = LocalReceiver(journal=EndsMeanwhile(folder))
    await receiver.start()
    try:
        url = await receiver.webhook_url("job-1")
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, json={"request_id": "req-1"})
        assert answer.status_code == 200
        assert not list(folder.iterdir())
    finally:
        await receiver.aclose()
