"""CodeFormer face restoration on the user's own server (usually a Hugging Face Space).

Protocol (seeds/codeformer-api.md, api-reference section 3): ``POST /api/process`` as
multipart (field ``image``, repeated for a batch, parameters as form fields) or as JSON
(``image_base64`` / ``images_base64``); the answer carries the results directly
(``image_base64`` when asked for, otherwise ``image_url``), so a job finishes in ``submit``.
``GET /api/health`` says ``{"status": "online", "device": "cuda"}``.

A sleeping Space answers 503 (an HTML page) for up to minutes while it starts, so ``prepare``
waits for ``/api/health`` with the status "waking up", and the process call has a long read
timeout. Re-sending the process call is harmless (the server is the user's own and free), but
the transport never repeats it: one photo is sent at most twice per job (an unexplained 500
here, a dropped connection through the engine's ``services.retry_policy``); and an error
answer from the server's own code (``{"status": "error"}``, which a Flask handler that catches
``Exception`` sends with HTTP 500) is final for the photo: it is never re-sent by the
transport or the engine, only split out of a batch once
(see :meth:`CodeFormerProvider.process_each`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import mimetypes
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from retouchdesk.core.errors import ConfigurationError, ProviderError
from retouchdesk.providers import http
from retouchdesk.providers.base import Capability, JobContext, Output, Provider, SubmitResult
from retouchdesk.providers.config import ProviderConfig

log = logging.getLogger("retouchdesk.codeformer")

VENDOR = "CodeFormer"
UPLOADS = ("multipart", "json")
MESSAGES = {
    "no image provided": "The CodeFormer server received no image",
}
#: How its error answers speak, for the shared status-to-error table (http.STATUS_KINDS).
VOCABULARY = http.Vocabulary(VENDOR, messages=MESSAGES)


class CodeFormerProvider(Provider):
    """Synchronous face restoration; several images can go in one request (``process``)."""

    id = "codeformer"
    # Re-sending is harmless (the user's own free server, nothing is queued or billed), so a
    # job interrupted during submit may be sent again after a restart.
    capabilities = frozenset({Capability.IDEMPOTENT_SUBMIT})

    @classmethod
    def from_config(cls, config: ProviderConfig) -> CodeFormerProvider:
        """Built from ``codeformer.toml``'s credentials and settings."""
        return cls(
            base_url=config["base_url"],
            token=config["token"],
            upload=config["upload"],
            read_timeout=config["read_timeout"],
            retry=config.network.retry_policy(),
        )

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
        self._downloads = http.Downloads(self.base_url, self._api, retry=retry)

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
                retry=_without_500(self._retry),
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
        params = ctx.operation.serialize(ctx.params)
        note = server_limits_note(ctx.input_path, params)
        if note:
            ctx.progress(None, note)
        (outcome,) = await self.process_each([ctx.input_path], params)
        if isinstance(outcome, ProviderError):
            raise outcome
        if note:
            outcome.meta["server_limits"] = note
        return SubmitResult(outputs=[outcome], cost=0.0)

    async def process(
        self, paths: Sequence[Path], params: dict[str, Any], *, upload: str | None = None
    ) -> list[Output]:
        """Restore one or several images; one output per input, in order. The first photo
        that could not be restored raises its error (see :meth:`process_each`)."""
        outcomes = await self.process_each(paths, params, upload=upload)
        for outcome in outcomes:
            if isinstance(outcome, ProviderError):
                raise outcome
        return [o for o in outcomes if isinstance(o, Output)]

    async def process_each(
        self, paths: Sequence[Path], params: dict[str, Any], *, upload: str | None = None
    ) -> list[Output | ProviderError]:
        """Restore several images in one request; one outcome per input, in order.

        The document promises one result per image but says nothing about a batch with an
        image the server cannot read. A server that skips it returns fewer results (matched
        back by ``original_name``); one whose handler fails as a whole answers with an error
        for everyone. Either way each photo without a result is sent once more on its own, so
        the good results are kept and a photo the server cannot process is sent at most
        twice: the error it earns on its own is final (not retryable).
        """
        upload = upload or self.upload
        try:
            items = await self._post(paths, params, upload)
        except _Refused as exc:
            if len(paths) == 1:
                return [exc.error]
            log.info("CodeFormer refused a batch of %d (%s); sending one by one", len(paths), exc)
            return [await self._alone(p, params, upload) for p in paths]
        matched = _match(paths, items, by_name=upload == "multipart")
        outcomes: list[Output | ProviderError] = []
        for path, item in zip(paths, matched, strict=True):
            if item is None and len(paths) > 1:
                log.info(
                    "CodeFormer returned no result for %s in a batch; sending it alone", path.name
                )
                outcomes.append(await self._alone(path, params, upload))
            elif item is None:
                outcomes.append(
                    ProviderError(
                        "The CodeFormer server returned no result for the photo", retryable=False
                    )
                )
            else:
                outcomes.append(await self._output(item))
        return outcomes

    async def _alone(
        self, path: Path, params: dict[str, Any], upload: str
    ) -> Output | ProviderError:
        """One photo of a batch sent on its own; any failure is that photo's outcome, so the
        results already in hand are kept."""
        try:
            return (await self.process_each([path], params, upload=upload))[0]
        except ProviderError as exc:
            return exc

    async def _post(self, paths: Sequence[Path], params: dict[str, Any], upload: str) -> list[Any]:
        """Send one process request; the answer's ``results`` list.

        Raises :class:`_Refused` when the server's own code answered ``{"status": "error"}``
        (whatever the HTTP status: the document gives none, and a Flask handler that catches
        ``Exception`` answers 500). An unexplained 500 (an HTML page) is sent once more.
        """
        kwargs = _body(paths, params, upload)
        for attempt in (1, 2):
            response = await http.send(
                self._api(),
                "POST",
                "/api/process",
                vendor=VENDOR,
                action="restoring the photo",
                check=False,  # never repeated by the transport: sends are counted here
                **kwargs,
            )
            await response.aread()
            if response.status_code < 400:
                return _results(
                    http.json_body(response, vendor=VENDOR, action="restoring the photo")
                )
            body = _json_or_none(response)
            if response.status_code not in (401, 403) and _is_error_body(body):
                raise _Refused(_refusal(http.json_error_text(body), response.status_code))
            if response.status_code == 500 and attempt == 1:
                continue
            try:
                await http.check_response(response, vendor=VOCABULARY, action="restoring the photo")
            except ProviderError as exc:
                if response.status_code == 500:  # twice: the photo is the likely cause
                    raise ProviderError(
                        str(exc), retryable=False, status=500, code=http.VENDOR_ANSWER
                    ) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _output(self, item: Any) -> Output | ProviderError:
        try:
            return await self._fetch_output(item)
        except ProviderError as exc:
            return exc

    async def _fetch_output(self, item: Any) -> Output:
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
            # Only the configured server's origin gets the token (one helper, all providers).
            r = await self._downloads.get(url, vendor=VENDOR)
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
        await self._downloads.aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


