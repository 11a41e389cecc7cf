"""A strict loopback emulator of the YouCam Online Editor AI APIs, v1 and v2.

What it enforces, as the seed and api-reference section 4 describe:

* v1 sign-in: an RSA key pair is generated; ``client_secret`` is the base64 DER public key; every
  ``id_token`` is decrypted with the private key (PKCS#1 v1.5) and must read
  ``client_id=<id>&timestamp=<ms>`` with the right id and a clock within 5 minutes. Access
  tokens expire (``token_ttl``; ``expire_tokens()`` revokes them early). v2: ``sk-`` API key.
* uploads: ``file`` answers presigned-style ``PUT`` requests whose headers must come back
  exactly (403 ``SignatureDoesNotMatch`` otherwise); run-task calls only take uploaded files.
* every task's body: exact field names per generation, value ranges, one action, the file sets
  each task needs; a failed check answers 400 ``InvalidParameters``.
* ``request_id`` idempotency: a repeated id answers the first task; nothing is charged twice.
* a task not polled for ``drop_after`` seconds (10 by default) is dropped: later polls answer
  400 ``InvalidTaskId`` and nothing is charged.
* credits: buckets with expiries, spent nearest-expiry first when a task succeeds;
  ``CreditInsufficiency`` when a new task costs more than is left; a paged history. Balance
  and history live only under ``/s2s/v1.0/client/...`` and take either generation's bearer (a
  v1 access token or a v2 ``sk-`` key), the balance as ``{"status", "results": [...]}``: how
  Perfect Corp's own client calls them (github.com/YouCam-API/skills,
  ``skills/*/scripts/constants.py``, ``api-fallback.yaml``, ``youcam_api.get_credits``).
  ``/s2s/v2.0/client/credit`` does not exist (404).
* the v2 price list ``/s2s/v2.0/credit/feature-cost`` is paged (``page_size``,
  ``starting_token`` -> ``next_token``) and wrapped in ``result`` (same source,
  ``youcam_api.get_feature_cost``); ``sku_page_cap`` answers fewer per page than asked.
* per-token rate limit (``rate_limit`` requests per minute) with 429 and ``Retry-After``.
* paged style groups/styles (v1) and templates (v2) with real PNG thumbnails.
* real output images (OpenCV/Pillow processing; the offline engine's ``run_operation`` where it
  implements the operation), result URLs that expire, and the harness's fault modes.

Start it by hand with ``python -m tests.emulators youcam --port 8705``; it prints the
credentials to use.
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
import json
import secrets
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image, ImageDraw, ImageFilter

from tests.emulators.harness import (
    Emulator,
    Recorded,
    Response,
    TokenIssuer,
    json_response,
    raw_response,
    route,
)

CONTENT_TYPES = ("image/jpg", "image/jpeg", "image/png", "video/mp4")
ENGINE_ERRORS = (
    "exceed_max_filesize", "invalid_parameter", "error_download_image", "error_download_mask",
    "error_decode_image", "error_decode_mask", "error_nsfw_content_detected", "error_no_face",
    "error_pose", "error_face_parsing", "error_inference", "exceed_nsfw_retry_limits",
    "error_upload", "error_multiple_people", "error_no_shoulder", "error_large_face_angle",
    "unknown_internal_error",
)  # fmt: skip

# -- the features ------------------------------------------------------------------------------


@dataclass(frozen=True)
class P:
    """One task parameter: JSON type, range or values, required or not."""

    type: str  # "int", "float", "str", "ids" (list of one int), "mapping"
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    values: tuple[Any, ...] = ()
    max_len: int | None = None


@dataclass(frozen=True)
class Feature:
    name: str
    v1: str | None  # v1 slug (None: v2 only)
    v2: str
    cost: int
    params_v1: dict[str, P] = field(default_factory=dict)
    params_v2: dict[str, P] = field(default_factory=dict)
    files_v1: dict[str, tuple[int, int]] = field(default_factory=dict)  # set -> (min, max)
    files_v2: dict[str, str] = field(default_factory=dict)  # field -> "one" | "many" | "opt"
    max_side: int = 4096
    min_side: int = 0
    max_short: int | None = None
    needs_face: bool = False
    variants: int = 1
    source: bool = True
    styles: bool = False  # has a style catalogue (v1 groups/styles, v2 templates)


GEOM = {
    "output_width": P("int", True, 1, 4096),
    "output_height": P("int", True, 1, 4096),
    "input_x": P("int", True, 0, 4096),
    "input_y": P("int", True, 0, 4096),
    "input_width": P("int", True, 1, 4096),
    "input_height": P("int", True, 1, 4096),
    "crop_input_x": P("int", True, 0, 4096),
    "crop_input_y": P("int", True, 0, 4096),
    "crop_input_width": P("int", True, 1, 4096),
    "crop_input_height": P("int", True, 1, 4096),
}
V1_STYLE = {"style_group_id": P("int", True), "style_ids": P("ids", True)}
V2_STYLE = {"template_id": P("str", True)}
SRC = {"src_ids": (1, 1)}


def _features() -> dict[str, Feature]:
    hair = {"needs_face": True, "max_side": 1024, "styles": True}
    fs = [
        Feature("enhance", "enhance", "enhance", 2,
                {"scale": P("int", True, values=(1, 2, 4))},
                {"scale": P("int", True, values=(1, 2, 4))}, SRC),
        Feature("object_removal", "object-removal", "generative-fill", 1, {}, {},
                {"src_ids": (1, 1), "mask_ids": (1, 1)}, {"msk_file_id": "one"}),
        Feature("sod", "sod", "sod", 1, {}, {}, SRC),
        # v1 Background Change / Blur: the v1 document's run-task schemas list only src_ids and
        # the action id, and the result is a foreground mask (seed youcam-online-editor.txt).
        Feature("bg_replace", "bg-replace", "bg-replace", 4,
                {},
                {"type": P("str", True, values=("prompt", "template")),
                 "prompt": P("str", False, max_len=500), "template_id": P("str")},
                SRC, styles=True),
        Feature("bg_blur", "bg-blur", "bg-blur", 1,
                {}, {"intensity": P("int", False, 0, 100)},
                SRC),
        Feature("colorize", "colorize", "colorize", 2, {}, {}, SRC, variants=4),
        Feature("lighting", "lighting", "lighting", 2, {}, {}, SRC, min_side=256),
        Feature("color_correct", "color-correct", "colorize/color-correct", 2, {}, {}, SRC,
                variants=4),
        Feature("out_paint", "out-paint", "out-paint", 2, dict(GEOM), dict(GEOM), SRC),
        Feature("obj_replace", "obj-replace", "obj-replace", 1,
                {"prompt": P("str", True, max_len=500)}, {"prompt": P("str", True, max_len=500)},
                {"src_ids": (1, 1), "msk_ids": (1, 1)}, {"msk_file_id": "one"},
                max_side=2048, max_short=1024),
        Feature("text_to_image", "text-to-image", "text-to-image", 2,
                {"prompt": P("str", True, max_len=500), "negative_prompt": P("str", max_len=500),
                 "batch_size": P("int", False, 1, 4), **V1_STYLE},
                {"prompt": P("str", True, max_len=500), "negative_prompt": P("str", max_len=500),
                 "template_id": P("str"), "steps": P("int", False, 1, 50),
                 "cfg_scale": P("float", False, 1, 20), "seed": P("int", False, 0, 2**31 - 1),
                 "width_ratio": P("int", False, 1, 16), "height_ratio": P("int", False, 1, 16)},
                {}, source=False, max_side=1024, styles=True),
        Feature("hair_style", "hair-style", "hair-style", 1, dict(V1_STYLE), dict(V2_STYLE),
                SRC, **hair),
        Feature("hair_ext", "hair-ext", "hair-ext", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("hair_bang", "hair-bang", "hair-bang", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("hair_vol", "hair-vol", "hair-vol", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("mu_transfer", "mu-trans-rec", "mu-transfer", 2, {}, {},
                {"src_ids": (1, 1), "ref_ids": (1, 1)}, {"ref_file_id": "one"},
                max_side=1024, needs_face=True),
        Feature("face_detect", "face-swap/pre-process", "face-swap/pre-process", 0, {}, {},
                SRC),
        Feature("face_swap", "face-swap", "face-swap", 1,
                {"face_mapping": P("mapping", True)}, {"face_mapping": P("mapping_v2", True)},
                {"src_ids": (1, 1), "ref_ids": (1, 3)}, {"ref_file_ids": "many"}),
        Feature("video_sr", "video-enhance", "video-sr", 1,
                {"dst_duration": P("int", True, 1, 60)}, {"dst_duration": P("int", True, 1, 60)},
                SRC, max_side=1920),
    ]  # fmt: skip
    return {f.name: f for f in fs}


FEATURES = _features()
V1_MASK_ONLY = ("bg_blur", "bg_replace")
BY_V1 = {f.v1: f for f in FEATURES.values() if f.v1}
BY_V2 = {f.v2: f for f in FEATURES.values()}
# File-upload slugs of v1 (``file/<slug>``): every task slug, face swap's steps share one.
UPLOAD_SLUGS = {f.v1.split("/")[0] for f in FEATURES.values() if f.v1}


class Invalid(Exception):
    """A request the server refuses with 400 InvalidParameters (or another code)."""

    def __init__(self, message: str, code: str = "InvalidParameters", status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


# -- state -------------------------------------------------------------------------------------


@dataclass
class StoredFile:
    file_id: str
    content_type: str
    file_name: str
    file_size: int | None
    account: str
    headers: dict[str, str]
    data: bytes | None = None  # set by the PUT (or for results)
    created: float = field(default_factory=time.monotonic)


@dataclass
class Task:
    task_id: str
    feature: Feature
    gen: str
    account: str
    request_id: int | None
    src: str | None
    files: dict[str, list[str]]
    params: dict[str, Any]
    output_ext: str | None
    created: float = field(default_factory=time.monotonic)
    last_poll: float = field(default_factory=time.monotonic)
    status: str = "running"
    error: str | None = None
    results: list[tuple[str, str]] = field(default_factory=list)  # (url, dst_id)
    faces: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False
    polls: int = 0
    max_gap: float = 0.0
    charged: int = 0
    started: float | None = None  # when the engine began the work (the task was alive)
    finished: float | None = None


@dataclass
class Credit:
    id: int
    type: str
    amount: int
    expiry_ms: int


class YouCamEmulator(Emulator):
    name = "youcam"

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        client_id: str = "yce-demo-client",
        api_key: str = "sk-demo-youcam-key",
        credits: int = 1000,
        task_seconds: float = 3.0,
        polling_interval_ms: int = 1000,
        drop_after: float = 10.0,
        token_ttl: float = 7200.0,
        rate_limit: int = 100,
        clock_skew: float = 300.0,
        min_face_width: int = 128,
        result_ttl: float = 7200.0,
        sku_page_cap: int | None = None,
        engine_errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(time_scale=time_scale, result_ttl=result_ttl)
        # The next tasks end with these engine error codes, one each (transient-error tests).
        self.engine_errors = list(engine_errors)
        self.sku_page_cap = sku_page_cap  # a server may answer fewer SKUs than asked for
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.client_id = client_id
        self.client_secret = base64.b64encode(der).decode()
        self.api_key = api_key
        self.tokens = TokenIssuer(ttl=token_ttl)
        self.task_seconds = task_seconds
        self.polling_interval_ms = polling_interval_ms
        self.drop_after = drop_after
        self.rate_limit = rate_limit
        self.clock_skew = clock_skew
        self.min_face_width = min_face_width
        now_ms = int(time.time() * 1000)
        # Two buckets: the subscription expires first and is spent first.
        sub = credits // 4
        self.credits = [
            Credit(101, "SubsToken", sub, now_ms + 20 * 86400_000),
            Credit(102, "PaygToken", credits - sub, now_ms + 365 * 86400_000),
        ]
        self.history: list[dict[str, Any]] = [
            {"id": 1, "timestamp": now_ms - 3 * 86400_000, "action": "subscription_credits",
             "target_id": "order-1", "info": {"credits": [{"id": 101, "amount": sub}]}},
            {"id": 2, "timestamp": now_ms - 2 * 86400_000, "action": "permanent_credits",
             "target_id": "order-2", "info": {"credits": [{"id": 102, "amount": credits - sub}]}},
        ]  # fmt: skip
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, str] = {}  # upload token -> file id
        self.tasks: dict[str, Task] = {}
        self.by_request: dict[tuple[str, int], str] = {}
        self.duplicate_submissions = 0
        self.sign_ins = 0
        self.rejected_sign_ins: list[str] = []
        self.rejected_puts = 0
        self.lost_polls = 0
        self._calls: dict[str, deque[float]] = {}
        self._thumbs: dict[str, bytes] = {}
        self._state = threading.RLock()

    def describe(self) -> str:
        return (
            f"v1: RETOUCHDESK_YOUCAM_CLIENT_ID={self.client_id} "
            f"RETOUCHDESK_YOUCAM_CLIENT_SECRET={self.client_secret}\n"
            f"v2: RETOUCHDESK_YOUCAM_API_KEY={self.api_key}"
        )

    # -- knobs for tests -------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Revoke every access token now (tokens expiring before their announced life)."""
        self.tokens.expire_all()

    def set_credits(self, amount: int) -> None:
        with self._state:
            self.credits[0].amount = 0
            self.credits[1].amount = amount

    @property
    def balance(self) -> int:
        with self._state:
            return sum(c.amount for c in self.credits)

    def tasks_created(self, feature: str | None = None) -> list[Task]:
        with self._state:
            return [t for t in self.tasks.values() if feature is None or t.feature.name == feature]

    # -- auth and rate limit -----------------------------------------------------------------

    @staticmethod
    def _err(status: int, message: str, code: str, headers: dict[str, str] | None = None):
        return json_response(
            {"status": status, "error": message, "error_code": code}, status, headers
        )

    def _authorise(self, rec: Recorded, gen: str) -> tuple[str | None, Response | None]:
        """The account name of a valid bearer, or the error answer."""
        auth = rec.header("authorization") or ""
        if not auth.startswith("Bearer "):
            return None, self._err(401, "Missing bearer token", "InvalidAccessToken")
        token = auth[len("Bearer ") :].strip()
        if gen == "v1":
            if not self.tokens.valid(token):
                return None, self._err(401, "Access token expired or invalid", "InvalidAccessToken")
            account = "v1"
        else:
            if not token.startswith("sk-") or token != self.api_key:
                return None, self._err(401, "Invalid API key", "InvalidApiKey")
            account = "v2"
        # Per-token limit over a sliding minute; the rejected call does not count.
        now = time.monotonic()
        with self._state:
            calls = self._calls.setdefault(token, deque())
            while calls and now - calls[0] > 60.0:
                calls.popleft()
            if len(calls) >= self.rate_limit:
                retry = max(1, int(60.0 - (now - calls[0])) + 1)
                return None, self._err(
                    429, "Too Many Requests", "RateLimitExceeded", {"Retry-After": str(retry)}
                )
            calls.append(now)
        return account, None

    @route("POST", "/s2s/v1.0/client/auth")
    def auth(self, rec: Recorded) -> Response:
        body = rec.json
        if not isinstance(body, dict) or set(body) != {"client_id", "id_token"}:
            return self._err(400, "client_id and id_token are required", "InvalidParameters")
        if body["client_id"] != self.client_id:
            self.rejected_sign_ins.append("client_id")
            return self._err(401, "Unknown client id", "InvalidClientId")
        try:
            plain = self._key.decrypt(
                base64.b64decode(body["id_token"], validate=True), padding.PKCS1v15()
            ).decode()
            fields = dict(part.split("=", 1) for part in plain.split("&"))
            if set(fields) != {"client_id", "timestamp"}:
                raise ValueError(plain)
            ts = int(fields["timestamp"])
        except Exception:
            self.rejected_sign_ins.append("id_token")
            return self._err(401, "id_token cannot be decrypted", "InvalidIdToken")
        if fields["client_id"] != self.client_id:
            self.rejected_sign_ins.append("id_token client_id")
            return self._err(401, "id_token names another client", "InvalidIdToken")
        if abs(time.time() * 1000 - ts) > self.clock_skew * 1000:
            self.rejected_sign_ins.append("timestamp")
            return self._err(401, "id_token timestamp is too far off", "InvalidIdToken")
        token, _ttl = self.tokens.issue()
        self.sign_ins += 1
        return json_response({"status": 200, "result": {"access_token": token}})

    def _ok(self, gen: str, data: Any) -> Response:
        return json_response({"status": 200, ("result" if gen == "v1" else "data"): data})

    # -- credits -----------------------------------------------------------------------------

    def _either(self, rec: Recorded) -> tuple[str | None, Response | None]:
        """A v2 ``sk-`` key or a v1 access token (the account-level calls take both)."""
        auth = rec.header("authorization") or ""
        return self._authorise(rec, "v2" if auth.startswith("Bearer sk-") else "v1")

    @route("GET", r"/s2s/v1\.0/client/credit")
    def credit(self, rec: Recorded) -> Response:
        _account, err = self._either(rec)
        if err:
            return err
        with self._state:
            items = [
                {"id": c.id, "type": c.type, "amount": c.amount, "expiry": c.expiry_ms}
                for c in self.credits
            ]
        return json_response({"status": 200, "results": items})

    @route("GET", r"/s2s/v1\.0/client/credit/history")
    def credit_history(self, rec: Recorded) -> Response:
        _account, err = self._either(rec)
        if err:
            return err
        try:
            size = int(rec.arg("page_size", "20") or 20)
        except ValueError:
            size = 0
        if not 1 <= size <= 30:
            return self._err(400, "page_size must be 1-30", "InvalidParameters")
        with self._state:
            items = sorted(self.history, key=lambda h: -h["id"])
        start = 0
        token = rec.arg("starting_token")
        if token:
            ids = [h["id"] for h in items]
            if int(token) not in ids:
                return self._err(400, "Unknown starting_token", "InvalidParameters")
            start = ids.index(int(token))
        page = items[start : start + size]
        nxt = str(items[start + size]["id"]) if start + size < len(items) else ""
        return self._ok("v1", {"next_token": nxt, "history": page})

    @route("GET", "/s2s/v2.0/credit/feature-cost")
    def feature_cost(self, rec: Recorded) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        skus = [
            {
                "description": f.name.replace("_", " "),
                "amount": f.cost,
                "unit": "per 2 seconds" if f.name == "video_sr" else "per image",
                "proc_unit": "2s" if f.name == "video_sr" else "image",
                "run_task_url": f"{self.url}/s2s/v2.0/task/{f.v2}",
            }
            for f in FEATURES.values()
            if f.cost
        ]
        try:
            size = int(rec.arg("page_size", "20") or 20)
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            return self._err(400, "page_size must be 1-100", "InvalidParameters")
        size = min(size, self.sku_page_cap or size)
        start = int(rec.arg("starting_token") or 0)
        nxt = str(start + size) if start + size < len(skus) else ""
        return json_response(
            {"status": 200, "result": {"skus": skus[start : start + size], "next_token": nxt}}
        )

    def _charge(self, task: Task) -> None:
        cost = task.feature.cost
        if task.feature.name == "video_sr":
            cost = max(1, (int(task.params.get("dst_duration", 2)) + 1) // 2)
        if task.feature.name == "text_to_image":
            cost *= int(task.params.get("batch_size", 1) or 1)
        left = cost
        used = []
        with self._state:
            for c in sorted(self.credits, key=lambda c: c.expiry_ms):
                take = min(c.amount, left)
                if take:
                    c.amount -= take
                    left -= take
                    used.append({"id": c.id, "amount": -take})
            task.charged = cost - left
            self.history.append(
                {
                    "id": len(self.history) + 1,
                    "timestamp": int(time.time() * 1000),
                    "action": f"api_{task.feature.name}",
                    "target_id": task.task_id,
                    "info": {"credits": used},
                }
            )

    def charged_total(self) -> int:
        with self._state:
            return sum(t.charged for t in self.tasks.values())

    # -- uploads -----------------------------------------------------------------------------

    def _create_files(self, rec: Recorded, gen: str, account: str) -> Response:
        body = rec.json
        if not isinstance(body, dict) or set(body) != {"files"} or not body["files"]:
            return self._err(400, "files is required", "InvalidParameters")
        out = []
        for f in body["files"]:
            if not isinstance(f, dict) or not {"content_type", "file_name"} <= set(f):
                return self._err(400, "content_type and file_name are required",
                                 "InvalidParameters")  # fmt: skip
            extra = set(f) - {"content_type", "file_name", "file_size"}
            if extra:
                return self._err(400, f"unknown fields {sorted(extra)}", "InvalidParameters")
            if f["content_type"] not in CONTENT_TYPES:
                return self._err(400, f"content_type {f['content_type']} is not supported",
                                 "InvalidParameters")  # fmt: skip
            size = f.get("file_size")
            if size is not None and (not isinstance(size, int) or size <= 0):
                return self._err(400, "file_size must be a positive integer", "InvalidParameters")
            file_id = secrets.token_urlsafe(24)
            token = secrets.token_urlsafe(16)
            headers = {
                "Content-Type": f["content_type"],
                "x-amz-meta-file-id": file_id[:16],
            }
            if size is not None:
                headers["Content-Length"] = str(size)
            with self._state:
                self.files[file_id] = StoredFile(
                    file_id, f["content_type"], f["file_name"], size, account, headers
                )
                self.uploads[token] = file_id
            sig = hashlib.sha256(token.encode()).hexdigest()[:32]
            out.append(
                {
                    "content_type": f["content_type"],
                    "file_name": f["file_name"],
                    "file_id": file_id,
                    "requests": [
                        {
                            "method": "PUT",
                            "url": f"{self.url}/_upload/{token}?X-Amz-Expires=3600&"
                            f"X-Amz-Signature={sig}",
                            "headers": headers,
                        }
                    ],
                }
            )
        return self._ok(gen, {"files": out})

    @route("POST", r"/s2s/v1\.1/file/(?P<slug>[a-z-]+)")
    def file_v1(self, rec: Recorded, slug: str) -> Response:
        account, err = self._authorise(rec, "v1")
        if err:
            return err
        if slug not in UPLOAD_SLUGS:
            return self._err(404, f"No feature {slug}", "InvalidParameters", None)
        return self._create_files(rec, "v1", account or "")

    @route("POST", "/s2s/v2.0/file")
    def file_v2(self, rec: Recorded) -> Response:
        account, err = self._authorise(rec, "v2")
        if err:
            return err
        return self._create_files(rec, "v2", account or "")

    @route("PUT", r"/_upload/(?P<token>[A-Za-z0-9_-]+)")
    def put_upload(self, rec: Recorded, token: str) -> Response:
        with self._state:
            file_id = self.uploads.get(token)
            stored = self.files.get(file_id or "")
        if stored is None or not rec.arg("X-Amz-Signature"):
            return raw_response(b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml", 404)
        signed = {k.lower() for k in stored.headers}
        unsigned = sorted(k for k in rec.headers if k.startswith("x-amz-") and k not in signed)
        if unsigned:
            # What S3 answers a presigned (SigV4) PUT carrying an x-amz-* header it did not
            # sign: 403 AccessDenied, "There were headers present in the request which were not
            # signed", the names in <HeadersNotSigned>.
            self.rejected_puts += 1
            body = (
                "<Error><Code>AccessDenied</Code><Message>There were headers present in the "
                "request which were not signed</Message><HeadersNotSigned>"
                + ", ".join(unsigned)
                + "</HeadersNotSigned></Error>"
            ).encode()
            return raw_response(body, "application/xml", 403)
        wrong = [k for k, v in stored.headers.items() if (rec.header(k) or "") != v]
        if rec.header("authorization"):
            wrong.append("Authorization (not signed)")
        if stored.file_size is not None and len(rec.body) != stored.file_size:
            wrong.append("body size")
        if wrong:
            self.rejected_puts += 1
            body = (
                "<Error><Code>SignatureDoesNotMatch</Code><Message>Headers differ: "
                + ", ".join(wrong)
                + "</Message></Error>"
            ).encode()
            return raw_response(body, "application/xml", 403)
        with self._state:
            stored.data = rec.body
        return raw_response(b"", "text/plain", 200)

    # -- tasks -------------------------------------------------------------------------------

    def _file(self, file_id: Any, account: str, what: str) -> StoredFile:
        if not isinstance(file_id, str):
            raise Invalid(f"{what} must be a file id string")
        with self._state:
            f = self.files.get(file_id)
        if f is None or f.account != account:
            raise Invalid(f"{what} {file_id[:12]} is not a known file", "InvalidFileId")
        if f.data is None:
            raise Invalid(f"{what} {file_id[:12]} was never uploaded", "InvalidFileId")
        return f

    @staticmethod
    def _check_params(spec: dict[str, P], params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise Invalid("params must be an object")
        unknown = set(params) - set(spec)
        if unknown:
            raise Invalid(f"unknown parameters {sorted(unknown)}")
        for name, p in spec.items():
            if name not in params:
                if p.required:
                    raise Invalid(f"{name} is required")
                continue
            v = params[name]
            ok = {
                "int": isinstance(v, int) and not isinstance(v, bool),
                "float": isinstance(v, int | float) and not isinstance(v, bool),
                "str": isinstance(v, str),
                "ids": isinstance(v, list) and len(v) == 1 and isinstance(v[0], int),
                "mapping": isinstance(v, list)
                and bool(v)
                and all(
                    isinstance(m, dict)
                    and set(m) == {"index", "position"}
                    and all(isinstance(m[k], int) and m[k] >= 0 for k in m)
                    for m in v
                ),
                # v2: [{src_face_index, ref_file_id, ref_face_index}] (GUESSES.md: one public
                # source, a v2 client that reports InvalidParameters for anything else).
                "mapping_v2": isinstance(v, list)
                and bool(v)
                and all(
                    isinstance(m, dict)
                    and set(m) == {"src_face_index", "ref_file_id", "ref_face_index"}
                    and isinstance(m["ref_file_id"], str)
                    and all(
                        isinstance(m[k], int) and not isinstance(m[k], bool) and m[k] >= 0
                        for k in ("src_face_index", "ref_face_index")
                    )
                    for m in v
                ),
            }[p.type]
            if not ok:
                raise Invalid(f"{name} has the wrong type ({type(v).__name__})")
            if p.values and v not in p.values:
                raise Invalid(f"{name} must be one of {list(p.values)}")
            if (p.lo is not None and v < p.lo) or (p.hi is not None and v > p.hi):
                raise Invalid(f"{name} must be from {p.lo:g} to {p.hi:g}")
            if p.max_len is not None and len(v) > p.max_len:
                raise Invalid(f"{name} is longer than {p.max_len} characters")
            if p.type == "str" and p.required and not v.strip():
                raise Invalid(f"{name} must not be empty")
        return params

    def _style_check(self, f: Feature, gen: str, params: dict[str, Any]) -> None:
        if gen == "v1" and "style_group_id" in params:
            groups = self._groups(f.v1 or "")
            g = next((g for g in groups if g["id"] == params["style_group_id"]), None)
            if g is None:
                raise Invalid("unknown style group", "InvalidStyleGroup")
            if params.get("style_ids", [None])[0] not in [s["id"] for s in g["styles"]]:
                raise Invalid("unknown style", "InvalidStyle")
        if gen == "v2" and params.get("template_id"):
            ids = [t["id"] for t in self._templates(f.v2)]
            if params["template_id"] not in ids:
                raise Invalid("unknown template", "InvalidStyle")

    def _parse_v1(self, f: Feature, body: Any, account: str) -> Task:
        if not isinstance(body, dict) or set(body) != {"request_id", "payload"}:
            raise Invalid("request_id and payload are required (and nothing else)")
        rid = body["request_id"]
        if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
            raise Invalid("request_id must be an integer from 0")
        pl = body["payload"]
        allowed = {"file_sets", "actions", "output_ext"}
        if not isinstance(pl, dict) or not set(pl) <= allowed or "actions" not in pl:
            raise Invalid("payload takes file_sets, actions and output_ext")
        if "output_ext" in pl and pl["output_ext"] not in ("jpg", "png"):
            raise Invalid("output_ext must be jpg or png")
        sets = pl.get("file_sets", {}) if f.source else pl.get("file_sets")
        if not f.source and sets is not None:
            raise Invalid("this task takes no files")
        files: dict[str, list[str]] = {}
        if f.source:
            if not isinstance(sets, dict) or set(sets) != set(f.files_v1):
                raise Invalid(f"file_sets must be exactly {sorted(f.files_v1)}")
            for name, (lo, hi) in f.files_v1.items():
                ids = sets[name]
                if not isinstance(ids, list) or not lo <= len(ids) <= hi:
                    raise Invalid(f"{name} must list {lo}-{hi} file ids")
                for i in ids:
                    self._file(i, account, name)
                files[name] = list(ids)
        actions = pl["actions"]
        if not isinstance(actions, list) or len(actions) != 1:
            raise Invalid("exactly one action is accepted")
        act = actions[0]
        if not isinstance(act, dict) or not isinstance(act.get("id"), int):
            raise Invalid("the action needs an integer id")
        if set(act) - {"id", "params"}:
            raise Invalid("an action takes id and params")
        params = self._check_params(f.params_v1, act.get("params", {}))
        self._style_check(f, "v1", params)
        src = files.pop("src_ids", [None])[0]
        return Task("", f, "v1", account, rid, src, files, params, pl.get("output_ext"))

    def _parse_v2(self, f: Feature, body: Any, account: str) -> Task:
        if not isinstance(body, dict):
            raise Invalid("the body must be a JSON object")
        body = dict(body)
        rid = body.pop("request_id", None)
        if rid is not None and (not isinstance(rid, int) or rid < 0):
            raise Invalid("request_id must be an integer from 0")
        src = body.pop("src_file_id", None)
        if f.source:
            if src is None:
                raise Invalid("src_file_id is required")
            self._file(src, account, "src_file_id")
        elif src is not None:
            raise Invalid("this task takes no source file")
        files: dict[str, list[str]] = {}
        for name, how in f.files_v2.items():
            value = body.pop(name, None)
            if value is None:
                raise Invalid(f"{name} is required")
            ids = value if how == "many" else [value]
            if how == "many" and (not isinstance(value, list) or not 1 <= len(value) <= 3):
                raise Invalid(f"{name} must list 1-3 file ids")
            for i in ids:
                self._file(i, account, name)
            files[name] = list(ids)
        params = self._check_params(f.params_v2, body)
        if f.name == "bg_replace":
            if params["type"] == "prompt" and not params.get("prompt", "").strip():
                raise Invalid("prompt is required when type is prompt")
            if params["type"] == "template" and not params.get("template_id"):
                raise Invalid("template_id is required when type is template")
        self._style_check(f, "v2", params)
        return Task("", f, "v2", account, rid, src, files, params, None)

    def _run(self, rec: Recorded, gen: str, f: Feature | None) -> Response:
        account, err = self._authorise(rec, gen)
        if err:
            return err
        if f is None:
            return self._err(404, "No such task", "InvalidParameters")
        try:
            task = (self._parse_v1 if gen == "v1" else self._parse_v2)(f, rec.json, account or "")
            if f.name == "face_swap":
                self._check_mapping(task)
            if f.name == "out_paint":
                self._check_geometry(task)
        except Invalid as exc:
            return self._err(exc.status, str(exc), exc.code)
        with self._state:
            if task.request_id is not None:
                known = self.by_request.get((account or "", task.request_id))
                if known is not None:
                    # The same request again (a retry): the first task, nothing new, no charge.
                    self.duplicate_submissions += 1
                    return self._ok(gen, {"task_id": known})
            if f.cost and self.balance < f.cost:
                return self._err(400, "Not enough credits", "CreditInsufficiency")
            task.task_id = secrets.token_urlsafe(33)
            self.tasks[task.task_id] = task
            if task.request_id is not None:
                self.by_request[(account or "", task.request_id)] = task.task_id
        self.later(self.task_seconds, lambda: self._finish(task))
        return self._ok(gen, {"task_id": task.task_id})

    @route("POST", r"/s2s/v1\.0/task/(?P<slug>[a-z-]+(?:/pre-process)?)")
    def run_v1(self, rec: Recorded, slug: str) -> Response:
        if slug.startswith(("style", "template")):
            return self._err(405, "Method not allowed", "InvalidParameters")
        return self._run(rec, "v1", BY_V1.get(slug))

    @route("POST", r"/s2s/v2\.0/task/(?P<path>[a-z-]+(?:/[a-z-]+)?)")
    def run_v2(self, rec: Recorded, path: str) -> Response:
        if path == "delete":
            return self._delete(rec)
        return self._run(rec, "v2", BY_V2.get(path))

    def _delete(self, rec: Recorded) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        task_id = (rec.json or {}).get("task_id") if isinstance(rec.json, dict) else None
        with self._state:
            task = self.tasks.get(task_id or "")
            if task is None or task.dropped:
                return self._err(400, "Unknown task", "InvalidTaskId")
            task.dropped = True
        return self._ok("v2", {})

    def _status(self, rec: Recorded, gen: str, f: Feature | None, task_id: str | None) -> Response:
        account, err = self._authorise(rec, gen)
        if err:
            return err
        now = time.monotonic()
        with self._state:
            task = self.tasks.get(task_id or "")
            running = task is not None and task.status == "running" and not task.dropped
            if running and now - task.last_poll > self.drop_after:  # type: ignore[union-attr]
                task.dropped = True  # type: ignore[union-attr]  # the client left: no charge
            if task is None or task.dropped or task.account != account or task.feature != f:
                self.lost_polls += 1
                return self._err(400, "Invalid task id", "InvalidTaskId")
            task.max_gap = max(task.max_gap, now - task.last_poll)
            task.last_poll = now
            task.polls += 1
            status, error = task.status, task.error
            results = list(task.results)
            faces = list(task.faces)
        if gen == "v1":
            data: dict[str, Any] = {"polling_interval": self.polling_interval_ms, "status": status}
            if status == "error":
                data["error"] = error
            if status == "success":
                item: dict[str, Any] = {
                    "id": 0,
                    "data": [{"url": u, "dst_id": d} for u, d in results],
                }
                if f is not None and f.name == "face_detect":
                    item["faces"] = faces
                data["results"] = [item]
            return self._ok(gen, data)
        data = {"task_status": status, "polling_interval": self.polling_interval_ms}
        if status == "error":
            data["error"] = error
            data["error_message"] = error
        if status == "success":
            if f is not None and f.name == "face_detect":
                data["results"] = {"faces": faces}
            elif len(results) > 1:
                data["results"] = {"output": [u for u, _ in results]}
            else:
                data["results"] = {"url": results[0][0]}
        return self._ok(gen, data)

    @route("GET", r"/s2s/v1\.0/task/(?P<slug>[a-z-]+(?:/pre-process)?)")
    def status_v1(self, rec: Recorded, slug: str) -> Response:
        return self._status(rec, "v1", BY_V1.get(slug), rec.arg("task_id"))

    @route("GET", r"/s2s/v2\.0/task/(?P<path>[a-z-]+(?:/[a-z-]+)?)/(?P<task_id>[A-Za-z0-9_-]{20,})")
    def status_v2(self, rec: Recorded, path: str, task_id: str) -> Response:
        return self._status(rec, "v2", BY_V2.get(path), task_id)

    # -- styles ------------------------------------------------------------------------------

    def _groups(self, slug: str) -> list[dict[str, Any]]:
        """Deterministic style groups of a v1 feature: ids above 2**53 on purpose."""
        base = 18213963761051864 + (int(hashlib.sha1(slug.encode()).hexdigest()[:6], 16) << 8)
        groups = []
        for g in range(3):
            gid = base + g * 1000
            groups.append(
                {
                    "id": gid,
                    "title": f"{slug} group {g + 1}",
                    "styles": [
                        {"id": gid + 1 + s, "title": f"{slug} style {g + 1}.{s + 1}"}
                        for s in range(7)
                    ],
                }
            )
        return groups

    def _templates(self, path: str) -> list[dict[str, Any]]:
        name = path.replace("/", "-")
        return [
            {"id": f"{name}-tpl-{i:02d}", "title": f"{name} template {i + 1}",
             "category_name": ["Classic", "Trendy", "Bold"][i % 3]}
            for i in range(25)
        ]  # fmt: skip

    def _thumb_url(self, key: str) -> str:
        return f"{self.url}/_thumbs/{key}.png?sig={hashlib.md5(key.encode()).hexdigest()[:8]}"

    @route("GET", r"/_thumbs/(?P<key>[A-Za-z0-9_.-]+)\.png")
    def thumb(self, rec: Recorded, key: str) -> Response:
        with self._state:
            data = self._thumbs.get(key)
        if data is None:
            h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
            r, g, b = (int(255 * c) for c in colorsys.hsv_to_rgb((h % 360) / 360, 0.6, 0.9))
            im = Image.new("RGB", (96, 96), (r, g, b))
            d = ImageDraw.Draw(im)
            d.ellipse((20, 12, 76, 84), fill=(255 - r, 255 - g, 255 - b))
            buf = io.BytesIO()
            im.save(buf, "PNG")
            data = buf.getvalue()
            with self._state:
                self._thumbs[key] = data
        return raw_response(data, "image/png")

    def _page(self, rec: Recorded, items: list[Any], hi: int) -> tuple[list[Any], str] | Response:
        try:
            size = int(rec.arg("page_size", "20") or 20)
        except ValueError:
            size = 0
        if not 1 <= size <= hi:
            return self._err(400, f"page_size must be 1-{hi}", "InvalidParameters")
        start = int(rec.arg("starting_token") or 0)
        nxt = str(start + size) if start + size < len(items) else ""
        return items[start : start + size], nxt

    @route("GET", r"/s2s/v1\.0/task/style-group/(?P<slug>[a-z-]+)")
    def style_groups(self, rec: Recorded, slug: str) -> Response:
        _account, err = self._authorise(rec, "v1")
        if err:
            return err
        f = BY_V1.get(slug)
        if f is None or not f.styles:
            return self._err(400, "This feature has no styles", "InvalidParameters")
        page = self._page(rec, self._groups(slug), 20)
        if isinstance(page, Response):
            return page
        items, nxt = page
        groups = [
            {"id": g["id"], "info": {"title": g["title"], "thumb": self._thumb_url(f"g{g['id']}")}}
            for g in items
        ]
        return self._ok("v1", {"next_token": nxt, "groups": groups})

    @route("GET", r"/s2s/v1\.0/task/style/(?P<slug>[a-z-]+)")
    def styles(self, rec: Recorded, slug: str) -> Response:
        _account, err = self._authorise(rec, "v1")
        if err:
            return err
        try:
            gid = int(rec.arg("style_group_id") or "")
        except ValueError:
            return self._err(400, "style_group_id is required", "InvalidStyleGroup")
        group = next((g for g in self._groups(slug) if g["id"] == gid), None)
        if group is None:
            return self._err(400, "Unknown style group", "InvalidStyleGroup")
        page = self._page(rec, group["styles"], 20)
        if isinstance(page, Response):
            return page
        items, nxt = page
        styles = [
            {"id": s["id"], "info": {"title": s["title"], "thumb": self._thumb_url(f"s{s['id']}")}}
            for s in items
        ]
        return self._ok("v1", {"next_token": nxt, "styles": styles})

    @route("GET", r"/s2s/v2\.0/task/template/(?P<path>[a-z-]+(?:/[a-z-]+)?)")
    def templates(self, rec: Recorded, path: str) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        f = BY_V2.get(path)
        if f is None or not f.styles:
            return self._err(400, "This feature has no templates", "InvalidParameters")
        page = self._page(rec, self._templates(path), 20)
        if isinstance(page, Response):
            return page
        items, nxt = page
        out = [dict(t, thumb=self._thumb_url(t["id"])) for t in items]
        return self._ok("v2", {"next_token": nxt, "templates": out})

    # -- running the work ---------------------------------------------------------------------

    def _check_mapping(self, task: Task) -> None:
        refs = task.files.get("ref_ids") or task.files.get("ref_file_ids") or []
        if task.gen == "v2":
            plain = []
            for m in task.params["face_mapping"]:
                if m["ref_file_id"] not in refs:
                    raise Invalid("face_mapping ref_file_id is not one of ref_file_ids")
                plain.append(
                    {"index": refs.index(m["ref_file_id"]), "position": m["src_face_index"]}
                )
            task.params = {**task.params, "face_mapping": plain}  # the renderer's v1 form
        for m in task.params["face_mapping"]:
            if m["index"] >= len(refs):
                raise Invalid("face_mapping index names a missing reference image")

    def _check_geometry(self, task: Task) -> None:
        g = task.params
        if g["input_x"] + g["input_width"] > g["output_width"]:
            raise Invalid("input_x + input_width must be <= output_width")
        if g["input_y"] + g["input_height"] > g["output_height"]:
            raise Invalid("input_y + input_height must be <= output_height")

    def _data(self, file_id: str | None) -> bytes:
        with self._state:
            f = self.files[file_id or ""]
        assert f.data is not None
        return f.data

    def _finish(self, task: Task) -> None:
        with self._state:
            if task.dropped:
                return
            if time.monotonic() - task.last_poll > self.drop_after:
                task.dropped = True  # nobody polled: the engine does not process the task
                return
            task.started = time.monotonic()
            injected = self.engine_errors.pop(0) if self.engine_errors else None
        if injected:
            with self._state:
                task.status, task.error = "error", injected
            return
        try:
            outputs, faces = self._process(task)
        except EngineError as exc:
            with self._state:
                task.status, task.error = "error", exc.code
            return
        except Exception:  # a bug in the emulator's processing: report as the engine would
            import logging

            logging.getLogger("tests.emulators").exception("youcam processing failed")
            with self._state:
                task.status, task.error = "error", "unknown_internal_error"
            return
        results = []
        for data, suffix, ctype in outputs:
            url = self.results.publish(data, suffix, ctype)
            dst = secrets.token_urlsafe(24)
            with self._state:
                self.files[dst] = StoredFile(dst, ctype, f"result{suffix}", len(data),
                                             task.account, {}, data)  # fmt: skip
            results.append((url, dst))
        with self._state:
            if task.dropped:
                return
            task.results, task.faces = results, faces
            if task.feature.cost:
                self._charge(task)
            task.status = "success"
            task.finished = time.monotonic()

    def _process(self, task: Task) -> tuple[list[tuple[bytes, str, str]], list[dict[str, Any]]]:
        f = task.feature
        if f.name == "video_sr":
            return [(_video_sr(self._data(task.src)), ".mp4", "video/mp4")], []
        img = None
        if f.source:
            img = _decode(self._data(task.src), "error_decode_image")
            h, w = img.shape[:2]
            if max(w, h) > f.max_side or min(w, h) < f.min_side:
                raise EngineError("invalid_parameter")
            if f.max_short and min(w, h) > f.max_short:
                raise EngineError("invalid_parameter")
        params = task.params
        png = task.output_ext == "png" or f.name == "sod"
        suffix, ctype = (".png", "image/png") if png else (".jpg", "image/jpeg")
        faces: list[dict[str, Any]] = []
        if f.needs_face or f.name in ("face_detect", "face_swap"):
            assert img is not None
            boxes = detect_faces(img)
            if not boxes:
                raise EngineError("error_no_face")
            if f.needs_face and (boxes[0][2] - boxes[0][0]) < self.min_face_width:
                raise EngineError("error_face_parsing")
            faces = [{"bbox": list(b)} for b in boxes]
        mask = None
        for key in ("mask_ids", "msk_ids", "msk_file_id"):
            if key in task.files:
                mask = _decode(self._data(task.files[key][0]), "error_decode_mask", grey=True)
                assert img is not None
                if mask.shape[:2] != img.shape[:2]:
                    raise EngineError("invalid_parameter")
        refs = [
            _decode(self._data(i), "error_download_image")
            for key in ("ref_ids", "ref_file_id", "ref_file_ids")
            for i in task.files.get(key, [])
        ]
        if f.name == "face_detect":
            return [], faces
        if task.gen == "v1" and f.name in V1_MASK_ONLY:
            assert img is not None
            outs = [(_subject(img) * 255).astype(np.uint8)]  # the foreground mask
        else:
            outs = render(f.name, img, params, mask=mask, refs=refs, faces=faces)
        return [(_encode(o, suffix), suffix, ctype) for o in outs], faces


class EngineError(Exception):
    def __init__(self, code: str) -> None:
        assert code in ENGINE_ERRORS
        super().__init__(code)
        self.code = code


# -- real image processing -----------------------------------------------------------------------


def _decode(data: bytes, code: str, grey: bool = False) -> np.ndarray:
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception:
        raise EngineError(code) from None
    return np.asarray(im.convert("L" if grey else "RGB"))


def _encode(arr: np.ndarray, suffix: str) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    if suffix == ".png":
        im.save(buf, "PNG")
    else:
        im.convert("RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces as skin-coloured blobs of a face's shape, boxes padded like a detector's, left
    to right. (No face model ships with the test environment; this finds the test portraits'
    faces and none in the cat and coffee photos.)"""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    m = cv2.inRange(ycc, (60, 140, 90), (255, 175, 125))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    _n, _lab, stats, _c = cv2.connectedComponentsWithStats(m)
    h, w = m.shape
    out = []
    for x, y, bw, bh, area in stats[1:]:
        if area < 0.01 * m.size or bw * bh > 0.4 * m.size:
            continue
        if not 0.9 <= bh / bw <= 2.0 or area / (bw * bh) < 0.5:
            continue
        borders = (x == 0) + (y == 0) + (x + bw >= w) + (y + bh >= h)
        if borders >= 2:
            continue
        px, py = int(bw * 0.1), int(bh * 0.1)
        box = (max(0, x - px), max(0, y - py), min(w, x + bw + px), min(h, y + bh + py))
        out.append(tuple(int(v) for v in box))
    return sorted(out)


def _local(
    op_id: str, rgb: np.ndarray, params: dict[str, Any], mask: np.ndarray | None = None
) -> np.ndarray | None:
    """The offline engine's result for ``op_id`` when it implements it, else None.

    (The AI upscaler is not used here: minutes of CPU in the test process would starve the
    client's threads of the GIL, which a remote server never does.)
    """
    try:
        from retouchdesk.providers.local import run_operation
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.png"
        Image.fromarray(rgb).save(src)
        params = dict(params)
        if mask is not None:
            Image.fromarray(mask).save(Path(tmp) / "mask.png")
            params["mask"] = str(Path(tmp) / "mask.png")
        try:
            run_operation(op_id, src, params, out, device="cpu")
            im = Image.open(out)
            return np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA") else "RGB"))
        except Exception:
            return None


def _subject(rgb: np.ndarray) -> np.ndarray:
    """A foreground alpha (0..1) by GrabCut from a centred rectangle."""
    h, w = rgb.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    rect = (int(w * 0.08), int(h * 0.05), int(w * 0.84), int(h * 0.95) - 1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 2,
                cv2.GC_INIT_WITH_RECT)  # fmt: skip
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 1.0, 0.0).astype(np.float32)
    return cv2.GaussianBlur(fg, (0, 0), 2)


def _colour(text: str) -> tuple[int, int, int]:
    h = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb((h % 360) / 360, 0.55, 0.85))  # type: ignore[return-value]


def _inpaint(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (uint8, 255 = fill) quickly: inpaint at low resolution, keep the rest."""
    h, w = rgb.shape[:2]
    k = max(1, max(h, w) // 384)
    small = cv2.resize(rgb, (w // k, h // k), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (w // k, h // k), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    a = (cv2.GaussianBlur(hole, (0, 0), 2).astype(np.float32) / 255.0)[..., None]
    return (rgb * (1 - a) + big * a).astype(np.uint8)


def render(
    name: str,
    img: np.ndarray | None,
    params: dict[str, Any],
    *,
    mask: np.ndarray | None = None,
    refs: list[np.ndarray] | None = None,
    faces: list[dict[str, Any]] | None = None,
) -> list[np.ndarray]:
    """The emulated engine's output images for one task."""
    refs = refs or []
    if name == "text_to_image":
        n = int(params.get("batch_size", 1) or 1)
        wr, hr = int(params.get("width_ratio") or 1), int(params.get("height_ratio") or 1)
        w, h = (1024, max(64, 1024 * hr // wr)) if wr >= hr else (max(64, 1024 * wr // hr), 1024)
        outs = []
        for i in range(n):
            key = (
                f"{params.get('prompt')}|{params.get('style_ids') or params.get('template_id')}|{i}"
            )
            rng = np.random.default_rng(int(hashlib.sha1(key.encode()).hexdigest()[:8], 16))
            c1, c2 = np.array(_colour(key)), np.array(_colour(key[::-1]))
            t = np.linspace(0, 1, h)[:, None, None]
            base = c1 * (1 - t) + c2 * t + rng.normal(0, 12, (h, w, 3))
            base = cv2.GaussianBlur(base.astype(np.float32), (0, 0), 3)
            outs.append(np.clip(base, 0, 255).astype(np.uint8))
        return outs
    assert img is not None
    h, w = img.shape[:2]
    if name == "enhance":
        scale = int(params["scale"])
        big = Image.fromarray(img).resize((w * scale, h * scale), Image.LANCZOS)
        return [np.asarray(big.filter(ImageFilter.UnsharpMask(2, 80, 2)))]
    if name == "object_removal":
        assert mask is not None
        hole = (mask > 127).astype(np.uint8) * 255
        local = _local("object_removal", img, {}, hole)
        return [local if local is not None and local.shape == img.shape else _inpaint(img, hole)]
    if name == "obj_replace":
        assert mask is not None
        hole = (mask > 127).astype(np.uint8) * 255
        out = _inpaint(img, hole)
        ys, xs = np.nonzero(hole)
        if len(xs):
            layer = out.copy()
            cx, cy = int(xs.mean()), int(ys.mean())
            ax, ay = max(2, (xs.max() - xs.min()) // 3), max(2, (ys.max() - ys.min()) // 3)
            cv2.ellipse(layer, (cx, cy), (int(ax), int(ay)), 0, 0, 360,
                        _colour(str(params["prompt"])), -1)  # fmt: skip
            a = (hole.astype(np.float32) / 255.0)[..., None] * 0.85
            out = (out * (1 - a) + layer * a).astype(np.uint8)
        return [out]
    if name == "sod":
        local = _local("background_removal", img, {})
        if local is not None and local.shape[:2] == img.shape[:2] and local.shape[2] == 4:
            return [local]
        alpha = _subject(img)
        return [np.dstack([img, (alpha * 255).astype(np.uint8)])]
    if name == "bg_blur":
        local = _local("background_blur", img, {"intensity": int(params.get("intensity", 50))})
        if local is not None and local.shape == img.shape:
            return [local]
        alpha = _subject(img)[..., None]
        sigma = 0.5 + float(params.get("intensity", 50)) / 6.0
        blurred = cv2.GaussianBlur(img, (0, 0), sigma)
        return [(img * alpha + blurred * (1 - alpha)).astype(np.uint8)]
    if name == "bg_replace":
        alpha = _subject(img)[..., None]
        key = str(params.get("prompt") or params.get("template_id") or params.get("style_ids"))
        c1, c2 = np.array(_colour(key)), np.array(_colour(key + "2"))
        t = np.linspace(0, 1, h)[:, None, None]
        bg = np.broadcast_to(c1 * (1 - t) + c2 * t, img.shape)
        return [(img * alpha + bg * (1 - alpha)).astype(np.uint8)]
    if name == "colorize":
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        lab = cv2.cvtColor(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), cv2.COLOR_RGB2LAB)
        outs = []
        for da, db in ((12, 22), (-6, 18), (18, 6), (4, -12)):
            x = lab.astype(np.int16)
            lum = x[..., 0:1].astype(np.float32) / 255.0
            x[..., 1] = 128 + (da * (0.4 + lum[..., 0])).astype(np.int16)
            x[..., 2] = 128 + (db * (1.2 - lum[..., 0])).astype(np.int16)
            outs.append(cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB))
        return outs
    if name == "lighting":
        local = _local("lighting", img, {})
        if local is not None and local.shape == img.shape:
            return [local]
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
        lab[..., 0] = cv2.createCLAHE(2.0, (8, 8)).apply(lab[..., 0])
        out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / 255.0
        return [(np.power(out, 0.8) * 255).astype(np.uint8)]
    if name == "color_correct":
        f = img.astype(np.float32)
        gain = f.reshape(-1, 3).mean(0)
        gain = gain.mean() / np.maximum(gain, 1)
        return [
            np.clip(f * (1 + (gain - 1) * s), 0, 255).astype(np.uint8)
            for s in (1.0, 0.75, 0.5, 1.25)
        ]
    if name == "out_paint":
        g = params
        crop = img[g["crop_input_y"] : g["crop_input_y"] + g["crop_input_height"],
                   g["crop_input_x"] : g["crop_input_x"] + g["crop_input_width"]]  # fmt: skip
        if crop.size == 0:
            raise EngineError("invalid_parameter")
        placed = cv2.resize(crop, (g["input_width"], g["input_height"]))
        canvas = np.zeros((g["output_height"], g["output_width"], 3), np.uint8)
        hole = np.full(canvas.shape[:2], 255, np.uint8)
        y, x = g["input_y"], g["input_x"]
        canvas[y : y + g["input_height"], x : x + g["input_width"]] = placed
        hole[y : y + g["input_height"], x : x + g["input_width"]] = 0
        return [_inpaint(canvas, hole)]
    if name.startswith("hair_"):
        x1, y1, x2, y2 = faces[0]["bbox"] if faces else (0, 0, w, h)
        key = str(params.get("style_ids") or params.get("template_id"))
        hair = np.zeros((h, w), np.float32)
        fw = x2 - x1
        grow = {"hair_ext": 1.6, "hair_vol": 1.3, "hair_bang": 0.6, "hair_style": 1.2}[name]
        axes = (int(fw * 0.5 * grow), int((y2 - y1) * 0.55 * grow))
        cv2.ellipse(hair, ((x1 + x2) // 2, y1 + (y2 - y1) // 3), axes, 0, 180, 360, 1.0, -1)
        hair[y1 + (y2 - y1) // 4 : y2, x1 + fw // 6 : x2 - fw // 6] = 0  # keep the face
        hair = cv2.GaussianBlur(hair, (0, 0), 6)[..., None]
        tint = np.array(_colour(key), np.float32)
        return [(img * (1 - 0.45 * hair) + tint * 0.45 * hair).astype(np.uint8)]
    if name == "mu_transfer":
        ref = refs[0]
        rf = detect_faces(ref)
        rx1, ry1, rx2, ry2 = rf[0] if rf else (0, 0, ref.shape[1], ref.shape[0])
        x1, y1, x2, y2 = faces[0]["bbox"] if faces else (0, 0, w, h)
        src_lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
        ref_lab = cv2.cvtColor(ref[ry1:ry2, rx1:rx2], cv2.COLOR_RGB2LAB).astype(np.float32)
        region = src_lab[y1:y2, x1:x2]
        for c in (1, 2):  # colour only: lips, cheeks and lids take the reference's hues
            mu, sd = region[..., c].mean(), region[..., c].std() + 1e-3
            rmu, rsd = ref_lab[..., c].mean(), ref_lab[..., c].std() + 1e-3
            region[..., c] = (region[..., c] - mu) * (rsd / sd) + rmu
        out_lab = src_lab.copy()
        out_lab[y1:y2, x1:x2] = region
        out = cv2.cvtColor(np.clip(out_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
        weight = np.zeros((h, w), np.float32)
        cv2.ellipse(weight, ((x1 + x2) // 2, (y1 + y2) // 2), ((x2 - x1) // 2, (y2 - y1) // 2),
                    0, 0, 360, 1.0, -1)  # fmt: skip
        weight = cv2.GaussianBlur(weight, (0, 0), 5)[..., None]
        return [(img * (1 - weight) + out * weight).astype(np.uint8)]
    if name == "face_swap":
        out = img.copy()
        assert faces is not None
        for m in params["face_mapping"]:
            if m["position"] >= len(faces):
                raise EngineError("invalid_parameter")
            ref = refs[m["index"]]
            rf = detect_faces(ref)
            rx1, ry1, rx2, ry2 = rf[0] if rf else (0, 0, ref.shape[1], ref.shape[0])
            x1, y1, x2, y2 = faces[m["position"]]["bbox"]
            patch = cv2.resize(ref[ry1:ry2, rx1:rx2], (x2 - x1, y2 - y1))
            pm = np.zeros(patch.shape[:2], np.uint8)
            cv2.ellipse(pm, ((x2 - x1) // 2, (y2 - y1) // 2), ((x2 - x1) // 2 - 2,
                        (y2 - y1) // 2 - 2), 0, 0, 360, 255, -1)  # fmt: skip
            centre = ((x1 + x2) // 2, (y1 + y2) // 2)
            out = cv2.seamlessClone(patch, out, pm, centre, cv2.NORMAL_CLONE)
        return [out]
    raise EngineError("unknown_internal_error")


def _video_sr(data: bytes) -> bytes:
    """Each frame upscaled 2x (at most 3840 px wide), written as MPEG-4."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        src.write_bytes(data)
        cap = cv2.VideoCapture(str(src))
        if not cap.isOpened():
            raise EngineError("error_decode_image")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        writer = None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            k = min(2.0, 3840 / max(w, h))
            big = cv2.resize(frame, (int(w * k), int(h * k)), interpolation=cv2.INTER_CUBIC)
            big = cv2.addWeighted(big, 1.5, cv2.GaussianBlur(big, (0, 0), 2), -0.5, 0)
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(dst), fourcc, fps, (big.shape[1], big.shape[0]))
            writer.write(big)
        cap.release()
        if writer is None:
            raise EngineError("error_decode_image")
        writer.release()
        return dst.read_bytes()


def create(**options: Any) -> YouCamEmulator:
    """The harness's entry point (``tests.emulators.load("youcam", ...)``)."""
    return YouCamEmulator(**options)


__all__ = ["FEATURES", "YouCamEmulator", "create", "detect_faces", "json"]
