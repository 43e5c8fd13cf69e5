#!/usr/bin/env bash
# The run command: sets up everything (idempotent), synthesizes every stack, validates each against
# the real provider schema, then deploys the `local` stack to a local AWS emulator and drives
# signed webhooks through it (python -m scripts.local.e2e), printing a summary.
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
for stack in dev prod local; do
  echo "== terraform validate: $stack"
  (cd "cdktf.out/stacks/$stack" && terraform init -backend=false -input=false -no-color >/dev/null \
     && terraform validate -no-color)
done
if [ -f "$ROOT/scripts/local/e2e.py" ]; then
  echo "== local deploy and end-to-end run"
  # scripts/ and constructs/ import from the repository root (env.sh puts it on PYTHONPATH)
  exec "$ROOT/.venv/bin/python" -m scripts.local.e2e "$@"
fi
