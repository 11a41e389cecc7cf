"""Factories that turn settings into configured providers (see ``services.registry``).

One function per provider; each reads its settings and secrets and hands the provider plain
values, so that ``providers`` never depends on ``services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retouchdesk.providers.base import Provider
from retouchdesk.services.registry import ProviderEnv

if TYPE_CHECKING:  # imported lazily at run time: start-up does not load every client
    import httpx

    from retouchdesk.providers.hosting_api import Hosting
    from retouchdesk.providers.http import RetryPolicy

__all__ = ["Provider", "ProviderEnv"]


def make_local(env: ProviderEnv) -> Provider:
    """The offline engine: worker processes, Real-ESRGAN device and tile size from settings."""
    from retouchdesk.providers.local.provider import LocalProvider

    s = env.settings
    return LocalProvider(
        device=s.get("local", "device"),
        tile_size=s.get("local", "tile_size"),
        workers=s.get("local", "workers"),
        idle_timeout=s.get("local", "idle_timeout"),
    )


def retry_policy(env: ProviderEnv) -> RetryPolicy:
    """The HTTP retry policy of every cloud client, from the ``network.*`` settings."""
    from retouchdesk.providers.http import RetryPolicy

    s = env.settings
    return RetryPolicy(
        max_attempts=max(1, s.get("network", "max_attempts")),
        backoff_base=s.get("network", "backoff_base"),
        max_retry_after=s.get("network", "max_retry_after"),
    )


def http_timeout(env: ProviderEnv) -> httpx.Timeout:
    """Explicit timeouts of the cloud clients; the read timeout is ``network.read_timeout``."""
    import httpx

    read = max(1.0, env.settings.get("network", "read_timeout"))
    return httpx.Timeout(connect=10.0, read=read, write=max(read, 120.0), pool=30.0)


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


def make_enhancor(env: ProviderEnv) -> Provider:
    from retouchdesk.providers.enhancor import EnhancorProvider

    s = env.settings
    return EnhancorProvider(
        api_key=s.get("enhancor", "api_key"),
        base_url=s.get("enhancor", "base_url"),
        hosting=shared_hosting(env),
        poll_interval=s.get("enhancor", "poll_interval"),
        retry=retry_policy(env),
        timeout=http_timeout(env),
    )


def make_youcam(env: ProviderEnv) -> Provider:
    """YouCam over v1 (client id + secret) or v2 (API key), whichever the user entered.

    ``request_id`` must never repeat for an account, so it comes from the job store's
    persistent counter (``extras["next_counter"]``, put there by the runtime).
    """
    import time

    from retouchdesk.providers.youcam import Credentials, PollPolicy, YouCamProvider
    from retouchdesk.providers.youcam.files import FileCounter
    from retouchdesk.services import paths

    s = env.settings
    creds = Credentials(
        client_id=s.get("youcam", "client_id"),
        client_secret=s.get("youcam", "client_secret"),
        api_key=s.get("youcam", "api_key"),
    )
    counter = env.extras.get("next_counter")
    name = f"youcam.request_id.{creds.account}"
    # A new installation must not repeat the ids an earlier one used for the same account
    # (YouCam ignores a repeated id), so a new counter starts at the current Unix time.
    start = int(time.time())
    next_id = (
        (lambda: counter(name, start=start))
        if counter is not None
        else FileCounter(paths.data_dir() / f"{name}.counter", start=start)
    )
    gap = min(8.0, max(0.2, s.get("youcam", "max_poll_gap")))
    return YouCamProvider(
        base_url=s.get("youcam", "base_url"),
        credentials=creds,
        cache_dir=paths.cache_dir(),
        next_counter=next_id,
        poll_policy=PollPolicy(max_gap=gap, budget_per_minute=s.get("youcam", "poll_budget")),
        retry=retry_policy(env),
    )


def make_codeformer(env: ProviderEnv) -> Provider:
    from retouchdesk.providers.codeformer import CodeFormerProvider

    s = env.settings
    return CodeFormerProvider(
        base_url=s.get("codeformer", "base_url"),
        token=s.get("codeformer", "token"),
        upload=s.get("codeformer", "upload"),
        read_timeout=s.get("codeformer", "read_timeout"),
        retry=retry_policy(env),
    )


def make_adcreative(env: ProviderEnv) -> Provider:
    from retouchdesk.providers.adcreative import AdCreativeProvider

    s = env.settings
    return AdCreativeProvider(
        application_id=s.get("adcreative", "application_id"),
        jwt_private_key=s.get("adcreative", "jwt_private_key"),
        api_key=s.get("adcreative", "api_key"),
        api_secret=s.get("adcreative", "api_secret"),
        user_id=s.installation_id("adcreative", "user_id"),
        base_url=s.get("adcreative", "base_url"),
        poll_interval=s.get("adcreative", "poll_interval"),
        retry=retry_policy(env),
        timeout=http_timeout(env),
    )
