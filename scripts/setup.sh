#!/usr/bin/env bash
# Sets up everything the project needs on a fresh machine, idempotently (a second run is quick):
# the Python packages of Pipfile.lock in .venv, the Node.js toolchain of package-lock.json
# (Node.js 22 for jsii, cdktf-cli 0.21.0) in node_modules. Fails loudly when the machine lacks
# Python 3.11, Terraform 1.11.x or (where it is expected) the provider mirror.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

fail() { echo "setup: $*" >&2; exit 1; }

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$PYTHON" ] || fail "python3.11 not found"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || fail "Python 3.11 is required (Lambda runtime python3.11), got $("$PYTHON" --version)"
command -v terraform >/dev/null || fail "terraform not found on PATH (Terraform 1.11.4 expected)"
# Read the whole output first: `terraform version | head -1` under pipefail fails whenever
# Terraform dies of SIGPIPE after head exits (seen 6 runs in 60).
tf_version="$(terraform version -json 2>/dev/null | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])' || true)"
case "$tf_version" in
  1.1[1-9].*) ;;
  *) fail "Terraform >= 1.11 expected, got: '${tf_version:-no answer from terraform version -json}'" ;;
esac
if [ "${PAYMENTS_REQUIRE_MIRROR:-1}" = 1 ] && [ ! -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0 ]; then
  fail "provider mirror /opt/tf-plugins (hashicorp/aws 5.100.0) is missing; set PAYMENTS_REQUIRE_MIRROR=0 to use the registry"
fi
command -v npm >/dev/null || fail "npm not found (needed for cdktf-cli and Node.js 22)"

# Python: pipenv (pinned) in .tools, the locked packages in .venv
lock_hash="$(sha256sum Pipfile.lock | cut -c1-64)"
if [ ! -f .venv/.lock-hash ] || [ "$(cat .venv/.lock-hash)" != "$lock_hash" ]; then
  if [ ! -x .tools/bin/pipenv ]; then
    "$PYTHON" -m venv .tools
    if ! pip_log="$(.tools/bin/pip install --quiet --disable-pip-version-check pipenv==2025.0.4 2>&1)"; then
      printf '%s\n' "$pip_log" >&2
      fail "installing pipenv 2025.0.4 failed (pip's output is above)"
    fi
  fi
  echo "setup: installing the Python packages of Pipfile.lock into .venv (pipenv sync)"
  # pipenv's own chatter (~15 lines) is shown only when the sync fails
  if ! sync_log="$(PIPENV_PYTHON="$PYTHON" .tools/bin/pipenv sync --dev 2>&1)"; then
    printf '%s\n' "$sync_log" >&2
    fail "pipenv sync --dev failed (its output is above)"
  fi
  echo "$lock_hash" > .venv/.lock-hash
fi

# LocalStack's Velocity engine for the second VTL renderer (tests only): it installs the module name
# `airspeed` too, so it goes into its own directory instead of site-packages (tests/localstack_vtl/)
ext_req=tests/localstack_vtl/requirements.txt
ext_hash="$(sha256sum "$ext_req" | cut -c1-64)"
if [ ! -f .venv/airspeed-ext/.req-hash ] || [ "$(cat .venv/airspeed-ext/.req-hash)" != "$ext_hash" ]; then
  echo "setup: installing $ext_req into .venv/airspeed-ext"
  rm -rf .venv/airspeed-ext
  if ! pip_log="$(.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
      --no-build-isolation --target .venv/airspeed-ext -r "$ext_req" 2>&1)"; then
    printf '%s\n' "$pip_log" >&2
    fail "installing $ext_req into .venv/airspeed-ext failed (pip's output is above)"
  fi
  echo "$ext_hash" > .venv/airspeed-ext/.req-hash
fi

# Node.js: npm ci from package-lock.json
npm_hash="$(sha256sum package-lock.json | cut -c1-64)"
if [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$npm_hash" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" > node_modules/.lock-hash
fi
"$JSII_NODE" --version >/dev/null || fail "the project's Node.js did not install (node_modules/.bin/node)"
echo "setup: ready (python $("$ROOT/.venv/bin/python" --version 2>&1 | cut -d' ' -f2), node $("$JSII_NODE" --version), terraform $tf_version)"
