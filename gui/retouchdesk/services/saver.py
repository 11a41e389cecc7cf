"""How job rows reach SQLite: at once when resume depends on them, else coalesced a moment later.

Progress, messages and the intermediate states that resume treats like their neighbours
(``preparing``, ``uploading``, ``running``, ``downloading``) may be lost in a crash without
harm, so they are written lazily: within ``delay`` seconds, many jobs in one transaction.
Everything resume depends on is written before the engine goes on (``durable``).

A full disk must not take the engine down: the first failure is kept (:attr:`RowSaver.error`)
and logged once, as a sentence; a failed durable write raises it for the engine to decide.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from retouchdesk.core.jobs import JobRecord
from retouchdesk.services.store import JobStore, StoreError

log = logging.getLogger(__name__)


class RowSaver:
    """Writes job records to ``store``; ``known`` says whether a job is still held (a removed
    job is never written again) and ``delay`` how late lazy saves may come."""

    def __init__(
        self, store: JobStore, *, known: Callable[[str], bool], delay: Callable[[], float]
    ) -> None:
        self.store = store
        self._known = known
        self._delay = delay
        self._dirty: dict[str, JobRecord] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        # The first failure to write the job database (a full disk): jobs end in memory with
        # its sentence and resume from their last durable state at the next run.
        self.error: StoreError | None = None

    def save(self, rec: JobRecord, *, durable: bool = True) -> None:
        """Persist ``rec``: now, or (``durable=False``) within the delay; needs a running loop
        for lazy saves. A failed durable write raises :class:`StoreError`."""
        if not self._known(rec.id):
            return
        if durable:
            self._dirty.pop(rec.id, None)
            self.store.save(rec)
            return
        self._dirty[rec.id] = rec
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._delay(), self.flush)

    def flush(self) -> None:
        """Write the lazy saves now (one transaction)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_handle = None
        dirty = [r for r in self._dirty.values() if self._known(r.id)]
        self._dirty.clear()
        if dirty:
            try:
                self.store.save_many(dirty)
            except StoreError as exc:  # lazy saves only: progress a crash may lose anyway
                self.failed(exc)

    def failed(self, exc: StoreError) -> StoreError:
        """Remember the first database failure and log it once, as a sentence."""
        if self.error is None:
            self.error = exc
            log.error("%s", exc)
        return exc
