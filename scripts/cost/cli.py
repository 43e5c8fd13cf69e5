"""`python -m scripts.cost [--env prod] [--calls build/cost/calls.json]`: the cost per million
webhooks as the environment deploys, vendor delivery's per million notifications delivered, then
the whole bill (fixed monthly costs from the synthesized stack, storage, $ per million at 1M, 10M
and 100M webhooks a month) and a PNG of $ per million against volume for dev and prod."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from scripts.cost.bill import Inputs, whole_bill
from scripts.cost.bill_report import bill_report, plot
from scripts.cost.delivery import delivery_model, delivery_report
from scripts.cost.inputs import DEFAULT_CALLS, ROOT, SAMPLE_CALLS, code_as_measured, load_calls, realistic_sizes
from scripts.cost.inventory import inventory, synthesized_stack
from scripts.cost.prices import PRICE_DATE
from scripts.cost.reconcile import LISTED_SHARE, ReconcileInputs, per_recovered_event, reconcile_report, run_model
from scripts.cost.settings import deployed_settings
from scripts.cost.webhook import model, report

PLOT = ROOT / "build" / "cost" / "bill.png"
PLOTTED = ("dev", "prod")


def bill_inputs(environment: str, calls: dict, sizes: dict, *, overrides: dict | None = None,
                environments: dict | None = None, stack: dict | None = None) -> Inputs:
    """The whole bill's inputs for `environment`: its settings (cdktf.json, or `environments` in its
    shape, plus `overrides`), the cost parameters they set, and the inventory of the stack they
    synthesize (`stack`: that JSON, if already at hand)."""
    from constructs.app.environments import load_settings

    settings = load_settings(environment, overrides, environ={}, environments=environments, capacity_checks=False)
    costs = deployed_settings(environment, overrides=overrides, measured=code_as_measured(calls, sizes),
                              environments=environments)
    return Inputs(calls=calls, sizes=sizes, costs=costs, settings=settings,
                  inventory=inventory(settings, stack if stack is not None else synthesized_stack(settings)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--calls", default=None,
                        help=f"the local run's JSON (default {DEFAULT_CALLS.relative_to(ROOT)}, else the checked-in sample)")
    parser.add_argument("--no-bill", action="store_true", help="only the per-webhook and delivery figures (no synth)")
    parser.add_argument("--cdktf-json", type=Path, default=None,
                        help="read the environments' settings from this cdktf.json (e.g. an earlier commit's)")
    parser.add_argument("--set", dest="overrides", type=json.loads, default=None,
                        help='settings overrides as JSON, in the settings\' shape (e.g. \'{"api": {"waf_log_actions": []}}\')')
    parser.add_argument("--plot", type=Path, default=PLOT, help=f"the PNG (default {PLOT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    path = Path(args.calls) if args.calls else (DEFAULT_CALLS if DEFAULT_CALLS.is_file() else SAMPLE_CALLS)
    calls = load_calls(path)
    sizes = realistic_sizes()
    environments = None
    if args.cdktf_json is not None:
        environments = json.loads(args.cdktf_json.read_text())["context"]["environments"]
    settings = deployed_settings(args.env, overrides=args.overrides, measured=code_as_measured(calls, sizes),
                                 environments=environments)
    print(f"cost model: {args.env}, us-east-1 list prices of {PRICE_DATE}; calls per webhook from {path} "
          f"({calls['webhooks']} webhooks); payload {sizes['raw_body']} B Stripe event"
          + (f"; settings from {args.cdktf_json}" if args.cdktf_json else "")
          + (f"; overrides {json.dumps(args.overrides)}" if args.overrides else ""))
    print(report(model(calls, settings, sizes)))
    delivery_lines, figures = delivery_model(calls, settings)
    if delivery_lines:
        print(delivery_report(delivery_lines, figures))
    webhook_lines = model(calls, settings, sizes)
    from constructs.app.environments import load_settings

    deployed = load_settings(args.env, environ={})
    for provider, share in LISTED_SHARE.items():
        run_inputs = ReconcileInputs(interval_minutes=deployed.reconcile.interval_minutes,
                                 lookback_minutes=deployed.reconcile.lookback_minutes,
                                 memory_gb=deployed.function("reconciler").memory_mb / 1024,
                                 timeout_seconds=deployed.function("reconciler").timeout_seconds,
                                 provider=provider, listed_share=share)
        run_lines, run_figures = run_model(run_inputs)
        print(reconcile_report(run_lines, {**run_figures, "interval": run_inputs.interval_minutes, "provider": provider,
                                           "lookback": run_inputs.lookback_minutes, "listed_share": share,
                                           "timeout": run_inputs.timeout_seconds}, per_recovered_event(webhook_lines)))
    if args.no_bill:
        return 0
    inputs = bill_inputs(args.env, calls, sizes, overrides=args.overrides, environments=environments)
    bills = {args.env: whole_bill(inputs)}
    print(bill_report(args.env, inputs, bills[args.env]))
    for environment in PLOTTED:
        if environment not in bills:
            bills[environment] = whole_bill(bill_inputs(environment, calls, sizes, environments=environments))
    print(f"plot: {plot({e: bills[e] for e in (*PLOTTED, args.env) if e in bills}, args.plot)}")
    return 0
