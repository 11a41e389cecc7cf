"""How long a job will take: measured speed first, the schema's hint otherwise.

Photographers plan around time as much as money ("a 24 MP AI upscale takes hours on this
CPU"). The estimate is seconds per input megapixel:

* measured: the median over earlier finished jobs of the same operation with the same
  parameters, from their recorded start and end and the photo's pixel count;
* else the schema's ``cost.seconds_per_mp`` hint (an expression over the parameters);
* else unknown (cloud services publish no times): nothing is claimed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from retouchdesk.core import expr
from retouchdesk.core.jobs import JobState

SLOW_SECONDS = 120.0  # a run this long is announced before it starts


def seconds_per_mp(
    op: Any,
    params: dict[str, Any],
    jobs: list[Any],
    size_of: Callable[[Any], tuple[int, int] | None],
) -> tuple[float | None, str]:
    """(seconds per input megapixel, "measured" | "estimated") or (None, "")."""
    rates = []
    for rec in jobs:
        if rec.state is not JobState.DONE or rec.provider != op.provider:
            continue
        if rec.operation != op.id or not rec.started_at or not rec.finished_at:
            continue
        if any(rec.params.get(k) != v for k, v in params.items() if k in rec.params):
            continue
        size = size_of(rec.input_path)
        if not size:
            continue
        mp = size[0] * size[1] / 1e6
        if mp > 0:
            rates.append((rec.finished_at - rec.started_at) / mp)
    if rates:
        return statistics.median(rates[-9:]), "measured"
    hint = op.cost.seconds_per_mp
    if hint:
        try:
            value = float(expr.evaluate(hint, params))
        except Exception:  # a bad hint must not break the panel
            return None, ""
        return value, "estimated"
    return None, ""


def job_seconds(rate: float | None, size: tuple[int, int] | None) -> float | None:
    if rate is None or not size:
        return None
    return rate * size[0] * size[1] / 1e6


def duration_text(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 2 h 10 min'."""
    s = max(1, round(seconds))
    if s < 60:
        return f"about {s} s"
    m = round(s / 60)
    if m < 60:
        return f"about {m} min"
    h, m = divmod(m, 60)
    return f"about {h} h {m} min" if m else f"about {h} h"
