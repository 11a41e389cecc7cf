#!/usr/bin/env bash
# Sets up Retouch Desk (first run) and opens the window on the offline engine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
exec .venv/bin/retouchdesk "$@"
