"""What a provider is built from: its schema's settings and credentials, typed, and shared parts.

Every provider module exposes one constructor taking a :class:`ProviderConfig` (its schema
names it: ``factory = "module:Class.from_config"``). The registry (``services.registry``)
fills the config from the settings: one value per setting and credential the provider's TOML
declares, converted to the declared type and clamped to its range, plus the parts several
providers share (the HTTP retry policy and timeouts, the hosting service of providers that
``needs_hosting``, the app's folders and persistent counters). So adding a setting to a
provider is one ``[[settings]]`` entry in its TOML and one ``config["key"]`` in its module,
and ``providers`` still never reads settings (it must not import ``services``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.core.schema import ProviderSchema

if TYPE_CHECKING:  # the HTTP stack is imported only by providers that talk to a server
    import httpx

    from retouchdesk.providers.hosting_api import Hosting
    from retouchdesk.providers.http import RetryPolicy


@dataclass(frozen=True)
class Network:
    """The ``network.*`` settings every cloud client shares."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    max_retry_after: float = 30.0
    read_timeout: float = 60.0

    def retry_policy(self) -> RetryPolicy:
        """The HTTP retry policy of a cloud client (connection errors, 429, retryable 5xx)."""
        from retouchdesk.providers.http import RetryPolicy

        return RetryPolicy(
            max_attempts=max(1, self.max_attempts),
            backoff_base=self.backoff_base,
            max_retry_after=self.max_retry_after,
        )

    def timeout(self) -> httpx.Timeout:
        """Explicit timeouts; uploads get at least two minutes to write."""
        import httpx

        read = max(1.0, self.read_timeout)
        return httpx.Timeout(connect=10.0, read=read, write=max(read, 120.0), pool=30.0)


@dataclass(frozen=True)
class ProviderConfig:
    """One provider's typed configuration, generated from its schema and the settings."""

    schema: ProviderSchema
    values: Mapping[str, Any]  # every declared setting and credential -> its typed value
    network: Network = field(default_factory=Network)
    hosting: Hosting | None = None  # only for providers whose schema says needs_hosting
    cache_dir: Path | None = None
    data_dir: Path | None = None
    # A persistent counter by name (the job store's), for ids that must never repeat.
    counter: Callable[..., int] | None = None

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"{self.schema.id}.{key} is not declared in its schema") from None

    @property
    def provider_id(self) -> str:
        return self.schema.id

    def require_hosting(self) -> Hosting:
        if self.hosting is None:
            raise ConfigurationError(f"{self.schema.name} needs the hosting service")
        return self.hosting
