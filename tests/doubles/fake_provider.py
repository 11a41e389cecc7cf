"""A scriptable remote-like provider for tests, with its "server" state in a folder.

The pretend server keeps everything on disk (jobs, requests, results), so it outlives the
process that talks to it: a CLI killed with SIGKILL and started again finds its jobs where it
left them, exactly like a real cloud service. It counts every submit request and every job it
creates per idempotency key, which is how tests prove that nothing was paid for twice.

Behaviour is scripted with ``script.json`` in the server folder (see :data:`DEFAULT_SCRIPT`):
delays, progress, failures, HTTP-429-like rate limits, credits running out, a synchronous
mode, and whether the provider declares idempotent submits and resume.

For tests only. Register it with ``registry.register("fake", make)`` or, for a subprocess,
``RETOUCHDESK_TEST_PROVIDERS=tests.doubles.fake_provider:make`` together with
``RETOUCHDESK_EXTRA_SCHEMAS=<repo>/tests/doubles/schemas`` and ``RETOUCHDESK_FAKE_SERVER=<dir>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance, ImageOps

from retouchdesk.core.errors import CreditsExhausted, ProviderError, RateLimited, RemoteJobLost
from retouchdesk.providers.base import (
    Capability,
    JobContext,
    Output,
    PollResult,
    Provider,
    RemoteState,
    SubmitResult,
)

PROVIDER_ID = "fake"
SCHEMA_DIR = Path(__file__).parent / "schemas"
SERVER_ENV = "RETOUCHDESK_FAKE_SERVER"

DEFAULT_SCRIPT: dict[str, Any] = {
    "duration": 0.2,  # seconds a job runs on the server
    "poll_interval": 0.05,  # what poll() asks the engine to wait
    "submit_delay": 0.0,  # seconds submit() waits after the server created the job
    "rate_limit_submits": 0,  # the first N submit requests are refused with 429
    "retry_after": 0.05,  # Retry-After of those refusals
    "poll_errors": 0,  # the first N polls fail with a retryable 503
    "credits": None,  # jobs the account may create; then CreditsExhausted
    "fail_inputs": [],  # file names the server fails on with a plain sentence
    "idempotent": True,  # declare IDEMPOTENT_SUBMIT (and honour the key)
    "resume": True,  # declare RESUME
    "sync": False,  # submit() returns the result directly
    "lose_submit_answers": 0,  # the first N created jobs' answers are lost (a reset)
    "max_concurrency": 2,
}


class FakeServer:
    """The pretend cloud service: jobs, counters and results in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("jobs", "keys", "results"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- scripting and inspection (tests call these) -------------------------------------

    @property
    def script(self) -> dict[str, Any]:
        path = self.root / "script.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        return {**DEFAULT_SCRIPT, **data}

    def set_script(self, **values: Any) -> None:
        path = self.root / "script.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data.update(values)
        path.write_text(json.dumps(data))

    def requests(self) -> list[dict[str, Any]]:
        """Every submit request that reached the server, in order."""
        return self._read_lines("requests.jsonl")

    def created(self) -> list[dict[str, Any]]:
        """Every job the server created (and would charge for)."""
        return self._read_lines("created.jsonl")

    def created_per_key(self) -> Counter[str]:
        return Counter(c["key"] for c in self.created())

    def created_per_input(self) -> Counter[str]:
        return Counter(c["input"] for c in self.created())

    def cancelled(self) -> list[str]:
        return [j["id"] for j in self._jobs() if j.get("cancelled")]

    # -- the API ---------------------------------------------------------------------------

    def submit(self, key: str, input_path: Path, op: str, params: dict[str, Any]) -> str:
        script = self.script
        with self._lock():
            n_requests = len(self.requests())
            self._append("requests.jsonl", {"key": key, "input": str(input_path), "t": time.time()})
            if n_requests < int(script["rate_limit_submits"]):
                wait = script["retry_after"]
                raise RateLimited("Too many requests", retry_after=wait, status=429)
            if script["idempotent"]:
                existing = self.root / "keys" / key
                if existing.exists():
                    return existing.read_text()
            credits = script["credits"]
            if credits is not None and len(self.created()) >= int(credits):
                raise CreditsExhausted("Your Fake Cloud credits are used up", status=402)
            rid = uuid.uuid4().hex[:12]
            job = {
                "id": rid,
                "key": key,
                "input": str(input_path),
                "op": op,
                "params": params,
                "created": time.time(),
                "duration": float(script["duration"]),
                "polls": 0,
            }
            (self.root / "jobs" / f"{rid}.json").write_text(json.dumps(job))
            if script["idempotent"]:
                (self.root / "keys" / key).write_text(rid)
            received = Path(input_path).read_bytes()  # what the vendor got, for tests to compare
            with Image.open(input_path) as im:
                pixels = list(im.size)
            mask_size = None
            if params.get("mask"):
                with Image.open(params["mask"]) as m:
                    mask_size = list(m.size)
            self._append(
                "created.jsonl",
                {
                    "key": key,
                    "input": str(input_path),
                    "id": rid,
                    "sha256": hashlib.sha256(received).hexdigest(),
                    "size": pixels,
                    "mask_size": mask_size,
                },
            )
        return rid

    def status(self, rid: str) -> dict[str, Any]:
        script = self.script
        with self._lock():
            path = self.root / "jobs" / f"{rid}.json"
            if not path.exists():
                raise RemoteJobLost(f"Fake Cloud no longer knows job {rid}")
            job = json.loads(path.read_text())
            job["polls"] += 1
            path.write_text(json.dumps(job))
            counter = self.root / "polls"
            total_polls = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(total_polls + 1))
        if total_polls < int(script["poll_errors"]):
            raise ProviderError("Fake Cloud is busy (503)", retryable=True, status=503)
        if job.get("cancelled"):
            return {"state": "failed", "error": "the job was cancelled"}
        elapsed = time.time() - job["created"]
        if elapsed < job["duration"]:
            return {"state": "running", "progress": elapsed / job["duration"]}
        name = Path(job["input"]).name
        if name in script["fail_inputs"]:
            return {"state": "failed", "error": f"Fake Cloud could not find a face in {name}"}
        results = self._render(job)
        return {"state": "done", "results": [str(p) for p in results]}

    def cancel(self, rid: str) -> None:
        with self._lock():
            path = self.root / "jobs" / f"{rid}.json"
            if path.exists():
                job = json.loads(path.read_text())
                job["cancelled"] = True
                path.write_text(json.dumps(job))

    def _render(self, job: dict[str, Any]) -> list[Path]:
        """The real work: an upright, brightened copy (and a dark one for ``variants``)."""
        outs = []
        factors = [("", float(job["params"].get("amount", 1.3)))]
        if job["op"] == "variants":
            factors = [("light", 1.4), ("dark", 0.6)]
        for label, factor in factors:
            out = self.root / "results" / f"{job['id']}{'_' + label if label else ''}.png"
            if not out.exists():
                with Image.open(job["input"]) as im:
                    im = ImageOps.exif_transpose(im).convert("RGB")
                    im = ImageEnhance.Brightness(im).enhance(factor)
                    tmp = out.with_suffix(".tmp.png")
                    im.save(tmp, "PNG")
                    os.replace(tmp, out)
            outs.append(out)
        return outs

    # -- storage ---------------------------------------------------------------------------

    def _jobs(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in (self.root / "jobs").glob("*.json")]

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / "lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _append(self, name: str, item: dict[str, Any]) -> None:
        with open(self.root / name, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(item) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _read_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.root / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class FakeProvider(Provider):
    """Talks to a :class:`FakeServer` the way a cloud client talks to its service."""

    id = PROVIDER_ID

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        script = server.script
        caps: set[Capability] = set()
        if script["idempotent"]:
            caps.add(Capability.IDEMPOTENT_SUBMIT)
        if script["resume"]:
            caps.add(Capability.RESUME)
        self.capabilities = frozenset(caps)
        self.max_concurrency = int(script["max_concurrency"])
        self.prepared: list[str] = []
        self.closed = False

    async def prepare(self, ctx: JobContext) -> None:
        ctx.remote["uploaded"] = ctx.input_path.name
        ctx.checkpoint()
        self.prepared.append(ctx.job_id)

    async def submit(self, ctx: JobContext) -> SubmitResult:
        import asyncio

        script = self.server.script
        rid = await asyncio.to_thread(
            self.server.submit,
            ctx.idempotency_key,
            ctx.input_path,
            ctx.operation.id,
            dict(ctx.params),
        )
        if script["submit_delay"]:
            await asyncio.sleep(float(script["submit_delay"]))  # the response is slow to come
        if len(self.server.created()) <= int(script["lose_submit_answers"]):
            raise ProviderError(
                "The connection to Fake Cloud was lost during submitting the job",
                code="ambiguous",
            )  # the job exists at the server; its answer never arrives
        if script["sync"]:
            while True:
                status = await asyncio.to_thread(self.server.status, rid)
                if status["state"] != "running":
                    break
                ctx.progress(status.get("progress"), "working")
                await asyncio.sleep(float(script["poll_interval"]))
            return SubmitResult(outputs=self._outputs(status, ctx), cost=1.0)
        return SubmitResult(remote_id=rid, cost=1.0)

    async def poll(self, ctx: JobContext) -> PollResult:
        import asyncio

        assert ctx.remote_id
        status = await asyncio.to_thread(self.server.status, ctx.remote_id)
        interval = float(self.server.script["poll_interval"])
        if status["state"] == "running":
            return PollResult(
                RemoteState.RUNNING,
                progress=status["progress"],
                message="on the server",
                next_poll=interval,
            )
        if status["state"] == "failed":
            return PollResult(RemoteState.FAILED, error=status["error"])
        return PollResult(RemoteState.DONE, outputs=self._outputs(status, ctx), cost=1.0)

    def _outputs(self, status: dict[str, Any], ctx: JobContext) -> list[Output]:
        if status["state"] == "failed":
            raise ProviderError(status["error"])
        outs = []
        for p in status["results"]:
            stem = Path(p).stem
            label = stem.split("_", 1)[1] if "_" in stem else ""
            meta = {"server": "fake"}
            outs.append(Output(url=f"fake://{p}", suffix=".png", label=label, meta=meta))
        return outs

    async def fetch(self, ctx: JobContext, outputs: Sequence[Output]) -> list[Output]:
        """ "Downloads" each result into the job's scratch folder, as a client would."""
        out = []
        for i, o in enumerate(outputs):
            assert o.url and o.url.startswith("fake://")
            dest = ctx.work_dir / f"download_{i}.png"
            shutil.copyfile(o.url[len("fake://") :], dest)
            out.append(Output(path=dest, suffix=".png", label=o.label, meta=o.meta))
        return out

    async def cancel(self, ctx: JobContext) -> None:
        if ctx.remote_id:
            self.server.cancel(ctx.remote_id)

    async def aclose(self) -> None:
        self.closed = True


def server_root() -> Path:
    root = os.environ.get(SERVER_ENV)
    if root:
        return Path(root)
    home = os.environ.get("RETOUCHDESK_HOME")
    if not home:
        raise RuntimeError("the fake provider needs RETOUCHDESK_FAKE_SERVER or RETOUCHDESK_HOME")
    return Path(home) / "fake-server"


def make(env: Any = None) -> FakeProvider:
    """Factory for the registry: ``registry.register("fake", make)``."""
    return FakeProvider(FakeServer(server_root()))


def build_fake_runtime(db_path: Path, **config: Any) -> Any:
    """A runtime whose catalog includes the fake schema and whose registry knows ``fake``.

    ``config`` goes to :class:`EngineConfig` (short backoffs by default, so retries are quick).
    The server folder comes from ``RETOUCHDESK_FAKE_SERVER`` (or the app home).
    """
    from retouchdesk.services import registry
    from retouchdesk.services.engine import EngineConfig
    from retouchdesk.services.runtime import build_runtime, load_full_catalog
    from retouchdesk.services.settings import Settings

    registry.register(PROVIDER_ID, make)
    config.setdefault("backoff_base", 0.01)
    config.setdefault("backoff_max", 0.05)
    return build_runtime(
        settings=Settings(),
        catalog=load_full_catalog([SCHEMA_DIR]),
        engine_config=EngineConfig(**config),
        db_path=db_path,
    )
