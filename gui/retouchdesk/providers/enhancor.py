"""Enhancor: Realistic Skin, Portrait Upscaler and General Image Upscaler.

The three products share one protocol (api-reference section 1, the Enhancor seeds):
``POST <endpoint>/queue`` with ``img_url``, ``webhookUrl`` and the operation's parameters
(wire names straight from the option schema, ``skin_realism_Level`` included, inapplicable v1/v3
fields already dropped by ``Operation.validate``), answered ``{"success", "requestId"}``;
``POST <endpoint>/status`` with ``{"request_id"}`` answered ``{"requestId", "status", "cost"}``
and, once ``COMPLETED``, usually ``result``. The result also arrives by webhook
``{"request_id", "result", "status"}``; the provider takes whichever comes first and always
polls, so a webhook that never arrives strands nothing.

Enhancor only takes URLs, so the input (and the v3 mask) are published through a
:class:`~retouchdesk.providers.hosting_api.Hosting` object (local receiver or S3) in
``prepare``; hosting is released when the result is downloaded, the job fails or is cancelled.

The queue call is never sent twice: the transport does not resend it once it may have reached
Enhancor, and errors that leave that uncertain are not retryable (the job could be billed
twice). Status calls are read-only and retried freely.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from retouchdesk.core.errors import (
    AuthError,
    ConfigurationError,
    ProviderError,
    RemoteJobLost,
)
from retouchdesk.providers import http
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    PollResult,
    Provider,
    RemoteState,
    SubmitResult,
)
from retouchdesk.providers.config import ProviderConfig
from retouchdesk.providers.hosting_api import Hosting

log = logging.getLogger("retouchdesk.enhancor")

VENDOR = "Enhancor"

#: Vendor texts -> the plain sentence the user sees (case-insensitive substring match).
MESSAGES = {
    "failed to process image": (
        "Enhancor could not download the image: check that its URL is reachable from the internet"
    ),
    "invalid api key": "Enhancor refused the API key: check it in Settings",
    # The live validator's texts, as a third-party console that probes it reports ("Pixel
    # Slinger" test_skin_matrix.py / README, 09/08/2026): "Model version must be 'enhancorv1'
    # , 'enhancorv3' , ..." and "Enhancement mode must be ..." (also for v3 with heavy).
    "model version must be": "Enhancor does not know the model version that was sent",
    "invalid model": "Enhancor does not know the model version that was sent",  # older text
    "enhancement mode must be": (
        "Enhancor refused the enhancement mode for this model version "
        "(v1 takes standard or heavy, v3 only standard)"
    ),
    "insufficient": "Enhancor says the account has not enough credits for this job",
}
#: How its error answers speak, for the shared status-to-error table (http.STATUS_KINDS).
VOCABULARY = http.Vocabulary(VENDOR, messages=MESSAGES)

#: Status values -> (state, progress fraction, message).
STATES: dict[str, tuple[RemoteState, float | None, str]] = {
    "PENDING": (RemoteState.QUEUED, 0.05, "pending at Enhancor"),
    "IN_QUEUE": (RemoteState.QUEUED, 0.1, "in Enhancor's queue"),
    "IN_PROGRESS": (RemoteState.RUNNING, 0.5, "Enhancor is processing"),
    "COMPLETED": (RemoteState.DONE, 1.0, "finished"),
    "FAILED": (RemoteState.FAILED, None, "failed"),
}

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class EnhancorProvider(Provider):
    """The three Enhancor products; the operation's ``endpoint`` picks the product."""

    id = "enhancor"
    # ADOPT: the webhook names the request of an unconfirmed submission.
    capabilities = frozenset({Capability.RESUME, Capability.ADOPT})

    @classmethod
    def from_config(cls, config: ProviderConfig) -> EnhancorProvider:
        """Built from ``enhancor.toml``'s credentials and settings (the registry's one way)."""
        return cls(
            api_key=config["api_key"],
            base_url=config["base_url"],
            hosting=config.require_hosting(),
            poll_interval=config["poll_interval"],
            retry=config.network.retry_policy(),
            timeout=config.network.timeout(),
        )

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://apireq.enhancor.ai",
        hosting: Hosting | None = None,
        poll_interval: float = 3.0,
        result_wait: float = 300.0,
        retry: http.RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.hosting = hosting
        self.poll_interval = poll_interval
        self.result_wait = result_wait  # how long COMPLETED may come without any result URL
        self._retry = retry
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        # Result links live on another host (a CDN): the helper never sends them the API key.
        self._downloads = http.Downloads(
            self.base_url, self._api, retry=self._retry, timeout=self._timeout
        )
        self._hosted: dict[str, dict[str, str]] = {}  # job id -> URLs handed to Enhancor

    # -- clients ------------------------------------------------------------------------------

    def _api(self) -> httpx.AsyncClient:
        if not self.api_key:
            raise ConfigurationError(
                "Enhancor needs an API key: add it in Settings or set RETOUCHDESK_ENHANCOR_API_KEY"
            )
        if self._client is None:
            self._client = http.make_client(
                self.base_url,
                headers={"x-api-key": self.api_key, "Content-Type": "application/json"},
                retry=self._retry,
                timeout=self._timeout,
                secrets=[self.api_key],
            )
        return self._client

    def _hosting(self) -> Hosting:
        if self.hosting is None:
            raise ConfigurationError(
                "Enhancor only accepts image URLs: choose a hosting strategy "
                "(local receiver or S3) in Settings"
            )
        return self.hosting

    async def test_connection(self) -> str:
        """One cheap authenticated call for the account page: a status query for an id that
        does not exist. Enhancor answers "not found" to a valid key and 401 to a wrong one."""
        try:
            await http.send(
                self._api(),
                "POST",
                "/api/realistic-skin/v1/status",
                vendor=VOCABULARY,
                action="checking the API key",
                safe=True,
                json={"request_id": "retouchdesk-connection-test"},
            )
        except RemoteJobLost:
            pass
        except ProviderError as exc:
            if isinstance(exc, AuthError) or exc.status is None or exc.status >= 500:
                raise
        return "Enhancor accepted the API key."

    # -- the provider calls -------------------------------------------------------------------

    async def prepare(self, ctx: JobContext) -> None:
        self._api()  # fail early, before anything is hosted, when the key is missing
        hosting = self._hosting()
        self._check_reachable(hosting)
        # The URLs stay in memory only: a presigned URL is a credential to the photo and must
        # not land in the job database. After a restart before submit they are made again.
        urls = {"img_url": await hosting.publish(ctx.job_id, ctx.input_path, role="input")}
        mask = ctx.file_param("mask_image_url")
        if mask is not None:
            urls["mask_url"] = await hosting.publish(ctx.job_id, mask, role="mask")
        urls["webhook_url"] = await self._webhook_url(hosting, ctx)
        self._hosted[ctx.job_id] = urls
        ctx.remote["hosting"] = getattr(hosting, "description", "hosting")
        ctx.checkpoint()

    async def _webhook_url(self, hosting: Hosting, ctx: JobContext) -> str:
        """The job's webhook URL; its route token is kept with the job, so that after a
        restart (on a fixed receiver port) a late webhook still finds an unconfirmed job."""
        url = await hosting.webhook_url(ctx.job_id, token=ctx.remote.get("hook"))
        ctx.remote["hook"] = url.rstrip("/").rpartition("/")[2]
        return url

    async def adopt(self, ctx: JobContext) -> str | None:
        """The request id a late webhook brought for a submission whose answer was lost."""
        if self.hosting is None:
            return None
        if ctx.remote.get("hook") and ctx.job_id not in self._hosted:
            # After a restart: open the job's webhook route again under its old token.
            await self._webhook_url(self.hosting, ctx)
            self._hosted[ctx.job_id] = {}
        hook = self.hosting.webhook_result(ctx.job_id)
        request_id = (hook or {}).get("request_id")
        return str(request_id) if request_id else None

    def hosted_urls(self, job_id: str) -> dict[str, str]:
        """The URLs handed to Enhancor for a job (input, mask, webhook), while it is active."""
        return dict(self._hosted.get(job_id, {}))

    def _check_reachable(self, hosting: Hosting) -> None:
        """Refuse early when a real Enhancor could never download from a loopback address."""
        vendor_host = urlsplit(self.base_url).hostname or ""
        if getattr(hosting, "public", True) or vendor_host in LOOPBACK:
            return
        raise ConfigurationError(
            "Enhancor must download the photo from the internet: set the public URL of a "
            "tunnel in front of the local receiver (receiver.public_url) or use S3 hosting"
        )

    def request_body(self, ctx: JobContext) -> dict[str, Any]:
        """The /queue body: URLs first, then the schema's serialisation of the parameters."""
        urls = self._hosted.get(ctx.job_id)
        if not urls:
            raise ProviderError("The photo was not hosted before submitting to Enhancor")
        body: dict[str, Any] = {"img_url": urls["img_url"], "webhookUrl": urls["webhook_url"]}
        body.update(ctx.operation.serialize(ctx.params))
        if urls.get("mask_url") and "mask_image_url" in ctx.params:
            body[ctx.operation.api.get("mask_url_field", "mask_image_url")] = urls["mask_url"]
        return body

    async def submit(self, ctx: JobContext) -> SubmitResult:
        if not self._hosted.get(ctx.job_id):  # restarted after prepare: host the files again
            await self.prepare(ctx)
        body = self.request_body(ctx)
        url = self._endpoint(ctx, "queue")
        response = await http.send(
            self._api(),
            "POST",
            url,
            vendor=VOCABULARY,
            action="submitting the job",
            json=body,
        )
        data = http.json_body(response, vendor=VENDOR, action="submitting the job")
        request_id = _get(data, "requestId", "request_id", "id")
        if not request_id or _get(data, "success") is False:
            detail = http.json_error_text(data) if isinstance(data, dict) else ""
            raise ProviderError(
                f"Enhancor did not accept the job{': ' + detail if detail else ''}",
                retryable=False,
            )
        ctx.remote["queued_at"] = time.time()
        return SubmitResult(remote_id=str(request_id))

    async def poll(self, ctx: JobContext) -> PollResult:
        if not ctx.remote_id:
            raise RemoteJobLost("Enhancor has no request id for this job")
        hook = self.hosting.webhook_result(ctx.job_id) if self.hosting else None
        if hook and str(hook.get("request_id") or ctx.remote_id) != ctx.remote_id:
            log.warning("ignoring a webhook for another request")
            hook = None
        try:
            response = await http.send(
                self._api(),
                "POST",
                self._endpoint(ctx, "status"),
                vendor=VOCABULARY,
                action="checking the job",
                safe=True,
                json={"request_id": ctx.remote_id},
            )
            data = http.json_body(response, vendor=VENDOR, action="checking the job")
        except ProviderError as exc:
            # The webhook already brought the result: a flaky status call does not matter.
            if exc.retryable and _hook_result(hook):
                return self._done(ctx, _hook_result(hook), None, "from the webhook")
            raise
        if not isinstance(data, dict):
            raise ProviderError("Enhancor sent an unexpected status answer", retryable=True)
        status = str(_get(data, "status") or "").upper()
        cost = _number(_get(data, "cost"))
        if cost is not None:
            ctx.remote["cost"] = cost
        state, fraction, message = STATES.get(
            status, (RemoteState.RUNNING, None, f"Enhancor status {status or 'unknown'}")
        )
        if state is RemoteState.FAILED or (hook and str(hook.get("status")).lower() == "failed"):
            await self._release(ctx)
            return PollResult(
                RemoteState.FAILED,
                cost=cost,
                error="Enhancor could not process this photo (the job failed on its side)",
            )
        if state is RemoteState.DONE:
            result = _get(data, "result", "result_url", "output")
            if isinstance(result, str) and result:
                return self._done(ctx, result, cost, "")
            if _hook_result(hook):
                return self._done(ctx, _hook_result(hook), cost, "from the webhook")
            # COMPLETED without a link yet: the webhook may still bring it.
            first = ctx.remote.setdefault("completed_at", time.time())
            if time.time() - first > self.result_wait:
                await self._release(ctx)
                return PollResult(
                    RemoteState.FAILED,
                    cost=cost,
                    error="Enhancor finished the job but never sent the result link",
                )
            return PollResult(
                RemoteState.RUNNING,
                progress=0.95,
                message="finished, waiting for the result link",
                cost=cost,
                next_poll=self.poll_interval,
            )
        if _hook_result(hook):  # the webhook outran the status
            return self._done(ctx, _hook_result(hook), cost, "from the webhook")
        return PollResult(
            state, progress=fraction, message=message, cost=cost, next_poll=self.poll_interval
        )

    def _done(self, ctx: JobContext, url: str | None, cost: float | None, how: str) -> PollResult:
        assert url, "called only once a result link is known"
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
        if suffix not in (".png", ".jpg", ".jpeg", ".webp"):
            suffix = ".png"
        meta: dict[str, Any] = {"request_id": ctx.remote_id}
        if cost is None:
            cost = _number(ctx.remote.get("cost"))
        if cost is not None:
            meta["cost"] = cost
        return PollResult(
            RemoteState.DONE,
            progress=1.0,
            message=f"finished {how}".strip(),
            cost=cost,
            outputs=[Output(url=url, suffix=suffix, meta=meta)],
        )

    async def fetch(self, ctx: JobContext, outputs: Sequence[Output]) -> list[Output]:
        out: list[Output] = []
        for i, o in enumerate(outputs):
            if o.url is None:
                out.extend(await super().fetch(ctx, [o]))
                continue
            data = await self._download(ctx, o.url)
            path = ctx.work_dir / f"result_{i}{o.suffix or '.png'}"
            path.write_bytes(data)
            out.append(Output(path=path, suffix=o.suffix, label=o.label, meta=o.meta))
        await self._release(ctx)
        return out

    async def _download(self, ctx: JobContext, url: str) -> bytes:
        """The result's bytes. A refused or expired link raises: the engine then asks the
        status again (Enhancor hands out a fresh link each time) and downloads again."""
        return await self._get_image(url)

    async def _get_image(self, url: str) -> bytes:
        response = await self._downloads.get(url, vendor=VENDOR)
        data = response.content
        if not _is_image(data):
            raise ProviderError(
                "Enhancor's result is not a readable image", retryable=True, code="malformed"
            )
        return data

    async def cancel(self, ctx: JobContext) -> None:
        # Enhancor has no cancel call: stop serving the files so nothing more is fetched.
        await self._release(ctx)

    async def _release(self, ctx: JobContext) -> None:
        self._hosted.pop(ctx.job_id, None)
        if self.hosting is not None:
            try:
                await self.hosting.release(ctx.job_id)
            except Exception as exc:  # cleaning up must never fail a job
                log.warning("could not release hosted files: %s", type(exc).__name__)

    async def aclose(self) -> None:
        await self._downloads.aclose()
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # -- helpers ------------------------------------------------------------------------------

    def _endpoint(self, ctx: JobContext, call: str) -> str:
        op = ctx.operation
        return op.endpoint.rstrip("/") + str(op.api.get(call, f"/{call}"))


def _get(data: Any, *names: str) -> Any:
    """The first present key among ``names`` (exact, then case-insensitive)."""
    if not isinstance(data, dict):
        return None
    for n in names:
        if n in data:
            return data[n]
    lowered = {str(k).lower(): v for k, v in data.items()}
    for n in names:
        if n.lower() in lowered:
            return lowered[n.lower()]
    return None


def _hook_result(hook: dict[str, Any] | None) -> str | None:
    if not hook or str(hook.get("status", "success")).lower() not in ("success", "completed"):
        return None
    result = hook.get("result")
    return result if isinstance(result, str) and result else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _is_image(data: bytes) -> bool:
    if not data:
        return False
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        return True
    except Exception:
        return False
