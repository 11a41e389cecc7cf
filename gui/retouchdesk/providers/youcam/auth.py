"""YouCam sign-in: v1 RSA-encrypted id_token exchanged for a 2-hour access token; v2 API key.

v1 (the seed): ``id_token`` is base64 of the RSA PKCS#1 v1.5 encryption of
``client_id=<id>&timestamp=<unix ms>`` with ``client_secret`` read as a base64 DER X.509
SubjectPublicKeyInfo. ``POST /s2s/v1.0/client/auth`` answers an access token that lives two
hours; it is reused, renewed a little before it expires and once more when a call answers 401
(a token revoked early). v2: a single API key sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from retouchdesk.core.errors import ConfigurationError

AUTH_PATH = "/s2s/v1.0/client/auth"
TOKEN_LIFETIME = 2 * 3600.0  # seconds, as documented
RENEW_MARGIN = 10 * 60.0  # renew this long before the documented expiry


def load_public_key(client_secret: str) -> rsa.RSAPublicKey:
    """The RSA public key inside ``client_secret`` (base64 DER SubjectPublicKeyInfo)."""
    try:
        der = base64.b64decode("".join(client_secret.split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, TypeError):
        raise ConfigurationError(
            "The YouCam secret key is not valid: paste the Secret key exactly as shown "
            "when the API key was created"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError("The YouCam secret key is not an RSA public key")
    return key


def make_id_token(client_id: str, client_secret: str, *, timestamp_ms: int | None = None) -> str:
    """base64(RSA-PKCS#1-v1.5(``client_id=<id>&timestamp=<ms>``)) with the secret's key."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    message = f"client_id={client_id}&timestamp={ts}".encode()
    cipher = load_public_key(client_secret).encrypt(message, padding.PKCS1v15())
    return base64.b64encode(cipher).decode("ascii")


class TokenCache:
    """The v1 access token: fetched once, reused for its life, renewed before it expires.

    ``fetch`` performs the auth call and returns the token. Concurrent callers share one
    fetch (a lock), so a batch starting at once signs in once.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[str]],
        *,
        lifetime: float = TOKEN_LIFETIME,
        margin: float = RENEW_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.lifetime = lifetime
        self.margin = min(margin, lifetime / 2)
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None
        self.sign_ins = 0

    async def get(self) -> str:
        if self._valid():
            return self._token  # type: ignore[return-value]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._valid():
                token = await self._fetch()
                self.sign_ins += 1
                self._token, self._expires = token, self._clock() + self.lifetime
            return self._token  # type: ignore[return-value]

    async def renew(self, stale: str | None) -> str:
        """A new token after a 401 with ``stale``; another caller may have renewed already."""
        if stale is not None and stale == self._token:
            self._token = None
        return await self.get()

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires - self.margin
