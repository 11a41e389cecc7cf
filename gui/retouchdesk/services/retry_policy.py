"""What the engine does with a failed provider step, decided by what the failure *means*.

One place for the rules, so that the transport, the providers and the engine never multiply
their retries:

* **Not processed** (429, 503, a connection that never opened): the vendor did nothing; the
  step is tried again with backoff and ``Retry-After``, for any step.
* **Submission, outcome unknown** (the connection broke after the request left, 502/504 from
  a gateway, an empty, truncated or unreadable answer): the job may exist and be billed. A
  provider whose submission is idempotent (YouCam's ``request_id``, the user's own CodeFormer
  server) may send it again, at most :data:`MAX_SENDS` times in all, then it fails; any other
  job becomes ``unconfirmed`` and is never sent again by itself.
* **Submission, answered**: any 4xx, an error body (``{"status": "error"}`` whatever the HTTP
  status) and other 5xx are the vendor's answer and final for that submission; an idempotent
  compute call that errored without an answer body may be sent once more (:data:`MAX_SENDS`).
* **Polling and downloading** a job the vendor holds: nothing but the vendor saying the job
  failed (or the user) ends it. Every other failure, 401 and 404 included, is retried until the
  job's deadline, after which the job is ``stalled`` and the next run polls it again.
* **A batch stops** when credits run out or the account cannot work (refused credentials, a
  configuration error): the provider's queued jobs of that batch would only fail the same way
  (and, for refused credentials, may get the account locked), so they fail at once, not sent.
"""

from __future__ import annotations

import random
from enum import StrEnum

from retouchdesk.core.errors import (
    VENDOR_ANSWER,
    AuthError,
    ConfigurationError,
    CreditsExhausted,
    ProviderError,
    RateLimited,
    RetouchError,
)
from retouchdesk.core.http_status import GATEWAY_STATUSES, NOT_PROCESSED_STATUSES
from retouchdesk.core.jobs import JobRecord, JobState

#: Sends of one photo per job for a submission that errored (transport and engine together).
MAX_SENDS = 2
#: Statuses that say the server did not act on the request (``core.http_status``).
NOT_PROCESSED = NOT_PROCESSED_STATUSES
#: Statuses from a gateway: the server behind it may or may not have acted.
GATEWAY = GATEWAY_STATUSES
#: Error codes (``ProviderError.code``) of answers that never arrived whole.
UNKNOWN_OUTCOME_CODES = frozenset({"ambiguous", "malformed", "empty", "truncated"})
#: Error codes of transport failures where nothing reached the server or nothing was decided.
TRANSPORT_CODES = frozenset({"connect", "network", "timeout"}) | UNKNOWN_OUTCOME_CODES
#: The code the engine gives a job the vendor itself reports as failed.
REMOTE_FAILED = "remote_failed"


class Verdict(StrEnum):
    RETRY = "retry"  # try the same step again after a delay
    FINAL = "final"  # the job fails with the error's sentence
    UNCONFIRMED = "unconfirmed"  # the submission's outcome is unknown: never sent again
    KEEP = "keep"  # the vendor holds the job: poll again until the job's deadline


def not_processed(exc: RetouchError) -> bool:
    """The vendor did nothing with the request (rate limit, 503, no connection)."""
    if isinstance(exc, RateLimited):
        return True
    if not isinstance(exc, ProviderError):
        return False
    return exc.status in NOT_PROCESSED or exc.code == "connect"


def unknown_outcome(exc: RetouchError) -> bool:
    """The request may have been acted on, and no answer says how."""
    if not isinstance(exc, ProviderError) or exc.code == VENDOR_ANSWER:
        return False
    return exc.code in UNKNOWN_OUTCOME_CODES or exc.status in GATEWAY


def prepare(exc: RetouchError, *, tries: int, max_attempts: int) -> Verdict:
    """Uploads and hosting are safe to repeat: retry what the error calls retryable."""
    if exc.retryable and tries < max_attempts:
        return Verdict.RETRY
    return Verdict.FINAL


