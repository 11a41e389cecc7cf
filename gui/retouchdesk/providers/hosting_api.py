"""What a URL-only provider (Enhancor) needs from file hosting, as a protocol.

Providers must not import ``services``; ``services.hosting`` implements this protocol (a local
HTTP receiver, or S3-compatible storage plus the receiver for webhooks) and the runtime hands
the object to the provider factory through ``ProviderEnv.extras["hosting"]``.

The life of a job's hosting: ``publish`` the input (and mask) -> send the URLs and
``webhook_url`` to the vendor -> read ``webhook_result`` while polling -> ``release`` when the
job ends (files stop being served, uploaded objects are deleted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Hosting(Protocol):
    """File hosting and webhook reception for one application instance."""

    @property
    def description(self) -> str:
        """A short name for messages ("local receiver", "S3 storage")."""
        ...

    @property
    def public(self) -> bool:
        """True when a vendor on the internet can fetch the URLs (S3, or a receiver behind a
        public tunnel); False for a bare loopback receiver, enough only for local emulators."""
        ...

    async def publish(self, job_id: str, path: Path, *, role: str = "input") -> str:
        """Make ``path`` reachable and return its URL (unguessable, valid while the job is
        active). ``role`` tells files of one job apart ("input", "mask"); publishing the same
        role again replaces the earlier file."""
        ...

    async def webhook_url(self, job_id: str, *, token: str | None = None) -> str:
        """The URL the vendor should POST the job's completion to; ``token`` reopens the
        route a previous run gave the job (its last path segment)."""
        ...

    def webhook_result(self, job_id: str) -> dict[str, Any] | None:
        """The JSON body of the last webhook received for the job, or None."""
        ...

    async def release(self, job_id: str) -> None:
        """Stop serving the job's files, delete uploads and forget its webhook. Idempotent."""
        ...

    async def aclose(self) -> None:
        """Stop servers and release everything."""
        ...
