"""Adding an environment is a configuration change only, tests included: with one environment more
in a temporary copy of cdktf.json's context, the whole synth test module (tests/test_synth.py, run
as it is from a scratch folder with its own snapshots) passes in the run that updates the
snapshots, and that update adds the new environment's snapshot, leaves the reviewed ones as they
were and writes nothing else."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.extensions.amber.serializer import AmberDataSerializer

from support import ROOT
from test_synth import ENVIRONMENTS, NEW_ENVIRONMENT, SNAPSHOT_FILE, config_with_a_new_environment

pytestmark = pytest.mark.slow  # synthesizes every stack twice and runs terraform validate on each


def run_synth_module(tests: Path, context: dict, *args: str) -> subprocess.CompletedProcess:
    """tests/test_synth.py copied to `tests`, run by pytest with the repository's configuration and
    cdktf.json's context as the cdktf CLI hands it to the app (CDKTF_CONTEXT_JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CDKTF_"))}
    env.update(CDKTF_CONTEXT_JSON=json.dumps(context),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "tests"), env.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT),
               "-p", "no:cacheprovider", "-n", "0", "-q", "-rA", str(tests / "test_synth.py"), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)


def snapshots(path: Path) -> dict[str, str]:
    return {snapshot.name: snapshot.data for snapshot in AmberDataSerializer.read_file(str(path))}


def test_a_new_environment_passes_the_whole_synth_module_after_one_snapshot_update(tmp_path):
    name = NEW_ENVIRONMENT
    context = config_with_a_new_environment(name)["context"]
    tests = tmp_path / "tests"
    (tests / "__snapshots__").mkdir(parents=True)
    for module in ("test_synth.py", "conftest.py"):
        shutil.copy(ROOT / "tests" / module, tests / module)
    stored = tests / "__snapshots__" / SNAPSHOT_FILE.name
    shutil.copy(SNAPSHOT_FILE, stored)

    update = run_synth_module(tests, context, "--snapshot-update")  # the whole module, writing the new snapshot
    assert update.returncode == 0, update.stdout[-3000:] + update.stderr[-3000:]
    for test in ("test_stack_json_matches_snapshot", "test_stack_synthesizes_with_provider_backend_and_tags",
                 "test_stack_passes_terraform_validate"):
        assert re.search(rf"^PASSED \S*::{test}\[{name}\]$", update.stdout, re.MULTILINE), update.stdout[-3000:]
    assert not re.search(r"^(FAILED|ERROR)", update.stdout, re.MULTILINE), update.stdout[-3000:]
    skipped = re.findall(r"^SKIPPED .*$", update.stdout, re.MULTILINE)
    assert len(skipped) == 1 and "--snapshot-update run" in skipped[0], skipped  # the folder check: next run
    reviewed, updated = snapshots(SNAPSHOT_FILE), snapshots(stored)
    assert set(updated) == set(reviewed) | {f"test_stack_json_matches_snapshot[{name}]"}
    assert {key: updated[key] for key in reviewed} == reviewed  # the other environments' snapshots as reviewed

    # what the next run's folder check reads (tests/test_synth.py skips it in an update run): one
    # snapshot per environment and nothing else; a fresh synth matches them (test_two_synths_are_byte_identical)
    assert set(updated) == {f"test_stack_json_matches_snapshot[{environment}]" for environment in [*ENVIRONMENTS, name]}
    assert [path.name for path in stored.parent.iterdir()] == [stored.name]
