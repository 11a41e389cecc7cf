"""Waiting for something another thread, process or server does, with a deadline.

A test that waits for an event polls for it until a deadline instead of sleeping for a guessed
time: on a loaded machine the event comes later and the test only takes longer, and when the
event never comes the test fails with what it was waiting for, not by pytest-timeout's kill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(
    condition: Callable[[], object], *, what: str, timeout: float = 30.0, step: float = 0.01
) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s for {what}")
        await asyncio.sleep(step)
