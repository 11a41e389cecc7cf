"""The emulated engine at work: a task runs ``task_seconds`` after it was accepted.

The engine skips a task nobody has polled for ``drop_after`` seconds (the client left), ends
the next tasks with injected ``engine_errors`` when a test asks for them, checks the input's
size and faces as the vendor does, publishes result files whose URLs expire, and charges the
account only when the task succeeds.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tests.emulators.youcam.credits import CreditLedger
from tests.emulators.youcam.effects import render, video_sr
from tests.emulators.youcam.errors import EngineError
from tests.emulators.youcam.features import V1_MASK_ONLY
from tests.emulators.youcam.imaging import decode, detect_faces, encode, subject_alpha
from tests.emulators.youcam.store import StoredFile, Task, TaskStore

Output = tuple[bytes, str, str]  # (data, suffix, content type)
Publish = Callable[[bytes, str, str], str]  # data, suffix, content type -> URL


class TaskWorker:
    """Runs accepted tasks to success or an engine error."""

    def __init__(
        self,
        store: TaskStore,
        ledger: CreditLedger,
        publish: Publish,
        *,
        drop_after: float,
        min_face_width: int,
        engine_errors: list[str],
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.publish = publish
        self.drop_after = drop_after
        self.min_face_width = min_face_width
        self.engine_errors = engine_errors  # shared with the emulator: tests append to it

    def finish(self, task: Task) -> None:
        """Do ``task`` now, unless it was dropped, and record its outcome."""
        lock = self.store.lock
        with lock:
            if task.dropped:
                return
            if time.monotonic() - task.last_poll > self.drop_after:
                task.dropped = True  # nobody polled: the engine does not process the task
                return
            task.started = time.monotonic()
            injected = self.engine_errors.pop(0) if self.engine_errors else None
        if injected:
            with lock:
                task.status, task.error = "error", injected
            return
        try:
            outputs, faces = self.process(task)
        except EngineError as exc:
            with lock:
                task.status, task.error = "error", exc.code
            return
        except Exception:  # a bug in the emulator's processing: report as the engine would
            logging.getLogger("tests.emulators").exception("youcam processing failed")
            with lock:
                task.status, task.error = "error", "unknown_internal_error"
            return
        results = [self._keep(task, *output) for output in outputs]
        with lock:
            if task.dropped:
                return
            task.results, task.faces = results, faces
            if task.feature.cost:
                self.ledger.charge(task)
            task.status = "success"
            task.finished = time.monotonic()

    def _keep(self, task: Task, data: bytes, suffix: str, ctype: str) -> tuple[str, str]:
        """Publish one result; it is also kept as a file the account may use (its dst_id)."""
        url = self.publish(data, suffix, ctype)
        dst = secrets.token_urlsafe(24)
        self.store.add_file(
            StoredFile(dst, ctype, f"result{suffix}", len(data), task.account, {}, data)
        )
        return url, dst

    def process(self, task: Task) -> tuple[list[Output], list[dict[str, Any]]]:
        """The result files and the faces found for ``task``."""
        f = task.feature
        if f.name == "video_sr":
            return [(video_sr(self.store.data(task.src)), ".mp4", "video/mp4")], []
        img = self._source(task)
        faces = self._faces(task, img)
        mask = self._mask(task, img)
        refs = [
            decode(self.store.data(i), "error_download_image")
            for key in ("ref_ids", "ref_file_id", "ref_file_ids")
            for i in task.files.get(key, [])
        ]
        if f.name == "face_detect":
            return [], faces
        png = task.output_ext == "png" or f.name == "sod"
        suffix, ctype = (".png", "image/png") if png else (".jpg", "image/jpeg")
        if task.gen == "v1" and f.name in V1_MASK_ONLY:
            assert img is not None
            outs = [(subject_alpha(img) * 255).astype(np.uint8)]  # the foreground mask
        else:
            outs = render(f.name, img, task.params, mask=mask, refs=refs, faces=faces)
        return [(encode(o, suffix), suffix, ctype) for o in outs], faces

    def _source(self, task: Task) -> np.ndarray | None:
        """The task's photo, within the task's size limits (None for a task without one)."""
        f = task.feature
        if not f.source:
            return None
        img = decode(self.store.data(task.src), "error_decode_image")
        h, w = img.shape[:2]
        if max(w, h) > f.max_side or min(w, h) < f.min_side:
            raise EngineError("invalid_parameter")
        if f.max_short and min(w, h) > f.max_short:
            raise EngineError("invalid_parameter")
        return img

    def _faces(self, task: Task, img: np.ndarray | None) -> list[dict[str, Any]]:
        """The faces of a task that needs them; a face task with no face (or one too small
        to parse) fails."""
        f = task.feature
        if not (f.needs_face or f.name in ("face_detect", "face_swap")):
            return []
        assert img is not None
        boxes = detect_faces(img)
        if not boxes:
            raise EngineError("error_no_face")
        if f.needs_face and (boxes[0][2] - boxes[0][0]) < self.min_face_width:
            raise EngineError("error_face_parsing")
        return [{"bbox": list(b)} for b in boxes]

    def _mask(self, task: Task, img: np.ndarray | None) -> np.ndarray | None:
        """The task's mask (the last mask field given), the photo's size."""
        mask = None
        for key in ("mask_ids", "msk_ids", "msk_file_id"):
            if key in task.files:
                mask = decode(self.store.data(task.files[key][0]), "error_decode_mask", grey=True)
                assert img is not None
                if mask.shape[:2] != img.shape[:2]:
                    raise EngineError("invalid_parameter")
        return mask
