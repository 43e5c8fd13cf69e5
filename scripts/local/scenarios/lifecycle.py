"""Payment lifecycles: sales, partial refunds and disputes of Stripe and PayPal payments (USD, and
KWD and JPY amounts), two refunds sent before their sales, through the deployed wiring; the
ledger's amounts, and each payment's story as its vendor hears it (SNS and signed webhooks): sale
first, each announcement once with its own amount and the running totals.

Bodies follow the providers' published shapes (tests/lambda/data/lifecycle/*/SOURCE.md: Stripe's
Charge, Refund and Dispute objects; PayPal's capture, refund and dispute resources), signed as the
providers sign them (scripts/local/sample_webhooks.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scripts.local import sample_webhooks
from scripts.local.scenarios.context import ScenarioContext

SALE, REFUND1, REFUND2, DISPUTE = 10_500, 2_000, 3_000, 5_500  # minor units
KINDS = ("succeeded", "failed", "canceled", "refunded", "refund_failed", "reversed", "dispute_opened", "dispute_won",
         "dispute_lost")


@dataclass
class Payment:
    """One payment of the scenario: its events by wave, and what the vendor must hear."""

    provider: str
    tag: str
    currency: str
    waves: dict[int, list[str]]  # wave -> steps sent in it
    story: list[tuple[str, int]]  # (kind, own amount) in the order the vendor hears them
    requests: list[sample_webhooks.WebhookRequest] = field(default_factory=list)

    @property
    def transaction_id(self) -> str:
        return f"pi_{self.tag}" if self.provider == "stripe" else f"CAP{self.tag.upper()}"

    def totals(self) -> dict[str, Any]:
        refunded = sum(a for k, a in self.story if k == "refunded")
        lost = sum(a for k, a in self.story if k == "dispute_lost")
        return {"captured_amount": SALE, "refunded_amount": refunded, "disputed_amount": 0,
                "dispute_lost_amount": lost, "net_amount": SALE - refunded - lost}


def plan() -> list[Payment]:
    won, lost = [("dispute_opened", DISPUTE), ("dispute_won", DISPUTE)], [("dispute_opened", DISPUTE),
                                                                        ("dispute_lost", DISPUTE)]
    sale = [("succeeded", SALE)]
    return [
        Payment("stripe", "lcs1", "USD", {2: ["sale"], 3: ["refund1"], 4: ["refund2"]},
                sale + [("refunded", REFUND1), ("refunded", REFUND2)]),
        Payment("stripe", "lcs2", "KWD", {1: ["refund1"], 2: ["sale"], 3: ["opened"], 4: ["lost"]},  # refund first
                sale + [("refunded", REFUND1)] + lost),
        Payment("stripe", "lcs3", "USD", {2: ["sale", "sale"], 3: ["opened"], 4: ["won"]}, sale + won),  # a resend
        Payment("paypal", "lcp1", "USD", {2: ["sale"], 3: ["refund1"]}, sale + [("refunded", REFUND1)]),
        Payment("paypal", "lcp2", "JPY", {1: ["refund1"], 2: ["sale"], 3: ["opened"], 4: ["lost"]},  # refund first
                sale + [("refunded", REFUND1)] + lost),
        Payment("paypal", "lcp3", "USD", {2: ["sale"], 3: ["won"]}, sale + won),  # its closure only
    ]


# ----- the providers' bodies -------------------------------------------------------------------------

def _decimal(minor: int, currency: str) -> str:
    from paycore.model import CURRENCY_EXPONENT

    exponent = CURRENCY_EXPONENT[currency]
    return str(minor) if not exponent else f"{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"


def _stripe_body(p: Payment, step: str, vendor: str, created: int) -> bytes:
    pi, charge, currency = p.transaction_id, f"ch_{p.tag}", p.currency.lower()
    event_id = f"evt_{p.tag}_{step}"
    if step == "sale":
        return sample_webhooks.stripe_event(event_id, "payment_intent.succeeded", pi, SALE, p.currency, vendor,
                                            f"cus_{p.tag}", created)

    def refund(n: int, amount: int) -> dict[str, Any]:
        return {"id": f"re_{p.tag}_{n}", "object": "refund", "amount": amount, "charge": charge, "currency": currency,
                "created": created - 60 + n, "payment_intent": pi, "status": "succeeded", "metadata": {}}

    if step.startswith("refund"):
        refunds = [refund(1, REFUND1)] + ([refund(2, REFUND2)] if step == "refund2" else [])
        obj: dict[str, Any] = {
            "id": charge, "object": "charge", "amount": SALE, "amount_captured": SALE,
            "amount_refunded": sum(r["amount"] for r in refunds), "currency": currency, "payment_intent": pi,
            "captured": True, "refunded": False, "status": "succeeded", "metadata": {"vendor_id": vendor},
            "refunds": {"object": "list", "data": refunds[::-1], "has_more": False, "url": f"/v1/charges/{charge}/refunds"}}
        event_type = "charge.refunded"
    else:
        status = {"opened": "needs_response", "won": "won", "lost": "lost"}[step]
        obj = {"id": f"dp_{p.tag}", "object": "dispute", "amount": DISPUTE, "charge": charge, "currency": currency,
               "payment_intent": pi, "created": created - 30, "status": status, "reason": "fraudulent",
               "is_charge_refundable": False, "metadata": {}}
        event_type = "charge.dispute.created" if step == "opened" else "charge.dispute.closed"
    payload = {"id": event_id, "object": "event", "api_version": "2022-08-01", "created": created, "type": event_type,
               "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
               "data": {"object": obj}}
    return json.dumps(payload, separators=(",", ":")).encode()


def _paypal_body(p: Payment, step: str, vendor: str, when: str) -> bytes:
    capture, api = p.transaction_id, "https://api.paypal.com"
    event_id = f"WH-{p.tag.upper()}-{step.upper()}"
    if step == "sale":
        body = json.loads(sample_webhooks.paypal_event(event_id, "PAYMENT.CAPTURE.COMPLETED", capture, SALE, "USD",
                                                       vendor, f"PAYER{p.tag}", _moment(when)))
        body["resource"]["amount"] = {"currency_code": p.currency, "value": _decimal(SALE, p.currency)}
        return json.dumps(body, separators=(",", ":")).encode()
    if step.startswith("refund"):
        refund_id = f"REF{p.tag.upper()}{step[-1]}"
        resource: dict[str, Any] = {
            "id": refund_id, "amount": {"currency_code": p.currency, "value": _decimal(REFUND1, p.currency)},
            "status": "COMPLETED", "create_time": when, "update_time": when,
            "links": [{"href": f"{api}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                      {"href": f"{api}/v2/payments/captures/{capture}", "rel": "up", "method": "GET"}]}
        event_type, resource_type = "PAYMENT.CAPTURE.REFUNDED", "refund"
    else:
        resource = {"dispute_id": f"PP-D-{p.tag.upper()}", "create_time": when, "update_time": when,
                    "disputed_transactions": [{"seller_transaction_id": capture}], "reason": "UNAUTHORISED",
                    "dispute_amount": {"currency_code": p.currency, "value": _decimal(DISPUTE, p.currency)},
                    "status": "OPEN" if step == "opened" else "RESOLVED"}
        if step != "opened":
            outcome = "RESOLVED_SELLER_FAVOUR" if step == "won" else "RESOLVED_BUYER_FAVOUR"
            resource["dispute_outcome"] = {"outcome_code": outcome}
        event_type = "CUSTOMER.DISPUTE.CREATED" if step == "opened" else "CUSTOMER.DISPUTE.RESOLVED"
        resource_type = "dispute"
    payload = {"id": event_id, "event_version": "1.0", "create_time": when, "resource_type": resource_type,
               "event_type": event_type, "summary": event_type.lower(), "resource": resource}
    return json.dumps(payload, separators=(",", ":")).encode()


def _moment(text: str):
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _request(ctx: ScenarioContext, p: Payment, step: str, vendor: str, wave: int, n: int) -> sample_webhooks.WebhookRequest:
    created = int(ctx.now.timestamp()) - 40 + 10 * wave  # later waves happened later
    when = ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if p.provider == "stripe":
        body = _stripe_body(p, step, vendor, created)
        headers = {"Content-Type": "application/json",
                   "Stripe-Signature": sample_webhooks.stripe_signature(ctx.stripe_secret, int(ctx.now.timestamp()), body)}
        request = sample_webhooks.WebhookRequest("stripe", "/webhooks/stripe", headers, {"key": ctx.gate_keys["stripe"]},
                                                 body, sample_webhooks.Expect("valid"))
    else:
        body = _paypal_body(p, step, vendor, when)
        headers = {"Content-Type": "application/json", **ctx.paypal.headers(body, f"tx-{p.tag}-{step}-{n}", ctx.now),
                   "X-Webhook-Key": ctx.gate_keys["paypal"]}
        request = sample_webhooks.WebhookRequest("paypal", "/webhooks/paypal", headers, {}, body,
                                                 sample_webhooks.Expect("valid"))
    request.expect = sample_webhooks.Expect("valid", p.transaction_id, json.loads(body)["id"])
    return request


# ----- the run and what came of it --------------------------------------------------------------------

def _vendor(ctx: ScenarioContext) -> tuple[str, str | None]:
    """A vendor whose endpoint (if any is deployed) takes every kind; else the last vendor, SNS only."""
    for endpoint_id, endpoint in sorted(ctx.platform.wiring.vendor_endpoints().items()):
        if {f"payment.{k}" for k in KINDS} <= set(endpoint["event_types"]):
            return endpoint["vendor_id"], endpoint_id
    return ctx.vendors[-1], None


def _sns(ctx: ScenarioContext, vendor: str) -> list[dict[str, Any]]:
    """The vendor's SNS notifications (its capture queue: the notification JSON), read and removed."""
    url = ctx.sqs.get_queue_url(QueueName=f"vendor-capture-{vendor}-local")["QueueUrl"]
    found: list[dict[str, Any]] = []
    while True:
        got = ctx.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return found
        for message in got:
            found.append(json.loads(json.loads(message["Body"])["Message"]))
            ctx.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def violations(story: list[tuple[str, int]], told: list[dict[str, Any]]) -> int:
    """0 when ``told`` (sequence, kind, amount, running totals each) is the story in order with
    totals that add up; else 1."""
    captured = refunded = disputed = lost = 0
    if [(t["kind"], t["amount"]) for t in told] != story or [t["sequence"] for t in told] != list(range(1, len(story) + 1)):
        return 1
    for t in told:
        captured += t["amount"] if t["kind"] == "succeeded" else 0
        refunded += t["amount"] if t["kind"] == "refunded" else 0
        disputed += t["amount"] if t["kind"] == "dispute_opened" else -t["amount"] if t["kind"] in (
            "dispute_won", "dispute_lost") else 0
        lost += t["amount"] if t["kind"] == "dispute_lost" else 0
        if (t["captured_amount"], t["refunded_amount"], t["disputed_amount"], t["dispute_lost_amount"],
                t["net_amount"]) != (captured, refunded, disputed, lost, captured - refunded - disputed - lost):
            return 1
    return 0


