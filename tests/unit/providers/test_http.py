"""The shared HTTP layer against a real loopback server: retries, error mapping, redaction."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from tests.emulators.harness import Emulator, Recorded, Response, json_response, route

from retouchdesk.core.errors import AuthError, ProviderError, RateLimited, RemoteJobLost
from retouchdesk.providers import http


class Echo(Emulator):
    """A tiny vendor: GET /item and POST /queue (creates a job each time it is acted on)."""

    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.queued = 0

    @route("GET", "/item")
    def item(self, rec: Recorded) -> Response:
        return json_response({"ok": True})

    @route("POST", "/queue")
    def queue(self, rec: Recorded) -> Response:
        self.queued += 1
        return json_response({"requestId": f"r{self.queued}"})

    @route("POST", "/status")
    def status(self, rec: Recorded) -> Response:
        return json_response({"status": "IN_QUEUE"})


FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, jitter=0.0)


@pytest.fixture
def echo():
    emu = Echo().start()
    yield emu
    emu.stop()


@pytest.fixture
async def client(echo):
    c = http.make_client(echo.url, retry=FAST, timeout=httpx.Timeout(5.0))
    yield c
    await c.aclose()


async def test_get_is_retried_through_a_burst_of_500_and_503(echo, client):
    echo.faults.status(500, times=1, path="/item")
    echo.faults.status(503, times=1, path="/item")
    r = await http.send(client, "GET", "/item", vendor="Echo")
    assert r.json() == {"ok": True}
    assert echo.count("/item") == 3


async def test_retry_after_is_honoured(echo):
    # The transport's sleep is recorded instead of timed on the wall clock: the wait asked for
    # is the server's Retry-After exactly, not the policy's backoff.
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    echo.faults.rate_limit(retry_after=0.4, times=1, path="/queue")
    transport = http.RetryingTransport(policy=FAST, sleep=sleep)
    async with httpx.AsyncClient(base_url=echo.url, transport=transport) as client:
        r = await http.send(client, "POST", "/queue", vendor="Echo", json={})
    assert r.json()["requestId"] == "r1"
    assert waits == [0.4]
    assert echo.queued == 1  # the 429 was not acted on, the retry was


async def test_a_long_retry_after_goes_to_the_engine(echo):
    policy = http.RetryPolicy(max_attempts=3, backoff_base=0.01, max_retry_after=1.0)
    async with http.make_client(echo.url, retry=policy) as c:
        echo.faults.rate_limit(retry_after=120, times=1, path="/item")
        with pytest.raises(RateLimited) as info:
            await http.send(c, "GET", "/item", vendor="Echo")
    assert info.value.retry_after == 120
    assert info.value.retryable
    assert "Echo" in str(info.value)


async def test_post_is_not_resent_after_a_500(echo, client):
    echo.faults.status(500, times=3, path="/queue")
    with pytest.raises(ProviderError) as info:
        await http.send(client, "POST", "/queue", vendor="Echo", action="submitting the job")
    assert echo.count("/queue") == 1
    assert not info.value.retryable
    assert str(info.value) == "Echo failed during submitting the job: Injected fault"


async def test_post_marked_safe_is_retried(echo, client):
    echo.faults.status(500, times=2, path="/status")
    r = await http.send(client, "POST", "/status", vendor="Echo", safe=True, json={})
    assert r.json()["status"] == "IN_QUEUE"
    assert echo.count("/status") == 3


async def test_dropped_connection_after_acting_is_not_resent(echo, client):
    echo.faults.drop(path="/queue", after=True)
    with pytest.raises(ProviderError) as info:
        await http.send(client, "POST", "/queue", vendor="Echo", action="submitting the job")
    assert echo.queued == 1 and echo.count("/queue") == 1
    assert not info.value.retryable
    assert "may have reached it" in str(info.value)


async def test_dropped_connection_on_get_is_retried(echo, client):
    echo.faults.drop(path="/item", times=2)
    r = await http.send(client, "GET", "/item", vendor="Echo")
    assert r.status_code == 200
    assert echo.count("/item") == 3


async def test_retries_are_bounded(echo, client):
    echo.faults.status(503, times=None, path="/item")
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await http.send(client, "GET", "/item", vendor="Echo")
    assert echo.count("/item") == FAST.max_attempts
    assert info.value.retryable and info.value.status == 503
    assert time.monotonic() - t0 < 2


async def test_connection_refused_is_a_plain_retryable_sentence():
    async with http.make_client("http://127.0.0.1:9", retry=FAST) as c:
        with pytest.raises(ProviderError) as info:
            await http.send(c, "GET", "/x", vendor="Echo", action="checking the server")
    assert info.value.retryable
    assert str(info.value).startswith("Could not connect to Echo during checking the server")


async def test_slow_answer_times_out_with_a_sentence(echo):
    echo.faults.slow(1.0, path="/queue")
    async with http.make_client(echo.url, retry=FAST, timeout=httpx.Timeout(0.3)) as c:
        with pytest.raises(ProviderError) as info:
            await http.send(c, "POST", "/queue", vendor="Echo", action="submitting the job")
    assert "may have reached it" in str(info.value)


async def test_status_mapping(echo, client):
    echo.faults.status(401, path="/item", body=b'{"error": {"message": "Invalid API key"}}')
    with pytest.raises(AuthError) as info:
        await http.send(client, "GET", "/item", vendor="Echo")
    assert "Invalid API key" in str(info.value)
    echo.faults.status(404, path="/item", body=b'{"error": "Request not found"}')
    with pytest.raises(RemoteJobLost):
        await http.send(client, "GET", "/item", vendor="Echo")
    echo.faults.status(400, path="/item", body=b'{"error": "Failed to process image"}')
    with pytest.raises(ProviderError) as info:
        await http.send(
            client,
            "GET",
            "/item",
            vendor="Echo",
            messages={"failed to process image": "Echo could not download the image"},
        )
    assert str(info.value) == "Echo could not download the image"
    assert info.value.status == 400 and not info.value.retryable


async def test_malformed_json_is_a_retryable_error_for_safe_calls(echo, client):
    echo.faults.malformed(path="/item")
    r = await http.send(client, "GET", "/item", vendor="Echo")
    with pytest.raises(ProviderError) as info:
        http.json_body(r, vendor="Echo", action="checking the status")
    assert info.value.retryable
    assert "unreadable" in str(info.value)


def test_error_detail_shapes():
    def detail(obj):
        return http.json_error_text(obj)

    assert detail({"error": {"message": "Invalid model"}}) == "Invalid model"
    assert detail({"error": "Invalid model"}) == "Invalid model"
    assert detail({"status": "error", "message": "bad image"}) == "bad image"
    problem = {
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {"userId": ["The userId field is required."]},
    }
    assert detail(problem) == "The userId field is required."


def test_parse_retry_after():
    assert http.parse_retry_after("3") == 3.0
    assert http.parse_retry_after(None) is None
    assert http.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert http.parse_retry_after("soon") is None


def test_redaction_of_headers_fields_and_registered_secrets():
    http.register_secret("sk-live-ABCDEF123456")
    h = http.redact_headers(
        httpx.Headers({"x-api-key": "k1", "Authorization": "Bearer abc", "Accept": "x"})
    )
    assert h == {"x-api-key": "[redacted]", "authorization": "[redacted]", "accept": "x"}
    text = (
        'body {"id_token": "eyJhbGciOi", "client_secret": "s3cr3t", "name": "ok"} '
        "url ?X-Amz-Signature=abcdef&x=1 and sk-live-ABCDEF123456 and "
        "Authorization: Bearer tok_123456"
    )
    red = http.redact_text(text)
    for secret in ("eyJhbGciOi", "s3cr3t", "abcdef", "sk-live-ABCDEF123456", "tok_123456"):
        assert secret not in red
    assert '"name": "ok"' in red and "x=1" in red


def test_redacting_filter_cleans_log_records(caplog):
    http.register_secret("very-secret-key-42")
    logger = logging.getLogger("test.redaction")
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        caplog.handler.addFilter(http.RedactingFilter())
        logger.info("sending with key %s", "very-secret-key-42")
    assert "very-secret-key-42" not in caplog.text
    assert "[redacted]" in caplog.text


async def test_user_agent_and_timeouts_are_explicit(echo, client):
    await http.send(client, "GET", "/item", vendor="Echo")
    rec = echo.received("/item")[-1]
    assert rec.header("user-agent").startswith("RetouchDesk/")
    assert client.timeout.read == 5.0
    default = http.make_client("http://x")
    assert default.timeout.connect == 10.0 and default.timeout.read == 60.0
    await default.aclose()


def test_emulator_runs_from_the_command_line(tmp_path):
    """``python -m tests.emulators enhancor --port N`` serves the vendor until terminated."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators", "enhancor", "--port", str(port),
         "--set", "api_key=cli-key-123456", "--fault", "status:status=503,times=1"],
        cwd=repo, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"enhancor emulator listening on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}/api/upscaler/v1/status"
        assert httpx.post(url, json={"request_id": "x"}).status_code == 503  # the --fault
        assert httpx.post(url, json={"request_id": "x"}).status_code == 401
        r = httpx.post(url, json={"request_id": "x"}, headers={"x-api-key": "cli-key-123456"})
        assert r.status_code == 404
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_fault_specs_of_the_command_line():
    from tests.emulators.__main__ import add_fault

    emu = Echo()
    add_fault(emu, "rate_limit:retry_after=2,times=3,path=/item")
    add_fault(emu, "slow:delay=0.5")
    add_fault(emu, "drop:after=true")
    rules = emu.faults._rules
    assert [(f.kind, f.retry_after, f.times, f.path) for f in rules[:1]] == [
        ("status", 2, 3, "/item")
    ]
    assert rules[0].status == 429 and rules[1].delay == 0.5 and rules[2].kind == "drop_after"
    with pytest.raises(ValueError, match="unknown kind"):
        add_fault(emu, "explode")
    with pytest.raises(ValueError, match="not key=value"):
        add_fault(emu, "drop:after")


