"""Keeping YouCam tasks alive: a private I/O thread and one keep-alive poller per task.

YouCam drops a task that is not polled for 10 seconds (and takes no credits for it). The app's
event loop can be busy for longer than that (a large image decoded on the GUI thread, a slow
disk), so every YouCam request runs on a private asyncio loop in a daemon thread
(:class:`IoLoop`), and each running task gets a poller there (:class:`TaskWatch`) that follows
the server's ``polling_interval`` but never waits longer than ``max_gap`` seconds. The engine's
own ``poll()`` only reads the poller's latest state, and ``YouCamProvider.watch`` (the engine's
way of following a job, ``Provider.watch``) is woken by the poller after every poll
(:meth:`TaskWatch.notify`) instead of polling it. Results are downloaded by the poller the
moment the task succeeds (their URLs expire after two hours).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from retouchdesk.core.errors import ProviderError, RateLimited, RemoteJobLost

if TYPE_CHECKING:
    from retouchdesk.providers.base import Output

log = logging.getLogger("retouchdesk.youcam")
T = TypeVar("T")

RUNNING, SUCCESS, ERROR, LOST = "running", "success", "error", "lost"
#: Polling or downloading failed in a way that does not end the task (a 401, a refused result
#: link): the provider hands ``TaskWatch.fault`` to the engine, which polls again later.
FAULT = "fault"
_RUNNING_WORDS = {"running", "processing", "pending", "queued", "queuing", "in_progress"}


class IoLoop:
    """An asyncio loop in a daemon thread; ``run`` awaits a coroutine on it from any loop."""

    def __init__(self, name: str = "youcam-io") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the I/O loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(self.submit(coro))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Blocking variant for code outside any event loop."""
        return self.submit(coro).result(timeout)

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        if not self.loop.is_running():
            return
        if final is not None:
            with contextlib.suppress(Exception):
                self.submit(final).result(10)

        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.submit(_cancel_all()).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


@dataclass
class PollPolicy:
    """How often running tasks are polled.

    ``max_gap`` must stay well below the server's 10-second drop; ``budget_per_minute`` keeps
    all pollers of one token together under the rate limit (100 requests per minute per
    token, leaving room for uploads and submissions). Keeping a task alive wins over the
    budget: with more tasks than the budget can poll every ``max_gap``, polls come closer.
    """

    max_gap: float = 3.0
    min_interval: float = 0.25
    budget_per_minute: float = 80.0
    retry_wait: float = 0.5  # after a network error, before trying again

    def interval(self, server_ms: Any) -> float:
        """The wait the server asks for (``polling_interval``), within our bounds."""
        try:
            server = max(0.0, float(server_ms) / 1000.0)
        except (TypeError, ValueError):
            server = 1.0
        return min(self.max_gap, max(server, self.min_interval))


class Pacer:
    """Spreads the polls of every running task of one account over time.

    All pollers run on the one I/O loop, so no lock is needed. Each poll takes the next free
    slot (``60 / budget_per_minute`` apart) unless that is later than its keep-alive deadline.
    """

    def __init__(self, policy: PollPolicy) -> None:
        self.policy = policy
        self.spacing = 60.0 / max(1.0, policy.budget_per_minute)
        self._next = 0.0

    def reserve(self, earliest: float, latest: float) -> float:
        """The monotonic time of this poll: not before ``earliest``, never after ``latest``."""
        when = min(max(earliest, self._next), latest)
        self._next = max(self._next, when) + self.spacing
        return when


@dataclass
class TaskWatch:
    """The live state of one remote task, updated by its poller on the I/O loop."""

    slug: str
    task_id: str
    status: str = RUNNING
    data: dict[str, Any] = field(default_factory=dict)  # the last status answer
    error: str | None = None  # a plain sentence (network or lost)
    error_code: str | None = None  # the engine error code when status is "error"
    message: str = ""
    interval: float = 1.0
    polls: int = 0
    last_poll: float = field(default_factory=time.monotonic)
    max_gap_seen: float = 0.0
    outputs: list[Output] = field(default_factory=list)  # set by ``collect`` on success
    fault: ProviderError | None = None  # when status is FAULT
    task: asyncio.Task[None] | None = None
    future: concurrent.futures.Future[None] | None = None  # the poller, seen from outside
    done: threading.Event = field(default_factory=threading.Event)
    # Called (on the I/O loop) after every poll and when the poller ends: how the engine's
    # Provider.watch learns of a change without polling the poller.
    listeners: set[Callable[[], None]] = field(default_factory=set)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # a listener whose loop has closed: it is not listening any more
                self.listeners.discard(listener)


def task_state(data: dict[str, Any]) -> str:
    status = str(data.get("status") or data.get("task_status") or "").lower()
    if status in ("success", "succeeded", "completed", "done"):
        return SUCCESS
    if status in ("error", "failed", "failure"):
        return ERROR
    if status in _RUNNING_WORDS or not status:
        return RUNNING
    return RUNNING


async def watch(
    w: TaskWatch,
    status: Callable[[str, str], Awaitable[dict[str, Any]]],
    collect: Callable[[dict[str, Any]], Awaitable[list[Output]]],
    policy: PollPolicy,
    pacer: Pacer,
) -> None:
    """Poll ``w`` until it ends; on success ``collect`` downloads the results at once.

    Every poll, the first included, takes its slot from ``pacer``; none comes later than
    ``max_gap`` after the previous one (or after the task was created).
    """
    start = time.monotonic()
    due = pacer.reserve(start + policy.min_interval, start + policy.max_gap)
    try:
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                data = await status(w.slug, w.task_id)
            except RateLimited as exc:
                # Waiting the full Retry-After could cost the task: try again before max_gap.
                wait = min(exc.retry_after or 1.0, policy.max_gap / 2)
                w.message = f"rate limited, retrying in {max(1, round(wait))} s"
                due = time.monotonic() + wait
                continue
            except RemoteJobLost as exc:
                w.status, w.error = LOST, str(exc)
                return
            except ProviderError as exc:
                if not exc.retryable and exc.code != "ambiguous":
                    w.status, w.error, w.fault = FAULT, str(exc), exc
                    return
                w.message = "connection problem, polling again"
                log.info("youcam poll of %s failed: %s", w.task_id[:8], exc)
                due = time.monotonic() + policy.retry_wait
                continue
            now = time.monotonic()
            w.max_gap_seen = max(w.max_gap_seen, now - w.last_poll)
            w.last_poll, w.polls, w.data = now, w.polls + 1, data
            w.notify()
            state = task_state(data)
            if state == SUCCESS:
                w.message = "downloading the result"
                try:
                    w.outputs = await collect(data)
                except ProviderError as exc:
                    # The task succeeded; only its result link failed: ask the status again
                    # (fresh links) in the next poll rather than give the paid result up.
                    w.status, w.error, w.fault = FAULT, str(exc), exc
                    return
                w.status, w.message = SUCCESS, ""
                return
            if state == ERROR:
                w.status = ERROR
                w.error_code = str(data.get("error") or data.get("error_code") or "") or None
                w.error = str(data.get("error_message") or "") or None
                return
            w.message = ""
            due = pacer.reserve(
                now + policy.interval(data.get("polling_interval")), now + policy.max_gap
            )
            w.interval = due - now
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must not leave the task "running" forever
        log.exception("youcam poller crashed")
        w.status, w.error = ERROR, f"YouCam polling failed unexpectedly: {exc}"
    finally:
        w.done.set()
        w.notify()
