"""Unroutable events: signed events with an unsafe vendor id (Stripe metadata, a PayPal ``custom_id``
with a space) and an unknown currency are recorded, counted (``UnroutableEvent``) and notify no
vendor."""
from __future__ import annotations

from scripts.local.scenarios.context import ScenarioContext


def run(ctx: ScenarioContext) -> dict:
    requests = [ctx.stripe("unr_vendor", vendor="vendor a!"),
                ctx.paypal_request("unr_custom", custom_id="order 123"),
                ctx.stripe("unr_currency", currency="ZZZ")]
    before = {r: ctx.metric(f"UnroutableEvent[reason={r}]") for r in ("unsafe_vendor_id", "unknown_currency")}
    ctx.send(requests)
    ctx.platform.drain()
    recorded = set(ctx.ledger_event_ids())
    return {
        "sent": len(requests),
        "recorded": sum(r.expect.event_id in recorded for r in requests),
        "notified": sum(ctx.notified(r.expect.transaction_id) for r in requests),
        "counted": {r: ctx.metric(f"UnroutableEvent[reason={r}]") - n for r, n in before.items()},
        "expected": [r.expect.event_id for r in requests],
    }
