"""The YouCam provider: uploads, idempotent submissions, keep-alive polling, results.

Call sequence (see ``providers.base``): ``prepare`` checks every file against the task's limits
*before* any upload, then uploads what YouCam does not hold yet (a result of an earlier v1
task is reused by its ``dst_id``); ``submit`` takes a ``request_id`` from the persistent
counter, checkpoints it in ``ctx.remote`` *before* sending, and reuses it when the submission
is repeated, so a retry after a lost connection never charges twice; a keep-alive poller on the
provider's I/O thread then polls the task (``watch``) and downloads the results the moment they
are ready; ``poll`` reports the poller's state. Face swap runs its detection task first and
starts the swap from ``poll`` once the faces are known.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from retouchdesk.core.errors import (
    InputError,
    ParameterError,
    ProviderError,
    RemoteJobLost,
)
from retouchdesk.core.schema import Operation, ParamKind
from retouchdesk.providers import http
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    PollResult,
    Provider,
    RemoteState,
    SubmitResult,
)
from retouchdesk.providers.config import ProviderConfig
from retouchdesk.providers.youcam import errors, files, foreground, payload, styles, watch
from retouchdesk.providers.youcam.api import V1, Credentials, YouCamClient

log = logging.getLogger("retouchdesk.youcam")

UPLOAD_TTL = 20 * 3600.0  # uploads live one day at YouCam; re-upload well before that
MAX_RESTARTS = 2  # times a dropped task is started again before the job fails


@dataclass
class Balance:
    total: float
    nearest_expiry: datetime | None
    credits: list[dict[str, Any]]


@dataclass
class HistoryEntry:
    id: str
    when: datetime | None
    action: str
    target_id: str
    amount: float


def _ms_to_dt(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value) / 1000.0, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def result_files(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(url, dst_id) of every result in a status answer, v1 or v2 shape."""
    out: list[tuple[str, str | None]] = []

    def add(item: Any) -> None:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, dict):
            if item.get("url"):
                out.append((str(item["url"]), str(item["dst_id"]) if item.get("dst_id") else None))
            for key in ("data", "output", "outputs"):
                for sub in item.get(key) or []:
                    add(sub)

    results = data.get("results")
    if isinstance(results, list):
        for r in results:
            add(r)
    elif isinstance(results, dict):
        add(results)
    return out


def faces_of(data: dict[str, Any]) -> list[Any]:
    """The detected faces of a face swap detection answer, wherever the shape keeps them."""
    if isinstance(data.get("faces"), list):
        return data["faces"]
    results = data.get("results")
    items = results if isinstance(results, list) else [results] if results else []
    for r in items:
        if isinstance(r, dict):
            if isinstance(r.get("faces"), list):
                return r["faces"]
            for d in r.get("data") or []:
                if isinstance(d, dict) and isinstance(d.get("faces"), list):
                    return d["faces"]
    return []


