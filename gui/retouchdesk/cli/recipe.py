"""``retouchdesk run --recipe`` and ``retouchdesk recipe``: chains on the command line.

A recipe runs as one batch per step (:func:`cli.run.run_batch`, the same planner as
any ``run``): step N's inputs are step N-1's results. Every job keeps the batch planner's key, so
running the command again skips each step that is done for a photo and resumes an
interrupted one (even after ``kill -9``) instead of doing it twice. Results of the steps in
between go to a hidden ``.steps`` folder inside the output folder; the last step's results
go to the output folder itself. Every result carries the chain up to it in its XMP.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, err
from retouchdesk.cli.run import Item, inputs_of, run_batch
from retouchdesk.core.errors import RetouchError

if TYPE_CHECKING:
    from retouchdesk.core import recipe as core_recipe

STEPS_FOLDER = ".steps"


def add_parser(sub: Any) -> None:
    """The ``recipe`` command (``run --recipe`` is an option of :mod:`cli.run`)."""
    rec = sub.add_parser(
        "recipe", help="print the recipe written into a result file's XMP, as TOML"
    )
    rec.add_argument("result", type=Path, metavar="RESULT")
    rec.set_defaults(func=cmd_recipe)


@dataclass
class Chain:
    """One photo going through the recipe."""

    photo: Path
    out_dir: Path | None  # the final results' folder (None: the settings' default)
    current: Path  # the input of the next step
    sha256: str = ""
    failed: str = ""
    results: list[Path] = field(default_factory=list)


def cmd_recipe(args: argparse.Namespace) -> int:
    """Print the recipe in RESULT's XMP as TOML (``retouchdesk recipe R.jpg > chain.toml``)."""
    from retouchdesk.core import recipe as core_recipe  # XML and TOML: loaded when used

    path: Path = args.result
    if not path.is_file():
        err(f"{path}: no such file")
        return EXIT_FAILED
    try:
        found = core_recipe.read_from_file(path)
    except RetouchError as exc:
        err(str(exc))
        return EXIT_FAILED
    if found is None:
        err(f"{path.name} carries no Retouch Desk recipe (it was not made by Retouch Desk)")
        return EXIT_FAILED
    sys.stdout.write(core_recipe.to_toml(found))
    return EXIT_OK


def cmd_run_recipe(args: argparse.Namespace) -> int:
    from retouchdesk.core import naming
    from retouchdesk.core import recipe as core_recipe
    from retouchdesk.services.runtime import build_runtime

    try:
        recipe = core_recipe.load(args.recipe.expanduser())
    except RetouchError as exc:
        err(str(exc))
        return EXIT_USAGE
    rt = build_runtime(lazy_secrets=True)  # a key in the environment never opens the keyring
    try:
        try:
            ops = [rt.catalog.operation(s.provider, s.operation) for s in recipe.steps]
            template = args.template or rt.settings.get("output", "template")
            naming.check_template(template)
        except RetouchError as exc:
            err(str(exc))
            return EXIT_USAGE
        if args.format:
            rt.engine.config.policy_overrides["format"] = args.format
        fmt = rt.engine.config.output_policy().get("format", "same")
        items = inputs_of(rt, args)
        if not items:
            err("No images found in " + ", ".join(args.inputs))
            return EXIT_FAILED
        chains = [Chain(i.path.absolute(), i.out_dir, i.path.absolute()) for i in items]
        return asyncio.run(_run_chains(rt, recipe, ops, template, fmt, chains, args))
    finally:
        rt.store.close()


async def _run_chains(
    rt: Any,
    recipe: core_recipe.Recipe,
    ops: list[Any],
    template: str,
    fmt: str,
    chains: list[Chain],
    args: argparse.Namespace,
) -> int:
    from retouchdesk.core import recipe as core_recipe
    from retouchdesk.services import recipes
    from retouchdesk.services.jobspec import default_output_dir

    recipe_dir = args.recipe.expanduser().absolute().parent
    for chain in chains:
        try:
            chain.sha256 = await asyncio.to_thread(core_recipe.file_sha256, chain.photo)
        except OSError as exc:
            chain.failed = f"{chain.photo}: {exc.strerror or exc}"
    code = EXIT_OK
    try:
        for k, (step, op) in enumerate(zip(recipe.steps, ops, strict=True)):
            last = k == len(recipe.steps) - 1
            live = [c for c in chains if not c.failed]
            if not live:
                break
            if not args.quiet:
                print(f"Step {k + 1}/{len(recipe.steps)}: {op.label} ({op.provider})")
            items: list[Item] = []
            for chain in live:
                final = chain.out_dir or default_output_dir(chain.photo, rt.engine.config)
                item = Item(chain.current, final if last else final / STEPS_FOLDER)
                chain_recipe = core_recipe.Recipe(
                    recipe.steps[: k + 1], recipe.name, chain.sha256, chain.photo.name
                )
                item.options = recipes.recipe_option(chain_recipe)
                try:
                    item.params = await asyncio.to_thread(
                        recipes.step_params,
                        rt.catalog,
                        step,
                        photo=chain.photo,
                        input_path=chain.current,
                        recipe_dir=recipe_dir,
                        index=k,
                    )
                except RetouchError as exc:
                    item.status, item.detail = "failed", str(exc)
                items.append(item)
            code = await run_batch(rt, op, {}, template, fmt, items, args, close=False)
            for chain, item in zip(live, items, strict=True):
                if item.status in ("done", "skipped") and item.results:
                    chain.current = item.results[0]
                    chain.results = list(item.results)
                else:
                    chain.failed = item.detail or f"step {k + 1} {item.status}"
            if code == EXIT_INTERRUPTED:
                return code
    finally:
        await rt.aclose()
    failed = [c for c in chains if c.failed]
    for c in failed:
        err(f"{c.photo.name}: {c.failed}")
    if not args.quiet:
        print(f"{len(chains) - len(failed)} of {len(chains)} photos went through every step")
    return EXIT_FAILED if failed or code != EXIT_OK else EXIT_OK