# -- the process call's pieces --------------------------------------------------------------

# Upstream CodeFormer's web demo lowers the scale of large inputs to avoid running out of
# memory: above 1000 px (long side) at most x2, above 1500 px x1 with background enhancement
# and face upsampling off. Source: github.com/sczhou/CodeFormer web-demos/hugging_face/app.py
# (``inference``). The Space behind the seed document may or may not copy it (GUESSES.md).
CAP_X2_ABOVE = 1000
CAP_X1_ABOVE = 1500


class _Refused(Exception):
    """The server's own code answered ``{"status": "error"}``: the request reached it."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _without_500(policy: http.RetryPolicy | None) -> http.RetryPolicy:
    """The client's policy minus 500: a 500 here is the server's answer about the photo (a
    Flask handler that catches ``Exception``), handled by :meth:`CodeFormerProvider._post`
    instead of being re-sent by the transport (and resent again by the engine)."""
    base = policy or http.RetryPolicy()
    return replace(base, retry_statuses=base.retry_statuses - {500})


def _body(paths: Sequence[Path], params: dict[str, Any], upload: str) -> dict[str, Any]:
    """The request's keyword arguments for httpx in either upload mode."""
    fields = {k: v for k, v in params.items() if v is not None}
    if upload == "json":
        body: dict[str, Any] = dict(fields)
        encoded = [_data_uri(p) for p in paths]
        if len(encoded) == 1:
            body["image_base64"] = encoded[0]
        else:
            body["images_base64"] = encoded
        body["return_base64"] = True
        return {"json": body}
    data = {k: _form_value(v) for k, v in fields.items()}
    files = [
        ("image", (p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "image/png"))
        for p in paths
    ]
    return {"data": data, "files": files}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_error_body(body: Any) -> bool:
    return isinstance(body, dict) and str(body.get("status", "")).lower() == "error"


