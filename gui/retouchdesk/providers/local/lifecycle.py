"""Life and death of the offline engine's worker processes: nothing outlives the app.

A worker is a ``spawn``-started process. When the app is killed (``kill -9``, a crash, the OOM
killer), nothing runs in it to stop its workers, and a worker inside a long native Real-ESRGAN
call would go on for minutes at full CPU as an orphan. Three layers stop that:

* **Linux: parent-death signal.** The worker asks the kernel (``prctl(PR_SET_PDEATHSIG,
  SIGKILL)``) to kill it when its parent goes away. The kernel ties this to the parent *thread*
  that created the process, so the parent starts each worker from a keeper thread that lives
  exactly as long as that worker (:func:`start_kept`).
* **Everywhere: a watchdog thread** in the worker waits on ``multiprocessing.parent_process()``'s
  sentinel (a pipe end on POSIX, a process handle on Windows) and exits the worker when the
  parent is gone. It needs the GIL, so it may wait for the current native call to return; the
  Linux signal does not.
* **The pipe:** an idle worker blocks in ``recv`` and leaves on EOF.

Ctrl-C in a terminal reaches the whole foreground process group; the worker ignores SIGINT so
that the CLI alone decides (it cancels the jobs, which stops the worker's compute).

Memory: :func:`trim_memory` hands freed heap pages back to the system after each job (glibc),
and the parent stops a worker that has been idle for a while (``Worker.idle_timeout``), which is
the only way to release what the native library keeps in its own pools.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import threading
from typing import Any

log = logging.getLogger("retouchdesk.local")

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> str:
    """Arrange (in the worker) to end when the parent process ends; returns how ("pdeathsig",
    "watchdog").

    Called first thing in the worker. If the parent already died between the fork and this
    call, the worker leaves at once (the signal would never come).
    """
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "pdeathsig"
        except (OSError, AttributeError):  # no libc symbol (musl static builds): watchdog only
            pass
    if sys.platform != "win32" and os.getppid() != parent_pid and not _alive(parent_pid):
        os._exit(0)  # reparented already: the parent is gone
    _start_watchdog()
    return how


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a frozen app may put a launcher between parent and us)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _start_watchdog() -> None:
    parent = mp.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is None:
        return

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            multiprocessing.connection.wait([sentinel])
        os._exit(0)  # the parent is gone: nobody wants the result

    threading.Thread(target=watch, name="retouchdesk-parent-watchdog", daemon=True).start()


def ignore_interrupts() -> None:
    """Terminal Ctrl-C goes to the whole process group; only the parent acts on it."""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def trim_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # musl has no malloc_trim
        pass


def rss_bytes(pid: int | None = None) -> int | None:
    """Resident memory of a process (Linux ``/proc``; None elsewhere), for tests and logs."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def start_kept(proc: Any, starter: Any = contextlib.nullcontext) -> None:
    """Start ``proc`` from a keeper thread that lives until the process ends.

    Linux delivers the parent-death signal when the thread that created the child exits, not
    the process. Starting the worker from a short-lived thread (the event loop's thread pool
    retires idle threads) would kill a healthy worker; the keeper thread only waits on the
    process's sentinel, so the signal comes exactly when the whole app is gone.
    ``starter`` is a context manager entered around ``proc.start()`` in the keeper thread.
    Raises whatever ``proc.start()`` raised.
    """
    started = threading.Event()
    failure: list[BaseException] = []

    def keep() -> None:
        try:
            with starter():
                proc.start()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            return
        started.set()
        with contextlib.suppress(OSError, ValueError):
            multiprocessing.connection.wait([proc.sentinel])
            proc.join()  # reap it: a killed worker is not left as a zombie

    threading.Thread(target=keep, name="retouchdesk-worker-keeper", daemon=True).start()
    started.wait()
    if failure:
        raise failure[0]
