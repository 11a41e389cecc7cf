"""AdCreative Face Enhancer (seeds/adcreative-face-enhancer.txt, api-reference section 2).

Flow: an access token from ``GenerateJwtToken`` (cached, renewed shortly before its announced
expiry and once more when a call answers 401) -> ``POST .../FaceEnhancing/AdCreative``
(multipart: ``applicationId``, ``userId``, ``ariaRatio``, ``maxFaceCount``, ``uploadedImage``)
-> ``CheckUserProgress`` until every task is finished -> ``Download`` each task's image.
Every feature call carries ``Authorization: Bearer``, ``x-api-key`` and ``x-api-secret``.

The bodies of the start and progress answers are not public, so they are read by
:class:`FieldMap`, the one place that knows the candidate field names (case-insensitive,
looked up inside ``data``/``result``/``value`` wrappers too). Change it there when the real
names turn out different.

``userId`` is a stable per-installation GUID (``Settings.installation_id()``, passed in by the
factory). ``all_progresses()`` lists the application's jobs for the account view.
"""

from __future__ import annotations

import mimetypes
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

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

VENDOR = "AdCreative"
TOKEN_MARGIN = 60.0  # renew this many seconds before the announced expiry
MESSAGES = {
    "no active notification channel": (
        "AdCreative needs an active notification channel for this application: "
        "configure one in the AdCreative dashboard"
    ),
    "invalid image format": "AdCreative accepts only JPEG and PNG photos",
}
#: How its error answers speak, for the shared status-to-error table (http.STATUS_KINDS).
VOCABULARY = http.Vocabulary(VENDOR, messages=MESSAGES)


def _json(response: httpx.Response, action: str) -> Any:
    """A 2xx answer's JSON as plain JSON (see :func:`dotnet_plain`)."""
    return dotnet_plain(http.json_body(response, vendor=VENDOR, action=action))


def dotnet_plain(data: Any, ids: dict[str, Any] | None = None) -> Any:
    """JSON written by .NET with reference preservation, as plain JSON.

    AdCreative's documented token answer starts with ``"$id": "1"``
    (https://api-docs.adcreative.ai/docs/getting-started/authentication): System.Text.Json's
    ``ReferenceHandler.Preserve``, which also writes every list as ``{"$id", "$values": [...]}``
    and a repeated object as ``{"$ref": "<id>"}`` (https://learn.microsoft.com/en-us/dotnet/api/
    system.text.json.serialization.referencehandler.preserve). Lists come back as lists,
    references as the object they name, ``$`` metadata dropped; plain JSON passes unchanged.
    """
    ids = {} if ids is None else ids
    if isinstance(data, list):
        return [dotnet_plain(x, ids) for x in data]
    if not isinstance(data, dict):
        return data
    if "$ref" in data and len(data) == 1:
        return ids.get(str(data["$ref"]))
    if "$values" in data:
        values: list[Any] = []
        if "$id" in data:
            ids[str(data["$id"])] = values
        raw = data["$values"]
        values.extend(dotnet_plain(x, ids) for x in (raw if isinstance(raw, list) else [raw]))
        return values
    out: dict[str, Any] = {}
    if "$id" in data:
        ids[str(data["$id"])] = out
    for key, value in data.items():
        if not str(key).startswith("$"):
            out[key] = dotnet_plain(value, ids)
    return out


# -- the field mapping (the one place that knows the response names) -----------------------


