"""The pull-request plan comment (scripts/ops/plan_summary.py) on real plans: Terraform and the real
provider (from the mirror) apply a small configuration to a moto server, then plan a change that
creates, updates in place, replaces and destroys resources; the summary must count them as
Terraform's own "Plan:" line does and name the replaced resource in bold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from constructs.app.local import EMULATOR_PROFILE, emulator_profile
from scripts.ops import plan_summary
from support import run_terraform

pytestmark = pytest.mark.slow


def _config(profile: Path, parameters: dict[str, dict]) -> dict:
    # the emulator through a profile's endpoint_url, as the local stack does (an `endpoints` block
    # costs the provider ~4 s each time Terraform configures it)
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {"aws": [{
            "region": "us-east-1", "access_key": "test", "secret_key": "test",
            "skip_credentials_validation": True, "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true", "max_retries": 5, "profile": EMULATOR_PROFILE,
            "shared_config_files": [str(profile)], "shared_credentials_files": [str(profile)],
        }]},
        "resource": {"aws_ssm_parameter": parameters},
    }


def _param(name: str, value: str) -> dict:
    return {"name": name, "type": "String", "value": value}


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory) -> tuple[dict, str]:
    """(plan JSON, Terraform's human plan output) of a change applied over a deployed state."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        profile = emulator_profile(f"http://127.0.0.1:{server._server.server_port}")
        work = tmp_path_factory.mktemp("plan-summary")
        before = {"kept": _param("/summary/kept", "one"), "renamed": _param("/summary/old-name", "x"),
                  "removed": _param("/summary/removed", "gone"), "steady": _param("/summary/steady", "s")}
        (work / "main.tf.json").write_text(json.dumps(_config(profile, before)))
        for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
            run = run_terraform(args, work)
            assert run.returncode == 0, run.stdout + run.stderr
        after = {"kept": _param("/summary/kept", "two"), "renamed": _param("/summary/new-name", "x"),
                 "added": _param("/summary/added", "new"), "steady": _param("/summary/steady", "s")}
        (work / "main.tf.json").write_text(json.dumps(_config(profile, after)))
        run = run_terraform(["plan", "-out=change.tfplan", "-input=false", "-no-color"], work)
        assert run.returncode == 0, run.stdout + run.stderr
        shown = run_terraform(["show", "-json", "change.tfplan"], work)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout), run.stdout
    finally:
        server.stop()


def test_counts_match_terraforms_own_plan_line(real_plan):
    plan, human = real_plan
    stack = plan_summary.summarize("local", plan)
    add, change, destroy = map(int, re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", human).groups())
    assert (stack.to_add, stack.to_change, stack.to_destroy) == (add, change, destroy) == (2, 1, 2)


def test_replaced_resources_are_listed_in_bold_with_the_forcing_attribute(real_plan):
    stack = plan_summary.summarize("dev", real_plan[0])
    assert stack.replaced == [("aws_ssm_parameter.renamed", ["name"])]
    text = plan_summary.render_stack(stack)
    assert "- **`aws_ssm_parameter.renamed`** (forced by `name`)" in text
    assert "**2 to add, 1 to change, 2 to destroy** (1 replaced)" in text
    assert "`aws_ssm_parameter.added`" in text and "`aws_ssm_parameter.removed`" in text
    assert "aws_ssm_parameter.steady" not in text, "unchanged resources stay out of the comment"


def test_comment_has_one_marker_and_a_row_per_stack(real_plan, tmp_path):
    plan_file = tmp_path / "dev.json"
    plan_file.write_text(json.dumps(real_plan[0]))
    output = tmp_path / "comment.md"
    status = plan_summary.main([f"dev={plan_file}", f"prod={plan_file}", "--output", str(output)])
    text = output.read_text()
    assert status == 0
    assert text.count(plan_summary.MARKER) == 1
    assert "| `dev` | 2 | 1 | 2 | 1 |" in text and "| `prod` | 2 | 1 | 2 | 1 |" in text


def test_a_plan_without_changes_says_so():
    stack = plan_summary.summarize("prod", {"resource_changes": [
        {"address": "aws_sqs_queue.q", "mode": "managed", "change": {"actions": ["no-op"]}},
        {"address": "data.aws_caller_identity.me", "mode": "data", "change": {"actions": ["read"]}},
    ]})
    assert not stack.has_changes
    assert "No changes." in plan_summary.render_stack(stack)


def test_fails_when_a_stacks_plan_is_missing_and_says_so(tmp_path):
    status = plan_summary.main([f"dev={tmp_path / 'absent.json'}", "--output", str(tmp_path / "c.md")])
    text = (tmp_path / "c.md").read_text()
    assert status == 1
    assert "plan failed" in text and "No changes" not in text
