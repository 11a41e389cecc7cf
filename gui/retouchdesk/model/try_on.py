"""Try on…: one photo sent to several operations at once, their results compared in a grid.

The photographer picks operations of different services (Enhancor Realistic Skin, CodeFormer,
AdCreative face enhance, the offline skin smoothing...) for the *working version* of the
current photo; the total cost is said before anything is sent; the jobs are queued as one
batch (so a run of them shows as one row in the job list, and a service whose credits run out
stops only its own jobs); each result is a version of the photo like any Apply, and picking one
makes it the working version (``HistoryModel.continue_from``).

Each operation runs with its default parameters, or with the panel's values when it is the
operation chosen in the panel; the painted mask goes to the operations that take one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobState
from retouchdesk.core.schema import Catalog, Inapplicable, Operation, ParamKind
from retouchdesk.model.display import DisplayImage, load_display
from retouchdesk.model.operation import OperationModel
from retouchdesk.model.session import SessionModel
from retouchdesk.model.tasks import TaskRunner
from retouchdesk.services.batch import work_key

if TYPE_CHECKING:
    from retouchdesk.model.history import HistoryModel
    from retouchdesk.model.masking import MaskingModel

log = logging.getLogger(__name__)

#: Stands for the painted mask in a mask parameter until it is frozen at the input's size.
PAINTED = "painted-mask.png"


@dataclass(frozen=True)
class Choice:
    """One operation that can be tried: its ids, names, price and whether it can run now."""

    provider: str
    operation: str
    label: str  # "Enhancor · Realistic Skin"
    amount: float | None  # price per run where published (0: free), None: unknown
    unit: str
    cost_text: str  # the schema's sentence when the amount is unknown
    ready: bool = True
    reason: str = ""  # why it cannot run now (missing key, needs a mask...)
    suggested: int = 0  # the operation's ``try_on`` rank: checked by default, 1 first

    @property
    def key(self) -> str:
        return f"{self.provider}.{self.operation}"

    def price(self) -> str:
        """'Free', '2 credits', or the schema's sentence when the service reports it later."""
        from retouchdesk.model.jobs import counted

        if self.amount is None:
            return self.cost_text or "price not published"
        return "Free" if self.amount == 0 else counted(self.amount, self.unit)


def total_cost_text(choices: list[Choice]) -> str:
    """The price of sending the photo to every choice, as the Apply flow says it.

    Published prices add up per unit; services that report their price only when a job
    runs are named, never counted as free.
    """
    from retouchdesk.model.jobs import counted

    sums: dict[str, float] = {}
    unknown: list[str] = []
    for c in choices:
        if c.amount is None:
            unknown.append(c.label.split(" · ")[0])
        elif c.amount:
            sums[c.unit] = sums.get(c.unit, 0.0) + c.amount
    parts = [counted(v, u) for u, v in sums.items()]
    known = " + ".join(parts) if parts else "Free"
    if not unknown:
        return known
    names = ", ".join(dict.fromkeys(unknown))
    return f"{known} + what {names} charge{'s' if len(unknown) == 1 else ''} when run"


@dataclass
class Cell:
    """One tried operation of the current run: its job and, once done, its result."""

    choice: Choice
    job_id: str | None = None
    state: str = "waiting"  # waiting | running | done | failed | skipped
    note: str = ""  # the failure or skip sentence, or "made earlier"
    image: DisplayImage | None = None
    result: Path | None = None
    cost: str = ""
    seconds: float | None = None
    estimate: float | None = None


@dataclass
class TryOnRun:
    """The photo and version tried, and one cell per chosen operation."""

    photo: Path
    source: Path  # the working version that was sent
    parent_id: str | None
    cells: list[Cell] = field(default_factory=list)
    batch_id: str | None = None
    original: DisplayImage | None = None
    sent: bool = False  # every cell has its job (or its reason for being skipped)

    def cell(self, job_id: str) -> Cell | None:
        return next((c for c in self.cells if c.job_id == job_id), None)

    @property
    def finished(self) -> bool:
        return self.sent and all(c.state in ("done", "failed", "skipped") for c in self.cells)


