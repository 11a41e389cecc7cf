"""YouCam sign-in: v1 RSA-encrypted id_token exchanged for a 2-hour access token; v2 API key.

v1 (the seed): ``id_token`` is base64 of the RSA PKCS#1 v1.5 encryption of
``client_id=<id>&timestamp=<unix ms>`` with ``client_secret`` read as a base64 DER X.509
SubjectPublicKeyInfo. ``POST /s2s/v1.0/client/auth`` answers an access token that lives two
hours; it is reused, renewed a little before it expires and once more when a call answers 401
(a token revoked early; :class:`retouchdesk.providers.http.BearerAuth`). v2: a single API key
sent as ``Authorization: Bearer`` (``http.StaticToken``).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.providers import http

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


class TokenCache(http.TokenCache):
    """The v1 access token (the shared :class:`~retouchdesk.providers.http.TokenCache`) with
    YouCam's documented two-hour life, renewed ten minutes before it ends."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[str]],
        *,
        lifetime: float = TOKEN_LIFETIME,
        margin: float = RENEW_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(fetch, lifetime=lifetime, margin=margin, clock=clock)