def test_unknown_emulator_name():
    from tests.emulators import load

    with pytest.raises(ValueError, match="no emulator named 'nope'"):
        load("nope")


class Redirector(Echo):
    """Echo plus a result path that redirects to another host (a CDN)."""

    target = ""

    @route("GET", "/redirect")
    def redirect(self, rec: Recorded) -> Response:
        return Response(302, b"", "text/plain", {"Location": self.target})


async def test_downloads_send_credentials_only_to_the_api_origin():
    """Issue 10 item 6: one download helper for every provider; a result URL on another host
    (absolute, or reached by a redirect from the API host) never sees the key or token."""
    api, cdn = Redirector().start(), Echo().start()
    headers = {"Authorization": "Bearer hf_secret_token_123", "x-api-key": "key-secret-456"}
    client = http.make_client(api.url, headers=headers, retry=FAST)
    downloads = http.Downloads(api.url, lambda: client, retry=FAST)
    try:
        own = api.results.publish(b"own", ".png")
        other = cdn.results.publish(b"cdn", ".png")
        api.target = cdn.results.publish(b"via redirect", ".png")
        assert (await downloads.get(own, vendor="Echo")).content == b"own"
        assert (await downloads.get("/" + own.split("/", 3)[3], vendor="Echo")).content == b"own"
        assert (await downloads.get(other, vendor="Echo")).content == b"cdn"
        assert (await downloads.get("/redirect", vendor="Echo")).content == b"via redirect"
        api.results.expire_all()
        with pytest.raises(ProviderError) as info:
            await downloads.get(own, vendor="Echo")
    finally:
        await downloads.aclose()
        await client.aclose()
        api.stop()
        cdn.stop()
    assert info.value.retryable and info.value.code == "link" and info.value.status == 403
    assert str(info.value) == "Echo refused the result link (HTTP 403); it may have expired"
    on_api = [r for r in api.received() if r.path.startswith("/_results/")]
    assert len(on_api) == 3 and all(r.header("x-api-key") == "key-secret-456" for r in on_api)
    on_cdn = cdn.received()
    assert len(on_cdn) == 2
    for r in on_cdn:
        assert r.header("authorization") is None and r.header("x-api-key") is None
