"""Checkov on the synthesized dev and prod stacks (the AWS environments; `local` points at an
emulator and is not scanned). Every check must pass or be skipped in .checkov.yaml with its reason
(checkov cannot take inline skips from JSON). The assertion message prints the counts and the
failed checks, so a failure reads like checkov's own report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from constructs.app.environments import environment_names, read_environments
from support import ROOT

CHECKOV = Path(sys.executable).with_name("checkov")
CONFIG = ROOT / ".checkov.yaml"
# the AWS environments of cdktf.json (the emulator one switches features off by design)
SCANNED = [e for e in environment_names() if not read_environments()[e].get("emulator")]


def run_checkov(stack_file: Path) -> dict:
    run = subprocess.run(
        [str(CHECKOV), "-f", str(stack_file), "--framework", "terraform_json", "--config-file", str(CONFIG),
         "--output", "json", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode in (0, 1), f"checkov crashed ({run.returncode}):\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    assert len(reports) == 1 and reports[0]["check_type"] == "terraform_json", [r.get("check_type") for r in reports]
    return reports[0]


def test_every_skip_in_the_checkov_config_has_a_reason():
    text = CONFIG.read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert skips and len(skips) == len(set(skips)), skips
    lines = text.splitlines()
    for check in skips:
        index = lines.index(f"  - {check}")
        reason = [line for line in lines[max(0, index - 4):index] if line.strip().startswith("#")]
        assert any(check in line for line in reason), f"{check} needs a '# {check} ...' reason comment above it"


@pytest.mark.slow
@pytest.mark.parametrize("environment", SCANNED)
def test_checkov_passes_on_the_synthesized_stack(synth_dir, environment):
    stack_file = synth_dir / "stacks" / environment / "cdk.tf.json"
    assert "required_version" not in json.loads(stack_file.read_text())["terraform"]  # checkov crashes on it
    report = run_checkov(stack_file)
    summary = report["summary"]
    failed = report["results"]["failed_checks"]
    skipped_by_config = yaml.safe_load(CONFIG.read_text())["skip-check"]
    figures = (f"checkov {environment}: passed {summary['passed']}, failed {summary['failed']}, "
               f"skipped {summary['skipped']} (+ {len(skipped_by_config)} check ids skipped in .checkov.yaml), "
               f"parsing errors {summary['parsing_errors']}")
    details = "\n".join(f"  {c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    assert summary["parsing_errors"] == 0, figures
    assert summary["passed"] > 0, figures  # it scanned something
    assert summary["failed"] == 0, f"{figures}\n{details}"
    print(figures)
