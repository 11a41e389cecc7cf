"""``retouchdesk export FILES -o OUT --format F ...``: versions written for delivery.

The command line's form of the window's Export dialog (:mod:`core.export`): format, quality,
bit depth, long side, output sharpening, colour space, metadata and a name template. Each
file is exported on its own; a file that cannot be exported is said in one sentence and the
others go on (exit code 1 then). ``--pinned`` exports every pinned version.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from retouchdesk.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, err
from retouchdesk.core.errors import RetouchError


def add_parser(sub: Any) -> None:
    from retouchdesk.core import export as ex

    exp = sub.add_parser(
        "export", help="export versions for delivery (format, size, colour, metadata)"
    )
    exp.add_argument("files", nargs="*", type=Path, metavar="FILE")
    exp.add_argument("-o", "--output", type=Path, required=True, help="folder to export into")
    exp.add_argument("--pinned", action="store_true", help="also every pinned version")
    exp.add_argument("--format", choices=ex.FORMATS, default="jpeg")
    exp.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality 1-100")
    exp.add_argument("--bit-depth", type=int, choices=(8, 16), default=8)
    exp.add_argument("--long-side", type=int, default=0, metavar="PX", help="resize (0: keep)")
    exp.add_argument("--sharpen", type=float, default=0.0, help="output sharpening (0-2)")
    exp.add_argument("--colour", "--color", choices=ex.COLOURS, default="keep")
    exp.add_argument("--metadata", choices=ex.METADATA, default="all")
    exp.add_argument(
        "--name", default=ex.DEFAULT_TEMPLATE, help="name template: {stem} {n} {date} {size}"
    )
    exp.set_defaults(func=cmd_export)


def options_from(args: argparse.Namespace) -> Any:
    from retouchdesk.core import export as ex

    return ex.ExportOptions(
        format=args.format,
        quality=args.quality,
        bit_depth=args.bit_depth,
        long_side=args.long_side,
        sharpen=args.sharpen,
        colour=args.colour,
        metadata=args.metadata,
        template=args.name,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from retouchdesk.core import export as ex

    opts = options_from(args)
    problems = opts.problems()
    if problems:
        err(problems[0])
        return EXIT_USAGE
    files = list(args.files)
    if args.pinned:
        files += pinned_versions()
    if not files:
        err("Nothing to export: name files, or --pinned when versions are pinned")
        return EXIT_USAGE
    failed = 0
    for n, path in enumerate(files, start=1):
        try:
            out = ex.export(path.expanduser(), args.output.expanduser(), opts, n=n)
        except RetouchError as exc:
            err(f"{path.name}: {exc}")
            failed += 1
            continue
        except OSError as exc:
            err(f"{path.name}: {exc.strerror or exc}")
            failed += 1
            continue
        print(f"{path} -> {out}")
    return EXIT_FAILED if failed else EXIT_OK


def pinned_versions() -> list[Path]:
    """Pinned versions (the window's Pin / Keep) that still exist."""
    import json

    from retouchdesk.services import paths

    try:
        names = json.loads((paths.data_dir() / "kept_versions.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(p) for p in sorted(names) if Path(p).exists()]
