"""CodeFormer server emulator (the Flask app of seeds/codeformer-api.md, api-reference section 3).

* ``POST /api/process``: multipart (``image``, repeatable for a batch, parameters as form
  fields) or JSON (``image_base64`` or ``images_base64``, data-URI prefix allowed); ``fidelity``
  0..1, ``upscale`` 1/2/4, ``background_enhance``, ``face_upsample``, ``return_base64``;
  answers ``{"status": "success", "count", "results": [{"original_name", "filename",
  "image_url", "image_base64"?}]}`` or ``{"status": "error", "message"}``;
* errors the way a Flask handler wrapped in ``try/except Exception`` answers them: the
  document's ``{"status": "error", "message"}`` body with HTTP ``error_status`` (500 by
  default; the document gives no status, see resources/providers/GUESSES.md);
* above ``max_body`` (100 MB) Werkzeug raises ``RequestEntityTooLarge`` when the handler reads
  the body: ``too_large="caught"`` (default) is that exception caught by the handler (500 with
  Werkzeug's "413 Request Entity Too Large: ..." text as the message), ``too_large="html"``
  Flask's own 413 HTML page (a handler that does not catch it);
* a batch with an unreadable image: ``batch_errors="fail"`` (default) fails the whole request
  like the catch-all handler, ``"skip"`` leaves that image out (fewer results);
* unknown fields are ignored (Flask's ``request.form.get`` never sees them);
* ``GET /api/health``: ``{"status": "online", "device": "cuda"}``;
* result files at ``/static/results/api_result_<uuid>.png`` (``expire_results`` removes them,
  ``keep_results=False`` never keeps them: an expired result URL);
* a sleeping Space (``asleep=True``): every request answers 503 with Hugging Face's HTML
  "starting" page until ``wake_time`` seconds after the first request;
* large inputs are capped like upstream CodeFormer's web demo (github.com/sczhou/CodeFormer,
  web-demos/hugging_face/app.py): above 1000 px (long side) at most x2, above 1500 px x1 with
  background_enhance and face_upsample off; ``effective`` records what each image got;
* optional bearer ``token`` (a private Space).

Output images are real: face restoration via the offline engine when available.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import time
import uuid
from typing import Any

from PIL import Image

from tests.emulators.harness import (
    Emulator,
    Recorded,
    Response,
    json_response,
    raw_response,
    render_output,
    route,
)

# werkzeug.exceptions.RequestEntityTooLarge: str(exc) is "<code> <name>: <description>".
WERKZEUG_413 = (
    "413 Request Entity Too Large: The data value transmitted exceeds the capacity limit."
)
FLASK_413 = (
    b"<!doctype html>\n<html lang=en>\n<title>413 Request Entity Too Large</title>\n"
    b"<h1>Request Entity Too Large</h1>\n<p>The data value transmitted exceeds the capacity "
    b"limit.</p>\n"
)
SPACE_STARTING = (
    b"<!DOCTYPE html><html><head><title>Space is starting</title></head><body>"
    b"<h1>This Space is waking up</h1></body></html>"
)
TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


class Invalid(Exception):
    pass


class CodeFormerEmulator(Emulator):
    name = "codeformer"

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        device: str = "cuda",
        token: str = "",
        max_body: int = 100 * 1024 * 1024,
        asleep: bool = False,
        wake_time: float = 2.0,
        process_time: float = 0.5,
        keep_results: bool = True,
        error_status: int = 500,
        too_large: str = "caught",
        batch_errors: str = "fail",
    ) -> None:
        super().__init__(time_scale=time_scale)
        self.device = device
        self.token = token
        self.max_body = max_body
        self.asleep = asleep
        self.wake_time = wake_time
        self.process_time = process_time
        self.keep_results = keep_results  # False: results vanish before they are downloaded
        self.error_status = error_status
        self.too_large_style = too_large
        self.batch_errors = batch_errors
        self.effective: list[dict[str, Any]] = []  # per restored image: scale, bg, faces
        self._woke_at: float | None = None
        self.static: dict[str, bytes] = {}
        self.processed = 0  # images actually restored
        self._lock2 = threading.Lock()

    # -- gatekeeping ----------------------------------------------------------------------------

    def _gate(self, rec: Recorded) -> Response | None:
        if self.asleep:
            now = time.monotonic()
            if self._woke_at is None:
                self._woke_at = now + self.scaled(self.wake_time)
            if now < self._woke_at:
                return raw_response(SPACE_STARTING, "text/html; charset=utf-8", 503)
            self.asleep = False
        if self.token and rec.header("authorization") != f"Bearer {self.token}":
            return json_response({"error": "Invalid credentials in Authorization header"}, 401)
        return None

    def too_large(self, size: int) -> Response:
        if self.too_large_style == "caught":
            return self._error(WERKZEUG_413)
        return raw_response(FLASK_413, "text/html; charset=utf-8", 413)

    def _error(self, message: str) -> Response:
        return json_response({"status": "error", "message": message}, self.error_status)

    # -- routes -------------------------------------------------------------------------------

    @route("GET", "/api/health")
    def health(self, rec: Recorded) -> Response:
        return self._gate(rec) or json_response({"status": "online", "device": self.device})

    @route("GET", r"/static/results/(?P<name>[\w.-]+)")
    def result_file(self, rec: Recorded, name: str) -> Response:
        refused = self._gate(rec)
        if refused:
            return refused
        data = self.static.get(name)
        if data is None:
            return raw_response(b"<h1>Not Found</h1>", "text/html; charset=utf-8", 404)
        return raw_response(data, "image/png")

    @route("POST", "/api/process")
    def process(self, rec: Recorded) -> Response:
        refused = self._gate(rec)
        if refused:
            return refused
        try:
            images, params = self._inputs(rec)
        except Invalid as exc:
            return self._error(str(exc))
        time.sleep(self.scaled(self.process_time))
        results = []
        for name, data in images:
            try:
                src = Image.open(io.BytesIO(data))
                src.load()
            except Exception:
                if self.batch_errors == "skip":
                    continue
                return self._error(f"Could not read image {name}")
            scale, bg, faces = (
                params["upscale"],
                params["background_enhance"],
                params["face_upsample"],
            )
            long_side = max(src.size)
            if scale > 2 and long_side > 1000:
                scale = 2
            if long_side > 1500:
                scale, bg, faces = 1, False, False
            with self._lock2:
                self.effective.append(
                    {
                        "name": name,
                        "upscale": scale,
                        "background_enhance": bg,
                        "face_upsample": faces,
                    }
                )
            out = render_output(
                "skin_smoothing",
                data,
                {"strength": round(100 * (1 - params["fidelity"]))},
                scale=float(scale),
            )
            filename = f"api_result_{uuid.uuid4().hex}.png"
            with self._lock2:
                if self.keep_results:
                    self.static[filename] = out
                self.processed += 1
            item: dict[str, Any] = {
                "original_name": name,
                "filename": filename,
                "image_url": f"{self.url}/static/results/{filename}",
            }
            if params["return_base64"]:
                item["image_base64"] = base64.b64encode(out).decode()
            results.append(item)
        return json_response({"status": "success", "count": len(results), "results": results})

    # -- parsing ------------------------------------------------------------------------------

    def _inputs(self, rec: Recorded) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
        if rec.content_type == "multipart/form-data":
            images = [(f.filename or "image.png", f.data) for f in rec.files.get("image", [])]
            raw = {k: v[0] for k, v in rec.form.items()}
        elif rec.content_type == "application/json":
            if not isinstance(rec.json, dict):
                raise Invalid("Invalid JSON body")
            raw = dict(rec.json)
            encoded: list[str] = []
            if "image_base64" in raw:
                encoded.append(raw.pop("image_base64"))
            if "images_base64" in raw:
                many = raw.pop("images_base64")
                if not isinstance(many, list):
                    raise Invalid("images_base64 must be a list")
                encoded.extend(many)
            images = [(f"image_{i}.png", _b64(s)) for i, s in enumerate(encoded)]
        else:
            raise Invalid("Unsupported content type")
        if not images:
            raise Invalid("No image provided")
        return images, {
            "fidelity": _float(raw.get("fidelity", 0.5), "fidelity", 0.0, 1.0),
            "upscale": _upscale(raw.get("upscale", 2)),
            "background_enhance": _bool(raw.get("background_enhance", False), "background_enhance"),
            "face_upsample": _bool(raw.get("face_upsample", False), "face_upsample"),
            "return_base64": _bool(raw.get("return_base64", False), "return_base64"),
        }

    def expire_results(self) -> None:
        with self._lock2:
            self.static.clear()


def _b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise Invalid("image_base64 must be a string")
    text = re.sub(r"^data:[\w/+.-]+;base64,", "", text.strip())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("Invalid base64 image data") from None


def _float(value: Any, name: str, low: float, high: float) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number") from None
    if not low <= f <= high:
        raise Invalid(f"{name} must be between {low:g} and {high:g}")
    return f


def _upscale(value: Any) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise Invalid("upscale must be 1, 2 or 4") from None
    if f not in (1, 2, 4):
        raise Invalid("upscale must be 1, 2 or 4")
    return int(f)


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise Invalid(f"{name} must be true or false")


def create(**options: Any) -> CodeFormerEmulator:
    return CodeFormerEmulator(**options)
