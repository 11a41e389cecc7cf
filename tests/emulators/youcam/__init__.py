"""A strict loopback emulator of the YouCam Online Editor AI APIs, v1 and v2.

What it enforces, as the seed and api-reference section 4 describe (docs/vendors/):

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

One idea a module: ``emulator`` (the routes and the test knobs), ``access`` (sign-in, bearers,
rate limit), ``uploads``, ``validation`` (task bodies), ``store`` (files and tasks),
``credits``, ``styles``, ``worker`` (running a task), ``effects`` and ``imaging`` (the output
images), ``features`` (the task catalogue) and ``errors``.

Start it by hand with ``python -m tests.emulators youcam --port 8705``; it prints the
credentials to use.
"""

from __future__ import annotations

from tests.emulators.youcam.emulator import YouCamEmulator, create
from tests.emulators.youcam.errors import EngineError, Invalid
from tests.emulators.youcam.features import FEATURES
from tests.emulators.youcam.imaging import detect_faces

__all__ = ["FEATURES", "EngineError", "Invalid", "YouCamEmulator", "create", "detect_faces"]
