"""What a caller asks of the job engine, how the engine is set up, and the row a request becomes.

:class:`JobRequest` is the caller's side (the CLI, the window's view-models); :class:`EngineConfig`
holds the engine's knobs, read from the settings; :func:`new_record` turns a request into the
:class:`JobRecord` the engine persists and runs. Nothing here runs a job.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core import naming
from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobRecord
from retouchdesk.core.schema import Catalog

if TYPE_CHECKING:
    from retouchdesk.services.settings import Settings

# Job option: send a downscaled copy when the photo breaks the operation's size limits.
FIT_LIMITS = "fit_limits"


@dataclass
class JobRequest:
    """What a caller asks for; the engine turns it into a :class:`JobRecord` row.

    ``output_dir`` and ``name_template`` default to the settings. ``dedupe_key`` lets a caller
    find the job again later (the CLI skips work that is already done).
    """

    provider: str
    operation: str
    input_path: Path
    params: dict[str, Any] = field(default_factory=dict)
    output_dir: Path | None = None
    name_template: str | None = None
    dedupe_key: str | None = None
    idempotency_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # see services.postprocess


@dataclass
class EngineConfig:
    """The engine's knobs, normally read from settings (``EngineConfig.from_settings``)."""

    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    job_deadline: float = 3600.0  # one run follows a remote job this long, then it is stalled
    unconfirmed_wait: float = 120.0  # how long an unconfirmed job waits for a late answer
    concurrency: dict[str, int] = field(default_factory=dict)  # overrides per provider
    output_dir: str = ""
    output_subfolder: str = "retouched"
    template: str = naming.DEFAULT_TEMPLATE
    policy: dict[str, Any] = field(default_factory=dict)  # core.imageio.OutputPolicy fields
    lazy_save_delay: float = 0.1  # progress and intermediate states reach SQLite this late
    work_root: Path | None = None  # scratch folders of jobs (default: cache dir / jobs)
    # When set, the output settings are read again for every new job, so a change made in the
    # Settings dialog applies to the next job without a restart.
    live: Settings | None = None
    policy_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. the CLI's --format
    # Finished jobs read per page (newest first) when a job list asks: a long history costs
    # neither start-up time nor memory (unfinished jobs are always read, all of them).
    history_page: int = 50  # rows of 34 px: more than any job panel shows at once

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        g = settings.get
        config = cls(
            max_attempts=max(1, int(g("engine", "max_attempts"))),
            backoff_base=float(g("engine", "backoff_base")),
            backoff_max=float(g("engine", "backoff_max")),
            job_deadline=float(g("engine", "job_deadline")),
            unconfirmed_wait=float(g("engine", "unconfirmed_wait")),
            concurrency=parse_concurrency(g("engine", "concurrency")),
            live=settings,
        )
        config.refresh_output()
        return config

    def refresh_output(self) -> None:
        """Re-read the output settings (folder, template, format, metadata) when live."""
        if self.live is None:
            return
        g = self.live.get
        self.output_dir = g("output", "dir")
        self.output_subfolder = g("output", "subfolder")
        self.template = g("output", "template")
        self.policy = {
            "format": g("output", "format"),
            "jpeg_quality": g("output", "jpeg_quality"),
            "keep_exif": g("output", "keep_exif"),
            "keep_icc": g("output", "keep_icc"),
            "keep_xmp": g("output", "keep_xmp"),
            "keep_gps": g("output", "keep_gps"),
        }

    def output_policy(self) -> dict[str, Any]:
        return {**self.policy, **self.policy_overrides}


def parse_concurrency(text: str) -> dict[str, int]:
    """``"youcam=1, local=2"`` -> ``{"youcam": 1, "local": 2}``; bad entries are ignored."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            if name.strip() and int(value) > 0:
                out[name.strip()] = int(value)
    return out


def default_output_dir(input_path: Path, config: EngineConfig) -> Path:
    """The settings' output folder, or a subfolder beside the photo."""
    if config.output_dir:
        return Path(config.output_dir).expanduser()
    return input_path.parent / (config.output_subfolder or "retouched")


def new_record(
    req: JobRequest, batch_id: str | None, config: EngineConfig, catalog: Catalog
) -> JobRecord:
    """The queued row for ``req``: paths made absolute, the settings' defaults filled in.

    The output settings are read again first (when live), so the Settings dialog's last
    change applies to this job.
    """
    config.refresh_output()
    input_path = Path(req.input_path).expanduser().absolute()
    out_dir = Path(req.output_dir).expanduser().absolute() if req.output_dir else None
    return JobRecord(
        id=uuid.uuid4().hex,
        provider=req.provider,
        operation=req.operation,
        input_path=input_path,
        params=_absolute_file_params(req, catalog),
        output_dir=out_dir or default_output_dir(input_path, config).absolute(),
        name_template=req.name_template or config.template,
        batch_id=batch_id,
        idempotency_key=req.idempotency_key or uuid.uuid4().hex,
        options=dict(req.options),
        message="queued",
    )


def _absolute_file_params(req: JobRequest, catalog: Catalog) -> dict[str, Any]:
    """File parameters are made absolute now, against the caller's working folder."""
    params = dict(req.params)
    try:
        op = catalog.operation(req.provider, req.operation)
    except RetouchError:
        return params  # reported when the job runs
    for p in op.file_params:
        value = params.get(p.name)
        if isinstance(value, str | Path) and str(value):
            params[p.name] = str(Path(value).expanduser().absolute())
    return params
