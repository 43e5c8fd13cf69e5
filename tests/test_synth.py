"""Every environment synthesizes; the JSON is snapshotted, deterministic, and valid against the
real provider schema (terraform init from the mirror + terraform validate)."""

import ast
import configparser
import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.extensions.amber.serializer import AmberDataSerializer

from constructs.app.environments import environment_names, load_settings
from constructs.app.local import EMULATOR_PROFILE
from support import ROOT, run_terraform

from scripts.packaging import zips as package

ENVIRONMENTS = environment_names()  # cdktf.json context.environments, as main.py synthesizes them
#: a name cdktf.json does not use yet, for the tests that add an environment
NEW_ENVIRONMENT = next(name for name in ("staging", "preprod", "qa", "uat") if name not in ENVIRONMENTS)
SNAPSHOT_FILE = Path(__file__).parent / "__snapshots__" / "test_synth.ambr"
UPDATE_COMMAND = "./scripts/test.sh tests/test_synth.py --snapshot-update"
ZIP_PATH = re.compile(r"^(?P<asset>.*/)[0-9A-F]{32}/(?P<name>[a-z_]+)-[0-9a-f]{16}\.zip$")


def code_digest(name: str, lambda_src: Path = package.LAMBDA_SRC) -> str:
    """A digest of what a zip ships, read as code: Python files by their syntax tree (comments and
    formatting dropped, docstrings kept), other files byte for byte; the layer adds its pinned
    dependencies. A comment changes the zip's bytes but not this; a code change changes both."""
    if name == "layer":
        entries = package._tree_entries(lambda_src / "layer" / "paycore", "python/paycore/")
        entries += [("requirements", package.requirements_text().encode()),
                    ("constraints", package.constraints_text().encode())]
    else:
        entries = package._tree_entries(lambda_src / name)
    digest = hashlib.sha256()
    for arcname, data in sorted(entries):
        if arcname.endswith(".py"):
            data = ast.dump(ast.parse(data, filename=arcname)).encode()
        digest.update(arcname.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def stable_code_hashes(stack: dict) -> dict:
    """The stack JSON as snapshotted: each Lambda zip's file name and source_code_hash (hashes of
    the zip's bytes) replaced by the digest of the code it ships, so a comment-only handler edit
    leaves the snapshot as it was. The synthesized stack itself keeps the real hashes: the plan
    still changes with any byte of a zip."""
    stack = json.loads(json.dumps(stack))
    for resource_type in ("aws_lambda_function", "aws_lambda_layer_version"):
        for resource in stack.get("resource", {}).get(resource_type, {}).values():
            match = ZIP_PATH.match(resource.get("filename", ""))
            if match:
                code = code_digest(match["name"])
                resource["filename"] = f"{match['asset']}<code {code}>/{match['name']}.zip"
                resource["source_code_hash"] = f"<sha256 of the zip of code {code}>"
    return stack


def changed_addresses(stored: dict, current: dict) -> list[str]:
    """Terraform addresses (and top-level blocks) that differ between two stack JSONs."""
    changed = []
    for block in sorted(set(stored) | set(current)):
        old, new = stored.get(block, {}), current.get(block, {})
        if block in ("resource", "data"):
            prefix = "data." if block == "data" else ""
            for kind in sorted(set(old) | set(new)):
                for name in sorted(set(old.get(kind, {})) | set(new.get(kind, {}))):
                    if old.get(kind, {}).get(name) != new.get(kind, {}).get(name):
                        state = "added" if name not in old.get(kind, {}) else (
                            "removed" if name not in new.get(kind, {}) else "changed")
                        changed.append(f"{prefix}{kind}.{name} ({state})")
        elif block in ("output", "variable", "locals") and isinstance(old, dict) and isinstance(new, dict):
            changed += [f"{block}.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        elif old != new and block != "//":
            changed.append(block)
    return changed


def stored_snapshot(name: str) -> dict | None:
    try:
        data = AmberDataSerializer.read_file(str(SNAPSHOT_FILE)).get(name).data.strip()
        return json.loads(data[3:-3]) if data.startswith("'''") else None
    except (AttributeError, OSError, ValueError):
        return None


def snapshot_failure(environment: str, current: dict) -> str:
    stored = stored_snapshot(f"test_stack_json_matches_snapshot[{environment}]")
    if stored is None:
        return f"no reviewed snapshot of {environment} yet: create it with `{UPDATE_COMMAND}`"
    changed = changed_addresses(stored, current)
    listed = "\n  ".join(changed[:40]) + (f"\n  ... and {len(changed) - 40} more" if len(changed) > 40 else "")
    return (f"the synthesized {environment} stack differs from its reviewed snapshot in "
            f"{len(changed)} place(s):\n  {listed or '(metadata only)'}\n"
            f"If the change is intended, review the diff below and update the snapshots with `{UPDATE_COMMAND}`")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_synthesizes_with_provider_backend_and_tags(stack_json, synth_dir, environment):
    stack = stack_json(environment)
    provider = stack["provider"]["aws"][0]
    tags = provider["default_tags"][0]["tags"]
    assert tags["Environment"] == environment and tags["ManagedBy"] == "cdktf"
    assert tags["Project"] == "payment-processing" and tags["CostCenter"] == "engineering"
    backend = stack["terraform"]["backend"]
    if load_settings(environment, environ={}).emulator:
        assert set(backend) == {"local"}
        assert provider["skip_credentials_validation"] is True and provider["s3_use_path_style"] is True
        # every AWS call through the synthesized profile's endpoint_url, on loopback; no endpoints block
        # (its validation costs the provider ~4 s each time a Terraform command configures it)
        assert "endpoints" not in provider and provider["profile"] == EMULATOR_PROFILE
        assert provider["shared_config_files"] == provider["shared_credentials_files"]
        [profile_path] = provider["shared_config_files"]
        profile = configparser.ConfigParser()
        profile.read_string((synth_dir / "stacks" / environment / profile_path).read_text())
        assert profile.sections() == [f"profile {EMULATOR_PROFILE}"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", profile[f"profile {EMULATOR_PROFILE}"]["endpoint_url"])
    else:
        assert backend["s3"]["encrypt"] is True and backend["s3"]["use_lockfile"] is True
        assert backend["s3"]["key"] == f"payment-platform/{environment}/terraform.tfstate"
        assert "endpoints" not in provider and "access_key" not in provider


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_json_matches_snapshot(stack_json, environment, snapshot):
    current = stable_code_hashes(stack_json(environment))
    text = json.dumps(current, indent=2, sort_keys=True)
    # the message is built only on a mismatch (it reads the stored snapshot back)
    assert text == snapshot, snapshot_failure(environment, current)


def test_the_snapshot_folder_holds_no_unused_snapshot(request):
    """syrupy fails a run that leaves a stored snapshot unused, but not under pytest-xdist, which
    ./scripts/test.sh uses (syrupy merges no reports across processes): the same check, here."""
    if request.config.option.update_snapshots:
        pytest.skip("a --snapshot-update run writes the folder when it ends: checked on the next run")
    stored = {snapshot.name for snapshot in AmberDataSerializer.read_file(str(SNAPSHOT_FILE))}
    expected = {f"test_stack_json_matches_snapshot[{environment}]" for environment in ENVIRONMENTS}
    fix = f"remove unused ones with `{UPDATE_COMMAND} -n 0` (one process: syrupy then removes them)"
    assert stored == expected, f"unused: {sorted(stored - expected)}, missing: {sorted(expected - stored)}; {fix}"
    assert [path.name for path in SNAPSHOT_FILE.parent.iterdir()] == [SNAPSHOT_FILE.name], fix


def test_a_comment_in_a_handler_leaves_the_snapshot_digest_but_code_changes_it(tmp_path):
    copy = tmp_path / "lambda_src"
    shutil.copytree(package.LAMBDA_SRC / "manual_notify", copy / "manual_notify")
    handler = copy / "manual_notify" / "manual_notify_handler.py"
    original = code_digest("manual_notify", copy)
    assert original == code_digest("manual_notify")
    handler.write_text("# a reviewer's note\n" + handler.read_text() + "\n\n# and one at the end\n")
    assert code_digest("manual_notify", copy) == original
    handler.write_text(handler.read_text() + "\nEXTRA = 1\n")
    assert code_digest("manual_notify", copy) != original


def test_readme_gives_the_snapshot_update_command():
    assert f"{UPDATE_COMMAND}\n" in (ROOT / "README.md").read_text()


def test_snapshot_failure_names_the_changed_addresses_and_the_update_command(stack_json):
    current = stable_code_hashes(stack_json("dev"))
    changed = json.loads(json.dumps(current))
    queue = next(iter(changed["resource"]["aws_sqs_queue"]))
    changed["resource"]["aws_sqs_queue"][queue]["delay_seconds"] = 7
    assert changed_addresses(current, changed) == [f"aws_sqs_queue.{queue} (changed)"]
    message = snapshot_failure("dev", changed)
    assert f"aws_sqs_queue.{queue} (changed)" in message and UPDATE_COMMAND in message


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


def config_with_a_new_environment(name: str) -> dict:
    """cdktf.json with one environment more, as a team would add it (to the environments this run has)."""
    from constructs.app.environments import read_environments

    config = json.loads((ROOT / "cdktf.json").read_text())
    config["context"]["environments"] = {**read_environments(), name: {
        "backend": {"bucket": f"acme-tfstate-{name}"}, "alert_email": f"{name}-oncall@example.com"}}
    return config


@pytest.mark.slow
def test_an_environment_added_in_config_synthesizes_and_validates(tmp_path):
    """Adding an environment is a cdktf.json edit: the same app builds it, with its own names and state."""
    name = NEW_ENVIRONMENT
    (tmp_path / "cdktf.json").write_text(json.dumps(config_with_a_new_environment(name)))
    from cdktf import Testing

    from constructs.app.environments import read_environments
    from constructs.app.names import Names
    from constructs.app.stack import PaymentPlatformStack

    environments = read_environments(tmp_path / "cdktf.json")
    assert environment_names(environments) == [*ENVIRONMENTS, name]
    settings = load_settings(name, environ={}, environments=environments)
    stack = PaymentPlatformStack(Testing.app(), name, settings=settings)
    synthesized = json.loads(Testing.synth(stack))
    assert synthesized["terraform"]["backend"]["s3"]["bucket"] == f"acme-tfstate-{name}"
    assert synthesized["terraform"]["backend"]["s3"]["key"] == f"payment-platform/{name}/terraform.tfstate"
    tables = synthesized["resource"]["aws_dynamodb_table"].values()
    names = Names(name)
    assert sorted(t["name"] for t in tables) == sorted([names.deliveries_table, names.markers_table, names.ledger_table,
                                                        names.idempotency_table, names.reconcile_checkpoints_table])
    outdir = Path(Testing.full_synth(stack))
    work = tmp_path / name
    shutil.copytree(next(outdir.glob(f"**/stacks/{name}")), work)
    assert run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work).returncode == 0
    validate = json.loads(run_terraform(["validate", "-json", "-no-color"], work).stdout)
    assert validate["valid"] is True, validate["diagnostics"]
