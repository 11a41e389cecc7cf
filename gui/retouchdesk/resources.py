"""Find the ``resources/`` folder from a wheel, an editable install, a checkout or a bundle.

A wheel carries it inside the package (``retouchdesk/resources``, see pyproject's
force-include); an editable install and a source checkout have it at the repository root,
two levels above this file; a PyInstaller bundle unpacks it under ``sys._MEIPASS``.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    here = Path(__file__).resolve().parent
    candidates = [here / "resources", here.parent.parent / "resources"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.insert(0, Path(bundle) / "resources")
    for c in candidates:
        if (c / "providers").is_dir():
            return c
    raise FileNotFoundError(
        "Retouch Desk cannot find its resources folder; reinstall the application"
    )


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
