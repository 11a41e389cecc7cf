"""Moving a file to the system trash and finding it there again (for Undo).

Qt's ``QFile.moveToTrash`` does the move on every desktop; PySide returns only whether it
worked, not where the file went. On freedesktop systems (Linux, BSD) the home trash is
``$XDG_DATA_HOME/Trash`` with a ``.trashinfo`` per file naming its original path, so the
trashed copy can be found and put back. Elsewhere Undo is not offered (the file is still in
the system's trash, where the user restores it as usual).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from PySide6.QtCore import QFile


def move_to_trash(path: Path) -> tuple[bool, Path | None]:
    """Move ``path`` to the trash: (moved, where it is now when that can be known)."""
    result = QFile.moveToTrash(str(path))
    ok = result[0] if isinstance(result, tuple) else bool(result)
    if not ok:
        return False, None
    return True, _find_trashed(path)


def _home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Trash"


def _find_trashed(original: Path) -> Path | None:
    """The newest trashed file whose ``.trashinfo`` names ``original`` (freedesktop trash)."""
    info_dir = _home_trash() / "info"
    if not info_dir.is_dir():
        return None
    want = str(original.absolute())
    best: tuple[str, Path] | None = None
    for info in info_dir.glob(f"{original.stem}*.trashinfo"):
        fields = _read_info(info)
        if urllib.parse.unquote(fields.get("Path", "")) != want:
            continue
        stamp = fields.get("DeletionDate", "")
        if best is None or stamp >= best[0]:
            best = (stamp, info_dir.parent / "files" / info.name[: -len(".trashinfo")])
    return best[1] if best and best[1].exists() else None


def _read_info(info: Path) -> dict[str, str]:
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def restore(in_trash: Path, original: Path) -> None:
    """Move a trashed file back and drop its ``.trashinfo``; raises OSError."""
    import shutil

    shutil.move(str(in_trash), str(original))
    info = in_trash.parent.parent / "info" / (in_trash.name + ".trashinfo")
    if in_trash.parent.name == "files":
        info.unlink(missing_ok=True)
