"""The built-in offline engine ("local"): real retouching with no account and no network.

- :func:`run_operation` runs one operation synchronously in this process (emulators, tests).
- :class:`retouchdesk.providers.local.provider.LocalProvider` runs the same operations in
  worker processes for the app; the registry imports it from that module when the provider is
  built, so importing this package loads no worker machinery.
"""

from __future__ import annotations

from retouchdesk.providers.local.runner import OPERATIONS, run_array, run_operation

__all__ = ["OPERATIONS", "run_array", "run_operation"]
