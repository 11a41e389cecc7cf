"""Result file names: a template such as ``{stem}_{operation}_{provider}.{ext}``, never a clash.

The photographer's originals are never overwritten and neither is an earlier result: when the
name is taken, ``_2``, ``_3`` ... is added before the extension (or ``{counter}`` counts up when
the template uses it). Names are built from the template fields only; anything that could leave
the output folder (path separators, ``..``) is refused.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import string
from collections.abc import Container
from pathlib import Path

from retouchdesk.core.errors import ConfigurationError

DEFAULT_TEMPLATE = "{stem}_{operation}_{provider}.{ext}"
FIELDS = ("stem", "operation", "provider", "ext", "variant", "date", "counter")
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')
_MAX_TRIES = 100_000


def check_template(template: str) -> None:
    """Raise a plain-sentence ConfigurationError when ``template`` cannot name a file."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigurationError(
            f"The file name template {template!r} is malformed: {exc}"
        ) from None
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ConfigurationError(
            f"The file name template {template!r} uses unknown field {{{unknown[0]}}}; "
            f"allowed: {', '.join('{' + f + '}' for f in FIELDS)}"
        )
    if "/" in template or "\\" in template:
        raise ConfigurationError(
            f"The file name template {template!r} must not contain folder separators"
        )
    if "stem" not in fields and "counter" not in fields:
        # Without the stem every photo of a batch would share one name (and only differ by _2...).
        raise ConfigurationError(f"The file name template {template!r} must contain {{stem}}")


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip(" .")


def _render(template: str, fields: dict[str, str]) -> str:
    name = template.format(**fields)
    # An empty field (no variant) must not leave "photo__x" or "photo_.png" behind.
    name = re.sub(r"([_\-. ])\1+", r"\1", name)
    name = re.sub(r"[_\- ]+\.", ".", name)
    name = name.strip("_- ")
    return name


def result_path(
    source: Path,
    out_dir: Path,
    template: str = DEFAULT_TEMPLATE,
    *,
    operation: str,
    provider: str,
    ext: str,
    variant: str = "",
    date: _dt.date | None = None,
    taken: Container[Path] = (),
) -> Path:
    """The path of a new result of ``source`` in ``out_dir``; never an existing file.

    ``ext`` is the extension without the dot. ``variant`` labels one of several results of a
    job; when the template has no ``{variant}`` field it is appended to the name so variants do
    not merely differ by a counter. ``taken`` holds paths reserved by jobs still writing.
    """
    check_template(template)
    ext = ext.lstrip(".") or source.suffix.lstrip(".") or "png"
    variant = _safe(variant)
    fields = {
        "stem": _safe(source.stem) or "image",
        "operation": _safe(operation),
        "provider": _safe(provider),
        "ext": ext,
        "variant": variant,
        "date": (date or _dt.date.today()).isoformat(),
    }
    tmpl = template
    if variant and "{variant}" not in tmpl:
        tmpl = _with_suffix_field(tmpl, "_{variant}")
    counted = "{counter}" in tmpl
    existing: set[str] | None = None  # the folder is listed once, on the first clash
    fields["counter"] = "1"
    base = _render(tmpl, fields)
    for n in range(1, _MAX_TRIES):
        if counted:
            fields["counter"] = str(n)
            name = _render(tmpl, fields)
        else:
            name = base if n == 1 else _insert_before_ext(base, f"_{n}")
        if not name or name in (".", ".."):
            raise ConfigurationError(f"The file name template {template!r} gives an empty name")
        candidate = out_dir / name
        if candidate in taken:
            continue
        if existing is None:
            if not candidate.exists():
                return candidate
            existing = _names_in(out_dir)
        elif name not in existing:
            return candidate
    raise ConfigurationError(f"No free file name for {source.name} in {out_dir}")


def _names_in(folder: Path) -> set[str]:
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it}
    except OSError:
        return set()


def _with_suffix_field(template: str, addition: str) -> str:
    """Insert ``addition`` before the template's extension part (``.{ext}``)."""
    if template.endswith(".{ext}"):
        return template[: -len(".{ext}")] + addition + ".{ext}"
    return template + addition


def _insert_before_ext(name: str, addition: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return name + addition
    return f"{stem}{addition}.{suffix}"
