"""What happens to a job found unfinished after a restart, and to a job sent again on request.

The engine (``services.engine``) runs the state machine; the rules it follows for a job an
earlier run left behind live here, beside the retry rules (``services.retry_policy``), so that
"never pay twice" is read in one place:

* **Local** work is free and repeatable: it restarts.
* A job the vendor holds (it has a remote id; submitted, running, downloading or stalled) is
  **polled** again when the provider can resume, and otherwise fails with a sentence saying
  it was not sent again and which account to check.
* A job whose submission never started **restarts**; so does one whose provider takes the
  same idempotency key twice without running it twice.
* Any other submission may have reached the vendor: the job is **adopted** if a late answer
  names it, else it is parked unconfirmed with :func:`unconfirmed_sentence`.

Sending a job again (Retry on a failed or cancelled job, Resend on an unconfirmed one) is a
new submission with a new idempotency key: :func:`new_submission`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.providers.base import Capability, Provider


class Resume(StrEnum):
    POLL = "poll"  # follow the remote job by its id
    RESTART = "restart"  # run it from the start (free, or safe to send again)
    ADOPT = "adopt"  # wait for a late answer naming the job, else park it unconfirmed
    FAIL = "fail"  # cannot be followed and must not be sent again: fail with the sentence


@dataclass(frozen=True)
class ResumeDecision:
    action: Resume
    sentence: str = ""  # why it fails (FAIL only)


def decide(rec: JobRecord, provider: Provider, label: str) -> ResumeDecision:
    """The rule for ``rec`` found unfinished (see the module text); ``label`` names the vendor."""
    if provider.supports(Capability.LOCAL):
        return ResumeDecision(Resume.RESTART)
    if rec.remote_id and (rec.state.remote or rec.state is JobState.STALLED):
        if provider.supports(Capability.RESUME):
            return ResumeDecision(Resume.POLL)
        return ResumeDecision(
            Resume.FAIL,
            f"{rec.input_path.name} was not sent again after the restart, to avoid paying "
            f"twice: {label} cannot resume job {rec.remote_id}; check your {label} account",
        )
    if not rec.submit_started or provider.supports(Capability.IDEMPOTENT_SUBMIT):
        # Never sent, or sent with a key the provider will not run twice.
        return ResumeDecision(Resume.RESTART)
    return ResumeDecision(Resume.ADOPT)


def unconfirmed_sentence(rec: JobRecord, label: str) -> str:
    """What an unconfirmed job says: the vendor may have it, and how to send it anyway."""
    return (
        f"{rec.input_path.name}: the answer to its submission never arrived, so {label} may "
        f"or may not have the job; it was not sent again to avoid paying twice. Run again "
        f"with --resend-unconfirmed (or press Resend) to send it anyway, which may charge "
        f"you twice"
    )


def new_submission(rec: JobRecord, *, clear_outcome: bool) -> None:
    """Make ``rec`` a fresh submission: no remote job, a new idempotency key.

    The user chose to send it again, so the vendor must not take it for the earlier one.
    ``clear_outcome`` also forgets the earlier run's error, results and times (Retry).
    """
    rec.submit_started = False
    rec.remote_id = None
    rec.remote = {}
    rec.idempotency_key = uuid.uuid4().hex
    if clear_outcome:
        rec.error = None
        rec.results = []
        rec.result_meta = {}
        rec.progress = None
        rec.started_at = rec.finished_at = None
