"""Entry point: ``retouchdesk`` opens the window; ``retouchdesk <command>`` runs the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if (
        args[:1] == ["--version"]
        or (args and not args[0].startswith("-"))
        or any(a in ("-h", "--help") for a in args[:1])
    ):
        from retouchdesk.cli import main as cli_main

        return cli_main(args)
    from retouchdesk.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    # A frozen bundle starts its spawned workers (the offline engine) through this executable.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
