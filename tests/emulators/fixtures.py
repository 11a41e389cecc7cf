"""Pytest fixtures that start vendor emulators on loopback (registered in tests/conftest.py).

``emulator("enhancor", time_scale=0.05, api_key="k")`` starts one and stops it at teardown;
tests then steer faults through ``emu.faults`` and inspect ``emu.received(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulators import load
from tests.emulators.harness import Emulator

StartEmulator = Callable[..., Emulator]


@pytest.fixture
def emulator() -> Iterator[StartEmulator]:
    """A factory: ``emulator(name, **options)`` returns a started emulator of that vendor."""
    started: list[Emulator] = []

    def start(name: str, **options: Any) -> Emulator:
        emu = load(name, **options).start()
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.stop()
