"""A poison message: one that always fails, among healthy ones of other payments (message groups),
and one that fails only during an outage: only the two failing ones reach the DLQ; redrive
recovers the outage victim and parks the poison, which the quarantine replay (``--parked``)
recovers once the cause is fixed."""
from __future__ import annotations

from scripts.local.scenarios.context import ScenarioContext
from scripts.ops import redrive_dlq


def run(ctx: ScenarioContext) -> dict:
    poison, victim = ctx.stripe("poison"), ctx.stripe("outage_victim")
    healthy = [ctx.stripe(f"healthy{i}") if i % 2 else ctx.paypal_request(f"healthy{i}") for i in range(8)]
    requests = healthy[:3] + [poison] + healthy[3:6] + [victim] + healthy[6:]
    park_bucket = ctx.platform.wiring.bucket
    with ctx.failing_writes({poison.expect.event_id, victim.expect.event_id}) as failing:
        ctx.send(requests)
        ctx.platform.drain()
        in_dlq = ctx.dlq_event_ids()
        innocent = [e for e in in_dlq if e not in (poison.expect.event_id, victim.expect.event_id)]
        failing.discard(victim.expect.event_id)  # the outage is over; the poison still fails
        first = redrive_dlq.redrive(ctx.sqs, ctx.dlq_url, ctx.ingest_url, s3=ctx.s3, park_bucket=park_bucket)
        ctx.platform.drain()
        second = redrive_dlq.redrive(ctx.sqs, ctx.dlq_url, ctx.ingest_url, s3=ctx.s3, park_bucket=park_bucket)
    recorded_before_fix = set(ctx.ledger_event_ids())
    # the cause is fixed (the context above is closed): the parked message is replayed
    replayed = ctx.replay_quarantine(parked=True)
    ctx.platform.drain()
    recorded = set(ctx.ledger_event_ids())
    return {
        "sent": len(requests),
        "in_dlq": in_dlq,
        "innocent_in_dlq": len(innocent),
        "redriven": first["moved"] + second["moved"],
        "recovered_by_redrive": int(victim.expect.event_id in recorded_before_fix),
        "parked": first["parked"] + second["parked"],
        "recovered_from_parked": int(replayed["requeued"] == 1 and poison.expect.event_id in recorded),
        "dlq_after": len(ctx.dlq_event_ids()),
        "expected": [r.expect.event_id for r in requests],
    }
