"""A finished command leaves at once; its output, exit code and logs are all there.

``retouchdesk COMMAND`` run as the program ends through ``os._exit`` once the command has
returned (the interpreter's teardown cost a removal 50-80 ms after its work was done), after
flushing its output. Called in-process with arguments, ``main`` returns as any function does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.e2e.clienv import subprocess_env

pytestmark = pytest.mark.timeout(60)

AS_PROGRAM = textwrap.dedent(
    """
    import atexit, sys
    atexit.register(lambda: print("TEARDOWN", flush=True))
    from retouchdesk.__main__ import main
    sys.argv = ["retouchdesk", *sys.argv[1:]]
    sys.exit(main())
    """
)

AS_FUNCTION = textwrap.dedent(
    """
    import sys
    from retouchdesk.__main__ import main
    code = main(sys.argv[1:])
    print("AFTER", code)
    """
)


def _python(app_home: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=subprocess_env(app_home),
        capture_output=True,
        text=True,
        timeout=50,
    )


def test_the_program_leaves_without_teardown_after_flushing_its_output(app_home: Path):
    done = _python(app_home, AS_PROGRAM, "ops", "local")
    assert done.returncode == 0, done.stderr
    assert "local.object_removal" in done.stdout and "TEARDOWN" not in done.stdout
    failed = _python(app_home, AS_PROGRAM, "run", "--op", "no_such_op", "photo.jpg")
    assert failed.returncode == 2 and "no_such_op" in failed.stderr
    assert "TEARDOWN" not in failed.stdout


def test_main_called_with_arguments_returns_to_its_caller(app_home: Path):
    done = _python(app_home, AS_FUNCTION, "ops", "local")
    assert done.returncode == 0, done.stderr
    assert "local.object_removal" in done.stdout and "AFTER 0" in done.stdout
