"""The resume rules (services.resume) for each state an earlier run can leave a job in.

The engine's end-to-end forms (kill mid-submit, restart, late answers) are in
``tests/unit/services/test_engine.py`` and ``tests/e2e/test_cli.py``; here every branch of
the table is named once, with the scriptable fake provider declaring its capabilities.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles.fake_provider import FakeProvider, FakeServer

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services import resume
from retouchdesk.services.resume import Resume


def provider(tmp_path: Path, *, idempotent: bool, can_resume: bool) -> FakeProvider:
    server = FakeServer(tmp_path / f"server-{idempotent}-{can_resume}")
    server.set_script(idempotent=idempotent, resume=can_resume)
    return FakeProvider(server)


def job(state: JobState, *, remote_id: str | None = None, started: bool = False) -> JobRecord:
    return JobRecord(
        id="j1",
        provider="fake",
        operation="brighten",
        input_path=Path("/photos/a.jpg"),
        params={},
        output_dir=Path("/out"),
        name_template="{stem}.{ext}",
        idempotency_key="k1",
        state=state,
        remote_id=remote_id,
        submit_started=started,
    )


@pytest.mark.parametrize(
    ("state", "remote_id", "started", "idempotent", "can_resume", "expected"),
    [
        (JobState.RUNNING, "r1", True, False, True, Resume.POLL),
        (JobState.STALLED, "r1", True, False, True, Resume.POLL),
        (JobState.SUBMITTED, "r1", True, True, False, Resume.FAIL),
        (JobState.UPLOADING, None, False, False, False, Resume.RESTART),
        (JobState.UPLOADING, None, True, True, False, Resume.RESTART),
        (JobState.UPLOADING, None, True, False, True, Resume.ADOPT),
        (JobState.UNCONFIRMED, None, True, False, True, Resume.ADOPT),
    ],
)
def test_each_leftover_state_gets_its_rule(
    tmp_path, state, remote_id, started, idempotent, can_resume, expected
):
    p = provider(tmp_path, idempotent=idempotent, can_resume=can_resume)
    decision = resume.decide(job(state, remote_id=remote_id, started=started), p, "Fake Cloud")
    assert decision.action is expected
    if expected is Resume.FAIL:
        assert decision.sentence == (
            "a.jpg was not sent again after the restart, to avoid paying twice: Fake Cloud "
            "cannot resume job r1; check your Fake Cloud account"
        )


def test_a_job_sent_again_gets_a_new_key_and_retry_forgets_the_outcome():
    rec = job(JobState.FAILED, remote_id="r1", started=True)
    rec.remote = {"file": "f1"}
    rec.error, rec.results, rec.progress = "broke", [Path("/out/a.jpg")], 0.5
    resume.new_submission(rec, clear_outcome=False)  # Resend: the error stays until it runs
    assert rec.idempotency_key != "k1" and rec.remote_id is None and rec.remote == {}
    assert not rec.submit_started and rec.error == "broke"
    key = rec.idempotency_key
    resume.new_submission(rec, clear_outcome=True)  # Retry
    assert rec.idempotency_key != key
    assert rec.error is None and rec.results == [] and rec.progress is None
