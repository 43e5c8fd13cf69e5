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

from constructs.app.environments import environment_names, load_settings
from support import ROOT, run_terraform

ENVIRONMENTS = environment_names()  # cdktf.json context.environments, as main.py synthesizes them


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_synthesizes_with_provider_backend_and_tags(stack_json, environment):
    stack = stack_json(environment)
    provider = stack["provider"]["aws"][0]
    tags = provider["default_tags"][0]["tags"]
    assert tags["Environment"] == environment and tags["ManagedBy"] == "cdktf"
    assert tags["Project"] == "payment-processing" and tags["CostCenter"] == "engineering"
    backend = stack["terraform"]["backend"]
    if load_settings(environment, environ={}).emulator:
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


@pytest.mark.slow
def test_an_environment_added_in_config_synthesizes_and_validates(tmp_path):
    """Adding `staging` is a cdktf.json edit: the same app builds it, with its own names and state."""
    config = json.loads((ROOT / "cdktf.json").read_text())
    config["context"]["environments"]["staging"] = {"backend": {"bucket": "acme-tfstate-staging"},
                                                    "alert_email": "staging-oncall@example.com"}
    (tmp_path / "cdktf.json").write_text(json.dumps(config))
    from cdktf import Testing

    from constructs.app.environments import read_environments
    from constructs.app.stack import PaymentPlatformStack

    environments = read_environments(tmp_path / "cdktf.json")
    assert environment_names(environments) == [*ENVIRONMENTS, "staging"]
    settings = load_settings("staging", environ={}, environments=environments)
    stack = PaymentPlatformStack(Testing.app(), "staging", settings=settings)
    synthesized = json.loads(Testing.synth(stack))
    assert synthesized["terraform"]["backend"]["s3"]["bucket"] == "acme-tfstate-staging"
    assert synthesized["terraform"]["backend"]["s3"]["key"] == "payment-platform/staging/terraform.tfstate"
    tables = synthesized["resource"]["aws_dynamodb_table"].values()
    assert [t["name"] for t in tables] == ["payment-transactions-staging"]
    outdir = Path(Testing.full_synth(stack))
    work = tmp_path / "staging"
    shutil.copytree(next(outdir.glob("**/stacks/staging")), work)
    assert run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work).returncode == 0
    validate = json.loads(run_terraform(["validate", "-json", "-no-color"], work).stdout)
    assert validate["valid"] is True, validate["diagnostics"]
