"""Keeping credentials out of logs and sentences: registered secret values, ``key=value`` and
``"key": "value"`` credentials and credential headers become ``[redacted]``.

A module of its own (no httpx) because the window installs the log filter before its first
paint, and the HTTP layer (:mod:`retouchdesk.providers.http`) costs 70 ms to import.
"""

from __future__ import annotations

import logging
import re
import threading

SECRET_HEADERS = frozenset(
    {"x-api-key", "x-api-secret", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)
SECRET_FIELDS = (
    "id_token",
    "client_secret",
    "access_token",
    "accessToken",
    "refresh_token",
    "refreshToken",
    "jwtPrivateKey",
    "api_key",
    "apiKey",
    "x-api-key",
    "x-api-secret",
    "password",
    "secret_access_key",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "Signature",
)
REDACTED = "[redacted]"

_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_field_re = re.compile(
    r"(?P<key>[\"']?(?:" + "|".join(re.escape(f) for f in SECRET_FIELDS) + r")[\"']?)"
    r"(?P<sep>\s*[:=]\s*)(?P<q>[\"']?)(?P<val>[^\"'&\s,;}]+)",
    re.IGNORECASE,
)
_header_re = re.compile(
    r"(?P<key>\b(?:authorization|x-api-key|x-api-secret)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<val>(?:bearer\s+|basic\s+)?[^\"'\s,;}]+)",
    re.IGNORECASE,
)


def register_secret(value: str | None) -> None:
    """Remember a credential value so that :func:`redact_text` removes it wherever it appears."""
    if value and len(value) >= 6:  # shorter strings would redact ordinary words
        with _secrets_lock:
            _known_secrets.add(value)


def redact_text(text: str) -> str:
    """``text`` without registered secrets, ``key=value`` / ``"key": "value"`` credentials and
    credential headers."""
    if not text:
        return text
    with _secrets_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    text = _field_re.sub(lambda m: f"{m['key']}{m['sep']}{m['q']}{REDACTED}", text)
    return _header_re.sub(lambda m: f"{m['key']}{REDACTED}", text)


def redact_url(url: str) -> str:
    """A URL without credentials in its query string (presigned signatures, tokens)."""
    return redact_text(url)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's message and arguments.

    Installed on the app's log handlers (``install_log_redaction``) so that even a third-party
    library logging a header or a URL with a signature cannot write a secret to a log file.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return True
        record.msg = redact_text(message)
        record.args = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root)."""
    logger = logger or logging.getLogger()
    filt = RedactingFilter()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(filt)
    return filt