class FieldMap:
    """Candidate names of every field read from AdCreative's undocumented bodies."""

    PROCESS_ID = ("imageFaceEnhancerProcessId", "processId", "faceEnhancerProcessId", "id")
    TASK_IDS = ("taskIds", "tasks", "taskId", "task")
    TASK_ID = ("taskId", "id", "imageFaceEnhancerTaskId")
    PROGRESS = ("progress", "percentage", "percent", "progressPercentage")
    RENDER_STATE = ("renderState",)  # a number; "state" is a status word (STATUS)
    STATUS = ("status", "statusText", "state")
    ERROR = ("errorMessage", "error", "message", "failReason")
    ACCESS_TOKEN = ("accessToken", "access_token", "token")
    EXPIRATION = ("accessTokenExpiration", "expiresAt", "expiration")
    WRAPPERS = ("data", "result", "value", "item", "payload")
    DONE_RENDER_STATE = 5  # sibling AdCreative APIs: progress 100 and renderState 5 = finished
    DONE_WORDS = frozenset({"completed", "complete", "done", "finished", "succeeded", "success"})
    FAILED_WORDS = frozenset({"failed", "error", "cancelled", "canceled", "rejected"})

    @classmethod
    def find(cls, data: Any, names: Iterable[str], depth: int = 3) -> Any:
        """The first of ``names`` present in ``data`` (any case), looking into wrappers."""
        if not isinstance(data, dict) or depth < 0:
            return None
        lowered = {str(k).lower(): v for k, v in data.items()}
        for n in names:
            if n.lower() in lowered and lowered[n.lower()] is not None:
                return lowered[n.lower()]
        for w in cls.WRAPPERS:
            inner = lowered.get(w)
            if isinstance(inner, dict):
                found = cls.find(inner, names, depth - 1)
                if found is not None:
                    return found
        return None

    @classmethod
    def unwrap(cls, data: Any) -> Any:
        """The payload inside a ``{"data": ...}``-style envelope, or ``data`` itself."""
        if isinstance(data, dict):
            lowered = {str(k).lower(): v for k, v in data.items()}
            for w in cls.WRAPPERS:
                if isinstance(lowered.get(w), dict | list):
                    return lowered[w]
        return data

    @classmethod
    def start(cls, data: Any) -> tuple[str | None, list[str]]:
        """(process id, task ids) from the start answer."""
        pid = cls.find(data, cls.PROCESS_ID)
        tasks = cls.find(data, cls.TASK_IDS)
        return (str(pid) if pid else None), cls._task_ids(tasks)

    @classmethod
    def _task_ids(cls, tasks: Any) -> list[str]:
        if tasks is None:
            return []
        if not isinstance(tasks, list):
            tasks = [tasks]
        out = []
        for t in tasks:
            tid = cls.find(t, cls.TASK_ID) if isinstance(t, dict) else t
            if tid:
                out.append(str(tid))
        return out

    @classmethod
    def progress(cls, data: Any, process_id: str) -> Progress:
        """The progress of one process from a CheckUserProgress answer (object or list)."""
        payload = cls.unwrap(data)
        if isinstance(payload, list):
            match = [p for p in payload if str(cls.find(p, cls.PROCESS_ID)) == process_id]
            payload = match[0] if match else (payload[0] if len(payload) == 1 else {})
        tasks_raw = cls.find(payload, ("tasks", "taskProgresses", "items")) or []
        tasks = [cls._task(t) for t in tasks_raw if isinstance(t, dict)]
        percent = _number(cls.find(payload, cls.PROGRESS))
        if percent is None and tasks:
            known = [t.progress for t in tasks if t.progress is not None]
            percent = min(known) if known else None
        status = str(cls.find(payload, cls.STATUS) or "").lower()
        return Progress(percent, tasks, status, str(cls.find(payload, cls.ERROR) or ""))

    @classmethod
    def _task(cls, data: dict[str, Any]) -> TaskProgress:
        render = _number(cls.find(data, cls.RENDER_STATE))
        status = str(cls.find(data, ("status", "statusText")) or "").lower()
        progress = _number(cls.find(data, cls.PROGRESS))
        done = (progress == 100 and render == cls.DONE_RENDER_STATE) or (
            status in cls.DONE_WORDS and render in (None, cls.DONE_RENDER_STATE)
        )
        failed = status in cls.FAILED_WORDS
        return TaskProgress(
            task_id=str(cls.find(data, cls.TASK_ID) or ""),
            progress=progress,
            done=done,
            failed=failed,
            error=str(cls.find(data, cls.ERROR) or ""),
        )


@dataclass
class TaskProgress:
    task_id: str
    progress: float | None
    done: bool
    failed: bool
    error: str = ""


@dataclass
class Progress:
    percent: float | None
    tasks: list[TaskProgress]
    status: str
    error: str

    @property
    def done(self) -> bool:
        return bool(self.tasks) and all(t.done for t in self.tasks)

    @property
    def failed(self) -> bool:
        return any(t.failed for t in self.tasks) or self.status in FieldMap.FAILED_WORDS


# -- the provider ----------------------------------------------------------------------------


