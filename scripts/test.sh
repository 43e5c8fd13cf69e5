#!/usr/bin/env bash
# The test command: sets up everything (idempotent), lints and type-checks (ruff, mypy; config in
# pyproject.toml), then runs the whole suite: unit and handler tests, synth snapshots, terraform
# validate, checkov, the local end-to-end run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# one line when a pinned runtime is within 90 days of its end of support (never fails)
"$ROOT/.venv/bin/python" -m scripts.toolchain || true
"$ROOT/.venv/bin/ruff" check .
"$ROOT/.venv/bin/mypy"
# Bytecode of the project's modules and of pytest's rewritten tests is cached in __pycache__ (ignored
# by git; the Lambda zips compile their own): a machine that sets PYTHONDONTWRITEBYTECODE would
# otherwise recompile them in every test process and Python subprocess (~3 s of CPU each).
unset PYTHONDONTWRITEBYTECODE
# Terraform and the AWS provider are Go programs whose heaps hold the provider's schema and the
# local stack's 1.4 MB state: at Go's default (GOGC=100) their garbage collector took ~20 % of their
# CPU here. At 400 it collects when the heap is 5x the live data (~0.9 GB per Terraform process at
# most in this suite): ~25 s less CPU for the local deploy and destroy. A GOGC already set wins.
export GOGC="${GOGC:-400}"
# Three processes (pytest-xdist), each test file on one of them: the local deployment
# (tests/test_local_e2e.py, mostly waiting on Terraform) runs first and beside the rest, which the
# other two share. Arguments after these win (e.g. `-n 0` for one process).
exec "$ROOT/.venv/bin/python" -m pytest -n 3 --dist loadfile --no-loadscope-reorder "$@"
