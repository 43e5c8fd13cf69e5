# Sourced by the project's scripts: the project's own toolchain first on PATH.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export PATH="$ROOT/node_modules/.bin:$ROOT/.venv/bin:$PATH"
# jsii (cdktf's bridge to Node.js) runs on the project's Node.js 22, not the machine's.
export JSII_NODE="$ROOT/node_modules/.bin/node"
# no telemetry or version checks: the network reaches package registries only
export CHECKPOINT_DISABLE=1
export CDKTF_DISABLE_PLUGIN_CACHE_ENV=1
export PIPENV_VENV_IN_PROJECT=1
export PIPENV_VERBOSITY=-1
# the repository is the import root of scripts/ (python -m scripts.ops ...) and of constructs/app
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# providers from the machine's filesystem mirror (no registry access here)
if [ -d /opt/tf-plugins ]; then
  export TF_CLI_CONFIG_FILE="$ROOT/terraform.rc"
  # cdktf deploy/diff/destroy in a fresh output folder otherwise run `terraform providers lock
  # -platform=linux_amd64`, which asks the registry even with a mirror (`--skip-provider-lock`)
  export CDKTF_SKIP_PROVIDER_LOCK=true
fi
# `cdktf` in a shell that sourced this file is the project's cdktf with two additions:
# - `deploy|diff|destroy local` says plainly when no local emulator answers (Terraform's own error
#   is only "connection refused");
# - when its output is not a terminal (a pipe, a file, CI): no spinner frames (CI=1) or colour codes
#   (FORCE_COLOR=0 for cdktf; --no-color where cdktf has it, and TF_CLI_ARGS_init for the
#   `terraform init` cdktf runs first), and `deploy|destroy local` shows Terraform's progress as
#   counts instead of the rendered plan and a line per resource (`diff local` its plan without the
#   ticks, `output local` the outputs without init's report), errors and warnings whole
#   (scripts/local/progress.py).
cdktf() {
  local _local="" _no_color=(--no-color)
  case "${1:-} $*" in
    deploy*" local"*|diff*" local"*|destroy*" local"*|apply*" local"*|plan*" local"*)
      _local=1
      _emulator_status="$(cd "$ROOT" && "$ROOT/.venv/bin/python" -m scripts.local.emulator status 2>&1 >/dev/null)" \
        || { printf '%s\n' "$_emulator_status" >&2; return 1; } ;;
    output*" local"*) _local=1 ;;
  esac
  if [ -t 1 ]; then
    command cdktf "$@"
    return
  fi
  local _init_args="${TF_CLI_ARGS_init:+$TF_CLI_ARGS_init }-no-color"
  case "${1:-}" in
    deploy|apply|destroy|diff|plan|output)
      if [ "$1" = output ]; then
        _no_color=()  # not an option of `cdktf output`
      fi
      if [ -n "$_local" ]; then
        CI="${CI:-1}" FORCE_COLOR=0 TF_CLI_ARGS_init="$_init_args" command cdktf "$@" "${_no_color[@]}" \
          | (cd "$ROOT" && "$ROOT/.venv/bin/python" -m scripts.local.progress "$@")
        return "${PIPESTATUS[0]}"
      fi
      CI="${CI:-1}" FORCE_COLOR=0 TF_CLI_ARGS_init="$_init_args" command cdktf "$@" "${_no_color[@]}" ;;
    *) CI="${CI:-1}" FORCE_COLOR=0 TF_CLI_ARGS_init="$_init_args" command cdktf "$@" ;;
  esac
}
