"""Waiting for something another thread, process or server does, with a deadline.

A test that waits for an event polls for it until a deadline instead of sleeping for a guessed
time: on a loaded machine the event comes later and the test only takes longer, and when the
event never comes the test fails with what it was waiting for, not by pytest-timeout's kill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(
    condition: Callable[[], object], *, what: str, timeout: float = 30.0, step: float = 0.01
) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s for {what}")
        await asyncio.sleep(step)


async def polled_until_done(provider: Any, ctx: Any, *, timeout: float = 30.0, step: float = 0.05):
    """Poll ``provider`` for the job in ``ctx`` until it is done; return that poll's result.

    A job the vendor reports failed, or one still running after ``timeout`` seconds, fails the
    test with the last poll result instead of looping for ever.
    """
    deadline = time.monotonic() + timeout
    while (poll := await provider.poll(ctx)).state.value != "done":
        assert poll.state.value != "failed", poll
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done after {timeout:g} s: {poll}")
        await asyncio.sleep(step)
    return poll
