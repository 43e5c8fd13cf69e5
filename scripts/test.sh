#!/usr/bin/env bash
# The test command: sets up everything (idempotent), then runs the whole suite:
# unit and handler tests, synth snapshots, terraform validate, checkov, the local end-to-end run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
