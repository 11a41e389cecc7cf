"""The local receiver: a small asyncio HTTP server inside the app.

It makes a job's input (and mask) reachable by URL for vendors that only take URLs (Enhancor),
and receives their webhooks. Everything lives under unguessable per-job tokens:

* ``GET|HEAD /files/<token><suffix>`` serves a published file while its job is active;
* ``POST /hooks/<token>`` accepts a JSON webhook for one job (bodies above ``max_body`` get
  413; a body that is not JSON, a malformed chunked body or a bad length gets 400);
* anything else, an unknown token or a released job gets 404.

It binds 127.0.0.1 by default; for a real vendor the user runs a tunnel or reverse proxy in
front of it and sets its public URL (``receiver.public_url``), which then prefixes every URL
handed out. Without one the local address is used, which is enough for an emulator on the same
machine. The server speaks just enough HTTP/1.1 (one request per connection, then close) and
never logs a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services.hosting.journal import HookJournal

log = logging.getLogger("retouchdesk.receiver")

MAX_HEADER_BYTES = 32 * 1024
CHUNK = 256 * 1024
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _BadRequest(Exception):
    """The request cannot be parsed; answered with 400 and the reason (no traceback)."""


@dataclass
class _Hosted:
    job_id: str
    role: str
    path: Path
    content_type: str
    expires: float


@dataclass
class _JobEntry:
    files: dict[str, str] = field(default_factory=dict)  # role -> file token
    hook_token: str | None = None
    webhook: dict[str, Any] | None = None
    webhooks: int = 0


class LocalReceiver:
    """Serves per-job files and receives webhooks; implements ``providers.hosting_api.Hosting``.

    ``max_body`` limits webhook bodies; ``file_ttl`` is a safety net that stops serving files of
    a job that was never released (a crash of the job's task), counted on ``clock`` (seconds,
    monotonic; a test passes its own to expire a file without waiting). With a ``journal``,
    a webhook is on disk before the vendor gets its 200, and a route opened again after a
    restart finds it (:mod:`services.hosting.journal`).
    """

    description = "local receiver"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str = "",
        max_body: int = 1_000_000,
        file_ttl: float = 24 * 3600.0,
        request_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        journal: HookJournal | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.public_url = public_url.rstrip("/")
        self.max_body = max_body
        self.file_ttl = file_ttl
        self.request_timeout = request_timeout
        self._clock = clock
        self.journal = journal
        self._server: asyncio.Server | None = None
        self._start_lock = asyncio.Lock()
        self._files: dict[str, _Hosted] = {}
        self._hooks: dict[str, str] = {}  # hook token -> job id
        self._jobs: dict[str, _JobEntry] = {}
        self.served = 0  # files sent, for tests and the status bar
        self.refused = 0

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (once); later calls return at once."""
        async with self._start_lock:
            if self._server is not None:
                return
            if self.public_url and not self.port:
                # A tunnel forwards to one fixed port; a random one changes at every start.
                raise ConfigurationError(
                    "The local receiver has a public URL but no fixed port: set receiver.port "
                    "to the port your tunnel or reverse proxy forwards to"
                )
            try:
                self._server = await asyncio.start_server(
                    self._handle, self.host, self.port, limit=MAX_HEADER_BYTES
                )
            except OSError as exc:
                raise ConfigurationError(
                    f"The local receiver cannot listen on {self.host}:{self.port} "
                    f"({exc.strerror or exc}); choose another port in Settings"
                ) from None
            self.port = self._server.sockets[0].getsockname()[1]
            log.info("local receiver listening on %s:%d", self.host, self.port)

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def public(self) -> bool:
        """True when the URLs handed out are reachable from the internet (a public URL is set)."""
        return bool(self.public_url)

    @property
    def base_url(self) -> str:
        """The prefix of every URL handed out: the public URL, else the local address."""
        return self.public_url or self.local_url

    async def aclose(self) -> None:
        self._files.clear()
        self._hooks.clear()
        self._jobs.clear()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    # -- the Hosting protocol -----------------------------------------------------------------

    async def publish(self, job_id: str, path: Path, *, role: str = "input") -> str:
        await self.start()
        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"Cannot host {path.name}: the file does not exist")
        entry = self._jobs.setdefault(job_id, _JobEntry())
        old = entry.files.pop(role, None)
        if old:
            self._files.pop(old, None)
        suffix = path.suffix.lower()
        token = secrets.token_urlsafe(32) + suffix
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._files[token] = _Hosted(job_id, role, path, ctype, self._clock() + self.file_ttl)
        entry.files[role] = token
        return f"{self.base_url}/files/{token}"

    async def webhook_url(self, job_id: str, *, token: str | None = None) -> str:
        await self.start()
        entry = self._jobs.setdefault(job_id, _JobEntry())
        if entry.hook_token is None:
            # A token from an earlier run keeps the URL the vendor already has (a restart).
            usable = token if token and len(token) >= 32 and token not in self._hooks else None
            entry.hook_token = usable or secrets.token_urlsafe(32)
            self._hooks[entry.hook_token] = job_id
            if usable and entry.webhook is None and self.journal is not None:
                # An earlier run acknowledged this job's webhook and died before using it.
                entry.webhook = await asyncio.to_thread(self.journal.load, job_id)
        return f"{self.base_url}/hooks/{entry.hook_token}"

    def webhook_result(self, job_id: str) -> dict[str, Any] | None:
        entry = self._jobs.get(job_id)
        return entry.webhook if entry else None

    async def release(self, job_id: str) -> None:
        self.forget(job_id)

    def forget(self, job_id: str) -> None:
        """Stop serving a job's files and drop its webhook route and kept webhook, at once (no
        await needed)."""
        if self.journal is not None:
            self.journal.drop(job_id)
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return
        for token in entry.files.values():
            self._files.pop(token, None)
        if entry.hook_token:
            self._hooks.pop(entry.hook_token, None)

    def active_jobs(self) -> list[str]:
        return list(self._jobs)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(self._serve_one(reader, writer), self.request_timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await self._respond(writer, 408, b"")
        except asyncio.IncompleteReadError:
            # The body ended early; a client that only half-closed still reads the answer.
            with contextlib.suppress(Exception):
                await self._respond(writer, 400, _error_body("the body ended early"), _JSON)
        except ConnectionError:
            pass
        except Exception:  # never let one bad request take the receiver down
            log.exception("local receiver: request failed")
            with contextlib.suppress(Exception):
                await self._respond(writer, 500, b"")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await self._respond(writer, 431, b"")
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            await self._respond(writer, 400, b"")
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        path = target.split("?", 1)[0]
        method = method.upper()

        if path.startswith("/files/"):
            if method not in ("GET", "HEAD"):
                await self._respond(writer, 405, b"", {"Allow": "GET, HEAD"})
                return
            await self._serve_file(writer, path[len("/files/") :], head_only=method == "HEAD")
            return
        if path.startswith("/hooks/"):
            if method != "POST":
                await self._respond(writer, 405, b"", {"Allow": "POST"})
                return
            await self._receive_hook(reader, writer, path[len("/hooks/") :], headers)
            return
        self.refused += 1
        await self._respond(writer, 404, b"")

    async def _serve_file(self, writer: asyncio.StreamWriter, token: str, head_only: bool) -> None:
        hosted = self._files.get(token)
        if hosted is None or self._clock() > hosted.expires or not hosted.path.is_file():
            self.refused += 1
            await self._respond(writer, 404, b"")
            return
        size = hosted.path.stat().st_size
        await self._respond(
            writer,
            200,
            None,
            {
                "Content-Type": hosted.content_type,
                "Content-Length": str(size),
                "Cache-Control": "no-store",  # a tunnel or proxy must not keep the photo
            },
        )
        if not head_only:
            with hosted.path.open("rb") as fh:
                # Zero-copy from the file to the socket, driven by the loop: no worker-thread
                # hop per chunk (asyncio falls back to reading chunks where sendfile is not
                # available).
                await asyncio.get_running_loop().sendfile(writer.transport, fh, 0, size)
            self.served += 1

    async def _receive_hook(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        token: str,
        headers: dict[str, str],
    ) -> None:
        job_id = self._hooks.get(token)
        if job_id is None:
            self.refused += 1
            await self._respond(writer, 404, b"")
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            try:
                body = await self._read_chunked(reader)
            except _BadRequest as exc:
                self.refused += 1
                await self._respond(writer, 400, _error_body(str(exc)), _JSON)
                return
            if body is None:
                await self._respond(writer, 413, b"")
                return
        else:
            try:
                length = int(headers.get("content-length", ""))
            except ValueError:
                await self._respond(writer, 411, b"")
                return
            if length < 0:
                self.refused += 1
                await self._respond(writer, 400, _error_body("negative Content-Length"), _JSON)
                return
            if length > self.max_body:
                self.refused += 1
                await self._respond(writer, 413, b"")
                return
            body = await reader.readexactly(length)
        try:
            data = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            await self._respond(writer, 400, b'{"error": "body is not JSON"}')
            return
        if not isinstance(data, dict):
            await self._respond(writer, 400, b'{"error": "body must be a JSON object"}')
            return
        if self.journal is not None:
            try:
                await asyncio.to_thread(self.journal.save, job_id, data)
            except OSError as exc:
                # Not kept, so not acknowledged: the vendor sends it again later.
                log.warning("a webhook could not be kept (%s): answered 503", exc.strerror or exc)
                await self._respond(writer, 503, b"")
                return
        entry = self._jobs.get(job_id)
        if entry is not None:
            entry.webhook = data
            entry.webhooks += 1
        elif self.journal is not None:
            # The job ended while its webhook was being written: nothing will drop it later.
            self.journal.drop(job_id)
        log.info("webhook received for job %s", job_id)
        await self._respond(writer, 200, b'{"ok": true}', {"Content-Type": "application/json"})

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes | None:
        """A chunked body; None when it is larger than ``max_body``.

        Raises :class:`_BadRequest` for anything that is not chunked encoding (a size that is
        not hexadecimal, data not followed by CRLF, a size or trailer line that never ends).
        """
        body = bytearray()
        too_big = False
        while True:
            size = _chunk_size(await _read_line(reader))
            if size == 0:
                while await _read_line(reader):  # trailer fields, up to the empty line
                    pass
                return None if too_big else bytes(body)
            if len(body) + size > self.max_body:
                # Read on (up to a bound) so the sender gets its 413 instead of a broken pipe.
                if len(body) + size > 8 * self.max_body + CHUNK:
                    return None
                await reader.readexactly(size)
                body += b"\0" * size
                too_big = True
            else:
                body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise _BadRequest("chunk data is not followed by CRLF")

    @staticmethod
    async def _respond(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, '')}", "Connection: close"]
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Length", str(len(body)))
        lines += [f"{k}: {v}" for k, v in all_headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if body:
            writer.write(body)
        await writer.drain()


_JSON = {"Content-Type": "application/json"}
_MAX_CHUNK_DIGITS = 16  # a size beyond 2**64 is an attack or garbage, not a webhook


def _error_body(reason: str) -> bytes:
    return json.dumps({"error": reason}).encode()


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One CRLF-terminated line of a chunked body, without the CRLF (400 when it never ends)."""
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest("a chunk size or trailer line is too long") from None
    return line[:-2]


def _chunk_size(line: bytes) -> int:
    """The size of a chunk from its size line (``1a3f`` or ``1a3f;ext=1``), or _BadRequest."""
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > _MAX_CHUNK_DIGITS:
        raise _BadRequest("malformed chunk size")
    try:
        text = digits.decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest("malformed chunk size") from None
    if not all(c in "0123456789abcdefABCDEF" for c in text):
        raise _BadRequest("malformed chunk size")
    return int(text, 16)
