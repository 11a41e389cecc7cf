"""A CodeFormer server written from the public document alone, on the real Flask stack.

Source: the CodeFormer API document (seeds/codeformer-api.md, "id-making /
API_DOCUMENTATION.md" by Esmaill1, the Space https://esmailx50-job.hf.space): ``POST
/api/process`` as multipart (``image``, repeatable) or JSON (``image_base64`` /
``images_base64``, data-URI prefix allowed), parameters ``fidelity``, ``upscale``,
``background_enhance``, ``face_upsample``, ``return_base64``; the success body
``{"status": "success", "count", "results": [{"original_name", "filename", "image_url",
"image_base64"?}]}``, the error body ``{"status": "error", "message"}``; ``GET /api/health``
``{"status": "online", "device"}``.

Nothing here comes from this project's emulator or client. Where the document is silent the
server does what a plain Flask app does: the whole handler sits in ``try/except Exception``
(the only way the documented error body arises for any failure), so an unreadable image fails
the request with HTTP 500; ``MAX_CONTENT_LENGTH`` makes Werkzeug raise
``RequestEntityTooLarge`` when the handler first reads the body, inside that ``try``. The
"restoration" is Pillow (resize by ``upscale``, an unsharp mask weighted by ``fidelity``): no
model weights. ``app.config["SEEN"]`` records each process request's image names (the server
side's count for tests).
"""

from __future__ import annotations

import base64
import io
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request, send_from_directory
from PIL import Image, ImageFilter
from werkzeug.serving import make_server


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def create_app(
    results_dir: Path, *, max_body: int | None = None, max_pixels: int | None = None
) -> Flask:
    """``max_pixels``: larger images fail the way a GPU that runs out of memory does (a
    RuntimeError inside the handler), for photos the client can read but the server cannot
    process."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["SEEN"] = []
    results_dir.mkdir(parents=True, exist_ok=True)

    @app.get("/api/health")
    def health() -> Any:
        return jsonify({"status": "online", "device": "cpu"})

    @app.get("/static/results/<path:name>")
    def result(name: str) -> Any:
        return send_from_directory(results_dir, name)

    @app.post("/api/process")
    def process() -> Any:
        try:
            images: list[tuple[str, bytes]] = []
            if request.is_json:
                form = request.get_json() or {}
                encoded = list(form.get("images_base64") or [])
                if form.get("image_base64"):
                    encoded.insert(0, form["image_base64"])
                for i, text in enumerate(encoded):
                    text = re.sub(r"^data:[^;]+;base64,", "", text)
                    images.append((f"image_{i}.png", base64.b64decode(text)))
            else:
                form = request.form
                images = [(f.filename or "image", f.read()) for f in request.files.getlist("image")]
            app.config["SEEN"].append([name for name, _ in images])
            if not images:
                return jsonify({"status": "error", "message": "No image provided"}), 400
            fidelity = float(form.get("fidelity", 0.5))
            upscale = int(float(form.get("upscale", 2)))
            want_b64 = _flag(form.get("return_base64", False))
            results = []
            for name, raw in images:
                img = Image.open(io.BytesIO(raw)).convert("RGB")
                if max_pixels is not None and img.width * img.height > max_pixels:
                    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
                img = img.resize((img.width * upscale, img.height * upscale), Image.LANCZOS)
                img = img.filter(ImageFilter.UnsharpMask(2, int(150 * (1 - fidelity)) + 20, 2))
                filename = f"api_result_{uuid.uuid4().hex}.png"
                img.save(results_dir / filename)
                item = {
                    "original_name": name,
                    "filename": filename,
                    "image_url": f"{request.host_url}static/results/{filename}",
                }
                if want_b64:
                    item["image_base64"] = base64.b64encode(
                        (results_dir / filename).read_bytes()
                    ).decode()
                results.append(item)
            return jsonify({"status": "success", "count": len(results), "results": results})
        except Exception as e:  # the documented error body for any failure
            return jsonify({"status": "error", "message": str(e)}), 500

    return app


class FlaskServer:
    """Runs a Flask app with Werkzeug's threaded server on a free loopback port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # Polled every 50 ms (Werkzeug's default is 0.5 s, which every shutdown waits out).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FlaskServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)

    @property
    def seen(self) -> list[list[str]]:
        return self.app.config["SEEN"]
