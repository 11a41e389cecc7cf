"""The headless command line: the same core as the window, for batches and scripts.

Commands:

* ``retouchdesk ops [PROVIDER[.OP]]``: every operation and its parameters, from the schemas.
* ``retouchdesk run --provider P --op O --set k=v ... FILES_OR_FOLDERS -o OUT``: a batch with
  live progress and a summary; exit code 0 only when every file succeeded.
* ``retouchdesk run --recipe CHAIN.toml FILES_OR_FOLDERS -o OUT``: a recipe's steps in order
  on every photo, resumable step by step (``cli_recipe``).
* ``retouchdesk recipe RESULT``: the recipe written into a result's XMP, as TOML.
* ``retouchdesk export FILES -o OUT --format F ...``: versions for delivery (``cli_export``).
* ``retouchdesk jobs [--state S] [-n N]``: recent jobs from the job database.
* ``retouchdesk config``: the effective settings and where each one comes from.
* ``retouchdesk account PROVIDER [--history N]``: balance and history (``cli_account``).
* ``retouchdesk doctor [PROVIDER ...] [--offline]``: what this installation can do (``cli_doctor``).

Running the same ``run`` command again skips what is done. Each file's job carries a key made
of the provider, operation, validated parameters, output folder, name template, output format
and the input's absolute path, size and modification time. A job with that key that is done
and whose result files still exist is skipped; one that was interrupted (even by a SIGKILL)
is resumed (polling its remote job, never paying twice); a failed or cancelled one is run
again. ``--force`` runs everything again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retouchdesk import APP_NAME, __version__
from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState
from retouchdesk.services import walk as _walk_module
from retouchdesk.services.batch import Decision, plan_batch, work_key

# One walker and one list of photo types for the CLI and the window (services/walk.py).
IMAGE_EXTENSIONS = set(_walk_module.IMAGE_EXTENSIONS)
VIDEO_EXTENSIONS = set(_walk_module.VIDEO_EXTENSIONS)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retouchdesk",
        description=f"{APP_NAME}: photo retouching over cloud AI services and an offline engine. "
        "Without a command, the window opens.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ops = sub.add_parser("ops", help="list operations and their parameters")
    ops.add_argument("target", nargs="?", help="PROVIDER or PROVIDER.OP for details")
    ops.set_defaults(func=cmd_ops)

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

    jobs = sub.add_parser("jobs", help="recent jobs from the job database")
    jobs.add_argument("--limit", "-n", type=int, default=20, help="how many (newest first)")
    jobs.add_argument(
        "--state", choices=[s.value for s in JobState], help="only jobs in this state"
    )
    jobs.set_defaults(func=cmd_jobs)

    rec = sub.add_parser(
        "recipe", help="print the recipe written into a result file's XMP, as TOML"
    )
    rec.add_argument("result", type=Path, metavar="RESULT")
    rec.set_defaults(func=_cmd_recipe)

    cfg = sub.add_parser("config", help="show the effective settings and their sources")
    # Keys for headless use (retouchdesk/cli_secrets.py): the value comes from stdin.
    cfg.add_argument(
        "--set-secret", metavar="SECTION.KEY", help="store a key read from standard input"
    )
    cfg.add_argument("--delete-secret", metavar="SECTION.KEY", help="delete a stored key")
    cfg.set_defaults(func=cmd_config)

    acc = sub.add_parser("account", help="credits and usage history of a provider")
    acc.add_argument("provider")
    acc.add_argument("--history", type=int, default=0, metavar="N", help="last N transactions")
    acc.set_defaults(func=cmd_account)

    from retouchdesk.cli_doctor import add_parser as add_doctor
    from retouchdesk.cli_export import add_parser as add_export

    add_doctor(sub)
    add_export(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from retouchdesk.providers.http import install_log_redaction

    install_log_redaction()  # keys and tokens never reach the terminal, whatever logs them
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except RetouchError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # `retouchdesk ops | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK


def _err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


# -- ops ---------------------------------------------------------------------------------------


def cmd_ops(args: argparse.Namespace) -> int:
    from retouchdesk.services.runtime import load_full_catalog

    catalog = load_full_catalog()
    target = args.target or ""
    provider_id, _, op_id = target.partition(".")
    if provider_id:
        prov = catalog.provider(provider_id)
        ops = [catalog.operation(provider_id, op_id)] if op_id else list(prov.operations.values())
        print(f"{prov.name} ({prov.id}, {prov.kind}): {prov.description}")
        for op in ops:
            print()
            print("\n".join(describe_operation(op, detailed=True)))
        return EXIT_OK
    for prov in catalog.providers.values():
        print(f"== {prov.name} ({prov.id}) ==")
        for op in prov.operations.values():
            print("\n".join(describe_operation(op, detailed=False)))
        print()
    return EXIT_OK


def describe_operation(op: Any, *, detailed: bool) -> list[str]:
    """Lines documenting one operation and its parameters (for ``retouchdesk ops``)."""
    head = f"{op.key}  {op.label}"
    if op.category:
        head += f"  [{op.category}]"
    lines = [head]
    if detailed:
        if op.description:
            lines.append(f"  {op.description}")
        lines.append(f"  inputs: {', '.join(op.required_inputs)}; result: {op.result.kind}")
        lim = op.limits
        limit_bits = [f"formats {', '.join(lim.formats)}"]
        if lim.max_side:
            limit_bits.append(f"long side <= {lim.max_side} px")
        if lim.min_side:
            limit_bits.append(f"short side >= {lim.min_side} px")
        if lim.max_bytes:
            limit_bits.append(f"<= {lim.max_bytes / 1e6:g} MB")
        if lim.max_megapixels:
            limit_bits.append(f"<= {lim.max_megapixels:g} MP")
        lines.append(f"  limits: {'; '.join(limit_bits)}")
        if op.cost.text or op.cost.amount is not None:
            amount = (
                f"{op.cost.amount:g} {op.cost.unit}".strip() if op.cost.amount is not None else ""
            )
            lines.append(f"  cost: {op.cost.text or amount}")
    if not op.params:
        lines.append("  (no parameters)")
    for p in op.params:
        bits = [f"  {p.name:<24} {p.kind.value:<6}"]
        if p.default is not None:
            bits.append(f"default {_show(p.default)}")
        bits.append(p.describe_type())
        for ov in p.overrides:
            changes = []
            if ov.min is not None:
                changes.append(f"min {_show(ov.min)}")
            if ov.max is not None:
                changes.append(f"max {_show(ov.max)}")
            if type(ov.default) is not object and ov.default is not None:  # object() = unset
                changes.append(f"default {_show(ov.default)}")
            if changes:
                bits.append(f"when {ov.when}: {', '.join(changes)}")
        if p.required:
            bits.append("required")
        if p.applies_when:
            bits.append(
                f"applies: {p.applies_note}" if p.applies_note else f"applies when {p.applies_when}"
            )
        lines.append("; ".join([bits[0] + " " + bits[1], *bits[2:]]) if len(bits) > 1 else bits[0])
        if detailed:
            if p.values and p.kind.value == "enum":
                labels = ", ".join(
                    f"{c.value} = {c.label}" for c in p.values if c.label != str(c.value)
                )
                if labels:
                    lines.append(f"      values: {labels}")
            if p.help:
                lines.append(f"      {p.help}")
            if p.group:
                lines.append(f"      group: {p.group}{' / ' + p.subgroup if p.subgroup else ''}")
    return lines


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- config ------------------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    from retouchdesk.services.runtime import open_secret_store, safe_lookup
    from retouchdesk.services.settings import Settings

    if getattr(args, "set_secret", None) or getattr(args, "delete_secret", None):
        from retouchdesk.cli_secrets import run_secret_command

        return run_secret_command(args.set_secret, args.delete_secret)

    settings = Settings()
    secrets = open_secret_store(settings)
    if secrets is not None:
        settings.set_secret_lookup(safe_lookup(secrets))
    rows = list(settings.describe())
    width = max(len(r[0]) for r in rows)
    print(f"Settings file: {settings.path}")
    if secrets is not None:
        print(f"Secret store: {getattr(secrets, 'backend_name', type(secrets).__name__)}")
    for name, shown, source in rows:
        print(f"{name:<{width}}  {shown}  ({source})")
    return EXIT_OK


# -- jobs --------------------------------------------------------------------------------------


def cmd_jobs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from retouchdesk.services.store import JobStore

    store = JobStore()
    try:
        recs = [r for r in store.all() if args.state is None or r.state.value == args.state]
    finally:
        store.close()
    recs = recs[-max(0, args.limit) :][::-1] if args.limit else recs[::-1]
    table = Table(title=f"Jobs ({len(recs)} shown, newest first)")
    for col in ("Queued", "Photo", "Operation", "State", "Result or problem"):
        table.add_column(col, overflow="fold")
    for r in recs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        detail = r.error or ", ".join(_rel(p) for p in r.results) or r.message
        table.add_row(when, _rel(r.input_path), r.op_key, r.state.value, _escape(detail))
    Console(highlight=False, soft_wrap=True).print(table)
    return EXIT_OK


# -- account -----------------------------------------------------------------------------------


def cmd_account(args: argparse.Namespace) -> int:
    from retouchdesk.cli_account import run_account

    return int(run_account(args))


# -- run ---------------------------------------------------------------------------------------


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


def _cmd_recipe(args: argparse.Namespace) -> int:
    from retouchdesk.cli_recipe import cmd_recipe

    return cmd_recipe(args)


def cmd_run(args: argparse.Namespace) -> int:
    from retouchdesk.core import naming
    from retouchdesk.core.schema import Inapplicable
    from retouchdesk.services.runtime import build_runtime

    if args.recipe is not None:
        from retouchdesk.cli_recipe import cmd_run_recipe

        if args.op or args.sets:
            _err("--recipe runs the recipe's own steps: leave out --op and --set")
            return EXIT_USAGE
        return cmd_run_recipe(args)
    if not args.op:
        _err("Say what to run: --op OPERATION, or --recipe CHAIN.toml")
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
            _err(str(exc))
            return EXIT_USAGE
        for p in op.file_params:  # relative to where the command runs
            if params.get(p.name):
                params[p.name] = str(Path(params[p.name]).expanduser().absolute())
        if args.format:
            rt.engine.config.policy_overrides["format"] = args.format
        fmt = rt.engine.config.output_policy().get("format", "same")
        items = collect_inputs(
            args.inputs,
            args.output,
            video=op.input_kind == "video",
            skip_dirs=(rt.settings.get("output", "subfolder"),) if not args.output else (),
        )
        # Results of earlier jobs found in a walked folder (an output folder inside the input,
        # or results written beside the photos) are not photos to process again.
        earlier = {str(p.absolute()) for r in rt.store.all() for p in r.results}
        items = [i for i in items if not (i.walked and str(i.path.absolute()) in earlier)]
        if not items:
            _err("No images found in " + ", ".join(args.inputs))
            return EXIT_FAILED
        return asyncio.run(_run_batch(rt, op, params, template, fmt, items, args))
    finally:
        rt.store.close()


async def _run_batch(
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
    from retouchdesk.services.engine import JobRequest

    engine = rt.engine
    extra = {"template": template, "format": fmt, "fit": bool(args.fit)}
    options: dict[str, Any] = {"fit_limits": True} if args.fit else {}
    if getattr(args, "protect_outside", None):
        from retouchdesk.services.postprocess import protect_option

        mask = Path(args.protect_outside).expanduser().resolve()
        if not mask.is_file():
            _err(f"The mask {args.protect_outside} does not exist")
            return EXIT_FAILED
        options.update(protect_option(mask, feather=max(0.0, args.protect_feather)))
        extra["protect"] = options["protect_outside"]  # a protected run is another result
    requests: list[tuple[Item, JobRequest]] = []
    resume_ids: list[str] = []
    resend_ids: list[str] = []
    by_job: dict[str, Item] = {}
    for item in items:
        if not item.path.exists():
            item.status, item.detail = "missing", f"{item.path}: no such file or folder"

    def key_of(item: Item) -> str:
        return dedupe_key(item, op.provider, op.id, _params_of(item, params), extra)

    # Planning and claiming are one database transaction: a second identical command started
    # at the same instant waits here, then finds these jobs and their live owner ("busy").
    planning = contextlib.ExitStack()
    planning.enter_context(rt.store.exclusive())
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
            resume_ids.append(previous.id)
            if planned.decision is Decision.UNCONFIRMED and getattr(args, "resend_unconfirmed", 0):
                resend_ids.append(previous.id)
            by_job[previous.id] = item
        else:
            requests.append(
                (
                    item,
                    JobRequest(
                        provider=op.provider,
                        operation=op.id,
                        input_path=item.path,
                        params=dict(_params_of(item, params)),
                        output_dir=item.out_dir,
                        name_template=template,
                        dedupe_key=item.key,
                        options={**options, **item.options},
                    ),
                )
            )

    view = BatchView(items, quiet=args.quiet)
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
            resumed = set(engine.start(resume=resume_ids, resend=resend_ids))
            for job_id in resume_ids:
                if job_id not in resumed:  # another live process is running it right now
                    item = by_job.pop(job_id)
                    owner = engine.busy_elsewhere.get(job_id) or "?"
                    item.status = "busy"
                    item.detail = (
                        f"{item.path.name} is being processed by another Retouch Desk process "
                        f"(pid {owner.rpartition(':')[2]}); run the command again when it ends"
                    )
                    view.finished_elsewhere(item)
            if requests:
                batch_id = engine.submit_batch([r for _, r in requests])
                for rec, (item, _) in zip(engine.batch_jobs(batch_id), requests, strict=True):
                    item.job_id = rec.id
                    by_job[rec.id] = item
            planning.close()  # the jobs are claimed: other processes may plan now
            for job_id in resume_ids:
                if job_id in by_job:
                    view.resumed(by_job[job_id], resend=job_id in resend_ids)
            view.refresh_totals(engine, by_job)
            await engine.wait(list(by_job))
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        unsubscribe()
        if close:
            await rt.aclose()
    for job_id, item in by_job.items():
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


class BatchView:
    """Live progress (overall X/N, current file, ETA) on stderr and the summary on stdout."""

    def __init__(self, items: list[Item], *, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.items = items
        self.err = Console(stderr=True, highlight=False)
        self.out = Console(highlight=False, soft_wrap=True)
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.err,
            disable=quiet,
            transient=False,
        )
        self.task = self.progress.add_task("starting", total=len(items))
        self._fractions: dict[str, float] = {}
        self._finished = 0
        self.start_time = time.monotonic()

    def __enter__(self) -> BatchView:
        self.progress.start()
        done = sum(1 for i in self.items if i.status in ("skipped", "missing"))
        self._finished = done
        for item in self.items:
            if item.status == "skipped":
                self._line(f"skipped {item.path.name}: {item.detail}")
            elif item.status == "missing":
                self._line(f"FAILED  {item.detail}")
        self.progress.update(self.task, completed=done)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.update(self.task, description="finished")
        self.progress.stop()

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False)

    def finished_elsewhere(self, item: Item) -> None:
        self._finished += 1
        self._line(f"busy    {item.detail}")
        self.progress.update(self.task, completed=self._completed())

    def resumed(self, item: Item, *, resend: bool = False) -> None:
        if resend:
            self._line(f"sending {item.path.name} again (its earlier submission is unconfirmed)")
        else:
            self._line(f"resuming {item.path.name} (interrupted earlier)")

    def refresh_totals(self, engine: Any, by_job: dict[str, Item]) -> None:
        self.progress.update(self.task, completed=self._completed())

    def _line(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def _completed(self) -> float:
        return self._finished + sum(self._fractions.values())

    def on_event(self, ev: JobEvent, by_job: dict[str, Item], engine: Any) -> None:
        item = by_job.get(ev.job_id)
        if item is None:
            return
        name = item.path.name
        if ev.kind is EventKind.BATCH_STOPPED:
            self._line(ev.message)
            return
        if ev.kind is EventKind.MESSAGE:
            self._line(f"{name}: {ev.message}")
        # A parked job (unconfirmed, stalled) is settled once its sentence comes with it.
        settled = ev.state.terminal or (ev.state.settled and bool(ev.error))
        if settled and ev.kind is EventKind.STATE:
            self._fractions.pop(ev.job_id, None)
            self._finished += 1
            rec: JobRecord | None = engine.get(ev.job_id)
            if ev.state is JobState.DONE and rec is not None:
                shown = ", ".join(_rel(p) for p in rec.results)
                self._line(f"done    {name} -> {shown}")
            elif ev.state is JobState.FAILED:
                self._line(f"FAILED  {ev.error or name}")
            elif ev.state is JobState.UNCONFIRMED:
                self._line(f"UNCONFIRMED {ev.error}")
            elif ev.state is JobState.STALLED:
                self._line(f"STALLED {ev.error}")
            else:
                self._line(f"cancelled {name}")
        elif not settled:
            self._fractions[ev.job_id] = min(0.99, ev.progress or 0.0)
            self.progress.update(self.task, description=f"{name} ({ev.state.value})")
        self.progress.update(self.task, completed=self._completed())

    def summary(self) -> None:
        from rich.table import Table

        table = Table(title="Summary", show_lines=False)
        table.add_column("File", overflow="fold")
        table.add_column("Status")
        table.add_column("Result or problem", overflow="fold")
        counts: dict[str, int] = {}
        for item in self.items:
            status = "failed" if item.status == "missing" else item.status
            counts[status] = counts.get(status, 0) + 1
            if item.results and status in ("done", "skipped"):
                detail = ", ".join(_rel(p) for p in item.results)
            else:
                detail = item.detail
            style = {"done": "green", "skipped": "cyan", "failed": "red", "busy": "magenta"}.get(
                status, "yellow"
            )
            table.add_row(_rel(item.path), f"[{style}]{status}[/{style}]", _escape(detail))
        self.out.print(table)
        elapsed = time.monotonic() - self.start_time
        parts = [f"{n} {s}" for s, n in sorted(counts.items())]
        noun = "file" if len(self.items) == 1 else "files"
        self.out.print(f"{len(self.items)} {noun}: {', '.join(parts)} in {elapsed:.1f} s")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _rel(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