def _refusal(detail: str, status: int) -> ProviderError:
    """The sentence for the server's own error answer; final, the photo is the cause."""
    detail = http.redact_text(detail)
    # Werkzeug raises RequestEntityTooLarge when the handler first reads the body; a handler
    # that catches ``Exception`` turns it into ``500 {"message": "413 Request Entity Too
    # Large: ..."}`` (werkzeug.exceptions.RequestEntityTooLarge's description).
    if "request entity too large" in detail.lower():
        return ProviderError(
            "CodeFormer refused the upload during restoring the photo: the file is too large",
            retryable=False,
            status=413,
        )
    sentence = http.vendor_message(detail, MESSAGES)
    if sentence is not detail:
        return ProviderError(sentence, retryable=False, status=status)
    return ProviderError(
        f"The CodeFormer server could not restore the photo{': ' + detail if detail else ''}",
        retryable=False,
        status=status,
    )


def _results(answer: Any) -> list[Any]:
    """The ``results`` of a 2xx answer; a non-success status is a refusal."""
    if not isinstance(answer, dict) or str(answer.get("status", "")).lower() != "success":
        raise _Refused(_refusal(http.json_error_text(answer), 200))
    results = answer.get("results")
    if not isinstance(results, list):
        raise _Refused(
            ProviderError("The CodeFormer server sent an answer without results", retryable=False)
        )
    return results


def _plain_name(name: str) -> str:
    """A file name as a Flask server's ``secure_filename`` may have rewritten it."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", name.replace(" ", "_")).lower()


def _match(paths: Sequence[Path], items: list[Any], *, by_name: bool) -> list[Any | None]:
    """The result of each input, or None where the server returned none.

    A full answer is taken in order (the document lists one result per image). A shorter
    one is matched by ``original_name`` (multipart sends the file names; the JSON variant
    sends none, so nothing there can be matched and those photos are sent again alone).
    """
    if len(items) == len(paths):
        return list(items)
    out: list[Any | None] = [None] * len(paths)
    if not by_name:
        return out
    names = [p.name for p in paths]
    for item in items:
        if not isinstance(item, dict):
            continue
        sent = str(item.get("original_name") or "")
        for key in (lambda n: n, _plain_name):
            hits = [i for i, n in enumerate(names) if key(n) == key(sent) and out[i] is None]
            if len(hits) == 1 or (hits and names.count(names[hits[0]]) == 1):
                out[hits[0]] = item
                break
    return out


def server_limits_note(path: Path, params: dict[str, Any]) -> str:
    """A sentence when the server is likely to lower the settings for this photo's size."""
    try:
        with Image.open(path) as im:
            long_side = max(im.size)
    except (OSError, ValueError):
        return ""
    upscale = int(params.get("upscale") or 2)
    if long_side > CAP_X1_ABOVE and (
        upscale > 1 or params.get("background_enhance") or params.get("face_upsample")
    ):
        return (
            f"This photo is larger than {CAP_X1_ABOVE} px: CodeFormer servers usually restore "
            "it at 1x, without background enhancement or face upsampling"
        )
    if long_side > CAP_X2_ABOVE and upscale > 2:
        return (
            f"This photo is larger than {CAP_X2_ABOVE} px: CodeFormer servers usually "
            "upscale it at most 2x"
        )
    return ""


def _form_value(value: Any) -> str:
    """Form fields as the Flask server parses them: lower-case booleans, plain numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
