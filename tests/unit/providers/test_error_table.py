"""The one status-to-error table (``providers.http.STATUS_KINDS``) and each vendor's vocabulary.

A loopback HTTP server (the standard library's, not ours) answers each row's status, headers
and body; the real client stack (retrying transport, ``http.send``) turns it into an error;
the engine's retry policy then decides. The retry rules are checked row by row: 429 and
503 are "not processed" for any call; any other 5xx to a submission is final (an error body
makes it the vendor's answer); polls and downloads keep the job whatever the status; and each
vendor's own words (YouCam's ``error_code``, the others' error texts) give the sentence and,
where the vendor says so, the kind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retouchdesk.core import http_status
from retouchdesk.core.errors import (
    AuthError,
    CreditsExhausted,
    ProviderError,
    RateLimited,
    RemoteJobLost,
)
from retouchdesk.core.http_status import ErrorKind
from retouchdesk.providers import adcreative, codeformer, enhancor, http
from retouchdesk.providers.youcam import errors as youcam_errors
from retouchdesk.services import retry_policy
from retouchdesk.services.retry_policy import Verdict

pytestmark = pytest.mark.timeout(30)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Server:
    """A loopback server answering every request with ``answer``; counts what it received."""

    def __init__(self) -> None:
        self.answer = Answer(200, b"{}")
        self.received: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.received.append((self.command, self.path))
                a = outer.answer
                self.send_response(a.status)
                for k, v in a.headers.items():
                    self.send_header(k, v)
                ctype = "application/json" if a.body[:1] in (b"{", b"[") else "text/html"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(a.body)))
                self.end_headers()
                self.wfile.write(a.body)

            do_GET = do_POST = _reply

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # Polled every 50 ms, so that shutdown() at teardown does not wait half a second.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


async def refusal(
    server: Server, answer: Answer, vocab: http.Vocabulary, *, method: str = "POST"
) -> ProviderError:
    """The error ``http.send`` raises for ``answer`` to a submission (POST) or a poll (GET).

    The transport may retry (as configured for every vendor, without sleeping long); what
    matters here is the error that reaches the engine.
    """
    server.answer = answer
    policy = http.RetryPolicy(max_attempts=2, backoff_base=0.01, max_retry_after=0.05)
    async with http.make_client(server.url, retry=policy) as client:
        with pytest.raises(ProviderError) as info:
            await http.send(client, method, "/task", vendor=vocab, action="submitting the job")
    return info.value


def submission(exc: ProviderError, *, idempotent: bool = False) -> Verdict:
    return retry_policy.submission(exc, idempotent=idempotent, sends=1, tries=1, max_attempts=4)


PLAIN = http.Vocabulary("Vendor")
ERROR_BODY = json.dumps({"status": "error", "message": "model crashed"}).encode()
HTML = b"<html><body>Bad Gateway</body></html>"

# status, headers, body -> (error class, retryable for a POST, verdict for a submission)
TABLE = [
    (401, {}, b"", AuthError, False, Verdict.FINAL),
    (403, {}, b"", AuthError, False, Verdict.FINAL),
    (402, {}, b"", CreditsExhausted, False, Verdict.FINAL),
    (404, {}, b"", RemoteJobLost, False, Verdict.FINAL),
    (413, {}, HTML, ProviderError, False, Verdict.FINAL),
    (422, {}, b'{"error": "bad field"}', ProviderError, False, Verdict.FINAL),
    (429, {"Retry-After": "120"}, b"", RateLimited, True, Verdict.RETRY),
    (429, {}, b"", RateLimited, True, Verdict.RETRY),
    (503, {"Retry-After": "120"}, b"", ProviderError, True, Verdict.RETRY),
    (503, {}, ERROR_BODY, ProviderError, True, Verdict.RETRY),  # 503: not processed, body or not
    (500, {}, b"", ProviderError, False, Verdict.FINAL),  # a submission 5xx: final
    (500, {}, ERROR_BODY, ProviderError, False, Verdict.FINAL),  # the vendor's answer
    (502, {}, HTML, ProviderError, False, Verdict.UNCONFIRMED),  # a gateway: outcome unknown
    (504, {}, b"", ProviderError, False, Verdict.UNCONFIRMED),
]


@pytest.mark.parametrize(("status", "headers", "body", "cls", "retryable", "verdict"), TABLE)
async def test_the_table_for_a_submission_and_a_poll(
    server, status, headers, body, cls, retryable, verdict
):
    exc = await refusal(server, Answer(status, body, headers), PLAIN)
    assert type(exc) is cls and exc.status == status
    assert exc.retryable is retryable
    assert submission(exc) is verdict
    assert str(exc).startswith("Vendor ") and "Traceback" not in str(exc)
    if status == 429:
        assert exc.retry_after == (120 if headers else None)
    # A poll or download of a job the vendor holds: kept (retried) whatever the status.
    polled = await refusal(server, Answer(status, body, headers), PLAIN, method="GET")
    assert retry_policy.remote(polled) is Verdict.KEEP
    if status in (429, 502, 503, 504):
        assert polled.retryable  # a GET may always be sent again
    if body == ERROR_BODY and status == 500:
        assert polled.code == http.VENDOR_ANSWER and not polled.retryable


async def test_a_submission_5xx_is_sent_once_and_503_again(server):
    await refusal(server, Answer(500), PLAIN)
    assert server.received == [("POST", "/task")]  # never re-sent by the transport
    server.received.clear()
    await refusal(server, Answer(503), PLAIN)
    assert server.received == [("POST", "/task")] * 2  # the server did nothing: sent again


def test_the_table_is_the_one_the_retry_policy_reads():
    assert retry_policy.NOT_PROCESSED == {429, 503} == http_status.NOT_PROCESSED_STATUSES
    assert retry_policy.GATEWAY == {502, 504} == http_status.GATEWAY_STATUSES
    assert http.STATUS_KINDS is http_status.STATUS_KINDS  # one table, not a copy
    assert http_status.status_kind(418) is ErrorKind.REJECTED
    assert http_status.status_kind(507) is ErrorKind.SERVER


# -- each vendor's vocabulary --------------------------------------------------------------


def youcam_body(status: int, code: str) -> bytes:
    # api-reference.md section 4.2: {"status", "error", "error_code"}
    return json.dumps({"status": status, "error": "refused", "error_code": code}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls", "sentence"),
    [
        (400, "CreditInsufficiency", CreditsExhausted, "no credits left for this task"),
        (400, "InvalidTaskId", RemoteJobLost, "no longer knows this task"),
        (401, "ExpiredApiKey", AuthError, "API key has expired"),
        (400, "InvalidStyle", ProviderError, "does not know the chosen style"),
        (400, "SomethingNew", ProviderError, "YouCam rejected submitting the job (HTTP 400)"),
    ],
)
async def test_youcam_codes_name_the_kind_and_the_sentence(server, status, code, cls, sentence):
    exc = await refusal(server, Answer(status, youcam_body(status, code)), youcam_errors.VOCABULARY)
    assert type(exc) is cls and sentence in str(exc)
    assert exc.code == code and submission(exc, idempotent=True) is Verdict.FINAL


async def test_youcam_server_errors_follow_the_shared_rules(server):
    vocab = youcam_errors.VOCABULARY
    rate = await refusal(server, Answer(429, youcam_body(429, "RateLimited")), vocab)
    assert isinstance(rate, RateLimited) and "YouCam rate limited the request" in str(rate)
    # A 5xx naming an error code is YouCam's answer: final for the submission (its request_id
    # would make a resend free, but the answer says the engine failed on it)...
    answered = await refusal(server, Answer(500, youcam_body(500, "InternalError")), vocab)
    assert answered.code == http.VENDOR_ANSWER
    assert submission(answered, idempotent=True) is Verdict.FINAL
    # ...a bare 500 may be sent once more with the same request_id, never more.
    bare = await refusal(server, Answer(500), vocab)
    assert submission(bare, idempotent=True) is Verdict.RETRY
    assert (
        retry_policy.submission(bare, idempotent=True, sends=2, tries=2, max_attempts=4)
        is Verdict.FINAL
    )


@pytest.mark.parametrize(
    ("vocab", "text", "sentence"),
    [
        (enhancor.VOCABULARY, "Failed to process image", "Enhancor could not download the image"),
        (codeformer.VOCABULARY, "No image provided", "The CodeFormer server received no image"),
        (adcreative.VOCABULARY, "Invalid image format", "AdCreative accepts only JPEG and PNG"),
    ],
)
async def test_a_vendor_text_gives_its_sentence_and_its_answer_is_final(
    server, vocab, text, sentence
):
    body = json.dumps({"error": {"message": text}}).encode()
    exc = await refusal(server, Answer(400, body), vocab)
    assert str(exc).startswith(sentence) and submission(exc) is Verdict.FINAL
    exc = await refusal(server, Answer(500, body), vocab)
    assert str(exc).startswith(sentence) and exc.code == http.VENDOR_ANSWER
    # The same words in a 503 do not make it an answer: the server did nothing, send again.
    exc = await refusal(server, Answer(503, body), vocab)
    assert exc.retryable and submission(exc) is Verdict.RETRY
