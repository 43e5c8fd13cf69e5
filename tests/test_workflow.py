"""The pull-request workflow (.github/workflows/pull-request.yml) is valid for GitHub Actions
(SchemaStore's workflow schema, as vendored by check-jsonschema: no network) and keeps the
project's rules: actions pinned by version, least permissions, a read-only role from repository
variables, no registry mirror on GitHub's runners, no expression expanded inside a shell script."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from support import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as True
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_name, step


def test_workflow_matches_the_github_workflow_schema():
    run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_fails_when_the_schema_check_meets_an_invalid_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1))
    run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          str(broken)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0, "the schema check must catch a misspelt key"


def test_runs_on_pull_requests(workflow):
    assert "pull_request" in workflow["on"]


def test_every_action_is_pinned_to_a_release_version(workflow):
    for job, step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", step["uses"]), f"{job}: {step['uses']}"


def test_permissions_are_read_only_except_what_the_plan_job_needs(workflow):
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["test"]
    assert workflow["jobs"]["plan"]["permissions"] == {
        "contents": "read", "id-token": "write", "pull-requests": "write"}


def test_plan_role_and_state_bucket_come_from_repository_variables(workflow):
    plan = workflow["jobs"]["plan"]
    credentials = [s for s in plan["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(credentials) == 1
    assert credentials[0]["with"]["role-to-assume"] == "${{ vars.PLAN_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials[0]["with"], "OIDC only, no stored keys"
    assert plan["env"]["PAYMENTS_STATE_BUCKET"] == "${{ vars.PAYMENTS_STATE_BUCKET }}"
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository", "no forks"


def test_terraform_is_the_pinned_version_without_the_wrapper_and_without_the_mirror(workflow):
    setup_sh = (ROOT / "scripts" / "setup.sh").read_text()
    assert "1.1[1-9]" in setup_sh  # setup.sh accepts 1.11.x
    for job, step in steps(workflow):
        if step.get("uses", "").startswith("hashicorp/setup-terraform@"):
            assert str(step["with"]["terraform_version"]) == "1.11.4", job
            assert step["with"]["terraform_wrapper"] is False, job
    assert workflow["env"]["PAYMENTS_REQUIRE_MIRROR"] == "0"


def test_the_test_job_runs_the_readme_test_command(workflow):
    ci_command = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                  if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_command == ["./scripts/test.sh"]
    assert [s["run"].strip() for _, s in steps(workflow) if "run" in s and _ == "test"] == ci_command
    assert "\n./scripts/test.sh\n" in (ROOT / "README.md").read_text()


def test_plan_job_plans_and_summarizes_dev_and_prod(workflow):
    runs = "\n".join(s["run"] for s in workflow["jobs"]["plan"]["steps"] if "run" in s)
    assert "./scripts/setup.sh" in runs and "cdktf synth" in runs
    assert "for stack in dev prod" in runs and "plan -lock=false" in runs
    assert "scripts/plan_summary.py dev=plans/dev.json prod=plans/prod.json" in runs
    comment = [s for s in workflow["jobs"]["plan"]["steps"] if "sticky-pull-request-comment" in s.get("uses", "")]
    assert comment and comment[0]["with"]["path"] == "plan-comment.md" and comment[0]["with"]["header"]


def test_shell_steps_parse_and_expand_no_expressions(workflow):
    for job, step in steps(workflow):
        if "run" not in step:
            continue
        script = step["run"]
        # ${{ }} inside a script is pasted in before the shell runs (script injection): use env
        assert "${{" not in script, f"{job}/{step.get('name')}: pass expressions through env"
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, f"{job}/{step.get('name')}: {check.stderr}"
        for path in re.findall(r"(?:\./)?(scripts/[\w./-]+)", script):
            assert (ROOT / path).exists(), f"{job}/{step.get('name')}: {path} does not exist"
