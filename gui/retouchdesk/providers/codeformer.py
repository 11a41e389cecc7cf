"""CodeFormer face restoration on the user's own server (usually a Hugging Face Space).

Protocol (seeds/codeformer-api.md, api-reference section 3): ``POST /api/process`` as
multipart (field ``image``, repeated for a batch, parameters as form fields) or as JSON
(``image_base64`` / ``images_base64``); the answer carries the results directly
(``image_base64`` when asked for, otherwise ``image_url``), so a job finishes in ``submit``.
``GET /api/health`` says ``{"status": "online", "device": "cuda"}``.

A sleeping Space answers 503 (an HTML page) for up to minutes while it starts, so ``prepare``
waits for ``/api/health`` with the status "waking up", and the process call has a long read
timeout. Re-sending the process call is harmless (the server is the user's own and free), so
it is marked safe to retry after a dropped connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import mimetypes
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from retouchdesk.core.errors import ConfigurationError, ProviderError
from retouchdesk.providers import http
from retouchdesk.providers.base import Capability, JobContext, Output, Provider, SubmitResult

log = logging.getLogger("retouchdesk.codeformer")

VENDOR = "CodeFormer"
UPLOADS = ("multipart", "json")
MESSAGES = {
    "no image provided": "The CodeFormer server received no image",
}


class CodeFormerProvider(Provider):
    """Synchronous face restoration; several images can go in one request (``process``)."""

    id = "codeformer"
    # Re-sending is harmless (the user's own free server, nothing is queued or billed), so a
    # job interrupted during submit may be sent again after a restart.
    capabilities = frozenset({Capability.BATCH, Capability.IDEMPOTENT_SUBMIT})
    max_concurrency = 1  # one GPU behind one Space: queueing here is kinder than there

    def __init__(
        self,
        *,
        base_url: str,
        token: str = "",
        upload: str = "multipart",
        read_timeout: float = 600.0,
        wake_timeout: float | None = None,
        health_interval: float = 5.0,
        retry: http.RetryPolicy | None = None,
    ) -> None:
        if upload not in UPLOADS:
            raise ConfigurationError(
                f"Setting codeformer.upload must be multipart or json (got {upload!r})"
            )
        self.base_url = base_url.strip().rstrip("/")
        self.token = token
        self.upload = upload
        self.read_timeout = read_timeout
        self.wake_timeout = read_timeout if wake_timeout is None else wake_timeout
        self.health_interval = health_interval
        self._retry = retry
        self._client: httpx.AsyncClient | None = None

    def _api(self) -> httpx.AsyncClient:
        if not self.base_url:
            raise ConfigurationError(
                "CodeFormer needs the address of your server: set codeformer.base_url "
                "(RETOUCHDESK_CODEFORMER_BASE_URL) in Settings"
            )
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._client = http.make_client(
                self.base_url,
                headers=headers,
                timeout=httpx.Timeout(connect=15.0, read=self.read_timeout, write=300.0, pool=30.0),
                retry=self._retry,
                secrets=[self.token] if self.token else (),
            )
        return self._client

    # -- health -------------------------------------------------------------------------------

    async def health(self) -> str:
        """The server's status for the provider list: "online (cuda)", "waking up", or
        "offline: <reason>"."""
        try:
            r = await self._api().get(
                "/api/health",
                timeout=httpx.Timeout(15.0),
                extensions={http.ACTION: "checking the server", http.NO_RETRIES: True},
            )
        except ConfigurationError as exc:
            return f"not set up: {exc}"
        except httpx.TransportError:
            return "offline: the server cannot be reached"
        if r.status_code == 503:
            return "waking up"
        if r.status_code in (401, 403):
            return "offline: the server refused the access token"
        try:
            data = r.json()
        except ValueError:
            return f"offline: unexpected answer (HTTP {r.status_code})"
        status = str(data.get("status", "")).lower() if isinstance(data, dict) else ""
        if r.status_code == 200 and status == "online":
            device = str(data.get("device") or "unknown device")
            return f"online ({device})"
        return f"offline: {status or f'HTTP {r.status_code}'}"

    async def test_connection(self) -> str:
        """For the account page: the server's health as a sentence, or the reason it is down."""
        status = await self.health()
        if status.startswith("online"):
            return f"The CodeFormer server is {status}."
        if status == "waking up":
            return "The CodeFormer server is waking up; the first job may take a few minutes."
        raise ProviderError(f"The CodeFormer server is {status}", retryable=True)

    async def wait_until_awake(self, ctx: JobContext | None = None) -> str:
        """Poll the health call while a sleeping Space starts; the status text when online."""
        deadline = time.monotonic() + self.wake_timeout
        while True:
            status = await self.health()
            if status.startswith("online"):
                return status
            if status.startswith(("not set up", "offline: the server refused")):
                raise ConfigurationError(f"CodeFormer is {status}")
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"The CodeFormer server did not come online in time ({status})",
                    retryable=True,
                )
            if ctx is not None:
                ctx.raise_if_cancelled()
                ctx.progress(None, "waking up the CodeFormer server" if status == "waking up"
                             else f"CodeFormer server {status}")  # fmt: skip
            await asyncio.sleep(self.health_interval)

    # -- the job ------------------------------------------------------------------------------

    async def prepare(self, ctx: JobContext) -> None:
        status = await self.wait_until_awake(ctx)
        ctx.remote["server"] = status
        ctx.progress(None, f"server {status}")

    async def submit(self, ctx: JobContext) -> SubmitResult:
        ctx.progress(None, "restoring faces")
        outputs = await self.process([ctx.input_path], ctx.operation.serialize(ctx.params))
        return SubmitResult(outputs=outputs, cost=0.0)

    async def process(
        self, paths: Sequence[Path], params: dict[str, Any], *, upload: str | None = None
    ) -> list[Output]:
        """Restore one or several images in one request; one output per input, in order."""
        upload = upload or self.upload
        fields = {k: v for k, v in params.items() if v is not None}
        if upload == "json":
            body: dict[str, Any] = dict(fields)
            encoded = [_data_uri(p) for p in paths]
            if len(encoded) == 1:
                body["image_base64"] = encoded[0]
            else:
                body["images_base64"] = encoded
            body["return_base64"] = True
            kwargs: dict[str, Any] = {"json": body}
        else:
            data = {k: _form_value(v) for k, v in fields.items()}
            files = [
                ("image", (p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "image/png"))
                for p in paths
            ]
            kwargs = {"data": data, "files": files}
        response = await http.send(
            self._api(),
            "POST",
            "/api/process",
            vendor=VENDOR,
            action="restoring the photo",
            safe=True,  # the user's own free server: processing twice costs nothing
            messages=MESSAGES,
            **kwargs,
        )
        answer = http.json_body(response, vendor=VENDOR, action="restoring the photo")
        if not isinstance(answer, dict) or str(answer.get("status")).lower() != "success":
            detail = http.json_error_text(answer)
            raise ProviderError(
                f"The CodeFormer server could not restore the photo"
                f"{': ' + detail if detail else ''}",
                retryable=False,
            )
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(paths):
            raise ProviderError(
                f"The CodeFormer server returned {len(results or [])} results "
                f"for {len(paths)} images",
                retryable=False,
            )
        return [await self._output(item, i) for i, item in enumerate(results)]

    async def _output(self, item: Any, index: int) -> Output:
        if not isinstance(item, dict):
            raise ProviderError("The CodeFormer server sent an unexpected result", retryable=True)
        meta = {"original_name": item.get("original_name"), "filename": item.get("filename")}
        b64 = item.get("image_base64")
        if isinstance(b64, str) and b64:
            try:
                data = base64.b64decode(b64.split(",", 1)[-1], validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError(
                    "The CodeFormer server sent an unreadable image", retryable=True
                ) from None
            return Output(data=data, suffix=".png", meta=meta)
        url = item.get("image_url")
        if not isinstance(url, str) or not url:
            raise ProviderError("The CodeFormer server sent a result without an image")
        # Results may be relative to the server; download now, they are not kept for long.
        try:
            r = await http.send(
                self._api(),
                "GET",
                urljoin(self.base_url + "/", url),
                vendor=VENDOR,
                action="downloading the result",
            )
        except ProviderError as exc:
            if exc.status not in (403, 404, 410):
                raise
            # Processing again is harmless on the user's own server: let the engine retry.
            raise ProviderError(
                "The CodeFormer server removed the result before it could be downloaded",
                retryable=True,
                status=exc.status,
            ) from None
        meta["image_url"] = url
        return Output(data=r.content, suffix=".png", meta=meta)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _form_value(value: Any) -> str:
    """Form fields as the Flask server parses them: lower-case booleans, plain numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
