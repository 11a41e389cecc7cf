"""Finding photos in what the user names: the one folder walker of the CLI and the window.

``retouchdesk run shoot/`` and a folder dropped on the window (or File › Open Folder) must
find the same photos: folders are walked recursively (a card's ``DCIM/100CANON``, a shoot's
``day1/`` and ``day2/``), hidden files and folders are skipped, and so are the results of
earlier work (the output subfolder, ``retouched/`` by default, the output folder itself, and
result files the job database knows) so that nothing is processed twice by accident.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".bmp"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv"})


def walk(
    root: Path,
    exts: Iterable[str] = IMAGE_EXTENSIONS,
    skip_dirs: tuple[str, ...] = (),
    out: Path | None = None,
) -> Iterator[Path]:
    """Files under ``root`` with one of ``exts``, by folder, each folder sorted by name.

    Never feeds results back in: hidden folders, folders named in ``skip_dirs`` and the
    output folder ``out`` (absolute) are not entered.
    """
    exts = frozenset(exts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in skip_dirs
            and (out is None or (here / d).absolute() != out)
        )
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in exts:
                yield here / name


def find_photos(
    paths: Iterable[Path],
    *,
    exts: Iterable[str] = IMAGE_EXTENSIONS,
    skip_dirs: tuple[str, ...] = (),
    earlier_results: frozenset[str] = frozenset(),
) -> Iterator[Path]:
    """Named files as they are (when they are photos), folders walked; earlier results out.

    A generator: the window runs it a slice at a time and can stop it (a huge tree).
    """
    exts = frozenset(exts)
    for p in paths:
        if p.is_dir():
            for f in walk(p, exts, skip_dirs):
                if str(f.absolute()) not in earlier_results:
                    yield f
        elif p.is_file() and p.suffix.lower() in exts and not p.name.startswith("."):
            yield p
