"""Webhooks the local receiver acknowledged, kept on disk until their job ends.

A vendor that got ``200`` for a webhook never sends it again. The receiver used to keep the
body in memory only, so a run killed between that ``200`` and the engine recording the job's
request id lost the one message that names a job whose submission answer was lost: the job
stayed *unconfirmed* although the vendor had it, and the Resend the user was offered would
have paid for it twice. Each webhook is now written (temporary file, fsync, rename) before
the receiver answers; a later run that opens the job's route again finds it here.

One small JSON file per job, named by the engine's job id, in the app's data folder. A file
goes when its job ends (done, failed or cancelled) and the receiver forgets the job; one left
by a run killed between those two steps goes at the first webhook kept after ``KEEP_DAYS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("retouchdesk.receiver")

_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
KEEP_DAYS = 30  # far beyond any vendor's webhook retries or job lifetime


class HookJournal:
    """Webhook bodies by job id in ``folder`` (made on the first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._swept = False

    def path(self, job_id: str) -> Path:
        # The engine's ids are hex; anything else is hashed rather than trusted as a name.
        plain = _PLAIN_ID.fullmatch(job_id)
        name = job_id if plain else hashlib.sha256(job_id.encode()).hexdigest()
        return self.folder / f"{name}.json"

    def save(self, job_id: str, body: dict[str, Any]) -> None:
        """Write ``body`` durably (raises OSError when it cannot: the caller must not ack)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        dest = self.path(job_id)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked (a signal, a full disk)
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        # The rename itself must survive a power cut too: flush the folder's entry.
        with contextlib.suppress(OSError):
            dfd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        if not self._swept:
            self._swept = True
            self.sweep()

    def sweep(self, days: float = KEEP_DAYS) -> None:
        """Remove kept webhooks (and torn temporary files) older than ``days``."""
        limit = time.time() - days * 86400
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < limit:
                        os.unlink(entry.path)

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The kept webhook of ``job_id``; None when there is none or it cannot be read."""
        try:
            body = json.loads(self.path(job_id).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("a kept webhook could not be read: %s", type(exc).__name__)
            return None
        return body if isinstance(body, dict) else None

    def drop(self, job_id: str) -> None:
        """Forget the job's webhook (its job ended)."""
        with contextlib.suppress(OSError):
            self.path(job_id).unlink()
