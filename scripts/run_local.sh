#!/usr/bin/env bash
# The run command: sets up everything (idempotent), synthesizes every stack, validates each against
# the real provider schema, then deploys the `local` stack to a local AWS emulator and drives
# signed webhooks through it (python -m scripts.local.e2e), ending with a short table of the run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# stage lines and Terraform's resource counts from scripts/local/deploy.py
export PAYMENTS_PROGRESS=1
echo "== synth of every stack (cdktf synth through cdktf.json)"
started=$SECONDS
cdktf synth --output cdktf.out >/dev/null
echo "   synth: done in $((SECONDS - started)) s"
echo "== terraform validate of every stack"
# the stacks this synth wrote (its manifest), not whatever an earlier one left in cdktf.out
stacks="$("$ROOT/.venv/bin/python" -c 'import json, sys; print(*json.load(sys.stdin)["stacks"])' <cdktf.out/manifest.json)"
for stack in $stacks; do
  folder="cdktf.out/stacks/$stack"
  # Terraform's words only when a stack is not valid
  if ! report="$(cd "$folder" && terraform init -backend=false -input=false -no-color >/dev/null \
                   && terraform validate -no-color 2>&1)"; then
    printf '%s\n' "$report" >&2
    echo "   $stack: NOT valid" >&2
    exit 1
  fi
  echo "   $stack: valid"
done
if [ -f "$ROOT/scripts/local/e2e.py" ]; then
  echo "== local deploy and end-to-end run"
  # scripts/ and constructs/ import from the repository root (env.sh puts it on PYTHONPATH)
  exec "$ROOT/.venv/bin/python" -m scripts.local.e2e "$@"
fi
