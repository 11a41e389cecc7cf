"""Builds provider objects from settings: the one place that knows every provider.

Providers take plain configuration (URLs, keys, a hosting object) and never read settings
themselves (``providers`` must not import ``services``). Each provider's factory is named here
by a dotted path and imported lazily, so starting the app does not import every client.
Tests add doubles with :func:`register`.
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

# provider id -> "module:function"; each function takes a ProviderEnv and returns a Provider.
_FACTORIES: dict[str, str | Factory] = {
    "local": "retouchdesk.services.factories:make_local",
    "enhancor": "retouchdesk.services.factories:make_enhancor",
    "codeformer": "retouchdesk.services.factories:make_codeformer",
    "adcreative": "retouchdesk.services.factories:make_adcreative",
    "youcam": "retouchdesk.services.factories:make_youcam",
}


def register(provider_id: str, factory: str | Factory) -> None:
    """Add or replace a provider factory (plugins, tests)."""
    _FACTORIES[provider_id] = factory


def unregister(provider_id: str) -> None:
    _FACTORIES.pop(provider_id, None)


def known_providers() -> list[str]:
    return list(_FACTORIES)


def build_provider(provider_id: str, env: ProviderEnv) -> Provider:
    """Create the provider; raises ConfigurationError with a plain sentence when it cannot."""
    try:
        factory = _FACTORIES[provider_id]
    except KeyError:
        raise ConfigurationError(
            f"Unknown provider '{provider_id}'; known: {', '.join(_FACTORIES)}"
        ) from None
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise ConfigurationError(f"The {provider_id} provider is not available") from None
    return factory(env)
