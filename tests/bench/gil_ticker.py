"""A ticker thread's lateness while some work runs: how long that work kept the GIL.

The window's thread runs Python (its event loop) and so needs the GIL between every two
events. Work in a worker thread that holds the GIL in one long C call makes it wait; a thread
sleeping 1 ms at a time sees the same wait as lateness. Used by the GIL benchmarks
(``levels_gil.py``, ``rewrap_gil.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def late_while(fn: Callable[[], Any]) -> tuple[float, float]:
    """Seconds ``fn`` took, and the ticker's largest lateness meanwhile (seconds)."""
    stop, late = threading.Event(), [0.0]

    def tick() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            time.sleep(0.001)
            late.append(time.perf_counter() - t - 0.001)

    th = threading.Thread(target=tick)
    th.start()
    time.sleep(0.02)
    t = time.perf_counter()
    fn()
    took = time.perf_counter() - t
    stop.set()
    th.join()
    return took, max(late)
