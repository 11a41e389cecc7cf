"""A small loopback HTTP proxy that fails requests at the worst moments.

It sits between the app and a vendor emulator and, per rule, fails a request **before** it
reaches the server (``reset``, or a made-up status such as 401, 404, 500 or 502) or **after**
the server acted on it and before the answer reaches the app (``reset``, ``502``,
``malformed``, ``empty`` or ``truncated`` 200). Everything else is forwarded unchanged, one
request per connection (``Connection: close``), so a fault never leaks into the next call.

Rules match a method and a path regular expression; each affects ``times`` requests, or every
request during ``seconds`` after its first match. ``forwarded`` records what reached the server.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BEFORE = "before"
AFTER = "after"


@dataclass
class Rule:
    when: str  # BEFORE or AFTER the server got the request
    action: str  # "reset", "status", "malformed", "empty", "truncated"
    path: str = ".*"
    method: str | None = None
    times: int | None = 1
    seconds: float | None = None  # active this long after the first match (times ignored)
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    hits: int = 0
    first: float | None = None

    def take(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if re.fullmatch(self.path, path) is None:
            return False
        now = time.monotonic()
        if self.seconds is not None:
            if self.first is None:
                self.first = now
            if now - self.first > self.seconds:
                return False
        elif self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
        self.hits += 1
        return True


@dataclass
class Seen:
    method: str
    path: str
    fault: str = ""  # "", or "<when> <action>"


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: socketserver.ThreadingTCPServer | None = None

    # -- rules --------------------------------------------------------------------------------

    def before(self, action: str, *, status: int = 500, body: bytes = b"", **kw) -> Rule:
        """Fail matching requests without forwarding them: ``reset`` or ``status``."""
        return self._add(Rule(BEFORE, action, status=status, body=body, **kw))

    def after(self, action: str, *, status: int = 502, body: bytes = b"", **kw) -> Rule:
        """Forward matching requests, then fail the answer: ``reset``, ``status``,
        ``malformed``, ``empty`` or ``truncated``."""
        return self._add(Rule(AFTER, action, status=status, body=body, **kw))

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.take(method, path):
                    return rule
        return None

    def forwarded(self, path: str = ".*", method: str | None = None) -> int:
        """How many matching requests reached the server."""
        with self._lock:
            return sum(
                1
                for s in self.seen
                if re.fullmatch(path, s.path)
                and (method is None or s.method == method)
                and not s.fault.startswith(BEFORE)
            )

    # -- server -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        # Polled every 50 ms, so that stop() does not wait half a second.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            request = _read_request(conn)
        except (OSError, ValueError):
            return
        if request is None:
            return
        method, target, headers, body = request
        path = urlsplit(target).path
        rule = self._match(method, path)
        seen = Seen(method, path, f"{rule.when} {rule.action}" if rule else "")
        with self._lock:
            self.seen.append(seen)
        if rule is not None and rule.when == BEFORE:
            if rule.action == "reset":
                _reset(conn)
            else:
                _answer(conn, rule.status, rule.body, rule.content_type)
            return
        try:
            status, reason, resp_headers, resp_body = self._forward(method, target, headers, body)
        except OSError:
            _reset(conn)
            return
        if rule is None:
            _answer(conn, status, resp_body, resp_headers.get("content-type", ""), reason)
        elif rule.action == "reset":
            _reset(conn)
        elif rule.action == "status":
            _answer(conn, rule.status, rule.body, rule.content_type)
        elif rule.action == "malformed":
            _answer(conn, 200, b'{"success": true, "requestId": ', "application/json")
        elif rule.action == "empty":
            _answer(conn, 200, b"", "application/json")
        elif rule.action == "truncated":
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(resp_body) + 50}\r\nConnection: close\r\n\r\n"
            ).encode()
            conn.sendall(head + resp_body[: max(1, len(resp_body) // 2)])
            conn.close()
        else:
            raise AssertionError(f"unknown action {rule.action}")

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str], bytes]:
        up = urlsplit(self.upstream)
        c = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        try:
            fwd = {k: v for k, v in headers.items() if k not in ("connection", "host")}
            fwd["Host"] = f"{up.hostname}:{up.port}"
            c.request(method, target, body=body, headers=fwd)
            r = c.getresponse()
            data = r.read()
            return r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(conn, rest)
        headers.pop("transfer-encoding")
        headers["content-length"] = str(len(body))
    else:
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                raise ValueError("body cut short")
            rest += chunk
        body = rest[:length]
    return method, target, headers, body


def _read_chunked(conn: socket.socket, buf: bytes) -> bytes:
    out = b""
    while True:
        while b"\r\n" not in buf:
            buf += conn.recv(65536)
        size_line, _, buf = buf.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(buf) < size + 2:
            buf += conn.recv(65536)
        if size == 0:
            return out
        out += buf[:size]
        buf = buf[size + 2 :]


def _answer(
    conn: socket.socket, status: int, body: bytes, content_type: str, reason: str = ""
) -> None:
    reason = reason or http.client.responses.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        + (f"Content-Type: {content_type}\r\n" if content_type else "")
        + "\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        conn.sendall(head + body)
    conn.close()


def _reset(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0): the client sees "connection reset by peer"."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
