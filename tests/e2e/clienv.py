"""The environment of a ``python -m retouchdesk`` subprocess, shared by the end-to-end tests.

Every CLI subprocess gets this checkout's ``gui/`` (and the repository, for ``tests.*``
doubles) first on its path, the test's own app home, no ``RETOUCHDESK_*`` variable from the
developer's shell and a wide terminal (no wrapped lines in what the tests read). Vendor tests
keep their secrets in the encrypted file of that home (``FILE_SECRETS``, the ``cli_env``
fixture of ``tests/e2e/conftest.py``), never in a keyring.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Secrets in the encrypted file of the test's home, opened without a prompt.
FILE_SECRETS = {
    "RETOUCHDESK_SECRETS_BACKEND": "file",
    "RETOUCHDESK_SECRETS_PASSPHRASE": "e2e-passphrase",
}

#: Fast polls and short retries, for runs against an emulator on loopback.
FAST_RETRIES = {
    "RETOUCHDESK_ENHANCOR_POLL_INTERVAL": "0.1",
    "RETOUCHDESK_ADCREATIVE_POLL_INTERVAL": "0.1",
    "RETOUCHDESK_NETWORK_BACKOFF_BASE": "0.05",
    "RETOUCHDESK_ENGINE_BACKOFF_BASE": "0.1",
    "RETOUCHDESK_ENGINE_MAX_ATTEMPTS": "4",
}


def subprocess_env(app_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess for the test whose home is ``app_home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    path = [str(REPO / "gui"), str(REPO), env.get("PYTHONPATH", "")]
    env.update(
        RETOUCHDESK_HOME=str(app_home),
        PYTHONPATH=os.pathsep.join(filter(None, path)),
        COLUMNS="200",
    )
    if os.environ.get("RETOUCHDESK_RAM_DIR"):  # the test's own (tests/conftest.py)
        env["RETOUCHDESK_RAM_DIR"] = os.environ["RETOUCHDESK_RAM_DIR"]
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port free right now, for settings that need a fixed port (a receiver behind
    a tunnel keeps its port across runs); everything else binds port 0 itself."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
