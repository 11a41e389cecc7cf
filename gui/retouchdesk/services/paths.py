"""Where the app keeps its files: config, data (the job database), cache, logs.

Platform folders come from platformdirs (services never import Qt). ``RETOUCHDESK_HOME``
puts all of them under one folder: tests and portable installs use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from retouchdesk import APP_ID


def _home() -> Path | None:
    value = os.environ.get("RETOUCHDESK_HOME")
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    home = _home()
    return _ensure(home / "config" if home else platformdirs.user_config_path(APP_ID))


def data_dir() -> Path:
    home = _home()
    return _ensure(home / "data" if home else platformdirs.user_data_path(APP_ID))


def cache_dir() -> Path:
    home = _home()
    return _ensure(home / "cache" if home else platformdirs.user_cache_path(APP_ID))


def log_dir() -> Path:
    home = _home()
    return _ensure(home / "logs" if home else platformdirs.user_log_path(APP_ID))
