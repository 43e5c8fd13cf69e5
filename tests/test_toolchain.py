"""The toolchain notes (scripts/toolchain.json): the recorded entries are the ones the project pins,
each with a date, and the test command prints one warning line per entry whose date is past or
within 90 days, without ever failing. The date is injected (PAYMENTS_TODAY); the script itself uses
the real one."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from scripts import toolchain
from support import MIRROR, ROOT


def _run(today: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAYMENTS_TODAY"}
    if today:
        env["PAYMENTS_TODAY"] = today
    return subprocess.run([sys.executable, "-m", "scripts.toolchain", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=60)


def _expected_names(today: dt.date) -> set[str]:
    """Worked out from the JSON without the script: entries with any date <= today + 90 days."""
    data = json.loads((ROOT / "scripts" / "toolchain.json").read_text())
    return {pin["name"] for pin in data["pins"]
            if any(dt.date.fromisoformat(day) - today <= dt.timedelta(days=90) for day in pin["ends"].values())}


def test_warns_once_per_entry_past_or_near_on_2026_12_07():
    run = _run("2026-12-07")
    assert run.returncode == 0 and run.stdout == ""
    assert run.stderr.splitlines() == [
        "toolchain warning: hashicorp/aws provider 5.100.0 superseded by 6.0.0 2025-06-18 (537 days ago): "
        "6.x needs new bindings (cdktn-provider-aws 25.x or generated) and a 6.x mirror here",
        "toolchain warning: cdktf 0.21.0 archived 2025-12-10 (362 days ago): "
        "move to its successor CDK Terrain: cdktn (PyPI) and cdktn-cli (npm), 0.24.0",
        "toolchain warning: cdktf-cdktf-provider-aws 20.1.0 archived 2025-12-10 (362 days ago): "
        "successor cdktn-provider-aws binds hashicorp/aws 6.x only: generate 5.100.0 bindings (cdktn get) "
        "or move the provider to 6.x",
        "toolchain warning: Amazon Linux 2 end of life 2026-06-30 (160 days ago): "
        "move the functions to python3.12+ (Amazon Linux 2023)",
        "toolchain warning: Terraform 1.11 end of support 2027-02-27 (in 82 days): "
        "move to a current Terraform 1.x (the machine image, .github/actions/setup)",
    ]


@pytest.mark.parametrize("today", ["2025-01-01", "2025-03-20", "2025-09-11", "2026-12-07", "2027-01-30",
                                   "2027-04-01", "2027-06-15", "2027-08-02", "2028-01-01"])
def test_one_warning_line_per_entry_past_or_within_90_days(today):
    run = _run(today)
    assert run.returncode == 0 and run.stdout == ""
    lines = run.stderr.splitlines()
    assert all(line.startswith("toolchain warning: ") for line in lines)
    names = [next(pin["name"] for pin in toolchain.load()["pins"] if line.startswith(f"toolchain warning: {pin['name']} "))
             for line in lines]
    assert len(names) == len(set(names)) == len(lines), "one line per entry"
    assert set(names) == _expected_names(dt.date.fromisoformat(today))


def test_no_warning_when_every_date_is_more_than_90_days_away():
    run = _run("2025-01-01")
    assert run.returncode == 0 and run.stdout == "" and run.stderr == ""


def test_an_entry_warns_90_days_ahead_and_not_91():
    data = toolchain.load()
    node_eol = dt.date(2027, 4, 30)
    assert "Node.js 22" in {item.name for item in toolchain.due(data, node_eol - dt.timedelta(days=90))}
    assert "Node.js 22" not in {item.name for item in toolchain.due(data, node_eol - dt.timedelta(days=91))}


def test_an_entry_with_several_dates_names_each_near_one_on_its_line():
    lines = toolchain.warning_lines(toolchain.load(), dt.date(2027, 6, 15))
    lambda_lines = [line for line in lines if line.startswith("toolchain warning: python3.11 Lambda runtime ")]
    assert lambda_lines == [
        "toolchain warning: python3.11 Lambda runtime deprecation 2027-06-30 (in 15 days), function create blocked "
        "2027-07-31 (in 46 days), function update blocked 2027-08-31 (in 77 days): move RUNTIME to python3.12+ "
        "(Amazon Linux 2023) with the build Python"]
    may = [line for line in toolchain.warning_lines(toolchain.load(), dt.date(2027, 5, 1))
           if line.startswith("toolchain warning: python3.11 Lambda runtime ")]
    assert len(may) == 1 and "deprecation 2027-06-30 (in 60 days): " in may[0] and "blocked" not in may[0]


def test_the_script_uses_the_real_date_unless_a_test_injects_one():
    assert toolchain.today_from({}) == dt.datetime.now(dt.timezone.utc).date()
    assert toolchain.today_from({"PAYMENTS_TODAY": "2030-01-02"}) == dt.date(2030, 1, 2)
    assert _run(None).stderr.splitlines() == toolchain.warning_lines(
        toolchain.load(), dt.datetime.now(dt.timezone.utc).date())


def test_every_entry_has_a_date_an_action_and_a_source():
    for pin in toolchain.load()["pins"]:
        assert pin["ends"] and all(dt.date.fromisoformat(day) for day in pin["ends"].values()), pin["name"]
        assert pin["action"] and pin["source"].startswith("http") and pin["pinned"], pin["name"]


def test_fails_when_an_entry_has_no_date(tmp_path):
    data = toolchain.load()
    data["pins"][0]["ends"] = {}
    data["pins"][1]["ends"] = {"archived": "December 2025"}
    notes = tmp_path / "toolchain.json"
    notes.write_text(json.dumps(data))
    with pytest.raises(ValueError) as error:
        toolchain.load(notes)
    assert "cdktf 0.21.0: no date in 'ends'" in str(error.value)
    assert "cdktf-cdktf-provider-aws 20.1.0: archived must be a date YYYY-MM-DD, got 'December 2025'" in str(error.value)


@pytest.mark.parametrize("content", ["{not json", '{"warn_days": 90, "pins": [{"name": "x", "ends": {}}]}'])
def test_never_fails_the_run_on_unreadable_notes(tmp_path, content):
    notes = tmp_path / "toolchain.json"
    notes.write_text(content)
    run = _run("2026-12-07", "--file", str(notes))
    assert run.returncode == 0
    assert len(run.stderr.splitlines()) == 1 and run.stderr.startswith("toolchain warning: cannot read toolchain.json: ")


def test_all_lists_every_entry_with_its_action_and_migration():
    run = _run("2026-12-07", "--all")
    assert run.returncode == 0
    for pin in toolchain.load()["pins"]:
        assert f"{pin['name']}: " in run.stdout and f"  action: {pin['action']}" in run.stdout
    assert "cdktf 0.21.0: archived 2025-12-10 (-362 days)" in run.stdout
    assert "migration: Every cdktn-provider-aws release binds hashicorp/aws 6.x" in run.stdout


def test_the_successors_and_the_provider_question_are_named():
    pins = {pin["name"]: pin for pin in toolchain.load()["pins"]}
    assert "cdktn (PyPI)" in pins["cdktf 0.21.0"]["action"] and "cdktn-cli" in pins["cdktf 0.21.0"]["action"]
    bindings = pins["cdktf-cdktf-provider-aws 20.1.0"]
    assert "cdktn-provider-aws" in bindings["action"]
    assert "5.100.0" in bindings["migration"] and "/opt/tf-plugins" in bindings["migration"]
    assert "cdktn get" in bindings["migration"] and "6.69.1" in bindings["migration"]


def test_recorded_entries_are_the_projects_pins():
    names = {pin["name"] for pin in toolchain.load()["pins"]}
    assert names == {"cdktf 0.21.0", "cdktf-cdktf-provider-aws 20.1.0", "hashicorp/aws provider 5.100.0",
                     "Amazon Linux 2", "Terraform 1.11", "Node.js 22", "python3.11 Lambda runtime", "Python 3.11"}
    assert 'RUNTIME = "python3.11"' in (ROOT / "constructs" / "processing" / "function.py").read_text()
    assert json.loads((ROOT / "package.json").read_text())["dependencies"]["node"].startswith("22.")
    pipfile = (ROOT / "Pipfile").read_text()
    assert 'cdktf = "==0.21.0"' in pipfile and 'cdktf-cdktf-provider-aws = "==20.1.0"' in pipfile
    assert 'python_version = "3.11"' in pipfile
    assert MIRROR.name == "5.100.0"
    assert "terraform_version: 1.11.4" in (ROOT / ".github" / "actions" / "setup" / "action.yml").read_text()


def test_the_test_command_prints_the_warnings_and_goes_on():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert '"$ROOT/.venv/bin/python" -m scripts.toolchain || true' in script
    assert script.index("scripts.toolchain") < script.index("-m pytest")



def test_the_workflow_guide_shows_every_date_of_the_notes():
    guide = (ROOT / ".github" / "workflows" / "README.md").read_text()
    section = guide[guide.index("## Toolchain support"):]
    missing = [f"{pin['name']}: {day}" for pin in toolchain.load()["pins"] for day in pin["ends"].values()
               if day not in section]
    assert missing == []
