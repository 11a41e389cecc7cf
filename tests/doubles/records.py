"""A job row as the engine makes it, for tests that need one without an engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retouchdesk.core.jobs import JobRecord


def job_record(job_id: str = "j1", folder: Path = Path("/photos"), **fields: Any) -> JobRecord:
    """A queued job of the fake provider on ``folder/<job_id>.jpg``; ``fields`` override."""
    values: dict[str, Any] = {
        "id": job_id,
        "provider": "fake",
        "operation": "brighten",
        "input_path": folder / f"{job_id}.jpg",
        "params": {},
        "output_dir": folder / "out",
        "name_template": "{stem}",
        "idempotency_key": job_id,
    }
    return JobRecord(**{**values, **fields})
