"""``retouchdesk run --provider P --op O --set k=v ... FILES_OR_FOLDERS -o OUT``: a batch.

Live progress on standard error and a summary on standard output (:mod:`cli.progress`); exit
code 0 only when every file succeeded. ``--recipe`` runs a recipe's steps instead
(:mod:`cli.recipe`), one :func:`run_batch` per step.

Running the same command again skips what is done, by the rules of the batch planner
(:mod:`services.batch`, shared with the window's Apply to all). Each file's job carries a key
made of the provider, operation, validated parameters, output folder, name template, output
format and the input's absolute path, size and modification time. A job with that key that
is done and whose result files still exist is skipped; one that was interrupted (even by a
SIGKILL) is resumed (polling its remote job, never paying twice); an unconfirmed one is
resumed but not sent again unless ``--resend-unconfirmed``; a failed or cancelled one is run
again. ``--force`` runs everything again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, err
from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobState
from retouchdesk.services import walk as _walk_module
from retouchdesk.services.batch import Decision, plan_batch, work_key

if TYPE_CHECKING:
    from retouchdesk.cli.progress import BatchView

#: The built-in offline engine's provider id (``providers.local``).
LOCAL_PROVIDER = "local"

# One walker and one list of photo types for the CLI and the window (services/walk.py).
IMAGE_EXTENSIONS = set(_walk_module.IMAGE_EXTENSIONS)
VIDEO_EXTENSIONS = set(_walk_module.VIDEO_EXTENSIONS)


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="process files and folders",
        description="Process photos (folders are walked recursively). Running the same command "
        "again skips what is done and resumes what was interrupted.",
    )
    run.add_argument("--provider", "-p", help="provider id (default: general.default_provider)")
    run.add_argument("--op", help="operation id (see `retouchdesk ops`)")
    run.add_argument(
        "--recipe",
        type=Path,
        metavar="CHAIN.toml",
        help="run a recipe's steps in order on every photo (instead of --op)",
    )
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter; repeat for several (file parameters take a path: --set mask=m.png)",
    )
    run.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER")
    run.add_argument("-o", "--output", type=Path, help="output folder (structure mirrored)")
    run.add_argument("--template", help="result file name template (output.template)")
    run.add_argument(
        "--format", choices=["same", "jpeg", "png", "tiff", "webp"], help="result format"
    )
    run.add_argument(
        "--fit",
        action="store_true",
        help="send a downscaled copy of a photo that is too large for the operation",
    )
    run.add_argument(
        "--protect-outside",
        type=Path,
        metavar="MASK",
        help="keep every pixel outside this mask (white = selected) as in the original",
    )
    run.add_argument(
        "--protect-feather",
        type=float,
        default=8.0,
        metavar="PX",
        help="soft edge inside the protected mask (default 8)",
    )
    run.add_argument("--force", action="store_true", help="process again files already done")
    run.add_argument(
        "--resend-unconfirmed",
        action="store_true",
        help=(
            "send again the photos whose earlier submission is unconfirmed (its answer was "
            "lost); the provider may then run and charge them twice"
        ),
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)


@dataclass
class Item:
    """One input of a batch and what became of it."""

    path: Path
    out_dir: Path | None
    key: str = ""
    job_id: str | None = None
    status: str = "pending"  # pending, skipped, missing, busy, or a JobState value
    walked: bool = False  # found in a folder (not named on the command line)
    detail: str = ""
    results: list[Path] = field(default_factory=list)
    params: dict[str, Any] | None = None  # this input's own parameters (a recipe's masks)
    options: dict[str, Any] = field(default_factory=dict)  # added to the batch's job options


def collect_inputs(
    inputs: list[str], out: Path | None, *, video: bool = False, skip_dirs: tuple[str, ...] = ()
) -> list[Item]:
    """Files as given; folders walked recursively (images only), mirrored under ``out``."""
    exts = VIDEO_EXTENSIONS if video else IMAGE_EXTENSIONS
    items: list[Item] = []
    out_abs = out.absolute() if out else None
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            for f in _walk(path, exts, skip_dirs, out_abs):
                rel_parent = f.relative_to(path).parent
                items.append(Item(f, (out / rel_parent) if out else None, walked=True))
        else:
            items.append(Item(path, out))
    return items


_walk = _walk_module.walk


def inputs_of(rt: Any, args: argparse.Namespace, *, video: bool = False) -> list[Item]:
    """The inputs of a ``run``: files as given, folders walked, earlier results left out."""
    items = collect_inputs(
        args.inputs,
        args.output,
        video=video,
        skip_dirs=(rt.settings.get("output", "subfolder"),) if not args.output else (),
    )
    # Results of earlier jobs found in a walked folder (an output folder inside the input,
    # or results written beside the photos) are not photos to process again.
    earlier = {str(p.absolute()) for r in rt.store.all() for p in r.results}
    return [i for i in items if not (i.walked and str(i.path.absolute()) in earlier)]


def parse_sets(sets: list[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise RetouchError(f"--set {item!r} must look like KEY=VALUE")
        raw[key.strip()] = value
    return raw


def dedupe_key(item: Item, provider: str, op: str, params: dict[str, Any], extra: dict) -> str:
    """The planner's key of one input (``services.batch.work_key``) with its output folder."""
    out = str(item.out_dir.absolute()) if item.out_dir else ""
    return work_key(provider, op, item.path, params, {"out": out, **extra})


