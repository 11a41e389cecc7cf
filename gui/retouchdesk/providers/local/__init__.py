"""The built-in offline engine ("local"): real retouching with no account and no network.

- :func:`run_operation` runs one operation synchronously in this process (emulators, tests).
- :class:`retouchdesk.providers.local.provider.LocalProvider` runs the same operations in
  worker processes for the app; the registry imports it from that module when the provider is
  built.

The names above are imported on first use: the app's process imports this package with the
provider, and the operations would bring numpy and OpenCV into it (a quarter of a second
before it could even start a worker) though only the workers run them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retouchdesk.providers.local.runner import OPERATIONS, run_array, run_operation

__all__ = ["OPERATIONS", "run_array", "run_operation"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from retouchdesk.providers.local import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
