"""Every environment synthesizes; the JSON is snapshotted, deterministic, and valid against the
real provider schema (terraform init from the mirror + terraform validate)."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, run_terraform

ENVIRONMENTS = ["dev", "prod", "local"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_synthesizes_with_provider_backend_and_tags(stack_json, environment):
    stack = stack_json(environment)
    provider = stack["provider"]["aws"][0]
    tags = provider["default_tags"][0]["tags"]
    assert tags["Environment"] == environment and tags["ManagedBy"] == "cdktf"
    assert tags["Project"] == "payment-processing" and tags["CostCenter"] == "engineering"
    backend = stack["terraform"]["backend"]
    if environment == "local":
        assert set(backend) == {"local"}
        assert provider["skip_credentials_validation"] is True and provider["s3_use_path_style"] is True
        assert all(url.startswith("http://127.0.0.1:") for url in provider["endpoints"][0].values())
    else:
        assert backend["s3"]["encrypt"] is True and backend["s3"]["use_lockfile"] is True
        assert backend["s3"]["key"] == f"payment-platform/{environment}/terraform.tfstate"
        assert "endpoints" not in provider and "access_key" not in provider


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_json_matches_snapshot(stack_json, environment, snapshot):
    assert json.dumps(stack_json(environment), indent=2, sort_keys=True) == snapshot


@pytest.mark.slow
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_passes_terraform_validate(synth_dir, environment, tmp_path):
    work = tmp_path / environment
    shutil.copytree(synth_dir / "stacks" / environment, work)
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "registry.terraform.io" not in init.stderr
    validate = run_terraform(["validate", "-json", "-no-color"], work)
    result = json.loads(validate.stdout)
    assert result["valid"] is True, json.dumps(result["diagnostics"], indent=2)
    assert result["error_count"] == 0


def _synth_subprocess(outdir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CDKTF_OUTDIR=str(outdir))
    env.pop("JSII_NODE", None)  # main.py must pick the project's Node.js by itself
    return subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_two_synths_are_byte_identical_and_print_no_node_eol_banner(synth_dir, tmp_path):
    run = _synth_subprocess(tmp_path / "again")
    assert run.returncode == 0, run.stderr
    assert "end-of-life" not in run.stderr.lower() and "!!!!" not in run.stderr, run.stderr
    for environment in ENVIRONMENTS:
        first = synth_dir / "stacks" / environment
        second = tmp_path / "again" / "stacks" / environment
        comparison = filecmp.dircmp(first, second)
        assert not comparison.left_only and not comparison.right_only
        assert (first / "cdk.tf.json").read_bytes() == (second / "cdk.tf.json").read_bytes()
