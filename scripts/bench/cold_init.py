"""Cold start of a handler as shipped vs a bare ``import boto3`` + the same clients, whole process.

Goal: processor <= 1.1 x baseline. Prints figures; asserts nothing about time.

    .venv/bin/python -m scripts.bench.cold_init [--runs 15] [--handlers processor,authorizer]

The zips are built by ``scripts.packaging`` into a temporary folder and laid out as on Lambda:
the layer under ``opt/`` (``opt/python`` on the path), the function under ``var/task``, both
read-only (write bits removed and ``PYTHONDONTWRITEBYTECODE=1``, since root ignores the bits), so
nothing compiled at start-up is kept for the next start. Each figure is the CPU time (user +
system, from ``wait4``: the machine is shared, wall time is noisy) of a whole fresh interpreter
process - start-up, imports, module-level clients - over ``--runs`` interleaved runs:

* ``baseline``: ``python -c "import boto3; boto3.client(...)..."`` with the clients the handler calls,
  made at start-up as a bare handler would (boto3 comes from the environment's site-packages,
  precompiled, as the Lambda runtime's is). The processor makes its S3 client (the quarantine's)
  at its first rejection, not at start-up: the ``vs bare, init clients`` line compares it with a bare
  handler making only the clients the processor makes at start-up, i.e. the cost of Powertools,
  X-Ray and paycore alone;
* ``shipped``: ``python -c "import <fn>_handler"`` from the laid-out zips;
* ``no .pyc``: the same zips with every ``.pyc`` left out (what was shipped before issue 14).

``LAMBDA_TASK_ROOT`` is set (Powertools' Tracer is active as on Lambda with X-Ray on). The layer's
native extensions are built for arm64: on another machine they cannot load and the pure-Python
fallbacks (wrapt) are used, in both columns alike. The median and minimum of each column are
printed; the ``paired`` line is the median of run-by-run ratios (each run against the baseline run
started just before it), the steadiest figure on a shared machine whose speed drifts within
seconds: the minima of separate columns may come from different moments. Last line:
``cold init ratio: X.XX``, the processor's paired ratio as shipped.
"""
from __future__ import annotations

import argparse
import os
import stat
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from scripts.packaging import build_all

HANDLERS = {  # the clients each handler calls
    "processor": ["dynamodb", "s3", "secretsmanager"],
    "authorizer": ["secretsmanager"],
    "validator": ["sqs", "secretsmanager", "dynamodb"],
}
#: the clients a handler makes at start-up, where fewer than it calls (the rest on first use)
INIT_CLIENTS = {"processor": ["dynamodb", "secretsmanager"]}
BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TABLE_NAME": "payment-transactions-bench",
    "ARCHIVE_BUCKET": "archive-bench",
    "INGEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks-bench.fifo",
    "SECRET_PREFIX": "payment-webhooks/bench/",
    "ENABLED_PROVIDERS": "stripe,paypal",
    "POWERTOOLS_SERVICE_NAME": "payment-webhooks",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentWebhooks",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def lay_out(zip_path: str, target: Path, *, bytecode: bool) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if not bytecode and (name.endswith(".pyc") or "__pycache__/" in name):
                continue
            archive.extract(name, target)


def read_only(folder: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + dirnames:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    folder.chmod(folder.stat().st_mode & ~stat.S_IWUSR)


def cpu_ms(code: str, env: dict[str, str], cwd: Path) -> float:
    """CPU milliseconds (user + system) of a fresh interpreter running ``code``."""
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None  # a pipe: stderr=PIPE
    if process.returncode:
        raise SystemExit(f"{code!r} failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return (usage.ru_utime + usage.ru_stime) * 1000


def interleaved(variants: dict[str, tuple[str, dict, Path]], runs: int) -> dict[str, list[float]]:
    """CPU ms per run of each variant; variants alternate run by run, so a load change hits them alike."""
    values: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(runs):
        for key, (code, env, cwd) in variants.items():
            values[key].append(cpu_ms(code, env, cwd))
    return values


def paired_ratio(values: list[float], baseline: list[float]) -> float:
    """The median of run-by-run ratios: each run's variant against the baseline started just before
    it, so a slowdown of the shared machine lasting a few seconds hits both sides of a pair."""
    return statistics.median(v / b for v, b in zip(values, baseline, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.cold_init", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--handlers", default=",".join(HANDLERS))
    args = parser.parse_args()
    handlers = [h for h in args.handlers.split(",") if h]
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        work = Path(tmp)
        manifest = build_all(work / "zips")
        roots = {}
        for variant, bytecode in (("shipped", True), ("no_pyc", False)):
            base = work / variant
            lay_out(manifest["layer"]["path"], base / "opt", bytecode=bytecode)
            for fn in handlers:
                lay_out(manifest[fn]["path"], base / "task" / fn, bytecode=bytecode)
            read_only(base)
            roots[variant] = base
        print(f"cold init, whole process CPU (ms), {args.runs} fresh interpreters per variant, interleaved; "
              f"goal: processor shipped <= 1.1 x baseline")
        print(f"  {'handler':17s} {'baseline':>9s} {'shipped':>9s} {'ratio':>6s} {'no .pyc':>9s} {'ratio':>6s}")
        ratio = None
        for fn in handlers:
            env = {**BASE_ENV, "PATH": os.environ.get("PATH", ""), "LAMBDA_TASK_ROOT": "/var/task"}
            bare = {"baseline": HANDLERS[fn], "bare_init": INIT_CLIENTS.get(fn)}
            variants = {k: ("import boto3\n" + "\n".join(f"boto3.client({c!r})" for c in clients), env, work)
                        for k, clients in bare.items() if clients}
            for variant, base in roots.items():
                task = base / "task" / fn
                path = os.pathsep.join([str(task), str(base / "opt" / "python")])
                variants[variant] = (f"import {fn}_handler", {**env, "PYTHONPATH": path}, task)
            values = interleaved(variants, args.runs)
            for label, pick in (("median", statistics.median), ("min", min)):
                result = {k: pick(v) for k, v in values.items()}
                b = result["baseline"]
                print(f"  {fn + ' ' + label:17s} {b:9.1f} {result['shipped']:9.1f} {result['shipped'] / b:6.2f} "
                      f"{result['no_pyc']:9.1f} {result['no_pyc'] / b:6.2f}")
            paired = {k: paired_ratio(values[k], values["baseline"]) for k in ("shipped", "no_pyc")}
            print(f"  {fn + ' paired':17s} {'':9s} {'':9s} {paired['shipped']:6.2f} {'':9s} {paired['no_pyc']:6.2f}")
            if "bare_init" in values:
                init = {k: paired_ratio(values[k], values["bare_init"]) for k in ("shipped", "no_pyc")}
                print(f"  {fn + ' vs bare, init clients':33s} {statistics.median(values['bare_init']):9.1f} ms: "
                      f"shipped {init['shipped']:.2f}, no .pyc {init['no_pyc']:.2f} (paired)")
            if fn == "processor":
                ratio = paired["shipped"]
        for base in roots.values():  # let the temporary folder go
            for dirpath, dirnames, filenames in os.walk(base):
                for name in dirnames + filenames:
                    Path(dirpath, name).chmod(0o755)
            base.chmod(0o755)
        if ratio is not None:
            print(f"cold init ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
