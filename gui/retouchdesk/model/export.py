"""Save Result As: a copy of a result in the format its new name asks for.

A photographer who types ``portrait.jpg`` expects a JPEG, whatever format the provider
returned. Same format: the bytes are copied (no second generation of loss). Another format:
the result is re-encoded through :func:`retouchdesk.core.imageio.save_result`, which keeps its
EXIF, ICC profile and XMP. Either way the file appears atomically. Runs in a worker thread.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

from retouchdesk.core import imageio
from retouchdesk.core.errors import OutputError

SAVE_FILTERS = (
    ("JPEG", "jpg", "*.jpg *.jpeg"),
    ("PNG", "png", "*.png"),
    ("TIFF", "tif", "*.tif *.tiff"),
    ("WebP", "webp", "*.webp"),
)


def save_filter() -> str:
    return ";;".join(f"{name} ({globs})" for name, _ext, globs in SAVE_FILTERS)


def filter_for(path: Path) -> str:
    """The dialog filter matching ``path``'s format (preselected in Save As)."""
    fmt = imageio.format_for_path(path)
    for name, ext, globs in SAVE_FILTERS:
        if imageio.format_for_path(Path(f"x.{ext}")) == fmt:
            return f"{name} ({globs})"
    return ""


def destination_for(dest: Path, chosen_filter: str, result: Path) -> Path:
    """``dest`` with a format suffix: the typed one, else the chosen filter's, else the result's."""
    if imageio.format_for_path(dest):
        return dest
    for name, ext, globs in SAVE_FILTERS:
        if chosen_filter == f"{name} ({globs})":
            return dest.with_name(dest.name + f".{ext}")
    return dest.with_name(dest.name + result.suffix)


def policy_from(engine_policy: dict[str, Any]) -> imageio.OutputPolicy:
    names = {f.name for f in fields(imageio.OutputPolicy)}
    return imageio.OutputPolicy(
        **{k: v for k, v in engine_policy.items() if k in names and v is not None}
    )


def export_result(result: Path, dest: Path, policy: imageio.OutputPolicy) -> Path:
    """Write a copy of ``result`` at ``dest`` in the format ``dest``'s suffix names."""
    fmt = imageio.format_for_path(dest)
    if fmt is None:
        raise OutputError(f"{dest.name}: name the file .jpg, .png, .tif or .webp")
    if dest.resolve() == result.resolve():
        return dest
    if imageio.probe(result).format == fmt:  # probe names formats as format_for_path does
        _atomic_copy(result, dest)
        return dest
    return imageio.save_result(result, source=result, destination=dest, policy=policy)


def _atomic_copy(src: Path, dest: Path) -> None:
    try:
        # Our .part naming: a copy killed half-way is swept by the next write to the folder.
        fd, name = imageio.create_temp(dest.parent, dest.stem)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{dest.name} cannot be written: {exc.strerror or exc}") from None
    tmp = Path(name)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{dest.name} cannot be written: {exc.strerror or exc}") from None
