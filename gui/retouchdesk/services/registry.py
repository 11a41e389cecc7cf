"""Builds provider objects from settings.

Providers take a typed configuration generated from their schema (``providers.config``) and
never read settings themselves (``providers`` must not import ``services``). Each provider's
schema names its constructor (``factory = "module:Class.from_config"`` in its TOML), imported
lazily, so starting the app does not import every client and adding a provider needs no table
here. Tests may replace a provider's whole construction with :func:`register`.
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

# provider id -> a factory that replaces the constructor its schema names (tests, plugins).
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
    override = _OVERRIDES.get(provider_id)
    if override is not None and not isinstance(override, str):
        return override(env)
    schema = env.catalog.providers.get(provider_id)
    target = override or (schema.factory if schema is not None else "")
    if not target:
        known = ", ".join(known_providers(env.catalog))
        raise ConfigurationError(f"Unknown provider '{provider_id}'; known: {known}")
    constructor = _resolve(target, provider_id)
    if override is not None:  # a registered "module:function" takes the registry's env
        return constructor(env)
    assert schema is not None
    from retouchdesk.services.provider_config import provider_config

    return constructor(provider_config(env, schema))


def _resolve(target: str, provider_id: str) -> Callable[[Any], Provider]:
    """``module:attr.attr`` -> the object (a function or a class's ``from_config``)."""
    module, _, path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in path.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise ConfigurationError(f"The {provider_id} provider is not available") from None
    return obj
