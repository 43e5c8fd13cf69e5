"""A wrong secret: the providers' signing secrets rotated without us; every genuine event of that
window is quarantined; after the secrets are set right the quarantine replay recovers all of them,
and a provider retry that arrived meanwhile is not doubled."""
from __future__ import annotations

from scripts.local.scenarios.context import ScenarioContext


def run(ctx: ScenarioContext, correct: dict[str, str]) -> dict:
    since = int(ctx.now.timestamp() * 1000) - 1
    ctx.set_secrets({"stripe": "whsec_rotated_at_stripe_not_here_0001", "paypal": "WH-RE-REGISTERED-ELSEWHERE"})
    ctx.clear_secret_caches()
    window = [ctx.stripe(f"window{i}") for i in range(3)] + [ctx.paypal_request(f"window{i}") for i in range(2)]
    rejected_before = ctx.metric("WebhookRejected[reason=signature_mismatch]")
    ctx.send(window)
    ctx.platform.drain()
    quarantined = ctx.metric("WebhookRejected[reason=signature_mismatch]") - rejected_before
    ctx.set_secrets(correct)
    ctx.clear_secret_caches()
    ctx.send([window[0]])  # Stripe's own retry, after the fix: recorded before the replay
    ctx.platform.drain()
    recorded_before = set(ctx.ledger_event_ids())
    dry = ctx.replay_quarantine(provider=None, since_ms=since, dry_run=True)
    report = ctx.replay_quarantine(provider=None, since_ms=since)
    ctx.platform.drain()
    again = ctx.replay_quarantine(provider=None, since_ms=since)
    recorded = set(ctx.ledger_event_ids())
    ids = [r.expect.event_id for r in window]
    return {
        "sent": len(window),
        "quarantined": quarantined,
        "dry_run_verified": dry["verified_now"],
        "requeued": report["requeued"],
        "requeued_again": again["requeued"],
        "recovered_by_replay": sum(e in recorded and e not in recorded_before for e in ids),
        "expected": ids,
    }
