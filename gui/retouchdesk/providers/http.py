"""The shared HTTP layer of every cloud provider: one client factory, retries, errors, redaction.

Why one module: every vendor needs the same four things and getting any of them subtly wrong
loses a user's money or leaks a key.

* :func:`make_client` builds the long-lived ``httpx.AsyncClient`` of a service with a base URL,
  explicit timeouts and a User-Agent, on top of :class:`RetryingTransport`.
* :class:`RetryingTransport` retries what is safe to retry: a connection that never opened,
  429 (honouring ``Retry-After``) and 503 for any request, and other 5xx answers and broken
  connections only for idempotent requests. A ``POST`` that may have reached the server (a job
  queued at a vendor) is never sent twice unless the caller marks it safe with
  ``extensions={RETRY_SAFE: True}`` (a status query sent as ``POST``).
* :func:`check_response` and :func:`send` map HTTP statuses and transport failures to
  :mod:`retouchdesk.core.errors` with one plain sentence naming the vendor, through one
  status-to-error table (``core.http_status.STATUS_KINDS``, re-exported here); each vendor
  supplies only its :class:`Vocabulary` (how its error body names an error, what its codes
  mean).
* :class:`BearerAuth` over a :class:`TokenCache` (sign-in tokens) or :class:`StaticToken`
  (a key sent as bearer) sets ``Authorization`` and renews a refused token once on 401.
* :func:`redact_headers`, :func:`redact_text` and :class:`RedactingFilter` keep ``x-api-key``,
  ``x-api-secret``, ``Authorization``, ``id_token``, ``client_secret`` and any registered secret
  value out of logs.

Retries here are short and bounded (seconds); longer waits are the engine's business, through
``ProviderError.retryable`` / ``retry_after``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from retouchdesk import __version__
from retouchdesk.core import redaction
from retouchdesk.core.errors import (
    VENDOR_ANSWER,
    AuthError,
    CreditsExhausted,
    ProviderError,
    RateLimited,
    RemoteJobLost,
)
from retouchdesk.core.http_status import (
    NOT_PROCESSED_STATUSES,
    STATUS_KINDS,  # noqa: F401 - re-exported: the table the vendors share
    ErrorKind,
    status_kind,
)

log = logging.getLogger("retouchdesk.http")

USER_AGENT = f"RetouchDesk/{__version__} (+https://github.com/retouchdesk/retouchdesk)"

#: Request extension: set to True on a non-idempotent request that is safe to send again
#: (a read-only query sent as POST, or a call carrying an idempotency key).
RETRY_SAFE = "retouchdesk.retry_safe"
#: Request extension: a short description of the call for error sentences ("the upload").
ACTION = "retouchdesk.action"
#: Request extension: set to True to send the request once, whatever the policy (a health
#: probe that must report "waking up" now rather than retry until the server is up).
NO_RETRIES = "retouchdesk.no_retries"

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Statuses retried for idempotent (or marked safe) requests.
RETRY_STATUSES = frozenset({500, 502, 503, 504, 429})

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=120.0, pool=30.0)


# -- retry policy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How the transport retries: bounded attempts, exponential backoff with jitter.

    ``max_retry_after`` caps how long the transport itself waits for a ``Retry-After``; a
    longer wait is handed to the engine as :class:`RateLimited` with ``retry_after`` set.
    """

    max_attempts: int = 4  # tries in total, the first included
    backoff_base: float = 0.5  # seconds before the first retry
    backoff_max: float = 8.0
    jitter: float = 0.25  # +- fraction of each delay, spreads a batch's retries apart
    max_retry_after: float = 30.0
    retry_statuses: frozenset[int] = RETRY_STATUSES

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        base = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def may_resend(request: httpx.Request) -> bool:
    """True when sending ``request`` twice cannot do anything twice at the server."""
    return request.method.upper() in IDEMPOTENT_METHODS or bool(request.extensions.get(RETRY_SAFE))


class RetryingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and retries failures that are safe to retry (see the module doc).

    ``sleep`` is injectable so tests can record the waits instead of sleeping.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        on_retry: Callable[[httpx.Request, int, float, str], None] | None = None,
    ) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Read the body once so that a retry can send it again (inputs are single images).
        await request.aread()
        policy = NO_RETRY if request.extensions.get(NO_RETRIES) else self.policy
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= policy.max_attempts
            try:
                response = await self.inner.handle_async_request(request)
            except (
                httpx.ConnectError,
                httpx.ConnectTimeout,
                httpx.PoolTimeout,
                httpx.WriteError,
                httpx.WriteTimeout,
            ) as exc:
                # The connection never opened, or the request was never sent whole (a server
                # answering 413 early cuts the upload): the server cannot have acted on it.
                if last:
                    raise
                await self._wait(request, attempt, policy.delay(attempt), type(exc).__name__)
                continue
            except httpx.TransportError as exc:
                # The request may have reached the server (read error, dropped connection).
                if last or not may_resend(request):
                    raise
                await self._wait(request, attempt, policy.delay(attempt), type(exc).__name__)
                continue

            status = response.status_code
            if status not in policy.retry_statuses or last:
                return response
            if status not in NOT_PROCESSED_STATUSES and not may_resend(request):
                return response
            wait = policy.delay(attempt)
            if status in (429, 503):
                after = parse_retry_after(response.headers.get("Retry-After"))
                if after is not None:
                    if after > policy.max_retry_after:
                        return response  # too long for us: the engine reschedules the job
                    wait = after
            await response.aclose()
            await self._wait(request, attempt, wait, f"HTTP {status}")

    async def _wait(self, request: httpx.Request, attempt: int, wait: float, why: str) -> None:
        log.info(
            "retrying %s %s after %s in %.2f s (try %d)",
            request.method,
            redact_url(str(request.url)),
            why,
            wait,
            attempt + 1,
        )
        if self._on_retry is not None:
            self._on_retry(request, attempt, wait, why)
        await self._sleep(wait)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- client factory --------------------------------------------------------------------------


def make_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout | float | None = None,
    retry: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    secrets: Iterable[str] = (),
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """The ``AsyncClient`` of one service: base URL, explicit timeouts, User-Agent, retries.

    ``secrets`` are the credential values this client sends; they are registered for
    redaction so that no log line or error can show them. ``transport`` replaces the network
    transport under the retry layer (tests use ``httpx.MockTransport`` only for unit checks of
    this module; provider tests talk to real loopback emulators).
    """
    for s in secrets:
        register_secret(s)
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    all_headers.update(headers or {})
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") if base_url else "",
        headers=all_headers,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        transport=RetryingTransport(transport, retry),
        follow_redirects=follow_redirects,
        event_hooks={"request": [_log_request], "response": [_log_response]},
    )


async def _log_request(request: httpx.Request) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "-> %s %s %s",
            request.method,
            redact_url(str(request.url)),
            redact_headers(request.headers),
        )


async def _log_response(response: httpx.Response) -> None:
    if log.isEnabledFor(logging.DEBUG):
        req = response.request
        log.debug("<- %s %s %s", response.status_code, req.method, redact_url(str(req.url)))


