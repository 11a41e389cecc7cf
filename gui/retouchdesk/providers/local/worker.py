"""Worker processes of the offline engine.

Heavy numpy/OpenCV/ncnn work runs in separate processes so that the app's event loop never
waits on it and a crash (out of memory, a native library fault) takes down a worker, not the
app. Each :class:`Worker` is one long-lived process (``spawn``, safe with Qt and threads) that
keeps its Real-ESRGAN model loaded between jobs. Messages on its pipe:

parent -> child: ``("run", job_no, op_id, image_path, params, out_path, device, tile_size)`` or
``None`` to stop. The settings travel with each job, so a process can start before anyone
knows them (:func:`prestart`).
child -> parent: ``("progress", job_no, fraction, message)``, ``("done", job_no, summary)``,
``("error", job_no, class_name, message, extras)`` or ``("cancelled", job_no)``.

Cancellation goes through a shared integer rather than the pipe, so the worker can see it
between tiles without reading messages: the parent writes the number of the job to cancel. A
worker that does not answer within ``cancel_grace`` (it is inside one long native Real-ESRGAN
call, which cannot be interrupted) is killed; the next job starts a fresh one.

Lifecycle (see :mod:`.lifecycle`): a worker dies with the app (parent-death signal on Linux, a
watchdog thread everywhere), ignores terminal Ctrl-C, trims its heap after each job, and is
stopped after ``idle_timeout`` seconds without work so its memory (gigabytes after an AI
upscale) goes back to the system.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from retouchdesk.core import errors
from retouchdesk.providers.local import budget, lifecycle

log = logging.getLogger("retouchdesk.local")

_PROGRESS_INTERVAL = 0.1  # seconds between progress messages (the last one always goes)


def _child_main(conn: Any, cancel_flag: Any, parent_pid: int = 0) -> None:
    """The worker's loop: run jobs until told to stop or the parent goes away."""
    if parent_pid:
        lifecycle.die_with_parent(parent_pid)
    lifecycle.ignore_interrupts()
    # Imported here: the parent process does not need numpy/OpenCV to start a worker.
    from retouchdesk.providers.local.runner import run_operation

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            _leave()
        _, job_no, op_id, image_path, params, out_path, device, tile_size = msg
        last = [0.0]

        def progress(
            fraction: float | None, message: str, _job: int = job_no, _last: list = last
        ) -> None:
            now = time.monotonic()
            if fraction is None or fraction >= 1.0 or now - _last[0] >= _PROGRESS_INTERVAL:
                _last[0] = now
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("progress", _job, fraction, message))

        def cancelled(_job: int = job_no) -> bool:
            return cancel_flag.value == _job

        try:
            summary = run_operation(
                op_id,
                image_path,
                params,
                out_path,
                progress=progress,
                cancelled=cancelled,
                device=device,
                # 0 = automatic: from the memory free now, as it changes between jobs.
                tile_size=tile_size if tile_size > 0 else budget.auto_tile_size(),
            )
            reply: tuple[Any, ...] = ("done", job_no, summary)
        except errors.Cancelled:
            reply = ("cancelled", job_no)
        except errors.RetouchError as exc:
            extras = {
                k: getattr(exc, k)
                for k in ("parameter", "retry_after", "code", "status")
                if getattr(exc, k, None) is not None
            }
            reply = ("error", job_no, type(exc).__name__, str(exc), extras)
        except MemoryError:
            reply = (
                "error",
                job_no,
                "ProviderError",
                f"{Path(image_path).name}: not enough memory for this operation",
                {},
            )
        except Exception as exc:  # a bug: report it plainly, keep the worker alive
            reply = (
                "error",
                job_no,
                "ProviderError",
                f"The offline engine failed on {Path(image_path).name}: "
                f"{type(exc).__name__}: {exc}",
                {},
            )
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
        lifecycle.trim_memory()


