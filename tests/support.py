"""Paths and the Terraform runner shared by the suite's top-level tests (tests/*.py).
(A helper module, not conftest: tests/lambda has a conftest of its own, so `from conftest import`
would be ambiguous.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIRROR = Path("/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0")


def terraform_bin() -> str:
    path = shutil.which("terraform")
    if path is None:
        raise RuntimeError("terraform is not on PATH: Terraform 1.11.4 is part of the machine image")
    return path


def run_terraform(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    return subprocess.run(
        [terraform_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
