"""Trust at the edge (issue 25): what someone holding the PayPal gate key and one captured delivery,
or `sqs:SendMessage` on the ingest queue, tries against the deployed platform, beside the genuine
traffic it must not disturb:

* a direct payment through ``POST /payments`` (IAM caller) is accepted; the same Idempotency-Key
  with the same body gets the same 202, with another body a 422 ``idempotency_key_reused``;
* a direct payment written to the ingest queue without the validator's signature is quarantined
  (``internal_signature_mismatch``), never recorded;
* a forged PayPal body whose CRC32 collides with a genuine delivery's, sent under that delivery's
  headers, verifies as PayPal's signature and is quarantined (``transmission_replayed``);
* an unsigned PayPal message naming a genuine payment's capture (its FIFO group) with a
  certificate URL that never answers is retried once, soon, then quarantined
  (``certificate_unavailable``); the genuine event behind it is recorded, nothing is dead-lettered.
"""
from __future__ import annotations

import json

from paycore.envelope import build_envelope

from scripts.local import sample_webhooks
from scripts.local.runner import IamCaller
from scripts.local.scenarios.context import ScenarioContext

CALLER = IamCaller(account_id="123456789012", user="AIDAEXAMPLESHOP", access_key="AKIAEXAMPLESHOP",
                   user_arn="arn:aws:iam::123456789012:user/shop")
POISON_CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-local-e2e-never-answers"
REASONS = ("internal_signature_mismatch", "transmission_replayed", "certificate_unavailable")


def run(ctx: ScenarioContext) -> dict:
    stamp = int(ctx.now.timestamp())
    before = {reason: ctx.metric(f"WebhookRejected[reason={reason}]") for reason in REASONS}

    # direct payments: the validator signs them and binds their Idempotency-Key
    key, request = f"inbound-{stamp}", {"amount": 4200, "currency": "USD", "vendor_id": ctx.vendors[0],
                                        "customer_id": "cus_inbound"}

    def pay(body: dict) -> tuple[int, str]:
        result = ctx.platform.http("POST", "/payments", headers={"Content-Type": "application/json",
                                                                 "Idempotency-Key": key},
                                   query={}, body=json.dumps(body).encode(), caller=CALLER)
        return result.status, result.body

    first = pay(request)
    transaction_id = json.loads(first[1]).get("transaction_id", "")
    ctx.platform.drain()
    repeated, reused = pay(request), pay({**request, "amount": 1})
    forged_key = f"inbound-forged-{stamp}"
    forged_direct = build_envelope(
        provider="direct", received_at=stamp * 1000, request_id=f"forged-{stamp}", source_ip="10.0.0.66",
        headers={"idempotency-key": forged_key},
        raw=json.dumps({**request, "amount": 999_999, "status": "succeeded", "transaction_id": f"pay_{forged_key}"},
                       sort_keys=True, separators=(",", ":")).encode()).to_json()
    ctx.sqs.send_message(QueueUrl=ctx.ingest_url, MessageBody=forged_direct, MessageGroupId=forged_key,
                         MessageDeduplicationId=forged_key)

    # PayPal: a forged body under a captured delivery's headers, with the same CRC32
    genuine = ctx.paypal_request("inbound_genuine")
    forged_event = json.loads(genuine.body)
    forged_event.update(id="WH-INBOUND-FORGED")
    forged_event["resource"] = {**forged_event["resource"], "id": "CAP-INBOUND-FORGED", "custom_id": "vendor-evil",
                                "amount": {"currency_code": "USD", "value": "9999.00"}}
    forged_paypal = sample_webhooks.WebhookRequest(
        "paypal", genuine.path, dict(genuine.headers), {}, sample_webhooks.crc32_collision(genuine.body, forged_event),
        sample_webhooks.Expect("bad_signature", "CAP-INBOUND-FORGED", "WH-INBOUND-FORGED"))

    # PayPal: an unverified message in a genuine payment's group, whose certificate never comes
    victim = ctx.paypal_request("inbound_victim")
    poison_body = sample_webhooks.paypal_event("WH-INBOUND-POISON", "PAYMENT.CAPTURE.COMPLETED",
                                               victim.expect.transaction_id, 100, "USD", ctx.vendors[0], "PAYERX",
                                               ctx.now)
    poison_headers = {**victim.headers, **ctx.paypal.headers(poison_body, f"tx-poison-{stamp}", ctx.now),
                      "PAYPAL-CERT-URL": POISON_CERT_URL}
    poison = sample_webhooks.WebhookRequest("paypal", victim.path, poison_headers, {}, poison_body,
                                            sample_webhooks.Expect("bad_signature", victim.expect.transaction_id,
                                                                   "WH-INBOUND-POISON"))
    ctx.send([genuine])  # the genuine delivery first: the forger learns its headers from it
    ctx.platform.drain()
    ctx.send([forged_paypal, poison, victim])
    ctx.platform.drain()

    recorded = set(ctx.ledger_event_ids())
    genuine_ids = [key, genuine.expect.event_id, victim.expect.event_id]
    return {
        "direct": {"first": first[0], "repeated": repeated[0], "same_answer": repeated[1] == first[1],
                   "key_reused": reused[0], "key_reused_code": json.loads(reused[1] or "{}").get("code"),
                   "transaction_id": transaction_id},
        "rejected": {reason: ctx.metric(f"WebhookRejected[reason={reason}]") - n for reason, n in before.items()},
        "forged_recorded": sum(e in recorded for e in (forged_key, "WH-INBOUND-FORGED", "WH-INBOUND-POISON")),
        "genuine_recorded": sum(e in recorded for e in genuine_ids),
        "dlq_after": ctx.dlq_depth(),
        "expected": genuine_ids,
    }
