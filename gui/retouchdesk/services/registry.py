"""Builds provider objects from settings.

Providers take plain configuration (URLs, keys, a hosting object) and never read settings
themselves (``providers`` must not import ``services``). Each provider's schema names its
factory (``factory = "module:function"`` in its TOML), imported lazily, so starting the app
does not import every client and adding a provider needs no table here. Tests may replace a
factory with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.core.schema import Catalog
from retouchdesk.providers.base import Provider
from retouchdesk.services.settings import Settings


@dataclass
class ProviderEnv:
    """What a factory may use to build its provider."""

    settings: Settings
    catalog: Catalog
    extras: dict[str, Any] = field(default_factory=dict)  # shared services (hosting, ...)


Factory = Callable[[ProviderEnv], Provider]

# provider id -> a factory that replaces the one its schema names (tests, plugins).
_OVERRIDES: dict[str, str | Factory] = {}


def register(provider_id: str, factory: str | Factory) -> None:
    """Use ``factory`` (a function or "module:function") for this provider id."""
    _OVERRIDES[provider_id] = factory


def unregister(provider_id: str) -> None:
    _OVERRIDES.pop(provider_id, None)


def known_providers(catalog: Catalog) -> list[str]:
    """Ids of the providers that can be built: a factory in the schema or registered."""
    named = [p.id for p in catalog.providers.values() if p.factory]
    return named + [pid for pid in _OVERRIDES if pid not in named]


def build_provider(provider_id: str, env: ProviderEnv) -> Provider:
    """Create the provider; raises ConfigurationError with a plain sentence when it cannot."""
    factory = _OVERRIDES.get(provider_id)
    if factory is None:
        schema = env.catalog.providers.get(provider_id)
        factory = schema.factory if schema is not None else None
    if not factory:
        known = ", ".join(known_providers(env.catalog))
        raise ConfigurationError(f"Unknown provider '{provider_id}'; known: {known}")
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise ConfigurationError(f"The {provider_id} provider is not available") from None
    return factory(env)
