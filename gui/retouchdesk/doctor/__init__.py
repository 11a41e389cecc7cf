"""``retouchdesk doctor``: is this installation able to do what the user asks of it?

Two halves meet here: :mod:`retouchdesk.doctor.environment` checks the machine and the
installation (Python, Qt, OpenGL, Vulkan, OpenCV, HEIC, keyring, folders, which accounts are
set up) without any network; ``retouchdesk.doctor.providers`` makes live, free calls to the
configured cloud services. Both return :class:`CheckResult` lines, rendered one per line.
No Qt import here: the Qt check runs in a child process (see ``environment.qt_probe``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report."""

    area: str  # "python", "qt", "opencv", "vulkan", "keyring", "folders", "enhancor", ...
    name: str  # short label shown in the line
    ok: bool
    detail: str  # one line: what answered, or one sentence with the fix
    required: bool = True  # a failed required check makes `doctor` exit 1


def _mark(r: CheckResult, color: bool) -> str:
    if r.ok:
        text, code = " ok ", "32"
    elif r.required:
        text, code = "FAIL", "31"
    else:
        text, code = "note", "33"
    return f"\x1b[{code}m[{text}]\x1b[0m" if color else f"[{text}]"


def render(results: Iterable[CheckResult], *, color: bool | None = None) -> str:
    """One line per check: a mark, the area, the label and the detail."""
    results = list(results)
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    colored = bool(color)
    width = max((len(r.area) for r in results), default=0)
    lines = [f"{_mark(r, colored)} {r.area:<{width}}  {r.name}: {r.detail}" for r in results]
    return "\n".join(lines)


def exit_code(results: Iterable[CheckResult]) -> int:
    """1 when a required check failed (something the user asked for cannot work), else 0."""
    return 1 if any(r.required and not r.ok for r in results) else 0
