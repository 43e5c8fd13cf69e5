"""run_local.sh shows progress: stage lines and Terraform's resource counts with elapsed time
(scripts/local/deploy.py with PAYMENTS_PROGRESS=1), and stays quiet without it (the tests)."""

from __future__ import annotations


from scripts.local import deploy as local_deploy
from support import ROOT

FAKE_APPLY = ["bash", "-c", 'for i in $(seq 1 23); do echo "aws_sqs_queue.q$i: Creation complete after 1s [id=q$i]"; '
              'done; echo "Apply complete! Resources: 23 added, 0 changed, 0 destroyed."']


def test_progress_lines_count_resources_against_the_total(tmp_path, capsys):
    run = local_deploy._run_with_progress(FAKE_APPLY, tmp_path, "apply", 23, timeout=60)
    assert run.returncode == 0 and "Apply complete!" in run.stdout
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["   apply: 10/23 resources, 0 s", "   apply: 20/23 resources, 0 s"]
    assert lines[-1] == "   apply: 23/23 resources, 0 s (finished)"


def test_stage_lines_only_when_asked(monkeypatch, capsys):
    monkeypatch.delenv("PAYMENTS_PROGRESS", raising=False)
    local_deploy.stage("terraform init")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PAYMENTS_PROGRESS", "1")
    local_deploy.stage("terraform init")
    assert capsys.readouterr().err == "== terraform init\n"


def test_run_local_asks_for_progress():
    script = (ROOT / "scripts" / "run_local.sh").read_text()
    assert "export PAYMENTS_PROGRESS=1" in script
    assert script.index("export PAYMENTS_PROGRESS=1") < script.rindex("scripts.local.e2e")
