"""What a request becomes (services.jobspec): the row the engine queues and its defaults."""

from __future__ import annotations

from pathlib import Path

from tests.doubles.fake_provider import SCHEMA_DIR

from retouchdesk.core.jobs import JobState
from retouchdesk.core.schema import Catalog, load_provider
from retouchdesk.services.jobspec import (
    EngineConfig,
    JobRequest,
    default_output_dir,
    new_record,
    parse_concurrency,
)


def catalog() -> Catalog:
    return Catalog({"fake": load_provider(SCHEMA_DIR / "fake.toml")})


def test_a_request_becomes_a_queued_row_with_absolute_paths_and_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = EngineConfig(output_subfolder="done", template="{stem}_x")
    req = JobRequest("fake", "brighten", Path("a.jpg"), params={"amount": 1.5, "mask": "m.png"})
    rec = new_record(req, "b1", config, catalog())
    assert rec.state is JobState.QUEUED and rec.message == "queued" and rec.batch_id == "b1"
    assert rec.input_path == tmp_path / "a.jpg"
    assert rec.output_dir == tmp_path / "done" == default_output_dir(rec.input_path, config)
    assert rec.name_template == "{stem}_x" and rec.params == {
        "amount": 1.5,
        "mask": str(tmp_path / "m.png"),
    }
    again = new_record(req, None, config, catalog())
    assert again.idempotency_key != rec.idempotency_key and again.id != rec.id
    keyed = JobRequest(
        "fake", "brighten", Path("a.jpg"), output_dir=Path("out"), idempotency_key="k"
    )
    rec = new_record(keyed, None, EngineConfig(output_dir=str(tmp_path / "all")), catalog())
    assert rec.output_dir == tmp_path / "out" and rec.idempotency_key == "k"


def test_concurrency_overrides_ignore_bad_entries():
    assert parse_concurrency("youcam=1, local=2, bad, zero=0, x=y") == {"youcam": 1, "local": 2}
    assert parse_concurrency("") == {}
