"""The app's processes keep numpy's arrays in small pages, unless the user says otherwise.

``retouchdesk.__main__.main`` sets ``NUMPY_MADVISE_HUGEPAGE=0`` (if unset) before numpy is
imported: first-touch huge pages made the offline engine's photo-sized arrays slow on a virtual
machine (see ``small_pages_for_arrays``). Checked in fresh interpreters, in the process itself
and in a ``spawn``-started child as the engine starts its workers, through numpy's own flag.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from tests.e2e.clienv import subprocess_env

pytestmark = pytest.mark.timeout(60)

PROBE = textwrap.dedent(
    """
    import multiprocessing as mp
    from retouchdesk.__main__ import main

    def flag(_=None):
        import numpy
        return numpy._core.multiarray._get_madvise_hugepage()

    if __name__ == "__main__":
        main(["--version"])
        with mp.get_context("spawn").Pool(1) as pool:
            child = pool.apply(flag)
        print("huge pages:", flag(), child)
    """
)


def _probe(env_value: str | None, tmp_path) -> str:
    env = subprocess_env(tmp_path / "home")
    env.pop("NUMPY_MADVISE_HUGEPAGE", None)
    if env_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = env_value
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises pages on Linux")
def test_the_app_and_its_workers_use_small_pages(tmp_path) -> None:
    assert _probe(None, tmp_path) == "huge pages: False False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises pages on Linux")
def test_a_users_own_setting_wins(tmp_path) -> None:
    assert _probe("1", tmp_path) == "huge pages: True True"
