"""`python -m scripts.cost [--env prod] [--calls build/cost/calls.json]`: the cost per million
webhooks as the environment deploys, then vendor delivery's per million notifications delivered."""
from __future__ import annotations

import argparse
from pathlib import Path

from scripts.cost.delivery import delivery_model, delivery_report
from scripts.cost.inputs import DEFAULT_CALLS, ROOT, SAMPLE_CALLS, code_as_measured, load_calls, realistic_sizes
from scripts.cost.prices import PRICE_DATE
from scripts.cost.reconcile import ReconcileInputs, per_recovered_event, reconcile_report, run_model
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
    webhook_lines = model(calls, settings, sizes)
    from constructs.app.environments import load_settings

    deployed = load_settings(args.env, environ={})
    for provider, share in (("stripe", 0.001), ("paypal", 1.0)):
        inputs = ReconcileInputs(interval_minutes=deployed.reconcile.interval_minutes,
                                 lookback_minutes=deployed.reconcile.lookback_minutes,
                                 memory_gb=deployed.function("reconciler").memory_mb / 1024,
                                 timeout_seconds=deployed.function("reconciler").timeout_seconds,
                                 provider=provider, listed_share=share)
        run_lines, run_figures = run_model(inputs)
        print(reconcile_report(run_lines, {**run_figures, "interval": inputs.interval_minutes, "provider": provider,
                                           "lookback": inputs.lookback_minutes, "listed_share": share,
                                           "timeout": inputs.timeout_seconds}, per_recovered_event(webhook_lines)))
    return 0
