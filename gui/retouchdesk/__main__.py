"""Entry point: ``retouchdesk [PHOTO...]`` opens the window; ``retouchdesk <command>`` runs the CLI.

File managers start ``retouchdesk %F`` ("Open with"), so a first argument that is an existing
file or folder opens the window with it; a known command name runs the CLI; anything else
goes to the CLI too, whose usage message names the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    way = route(args)
    if way == "version":
        from retouchdesk import APP_NAME, __version__

        print(f"{APP_NAME} {__version__}")
        return 0
    if way == "cli":
        from retouchdesk.cli import main as cli_main

        return cli_main(args)
    import gc

    # app.pause_gc_until_shown, done before the window's imports (most of the start);
    # app.main turns the collector back on after the first paint.
    gc.disable()
    from retouchdesk.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
