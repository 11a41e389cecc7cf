"""Queueing work: the Apply / Apply to all flow and the input limits.

Apply (:class:`model.apply.ApplyFlow`) asks :meth:`SessionModel.check_inputs` first
(header-only probes in a worker, ``services.inputs.check_limits``), has the problems shown with
an offer to downscale, then plans with :meth:`SessionModel.prepare` and queues with
:meth:`SessionModel.submit`. A photo that is too large is sent the way ``retouchdesk run
--fit`` sends it: the job carries the ``fit_limits`` option and the engine sends a downscaled
copy (``services.inputs``), so the job's input stays the photo and its results go beside it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.model.operation import OperationModel
from retouchdesk.model.tasks import TaskRunner
from retouchdesk.services.batch import Decision, decide, plan_batch, work_key

if TYPE_CHECKING:
    from retouchdesk.services.engine import JobEngine
    from retouchdesk.services.inputs import LimitCheck
    from retouchdesk.services.jobspec import JobRequest

log = logging.getLogger(__name__)


class SessionModel(QObject):
    """Queues jobs through the engine and knows which results belong to which photo.

    Signals:
        queued(list): ids of the jobs just queued.
        message(str): a status-bar sentence.
    """

    queued = Signal(list)
    message = Signal(str)

    def __init__(
        self,
        engine: JobEngine,
        operation: OperationModel,
        runner: TaskRunner,
        cache_dir: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.operation = operation
        self.runner = runner
        # Earlier versions sent their own downscaled copies as the jobs' inputs; their results
        # stay versions of the photo. The engine makes such copies now (fit_limits).
        self._index_file = cache_dir / "downscaled" / "index.json"
        self._originals: dict[str, str] = self._read_index()
        # (photo, input file, params) -> (params, job options); set by the mask painter
        # (model.masking.MaskingModel.prepare_job) to freeze masks and protect-outside.
        self.job_hook: Callable[[Path, Path, dict[str, Any]], tuple[dict, dict]] | None = None
        # The working version of each photo (a job id; absent: the original). The next
        # Apply on the photo continues from it (model.history drives it).
        self.working: dict[Path, str] = {}
        self._digests: dict[tuple[Path, int, int], str] = {}

    # -- originals of downscaled copies ------------------------------------------------------
    def _read_index(self) -> dict[str, str]:
        """Copies the window itself sent for jobs queued by earlier versions (read only)."""
        try:
            return json.loads(self._index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    # -- kept versions --------------------------------------------------------------------------
    def _kept_file(self) -> Path:
        from retouchdesk.services import paths

        return paths.data_dir() / "kept_versions.json"

    def kept(self) -> set[str]:
        """Result files the photographer chose to keep (the compare view's Keep)."""
        try:
            return set(json.loads(self._kept_file().read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return set()

    def set_kept(self, result: Path, kept: bool = True) -> None:
        items = self.kept()
        (items.add if kept else items.discard)(str(result))
        path = self._kept_file()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(items)), encoding="utf-8")
        tmp.replace(path)

    def original_of(self, input_path: Path) -> Path:
        """The photo a job's input stands for (itself, or the original of a downscaled copy)."""
        return Path(self._originals.get(str(input_path), str(input_path)))

    def version_rows(self) -> dict[str, tuple[Path, str | None]]:
        """Job id -> (photo, parent job id) of every recorded version (the job database)."""
        return self.engine.store.versions()

    def version_rows_of(self, job_ids: list[str]) -> dict[str, tuple[Path, str | None]]:
        """The version rows of these jobs only (one indexed read, whatever the history)."""
        return self.engine.store.version_rows(job_ids)

    def photo_of_job(self, rec: JobRecord, rows: dict | None = None) -> Path:
        """The photo a job made a version of (a chained job's input is an earlier result)."""
        rows = self.version_rows_of([rec.id]) if rows is None else rows
        row = rows.get(rec.id)
        return row[0] if row is not None else self.original_of(rec.input_path)

    def parent_of(self, job_id: str, rows: dict | None = None) -> str | None:
        rows = self.version_rows_of([job_id]) if rows is None else rows
        row = rows.get(job_id)
        return row[1] if row is not None else None

    def versions(self, photo: Path) -> list[JobRecord]:
        """Finished results of ``photo`` in the order they were asked for: its versions.

        Ordered by queueing time, not finishing time, so that two jobs sent one after the
        other keep their places however the provider schedules them. Chained results (made
        from an earlier version) count for the photo the chain started from.
        """
        # Read by index (the photo's version rows, the jobs made from it or its downscaled
        # copies), never by walking the whole history: this runs after every finished job.
        inputs = [photo, *(Path(c) for c, o in self._originals.items() if Path(o) == photo)]
        out = [
            r
            for r, row in self.engine.history.versions_of(photo, inputs)
            if r.results
            and (row[0] if row is not None else self.original_of(r.input_path)) == photo
            and any(p.exists() for p in r.results)  # a result moved to the trash is no version
        ]
        return sorted({r.id: r for r in out}.values(), key=lambda r: r.created_at)

    def working_file(self, photo: Path) -> Path | None:
        """The file of ``photo``'s working version, or None when it is the original."""
        job_id = self.working.get(photo)
        rec = self.engine.get(job_id) if job_id else None
        if rec is None or rec.state is not JobState.DONE:
            return None
        return next((p for p in rec.results if p.exists()), None)

    def working_input(self, photo: Path) -> Path:
        """What the next operation on ``photo`` starts from: its working version."""
        return self.working_file(photo) or photo

    def photo_for_file(self, path: Path) -> Path:
        """The photo whose working version ``path`` is (the photo itself otherwise)."""
        for photo in self.working:
            if self.working_file(photo) == path:
                return photo
        return path

    def source_digest(self, photo: Path) -> str:
        """SHA-256 of a photo's file (cached per size and time), for the recipe's provenance."""
        from retouchdesk.core.recipe import file_sha256

        try:
            st = photo.stat()
        except OSError:
            return ""
        key = (photo, st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            self._digests[key] = file_sha256(photo)
        return self._digests[key]

    def chain_option(
        self, photo: Path, parent_id: str | None, provider: str, operation: str, params: dict
    ) -> dict[str, Any]:
        """The job option writing the chain (parent's steps + this one) into the result.

        Runs in a worker thread (it hashes the photo).
        """
        from retouchdesk.core import recipe as core_recipe
        from retouchdesk.services import recipes

        parent = self.engine.get(parent_id) if parent_id else None
        earlier = recipes.recipe_of(parent) if parent is not None else None
        step = recipes.for_provenance(
            self.engine.catalog, recipes.step_for(self.engine.catalog, provider, operation, params)
        )
        chain = core_recipe.Recipe(
            [*(earlier.steps if earlier else []), step],
            earlier.name if earlier else "",
            self.source_digest(photo),
            photo.name,
        )
        return recipes.recipe_option(chain)

    # -- queueing ------------------------------------------------------------------------------
    async def check_inputs(self, paths: list[Path]) -> list[LimitCheck]:
        """Probe every photo (header only, in a worker) against the operation's limits."""
        from retouchdesk.services.inputs import check_limits

        om = self.operation
        local = om.provider.kind == "local"

        def check_all() -> list[LimitCheck]:
            # A chain probes the working version; the caller knows photos.
            return [
                replace(check_limits(self.working_input(p), om.operation, local=local), path=p)
                for p in paths
            ]

        return await self.runner.in_thread(check_all)

    async def queue(
        self,
        paths: list[Path],
        *,
        downscale: dict[Path, tuple[int, int]] | None = None,
        values: dict[str, Any] | None = None,
    ) -> list[str]:
        """Queue the current operation for ``paths``; one path is a job, several a batch.

        ``downscale`` maps photos to the size of a copy the engine sends instead. Raises
        ParameterError when the parameters cannot run. Queues even work done before (Apply
        asks first, with :meth:`prepare` and :meth:`submit`).
        """
        return self.submit(await self.prepare(paths, downscale=downscale, values=values))

    async def prepare(
        self,
        paths: list[Path],
        *,
        downscale: dict[Path, tuple[int, int]] | None = None,
        values: dict[str, Any] | None = None,
    ) -> list[Planned]:
        """The jobs Apply would send, each with the same work done or running before.

        Two Applies are the same work when the provider, operation, parameters (masks
        included, frozen by content), job options, sent size, output folder, name template,
        format and the photo file (path, size, modification time) are the same: the second
        one would pay for the same pixels. The rules are the CLI's (``services.batch``): a
        photo listed twice is planned once, and each entry says whether the same work is
        done (``previous`` with its results), running, unconfirmed or stalled.
        """
        from retouchdesk.services.jobspec import FIT_LIMITS, JobRequest, default_output_dir

        om = self.operation
        status = om.status(om.provider_id)
        if not status.ready:
            raise RetouchError(status.reason)
        params = dict(values) if values is not None else om.validated()
        config = self.engine.config
        config.refresh_output()  # the key names the output settings the job will use
        requests: list[tuple[Path, Any, str | None]] = []
        for path in paths:
            parent_id = self.working.get(path)
            working = self.working_file(path)
            if working is None:
                parent_id = None
            src = working or path
            out_dir = default_output_dir(path, self.engine.config) if working else None
            req_params, options = params, {}
            if self.job_hook is not None:
                req_params, options = await self.runner.in_thread(self.job_hook, path, src, params)
            chain = await self.runner.in_thread(
                self.chain_option, path, parent_id, om.provider_id, om.operation_id, req_params
            )
            options = {**(options or {}), **chain}
            if downscale and path in downscale:
                options[FIT_LIMITS] = True  # the engine sends a copy within the limits
            request = JobRequest(
                provider=om.provider_id,
                operation=om.operation_id,
                input_path=src,
                params=req_params,
                output_dir=out_dir,
                options=dict(options or {}),
            )
            # The same key as the CLI's (services.batch.work_key): everything that changes
            # the result, down to where it is written and in which format.
            request.dedupe_key = work_key(
                om.provider_id,
                om.operation_id,
                path,
                req_params,
                {
                    "options": options,
                    "size": (downscale or {}).get(path),
                    "input": str(src),
                    "out": str((out_dir or default_output_dir(path, config)).absolute()),
                    "template": config.template,
                    "format": config.output_policy().get("format", "same"),
                },
            )
            requests.append((path, request, parent_id))
        plan = plan_batch(requests, lambda r: r[1].dedupe_key or "", self._lookup)
        return [
            Planned(path, request, p.previous, parent_id, p.decision)
            for p in plan.items
            if p.decision is not Decision.DUPLICATE  # a photo listed twice is queued once
            for path, request, parent_id in [p.entry]
        ]

    def _lookup(self, key: str) -> JobRecord | None:
        """The newest job with this key: the engine's live record, else the database's.

        A job another process runs (the CLI) is known only to the database; it counts.
        """
        found = self.engine.store.find_by_dedupe_key(key)
        if found is None:
            return None
        return self.engine.get(found.id) or found

    def _same_work(self, key: str) -> JobRecord | None:
        """The job that did (results still there) or is doing this work, else None."""
        rec = self._lookup(key)
        return rec if decide(rec) is not Decision.SUBMIT else None

    @staticmethod
    def sendable(planned: list[Planned], *, again: bool = False) -> list[Planned]:
        """The planned jobs Apply sends: new work, and done work only when run ``again``.

        Work still queued, running, unconfirmed or stalled is never sent from here, even
        when asked to run again: the engine already drives it, and an unconfirmed job is
        resent only from the job list, where the double charge is said.
        """
        allowed = {Decision.SUBMIT, Decision.DONE} if again else {Decision.SUBMIT}
        return [p for p in planned if p.decision in allowed]

    def record_versions(self, rows: list[tuple[str, Path, str | None]]) -> None:
        """Write each queued job's place in its photo's version tree to the job database."""
        for job_id, photo, parent_id in rows:
            self.engine.store.add_version(job_id, photo, parent_id)

    def submit(self, planned: list[Planned]) -> list[str]:
        """Queue the planned jobs (one is a job, several a batch); returns their ids."""
        if not planned:
            return []
        om = self.operation
        requests = [p.request for p in planned]
        if len(requests) == 1:
            ids = [self.engine.submit(requests[0]).id]
        else:
            batch = self.engine.submit_batch(requests)
            ids = [r.id for r in self.engine.batch_jobs(batch)]
        self.record_versions([(i, p.photo, p.parent_id) for i, p in zip(ids, planned, strict=True)])
        n = len(ids)
        self.message.emit(
            f"Queued {om.operation.label} for {n} photo{'s' if n != 1 else ''}"
            f" on {om.provider.name}"
        )
        self.queued.emit(ids)
        return ids


@dataclass
class Planned:
    """One job Apply would send; ``previous`` did the same work (done, or still running)."""

    photo: Path
    request: JobRequest
    previous: JobRecord | None = None
    parent_id: str | None = None  # the version this job continues from (None: the original)
    decision: Decision = Decision.SUBMIT  # services.batch: submit, done, running...

    @property
    def unfinished(self) -> bool:
        """The same work is queued, running, unconfirmed or stalled: never sent again here
        (the engine already drives it; an unconfirmed job is resent from the job list)."""
        return self.decision in (Decision.RUNNING, Decision.UNCONFIRMED, Decision.STALLED)