def submission(
    exc: RetouchError, *, idempotent: bool, sends: int, tries: int, max_attempts: int
) -> Verdict:
    """The verdict for a failed submit call; ``sends`` counts the calls made so far."""
    if not isinstance(exc, ProviderError) or isinstance(exc, CreditsExhausted | ConfigurationError):
        return Verdict.FINAL
    if not_processed(exc):
        return Verdict.RETRY if tries < max_attempts else Verdict.FINAL
    if exc.code == VENDOR_ANSWER or (exc.status is not None and 400 <= exc.status < 500):
        return Verdict.FINAL
    if unknown_outcome(exc):
        if idempotent:
            # Safe to repeat (same key, or free compute), but bounded; after that the job
            # fails with the sentence, and the key keeps a re-run from paying twice.
            return Verdict.RETRY if sends < MAX_SENDS else Verdict.FINAL
        return Verdict.UNCONFIRMED
    if exc.status is not None and exc.status >= 500:
        # A server error without an answer body: a compute call may be sent once more.
        return Verdict.RETRY if idempotent and sends < MAX_SENDS else Verdict.FINAL
    if exc.code == "timeout" or exc.code == "network":
        if idempotent:
            return Verdict.RETRY if sends < MAX_SENDS else Verdict.FINAL
        return Verdict.UNCONFIRMED
    return Verdict.FINAL


def remote(exc: RetouchError) -> Verdict:
    """The verdict for a failed poll or download of a job the vendor holds."""
    if not isinstance(exc, ProviderError):
        return Verdict.FINAL  # our own trouble (a file that cannot be written) ends the job
    if exc.code == REMOTE_FAILED:
        return Verdict.FINAL
    if exc.status is not None or exc.code in TRANSPORT_CODES or exc.retryable:
        return Verdict.KEEP
    # The provider's own conclusion about the job (no result in a finished job, ...).
    return Verdict.FINAL


def backoff(tries: int, retry_after: float | None, *, base: float, cap: float) -> float:
    """Seconds before try ``tries + 1``: the server's ``Retry-After``, else equal jitter."""
    if retry_after is not None and retry_after >= 0:
        # The server knows best; a little jitter keeps parallel jobs from stampeding.
        return min(retry_after, 3600.0) * (1.0 + random.random() * 0.1)
    delay = min(cap, base * 2 ** (max(1, tries) - 1))
    return delay * (0.5 + random.random() * 0.5)


def stops_batch(exc: RetouchError) -> bool:
    """Whether a job's failure stops the rest of its batch (credits, account, configuration)."""
    return isinstance(exc, CreditsExhausted | AuthError | ConfigurationError)


def stopped_with(failed: JobRecord, other: JobRecord) -> bool:
    """Whether ``other`` stops with ``failed``'s batch: same batch and provider, still queued."""
    return (
        other.id != failed.id
        and failed.batch_id is not None
        and other.batch_id == failed.batch_id
        and other.provider == failed.provider
        and other.state is JobState.QUEUED
    )


def batch_stop_reason(exc: RetouchError, label: str) -> str:
    """Why the rest of a batch was not sent, as a clause (``label`` names the vendor)."""
    if isinstance(exc, CreditsExhausted):
        return f"your {label} credits ran out"
    return str(exc).rstrip(". ")


def batch_stopped_message(exc: RetouchError, label: str, stopped: int) -> str:
    """The BATCH_STOPPED sentence: why, and how many photos were not sent."""
    if isinstance(exc, CreditsExhausted):
        headline = f"Your {label} credits ran out"
    else:
        reason = batch_stop_reason(exc, label)
        headline = reason[:1].upper() + reason[1:]
    photos = "s of this batch were" if stopped != 1 else " of this batch was"
    return f"{headline}: {stopped} remaining photo{photos} not sent"
