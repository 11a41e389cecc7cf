"""The built-in offline engine ("local"): real retouching with no account and no network.

- :func:`run_operation` runs one operation synchronously in this process (emulators, tests).
- :class:`LocalProvider` runs the same operations in worker processes for the app
  (imported lazily: ``from retouchdesk.providers.local.provider import LocalProvider``).
"""

from __future__ import annotations

from typing import Any

from retouchdesk.providers.local.runner import OPERATIONS, run_array, run_operation

__all__ = ["OPERATIONS", "LocalProvider", "run_array", "run_operation"]


def __getattr__(name: str) -> Any:
    if name == "LocalProvider":
        from retouchdesk.providers.local.provider import LocalProvider

        return LocalProvider
    raise AttributeError(name)
