"""The emulator harness: a loopback HTTP server in a thread, request recording, fault modes.

Every vendor emulator (``tests/emulators/<vendor>.py``) subclasses :class:`Emulator`, declares
its routes with :func:`route`, and gets for free:

* a real HTTP/1.1 server on 127.0.0.1 (stdlib ``ThreadingHTTPServer``; one thread per
  connection, so a slow answer never blocks the others), started from a pytest fixture
  (``tests/emulators/fixtures.py``) or the command line (``python -m tests.emulators <vendor>``);
* a record of every request (:class:`Recorded`: method, path, query, headers, raw body, JSON,
  multipart fields and files) and counters, so tests assert what the vendor received;
* switchable fault modes (:class:`FaultPlan`), per test and per path: HTTP statuses such as
  429 with ``Retry-After`` or bursts of 500/503, dropped connections (before or after the
  request was acted on), slow answers, malformed JSON; plus :class:`ResultStore` whose URLs
  expire (``expire_results``) and :class:`TokenIssuer` whose tokens can be revoked before their
  announced expiry (``expire_tokens``);
* timers for work that advances on its own (jobs progressing, webhooks being POSTed).

Emulator delays are multiplied by ``time_scale`` so tests stay fast and demos stay realistic.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import io
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("tests.emulators")

# -- requests and responses ------------------------------------------------------------------


@dataclass
class UploadedFile:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Recorded:
    """One request as the emulator received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    time: float = field(default_factory=time.monotonic)
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    json_error: str | None = None  # set when the body claimed JSON but did not parse

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A query-string value (first occurrence)."""
        values = self.query.get(name)
        return values[0] if values else default

    def field(self, name: str, default: str | None = None) -> str | None:
        """A multipart or urlencoded form value (first occurrence)."""
        values = self.form.get(name)
        return values[0] if values else default

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering (after acting on it)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), "application/json", dict(headers or {}))


def raw_response(
    data: bytes, content_type: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(status, data, content_type, dict(headers or {}))


# -- faults ----------------------------------------------------------------------------------


@dataclass
class Fault:
    """One fault rule; ``times`` counts how many matching requests it still affects (None:
    all of them). ``path`` is a regular expression matched against the whole path."""

    kind: str  # "status", "drop", "drop_after", "slow", "malformed"
    path: str = ".*"
    method: str | None = None
    times: int | None = 1
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    body: bytes | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return re.fullmatch(self.path, path) is not None


class FaultPlan:
    """The fault rules of one emulator; the first matching rule applies to a request."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> list[Fault]:
        """Consume the rules that apply to one request: the first matching "slow" rule (a delay
        combines with anything) and the first matching rule of any other kind, in the order
        they were added (so ``status(503, times=2)`` then ``drop()`` means two 503s, then a
        dropped connection)."""
        out: list[Fault] = []
        slow = other = False
        with self._lock:
            for f in self._rules:
                is_slow = f.kind == "slow"
                if (slow if is_slow else other) or not f.matches(method, path):
                    continue
                if f.times is not None:
                    f.times -= 1
                f.hits += 1
                if is_slow:
                    slow = True
                else:
                    other = True
                out.append(f)
        return out

    # Shorthands used by tests -----------------------------------------------------------------

    def status(
        self,
        status: int,
        *,
        times: int | None = 1,
        path: str = ".*",
        method: str | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> Fault:
        """Answer ``status`` instead of acting on the request (429, 500, 503 bursts...)."""
        return self.add(Fault("status", path, method, times, status, retry_after, body=body))

    def rate_limit(
        self, *, retry_after: float = 1.0, times: int | None = 1, path: str = ".*", **kw: Any
    ) -> Fault:
        return self.status(429, times=times, path=path, retry_after=retry_after, **kw)

    def drop(
        self,
        *,
        times: int | None = 1,
        path: str = ".*",
        method: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Close the connection without an answer: before acting on the request, or after
        (``after=True``: the job exists at the vendor but the client never hears of it)."""
        return self.add(Fault("drop_after" if after else "drop", path, method, times))

    def slow(
        self, delay: float, *, times: int | None = 1, path: str = ".*", method: str | None = None
    ) -> Fault:
        """Wait ``delay`` seconds (not scaled) before answering."""
        return self.add(Fault("slow", path, method, times, delay=delay))

    def malformed(
        self,
        *,
        times: int | None = 1,
        path: str = ".*",
        method: str | None = None,
        body: bytes = b'{"status": "COMPL',
    ) -> Fault:
        """Answer 200 with a body that is not valid JSON (after acting on the request)."""
        return self.add(Fault("malformed", path, method, times, status=200, body=body))


# -- expiring results and tokens -------------------------------------------------------------


class ResultStore:
    """Output files served at ``/_results/<token><suffix>`` until they expire.

    An expired URL answers 403 with an S3-style ``AccessDenied``/``Request has expired`` XML
    body, as presigned URLs of real vendors do.
    """

    prefix = "/_results/"

    def __init__(self, base_url: Callable[[], str], ttl: float = 3600.0) -> None:
        self._base_url = base_url
        self.ttl = ttl
        self._items: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()

    def publish(self, data: bytes, suffix: str = ".png", content_type: str = "image/png") -> str:
        token = secrets.token_urlsafe(16) + suffix
        with self._lock:
            self._items[token] = (data, content_type, time.monotonic() + self.ttl)
        return f"{self._base_url()}{self.prefix}{token}"

    def expire_all(self) -> None:
        with self._lock:
            self._items = {k: (d, c, 0.0) for k, (d, c, _) in self._items.items()}

    def serve(self, path: str) -> Response:
        token = path[len(self.prefix) :]
        with self._lock:
            item = self._items.get(token)
        if item is None:
            return raw_response(b"Not Found", "text/plain", 404)
        data, ctype, expires = item
        if time.monotonic() >= expires:
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b"<Message>Request has expired</Message></Error>"
            )
            return raw_response(body, "application/xml", 403)
        return raw_response(data, ctype)


class TokenIssuer:
    """Bearer tokens with an announced lifetime that tests can cut short.

    ``actual_ttl`` (when set) is how long tokens really stay valid, whatever ``ttl`` announces:
    a server that expires tokens early. ``expire_all`` revokes the current ones at once.
    """

    def __init__(self, ttl: float = 3600.0, actual_ttl: float | None = None) -> None:
        self.ttl = ttl
        self.actual_ttl = actual_ttl
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0
        self.all_issued: list[str] = []  # every token handed out (secret scans in tests)

    def issue(self) -> tuple[str, float]:
        """A new token and its announced lifetime in seconds."""
        token = "tok_" + secrets.token_urlsafe(24)
        life = self.ttl if self.actual_ttl is None else min(self.ttl, self.actual_ttl)
        with self._lock:
            self._tokens[token] = time.monotonic() + life
            self.issued += 1
            self.all_issued.append(token)
        return token, self.ttl

    def valid(self, token: str | None) -> bool:
        with self._lock:
            expires = self._tokens.get(token or "")
        return expires is not None and time.monotonic() < expires

    def expire_all(self) -> None:
        """Revoke every token now, whatever lifetime was announced (a token expiring early)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)


# -- routing ---------------------------------------------------------------------------------

Handler = Callable[..., Response]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Declare an emulator method as the handler of ``method`` + a path regex (full match).
    Named groups of the regex are passed to the handler as keyword arguments."""

    def deco(fn: Handler) -> Handler:
        fn.__dict__.setdefault("_routes", []).append((method.upper(), pattern))
        return fn

    return deco


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        self.server.emulator._dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class Emulator:
    """Base class of the vendor emulators: a loopback server with recording and faults.

    Subclasses implement routes with :func:`route` and may override :meth:`check_body_size`
    (CodeFormer's 413 page). ``time_scale`` multiplies every scheduled delay.
    """

    name = "emulator"
    max_body: int | None = None  # bytes; above it :meth:`too_large` answers

    def __init__(self, *, time_scale: float = 1.0, result_ttl: float = 3600.0) -> None:
        self.time_scale = time_scale
        self.faults = FaultPlan()
        self.results = ResultStore(lambda: self.url, result_ttl)
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._timers: list[threading.Timer] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for name in dir(type(self)):
            fn = getattr(type(self), name, None)
            for method, pattern in getattr(fn, "_routes", ()):
                self._routes.append((method, re.compile(pattern), getattr(self, name)))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        server = _Server((host, port), _RequestHandler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"emulator-{self.name}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for t in timers:
            t.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self if self._server else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- helpers for subclasses ---------------------------------------------------------------

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a thread after ``delay`` seconds times ``time_scale``."""

        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("%s: scheduled work failed", self.name)

        t = threading.Timer(max(0.0, delay * self.time_scale), run)
        t.daemon = True
        with self._lock:
            self._timers = [x for x in self._timers if x.is_alive()]
            self._timers.append(t)
        t.start()

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def too_large(self, size: int) -> Response:
        """The answer above ``max_body``; vendors override it with their own page."""
        return json_response({"error": "Request entity too large"}, 413)

    # -- inspection for tests -----------------------------------------------------------------

    def received(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        """Recorded requests, optionally filtered by exact path and method."""
        with self._lock:
            items = list(self.requests)
        return [
            r
            for r in items
            if (path is None or r.path == path) and (method is None or r.method == method.upper())
        ]

    def count(self, path: str, method: str | None = None) -> int:
        return len(self.received(path, method))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
        self.faults.clear()

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, h: _RequestHandler) -> None:
        split = urlsplit(h.path)
        path = split.path
        length = int(h.headers.get("Content-Length") or 0)
        if self.max_body is not None and length > self.max_body:
            # Refuse, then close. The body is read first (up to 64 MB): a Space sits behind
            # Hugging Face's proxy, which takes the whole request before the app answers, so a
            # client there never sees its upload cut off (and a test here no reset race).
            remaining = length if length <= 64 * 1024 * 1024 else 0
            while remaining > 0:
                chunk = h.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
            resp = self.too_large(length)
            # Said in the answer too: a client must not reuse a connection the server closes.
            resp.headers.setdefault("Connection", "close")
            self._send(h, resp)
            h.close_connection = True
            return
        body = h.rfile.read(length) if length else b""
        rec = Recorded(
            method=h.command,
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        _parse_body(rec)
        faults = {f.kind: f for f in self.faults.take(rec.method, path)}
        with self._lock:
            self.requests.append(rec)
        if "slow" in faults:
            time.sleep(faults["slow"].delay)
        if "drop" in faults:
            _drop(h)
            return
        if "status" in faults:
            f = faults["status"]
            headers = {}
            if f.retry_after is not None:
                headers["Retry-After"] = f"{f.retry_after:g}"
            body = f.body or json.dumps({"error": {"message": "Injected fault"}}).encode()
            self._send(h, raw_response(body, "application/json", f.status, headers))
            return
        if path.startswith(ResultStore.prefix) and rec.method in ("GET", "HEAD"):
            resp = self.results.serve(path)
        else:
            resp = self._route(rec)
        if "drop_after" in faults or resp.drop:
            _drop(h)
            return
        if "malformed" in faults and resp.status < 400:
            resp = raw_response(faults["malformed"].body or b"{", "application/json", 200)
        self._send(h, resp)

    def _route(self, rec: Recorded) -> Response:
        allowed = False
        for method, pattern, fn in self._routes:
            m = pattern.fullmatch(rec.path)
            if m is None:
                continue
            if method != rec.method:
                allowed = True
                continue
            try:
                return fn(rec, **m.groupdict())
            except Exception as exc:  # a bug in the emulator: show it, as a server would
                log.exception("%s: handler failed", self.name)
                return json_response({"error": f"emulator error: {exc}"}, 500)
        if allowed:
            return self.method_not_allowed(rec)
        return self.not_found(rec)

    def not_found(self, rec: Recorded) -> Response:
        return json_response({"error": "Not found"}, 404)

    def method_not_allowed(self, rec: Recorded) -> Response:
        return json_response({"error": "Method not allowed"}, 405)

    @staticmethod
    def _send(h: _RequestHandler, resp: Response) -> None:
        try:
            h.send_response(resp.status)
            h.send_header("Content-Type", resp.content_type)
            h.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def _drop(h: _RequestHandler) -> None:
    """Close the client's connection without a byte of answer."""
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


def _parse_body(rec: Recorded) -> None:
    ctype = rec.content_type
    if not rec.body:
        return
    if ctype == "application/json":
        try:
            rec.json = json.loads(rec.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            rec.json_error = str(exc)
    elif ctype == "multipart/form-data":
        rec.form, rec.files = parse_multipart(rec.body, rec.header("content-type") or "")
    elif ctype == "application/x-www-form-urlencoded":
        rec.form = parse_qs(rec.body.decode("utf-8", "replace"), keep_blank_values=True)


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, list[str]], dict[str, list[UploadedFile]]]:
    """Split a multipart/form-data body into text fields and files (stdlib ``email``)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: dict[str, list[str]] = {}
    files: dict[str, list[UploadedFile]] = {}
    if not msg.is_multipart():
        return form, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files.setdefault(name, []).append(
                UploadedFile(filename, payload, part.get_content_type())
            )
        else:
            charset = part.get_content_charset() or "utf-8"
            form.setdefault(name, []).append(payload.decode(charset, "replace"))
    return form, files


# -- real output images ----------------------------------------------------------------------


def render_output(
    op_id: str,
    data: bytes,
    params: dict[str, Any] | None = None,
    *,
    suffix: str = ".png",
    scale: float = 1.0,
    work_dir: Path | None = None,
) -> bytes:
    """A real processed image for an emulated vendor, encoded as ``suffix``, ``scale`` times
    the input's size.

    Runs the offline engine's operation (``retouchdesk.providers.local.run_operation``) when it
    is available so the emulators return genuinely retouched pixels; until then (or if it
    fails) a Pillow fallback does the closest classic operation (edge-preserving smoothing,
    Lanczos upscale). PNGs are written with fast compression: emulators must answer quickly.
    """
    import tempfile

    from PIL import Image, ImageFilter

    src_img = Image.open(io.BytesIO(data))
    src_img.load()
    size = (max(1, round(src_img.width * scale)), max(1, round(src_img.height * scale)))
    result = None
    try:
        from retouchdesk.providers.local import run_operation  # type: ignore[attr-defined]
    except ImportError:
        run_operation = None
    if run_operation is not None:
        with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
            src = Path(tmp) / "in.png"
            src_img.save(src, compress_level=1)
            out = Path(tmp) / "out.tiff"  # uncompressed: the emulators must answer fast
            try:
                run_operation(op_id, src, dict(params or {}), out)
                result = Image.open(out)
                result.load()
            except Exception:
                log.exception("run_operation(%s) failed; using the Pillow fallback", op_id)
                result = None
    if result is None:
        result = src_img.convert("RGB")
        if "upscale" not in op_id:
            result = result.filter(ImageFilter.SMOOTH_MORE).filter(ImageFilter.SMOOTH_MORE)
    if result.size != size:
        result = result.resize(size, Image.LANCZOS)
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(suffix.lower(), "PNG")
    extra = {"compress_level": 1} if fmt == "PNG" else {"quality": 92}
    result.convert("RGB").save(buf, fmt, **extra)
    return buf.getvalue()


def new_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(12)


def first(values: Iterable[Any], default: Any = None) -> Any:
    for v in values:
        return v
    return default
