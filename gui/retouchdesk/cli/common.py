"""What every command of the command line shares: exit codes and how text is shown."""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def err(text: str) -> None:
    """One sentence to standard error, the way every command reports a problem."""
    print(f"error: {text}", file=sys.stderr)


def escape(text: str) -> str:
    """``text`` safe inside rich markup (a file name with brackets stays a file name)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def rel(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, else as it is."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
