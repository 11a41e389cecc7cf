"""A long job history written straight into a real job database (tests and benchmarks).

Rows look like the engine's own: done jobs of the fake provider with a result path each (the
files need not exist), some failed and cancelled, some grouped in batches, one a minute going
back in time from ``newest``. Written in one transaction through ``JobStore.insert_many``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services.store import JobStore


def seed_history(
    store: JobStore,
    n: int,
    *,
    folder: Path,
    newest: float | None = None,
    step: float = 60.0,
    batch_every: int = 0,
    batch_size: int = 20,
    provider: str = "fake",
    operation: str = "brighten",
) -> list[JobRecord]:
    """Write ``n`` finished jobs, the newest finishing at ``newest`` (default: an hour ago).

    Every 10th is failed and every 25th cancelled, the rest done. With ``batch_every`` > 0,
    runs of ``batch_size`` jobs out of every ``batch_every`` share a batch id. Returns the
    records, newest first.
    """
    newest = time.time() - 3600 if newest is None else newest
    recs: list[JobRecord] = []
    batch: str | None = None
    for i in range(n):
        if batch_every and i % batch_every == 0:
            batch = uuid.uuid4().hex
        elif batch_every and i % batch_every >= batch_size:
            batch = None
        t = newest - i * step
        state = (
            JobState.FAILED
            if i % 10 == 9
            else JobState.CANCELLED
            if i % 25 == 24
            else JobState.DONE
        )
        photo = folder / f"old_{i:05d}.jpg"
        recs.append(
            JobRecord(
                id=uuid.uuid4().hex,
                provider=provider,
                operation=operation,
                input_path=photo,
                params={"amount": 1.2},
                output_dir=folder / "retouched",
                name_template="{stem}_{operation}",
                batch_id=batch if batch_every else None,
                state=state,
                progress=1.0 if state is JobState.DONE else None,
                message=str(state),
                error=f"{photo.name}: the service said no" if state is JobState.FAILED else None,
                idempotency_key=uuid.uuid4().hex,
                results=[folder / "retouched" / f"old_{i:05d}_brighten.png"]
                if state is JobState.DONE
                else [],
                created_at=t - 5,
                updated_at=t,
                started_at=t - 4,
                finished_at=t,
            )
        )
    store.insert_many([(r, None) for r in recs])
    return recs