def run(ctx: ScenarioContext) -> dict:
    import datetime as dt

    ctx.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # signatures within Stripe's 5 minutes
    payments = plan()
    vendor, endpoint_id = _vendor(ctx)
    sent = []
    for wave in sorted({w for p in payments for w in p.waves}):
        batch = [_request(ctx, p, step, vendor, wave, n) for p in payments for n, step in enumerate(p.waves.get(wave, []))]
        ctx.send(batch)
        sent += batch
        ctx.platform.drain()
    from paycore.ledger import deserialize

    wrong, late = [], 0
    notified = _sns(ctx, vendor)
    hooks = ctx.vendor_endpoints[endpoint_id].delivered() if endpoint_id and ctx.vendor_endpoints else None
    for p in payments:
        state = deserialize(ctx.ddb.get_item(TableName=ctx.platform.wiring.table_name, ConsistentRead=True, Key={
            "transaction_id": {"S": p.transaction_id}, "timestamp": {"S": "STATE"}}).get("Item", {}))
        if {k: state.get(k) for k in p.totals()} != p.totals() or state.get("held"):
            wrong.append(p.transaction_id)
        sns = sorted((m for m in notified if m["transaction_id"] == p.transaction_id), key=lambda m: m["sequence"])
        late += violations(p.story, [{**m, "kind": m["event_type"].removeprefix("payment.")} for m in sns])
        if hooks is not None:
            told = [{"kind": h.event_type.removeprefix("payment."), "sequence": h.sequence, **dict(h.amounts)}
                    for h in hooks if h.transaction_id == p.transaction_id]
            late += violations(p.story, told)
    return {
        "payments": len(payments),
        "out_of_order": sum(1 for p in payments if p.waves.get(1)),
        "wrong_totals": len(wrong),
        "wrong_totals_ids": wrong,
        "vendor_order_violations": late,
        "channels": ["sns", "webhooks"] if hooks is not None else ["sns"],
        "sent": len(sent),
        "expected": sorted({r.expect.event_id for r in sent}),
    }
