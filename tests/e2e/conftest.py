"""End-to-end fixtures: the CLI subprocess environment (helpers in :mod:`tests.e2e.clienv`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.clienv import FILE_SECRETS, subprocess_env


@pytest.fixture
def cli_env(app_home: Path) -> dict[str, str]:
    """A CLI subprocess environment for vendor runs: this test's home, secrets in its file."""
    return subprocess_env(app_home, **FILE_SECRETS)
