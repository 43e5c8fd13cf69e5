"""Reconciliation (issue 27): the gate key is wrong for a window, so every webhook of it is refused
(401/403) and the providers give up; their events APIs (scripts/local/fake_provider_apis.py, on
loopback) still list them. The reconciler, invoked as EventBridge Scheduler does (the schedule's
input, ``{"provider": ...}``), recovers every one of them as signed ``fetched`` envelopes through the
deployed queue and processor; events the platform already had are listed too and not written twice.
"""
from __future__ import annotations

import json

import boto3

from scripts.local.fake_provider_apis import FakeProviderApis
from scripts.local.scenarios.context import REGION, ScenarioContext

WRONG_KEY = "gate-key-that-expired-during-the-outage"


def run(ctx: ScenarioContext) -> dict:
    with FakeProviderApis() as apis:
        secrets = boto3.client("secretsmanager", endpoint_url=ctx.platform.endpoint_url, region_name=REGION)
        prefix = ctx.platform.environment("reconciler")["SECRET_PREFIX"]
        secrets.put_secret_value(SecretId=f"{prefix}stripe/api", SecretString=json.dumps({"current": apis.stripe_key}))
        client_id, client_secret = apis.paypal_client
        secrets.put_secret_value(SecretId=f"{prefix}paypal/api",
                                 SecretString=json.dumps({"client_id": client_id, "client_secret": client_secret}))
        ctx.platform.functions.add_environment("reconciler", {"STRIPE_API_BASE": apis.base, "PAYPAL_API_BASE": apis.base})

        delivered = [ctx.stripe("recon-ok0"), ctx.paypal_request("recon-ok1")]  # pushed and recorded as usual
        ctx.send(delivered)
        outage = [ctx.stripe(f"recon{i}") for i in range(4)] + [ctx.paypal_request(f"recon{i}") for i in range(3)]
        refused = 0
        for request in outage:
            headers = {k: (WRONG_KEY if k == "X-Webhook-Key" else v) for k, v in request.headers.items()}
            query = {k: (WRONG_KEY if k == "key" else v) for k, v in request.query.items()}
            result = ctx.platform.http("POST", request.path, headers=headers, query=query, body=request.body)
            refused += result.status in (401, 403)
        ctx.platform.drain()
        for request in delivered + outage:  # what the providers' events APIs list
            apis.add(request.provider, request.body)
        apis.delivered(delivered[0].expect.event_id)  # Stripe knows its webhook got a 200 (PayPal's list has no such filter)
        recorded_before = set(ctx.ledger_event_ids())
        reports = {provider: ctx.platform.invoke("reconciler", {"provider": provider}) for provider in ("stripe", "paypal")}
        ctx.platform.drain()
        again = {provider: ctx.platform.invoke("reconciler", {"provider": provider}) for provider in ("stripe", "paypal")}
        ctx.platform.drain()
    recorded = set(ctx.ledger_event_ids())
    ids = [r.expect.event_id for r in outage]
    return {
        "refused_during_outage": refused,
        "listed": sum(r["listed"] for r in reports.values()),
        "already_recorded": sum(r["already_recorded"] for r in reports.values()),
        "recovered": sum(r["recovered"] for r in reports.values()),
        "recovered_next_run": sum(r["recovered"] for r in again.values()),
        "recovered_by_reconciliation": sum(e in recorded and e not in recorded_before for e in ids),
        "expected": ids + [r.expect.event_id for r in delivered],
    }