def _params_of(item: Item, params: dict[str, Any]) -> dict[str, Any]:
    """The batch's parameters, or this input's own (a recipe step's frozen masks)."""
    return params if item.params is None else item.params


def cmd_run(args: argparse.Namespace) -> int:
    if args.recipe is None and args.op and args.provider == LOCAL_PROVIDER:
        # The offline worker's process starts first of all: its interpreter, numpy and OpenCV
        # load while this command imports its own modules, reads its settings and plans (the
        # warm-up below takes that process).
        from retouchdesk.providers.local.worker import prestart

        prestart()
    from retouchdesk.core import naming
    from retouchdesk.core.schema import Inapplicable
    from retouchdesk.services.runtime import build_runtime

    if args.recipe is not None:
        from retouchdesk.cli.recipe import cmd_run_recipe

        if args.op or args.sets:
            err("--recipe runs the recipe's own steps: leave out --op and --set")
            return EXIT_USAGE
        return cmd_run_recipe(args)
    if not args.op:
        err("Say what to run: --op OPERATION, or --recipe CHAIN.toml")
        return EXIT_USAGE
    rt = build_runtime(lazy_secrets=True)  # an offline job never opens the keyring
    try:
        provider = args.provider or rt.settings.get("general", "default_provider")
        try:
            op = rt.catalog.operation(provider, args.op)
            params = op.validate(parse_sets(args.sets), inapplicable=Inapplicable.ERROR)
            template = args.template or rt.settings.get("output", "template")
            naming.check_template(template)
        except RetouchError as exc:
            err(str(exc))
            return EXIT_USAGE
        if rt.catalog.provider(op.provider).kind == "local":
            # The offline worker process starts now: its interpreter, numpy and OpenCV load
            # while this command plans the batch and checks the photos, not after.
            with contextlib.suppress(RetouchError):
                rt.provider(op.provider).warm_up()
        for p in op.file_params:  # relative to where the command runs
            if params.get(p.name):
                params[p.name] = str(Path(params[p.name]).expanduser().absolute())
        if args.format:
            rt.engine.config.policy_overrides["format"] = args.format
        fmt = rt.engine.config.output_policy().get("format", "same")
        items = inputs_of(rt, args, video=op.input_kind == "video")
        if not items:
            err("No images found in " + ", ".join(args.inputs))
            return EXIT_FAILED
        return asyncio.run(run_batch(rt, op, params, template, fmt, items, args))
    finally:
        rt.store.close()


async def run_batch(
    rt: Any,
    op: Any,
    params: dict[str, Any],
    template: str,
    fmt: str,
    items: list[Item],
    args,
    *,
    close: bool = True,
) -> int:
    """Plan ``items`` (skip, resume or submit each), run them with live progress, and say
    how it went; the exit code of the command."""
    from retouchdesk.cli.progress import BatchView

    extra: dict[str, Any] = {"template": template, "format": fmt, "fit": bool(args.fit)}
    options = _job_options(args, extra)
    if options is None:
        return EXIT_FAILED
    for item in items:
        if not item.path.exists():
            item.status, item.detail = "missing", f"{item.path}: no such file or folder"
    # Planning and claiming are one database transaction: a second identical command started
    # at the same instant waits here, then finds these jobs and their live owner ("busy").
    planning = contextlib.ExitStack()
    planning.enter_context(rt.store.exclusive())
    plan = _plan(rt, op, params, template, items, args, extra, options)
    view = BatchView(items, quiet=args.quiet)
    interrupted = await _run_plan(rt, plan, view, planning, close=close)
    return _finish(rt.engine, plan, items, view, interrupted=interrupted)


@dataclass
class _Plan:
    """What a batch does: the jobs to submit, those to resume (and resend), and the input
    each job is for."""

    requests: list[tuple[Item, Any]] = field(default_factory=list)  # (item, JobRequest)
    resume_ids: list[str] = field(default_factory=list)
    resend_ids: list[str] = field(default_factory=list)
    by_job: dict[str, Item] = field(default_factory=dict)


def _job_options(args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any] | None:
    """The options every job of the batch carries (fit, protect outside), with what they
    change added to the planner's ``extra``; None when the protect mask does not exist."""
    options: dict[str, Any] = {"fit_limits": True} if args.fit else {}
    if getattr(args, "protect_outside", None):
        from retouchdesk.services.postprocess import protect_option

        mask = Path(args.protect_outside).expanduser().resolve()
        if not mask.is_file():
            err(f"The mask {args.protect_outside} does not exist")
            return None
        options.update(protect_option(mask, feather=max(0.0, args.protect_feather)))
        extra["protect"] = options["protect_outside"]  # a protected run is another result
    return options


