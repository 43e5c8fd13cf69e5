"""All zero-loss scenarios after the end-to-end run's main scenario, added up: nothing the platform
answered 200 for may be lost or doubled, no innocent message may wait in a DLQ."""
from __future__ import annotations

import time
from typing import Callable

from scripts.local.scenarios import delivery, inbound, lifecycle, poison, reconcile, unroutable, wrong_secret
from scripts.local.scenarios.context import ScenarioContext


def run_all(ctx: ScenarioContext, *, correct_secrets: dict[str, str]) -> dict:
    results = {}
    runs: list[tuple[str, Callable[[], dict]]] = [
        ("unroutable", lambda: unroutable.run(ctx)), ("poison", lambda: poison.run(ctx)),
        ("wrong_secret", lambda: wrong_secret.run(ctx, correct_secrets)), ("inbound", lambda: inbound.run(ctx)),
        ("lifecycle", lambda: lifecycle.run(ctx)), ("reconcile", lambda: reconcile.run(ctx))]
    if ctx.vendor_endpoints is not None:
        runs.append(("delivery", lambda: delivery.run(ctx)))
    for name, run in runs:
        started = time.perf_counter()
        results[name] = {**run(), "seconds": round(time.perf_counter() - started, 1)}
    event_ids = ctx.ledger_event_ids()
    expected = {e for r in results.values() for e in r["expected"]}
    return {
        **results,
        "lost": len(expected - set(event_ids)),
        "doubled": len(event_ids) - len(set(event_ids)),
        "innocent_in_dlq": results["poison"]["innocent_in_dlq"] + results["inbound"]["dlq_after"],
        "forged_recorded": results["inbound"]["forged_recorded"],
        "recovered_by_replay": results["wrong_secret"]["recovered_by_replay"],
        "recovered_by_reconciliation": results["reconcile"]["recovered_by_reconciliation"],
    }
