"""Suite-wide fixtures: every test runs with its own app home and a clean environment.

No test may touch the user's real settings, keyring, job database or the shared reference
folder: the autouse fixture below points ``RETOUCHDESK_HOME`` at a temporary folder and removes any
``RETOUCHDESK_*`` variable inherited from the developer's shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# Vendor emulators on loopback (``emulator`` fixture); other fixture modules go here too.
pytest_plugins = ["tests.emulators.fixtures"]


@pytest.fixture(autouse=True)
def app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("RETOUCHDESK_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("RETOUCHDESK_HOME", str(home))
    # Offline results handed over in memory (core.handover) go to the test's own folder
    # instead of /dev/shm, where parallel tests and a developer's app would share them.
    (home / "ram").mkdir()
    monkeypatch.setenv("RETOUCHDESK_RAM_DIR", str(home / "ram"))
    _isolate_keyring(home, monkeypatch)
    return home


def _isolate_keyring(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the keyring package at a file-backed backend inside the test's home.

    A developer's machine has a real keyring (Secret Service, Keychain); no test may read or
    write it. ``secrets.open_store()`` in "auto" mode refuses this plain-text test backend and
    uses the encrypted file in the test home instead; tests that want the keyring path ask for
    ``preference="keyring"`` and get this backend.
    """
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(home / "test-keyring.cfg")
    # what keyring.set_keyring() sets; monkeypatch restores the previous backend afterwards
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    # Subprocesses (CLI tests) get no keyring at all: their secrets go to the encrypted file
    # in the test home, never to the developer's keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture
def data_dir() -> Path:
    """The real photographs shipped with the tests (copied from the project's test data)."""
    return DATA
