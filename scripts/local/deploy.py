"""Deploy the `local` stack to a local AWS emulator (moto server on loopback), offline.

    .venv/bin/python -m scripts.local.deploy up [--port 4566]   # start moto, synth, apply, plan, destroy

(A deployment that stays up for cdktf and the ops tools: `python -m scripts.local.emulator start`, then
`cdktf deploy local`; see the README.)

As a library (the end-to-end run and the tests use it):

    with LocalEmulator() as emulator:                 # ThreadedMotoServer on 127.0.0.1, stopped on exit
        deployment = deploy(emulator.endpoint_url, workdir)
        deployment.plan_changes()                      # [] after a clean apply: no perpetual diff
        deployment.destroy()

The stack is synthesized by main.py with PAYMENTS_LOCAL_ENDPOINT pointing the provider at the
emulator, then `terraform init` (provider from the filesystem mirror, local backend) and
`terraform apply` run on the synthesized JSON. Deployed values (queue URLs, templates, filters,
rules) are read back from `terraform show -json`: the runner's wiring comes from what was deployed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scripts.local.emulator import extend_moto
from scripts.local.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
#: Terraform's -parallelism for the local apply and destroy (its default is 10). cdktf's own
#: `--parallelism` counts stacks, not resources: `--terraform-parallelism` is the one forwarded.
PARALLELISM = 20
#: Terraform's machine-readable output for the apply and destroy that cdktf runs. cdktf shows the
#: message of each JSON line ("aws_sqs_queue.x (queueing/x): Creation complete after 25s"): ~1,100
#: lines per command instead of the ~12,000 of the rendered plan, and cdktf's Node.js process tests
#: every line it shows against one RegExp per resource (to add the construct path), ~13 s of CPU
#: per apply or destroy of the local stack with the rendered plan.
MACHINE_READABLE = "-json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalEmulator:
    """moto's standalone server on loopback, in this process (so tests can inject faults)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None  # moto's ThreadedMotoServer while running
        self._environ_before: dict[str, str | None] = {}  # what __enter__ changed, restored by __exit__

    def __enter__(self) -> "LocalEmulator":
        from moto.server import ThreadedMotoServer

        extend_moto()  # AWS behaviours moto 5.2 lacks

        # AWS managed policies (e.g. AmazonSSMManagedInstanceCore) exist in the emulator only on
        # request. Set for this server only: left set, every later moto reset in the process (each
        # mock_aws of a test) would load the ~1,000 managed policies again for each IAM backend.
        changed = {**FAKE_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self._environ_before = {name: os.environ.get(name) for name in changed}
        os.environ.update(changed)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        try:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            server.start()
            self._server = server  # started: __exit__ stops it
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError(f"moto server did not start on {self.endpoint_url}")
        except BaseException:
            self.__exit__()  # `with` calls no __exit__ when __enter__ raises: stop and restore here
            raise

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for name, value in self._environ_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._environ_before = {}


def _terraform_env() -> dict[str, str]:
    env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", **FAKE_CREDENTIALS)
    if Path("/opt/tf-plugins").is_dir():
        env["TF_CLI_CONFIG_FILE"] = str(ROOT / "terraform.rc")
    return env


def progress_enabled() -> bool:
    """Stage and resource progress lines on stderr (run_local.sh sets PAYMENTS_PROGRESS=1)."""
    return os.environ.get("PAYMENTS_PROGRESS") == "1"


def stage(text: str) -> None:
    if progress_enabled():
        print(f"== {text}", file=sys.stderr, flush=True)


def _run_with_progress(command: list[str], cwd: Path, label: str, total: int, timeout: int) -> subprocess.CompletedProcess:
    """Run Terraform, showing `label: done/total resources, elapsed` every 10 s and when it ends."""
    lines = []
    progress = Progress(f"   {label}", total)
    # one stream (stderr into stdout): nothing can fill an unread pipe
    with subprocess.Popen(command, cwd=cwd, env=_terraform_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        assert process.stdout is not None  # a pipe: stdout=PIPE
        for line in process.stdout:
            lines.append(line)
            progress.line(line)
            if progress.clock() - progress.started > timeout:
                process.kill()
        returncode = process.wait()
    progress.finish()
    return subprocess.CompletedProcess(command, returncode, "".join(lines), "")


def terraform(args: list[str], cwd: Path, check: bool = True, timeout: int = 1800,
              progress: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    """Run Terraform in `cwd`; with `progress=(label, total)` and PAYMENTS_PROGRESS=1, show counts."""
    terraform_bin = shutil.which("terraform")
    if terraform_bin is None:
        raise RuntimeError("terraform is not on PATH (Terraform 1.11.4 is part of the machine image)")
    if progress and progress_enabled():
        run = _run_with_progress([terraform_bin, *args, "-no-color"], cwd, *progress, timeout=timeout)
    else:
        run = subprocess.run([terraform_bin, *args, "-no-color"], cwd=cwd, env=_terraform_env(),
                             capture_output=True, text=True, timeout=timeout)
    if check and run.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} failed in {cwd}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    return run


def synth_local(endpoint_url: str, outdir: Path) -> Path:
    """Synthesize only the local stack, pointed at `endpoint_url`; returns its directory."""
    env = dict(os.environ, PAYMENTS_STACKS="local", PAYMENTS_LOCAL_ENDPOINT=endpoint_url, CDKTF_OUTDIR=str(outdir))
    env.setdefault("JSII_NODE", str(ROOT / "node_modules" / ".bin" / "node"))
    run = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"synth of the local stack failed:\n{run.stderr[-4000:]}")
    return outdir / "stacks" / "local"


def cdktf(args: list[str], endpoint_url: str, outdir: Path, timeout: int = 1800,
          terraform_args: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The cdktf CLI as the README runs it (a shell that sourced scripts/env.sh), on the local
    stack only (PAYMENTS_STACKS=local: a shorter synth), pointed at `endpoint_url`.
    `terraform_args` adds flags to the Terraform commands cdktf runs ({"destroy": "-refresh=false"}
    sets TF_CLI_ARGS_destroy): cdktf itself forwards only a few."""
    env = dict(os.environ, PAYMENTS_STACKS="local", PAYMENTS_LOCAL_ENDPOINT=endpoint_url, CI="1", **FAKE_CREDENTIALS)
    env.update({f"TF_CLI_ARGS_{command}": flags for command, flags in (terraform_args or {}).items()})
    run = subprocess.run(["bash", "-c", 'source scripts/env.sh && cdktf "$@"', "cdktf", *args, "--output", str(outdir)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"cdktf {' '.join(args)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    return run


@dataclass
class Deployment:
    workdir: Path
    endpoint_url: str
    apply_seconds: float = 0.0
    state: dict = field(default_factory=dict)
    cdktf_outdir: Path | None = None  # set when deployed with `cdktf deploy local`: diff and destroy use cdktf too

    def refresh_state(self) -> dict:
        self.state = json.loads(terraform(["show", "-json"], self.workdir).stdout or "{}")
        return self.state

    def resources(self) -> list[dict]:
        """Managed resources in the state (data sources excluded)."""
        root = self.state.get("values", {}).get("root_module", {})
        return [r for r in root.get("resources", []) if r.get("mode") == "managed"]

    def by_type(self, resource_type: str) -> list[dict]:
        return [r for r in self.resources() if r["type"] == resource_type]

    def plan_changes(self) -> list[str]:
        """Addresses with planned changes after the apply (the goal is none)."""
        stage("terraform plan after the apply (expected: no changes)")
        terraform(["plan", "-out=check.tfplan", "-input=false", "-lock=false"], self.workdir)
        plan = json.loads(terraform(["show", "-json", "check.tfplan"], self.workdir).stdout)
        return sorted(
            change["address"]
            for change in plan.get("resource_changes", [])
            if change["change"]["actions"] not in (["no-op"], ["read"])
        )

    def plan_diff(self, addresses: list[str]) -> str:
        """Human-readable plan for some addresses (for assertion messages)."""
        targets = [f"-target={a}" for a in addresses[:10]]
        return terraform(["plan", "-input=false", "-lock=false", *targets], self.workdir, check=False).stdout[-6000:]

    def cdktf_diff(self) -> str:
        """`cdktf diff local` output (a clean deployment says "No changes."), on the stack the deploy
        synthesized into the output folder (`--skip-synth`: a synth of the same checkout is
        byte-identical, which tests/test_synth.py checks)."""
        if self.cdktf_outdir is None:
            raise RuntimeError("cdktf_diff needs a deployment made with `cdktf deploy local` (cdktf_deploy)")
        return cdktf(["diff", "local", "--skip-synth"], self.endpoint_url, self.cdktf_outdir).stdout

    def destroy(self) -> None:
        if self.cdktf_outdir is not None:
            # the stack the deploy synthesized is still in the output folder (the diff reuses it too);
            # Terraform's refresh before destroying would only re-read what the state already says
            cdktf(["destroy", "local", "--auto-approve", "--skip-synth", "--terraform-parallelism", str(PARALLELISM)],
                  self.endpoint_url, self.cdktf_outdir,
                  terraform_args={"destroy": f"-refresh=false {MACHINE_READABLE}"})
            return
        stage("terraform destroy")
        terraform(["destroy", "-auto-approve", "-input=false", "-lock=false", "-refresh=false",
                   f"-parallelism={PARALLELISM}"], self.workdir,
                  progress=("destroy", len(self.resources()) if self.state else 0))


#: What a lost emulator response looks like: the provider's SDK retried a create that the emulator
#: had already done (seen as ParameterAlreadyExists / AlreadyExistsException under load, and as
#: Lambda's "ResourceConflictException: Function already exist", which the provider retries for
#: its 5-minute propagation window before failing; once in a suite run).
EMULATOR_RACE = ("AlreadyExists", "ResourceConflictException: Function already exist")


def reset_emulator(endpoint_url: str) -> None:
    """Forget everything the emulator holds (moto's reset API)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"), timeout=30).read()


def with_one_retry(attempt: Callable[[int], Deployment], endpoint_url: str,
                   prepare: Callable[[], None] | None = None) -> Deployment:
    """Deploy; if the apply failed only because the emulator lost a response (the provider then
    finds its own create done: *AlreadyExists*), reset the emulator and deploy once more from
    scratch, saying so. Any other failure is raised as it is."""
    for number in (1, 2):
        if prepare is not None:
            prepare()
        try:
            return attempt(number)
        except RuntimeError as failure:
            if number == 2 or not any(marker in str(failure) for marker in EMULATOR_RACE):
                raise
            stage("the emulator lost a response during the apply (AlreadyExists): reset, deploy again")
            reset_emulator(endpoint_url)
    raise AssertionError("unreachable")


def deploy(endpoint_url: str, outdir: Path, prepare: Callable[[], None] | None = None) -> Deployment:
    """Synthesize and apply the local stack against the emulator at `endpoint_url` (one retry
    from scratch when the emulator loses a response, see `with_one_retry`)."""
    return with_one_retry(lambda n: _deploy(endpoint_url, outdir / f"attempt-{n}" if n > 1 else outdir),
                          endpoint_url, prepare)


def _deploy(endpoint_url: str, outdir: Path) -> Deployment:
    stage(f"synth of the local stack (main.py, PAYMENTS_LOCAL_ENDPOINT={endpoint_url})")
    workdir = synth_local(endpoint_url, outdir)
    stage("terraform init (provider from the mirror)")
    terraform(["init", "-input=false"], workdir)
    planned = json.loads((workdir / "cdk.tf.json").read_text()).get("resource", {})
    total = sum(len(resources) for resources in planned.values())
    stage(f"terraform apply: {total} resources (each SQS queue takes ~25 s)")
    started = time.perf_counter()
    terraform(["apply", "-auto-approve", "-input=false", "-lock=false", f"-parallelism={PARALLELISM}"], workdir,
              progress=("apply", total))
    deployment = Deployment(workdir=workdir, endpoint_url=endpoint_url,
                            apply_seconds=time.perf_counter() - started)
    deployment.refresh_state()
    return deployment


def cdktf_deploy(endpoint_url: str, outdir: Path, prepare: Callable[[], None] | None = None) -> Deployment:
    """`cdktf deploy local` against the emulator at `endpoint_url`, output (and state) in `outdir`
    (one retry from scratch when the emulator loses a response, see `with_one_retry`)."""
    return with_one_retry(lambda n: _cdktf_deploy(endpoint_url, outdir / f"attempt-{n}" if n > 1 else outdir),
                          endpoint_url, prepare)


def _cdktf_deploy(endpoint_url: str, outdir: Path) -> Deployment:
    started = time.perf_counter()
    cdktf(["deploy", "local", "--auto-approve", "--terraform-parallelism", str(PARALLELISM)], endpoint_url, outdir,
          terraform_args={"apply": MACHINE_READABLE})
    deployment = Deployment(workdir=outdir / "stacks" / "local", endpoint_url=endpoint_url,
                            apply_seconds=time.perf_counter() - started, cdktf_outdir=outdir)
    deployment.refresh_state()
    return deployment


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.local.deploy",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up"], help="deploy, check the plan is empty, destroy, stop")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--outdir", type=Path, default=ROOT / "cdktf.out" / "local-deploy")
    options = parser.parse_args()
    with LocalEmulator(options.port) as emulator:
        deployment = deploy(emulator.endpoint_url, options.outdir)
        print(f"applied {len(deployment.resources())} resources in {deployment.apply_seconds:.1f} s")
        changes = deployment.plan_changes()
        print(f"plan after apply: {'no changes' if not changes else ', '.join(changes)}")
        deployment.destroy()
        print("destroyed")


if __name__ == "__main__":
    main()
