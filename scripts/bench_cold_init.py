#!/usr/bin/env python3
"""Cold init of each handler module vs ``import boto3`` + creating the clients it needs.

Goal: handler init <= 1.2 x baseline. Prints figures; asserts nothing about time.

    .venv/bin/python scripts/bench_cold_init.py [--runs 5]

Each figure is a fresh interpreter (subprocess) timing the import inside the process in CPU time
(``time.process_time``: the machine is shared, wall time is noisy; interpreter
start-up excluded), median of ``--runs``. Three handler variants:

* ``traced``: ``LAMBDA_TASK_ROOT`` set, as in Lambda with X-Ray active: Powertools' Tracer is
  enabled and patches botocore only (``patch_modules=("boto3",)``);
* ``patch_all``: the same, had we let Tracer patch every supported library (for comparison);
* ``untraced``: ``LAMBDA_TASK_ROOT`` set and ``POWERTOOLS_TRACE_DISABLED=true``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = {
    "authorizer": ["secretsmanager"],
    "validator": ["sqs"],
    "processor": ["dynamodb", "s3", "secretsmanager"],
}
BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
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


def timed(code: str, env: dict[str, str], runs: int) -> float:
    """Median milliseconds of ``code`` in fresh interpreters."""
    program = "import time\nt = time.process_time()\n" + code + "\nprint((time.process_time() - t) * 1000)\n"
    values = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
        values.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = os.pathsep.join([str(ROOT / "lambda_src" / "layer"), *(str(ROOT / "lambda_src" / fn) for fn in HANDLERS)])
    env = {**BASE_ENV, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": path}
    traced = {**env, "LAMBDA_TASK_ROOT": str(ROOT)}
    # LAMBDA_TASK_ROOT is always set in Lambda; without it aws_xray_sdk's import alone costs ~100 ms
    # more here (its non-Lambda context), which would not describe a Lambda cold start.
    untraced = {**traced, "POWERTOOLS_TRACE_DISABLED": "true"}

    print(f"cold init, median of {args.runs} fresh interpreters (ms); goal: handler <= 1.2 x baseline")
    print(f"  {'handler':11s} {'baseline':>9s} {'traced':>9s} {'ratio':>6s} {'patch_all':>10s} {'untraced':>9s} {'ratio':>6s}")
    for fn, clients in HANDLERS.items():
        baseline = timed("import boto3\n" + "\n".join(f"boto3.client({c!r})" for c in clients), env, args.runs)
        module = f"import {fn}_handler"
        t_traced = timed(module, traced, args.runs)
        t_all = timed(
            "from aws_lambda_powertools import Tracer\n_orig = Tracer.__init__\n"
            "def _init(self, service=None, disabled=None, auto_patch=None, patch_modules=None, provider=None):\n"
            "    _orig(self, service=service, disabled=disabled, auto_patch=auto_patch, patch_modules=None, provider=provider)\n"
            "Tracer.__init__ = _init\n" + module,
            traced, args.runs,
        )
        t_untraced = timed(module, untraced, args.runs)
        print(
            f"  {fn:11s} {baseline:9.1f} {t_traced:9.1f} {t_traced / baseline:6.2f} {t_all:10.1f} "
            f"{t_untraced:9.1f} {t_untraced / baseline:6.2f}"
        )


if __name__ == "__main__":
    main()
