"""The last session: which photos were open, which was current, each one's working version.

Written when the window closes (``<data dir>/last_session.json``, atomically) and read when
the window starts without photos on its command line, so a photographer comes back to the
photos and the versions they were working from. Photos or results gone since are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from retouchdesk.services import paths

FILE = "last_session.json"


@dataclass
class LastSession:
    photos: list[Path] = field(default_factory=list)
    current: Path | None = None
    working: dict[Path, str] = field(default_factory=dict)  # photo -> job id


def _file() -> Path:
    return paths.data_dir() / FILE


def save(session: LastSession) -> None:
    data = {
        "photos": [str(p) for p in session.photos],
        "current": str(session.current) if session.current else None,
        "working": {str(k): v for k, v in session.working.items()},
    }
    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


def load() -> LastSession:
    """The saved session with photos that still exist (empty when there is none)."""
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LastSession()
    if not isinstance(data, dict):
        return LastSession()
    photos = [Path(p) for p in data.get("photos", []) if isinstance(p, str) and Path(p).is_file()]
    current = data.get("current")
    cur = Path(current) if isinstance(current, str) and Path(current) in photos else None
    raw = data.get("working", {})
    working = {
        Path(k): str(v)
        for k, v in (raw.items() if isinstance(raw, dict) else [])
        if Path(k) in photos and isinstance(v, str)
    }
    return LastSession(photos, cur, working)
