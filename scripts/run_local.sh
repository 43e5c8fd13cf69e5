#!/usr/bin/env bash
# The run command: sets up everything (idempotent), synthesizes every stack, validates each against
# the real provider schema, then deploys the `local` stack to a local AWS emulator and drives
# signed webhooks through it (scripts/local_e2e.py), printing a summary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# stage lines and Terraform's resource counts from scripts/local_deploy.py
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
if [ -f "$ROOT/scripts/local_e2e.py" ]; then
  echo "== local deploy and end-to-end run"
  # the repository is an import root (constructs.app.settings), as pytest.ini's pythonpath makes it
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$ROOT/.venv/bin/python" "$ROOT/scripts/local_e2e.py" "$@"
fi
