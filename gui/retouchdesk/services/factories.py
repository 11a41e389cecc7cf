"""Factories that turn settings into configured providers (see ``services.registry``).

One function per provider; each reads its settings and secrets and hands the provider plain
values, so that ``providers`` never depends on ``services``.
"""

from __future__ import annotations

from retouchdesk.providers.base import Provider
from retouchdesk.services.registry import ProviderEnv

# Each provider's factory is added below by the issue that implements the provider:
#   def make_<id>(env: ProviderEnv) -> Provider: ...
__all__ = ["Provider", "ProviderEnv"]
