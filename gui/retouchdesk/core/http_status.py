"""The one status-to-error table of every vendor: what a refused HTTP answer *means*.

``providers.http`` turns answers into errors with it (each vendor adding only its vocabulary)
and ``services.retry_policy`` decides retries from the same sets, so the two can never tell
"not processed" or "a gateway answered" apart differently. It lives in ``core`` (no httpx) so
that the engine's policy does not load the HTTP stack at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ErrorKind(StrEnum):
    """What a refused answer means, whoever the vendor: the engine's retry rules and the
    user's sentence follow from the kind, never from a vendor's own ladder."""

    AUTH = "auth"  # credentials refused: the user must fix a key
    CREDITS = "credits"  # no credits left: the batch of this provider stops
    RATE_LIMITED = "rate_limited"  # not processed; again after Retry-After
    NOT_PROCESSED = "not_processed"  # the server did nothing (503): safe to send again
    LOST = "lost"  # the vendor does not know the job or the request any more
    TOO_LARGE = "too_large"  # the upload is over the vendor's size limit
    GATEWAY = "gateway"  # a gateway answered for the server (502, 504): outcome unknown
    SERVER = "server"  # another 5xx: retried only where sending twice is harmless
    VENDOR_ANSWER = "vendor_answer"  # a 5xx carrying the vendor's own error: final
    REJECTED = "rejected"  # any other 4xx: final for this request


#: The one status-to-error table of every vendor. A status not listed is SERVER (5xx) or
#: REJECTED (4xx); a vendor's error code can name another kind (:class:`Vocabulary`).
STATUS_KINDS: Mapping[int, ErrorKind] = {
    401: ErrorKind.AUTH,
    403: ErrorKind.AUTH,
    402: ErrorKind.CREDITS,
    404: ErrorKind.LOST,
    413: ErrorKind.TOO_LARGE,
    429: ErrorKind.RATE_LIMITED,
    502: ErrorKind.GATEWAY,
    503: ErrorKind.NOT_PROCESSED,
    504: ErrorKind.GATEWAY,
}
#: Statuses that say the server did not act on the request: safe to send again, any method.
NOT_PROCESSED_STATUSES = frozenset(
    s for s, k in STATUS_KINDS.items() if k in (ErrorKind.RATE_LIMITED, ErrorKind.NOT_PROCESSED)
)
#: Statuses a gateway answers for a server behind it (which may have acted on the request).
GATEWAY_STATUSES = frozenset(s for s, k in STATUS_KINDS.items() if k is ErrorKind.GATEWAY)


def status_kind(status: int) -> ErrorKind:
    """The kind of a refused HTTP status by the table alone (no vendor code)."""
    kind = STATUS_KINDS.get(status)
    if kind is not None:
        return kind
    return ErrorKind.SERVER if status >= 500 else ErrorKind.REJECTED
