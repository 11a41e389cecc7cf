"""Run a probe script in a fresh interpreter with the app on its path.

For tests about what a process imports or loads: this test process has imported everything
long ago, a new one shows what a real start does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(script: str, *args: str, timeout: float = 60, **env: str) -> list[str]:
    """The lines ``script`` printed, run with ``args``; fails the test if it did not exit 0."""
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "gui"), str(ROOT)]))
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()