def _leave() -> NoReturn:
    """End the worker at once when told to stop.

    The interpreter's teardown with numpy, OpenCV and a loaded model takes 50-100 ms that the
    app (and a command about to exit) would wait for in ``stop``; the worker holds nothing
    that needs it: its job files are written, and the standard streams are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _launch(context: Any) -> tuple[Any, Any, Any]:
    """A new worker process: (process, the parent's end of its pipe, its cancel flag)."""
    parent, child = context.Pipe(duplex=True)
    cancel = context.Value("q", 0, lock=False)
    proc = context.Process(
        target=_child_main,
        args=(child, cancel, os.getpid()),
        name="retouchdesk-local-worker",
        daemon=True,
    )
    # From a keeper thread: Linux's parent-death signal follows the creating thread.
    lifecycle.start_kept(proc, _main_hidden)
    child.close()
    return proc, parent, cancel


class _Spare:
    """The process :func:`prestart` started and no :class:`Worker` has taken yet."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: tuple[Any, Any, Any] | None = None
        self.timer: threading.Timer | None = None


_spare = _Spare()


def prestart(unclaimed_after: float = 30.0) -> None:
    """Start a worker process now for the first :class:`Worker` to take (it returns once the
    process is launched, in about 10 ms, not once it is ready).

    The command line calls it as soon as it knows the job is offline, before it has read the
    settings a :class:`Worker` is made from: the process's own start (interpreter, numpy,
    OpenCV: about a third of a second) then overlaps the command's. A process nobody takes
    within ``unclaimed_after`` seconds is killed; one is started at most.
    """
    with _spare.lock:
        if _spare.started is not None:
            return
        try:
            started = _launch(mp.get_context("spawn"))
        except Exception:  # the Worker's own start reports the failure in a sentence
            log.debug("starting a spare offline worker failed", exc_info=True)
            return
        _spare.started = started
        _spare.timer = threading.Timer(unclaimed_after, _drop_spare, (started,))
        _spare.timer.daemon = True
        _spare.timer.start()


def _take_spare() -> tuple[Any, Any, Any] | None:
    """The prestarted process if it still runs, else None."""
    with _spare.lock:
        started, _spare.started = _spare.started, None
        timer, _spare.timer = _spare.timer, None
    if timer is not None:
        timer.cancel()
    if started is None or not started[0].is_alive():
        return None
    return started


def _drop_spare(started: tuple[Any, Any, Any]) -> None:
    """Kill a prestarted process nobody took (the command ended before its first job)."""
    with _spare.lock:
        if _spare.started is not started:
            return
        _spare.started, _spare.timer = None, None
    proc, conn, _ = started
    with contextlib.suppress(OSError, ValueError, AttributeError):
        proc.kill()
    with contextlib.suppress(OSError):
        conn.close()


def rebuild_error(name: str, message: str, extras: dict[str, Any]) -> Exception:
    """The exception a worker reported, as the same core.errors class in this process."""
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.RetouchError)):
        return errors.ProviderError(message)
    try:
        if issubclass(cls, errors.ParameterError):
            return cls(message, parameter=extras.get("parameter"))
        if issubclass(cls, errors.RateLimited):
            return cls(message, retry_after=extras.get("retry_after"))
        if issubclass(cls, errors.ProviderError):
            return cls(message, code=extras.get("code"), status=extras.get("status"))
        return cls(message)
    except TypeError:
        return errors.ProviderError(message)


_hide_lock = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Start a spawned child without re-running the parent's ``__main__`` in it.

    ``spawn`` normally re-imports the main script in the child; a script without an
    ``if __name__ == "__main__"`` guard (a user's, a test runner's, an emulator's) would then
    run again there. The worker needs nothing from ``__main__``, so it is hidden during start.
    A frozen bundle still goes through ``multiprocessing.freeze_support()`` as usual.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(sys, "frozen", False):
        yield
        return
    with _hide_lock:
        saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


class Worker:
    """One worker process and its pipe; runs one job at a time (see :meth:`run`)."""

    def __init__(
        self,
        *,
        device: str = "auto",
        tile_size: int = 256,
        cancel_grace: float = 0.2,
        idle_timeout: float | None = 60.0,
    ):
        self.device = device
        self.tile_size = tile_size
        self.cancel_grace = cancel_grace
        self.idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None
        self._mp = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._cancel: Any = None
        self._job_no = 0
        self._given_job = False  # whether the current process has had a job
        self._lock = threading.Lock()
        self._idle_timer: threading.Timer | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        """Start the process, or take the one :func:`prestart` started."""
        if self.alive():
            return
        self._discard()
        self._proc, self._conn, self._cancel = _take_spare() or _launch(self._mp)
        self._given_job = False

    def warm_up(self) -> None:
        """Start the process in a background thread unless it runs or is starting.

        Its start-up (interpreter, numpy, OpenCV: about a third of a second) then overlaps
        the engine's checks of the photo instead of following them. A worker started this way
        and never given a job is stopped after ``idle_timeout`` like any idle one.
        """
        if self.alive() or not self._lock.acquire(blocking=False):
            return  # up already, or a job (which starts it) holds it

        def start() -> None:
            try:
                if not self.alive():
                    self.start()
                    self._disarm_idle()
                    self._arm_idle()
            except Exception:  # the job's own start reports the failure in a sentence
                log.debug("warming up the offline worker failed", exc_info=True)
            finally:
                self._lock.release()

        threading.Thread(target=start, name="retouchdesk-worker-warm-up", daemon=True).start()

    def _arm_idle(self) -> None:
        """Stop the process after ``idle_timeout`` seconds without a job (caller holds the lock)."""
        if self.idle_timeout is None or not self.alive():
            return
        timer = threading.Timer(self.idle_timeout, self._idle_expired)
        timer.daemon = True
        timer.name = "retouchdesk-worker-idle"
        self._idle_timer = timer
        timer.start()

    def _disarm_idle(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()

    def _idle_expired(self) -> None:
        # Never waits for a running job: a job holds the lock and re-arms the timer at its end.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._idle_timer is not None and threading.current_thread() is self._idle_timer:
                self._idle_timer = None
                self.stop()
        finally:
            self._lock.release()

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._conn = None
        self._proc = None

    def run(
        self,
        op_id: str,
        image_path: Path,
        params: dict[str, Any],
        out_path: Path,
        *,
        on_progress: Callable[[float | None, str], None] = lambda f, m: None,
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> dict[str, Any]:
        """Run one job in the worker and block this (non-loop) thread until it ends.

        Raises the worker's error, :class:`Cancelled`, or a ProviderError when the process
        dies. A worker that ignores a cancellation for ``cancel_grace`` seconds (inside one long
        native call) is killed, and a fresh one starts for the next job. ``idle_timeout``
        seconds after the job the process is stopped unless another job came.
        """
        with self._lock:
            self._disarm_idle()
            try:
                return self._run_locked(
                    op_id, image_path, params, out_path, on_progress, is_cancelled
                )
            finally:
                self._arm_idle()

    def _run_locked(
        self,
        op_id: str,
        image_path: Path,
        params: dict[str, Any],
        out_path: Path,
        on_progress: Callable[[float | None, str], None],
        is_cancelled: Callable[[], bool],
    ) -> dict[str, Any]:
        self.start()
        self._job_no += 1
        job_no = self._job_no
        name = Path(image_path).name
        self._given_job = True
        try:
            self._conn.send(
                (
                    "run",
                    job_no,
                    op_id,
                    str(image_path),
                    params,
                    str(out_path),
                    self.device,
                    self.tile_size,
                )
            )
        except (OSError, ValueError):
            self.stop(kill=True)
            raise errors.ProviderError(
                f"The offline engine could not start work on {name}; try again"
            ) from None
        cancel_sent: float | None = None
        while True:
            if cancel_sent is None and is_cancelled():
                self._cancel.value = job_no
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > self.cancel_grace:
                self._kill_now()
                raise errors.Cancelled()
            try:
                ready = self._conn.poll(0.05)
            except (OSError, EOFError):
                ready = False
            if not ready:
                if not self.alive():
                    raise self._died(name, cancel_sent is not None)
                continue
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                # The pipe closed: the process is gone or going; give it a moment to exit.
                if self._proc is not None:
                    self._proc.join(2.0)
                raise self._died(name, cancel_sent is not None) from None
            kind, msg_job = msg[0], msg[1]
            if msg_job != job_no:
                continue  # a late message from a job that was given up on
            if kind == "progress":
                on_progress(msg[2], msg[3])
            elif kind == "done":
                return dict(msg[2])
            elif kind == "cancelled":
                raise errors.Cancelled()
            elif kind == "error":
                raise rebuild_error(msg[2], msg[3], msg[4])

    def _died(self, name: str, cancelling: bool) -> BaseException:
        """The error for a worker that vanished mid-job; the next job starts a new one."""
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(2.0)
        code = proc.exitcode if proc is not None else None
        self._discard()
        if cancelling:
            return errors.Cancelled()
        return errors.ProviderError(
            f"The offline engine stopped unexpectedly while working on {name} "
            f"(exit code {code}); it may have run out of memory"
        )

    def _kill_now(self) -> None:
        """SIGKILL without waiting: its compute stops at once; the kernel frees its memory
        (about 0.3 s per GB here) while the keeper thread reaps it and the next job starts a
        fresh worker."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                proc.kill()
        self._discard()

    def close(self) -> None:
        """Stop for good (the provider closes): no idle timer left behind.

        A process that was warmed up and never given a job is killed rather than asked: it
        may still be loading its libraries, and would read the request to stop only then
        (a command whose photos were all done already would wait for that).
        """
        self._disarm_idle()
        self.stop(kill=not self._given_job)

    def stop(self, *, kill: bool = False, timeout: float = 3.0) -> None:
        """End the process: politely, or at once with ``kill``."""
        proc = self._proc
        if proc is None:
            return
        if not kill and self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
            proc.join(timeout)
        if proc.is_alive():
            # SIGKILL when cancelling: the worker may sit in a native call for seconds.
            (proc.kill if kill else proc.terminate)()
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout)
        self._discard()
