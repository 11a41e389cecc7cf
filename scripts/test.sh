#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine (a quick no-op when nothing
# changed), type-checks gui/ and tests/bench/ and runs the suite. Arguments go to pytest:
# `bash scripts/test.sh -m "not slow"` is the fast lane.
#
# pytest spreads the tests over worker processes (pytest-xdist): RETOUCHDESK_TEST_WORKERS
# workers, "auto" (one per CPU) by default; an explicit `-n N`, `-n 0` or `-p no:xdist`
# among the arguments wins. The type checker runs at the same time as pytest, at a lower CPU
# priority so the tests' own timing is not starved; a type error fails the run like a failed
# test does, and its report is printed after pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export QT_QPA_PLATFORM=offscreen

# pyright runs on the system's node (setup.sh installs nodejs); the variable skips its check
# for a newer release on PyPI, so nothing here needs the network.
types_log=$(mktemp)
PYRIGHT_PYTHON_IGNORE_WARNINGS=1 nice -n 10 .venv/bin/pyright --pythonpath .venv/bin/python \
  >"$types_log" 2>&1 &
types_pid=$!
trap 'kill "$types_pid" 2>/dev/null || true; rm -f "$types_log"' EXIT

parallel=(-n "${RETOUCHDESK_TEST_WORKERS:-auto}" --dist worksteal)
for arg in "$@"; do
  case "$arg" in
    -n | -n* | --numprocesses* | no:xdist | -pno:xdist) parallel=() ;;
  esac
done

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" "$@"
tests=$?
wait "$types_pid"
types=$?
set -e
echo "== pyright (gui/ and tests/bench/, basic mode)"
cat "$types_log"
if [ "$types" -ne 0 ]; then
  echo "pyright found type errors (see above): the run fails" >&2
fi
if [ "$tests" -ne 0 ]; then exit "$tests"; fi
exit "$types"
