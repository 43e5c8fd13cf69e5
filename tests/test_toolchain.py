"""The toolchain notes (scripts/toolchain.json): the recorded pins are the ones the project uses,
and the test command warns in one line, without failing, when an end of support is near."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from support import MIRROR, ROOT


import toolchain  # noqa: E402


def _run(today: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "toolchain.py")], capture_output=True, text=True,
                          env=dict(os.environ, PAYMENTS_TODAY=today), timeout=60)


def test_no_warning_far_from_every_end_date():
    run = _run("2026-11-29")
    assert run.returncode == 0 and run.stdout == "" and run.stderr == ""


def test_one_warning_line_within_90_days_of_node_22_end_of_life():
    run = _run("2027-02-15")  # 74 days before 2027-04-30
    assert run.returncode == 0
    assert run.stderr.splitlines() == [
        "toolchain warning: Node.js 22 end of life 2027-04-30 (in 74 days) (README: Toolchain support)"]


def test_still_one_line_and_exit_0_when_several_dates_are_near_or_past():
    run = _run("2027-06-15")
    assert run.returncode == 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1
    assert "Node.js 22 end of life 2027-04-30 (46 days ago)" in lines[0]
    assert "python3.11 Lambda runtime deprecation 2027-06-30 (in 15 days)" in lines[0]


def test_nothing_is_warned_91_days_ahead():
    data = toolchain.load()
    first = min(dt.date.fromisoformat(d) for pin in data["pins"] for d in pin["ends"].values())
    assert toolchain.warning_line(data, first - dt.timedelta(days=91)) == ""
    assert toolchain.warning_line(data, first - dt.timedelta(days=90)) != ""


def test_recorded_pins_are_the_projects_pins():
    names = {pin["name"] for pin in toolchain.load()["pins"]}
    assert {"python3.11 Lambda runtime", "Node.js 22", "cdktf 0.21.0", "hashicorp/aws provider 5.100.0"} <= names
    assert 'RUNTIME = "python3.11"' in (ROOT / "constructs" / "processing" / "__init__.py").read_text()
    assert json.loads((ROOT / "package.json").read_text())["dependencies"]["node"].startswith("22.")
    pipfile = (ROOT / "Pipfile").read_text()
    assert 'cdktf = "==0.21.0"' in pipfile and 'cdktf-cdktf-provider-aws = "==20.1.0"' in pipfile
    assert MIRROR.name == "5.100.0"


def test_the_test_command_prints_the_warning_and_goes_on():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert '"$ROOT/scripts/toolchain.py" || true' in script
    assert script.index("toolchain.py") < script.index("-m pytest")
