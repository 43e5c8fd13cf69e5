"""Checkov on the synthesized dev and prod stacks (the AWS environments; `local` points at an
emulator and is not scanned). Every check must pass or be skipped in .checkov.yaml with its reason
(checkov cannot take inline skips from JSON). A check skipped in .checkov.yaml is not reported as
skipped by checkov, so the test lists them itself: it prints passed/failed/skipped counts and the
skipped check ids with the resources each would have failed, and the assertion message reads like
checkov's own report."""

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
# skipped for dev only: prod must pass them without the skip
PROD_PASSES = {"CKV_AWS_338"}
MAX_SKIPS = 11  # .checkov.yaml; issue 11 aims at 8: lower this when a skip goes


def skipped_checks() -> list[str]:
    return yaml.safe_load(CONFIG.read_text())["skip-check"]


def run_checkov(stack_files: list[Path], config: Path = CONFIG) -> dict:
    """One checkov run over `stack_files` (paths under one folder, the working directory): one
    terraform_json report whose results name each file (`file_path`, e.g. `/dev/cdk.tf.json`).
    `quiet` comes from the config file (the command line's `--quiet` would win over it)."""
    folder = stack_files[0].parent.parent
    run = subprocess.run(
        [str(CHECKOV), *[arg for f in stack_files for arg in ("-f", str(f.relative_to(folder)))],
         "--framework", "terraform_json", "--config-file", str(config),
         "--output", "json", "--skip-download"],  # no call to Prisma Cloud: nothing downloads at run time
        capture_output=True, text=True, timeout=600, cwd=folder,
    )
    assert run.returncode in (0, 1), f"checkov crashed ({run.returncode}):\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    if reports and reports[0].get("check_type") is None and "passed" in reports[0]:
        return {"summary": reports[0], "results": {"failed_checks": []}}  # nothing failed, empty report
    assert len(reports) == 1 and reports[0]["check_type"] == "terraform_json", [r.get("check_type") for r in reports]
    return reports[0]


@pytest.fixture(scope="module")
def unskipped_scan(synth_dir, tmp_path_factory) -> dict:
    """One checkov run over every scanned stack (checkov's own start is ~4.6 s of CPU), without the
    skips: checkov's skip-check only leaves checks out, each check is independent, so what the
    configured scan would report is these results less the skipped ids, and the failures of the
    skipped ids are what the skips hide."""
    unskipped = dict(yaml.safe_load(CONFIG.read_text()))
    unskipped.pop("skip-check")
    unskipped["quiet"] = False  # the passed checks too, to count them as the configured scan would
    bare = tmp_path_factory.mktemp("checkov") / "checkov-unskipped.yaml"
    bare.write_text(yaml.safe_dump(unskipped))
    return run_checkov([synth_dir / "stacks" / environment / "cdk.tf.json" for environment in SCANNED], bare)


def test_every_skip_in_the_checkov_config_has_a_reason():
    text = CONFIG.read_text()
    skips = skipped_checks()
    assert skips and len(skips) == len(set(skips)), skips
    assert len(skips) <= MAX_SKIPS, f"{len(skips)} skips: each new one needs a reviewed reason and this limit"
    lines = text.splitlines()
    for check in skips:
        index = lines.index(f"  - {check}")
        reason = [line for line in lines[max(0, index - 4):index] if line.strip().startswith("#")]
        assert any(check in line for line in reason), f"{check} needs a '# {check} ...' reason comment above it"


def test_fixed_findings_are_not_skipped_any_more():
    # CKV_AWS_145: the access-log bucket uses SSE-KMS; CKV_AWS_338: prod keeps 365 days everywhere
    assert "CKV_AWS_145" not in skipped_checks()


@pytest.mark.slow
@pytest.mark.parametrize("environment", SCANNED)
def test_checkov_passes_on_the_synthesized_stack(synth_dir, unskipped_scan, environment):
    stack_file = synth_dir / "stacks" / environment / "cdk.tf.json"
    assert "required_version" not in json.loads(stack_file.read_text())["terraform"]  # checkov crashes on it
    skips = skipped_checks()
    if read_environments()[environment].get("production"):
        skips = [c for c in skips if c not in PROD_PASSES]
    summary = unskipped_scan["summary"]  # parsing errors and checkov's own skips: over every stack scanned
    ours = f"/{environment}/cdk.tf.json"
    results = {kind: [c for c in unskipped_scan["results"].get(kind, []) if c["file_path"] == ours]
               for kind in ("passed_checks", "failed_checks")}
    failed = [c for c in results["failed_checks"] if c["check_id"] not in skips]
    passed = sum(c["check_id"] not in skips for c in results["passed_checks"])
    hidden: dict[str, set[str]] = {}
    for check in results["failed_checks"]:
        if check["check_id"] in skips:
            hidden.setdefault(check["check_id"], set()).add(check["resource"])
    skipped_findings = sum(len(r) for r in hidden.values())
    figures = (f"checkov {environment}: passed {passed}, failed {len(failed)}, "
               f"skipped {summary['skipped'] + skipped_findings} ({skipped_findings} findings of "
               f"{len(skips)} check ids skipped in .checkov.yaml), parsing errors {summary['parsing_errors']}")
    skipped_list = "\n".join(f"  skipped {check}: {len(resources)} ({', '.join(sorted(resources)[:3])}"
                             f"{', ...' if len(resources) > 3 else ''})"
                             for check, resources in sorted(hidden.items()))
    details = "\n".join(f"  {c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    print(f"{figures}\n{skipped_list}")
    assert summary["parsing_errors"] == 0, figures
    assert passed > 0, figures  # it scanned something
    assert not failed, f"{figures}\n{details}"
    stale = sorted(set(skips) - set(hidden))
    assert not stale, f"{environment}: skips that hide nothing here (drop them or narrow them): {stale}"
