"""The one way the window starts background work on the asyncio (qasync) loop.

A bare ``asyncio.create_task`` can be garbage-collected while it runs and swallows its
exception until the task is collected. :class:`TaskRunner` keeps a strong reference to every
task until it ends, reports every exception (to the log and to an error callback that the
window turns into a status-bar sentence), and supports "preemptive" named tasks where a new
request cancels the previous one of the same name (thumbnails of a photo that scrolled away,
the image being opened when the user clicks another one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


BACKGROUND_NICE = 5  # worker threads yield the CPU to the GUI thread on a busy machine


def lower_thread_priority() -> None:
    """Thread initializer: make this worker thread nicer than the GUI thread (Linux).

    On a loaded machine the GUI thread competes for the CPU with the app's own decoding and
    writing threads; Linux schedules threads individually, so a positive nice value on the
    workers keeps the window's event loop prompt. Elsewhere this is a no-op.
    """
    import os
    import threading

    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


def install_default_executor(loop: asyncio.AbstractEventLoop) -> ThreadPoolExecutor:
    """Give the loop (qasync's) a default thread pool of low-priority threads.

    ``asyncio.to_thread`` in the engine and the providers uses it; qasync's own default
    starts ten QThreads at once on first use, a visible hitch in the middle of a batch.
    """
    import os

    pool = getattr(loop, "_retouchdesk_pool", None)
    if pool is not None:
        return pool
    pool = ThreadPoolExecutor(
        max_workers=min(16, (os.cpu_count() or 2) + 4),
        thread_name_prefix="retouchdesk-io",
        initializer=lower_thread_priority,
    )
    loop.set_default_executor(pool)
    loop._retouchdesk_pool = pool  # type: ignore[attr-defined]
    prestart(pool, pool._max_workers)
    return pool


def prestart(pool: ThreadPoolExecutor, n: int) -> None:
    """Start all ``n`` threads of ``pool`` now, from a helper thread.

    ``ThreadPoolExecutor.submit`` starts a thread when none is idle and waits until it runs;
    on a loaded machine that wait reached 90 ms on the GUI thread in the middle of a batch.
    """
    import threading

    barrier = threading.Barrier(n + 1)

    def hold() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)

    def fill() -> None:
        for _ in range(n):
            pool.submit(hold)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)

    threading.Thread(target=fill, name="retouchdesk-prestart", daemon=True).start()


class TaskRunner:
    """Owns the window's background tasks."""

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._named: dict[str, asyncio.Task[Any]] = {}
        self._on_error = on_error
        # Image decoding and thumbnails: two threads, the machine's photo work must not
        # starve the GUI thread (Pillow releases the GIL while decoding).
        self._pool = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="retouchdesk-img", initializer=lower_thread_priority
        )
        prestart(self._pool, 2)

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking ``fn`` in the image worker pool and await its result."""
        loop = asyncio.get_event_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def set_error_handler(self, on_error: Callable[[str, BaseException], None]) -> None:
        self._on_error = on_error

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str = "", preempt: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``coro`` on the loop; with ``preempt`` cancel the running task of that name."""
        if preempt and name:
            old = self._named.get(name)
            if old is not None and not old.done():
                old.cancel()
        task = asyncio.get_event_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        if name:
            self._named[name] = task
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        name = task.get_name()
        if self._named.get(name) is task:
            del self._named[name]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        log.error("background task %s failed", name, exc_info=exc)
        if self._on_error is not None:
            try:
                self._on_error(name, exc)
            except Exception:  # the reporter must never take the loop down
                log.exception("error handler failed")

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task and wait for them to end (window closing)."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self) -> None:
        """Stop the worker pool without waiting for queued thumbnails."""
        self._pool.shutdown(wait=False, cancel_futures=True)
