"""Generates a provider's :class:`~retouchdesk.providers.config.ProviderConfig` from settings.

The provider's schema says what it takes: its credentials and ``[[settings]]`` (read here with
their declared types, clamped to their declared ranges, a ``generated`` one made once per
installation) and whether it needs the hosting service. No code here names a provider: a new
one declares its settings in its TOML and reads them from the config in its module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.core.schema import ProviderSchema
from retouchdesk.providers.config import Network, ProviderConfig
from retouchdesk.services import paths

if TYPE_CHECKING:
    from retouchdesk.providers.hosting_api import Hosting
    from retouchdesk.services.registry import ProviderEnv


def provider_config(env: ProviderEnv, schema: ProviderSchema) -> ProviderConfig:
    """The typed configuration ``schema``'s constructor is called with."""
    s = env.settings
    values: dict[str, object] = {c.key: s.get(schema.id, c.key) for c in schema.credentials}
    for d in schema.settings:
        if d.generated and not s.get(schema.id, d.key):
            value = s.installation_id(schema.id, d.key)  # "uuid": kept in the settings file
        else:
            value = d.clamp(s.get(schema.id, d.key))
        if d.values and value not in d.values:
            allowed = " or ".join(map(str, d.values))
            raise ConfigurationError(
                f"Setting {schema.id}.{d.key} must be {allowed} (got {value!r})"
            )
        values[d.key] = value
    return ProviderConfig(
        schema=schema,
        values=values,
        network=Network(
            max_attempts=s.get("network", "max_attempts"),
            backoff_base=s.get("network", "backoff_base"),
            max_retry_after=s.get("network", "max_retry_after"),
            read_timeout=s.get("network", "read_timeout"),
        ),
        hosting=shared_hosting(env) if schema.needs_hosting else None,
        cache_dir=paths.cache_dir(),
        data_dir=paths.data_dir(),
        counter=env.extras.get("next_counter"),
    )


def shared_hosting(env: ProviderEnv) -> Hosting:
    """The hosting service of ``env.extras`` (put there by the runtime), built on first use."""
    from retouchdesk.services.hosting import build_hosting, hosting_config

    wanted = hosting_config(env.settings)
    current = env.extras.get("hosting")
    if current is None or getattr(current, "config", wanted) != wanted:
        # New or changed settings: new providers get a new service. Jobs still running keep
        # the old one (their provider holds it) until they release their files; it is not
        # closed here because a settings check (model.accounts) builds from copied extras.
        current = env.extras["hosting"] = build_hosting(env.settings)
    return current