class AdCreativeProvider(Provider):
    id = "adcreative"
    capabilities = frozenset({Capability.RESUME})  # no balance endpoint is documented

    @classmethod
    def from_config(cls, config: ProviderConfig) -> AdCreativeProvider:
        """Built from ``adcreative.toml``'s credentials and settings (``user_id`` is made
        once per installation by the settings layer)."""
        return cls(
            application_id=config["application_id"],
            jwt_private_key=config["jwt_private_key"],
            api_key=config["api_key"],
            api_secret=config["api_secret"],
            user_id=config["user_id"],
            base_url=config["base_url"],
            poll_interval=config["poll_interval"],
            retry=config.network.retry_policy(),
            timeout=config.network.timeout(),
        )

    def __init__(
        self,
        *,
        application_id: str,
        jwt_private_key: str,
        api_key: str,
        api_secret: str,
        user_id: str,
        base_url: str = "https://api.adcreative.ai",
        poll_interval: float = 3.0,
        missing_grace: float = 60.0,
        retry: http.RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.application_id = application_id.strip()
        self._jwt_private_key = jwt_private_key
        self._api_key = api_key
        self._api_secret = api_secret
        self.user_id = user_id
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval
        self.missing_grace = missing_grace  # a new process may be unknown to progress for a bit
        self._retry = retry
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        # The token's expiry is announced as a date: the cache runs on the wall clock.
        self.tokens = http.TokenCache(self._sign_in, margin=TOKEN_MARGIN, clock=time.time)
        self._auth = http.BearerAuth(self.tokens, vendor=VENDOR)

    @property
    def tokens_fetched(self) -> int:
        """Sign-ins so far (tests count them: one per job, one more per refused token)."""
        return self.tokens.fetches

    # -- credentials and token ----------------------------------------------------------------

    def _check_config(self) -> None:
        missing = [
            name
            for name, value in (
                ("application id", self.application_id),
                ("JWT private key", self._jwt_private_key),
                ("API key", self._api_key),
                ("API secret", self._api_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"AdCreative needs its {', '.join(missing)}: add them in Settings"
            )
        for label, value in (("application id", self.application_id), ("user id", self.user_id)):
            try:
                uuid.UUID(value)
            except ValueError:
                raise ConfigurationError(
                    f"The AdCreative {label} must be a GUID (got {value!r})"
                ) from None

    def _api(self) -> httpx.AsyncClient:
        self._check_config()
        if self._client is None:
            self._client = http.make_client(
                self.base_url,
                headers={"x-api-key": self._api_key, "x-api-secret": self._api_secret},
                retry=self._retry,
                timeout=self._timeout,
                secrets=[self._api_key, self._api_secret, self._jwt_private_key],
            )
        return self._client

    async def _sign_in(self) -> tuple[str, float]:
        """A new access token and its announced expiry (epoch seconds)."""
        response = await http.send(
            self._api(),
            "POST",
            "/api/v1/Authorization/GenerateJwtToken",
            vendor=VENDOR,
            action="signing in",
            safe=True,  # asking for a token twice does no harm
            json={"applicationId": self.application_id, "jwtPrivateKey": self._jwt_private_key},
            headers={"Content-Type": "application/json; x-api-version=1.0"},
        )
        data = _json(response, "signing in")
        token = FieldMap.find(data, FieldMap.ACCESS_TOKEN)
        if not isinstance(token, str) or not token:
            raise AuthError("AdCreative did not return an access token")
        return token, _expiry(FieldMap.find(data, FieldMap.EXPIRATION))

    async def _call(
        self, method: str, path: str, *, action: str, safe: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """A feature call with the bearer token (renewed once on 401 by ``http.BearerAuth``)."""
        return await http.send(
            self._api(),
            method,
            path,
            vendor=VOCABULARY,
            action=action,
            safe=safe,
            auth=self._auth,
            **kwargs,
        )

    # -- the job ------------------------------------------------------------------------------

    async def prepare(self, ctx: JobContext) -> None:
        self._api()  # the configuration check, before any network
        await self.tokens.get()

    async def submit(self, ctx: JobContext) -> SubmitResult:
        op = ctx.operation
        fields = {"applicationId": self.application_id, "userId": self.user_id}
        fields.update({k: _form(v) for k, v in op.serialize(ctx.params).items()})
        path = ctx.input_path
        mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
        file_field = str(op.api.get("file_field", "uploadedImage"))
        response = await self._call(
            "POST",
            op.endpoint,
            action="starting the face enhancement",
            data=fields,
            files={file_field: (path.name, path.read_bytes(), mime)},
        )
        data = _json(response, "starting the face enhancement")
        process_id, task_ids = FieldMap.start(data)
        if not process_id:
            raise ProviderError(
                "AdCreative accepted the photo but returned no process id", retryable=False
            )
        ctx.remote["task_ids"] = task_ids
        ctx.remote["started_at"] = time.time()
        return SubmitResult(remote_id=process_id)

    async def poll(self, ctx: JobContext) -> PollResult:
        if not ctx.remote_id:
            raise RemoteJobLost("AdCreative has no process id for this job")
        query = {"userId": self.user_id, "imageFaceEnhancerProcessId": ctx.remote_id}
        try:
            response = await self._call(
                "GET",
                str(ctx.operation.api.get("progress")),
                action="checking the progress",
                params=query,
            )
        except RemoteJobLost:
            started = float(ctx.remote.get("started_at") or 0)
            if time.time() - started < self.missing_grace:
                return PollResult(
                    RemoteState.QUEUED, message="waiting for AdCreative",
                    next_poll=self.poll_interval,
                )  # fmt: skip
            raise
        data = _json(response, "checking the progress")
        prog = FieldMap.progress(data, ctx.remote_id)
        if prog.tasks:
            ctx.remote["task_ids"] = [t.task_id for t in prog.tasks if t.task_id]
        fraction = None if prog.percent is None else max(0.0, min(1.0, prog.percent / 100))
        if prog.failed:
            detail = prog.error or next((t.error for t in prog.tasks if t.error), "")
            return PollResult(
                RemoteState.FAILED,
                error="AdCreative could not enhance this photo" + (f": {detail}" if detail else ""),
            )
        if prog.done:
            return PollResult(
                RemoteState.DONE,
                progress=1.0,
                message="finished",
                outputs=[self._download_output(ctx, t) for t in ctx.remote["task_ids"]],
            )
        state = RemoteState.RUNNING if (prog.percent or 0) > 0 else RemoteState.QUEUED
        return PollResult(
            state,
            progress=fraction,
            message=f"enhancing faces ({prog.percent:.0f}%)" if prog.percent is not None else "",
            next_poll=self.poll_interval,
        )

    def _download_output(self, ctx: JobContext, task_id: str) -> Output:
        query = urlencode(
            {
                "applicationId": self.application_id,
                "taskId": task_id,
                "imageFaceEnhancerProcessId": ctx.remote_id,
                "lowResolution": "true" if ctx.params.get("lowResolution") else "false",
            }
        )
        path = str(ctx.operation.api.get("download"))
        return Output(url=f"{path}?{query}", suffix=".png", meta={"task_id": task_id})

    async def fetch(self, ctx: JobContext, outputs: Sequence[Output]) -> list[Output]:
        out: list[Output] = []
        for i, o in enumerate(outputs):
            if o.url is None:
                out.extend(await super().fetch(ctx, [o]))
                continue
            response = await self._call("GET", o.url, action="downloading the result")
            suffix = _suffix(response.headers.get("content-type", ""), o.suffix)
            path = ctx.work_dir / f"result_{i}{suffix}"
            path.write_bytes(response.content)
            out.append(Output(path=path, suffix=suffix, label=o.label, meta=o.meta))
        return out

    # -- account view -------------------------------------------------------------------------

    async def probe(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        """One request as it answered: (HTTP status, JSON as sent, None if not JSON). For
        ``retouchdesk doctor``; the token call is sent without a bearer, the rest with one."""
        client = self._api()
        if path == "/api/v1/Authorization/GenerateJwtToken":
            response = await http.send(
                client,
                "POST",
                path,
                vendor=VENDOR,
                action="signing in",
                check=False,
                json={"applicationId": self.application_id, "jwtPrivateKey": self._jwt_private_key},
                headers={"Content-Type": "application/json; x-api-version=1.0"},
            )
        else:
            token = await self.tokens.get()
            response = await http.send(
                client,
                "GET",
                path,
                vendor=VENDOR,
                action="checking the account",
                check=False,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        await response.aread()
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    async def test_connection(self) -> str:
        """Sign in (application id + private key) and list the jobs (key + secret)."""
        jobs = await self.all_progresses()
        return f"Signed in to AdCreative; {len(jobs)} face-enhancing jobs on this application."

    async def all_progresses(self) -> list[dict[str, Any]]:
        """Every face-enhancing process of the application (CheckApplicationAllProgresses),
        normalised to ``{"process_id", "progress", "done", "failed", "tasks"}``."""
        try:
            response = await self._call(
                "GET",
                "/api/v1/Image/FaceEnhancing/CheckApplicationAllProgresses",
                action="listing the jobs",
                params={"applicationId": self.application_id},
            )
        except RemoteJobLost:
            return []  # 404: no progress data for this application yet
        data = FieldMap.unwrap(_json(response, "listing the jobs"))
        items = data if isinstance(data, list) else [data]
        out = []
        for item in items:
            pid = str(FieldMap.find(item, FieldMap.PROCESS_ID) or "")
            prog = FieldMap.progress(item, pid)
            out.append(
                {
                    "process_id": pid,
                    "progress": prog.percent,
                    "done": prog.done,
                    "failed": prog.failed,
                    "tasks": [t.task_id for t in prog.tasks],
                }
            )
        return out

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _expiry(value: Any) -> float:
    """Epoch seconds of an ISO-8601 expiry; unknown means 'renew in ten minutes'."""
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    if isinstance(value, int | float) and value > 1e9:
        return float(value)
    return time.time() + 600.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _form(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _suffix(content_type: str, default: str) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    return {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(
        ctype, default or ".png"
    )
