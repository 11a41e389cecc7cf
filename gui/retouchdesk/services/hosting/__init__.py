"""Making local files reachable by URL for vendors that only take URLs (Enhancor).

Two strategies, picked by the ``hosting.strategy`` setting:

* ``local``: :class:`~.receiver.LocalReceiver` serves the files itself under per-job tokens;
* ``s3``: :class:`~.s3.S3Storage` uploads them and hands out presigned URLs.

Webhooks always go to the local receiver (S3 cannot receive them); the provider polls the
vendor's status as well, so a webhook that never arrives (no public URL) strands nothing.
:func:`build_hosting` turns settings into a :class:`HostingService` implementing
``providers.hosting_api.Hosting``; the runtime puts it in ``ProviderEnv.extras["hosting"]``.
Nothing listens and nothing connects until a job actually publishes a file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services import paths
from retouchdesk.services.hosting.journal import HookJournal
from retouchdesk.services.hosting.receiver import LocalReceiver
from retouchdesk.services.hosting.s3 import S3Storage
from retouchdesk.services.settings import Settings

log = logging.getLogger("retouchdesk.hosting")

__all__ = [
    "STRATEGIES",
    "HostingService",
    "LocalReceiver",
    "S3Storage",
    "Strategy",
    "build_hosting",
    "hosting_config",
]


@dataclass(frozen=True)
class Strategy:
    """One value of ``hosting.strategy``: what it is called and which settings configure it."""

    key: str
    title: str
    sections: tuple[str, ...]  # settings sections read when this strategy is chosen


#: Every strategy, in the order a user is offered them (the first is the default).
STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in (
        Strategy("local", "Built-in receiver with a public URL", ("receiver",)),
        Strategy("s3", "S3-compatible storage (AWS S3, Cloudflare R2, MinIO, Backblaze)", ("s3",)),
    )
}


class FileStore(Protocol):
    description: str

    async def publish(self, job_id: str, path: Path, *, role: str = "input") -> str: ...
    async def release(self, job_id: str) -> None: ...
    async def aclose(self) -> None: ...


class HostingService:
    """Files through ``files`` (the receiver itself, or S3) and webhooks through ``receiver``."""

    def __init__(self, receiver: LocalReceiver, files: FileStore | None = None) -> None:
        self.receiver = receiver
        self.files: FileStore = files if files is not None else receiver
        self.description = self.files.description
        self.config: tuple[object, ...] = ()  # the settings it was built from (build_hosting)
        self._cleanups: set[asyncio.Task[None]] = set()

    @property
    def strategy(self) -> str:
        return "local" if self.files is self.receiver else "s3"

    @property
    def public(self) -> bool:
        """Whether vendors on the internet can fetch the files (S3, or a receiver tunnel)."""
        return self.files is not self.receiver or self.receiver.public

    async def publish(self, job_id: str, path: Path, *, role: str = "input") -> str:
        return await self.files.publish(job_id, path, role=role)

    async def webhook_url(self, job_id: str, *, token: str | None = None) -> str:
        return await self.receiver.webhook_url(job_id, token=token)

    def webhook_result(self, job_id: str) -> dict[str, Any] | None:
        return self.receiver.webhook_result(job_id)

    async def release(self, job_id: str) -> None:
        if self.files is not self.receiver:
            await self.files.release(job_id)
        await self.receiver.release(job_id)

    def job_finished(self, job_id: str) -> None:
        """A job ended (done, failed or cancelled): its photo stops being served at once.

        Called from the event loop for every finished job, whichever way it ended (a provider
        releases on the paths it knows; a job failed by the engine, or cancelled before the
        vendor knew it, would otherwise stay reachable until the app quits). Remote copies
        (S3) are deleted in the background.
        """
        self.receiver.forget(job_id)
        if self.files is not self.receiver:
            try:
                task = asyncio.get_running_loop().create_task(self._release_files(job_id))
            except RuntimeError:  # no loop (a synchronous caller): presigned URLs expire anyway
                return
            self._cleanups.add(task)
            task.add_done_callback(self._cleanups.discard)

    async def _release_files(self, job_id: str) -> None:
        try:
            await self.files.release(job_id)
        except Exception as exc:  # cleaning up must never fail anything
            log.warning("could not delete the hosted copies: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        if self.files is not self.receiver:
            await self.files.aclose()
        await self.receiver.aclose()


HOSTING_SETTINGS = (
    ("hosting", "strategy"),
    ("receiver", "host"),
    ("receiver", "port"),
    ("receiver", "public_url"),
    ("s3", "endpoint_url"),
    ("s3", "bucket"),
    ("s3", "region"),
    ("s3", "access_key_id"),
    ("s3", "secret_access_key"),
    ("s3", "url_expiry"),
)


def hosting_config(settings: Settings) -> tuple[object, ...]:
    """The settings a hosting service is built from, to notice when they change.

    The S3 settings count only when S3 is the strategy: its keys are secrets, and reading
    one that is not in the environment opens the secret store (detecting the OS keyring
    costs over half a second), which the local receiver never needs.
    """
    strategy = str(settings.get("hosting", "strategy") or "local").strip().lower()
    return tuple(
        settings.get(section, key)
        for section, key in HOSTING_SETTINGS
        if section != "s3" or strategy != "local"
    )


def build_hosting(settings: Settings) -> HostingService:
    """The hosting service described by settings (no socket is opened yet)."""
    config = hosting_config(settings)
    service = _build(settings)
    service.config = config
    return service


def _build(settings: Settings) -> HostingService:
    strategy = str(settings.get("hosting", "strategy") or "local").strip().lower()
    if strategy not in STRATEGIES:
        raise ConfigurationError(
            f"Setting hosting.strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})"
        )
    receiver = LocalReceiver(
        settings.get("receiver", "host"),
        settings.get("receiver", "port"),
        public_url=settings.get("receiver", "public_url"),
        journal=HookJournal(paths.data_dir() / "webhooks"),
    )
    if strategy == "local":
        return HostingService(receiver)
    storage = S3Storage(
        bucket=settings.get("s3", "bucket"),
        endpoint_url=settings.get("s3", "endpoint_url"),
        region=settings.get("s3", "region"),
        access_key_id=settings.get("s3", "access_key_id"),
        secret_access_key=settings.get("s3", "secret_access_key"),
        url_expiry=settings.get("s3", "url_expiry"),
    )
    return HostingService(receiver, storage)