class YouCamProvider(Provider):
    """Every YouCam task, both API generations (v1: client id + secret; v2: API key)."""

    id = "youcam"
    capabilities = frozenset({Capability.RESUME, Capability.IDEMPOTENT_SUBMIT})

    @classmethod
    def from_config(cls, config: ProviderConfig) -> YouCamProvider:
        """YouCam over v1 (client id + secret) or v2 (API key), whichever the user entered.

        ``request_id`` must never repeat for an account, so it comes from the job store's
        persistent counter (``config.counter``), else from a counter file in the data folder.
        """
        creds = Credentials(
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            api_key=config["api_key"],
        )
        name = f"youcam.request_id.{creds.account}"
        # A new installation must not repeat the ids an earlier one used for the same account
        # (YouCam ignores a repeated id), so a new counter starts at the current Unix time.
        start = int(time.time())
        counter = config.counter
        data_dir = config.data_dir or config.cache_dir or Path.cwd()
        next_id: Callable[[], int] = (
            (lambda: counter(name, start=start))
            if counter is not None
            else files.FileCounter(data_dir / f"{name}.counter", start=start)
        )
        return cls(
            base_url=config["base_url"],
            credentials=creds,
            cache_dir=config.cache_dir or data_dir,
            next_counter=next_id,
            poll_policy=watch.PollPolicy(
                max_gap=config["max_poll_gap"], budget_per_minute=config["poll_budget"]
            ),
            retry=config.network.retry_policy(),
        )

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        cache_dir: Path,
        next_counter: Callable[[], int] | None = None,
        poll_policy: watch.PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        token_lifetime: float | None = None,
        timeout: float | None = None,
        retry: http.RetryPolicy | None = None,
    ) -> None:
        self.creds = credentials
        self.gen = credentials.generation  # raises ConfigurationError when nothing is set
        self.cache_dir = Path(cache_dir) / "youcam"
        self.client = YouCamClient(
            base_url,
            credentials,
            transport=transport,
            token_lifetime=token_lifetime,
            timeout=timeout,
            retry=retry,
        )
        self._next_counter = next_counter or files.FileCounter(
            self.cache_dir / f"request_id.{credentials.account}", start=int(time.time())
        )
        self.policy = poll_policy or watch.PollPolicy()
        self.pacer = watch.Pacer(self.policy)
        self.results = files.ResultIndex(self.cache_dir / "results.json")
        self._io: watch.IoLoop | None = None
        self._watches: dict[str, watch.TaskWatch] = {}
        # The longest Provider.watch waits for its poller without reading the state (a
        # cancelled job is noticed by then); every poll wakes it sooner.
        self.heartbeat = 1.0
        self._dl: http.Downloads | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def io(self) -> watch.IoLoop:
        if self._io is None:
            self._io = watch.IoLoop()
        return self._io

    def _downloads(self) -> http.Downloads:
        # Made on the I/O loop that uses it; credentials only ever go to the API's origin.
        if self._dl is None:
            self._dl = http.Downloads(self.client.base_url, lambda: self.client.client)
        return self._dl

    def next_request_id(self) -> int:
        return int(self._next_counter())

    async def aclose(self) -> None:
        io, self._io = self._io, None
        if io is not None:
            dl, self._dl = self._dl, None

            async def close_clients() -> None:
                if dl is not None:
                    await dl.aclose()
                await self.client.aclose()

            await asyncio.to_thread(io.close, close_clients())
        self._watches.clear()

    def watches(self) -> dict[str, watch.TaskWatch]:
        """The keep-alive pollers by task id (tests and diagnostics read them)."""
        return dict(self._watches)

    def _prepare_all(self, ctx: JobContext) -> dict[str, files.Prepared]:
        """Every file of the job, checked and encoded; raises before anything is uploaded."""
        op, values = ctx.operation, ctx.params
        payload.check_required(op, values)
        out: dict[str, files.Prepared] = {}
        size: tuple[int, int] | None = None
        if not op.api.get("no_source"):
            if op.input_kind == "video":
                out["src"] = files.prepare_video(ctx.input_path, op)
            else:
                out["src"] = files.prepare_image(ctx.input_path, op)
                size = (out["src"].width, out["src"].height)
        for p in op.file_params:
            path = ctx.file_param(p.name)
            if path is None or not p.applies(values):
                continue
            if not path.exists():
                raise InputError(f"The {p.label.lower()} file {path} does not exist")
            if p.kind is ParamKind.MASK:
                if size is None:
                    raise ParameterError(f"{p.name} needs an input photo", parameter=p.name)
                out[p.name] = files.prepare_mask(path, size)
            else:
                out[p.name] = files.prepare_image(path, op, what=f"The {p.label.lower()}")
        if op.api.get("geometry") and size is not None:
            payload.extender_geometry(values, *size)  # refuse a broken geometry before upload
        return out

    # -- prepare: uploads ------------------------------------------------------------------

    async def prepare(self, ctx: JobContext) -> None:
        op = ctx.operation
        if self.gen == V1 and op.api.get("needs_v2"):
            # The schema says why v1 cannot do it (Background Change: v1 answers only a
            # foreground mask, nothing to replace the background with): refuse before upload.
            raise ProviderError(
                f"{op.label} needs a YouCam v2 API key: {op.api['needs_v2']}",
                retryable=False,
                code="unsupported",
            )
        prepared = await asyncio.to_thread(self._prepare_all, ctx)
        remote = ctx.remote
        remote.setdefault("gen", self.gen)
        if remote["gen"] != self.gen:  # the user switched accounts: start over
            remote.clear()
            remote["gen"] = self.gen
        known: dict[str, Any] = remote.setdefault("files", {})
        if "src" in prepared:
            remote["src_size"] = [prepared["src"].width, prepared["src"].height]
            if prepared["src"].duration is not None:
                remote["duration"] = prepared["src"].duration
        now = time.time()
        todo = {
            name: p
            for name, p in prepared.items()
            if not (name in known and now - float(known[name].get("time", 0)) < UPLOAD_TTL)
        }
        reuse = not remote.get("no_reuse")
        if reuse and "src" in todo and self.gen == V1 and op.input_kind == "image":
            digest = await asyncio.to_thread(files.pixel_hash, ctx.input_path)
            dst = self.results.lookup(digest, self.creds.account)
            if dst:
                known["src"] = {"file_id": dst, "time": now, "reused": True}
                todo.pop("src")
                ctx.checkpoint()
        if not todo:
            return
        ctx.progress(None, "uploading")
        slug = op.api["v1"] if self.gen == V1 else op.api["v2"]
        ids = await self.io.run(self._upload(slug, todo))
        for name, file_id in ids.items():
            known[name] = {"file_id": file_id, "time": now}
        ctx.checkpoint()

    async def _upload(self, slug: str, todo: dict[str, files.Prepared]) -> dict[str, str]:
        names = list(todo)
        announced = await self.client.create_uploads(
            slug.split("/")[0],
            [
                {
                    "content_type": todo[n].content_type,
                    "file_name": todo[n].file_name,
                    "file_size": len(todo[n].data),
                }
                for n in names
            ],
        )
        if len(announced) != len(names):
            raise ProviderError("YouCam announced a different number of uploads", retryable=True)
        ids: dict[str, str] = {}
        for name, slot in zip(names, announced, strict=True):
            requests = slot.get("requests") or []
            if not requests or not slot.get("file_id"):
                raise ProviderError("YouCam sent no upload address", retryable=True)
            await self.client.put_file(requests[0], todo[name].data)
            ids[name] = str(slot["file_id"])
        return ids

    # -- submit ------------------------------------------------------------------------------

    async def submit(self, ctx: JobContext) -> SubmitResult:
        op = ctx.operation
        if op.api.get("detect") and not ctx.remote.get("faces_done"):
            task_id = await self._start(ctx, "detect", op.api["detect"], extra={})
        else:
            task_id = await self._start(ctx, "task", self._slug(op), extra=self._extra(ctx))
        return SubmitResult(remote_id=task_id)

    def _slug(self, op: Operation) -> str:
        return op.api["v1"] if self.gen == V1 else op.api["v2"]

    def _extra(self, ctx: JobContext) -> dict[str, Any]:
        op, values = ctx.operation, ctx.params
        if op.api.get("geometry"):
            w, h = ctx.remote.get("src_size") or (0, 0)
            return payload.extender_geometry(values, int(w), int(h))
        if op.api.get("detect"):
            # The reference photos, in declaration order: reference i is the i-th one given.
            refs = [
                p.name
                for p in op.file_params
                if p.kind is ParamKind.IMAGE and ctx.file_param(p.name)
            ]
            faces = ctx.remote.get("faces") or []
            pairs = payload.parse_face_mapping(
                str(values.get("face_mapping") or ""), len(refs), len(faces)
            )
            if self.gen == V1:
                return {"face_mapping": pairs}
            fids = ctx.remote.get("files", {})
            ref_ids = [str(fids.get(n, {}).get("file_id", "")) for n in refs]
            return {"face_mapping": payload.v2_face_mapping(pairs, ref_ids)}
        if op.input_kind == "video" and values.get("dst_duration") is None:
            duration = float(ctx.remote.get("duration") or 0)
            return {"dst_duration": max(1, round(duration))}
        return {}

    async def _start(self, ctx: JobContext, phase: str, slug: str, extra: dict[str, Any]) -> str:
        """Start one remote task of the job, at most once per ``request_id``."""
        op, remote = ctx.operation, ctx.remote
        sub = remote.setdefault(phase, {})
        if sub.get("task_id"):
            self._ensure_watch(ctx, slug, sub["task_id"], phase)
            return str(sub["task_id"])
        if "request_id" not in sub:
            sub["request_id"] = self.next_request_id()
            ctx.checkpoint()  # persisted before the request can reach YouCam
        fids = remote.get("files", {})
        src = fids.get("src", {}).get("file_id")
        extra_files = {
            n: v["file_id"] for n, v in fids.items() if n != "src" and n in op.api.get("files", {})
        }
        if phase == "detect":
            body_op_files: dict[str, str] = {}
            values: dict[str, Any] = {}
        else:
            body_op_files, values = extra_files, ctx.params
            # The computed fields as sent (a video's length): the charge is per them.
            remote["sent"] = {k: v for k, v in extra.items() if isinstance(v, int | float | str)}
        body = payload.build_body(
            op if phase == "task" else _bare(op),
            values,
            self.gen,
            request_id=int(sub["request_id"]),
            src_id=src,
            files=body_op_files,
            extra=extra,
        )
        ctx.progress(None, "detecting faces" if phase == "detect" else "submitting")
        try:
            task_id = await self.io.run(self._run_and_watch(ctx, slug, body, phase))
        except ProviderError as exc:
            if exc.code != "InvalidFileId" or remote.get("no_reuse"):
                raise
            # A file YouCam no longer holds (an old result's dst_id, an expired upload): the
            # request created nothing, so upload again and send the same request once more.
            remote["files"], remote["no_reuse"] = {}, True
            ctx.checkpoint()
            await self.prepare(ctx)
            return await self._start(ctx, phase, slug, extra)
        sub["task_id"], sub["slug"] = task_id, slug
        remote["phase"] = phase
        ctx.remote_id = task_id
        ctx.checkpoint()
        return task_id

    # -- polling -----------------------------------------------------------------------------

    def _new_watch(
        self, ctx: JobContext, slug: str, task_id: str, phase: str
    ) -> tuple[watch.TaskWatch, Coroutine[Any, Any, None]]:
        """A poller for ``task_id`` and the coroutine to run on the I/O loop."""
        w = watch.TaskWatch(slug=slug, task_id=task_id, interval=self.policy.min_interval)
        work_dir = Path(ctx.work_dir)
        suffix = self._suffix(ctx)
        op = ctx.operation

        async def collect(data: dict[str, Any]) -> list[Output]:
            if phase == "detect":
                return []  # the faces are in the answer itself
            outputs = await self._download(data, work_dir, suffix, op)
            if self.gen == V1 and op.api.get("v1_result") == "mask":
                intensity = float(ctx.params.get("intensity", 50) or 0)
                for out in outputs:
                    assert out.path is not None
                    if await asyncio.to_thread(
                        foreground.blur_background, ctx.input_path, out.path, intensity
                    ):
                        out.meta["blurred_locally"] = True  # v1 answered a foreground mask
            return outputs

        async def run() -> None:
            await watch.watch(w, self.client.task_status, collect, self.policy, self.pacer)

        return w, run()

    def _ensure_watch(
        self, ctx: JobContext, slug: str, task_id: str, phase: str = "task"
    ) -> watch.TaskWatch:
        """The poller of ``task_id``, started from the engine's loop if there is none."""
        w = self._watches.get(task_id)
        if w is not None:
            return w
        w, run = self._new_watch(ctx, slug, task_id, phase)
        self._watches[task_id] = w
        w.future = self.io.submit(run)
        return w

    async def _run_and_watch(
        self, ctx: JobContext, slug: str, body: dict[str, Any], phase: str
    ) -> str:
        """Start the task and its poller in one step on the I/O loop: the first poll never
        waits for the engine's loop, however busy it is when the answer arrives."""
        task_id = await self.client.run_task(slug, body)
        if task_id not in self._watches:
            w, run = self._new_watch(ctx, slug, task_id, phase)
            self._watches[task_id] = w
            w.task = asyncio.get_running_loop().create_task(run)
        return task_id

    async def result_written(self, meta: dict[str, Any], path: Path) -> None:
        """Remember the written result's pixels too: continuing from it reuses its dst_id."""
        dst_id = meta.get("dst_id")
        if not dst_id or self.gen != V1:
            return
        digest = await asyncio.to_thread(files.pixel_hash, path)
        if digest:
            self.results.remember(digest, self.creds.account, str(dst_id))

    def _suffix(self, ctx: JobContext) -> str:
        op = ctx.operation
        if op.input_kind == "video":
            return ".mp4"
        if op.result.format == "png" or op.api.get("output_ext") == "png":
            return ".png"
        if op.result.format == "jpeg":
            return ".jpg"
        ext = ctx.input_path.suffix.lower() if ctx.input_path else ""
        return ".png" if ext == ".png" else ".jpg"

    async def _download(
        self, data: dict[str, Any], work_dir: Path, suffix: str, op: Operation
    ) -> list[Output]:
        """Fetch every result now (URLs expire after two hours); runs on the I/O loop."""
        found = result_files(data)
        if not found:
            raise ProviderError("YouCam reported success but sent no result", retryable=False)
        work_dir.mkdir(parents=True, exist_ok=True)
        outputs = []
        many = len(found) > 1
        for i, (url, dst_id) in enumerate(found):
            resp = await self._downloads().get(url, vendor=errors.VENDOR)
            ext = Path(urlsplit(url).path).suffix.lower()
            ext = ext if ext in (".jpg", ".jpeg", ".png", ".mp4", ".mov") else suffix
            path = work_dir / f"youcam_{i}{ext}"
            path.write_bytes(resp.content)
            meta: dict[str, Any] = {}
            if dst_id:
                meta["dst_id"] = dst_id
                if self.gen == V1 and op.input_kind == "image":
                    digest = await asyncio.to_thread(files.pixel_hash, path)
                    if digest:
                        self.results.remember(digest, self.creds.account, dst_id)
            label = f"variant {i + 1}" if many else ""
            outputs.append(Output(path=path, suffix=ext, label=label, meta=meta))
        return outputs

    async def poll(self, ctx: JobContext) -> PollResult:
        remote = ctx.remote
        phase = remote.get("phase", "task")
        sub = remote.get(phase) or {}
        task_id = sub.get("task_id") or ctx.remote_id
        if not task_id:
            raise RemoteJobLost("YouCam has no task for this job yet", retryable=True)
        w = self._ensure_watch(ctx, sub.get("slug") or self._slug(ctx.operation), task_id, phase)
        quick = max(0.2, min(1.0, w.interval))
        if w.running:
            if w.message:
                ctx.progress(None, w.message)
            return PollResult(RemoteState.RUNNING, message=w.message or "running", next_poll=quick)
        self._watches.pop(task_id, None)
        if w.status == watch.LOST:
            # A dropped task takes no credits (after a restart longer than 10 s, or a network
            # outage): start it again under a new request id, a bounded number of times.
            lost = int(remote.get("lost", 0)) + 1
            remote["lost"] = lost
            remote.pop(phase, None)
            ctx.checkpoint()
            if lost > MAX_RESTARTS:
                raise RemoteJobLost(
                    f"YouCam dropped the task {lost} times (it was not polled in time); "
                    "check the connection and press Retry",
                    code="InvalidTaskId",
                )
            ctx.progress(None, "YouCam dropped the task; sending it again")
            slug = self._slug(ctx.operation) if phase == "task" else ctx.operation.api["detect"]
            extra = self._extra(ctx) if phase == "task" else {}
            await self._start(ctx, phase, slug, extra)
            return PollResult(RemoteState.RUNNING, message="sent again", next_poll=quick)
        if w.status == watch.FAULT and w.fault is not None:
            raise w.fault  # the engine polls again (a fresh watch) until the job's deadline
        if (
            w.status == watch.ERROR
            and w.error_code in errors.RETRYABLE_ENGINE_ERRORS
            and int(remote.get("engine_retries", 0)) < MAX_RESTARTS
        ):
            # A transient engine error (the list YouCam documents): run the task again under
            # a new request id; a task that ended in an error is not charged.
            remote["engine_retries"] = int(remote.get("engine_retries", 0)) + 1
            remote.pop(phase, None)
            ctx.checkpoint()
            ctx.progress(None, f"{errors.engine_error(w.error_code)}: sending it again")
            slug = self._slug(ctx.operation) if phase == "task" else ctx.operation.api["detect"]
            extra = self._extra(ctx) if phase == "task" else {}
            await self._start(ctx, phase, slug, extra)
            return PollResult(RemoteState.RUNNING, message="sent again", next_poll=quick)
        if w.status == watch.ERROR:
            sentence = (
                errors.engine_error(w.error_code, w.error or "")
                if w.error_code
                else (w.error or errors.engine_error(None))
            )
            return PollResult(RemoteState.FAILED, error=sentence, message=sentence)
        if phase == "detect":
            faces = faces_of(w.data)
            remote["faces"] = faces
            remote["faces_done"] = True
            ctx.checkpoint()
            await self._start(ctx, "task", self._slug(ctx.operation), extra=self._extra(ctx))
            return PollResult(
                RemoteState.RUNNING,
                message=f"{len(faces)} face(s) found, swapping",
                next_poll=quick,
            )
        cost = ctx.operation.cost.charge(self._sent_value(ctx, ctx.operation.cost.per))
        outputs = list(w.outputs)
        if remote.get("faces"):
            for o in outputs:  # the detected faces, for a mapping UI and the result record
                o.meta["faces"] = [f.get("bbox") for f in remote["faces"] if isinstance(f, dict)]
        return PollResult(RemoteState.DONE, outputs=outputs, cost=cost)

    async def watch(self, ctx: JobContext) -> AsyncGenerator[PollResult, None]:
        """The job's updates, pushed by its keep-alive poller (``watch.TaskWatch.notify``).

        The poller runs on the private I/O loop, so a task stays alive however long the
        engine's loop is busy; each of its polls wakes this iterator, which reads the state
        through :meth:`poll` (restarts of dropped tasks, engine-error retries, face-swap
        phases included). ``heartbeat`` bounds a wait, so that a cancelled job is noticed.
        """
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:  # called on the I/O loop
            loop.call_soon_threadsafe(changed.set)

        while True:
            res = await self.poll(ctx)
            yield res
            if res.state is not RemoteState.RUNNING:
                return
            w = self._watches.get(self._task_id(ctx) or "")
            if w is None:
                continue  # restarted or finished since: read it again at once
            w.listeners.add(wake)
            try:
                if w.running:  # else it ended between the read and now: read it again
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), self.heartbeat)
            finally:
                w.listeners.discard(wake)
                changed.clear()

    def _sent_value(self, ctx: JobContext, name: str) -> Any:
        """The value parameter ``name`` had on the wire (for a cost ``per`` it): None when
        this generation does not send it, the computed one (a video's length) when empty."""
        if not name:
            return None
        op = ctx.operation
        if name in op.api.get("v2_only" if self.gen == V1 else "v1_only", ()):
            return None
        value = ctx.params.get(name)
        if value is None:
            value = (ctx.remote.get("sent") or {}).get(name)
        return value

    def _task_id(self, ctx: JobContext) -> str | None:
        sub = ctx.remote.get(ctx.remote.get("phase", "task")) or {}
        return sub.get("task_id") or ctx.remote_id

    async def fetch(self, ctx: JobContext, outputs: Sequence[Output]) -> list[Output]:
        return await super().fetch(ctx, outputs)  # the poller downloaded them already

    async def cancel(self, ctx: JobContext) -> None:
        """Stop polling (an unpolled task is dropped with no charge); v2 also deletes it."""
        for phase in ("detect", "task"):
            task_id = (ctx.remote.get(phase) or {}).get("task_id")
            if not task_id:
                continue
            w = self._watches.pop(task_id, None)
            if w is not None and w.future is not None:
                w.future.cancel()  # thread-safe, even before the poller has started
            elif w is not None and w.task is not None and self._io is not None:
                self._io.loop.call_soon_threadsafe(w.task.cancel)
            if self.gen != V1:
                try:
                    await self.io.run(self.client.delete_task(task_id))
                except ProviderError as exc:
                    log.info("youcam: deleting task failed: %s", exc)

    # -- account ------------------------------------------------------------------------------

    async def balance(self) -> Balance:
        credits = await self.io.run(self.client.credits())
        total = 0.0
        expiries = []
        for c in credits:
            amount = c.get("amount_dec", c.get("amount", 0))
            try:
                total += float(amount)
            except (TypeError, ValueError):
                continue
            when = _ms_to_dt(c.get("expiry"))
            if when is not None and float(amount) > 0:
                expiries.append(when)
        return Balance(total, min(expiries) if expiries else None, credits)

    async def history(self, limit: int = 20) -> list[HistoryEntry]:
        """The newest ``limit`` credit changes, following the pages as needed."""
        out: list[HistoryEntry] = []
        token: str | None = None
        while len(out) < limit:
            items, token = await self.io.run(
                self.client.credit_history(min(30, limit - len(out)), token)
            )
            for h in items:
                info = h.get("info") or {}
                amount = sum(float(c.get("amount", 0)) for c in info.get("credits") or [])
                out.append(
                    HistoryEntry(
                        id=str(h.get("id", "")),
                        when=_ms_to_dt(h.get("timestamp")),
                        action=str(h.get("action", "")),
                        target_id=str(h.get("target_id", "")),
                        amount=amount,
                    )
                )
            if not token or not items:
                break
        return out[:limit]

    async def feature_costs(self) -> dict[str, float]:
        """Credits per run by v2 task path, from YouCam's price list (empty with v1)."""
        skus = await self.io.run(self.client.feature_costs())
        out: dict[str, float] = {}
        for sku in skus:
            path = str(sku.get("run_task_url") or "").rstrip("/")
            # Any version ("/s2s/v2.1/task/hair-transfer" exists): YouCam-API/skills slug_of.
            slug = path.split("/task/")[-1] if "/task/" in path else path
            try:
                out[slug] = float(sku["amount"])
            except (KeyError, TypeError, ValueError):  # no price, null or not a number
                continue
        return out

    # -- styles -------------------------------------------------------------------------------

    async def list_styles(
        self, style_source: str, page_token: str | None = None, *, thumbnails: bool = True
    ) -> tuple[list[styles.StyleItem], str | None]:
        """One page of a style picker (v1 styles or v2 templates) with cached thumbnails."""

        async def run() -> tuple[list[styles.StyleItem], str | None]:
            items, nxt = await styles.list_page(self.client, style_source, page_token)
            if thumbnails:
                await styles.fetch_thumbnails(self.client, self.cache_dir / "thumbs", items)
            return items, nxt

        return await self.io.run(run())


def _bare(op: Operation) -> Operation:
    """``op`` without parameters or files: the body of face swap's detection step."""
    from dataclasses import replace

    return replace(op, params=(), api={k: v for k, v in op.api.items() if k != "output_ext"})
