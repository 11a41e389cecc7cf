"""The batch-stop rules of services.retry_policy: which failures stop the rest of a batch,
which jobs stop with it, and the sentences the user reads. The engine's end-to-end form is
``test_engine.py::test_credits_running_out_stops_the_rest_of_the_batch``."""

from __future__ import annotations

import pytest
from tests.doubles.records import job_record

from retouchdesk.core.errors import (
    AuthError,
    ConfigurationError,
    CreditsExhausted,
    InputError,
    ProviderError,
    RateLimited,
)
from retouchdesk.core.jobs import JobState
from retouchdesk.services import retry_policy as policy


def job(job_id: str, *, batch: str | None = "b1", provider: str = "fake", state=JobState.QUEUED):
    return job_record(job_id, batch_id=batch, provider=provider, state=state)


@pytest.mark.parametrize(
    ("exc", "stops"),
    [
        (CreditsExhausted("no credits"), True),
        (AuthError("the key was refused"), True),
        (ConfigurationError("no API key is set"), True),
        (RateLimited("slow down"), False),
        (ProviderError("the photo has no face"), False),
        (InputError("a.jpg cannot be read"), False),
    ],
)
def test_only_account_failures_stop_a_batch(exc, stops):
    assert policy.stops_batch(exc) is stops


def test_the_queued_jobs_of_the_same_batch_and_provider_stop_with_it():
    failed = job("a", state=JobState.FAILED)
    assert policy.stopped_with(failed, job("b"))
    assert not policy.stopped_with(failed, failed)
    assert not policy.stopped_with(failed, job("c", batch="b2"))
    assert not policy.stopped_with(failed, job("d", provider="other"))
    assert not policy.stopped_with(failed, job("e", state=JobState.RUNNING))  # sent: it goes on
    alone = job("f", batch=None, state=JobState.FAILED)
    assert not policy.stopped_with(alone, job("g", batch=None))


def test_the_sentences_say_why_and_how_many():
    credits = CreditsExhausted("402: balance is zero.")
    assert policy.batch_stop_reason(credits, "Fake Cloud") == "your Fake Cloud credits ran out"
    assert (
        policy.batch_stopped_message(credits, "Fake Cloud", 3)
        == "Your Fake Cloud credits ran out: 3 remaining photos of this batch were not sent"
    )
    refused = AuthError("the API key was refused.")
    assert policy.batch_stop_reason(refused, "Fake Cloud") == "the API key was refused"
    assert (
        policy.batch_stopped_message(refused, "Fake Cloud", 1)
        == "The API key was refused: 1 remaining photo of this batch was not sent"
    )
