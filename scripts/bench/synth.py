"""Synth speed benchmark (a benchmark: it prints figures, it asserts nothing about time).

Times, in the same run on the same venv:
  stock   python -c "import cdktf, cdktf_cdktf_provider_aws"   (the package import alone)
  synth   python main.py                                        (all stacks, lazy provider loading)
and prints the medians and their ratio (the goal is <= 0.40). With --check-output it also
synthesizes once through the stock import and compares the JSON byte for byte.

    .venv/bin/python -m scripts.bench.synth [--runs 3] [--check-output]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check-output", action="store_true")
    options = parser.parse_args()
    env = dict(os.environ, JSII_NODE=str(ROOT / "node_modules" / ".bin" / "node"))
    stock_times, synth_times = [], []
    with tempfile.TemporaryDirectory() as out:
        synth_env = dict(env, CDKTF_OUTDIR=out)
        for _ in range(options.runs):  # interleaved, so machine noise hits both alike
            stock_times.append(timed([sys.executable, "-c", "import cdktf, cdktf_cdktf_provider_aws"], env))
            synth_times.append(timed([sys.executable, "main.py"], synth_env))
        stock, synth = statistics.median(stock_times), statistics.median(synth_times)
        print(f"python:            {sys.executable}")
        print(f"stock import:      median {stock:6.2f} s  runs {', '.join(f'{t:.2f}' for t in stock_times)}")
        print(f"python main.py:    median {synth:6.2f} s  runs {', '.join(f'{t:.2f}' for t in synth_times)}")
        print(f"ratio:             {synth / stock:.3f}  (goal <= 0.40)")
        if options.check_output:
            code = ("import cdktf_cdktf_provider_aws, main; "  # `python -c` in ROOT imports main and constructs/
                    f"main.build_app(outdir={out + '/stock'!r}).synth()")
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stacks = sorted(p.name for p in (Path(out) / "stacks").iterdir())
            same = all((Path(out) / "stacks" / s / "cdk.tf.json").read_bytes()
                       == (Path(out) / "stock" / "stacks" / s / "cdk.tf.json").read_bytes() for s in stacks)
            print(f"output vs stock:   {'byte-identical' if same else 'DIFFERENT'} ({', '.join(stacks)})")
            if not same:
                sys.exit(1)


if __name__ == "__main__":
    main()