# -- sending with error mapping --------------------------------------------------------------


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    vendor: str | Vocabulary,
    action: str = "the request",
    safe: bool = False,
    check: bool = True,
    messages: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; transport failures and bad statuses become ``core.errors``.

    ``safe`` marks a non-idempotent request as safe to resend (see :data:`RETRY_SAFE`).
    ``action`` names the call in error sentences ("submitting the job"). ``vendor`` is the
    vendor's :class:`Vocabulary` (or just its name, with ``messages`` mapping its error texts
    to plain sentences, see :func:`vendor_message`).
    """
    vocab = vocabulary(vendor, messages)
    extensions = dict(kwargs.pop("extensions", None) or {})
    if safe:
        extensions[RETRY_SAFE] = True
    extensions[ACTION] = action
    try:
        response = await client.request(method, url, extensions=extensions, **kwargs)
    except httpx.TransportError as exc:
        reached = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.WriteError)
        resendable = safe or method.upper() in IDEMPOTENT_METHODS
        raise transport_error(
            exc, vendor=vocab.vendor, action=action, may_have_reached=reached and not resendable
        ) from None
    if check:
        await check_response(response, vendor=vocab, action=action)
    return response


def transport_error(
    exc: httpx.TransportError, *, vendor: str, action: str, may_have_reached: bool
) -> ProviderError:
    """A plain sentence for a network failure; retryable unless a job may have been created."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ProviderError(
            f"Could not connect to {vendor} during {action}: check the server address "
            "and your internet connection",
            retryable=True,
            code="connect",
        )
    if may_have_reached:
        # Sending again could queue (and bill) the job twice: let the user decide.
        return ProviderError(
            f"The connection to {vendor} was lost during {action}; the request may have "
            "reached it, so it was not sent again",
            retryable=False,
            code="ambiguous",
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(
            f"{vendor} did not answer in time during {action}", retryable=True, code="timeout"
        )
    return ProviderError(
        f"The connection to {vendor} was lost during {action}", retryable=True, code="network"
    )


@dataclass(frozen=True)
class Vocabulary:
    """How one vendor's error answers speak; the rest is :data:`STATUS_KINDS`.

    ``code_field`` is the JSON field of its error body that names the error (YouCam's
    ``error_code``); ``kinds`` says what some of those codes mean whatever the HTTP status
    (YouCam answers "no credits" as 400 ``CreditInsufficiency``); ``sentences`` gives codes a
    plain sentence; ``messages`` maps texts of its error bodies (case-insensitive substrings)
    to plain sentences.
    """

    vendor: str
    code_field: str = ""
    kinds: Mapping[str, ErrorKind] = field(default_factory=dict)
    sentences: Mapping[str, str] = field(default_factory=dict)
    messages: Mapping[str, str] = field(default_factory=dict)

    def code(self, response: httpx.Response) -> str | None:
        """The vendor's error code in the body, if it names one."""
        if not self.code_field:
            return None
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            return None
        value = data.get(self.code_field) if isinstance(data, dict) else None
        return str(value) if value else None


def vocabulary(vendor: str | Vocabulary, messages: Mapping[str, str] | None = None) -> Vocabulary:
    """A vendor's vocabulary, or a plain one for a vendor known only by name."""
    if isinstance(vendor, Vocabulary):
        return vendor
    return Vocabulary(vendor, messages=messages or {})


async def check_response(
    response: httpx.Response,
    *,
    vendor: str | Vocabulary,
    action: str = "the request",
    messages: Mapping[str, str] | None = None,
) -> None:
    """Raise the ``core.errors`` exception that matches a non-2xx response; return otherwise."""
    if response.status_code < 400:
        return
    await response.aread()
    raise status_error(response, vocabulary(vendor, messages), action=action)


def status_error(response: httpx.Response, vocab: Vocabulary, *, action: str) -> ProviderError:
    """The exception for a refused (read) answer: its kind from the table and the vendor's
    code, its sentence from the vendor's words where it has some."""
    status = response.status_code
    code = vocab.code(response)
    kind = vocab.kinds.get(code or "") or status_kind(status)
    if kind is ErrorKind.SERVER and (code or is_error_body(response)):
        # The vendor's own answer (Flask's ``jsonify(...), 500``): it processed the request
        # and failed; sending it again would do (and maybe bill) the same thing.
        kind = ErrorKind.VENDOR_ANSWER
    raw = error_detail(response)
    known = vocab.sentences.get(code or "")
    if known is None:
        matched = vendor_message(raw, vocab.messages)
        known = matched if matched is not raw else None
    if known is not None and kind is ErrorKind.SERVER:
        kind = ErrorKind.VENDOR_ANSWER  # a text the vendor wrote is its answer
    after = parse_retry_after(response.headers.get("Retry-After"))
    sentence = known or _sentence(kind, vocab.vendor, action, status, raw, after)
    return _error(kind, sentence, response, status, code, after)


def _sentence(
    kind: ErrorKind, vendor: str, action: str, status: int, raw: str, after: float | None
) -> str:
    said = f": {raw}" if raw else ""
    if kind is ErrorKind.AUTH:
        return f"{vendor} refused the credentials during {action}{said}; check the key in Settings"
    if kind is ErrorKind.CREDITS:
        return f"{vendor} says the account has no credits left{said}"
    if kind is ErrorKind.RATE_LIMITED:
        wait = f"retrying in {after:.0f} s" if after is not None else "retrying shortly"
        return f"{vendor} rate limited the request; {wait}"
    if kind is ErrorKind.LOST:
        return f"{vendor} does not know this request any more ({action}){said}"
    if kind is ErrorKind.TOO_LARGE:
        return f"{vendor} refused the upload during {action}: the file is too large"
    if kind is ErrorKind.VENDOR_ANSWER and said:
        return f"{vendor} failed during {action}{said}"
    if kind in (ErrorKind.SERVER, ErrorKind.GATEWAY, ErrorKind.NOT_PROCESSED):
        return f"{vendor} had a server error (HTTP {status}) during {action}{said}"
    if kind is ErrorKind.VENDOR_ANSWER:
        return f"{vendor} had a server error (HTTP {status}) during {action}"
    return f"{vendor} rejected {action} (HTTP {status}){said}"


def _error(
    kind: ErrorKind,
    sentence: str,
    response: httpx.Response,
    status: int,
    code: str | None,
    after: float | None,
) -> ProviderError:
    if kind is ErrorKind.AUTH:
        return AuthError(sentence, status=status, code=code)
    if kind is ErrorKind.CREDITS:
        return CreditsExhausted(sentence, status=status, code=code)
    if kind is ErrorKind.RATE_LIMITED:
        return RateLimited(sentence, retry_after=after, status=status, code=code)
    if kind is ErrorKind.LOST:
        return RemoteJobLost(sentence, status=status, code=code)
    if kind is ErrorKind.NOT_PROCESSED:
        return ProviderError(sentence, retryable=True, retry_after=after, status=status, code=code)
    if kind in (ErrorKind.SERVER, ErrorKind.GATEWAY):
        resend = may_resend(response.request)
        return ProviderError(
            sentence, retryable=resend, retry_after=after, status=status, code=code
        )
    if kind is ErrorKind.VENDOR_ANSWER:
        return ProviderError(sentence, retryable=False, status=status, code=VENDOR_ANSWER)
    return ProviderError(sentence, retryable=False, status=status, code=code)


def is_error_body(response: httpx.Response) -> bool:
    """The body is a JSON error answer (``{"status": "error"}``, ``{"error": ...}``)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    lowered = {str(k).lower(): v for k, v in data.items()}
    state = str(lowered.get("status", "")).lower()
    return state in ("error", "failed", "failure") or bool(lowered.get("error"))


def error_detail(response: httpx.Response) -> str:
    """The vendor's error text from common JSON shapes, or a short plain-text body.

    Handles ``{"error": {"message"}}``, ``{"error": "..."}``, ``{"message"}``,
    ``{"status": "error", "message"}``, ASP.NET ProblemDetails (``title`` + ``errors``) and
    ``{"detail"}``; HTML pages yield nothing (they are not meant for users).
    """
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        if not text or "<" in text[:200]:
            return ""
        return redact_text(text.splitlines()[0][:200])
    return redact_text(json_error_text(data))


def json_error_text(data: Any) -> str:
    """The human part of a JSON error body, whatever its shape (see :func:`error_detail`)."""
    if isinstance(data, str):
        return data[:300]
    if not isinstance(data, dict):
        return ""
    lowered = {str(k).lower(): v for k, v in data.items()}
    err = lowered.get("error")
    if isinstance(err, dict):
        inner = json_error_text(err)
        if inner:
            return inner
    elif isinstance(err, str) and err:
        return err[:300]
    errors = lowered.get("errors")
    if isinstance(errors, dict) and errors:
        parts = []
        for field, msgs in errors.items():
            msg = "; ".join(str(m) for m in msgs) if isinstance(msgs, list) else str(msgs)
            parts.append(f"{field}: {msg}" if field and field not in msg else msg)
        return " ".join(parts)[:300]
    for key in ("message", "detail", "title", "error_description", "msg"):
        value = lowered.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return ""


def vendor_message(detail: str, messages: Mapping[str, str] | None) -> str:
    """Replace a known vendor text by a plain sentence (case-insensitive substring match);
    returns ``detail`` itself (the same object) when nothing matches."""
    if not detail or not messages:
        return detail
    low = detail.lower()
    for needle, sentence in messages.items():
        if needle.lower() in low:
            return sentence
    return detail


def json_body(response: httpx.Response, *, vendor: str, action: str) -> Any:
    """The decoded JSON of a 2xx response, or a retryable error for a malformed body."""
    if not response.content.strip():
        raise ProviderError(
            f"{vendor} sent an empty answer during {action}",
            retryable=may_resend(response.request),
            code="empty",
        )
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise ProviderError(
            f"{vendor} sent an unreadable answer during {action}",
            retryable=may_resend(response.request),
            code="malformed",
        ) from None


# -- authentication --------------------------------------------------------------------------

#: What a token fetch answers: the token, or (token, expiry on the cache's clock).
Fetched = str | tuple[str, float]


class TokenSource(Protocol):
    """Where :class:`BearerAuth` gets its token, and a new one after a refusal."""

    async def get(self) -> str: ...

    async def renew(self, stale: str) -> str | None:
        """A token to try instead of ``stale``, or None when there is nothing to renew."""
        ...


class StaticToken:
    """A key that is its own bearer token (YouCam v2): read when sent, never renewed."""

    def __init__(self, value: Callable[[], str]) -> None:
        self._value = value

    async def get(self) -> str:
        return self._value()

    async def renew(self, stale: str) -> str | None:
        return None


class TokenCache:
    """A sign-in token: fetched once, reused for its life, renewed a little before it expires.

    ``fetch`` performs the sign-in and returns the token, or the token with its expiry on
    ``clock`` (a vendor that announces it); a bare token lives ``lifetime`` seconds. Concurrent
    callers share one fetch (a lock), so a batch starting at once signs in once. Every token
    fetched is registered for redaction.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Fetched]],
        *,
        lifetime: float = 3600.0,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.lifetime = lifetime
        self.margin = min(margin, lifetime / 2)
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None
        self.fetches = 0

    async def get(self) -> str:
        if self._valid():
            return self._token  # type: ignore[return-value]
        if self._lock is None:  # created on the loop that uses it
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._valid():
                fetched = await self._fetch()
                token, expires = fetched if isinstance(fetched, tuple) else (fetched, None)
                register_secret(token)
                self.fetches += 1
                self._token = token
                self._expires = self._clock() + self.lifetime if expires is None else expires
            return self._token  # type: ignore[return-value]

    async def renew(self, stale: str | None) -> str:
        """A new token after a refusal of ``stale``; another caller may have renewed already."""
        if stale is not None and stale == self._token:
            self._token = None
        return await self.get()

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires - self.margin


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer`` from a :class:`TokenSource`, renewed once on a refusal.

    A 401 means the vendor did not act on the request (a token revoked before its announced
    expiry), so the same request is sent once more with a renewed token; a second 401 is the
    answer (the caller's error mapping turns it into ``AuthError``). Written once here so that
    no provider keeps its own loop; pass it per request (``auth=``), never on a client that
    also fetches files from other hosts. The token never appears in a log line.
    """

    requires_request_body = True  # a renewed request sends the same body again

    def __init__(
        self, source: TokenSource, *, vendor: str, renew_on: frozenset[int] = frozenset({401})
    ) -> None:
        self.source = source
        self.vendor = vendor
        self.renew_on = renew_on

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("BearerAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        await request.aread()
        token = await self.source.get()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code not in self.renew_on:
            return
        fresh = await self.source.renew(token)
        if fresh is None:
            return
        log.info("%s refused the access token (HTTP %d); renewing it once",
                 self.vendor, response.status_code)  # fmt: skip
        request.headers["Authorization"] = f"Bearer {fresh}"
        yield request


# -- downloads -------------------------------------------------------------------------------


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of an absolute URL, default ports made explicit."""
    parts = httpx.URL(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.host, port


class Downloads:
    """The one way providers fetch result files: credentials go only to the API's origin.

    A result URL on the configured base URL's own origin (a relative path, or the same scheme,
    host and port) is fetched with the provider's authenticated client; any other URL (a CDN,
    a presigned bucket, a host a compromised answer names) with a plain client that carries no
    key, token or cookie. Statuses become ``core.errors`` exceptions like every other call.
    """

    def __init__(
        self,
        base_url: str,
        api: Callable[[], httpx.AsyncClient],
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api = api
        self._retry = retry
        self._timeout = timeout
        self._plain: httpx.AsyncClient | None = None

    def resolve(self, url: str) -> str:
        """``url`` made absolute against the base URL."""
        return str(httpx.URL(self.base_url + "/").join(url))

    def credentialed(self, url: str) -> bool:
        """True when ``url`` is on the API's own origin (it may see the credentials)."""
        return bool(self.base_url) and origin(self.resolve(url)) == origin(self.base_url)

    def _client_for(self, url: str) -> httpx.AsyncClient:
        if self.credentialed(url):
            return self._api()
        if self._plain is None:
            self._plain = make_client(
                "", headers={"Accept": "*/*"}, retry=self._retry, timeout=self._timeout
            )
        return self._plain

    async def get(
        self, url: str, *, vendor: str, action: str = "downloading the result"
    ) -> httpx.Response:
        """GET a result file (bounded retries in the transport; errors as ``core.errors``)."""
        try:
            return await self._get(url, vendor=vendor, action=action)
        except ProviderError as exc:
            if exc.status not in (401, 403, 404, 410):
                raise
            # A refused or expired result link says nothing about the account's key: the job
            # is done at the vendor, and asking its status again gives a fresh link.
            raise ProviderError(
                f"{vendor} refused the result link (HTTP {exc.status}); it may have expired",
                retryable=True,
                status=exc.status,
                code="link",
            ) from None

    async def _get(self, url: str, *, vendor: str, action: str) -> httpx.Response:
        absolute = self.resolve(url)
        for _ in range(5):
            client = self._client_for(absolute)
            if not self.credentialed(absolute):
                return await send(client, "GET", absolute, vendor=vendor, action=action)
            # On the API's origin, but a redirect elsewhere must not carry the key along
            # (httpx drops only Authorization, not x-api-key): follow redirects by hand.
            response = await send(
                client, "GET", absolute, vendor=vendor, action=action, follow_redirects=False
            )
            if not response.is_redirect:
                return response
            absolute = str(response.url.join(response.headers.get("Location", "")))
        raise ProviderError(f"{vendor} redirected {action} too many times", retryable=True)

    async def aclose(self) -> None:
        if self._plain is not None:
            await self._plain.aclose()
            self._plain = None


# -- redaction (in core.redaction, which the window's start-up loads without httpx) --------

SECRET_HEADERS = redaction.SECRET_HEADERS
SECRET_FIELDS = redaction.SECRET_FIELDS
REDACTED = redaction.REDACTED
register_secret = redaction.register_secret
redact_text = redaction.redact_text
redact_url = redaction.redact_url
RedactingFilter = redaction.RedactingFilter
install_log_redaction = redaction.install_log_redaction


def redact_headers(headers: Mapping[str, str] | httpx.Headers) -> dict[str, str]:
    """A copy of ``headers`` with credential headers replaced by ``[redacted]``."""
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else redact_text(v)) for k, v in items}
