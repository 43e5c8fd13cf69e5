"""`python -m scripts.cost [--env prod] [--calls build/cost/calls.json]`: the cost per million
webhooks as the environment deploys, then vendor delivery's per million notifications delivered."""
from __future__ import annotations

import argparse
from pathlib import Path

from scripts.cost.delivery import delivery_model, delivery_report
from scripts.cost.inputs import DEFAULT_CALLS, ROOT, SAMPLE_CALLS, code_as_measured, load_calls, realistic_sizes
from scripts.cost.prices import PRICE_DATE
from scripts.cost.settings import deployed_settings
from scripts.cost.webhook import model, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--calls", default=None,
                        help=f"the local run's JSON (default {DEFAULT_CALLS.relative_to(ROOT)}, else the checked-in sample)")
    args = parser.parse_args(argv)
    path = Path(args.calls) if args.calls else (DEFAULT_CALLS if DEFAULT_CALLS.is_file() else SAMPLE_CALLS)
    calls = load_calls(path)
    sizes = realistic_sizes()
    settings = deployed_settings(args.env, measured=code_as_measured(calls, sizes))
    print(f"cost model: {args.env}, us-east-1 list prices of {PRICE_DATE}; calls per webhook from {path} "
          f"({calls['webhooks']} webhooks); payload {sizes['raw_body']} B Stripe event")
    print(report(model(calls, settings, sizes)))
    delivery_lines, figures = delivery_model(calls, settings)
    if delivery_lines:
        print(delivery_report(delivery_lines, figures))
    return 0
