"""Entry point: ``retouchdesk [PHOTO...]`` opens the window; ``retouchdesk <command>`` runs the CLI.

File managers start ``retouchdesk %F`` ("Open with"), so a first argument that is an existing
file or folder opens the window with it; a known command name runs the CLI; anything else
goes to the CLI too, whose usage message names the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn


def route(args: list[str]) -> str:
    """ "version", "cli" or "window" for these arguments (no Qt imported)."""
    if args[:1] in (["--version"], ["-V"]):
        return "version"
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        return "window"
    if args[0] in ("-h", "--help"):
        return "cli"
    from retouchdesk.cli import build_parser

    commands = set()
    for action in build_parser()._subparsers._group_actions:  # type: ignore[union-attr]
        commands.update(getattr(action, "choices", {}) or {})
    if args[0] in commands:
        return "cli"
    return "window" if Path(args[0]).exists() else "cli"


def _exit_now(code: int) -> NoReturn:
    """End a finished command's process without the interpreter's teardown.

    The command has written and closed everything by then (results, the job database, the
    workers); unloading numpy, Pillow and asyncio and freeing every object took another 50-80
    ms that a script calling ``retouchdesk run`` waited for. Log handlers and the standard
    streams are flushed first.
    """
    import contextlib
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def small_pages_for_arrays() -> None:
    """Ask numpy not to back its large arrays with transparent huge pages (``setdefault``: an
    explicit ``NUMPY_MADVISE_HUGEPAGE`` in the environment still wins).

    numpy advises the kernel to use 2 MB pages for every large array. The offline engine
    allocates and frees photo-sized arrays all the time (decode, copies, the result), so most
    of them are touched once. On a virtual machine each huge page comes from memory the host
    has to back on first touch: reading a 24 MP hand-over into fresh huge pages took 0.20 s
    against 0.045 s into 4 KB pages, and a 24 MP removal spent 0.35 s more of its 1.8 s in the
    kernel. Recycled small pages cost nothing of the kind; these arrays are streamed through,
    where huge pages' fewer TLB misses win little. Set before numpy is imported, here and
    (through the environment) in every worker process.
    """
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def main(argv: list[str] | None = None) -> int:
    small_pages_for_arrays()
    args = sys.argv[1:] if argv is None else argv
    way = route(args)
    if way == "version":
        from retouchdesk import APP_NAME, __version__

        print(f"{APP_NAME} {__version__}")
        return 0
    if way == "cli":
        from retouchdesk.cli import main as cli_main

        code = cli_main(args)
        if argv is None:  # this is the program, not a caller that goes on after us
            _exit_now(code)
        return code
    import gc

    # app.pause_gc_until_shown, done before the window's imports (most of the start);
    # app.main turns the collector back on after the first paint.
    gc.disable()
    from retouchdesk.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
