"""`python -m scripts.capacity [--env prod] [--rate 10000/min]`: the capacity table of an
environment (report.py) at its design rate or the rate asked."""
from __future__ import annotations

import argparse
import sys

from constructs.app import capacity
from constructs.app.environments import load_settings
from constructs.app.settings import SettingsError
from scripts.capacity.report import parse_rate, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--rate", type=parse_rate, default=None,
                        help="webhooks per minute (10000/min) or second (167/s); default the environment's "
                             "webhooks_per_minute")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.env, environ={}, capacity_checks=False)
    except SettingsError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    rate = capacity.design_rate(settings) if args.rate is None else args.rate
    source = "its design rate" if args.rate is None else f"--rate; its design rate {settings.webhooks_per_minute:,}/min"
    print(f"capacity model: {args.env} ({settings.region}) at {rate * 60:,.0f} webhooks/min = {rate:,.1f}/s ({source})")
    failing = capacity.problems(settings)
    if failing:
        print("synth fails with:", *(f"  {args.env}: {key}: {message}" for key, message in failing), "", sep="\n")
    print(report(settings, rate))
    return 0
