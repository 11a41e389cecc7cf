"""What the emulated server holds: uploaded and result files, tasks, and request ids.

A task not polled for ``drop_after`` seconds is dropped (the vendor's 10-second keep-alive):
later polls answer ``InvalidTaskId`` and nothing is charged. A repeated ``request_id`` of one
account names its first task.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.youcam.errors import Invalid
from tests.emulators.youcam.features import Feature


@dataclass
class StoredFile:
    file_id: str
    content_type: str
    file_name: str
    file_size: int | None
    account: str
    headers: dict[str, str]
    data: bytes | None = None  # set by the PUT (or for results)
    created: float = field(default_factory=time.monotonic)


@dataclass
class Task:
    task_id: str
    feature: Feature
    gen: str
    account: str
    request_id: int | None
    src: str | None
    files: dict[str, list[str]]
    params: dict[str, Any]
    output_ext: str | None
    created: float = field(default_factory=time.monotonic)
    last_poll: float = field(default_factory=time.monotonic)
    status: str = "running"
    error: str | None = None
    results: list[tuple[str, str]] = field(default_factory=list)  # (url, dst_id)
    faces: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False
    polls: int = 0
    max_gap: float = 0.0
    charged: int = 0
    started: float | None = None  # when the engine began the work (the task was alive)
    finished: float | None = None


@dataclass(frozen=True)
class Seen:
    """What one poll reads of a task, copied under the lock."""

    status: str
    error: str | None
    results: list[tuple[str, str]]
    faces: list[dict[str, Any]]


class TaskStore:
    """Files, upload tokens, tasks and request ids, behind the emulator's one lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, str] = {}  # upload token -> file id
        self.tasks: dict[str, Task] = {}
        self.by_request: dict[tuple[str, int], str] = {}

    def add_file(self, stored: StoredFile, upload_token: str | None = None) -> None:
        with self.lock:
            self.files[stored.file_id] = stored
            if upload_token is not None:
                self.uploads[upload_token] = stored.file_id

    def upload_target(self, upload_token: str) -> StoredFile | None:
        """The file an upload URL's token stands for."""
        with self.lock:
            return self.files.get(self.uploads.get(upload_token) or "")

    def file(self, file_id: Any, account: str, what: str) -> StoredFile:
        """An uploaded file of ``account`` named in a task body as ``what``."""
        if not isinstance(file_id, str):
            raise Invalid(f"{what} must be a file id string")
        with self.lock:
            f = self.files.get(file_id)
        if f is None or f.account != account:
            raise Invalid(f"{what} {file_id[:12]} is not a known file", "InvalidFileId")
        if f.data is None:
            raise Invalid(f"{what} {file_id[:12]} was never uploaded", "InvalidFileId")
        return f

    def data(self, file_id: str | None) -> bytes:
        """The bytes of a file a task names (checked when the task was accepted)."""
        with self.lock:
            f = self.files[file_id or ""]
        assert f.data is not None
        return f.data

    def first_task(self, account: str, request_id: int | None) -> str | None:
        """The task an earlier request with this id made, if any (call under the lock)."""
        if request_id is None:
            return None
        return self.by_request.get((account, request_id))

    def add_task(self, task: Task) -> None:
        """Give ``task`` its id and keep it (call under the lock)."""
        task.task_id = secrets.token_urlsafe(33)
        self.tasks[task.task_id] = task
        if task.request_id is not None:
            self.by_request[(task.account, task.request_id)] = task.task_id

    def poll(
        self, task_id: str | None, account: str, f: Feature | None, drop_after: float
    ) -> Seen | None:
        """Note one poll of a task and return what it reads, or None for an unknown or
        dropped task (one running but not polled for ``drop_after`` seconds drops now)."""
        now = time.monotonic()
        with self.lock:
            task = self.tasks.get(task_id or "")
            if task is None:
                return None
            running = task.status == "running" and not task.dropped
            if running and now - task.last_poll > drop_after:
                task.dropped = True  # the client left: no charge
            if task.dropped or task.account != account or task.feature != f:
                return None
            task.max_gap = max(task.max_gap, now - task.last_poll)
            task.last_poll = now
            task.polls += 1
            return Seen(task.status, task.error, list(task.results), list(task.faces))

    def drop(self, task_id: str | None) -> bool:
        """Forget a task at the client's request; False when it is unknown or gone."""
        with self.lock:
            task = self.tasks.get(task_id or "")
            if task is None or task.dropped:
                return False
            task.dropped = True
            return True

    def created(self, feature: str | None = None) -> list[Task]:
        with self.lock:
            return [t for t in self.tasks.values() if feature is None or t.feature.name == feature]

    def charged_total(self) -> int:
        with self.lock:
            return sum(t.charged for t in self.tasks.values())
