"""What every offline operation shares: its context (progress, cancellation, warnings).

Operations are pure functions ``op(rgb, params, ctx) -> rgb_or_rgba`` over uint8 numpy arrays
(RGB order), so they run the same in-process (``run_operation``, the emulators, tests) and in the
worker process (``LocalProvider``). No Qt, no network, no settings here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retouchdesk.core.errors import Cancelled

log = logging.getLogger("retouchdesk.local")

ProgressFn = Callable[[float | None, str], None]
CancelledFn = Callable[[], bool]


@dataclass
class OpContext:
    """Hooks and settings an operation gets; it adds ``warnings`` and ``meta`` for the result."""

    progress_fn: ProgressFn | None = None
    cancelled_fn: CancelledFn | None = None
    device: str = "auto"  # auto, cpu or a GPU index, for the AI upscaler
    tile_size: int = 256
    source_name: str = "the photo"
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def progress(self, fraction: float | None, message: str = "") -> None:
        if self.progress_fn is not None:
            self.progress_fn(None if fraction is None else min(1.0, max(0.0, fraction)), message)

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user cancelled; called between tiles and steps."""
        if self.cancelled_fn is not None and self.cancelled_fn():
            raise Cancelled()

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)


def scale01(value: float, lo: float = 0.0, hi: float = 100.0) -> float:
    """A 0..100 slider value as 0..1."""
    return float(np.clip((float(value) - lo) / (hi - lo), 0.0, 1.0))


def blend(src: np.ndarray, result: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``src`` where alpha is 0 (exactly), ``result`` where it is 1, a mix in between.

    Only the rectangle around the pixels with a non-zero alpha is computed, so a small
    selection in a big photo costs what the selection costs, and every other pixel is the
    source's own, bit for bit (inside the rectangle too: a zero alpha gives ``src * 1 +
    result * 0``, exactly ``src``). Whole arrays inside that rectangle are several times
    faster than picking the selected pixels one by one.
    """
    out = src.copy()
    sel = alpha > 0
    if sel.ndim == 3:
        sel = np.any(sel, axis=2)
    rows = np.flatnonzero(sel.any(axis=1))
    if rows.size == 0:
        return out
    cols = np.flatnonzero(sel.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    a = alpha[box].astype(np.float32)
    if a.ndim == 2 and src.ndim == 3:
        a = a[:, :, None]
    mixed = src[box].astype(np.float32) * (1.0 - a) + result[box].astype(np.float32) * a
    out[box] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def to_uint8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
