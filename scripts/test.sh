#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine, type-checks gui/, then runs the
# suite. Arguments go to pytest: `bash scripts/test.sh -m "not slow"` is the fast lane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export QT_QPA_PLATFORM=offscreen
# The type checker first (basic mode, configured in pyproject.toml): a type error fails the run
# before any test. pyright runs on the system's node (setup.sh installs nodejs); the variable
# skips its check for a newer release on PyPI, so nothing here needs the network.
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 .venv/bin/pyright --pythonpath .venv/bin/python
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
