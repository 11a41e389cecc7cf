"""Loopback emulators of the cloud vendors, with fault modes (see ``harness``).

Each vendor lives in ``tests/emulators/<vendor>.py`` (or a package of that name, as YouCam's)
and defines ``create(**options) -> Emulator``. :func:`load` finds it by name, so adding a
vendor needs no registry edit.
"""

from __future__ import annotations

import importlib
from typing import Any

from tests.emulators.harness import Emulator


def load(name: str, **options: Any) -> Emulator:
    """A new (not started) emulator of vendor ``name`` built by its module's ``create``."""
    try:
        module = importlib.import_module(f"tests.emulators.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tests.emulators.{name}":
            raise ValueError(f"no emulator named {name!r}") from None
        raise
    return module.create(**options)
