"""AdCreative Face Enhancer emulator (seeds/adcreative-face-enhancer.txt, api-reference 2).

* ``POST /api/v1/Authorization/GenerateJwtToken`` (``Content-Type: application/json;
  x-api-version=1.0``, ``{"applicationId", "jwtPrivateKey"}``) -> ``{"applicationId",
  "accessToken", "accessTokenExpiration", "refreshToken", "refreshTokenExpiration"}``;
* every feature call needs ``Authorization: Bearer``, ``x-api-key`` and ``x-api-secret``;
* ``POST .../FaceEnhancing/AdCreative`` multipart ``applicationId``, ``userId`` (GUIDs,
  required), ``ariaRatio`` (float 0-1), ``maxFaceCount`` (int >= 1), ``uploadedImage`` (jpg or
  png, required);
* ``GET .../CheckUserProgress?userId=&imageFaceEnhancerProcessId=``,
  ``GET .../CheckApplicationAllProgresses?applicationId=``,
  ``GET .../Download?applicationId=&taskId=&imageFaceEnhancerProcessId=&lowResolution=``;
* errors are ASP.NET ProblemDetails; without a notification channel the start call answers
  404 "No active notification channel configurations found".

The response bodies of start and progress are not public, so the emulator can answer in
several plausible shapes (``shape``: "flat", "wrapped" or "pascal") and the provider must
parse them all. Tasks finish when progress is 100 and ``renderState`` is 5.
Every JSON answer is written the way AdCreative's documented token answer shows (it starts
with ``"$id": "1"``, https://api-docs.adcreative.ai/docs/getting-started/authentication):
.NET's ``ReferenceHandler.Preserve``, which puts ``"$id"`` first in every object and writes
every list as ``{"$id", "$values": [...]}`` (learn.microsoft.com, System.Text.Json
ReferenceHandler.Preserve); ``dotnet_refs=False`` answers plain JSON.
Options: ``application_id``, ``jwt_private_key``, ``api_key``, ``api_secret``, ``token_ttl``,
``token_actual_ttl`` (tokens die this early, whatever is announced), ``duration`` (seconds a
job takes), ``shape``, ``notification_channel``, ``fail_jobs``, ``dotnet_refs``.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from tests.emulators.harness import (
    Emulator,
    Recorded,
    Response,
    TokenIssuer,
    json_response,
    raw_response,
    render_output,
    route,
)

BASE = "/api/v1/Image/FaceEnhancing"
TOKEN_PATH = "/api/v1/Authorization/GenerateJwtToken"


def preserve(data: Any, counter: list[int] | None = None) -> Any:
    """``data`` as System.Text.Json writes it with ``ReferenceHandler.Preserve``."""
    counter = [0] if counter is None else counter
    if isinstance(data, dict):
        counter[0] += 1
        out: dict[str, Any] = {"$id": str(counter[0])}
        out.update((k, preserve(v, counter)) for k, v in data.items())
        return out
    if isinstance(data, list):
        counter[0] += 1
        ident = str(counter[0])
        return {"$id": ident, "$values": [preserve(x, counter) for x in data]}
    return data


def problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> Response:
    """An ASP.NET Core ProblemDetails body."""
    section = {400: 1, 401: 2, 404: 5}.get(status, 1)
    body: dict[str, Any] = {
        "type": f"https://tools.ietf.org/html/rfc9110#section-15.5.{section}",
        "title": title,
        "status": status,
        "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00",
    }
    if errors:
        body["errors"] = errors
    return Response(status, _dumps(body), "application/problem+json; charset=utf-8")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _is_guid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


@dataclass
class Process:
    id: str
    user_id: str
    task_ids: list[str]
    image: bytes
    params: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    fail: bool = False
    outputs: dict[str, bytes] = field(default_factory=dict)


class AdCreativeEmulator(Emulator):
    name = "adcreative"

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        application_id: str = "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6",
        jwt_private_key: str = "adc-jwt-private-key-test",
        api_key: str = "adc-api-key-test",
        api_secret: str = "adc-api-secret-test",
        token_ttl: float = 3600.0,
        token_actual_ttl: float | None = None,
        duration: float = 3.0,
        shape: str = "flat",
        notification_channel: bool = True,
        fail_jobs: int = 0,
        dotnet_refs: bool = True,
    ) -> None:
        super().__init__(time_scale=time_scale)
        self.application_id = application_id
        self.jwt_private_key = jwt_private_key
        self.api_key = api_key
        self.api_secret = api_secret
        self.tokens = TokenIssuer(token_ttl, token_actual_ttl)
        self.duration = duration
        self.shape = shape
        self.notification_channel = notification_channel
        self.fail_jobs = fail_jobs
        self.dotnet_refs = dotnet_refs
        self.processes: dict[str, Process] = {}
        self._plock = threading.Lock()

    def _json(self, data: Any, status: int = 200) -> Response:
        return json_response(preserve(data) if self.dotnet_refs else data, status)

    # -- auth ---------------------------------------------------------------------------------

    @route("POST", TOKEN_PATH)
    def token(self, rec: Recorded) -> Response:
        ctype = (rec.header("content-type") or "").replace(" ", "").lower()
        if not ctype.startswith("application/json") or "x-api-version=1.0" not in ctype:
            return problem(400, "Unsupported API version", {"api-version": ["Expected 1.0"]})
        body = rec.json if isinstance(rec.json, dict) else {}
        if not body.get("applicationId") or not body.get("jwtPrivateKey"):
            errors = {
                k: [f"The {k} field is required."]
                for k in ("applicationId", "jwtPrivateKey")
                if not body.get(k)
            }
            return problem(400, "One or more validation errors occurred.", errors)
        if (
            str(body["applicationId"]).lower() != self.application_id.lower()
            or body["jwtPrivateKey"] != self.jwt_private_key
        ):
            return problem(401, "Invalid application id or private key")
        token, ttl = self.tokens.issue()
        now = datetime.now(UTC)
        return self._json(
            {
                "applicationId": self.application_id,
                "accessToken": token,
                "accessTokenExpiration": (now + timedelta(seconds=ttl)).isoformat(),
                "refreshToken": "rt_" + uuid.uuid4().hex,
                "refreshTokenExpiration": (now + timedelta(days=7)).isoformat(),
            }
        )

    def _auth(self, rec: Recorded) -> Response | None:
        auth = rec.header("authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        if not self.tokens.valid(token):
            return problem(401, "Unauthorized")
        if rec.header("x-api-key") != self.api_key or rec.header("x-api-secret") != self.api_secret:
            return problem(401, "Invalid API credentials")
        return None

    # -- the feature --------------------------------------------------------------------------

    @route("POST", f"{BASE}/AdCreative")
    def start_process(self, rec: Recorded) -> Response:
        refused = self._auth(rec)
        if refused:
            return refused
        if rec.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return problem(400, "One or more validation errors occurred.",
                           {"": ["Content-Type must be multipart/form-data"]})  # fmt: skip
        errors: dict[str, list[str]] = {}
        app_id, user_id = rec.field("applicationId"), rec.field("userId")
        for name, value in (("applicationId", app_id), ("userId", user_id)):
            if not value:
                errors[name] = [f"The {name} field is required."]
            elif not _is_guid(value):
                errors[name] = [f"The value '{value}' is not valid for {name}."]
        aria = rec.field("ariaRatio", "0.5")
        try:
            aria_f = float(aria)
            if not 0 <= aria_f <= 1:
                errors["ariaRatio"] = ["ariaRatio must be between 0 and 1."]
        except ValueError:
            errors["ariaRatio"] = [f"The value '{aria}' is not valid for ariaRatio."]
        faces = rec.field("maxFaceCount", "10")
        try:
            if int(faces) < 1:
                errors["maxFaceCount"] = ["maxFaceCount must be at least 1."]
        except ValueError:
            errors["maxFaceCount"] = [f"The value '{faces}' is not valid for maxFaceCount."]
        files = rec.files.get("uploadedImage") or []
        image = files[0].data if files else b""
        if not files:
            errors["uploadedImage"] = ["The uploadedImage field is required."]
        else:
            try:
                fmt = Image.open(io.BytesIO(image)).format
            except Exception:
                fmt = None
            if fmt not in ("JPEG", "PNG"):
                errors["uploadedImage"] = ["Invalid image format. Only jpg and png are allowed."]
        unknown = set(rec.form) - {"applicationId", "userId", "ariaRatio", "maxFaceCount"}
        for name in sorted(unknown):
            errors[name] = [f"Unknown field {name}."]
        if errors:
            return problem(400, "One or more validation errors occurred.", errors)
        if app_id and app_id.lower() != self.application_id.lower():
            return problem(401, "The applicationId does not belong to these credentials")
        if not self.notification_channel:
            return problem(404, "No active notification channel configurations found")
        proc = Process(
            id=str(uuid.uuid4()),
            user_id=str(user_id),
            task_ids=[str(uuid.uuid4())],
            image=image,
            params={"ariaRatio": aria_f, "maxFaceCount": int(faces)},
        )
        with self._plock:
            if self.fail_jobs > 0:
                self.fail_jobs -= 1
                proc.fail = True
            self.processes[proc.id] = proc
        self.later(self.duration, lambda: self._finish(proc))
        return self._json(self._start_body(proc))

    def _finish(self, proc: Process) -> None:
        if proc.fail:
            return
        out = render_output("skin_smoothing", proc.image, {"strength": 60})
        for task in proc.task_ids:
            proc.outputs[task] = out

    def _task(self, proc: Process, task_id: str) -> dict[str, Any]:
        elapsed = (time.monotonic() - proc.created) / max(self.scaled(self.duration), 1e-6)
        if proc.fail and elapsed >= 0.5:
            return {"taskId": task_id, "progress": 50, "renderState": 4, "status": "Failed",
                    "errorMessage": "Face enhancement failed"}  # fmt: skip
        done = task_id in proc.outputs
        progress = 100 if done else min(99, int(elapsed * 100))
        state = 5 if done else (1 if elapsed < 0.2 else 3)
        status = "Completed" if done else ("Queued" if state == 1 else "Processing")
        return {"taskId": task_id, "progress": progress, "renderState": state, "status": status}

    def _progress_body(self, proc: Process) -> dict[str, Any]:
        tasks = [self._task(proc, t) for t in proc.task_ids]
        progress = min(t["progress"] for t in tasks)
        if self.shape == "pascal":
            return {
                "ImageFaceEnhancerProcessId": proc.id,
                "Progress": progress,
                "Tasks": [{k[0].upper() + k[1:]: v for k, v in t.items()} for t in tasks],
            }
        body = {"imageFaceEnhancerProcessId": proc.id, "progress": progress, "tasks": tasks}
        return {"isSuccess": True, "data": body} if self.shape == "wrapped" else body

    def _start_body(self, proc: Process) -> dict[str, Any]:
        if self.shape == "pascal":
            return {"ImageFaceEnhancerProcessId": proc.id, "TaskIds": proc.task_ids}
        body = {"imageFaceEnhancerProcessId": proc.id,
                "tasks": [{"taskId": t, "renderState": 1} for t in proc.task_ids]}  # fmt: skip
        return {"isSuccess": True, "data": body} if self.shape == "wrapped" else body

    @route("GET", f"{BASE}/CheckUserProgress")
    def user_progress(self, rec: Recorded) -> Response:
        refused = self._auth(rec)
        if refused:
            return refused
        user = rec.arg("userId")
        if not _is_guid(user):
            return problem(400, "One or more validation errors occurred.",
                           {"userId": ["The userId field is required."]})  # fmt: skip
        pid = rec.arg("imageFaceEnhancerProcessId")
        with self._plock:
            procs = [p for p in self.processes.values() if p.user_id == user]
        if pid:
            procs = [p for p in procs if p.id == pid]
        if not procs:
            return problem(404, "No progress data found")
        if pid:
            return self._json(self._progress_body(procs[0]))
        return self._json([self._progress_body(p) for p in procs])

    @route("GET", f"{BASE}/CheckApplicationAllProgresses")
    def all_progresses(self, rec: Recorded) -> Response:
        refused = self._auth(rec)
        if refused:
            return refused
        app = rec.arg("applicationId")
        if not _is_guid(app):
            return problem(400, "One or more validation errors occurred.",
                           {"applicationId": ["The applicationId field is required."]})  # fmt: skip
        if app.lower() != self.application_id.lower():
            return problem(404, "No progress data found")
        with self._plock:
            procs = list(self.processes.values())
        if not procs:
            return problem(404, "No progress data found")
        return self._json([self._progress_body(p) for p in procs])

    @route("GET", f"{BASE}/Download")
    def download(self, rec: Recorded) -> Response:
        refused = self._auth(rec)
        if refused:
            return refused
        errors = {
            k: [f"The {k} field is required."]
            for k in ("applicationId", "taskId", "imageFaceEnhancerProcessId")
            if not _is_guid(rec.arg(k))
        }
        if errors:
            return problem(400, "One or more validation errors occurred.", errors)
        with self._plock:
            proc = self.processes.get(rec.arg("imageFaceEnhancerProcessId"))
        data = proc.outputs.get(rec.arg("taskId")) if proc else None
        if data is None:
            return problem(404, "No image content found")
        if (rec.arg("lowResolution") or "").lower() == "true":
            img = Image.open(io.BytesIO(data))
            img = img.resize((img.width // 2, img.height // 2))
            buf = io.BytesIO()
            img.save(buf, "PNG", compress_level=1)
            data = buf.getvalue()
        return raw_response(data, "image/png", headers={
            "Content-Disposition": f'attachment; filename="{rec.arg("taskId")}.png"'})  # fmt: skip

    def not_found(self, rec: Recorded) -> Response:
        return problem(404, "Not Found")


def create(**options: Any) -> AdCreativeEmulator:
    return AdCreativeEmulator(**options)
