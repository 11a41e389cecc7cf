"""Hosting of job files for URL-only vendors: the local receiver and S3 (moto on loopback)."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services.hosting import HostingService, LocalReceiver, S3Storage, build_hosting
from retouchdesk.services.settings import Settings


@pytest.fixture
async def receiver():
    r = LocalReceiver(max_body=1000)
    yield r
    await r.aclose()


@pytest.fixture
def photo(data_dir):
    return data_dir / "chelsea.png"


async def test_serves_a_published_file_only_under_its_token(receiver, photo):
    url = await receiver.publish("job1", photo)
    assert url.startswith(receiver.local_url + "/files/") and url.endswith(".png")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43  # 32 random bytes: unguessable
    async with httpx.AsyncClient() as c:
        r = await c.get(url)
        assert r.status_code == 200 and r.content == photo.read_bytes()
        assert r.headers["content-type"] == "image/png"
        head = await c.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(r.content)
        assert (await c.get(url[:-6] + "AAA.png")).status_code == 404
        assert (await c.get(receiver.local_url + "/")).status_code == 404
        assert (await c.get(receiver.local_url + "/files/")).status_code == 404
        assert (await c.post(url, content=b"x")).status_code == 405
    assert receiver.served == 1


async def test_files_are_served_only_while_the_job_is_active(receiver, photo, data_dir):
    first = await receiver.publish("job1", photo)
    mask = await receiver.publish("job1", data_dir / "coffee.png", role="mask")
    again = await receiver.publish("job1", photo)  # the same role replaces the earlier file
    assert again != first
    async with httpx.AsyncClient() as c:
        assert (await c.get(first)).status_code == 404
        assert (await c.get(again)).status_code == 200
        assert (await c.get(mask)).status_code == 200
        await receiver.release("job1")
        assert (await c.get(again)).status_code == 404
        assert (await c.get(mask)).status_code == 404
    await receiver.release("job1")  # idempotent


async def test_files_expire_after_their_lifetime(photo):
    # The receiver's own clock, moved by hand: the lifetime is tested to the second without
    # a request racing a short real lifetime on a loaded machine.
    now = [1000.0]
    r = LocalReceiver(file_ttl=60.0, clock=lambda: now[0])
    try:
        url = await r.publish("job", photo)
        async with httpx.AsyncClient() as c:
            assert (await c.get(url)).status_code == 200
            now[0] += 60.0  # the last instant of its lifetime
            assert (await c.get(url)).status_code == 200
            now[0] += 0.001
            assert (await c.get(url)).status_code == 404
    finally:
        await r.aclose()


async def test_webhook_is_received_for_its_job_only(receiver):
    hook = await receiver.webhook_url("job1")
    assert hook == await receiver.webhook_url("job1")
    assert receiver.webhook_result("job1") is None
    body = {"request_id": "r1", "result": "https://cdn/x.png", "status": "success"}
    async with httpx.AsyncClient() as c:
        r = await c.post(hook, json=body)
        assert r.status_code == 200
        assert receiver.webhook_result("job1") == body
        assert (await c.post(hook[:-4] + "zzzz", json=body)).status_code == 404
        assert (await c.get(hook)).status_code == 405
        assert (await c.post(hook, content=b"not json")).status_code == 400
        big = {"request_id": "r1", "pad": "x" * 2000}
        assert (await c.post(hook, json=big)).status_code == 413
        assert receiver.webhook_result("job1") == body  # the oversized body was not stored

        async def chunks():
            yield b'{"request_id": "r2", '
            yield b'"status": "success", "result": "u"}'

        r = await c.post(hook, content=chunks())
        assert r.status_code == 200 and receiver.webhook_result("job1")["request_id"] == "r2"

        async def too_many():
            for _ in range(20):
                yield b"x" * 100

        assert (await c.post(hook, content=too_many())).status_code == 413
        await receiver.release("job1")
        assert (await c.post(hook, json=body)).status_code == 404


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_public_url_needs_a_fixed_port(photo):
    r = LocalReceiver(public_url="https://tunnel.example.com")
    with pytest.raises(ConfigurationError, match=r"no fixed port: set receiver\.port"):
        await r.publish("j", photo)


async def test_public_url_prefixes_every_url(photo):
    r = LocalReceiver(port=free_port(), public_url="https://tunnel.example.com/rd/")
    try:
        assert r.public
        url = await r.publish("j", photo)
        hook = await r.webhook_url("j")
        assert url.startswith("https://tunnel.example.com/rd/files/")
        assert hook.startswith("https://tunnel.example.com/rd/hooks/")
        # The tunnel forwards the path unchanged to the local listener.
        local = r.local_url + url[len("https://tunnel.example.com/rd") :]
        async with httpx.AsyncClient() as c:
            assert (await c.get(local)).status_code == 200
    finally:
        await r.aclose()
    assert not LocalReceiver().public


async def test_a_busy_port_is_a_plain_configuration_error(photo):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = LocalReceiver(port=port)
        with pytest.raises(ConfigurationError, match=f"cannot listen on 127.0.0.1:{port}"):
            await r.publish("j", photo)


async def test_a_slow_client_does_not_block_others(receiver, photo):
    url = await receiver.publish("j", photo)
    _reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    writer.write(b"GET /files/")  # never finishes its request line
    await writer.drain()
    async with httpx.AsyncClient() as c:
        assert (await c.get(url)).status_code == 200
    writer.close()


# -- S3 ---------------------------------------------------------------------------------------


def _client(bucket):
    return boto3.client(
        "s3",
        endpoint_url=bucket["endpoint_url"],
        region_name=bucket["region"],
        aws_access_key_id=bucket["access_key_id"],
        aws_secret_access_key=bucket["secret_access_key"],
    )


async def test_s3_upload_presign_and_delete(s3_bucket, photo):
    store = S3Storage(**s3_bucket, url_expiry=900)
    url = await store.publish("job9", photo)
    assert "X-Amz-Expires=900" in url and "X-Amz-Signature=" in url
    objects = _client(s3_bucket).list_objects_v2(Bucket=s3_bucket["bucket"])["Contents"]
    (obj,) = objects
    assert obj["Key"].startswith("retouchdesk/job9/") and obj["Key"].endswith(".png")
    async with httpx.AsyncClient() as c:
        r = await c.get(url)
        assert r.status_code == 200 and r.content == photo.read_bytes()
        await store.release("job9")
        assert (await c.get(url)).status_code == 404
    assert "Contents" not in _client(s3_bucket).list_objects_v2(Bucket=s3_bucket["bucket"])


async def test_s3_presigned_url_expires(s3_bucket, photo):
    # moto's server does not enforce the expiry of presigned URLs, so check the signed expiry
    # itself: signed now, valid for url_expiry seconds, then refused by a real S3.
    store = S3Storage(**s3_bucket, url_expiry=120)
    url = await store.publish("job", photo)
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(signed.timestamp() - time.time()) < 60
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query
    await store.aclose()
    async with httpx.AsyncClient() as c:
        assert (await c.get(url)).status_code == 404  # aclose deleted the upload


async def test_s3_configuration_errors(s3_bucket, photo):
    with pytest.raises(ConfigurationError, match="needs a bucket"):
        await S3Storage(bucket="").publish("j", photo)
    missing = S3Storage(**{**s3_bucket, "bucket": "no-such-bucket-here"})
    with pytest.raises(ConfigurationError, match="does not exist"):
        await missing.publish("j", photo)


async def test_s3_service_keeps_webhooks_on_the_receiver(s3_bucket, photo):
    service = HostingService(LocalReceiver(), S3Storage(**s3_bucket))
    try:
        assert service.strategy == "s3" and service.public
        url = await service.publish("j", photo)
        hook = await service.webhook_url("j")
        assert url.startswith(s3_bucket["endpoint_url"]) and "/hooks/" in hook
        async with httpx.AsyncClient() as c:
            await c.post(hook, json={"status": "success", "result": "x"})
        assert service.webhook_result("j") == {"status": "success", "result": "x"}
        await service.release("j")
        assert service.webhook_result("j") is None
    finally:
        await service.aclose()


def test_build_hosting_from_settings(tmp_path):
    env = {
        "RETOUCHDESK_HOSTING_STRATEGY": "s3",
        "RETOUCHDESK_S3_BUCKET": "b",
        "RETOUCHDESK_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "RETOUCHDESK_RECEIVER_PORT": "0",
        "RETOUCHDESK_RECEIVER_PUBLIC_URL": "https://t.example",
    }
    s3 = build_hosting(Settings(tmp_path / "s.toml", environ=env))
    assert s3.strategy == "s3" and s3.files.bucket == "b"
    assert s3.receiver.public_url == "https://t.example"
    local = build_hosting(Settings(tmp_path / "s.toml", environ={}))
    assert local.strategy == "local" and not local.public
    with pytest.raises(ConfigurationError, match=r"hosting\.strategy"):
        build_hosting(
            Settings(tmp_path / "s.toml", environ={"RETOUCHDESK_HOSTING_STRATEGY": "ftp"})
        )
    # Settings are read lazily: nothing listens yet.
    assert local.receiver._server is None
