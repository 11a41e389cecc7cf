"""Who may call the emulator: v1 RSA sign-in, v1 access tokens, v2 ``sk-`` keys, rate limit.

v1: ``client_secret`` is the base64 DER public key of a key pair made here; an ``id_token`` is
decrypted with the private key (PKCS#1 v1.5) and must read ``client_id=<id>&timestamp=<ms>``
with the right id and a clock within ``clock_skew`` seconds. v2: the bearer is the API key.
Every bearer is limited to ``rate_limit`` calls over a sliding minute (429 with
``Retry-After``); a refused call does not count.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.emulators.harness import TokenIssuer
from tests.emulators.youcam.errors import Invalid


class Access:
    """The credentials the emulator accepts and the sign-ins and calls it has counted."""

    def __init__(
        self,
        *,
        client_id: str,
        api_key: str,
        token_ttl: float,
        rate_limit: int,
        clock_skew: float,
    ) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.client_id = client_id
        self.client_secret = base64.b64encode(der).decode()
        self.api_key = api_key
        self.tokens = TokenIssuer(ttl=token_ttl)
        self.rate_limit = rate_limit
        self.clock_skew = clock_skew
        self.sign_ins = 0
        self.rejected_sign_ins: list[str] = []
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def sign_in(self, body: Any) -> str:
        """A new v1 access token for a valid ``{client_id, id_token}`` body."""
        if not isinstance(body, dict) or set(body) != {"client_id", "id_token"}:
            raise Invalid("client_id and id_token are required")
        if body["client_id"] != self.client_id:
            self.rejected_sign_ins.append("client_id")
            raise Invalid("Unknown client id", "InvalidClientId", 401)
        try:
            plain = self.key.decrypt(
                base64.b64decode(body["id_token"], validate=True), padding.PKCS1v15()
            ).decode()
            fields = dict(part.split("=", 1) for part in plain.split("&"))
            if set(fields) != {"client_id", "timestamp"}:
                raise ValueError(plain)
            ts = int(fields["timestamp"])
        except Exception:
            self.rejected_sign_ins.append("id_token")
            raise Invalid("id_token cannot be decrypted", "InvalidIdToken", 401) from None
        if fields["client_id"] != self.client_id:
            self.rejected_sign_ins.append("id_token client_id")
            raise Invalid("id_token names another client", "InvalidIdToken", 401)
        if abs(time.time() * 1000 - ts) > self.clock_skew * 1000:
            self.rejected_sign_ins.append("timestamp")
            raise Invalid("id_token timestamp is too far off", "InvalidIdToken", 401)
        token, _ttl = self.tokens.issue()
        self.sign_ins += 1
        return token

    def account(self, authorization: str, gen: str) -> str:
        """The account ("v1" or "v2") of a valid bearer within its rate limit."""
        if not authorization.startswith("Bearer "):
            raise Invalid("Missing bearer token", "InvalidAccessToken", 401)
        token = authorization[len("Bearer ") :].strip()
        if gen == "v1":
            if not self.tokens.valid(token):
                raise Invalid("Access token expired or invalid", "InvalidAccessToken", 401)
            account = "v1"
        else:
            if not token.startswith("sk-") or token != self.api_key:
                raise Invalid("Invalid API key", "InvalidApiKey", 401)
            account = "v2"
        self._count(token)
        return account

    def _count(self, token: str) -> None:
        """Count one call of ``token`` over a sliding minute, or refuse it with 429."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(token, deque())
            while calls and now - calls[0] > 60.0:
                calls.popleft()
            if len(calls) >= self.rate_limit:
                retry = max(1, int(60.0 - (now - calls[0])) + 1)
                raise Invalid(
                    "Too Many Requests", "RateLimitExceeded", 429, {"Retry-After": str(retry)}
                )
            calls.append(now)
