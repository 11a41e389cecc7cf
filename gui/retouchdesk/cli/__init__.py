"""The headless command line: the same core as the window, for batches and scripts.

Commands, one module each in this package:

* ``retouchdesk ops [PROVIDER[.OP]]``: every operation and its parameters, from the schemas
  (:mod:`.ops`).
* ``retouchdesk run --provider P --op O --set k=v ... FILES_OR_FOLDERS -o OUT``: a batch with
  live progress and a summary; exit code 0 only when every file succeeded (:mod:`.run`).
* ``retouchdesk run --recipe CHAIN.toml FILES_OR_FOLDERS -o OUT``: a recipe's steps in order
  on every photo, resumable step by step; ``retouchdesk recipe RESULT``: the recipe written
  into a result's XMP, as TOML (:mod:`.recipe`).
* ``retouchdesk export FILES -o OUT --format F ...``: versions for delivery (:mod:`.export`).
* ``retouchdesk jobs [--state S] [-n N]``: recent jobs from the job database (:mod:`.jobs`).
* ``retouchdesk config [--set-secret K | --delete-secret K]``: the effective settings and
  where each one comes from; keys read from standard input (:mod:`.config`).
* ``retouchdesk account PROVIDER [--history N]``: balance and history (:mod:`.account`).
* ``retouchdesk doctor [PROVIDER ...] [--offline]``: what this installation can do
  (:mod:`.doctor`).

Building the parser imports no command's work: ``retouchdesk PHOTO`` asks it whether its first
argument is a command before the window opens (``__main__.route``), so each module imports
what its command needs inside the command.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from retouchdesk import APP_NAME, __version__
from retouchdesk.cli import account, config, doctor, export, jobs, ops, recipe, run
from retouchdesk.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, err
from retouchdesk.core.errors import RetouchError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retouchdesk",
        description=f"{APP_NAME}: photo retouching over cloud AI services and an offline engine. "
        "Without a command, the window opens.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # The order of `retouchdesk --help`.
    for module in (ops, run, jobs, recipe, config, account, doctor, export):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # From core: providers.http would load httpx (0.1 s) into every command, offline or not.
    from retouchdesk.core.redaction import install_log_redaction

    install_log_redaction()  # keys and tokens never reach the terminal, whatever logs them
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except RetouchError as exc:
        err(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # `retouchdesk ops | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