class TryOnModel(QObject):
    """Builds, sends and follows a Try on… run; picks a result as the working version.

    Signals:
        changed(): a cell's state, image, cost or time changed (or a new run started).
        message(str)
    """

    changed = Signal()
    message = Signal(str)

    def __init__(
        self,
        session: SessionModel,
        operation: OperationModel,
        history: HistoryModel,
        runner: TaskRunner,
        *,
        masking: MaskingModel | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.operation = operation
        self.history = history
        self.runner = runner
        self.catalog: Catalog = operation.catalog
        self.masking = masking  # the painted mask goes to the operations that take one
        self.run: TryOnRun | None = None

    # -- what can be tried ------------------------------------------------------------------
    def choices(self) -> list[Choice]:
        """Every image operation of every provider, the suggested ones first."""
        out: list[Choice] = []
        for pid, prov in self.catalog.providers.items():
            status = self.operation.status(pid)
            for op in prov.operations.values():
                if getattr(op.result, "kind", "image") not in ("image", "images"):
                    continue
                reason = status.reason if not status.ready else self._cannot_run(op)
                out.append(
                    Choice(
                        pid,
                        op.id,
                        f"{prov.name} · {op.label}",
                        op.cost.amount,
                        op.cost.unit,
                        op.cost.text,
                        ready=not reason,
                        reason=reason,
                        suggested=op.try_on,
                    )
                )
        # Suggested first, by their rank; the rest keep the catalog's order (sorted is stable).
        return sorted(out, key=lambda c: c.suggested or len(out) + 1)

    def suggested(self, choices: list[Choice]) -> list[Choice]:
        """What a portrait retoucher compares first (the schemas' ``try_on``), if it can run."""
        return [c for c in choices if c.suggested and c.ready]

    def _cannot_run(self, op: Operation) -> str:
        try:
            self.params_for(op, probe=True)
        except RetouchError as exc:
            return str(exc)
        return ""

    def params_for(self, op: Operation, *, probe: bool = False) -> dict[str, Any]:
        """The values an operation runs with: the panel's for the panel's operation, else
        its defaults; a required mask counts as present when one is painted."""
        om = self.operation
        if om.operation_id and op.key == om.operation.key:
            raw = {k: v for k, v in om.values.items() if v is not None}
        else:
            raw = {k: v for k, v in op.initial_values().items() if v is not None}
        masks = [p for p in op.params if p.kind is ParamKind.MASK and p.applies(raw)]
        if probe and masks and self._has_mask():
            for p in masks:
                raw.setdefault(p.name, PAINTED)
        missing = [p for p in masks if p.required and not raw.get(p.name)]
        if missing:
            raise RetouchError(f"{op.label} needs a painted mask")
        return op.validate(raw, inapplicable=Inapplicable.DROP)

    def _has_mask(self) -> bool:
        m = self.masking
        doc = getattr(m, "document", None) if m is not None else None
        return doc is not None and not doc.is_empty()

    def estimate_seconds(self, choice: Choice, size: tuple[int, int] | None) -> float | None:
        """The Apply flow's time estimate (measured speed, else the schema's hint)."""
        from retouchdesk.model import estimate

        op = self.catalog.operation(choice.provider, choice.operation)
        try:
            params = self.params_for(op, probe=True)
        except RetouchError:
            return None
        jobs = self.session.engine.jobs()
        rate, _how = estimate.seconds_per_mp(op, params, jobs, lambda _p: size)
        return estimate.job_seconds(rate, size)

    # -- sending -----------------------------------------------------------------------------
    async def start(self, photo: Path, chosen: list[Choice]) -> TryOnRun:
        """Send the working version of ``photo`` to every chosen operation (one batch).

        Work done before with the same input and values is shown again, not sent (and paid)
        twice; an operation that cannot take this photo is skipped with its sentence.
        """
        from retouchdesk.services.jobspec import JobRequest

        session = self.session
        parent_id = self.history.working_job(photo) if self.history is not None else None
        source = session.working_input(photo)
        run = TryOnRun(photo, source, parent_id)
        self.run = run
        size = await self.runner.in_thread(_size_of, source)
        requests: list[tuple[Cell, Any]] = []
        for choice in chosen:
            cell = Cell(choice, estimate=self.estimate_seconds(choice, size))
            run.cells.append(cell)
            op = self.catalog.operation(choice.provider, choice.operation)
            try:
                params, options, out_dir = await self._prepare(cell, op, run)
            except RetouchError as exc:
                cell.state, cell.note = "skipped", str(exc)
                continue
            key = work_key(
                op.provider, op.id, photo, params, {"options": options, "input": str(source)}
            )
            earlier = session._same_work(key)
            if earlier is not None:
                cell.job_id = earlier.id
                cell.note = "made earlier, not sent again"
                self._follow(cell, earlier)
                continue
            request = JobRequest(
                provider=op.provider,
                operation=op.id,
                input_path=source,
                params=params,
                output_dir=out_dir,
                dedupe_key=key,
                options=options,
            )
            requests.append((cell, request))
        if requests:
            self._send(run, requests)
        run.sent = True
        self.changed.emit()
        self.runner.spawn(self._load_original(run), name="try-on:original")
        return run

    async def _prepare(
        self, cell: Cell, op: Operation, run: TryOnRun
    ) -> tuple[dict[str, Any], dict[str, Any], Path | None]:
        """(parameters, job options, output folder) of one operation on the run's input;
        raises RetouchError with the sentence of why it cannot take it."""
        from retouchdesk.services.inputs import check_limits
        from retouchdesk.services.jobspec import FIT_LIMITS, default_output_dir

        photo, source = run.photo, run.source
        status = self.operation.status(cell.choice.provider)
        if not status.ready:
            raise RetouchError(status.reason)
        params = self.params_for(op, probe=True)
        out_dir = None
        if source != photo:
            out_dir = default_output_dir(photo, self.session.engine.config)
        local = self.catalog.provider(cell.choice.provider).kind == "local"
        check = await self.runner.in_thread(check_limits, source, op, local=local)
        fit = not check.ok and check.fixable and check.fit_size is not None
        if not check.ok and not fit:
            raise RetouchError(f"{op.label}: {'; '.join(check.problems)}")
        if fit:
            cell.note = "sent as a smaller copy"
        params, options = await self.runner.in_thread(self._masks, op, photo, source, params)
        if fit:
            options[FIT_LIMITS] = True  # the engine sends a copy within the limits
        if PAINTED in params.values():  # the mask could not be frozen for this input
            raise RetouchError(f"{op.label} needs a painted mask")
        chain = await self.runner.in_thread(
            self.session.chain_option, photo, run.parent_id, op.provider, op.id, params
        )
        return params, {**options, **chain}, out_dir

    def _send(self, run: TryOnRun, requests: list[tuple[Cell, Any]]) -> None:
        """Queue the requests as one batch; each cell follows its job."""
        session = self.session
        engine = session.engine
        run.batch_id = engine.submit_batch([r for _c, r in requests])
        jobs = sorted(engine.batch_jobs(run.batch_id), key=lambda r: r.created_at)
        ids: list[str] = []
        for (cell, _req), rec in zip(requests, _in_order(jobs, requests), strict=True):
            cell.job_id, cell.state = rec.id, "running"
            ids.append(rec.id)
        session.record_versions([(i, run.photo, run.parent_id) for i in ids])
        session.queued.emit(ids)
        n = len(requests)
        self.message.emit(f"Sent {run.photo.name} to {n} operation{'s' if n != 1 else ''}")

    def _masks(
        self, op: Operation, photo: Path, src: Path, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Freeze the painted mask at the input's size for the operation's mask parameters;
        with Protect outside on, an operation without one keeps the outside unchanged."""
        names = [p.name for p in op.params if p.kind is ParamKind.MASK and p.applies(params)]
        m = self.masking
        if m is None or not self._has_mask():
            return params, {}
        size = _size_of(src)
        arr = m.mask_for(photo, size) if size is not None else None
        if arr is None:
            return params, {}
        frozen = m.library.freeze(arr)
        params = dict(params)
        for name in names:
            if params.get(name) in (None, "", PAINTED):  # a mask file picked in the panel stays
                params[name] = str(frozen)
        options: dict[str, Any] = {}
        if m.protect_outside and not names:
            from retouchdesk.services.postprocess import protect_option

            options.update(
                protect_option(frozen, expand=m._protect_expand, feather=m._protect_feather)
            )
        if names:
            params = op.validate(params, inapplicable=Inapplicable.DROP)
        return params, options

    # -- following ---------------------------------------------------------------------------
    def job_finished(self, job_id: str) -> None:
        run = self.run
        cell = run.cell(job_id) if run is not None else None
        rec = self.session.engine.get(job_id)
        if cell is not None and rec is not None:
            self._follow(cell, rec)

    def job_failed(self, job_id: str, error: str) -> None:
        run = self.run
        cell = run.cell(job_id) if run is not None else None
        if cell is not None:
            cell.state, cell.note = "failed", error or "failed"
            self.changed.emit()

    def _follow(self, cell: Cell, rec: Any) -> None:
        from retouchdesk.model.jobs import _cost_text

        if rec.state is JobState.DONE and rec.results:
            cell.result = next((p for p in rec.results if p.exists()), None)
            cell.cost = _cost_text(rec.cost, rec.cost_unit or cell.choice.unit) or (
                "Free" if cell.choice.amount == 0 else "not reported"
            )
            cell.seconds = rec.elapsed
            if cell.result is None:
                cell.state, cell.note = "failed", "the result is gone"
            else:
                cell.state = "loading"
                self.runner.spawn(self._load(cell), name=f"try-on:{cell.job_id}")
        elif rec.state.terminal:
            cell.state, cell.note = "failed", rec.error or rec.state.name.lower()
        else:
            cell.state = "running"
        self.changed.emit()

    async def _load(self, cell: Cell) -> None:
        assert cell.result is not None
        cell.image = await self.runner.in_thread(load_display, cell.result)
        cell.state = "done"
        self.changed.emit()

    async def _load_original(self, run: TryOnRun) -> None:
        run.original = await self.runner.in_thread(load_display, run.source)
        self.changed.emit()

    # -- picking -----------------------------------------------------------------------------
    def pick(self, job_id: str) -> bool:
        """Make a tried result the photo's working version (undoable like Continue)."""
        run = self.run
        cell = run.cell(job_id) if run is not None else None
        if run is None or cell is None or cell.state != "done":
            return False
        self.history.continue_from(job_id, run.photo)
        self.message.emit(f"{cell.choice.label} is now the working version of {run.photo.name}")
        return True


def _in_order(jobs: list[Any], requests: list[tuple[Cell, Any]]) -> list[Any]:
    """The batch's records in the order of ``requests`` (matched by provider, operation)."""
    left = list(jobs)
    out = []
    for _cell, req in requests:
        i = next(
            i
            for i, r in enumerate(left)
            if r.provider == req.provider and r.operation == req.operation
        )
        out.append(left.pop(i))
    return out


def _size_of(path: Path) -> tuple[int, int] | None:
    try:
        from retouchdesk.core.imageio import probe

        info = probe(path)
        return info.width, info.height
    except Exception:  # unreadable: no estimate, the job reports the file itself
        return None