def _plan(
    rt: Any,
    op: Any,
    params: dict[str, Any],
    template: str,
    items: list[Item],
    args: argparse.Namespace,
    extra: dict[str, Any],
    options: dict[str, Any],
) -> _Plan:
    """Decide each pending input by the batch planner's rules (``services.batch``)."""
    from retouchdesk.services.jobspec import JobRequest

    def key_of(item: Item) -> str:
        return dedupe_key(item, op.provider, op.id, _params_of(item, params), extra)

    out = _Plan()
    # A recipe's photo that cannot run this step already has its status: it is not planned.
    pending = [i for i in items if i.status == "pending"]
    plan = plan_batch(pending, key_of, rt.store.find_by_dedupe_key, force=bool(args.force))
    for planned in plan.items:
        item, previous = planned.entry, planned.previous
        item.key = planned.key
        if planned.decision is Decision.DUPLICATE:  # the same photo listed twice
            item.status, item.detail = "skipped", "listed twice"
        elif planned.decision is Decision.DONE and previous is not None:
            item.status, item.results = "skipped", list(previous.results)
            item.detail = "already done"
        elif planned.decision is not Decision.SUBMIT and previous is not None:
            # Running, unconfirmed or stalled: resumed (its remote job polled), not paid again.
            item.job_id = previous.id
            out.resume_ids.append(previous.id)
            if planned.decision is Decision.UNCONFIRMED and getattr(args, "resend_unconfirmed", 0):
                out.resend_ids.append(previous.id)
            out.by_job[previous.id] = item
        else:
            request = JobRequest(
                provider=op.provider,
                operation=op.id,
                input_path=item.path,
                params=dict(_params_of(item, params)),
                output_dir=item.out_dir,
                name_template=template,
                dedupe_key=item.key,
                options={**options, **item.options},
            )
            out.requests.append((item, request))
    return out


async def _run_plan(
    rt: Any, plan: _Plan, view: BatchView, planning: contextlib.ExitStack, *, close: bool
) -> bool:
    """Claim the planned jobs (then let other processes plan), run them until they end;
    True when Ctrl-C cancelled them."""
    engine = rt.engine
    by_job = plan.by_job
    unsubscribe = engine.subscribe(lambda ev: view.on_event(ev, by_job, engine))
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:
            os._exit(EXIT_INTERRUPTED)  # second Ctrl-C: leave at once (jobs resume next time)
        interrupted = True
        view.note("Cancelling... (press Ctrl-C again to quit at once)")
        for job_id in list(by_job):
            engine.cancel(job_id)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        with view, planning:
            _claim(engine, plan, view)
            planning.close()  # the jobs are claimed: other processes may plan now
            for job_id in plan.resume_ids:
                if job_id in by_job:
                    view.resumed(by_job[job_id], resend=job_id in plan.resend_ids)
            view.refresh_totals(engine, by_job)
            await engine.wait(list(by_job))
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        unsubscribe()
        if close:
            await rt.aclose()
    return interrupted


def _claim(engine: Any, plan: _Plan, view: BatchView) -> None:
    """Resume the jobs to resume (one another live process runs is left to it: "busy") and
    submit the new ones as one batch."""
    resumed = set(engine.start(resume=plan.resume_ids, resend=plan.resend_ids))
    for job_id in plan.resume_ids:
        if job_id not in resumed:  # another live process is running it right now
            item = plan.by_job.pop(job_id)
            owner = engine.busy_elsewhere.get(job_id) or "?"
            item.status = "busy"
            item.detail = (
                f"{item.path.name} is being processed by another Retouch Desk process "
                f"(pid {owner.rpartition(':')[2]}); run the command again when it ends"
            )
            view.finished_elsewhere(item)
    if plan.requests:
        batch_id = engine.submit_batch([r for _, r in plan.requests])
        for rec, (item, _) in zip(engine.batch_jobs(batch_id), plan.requests, strict=True):
            item.job_id = rec.id
            plan.by_job[rec.id] = item


def _finish(
    engine: Any, plan: _Plan, items: list[Item], view: BatchView, *, interrupted: bool
) -> int:
    """Each job's outcome on its input, the summary, and the exit code."""
    for job_id, item in plan.by_job.items():
        rec = engine.get(job_id)
        if rec is not None:
            item.status = rec.state.value
            item.results = list(rec.results)
            item.detail = rec.error or ""
    view.summary()
    unconfirmed = [i for i in items if i.status == JobState.UNCONFIRMED.value]
    if unconfirmed:
        view.note(
            f"{len(unconfirmed)} photo{'s' if len(unconfirmed) != 1 else ''} unconfirmed: the "
            "provider may already have the job. Run the same command again later to pick up a "
            "late answer, or add --resend-unconfirmed to send again (it may be charged twice)."
        )
    if interrupted:
        return EXIT_INTERRUPTED
    ok = all(i.status in ("done", "skipped") for i in items)
    return EXIT_OK if ok else EXIT_FAILED
