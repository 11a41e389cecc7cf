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


def retry_policy(env: ProviderEnv):  # -> providers.http.RetryPolicy
    """The HTTP retry policy of every cloud client, from the ``network.*`` settings."""
    from retouchdesk.providers.http import RetryPolicy

    s = env.settings
    return RetryPolicy(
        max_attempts=max(1, s.get("network", "max_attempts")),
        backoff_base=s.get("network", "backoff_base"),
        max_retry_after=s.get("network", "max_retry_after"),
    )


def shared_hosting(env: ProviderEnv):  # -> providers.hosting_api.Hosting
    """The hosting service of ``env.extras`` (put there by the runtime), built on first use."""
    if "hosting" not in env.extras:
        from retouchdesk.services.hosting import build_hosting

        env.extras["hosting"] = build_hosting(env.settings)
    return env.extras["hosting"]


def make_enhancor(env: ProviderEnv) -> Provider:
    from retouchdesk.providers.enhancor import EnhancorProvider

    s = env.settings
    return EnhancorProvider(
        api_key=s.get("enhancor", "api_key"),
        base_url=s.get("enhancor", "base_url"),
        hosting=shared_hosting(env),
        poll_interval=s.get("enhancor", "poll_interval"),
        retry=retry_policy(env),
    )
