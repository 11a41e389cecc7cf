"""Suite-wide fixtures: every test runs with its own app home and a clean environment.

No test may touch the user's real settings, keyring, job database or ../shared: the autouse
fixture below points ``RETOUCHDESK_HOME`` at a temporary folder and removes any
``RETOUCHDESK_*`` variable inherited from the developer's shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("RETOUCHDESK_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RETOUCHDESK_HOME", str(home))
    return home


@pytest.fixture
def data_dir() -> Path:
    """The real photographs shipped with the tests (copied from the project's test data)."""
    return DATA
