"""Lifecycle events for the tests: the providers' events of one payment built from the realistic
fixtures in data/lifecycle/ (their shapes, SOURCE.md there; ids, amounts, currencies and times
varied), and the domain events a payment's state writes put on the bus, built as the platform
builds them (paycore.lifecycle folds the events, Pipe B's template renders the state row's stream
record: scripts/local/runner/eventbridge.py)."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from paycore.model import CURRENCY_EXPONENT
from scripts.local.runner import eventbridge

if TYPE_CHECKING:
    from paycore.model import Transaction

DATA = Path(__file__).parent / "data" / "lifecycle"
STRIPE_TYPES = ("payment_intent.succeeded", "charge.refunded", "charge.refund.updated", "charge.dispute.created",
                "charge.dispute.closed")
PAYPAL_TYPES = ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED", "CUSTOMER.DISPUTE.CREATED",
                "CUSTOMER.DISPUTE.RESOLVED")


@cache
def _fixture(provider: str, name: str) -> dict[str, Any]:
    return json.loads((DATA / provider / f"{name}.json").read_text())


def fixture(provider: str, name: str) -> dict[str, Any]:
    """A fresh copy of ``data/lifecycle/{provider}/{name}.json``."""
    return copy.deepcopy(_fixture(provider, name))


def decimal_text(minor: int, currency: str) -> str:
    """Minor units as a PayPal decimal string (JPY 1050 -> "1050", KWD 10500 -> "10.500")."""
    exponent = CURRENCY_EXPONENT[currency]
    if not exponent:
        return str(minor)
    whole, fraction = divmod(minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


# --------------------------------------------------------------------------- Stripe


def stripe_sale(event_id: str, pi: str, amount: int, *, currency: str = "usd", created: int, vendor: str = "vendor_1",
                type_: str = "payment_intent.succeeded") -> dict[str, Any]:
    event = fixture("stripe", type_)
    obj = event["data"]["object"]
    obj.update(id=pi, amount=amount, currency=currency, metadata={**obj["metadata"], "vendor_id": vendor},
               latest_charge=f"ch_{pi[3:]}", amount_received=amount if type_ == "payment_intent.succeeded" else 0)
    event.update(id=event_id, created=created)
    return event


def stripe_refund_object(refund_id: str, pi: str, amount: int, *, currency: str, created: int,
                         status: str = "succeeded") -> dict[str, Any]:
    refund = fixture("stripe", "charge.refund.updated")["data"]["object"]
    refund.update(id=refund_id, amount=amount, charge=f"ch_{pi[3:]}", payment_intent=pi, currency=currency,
                  created=created, status=status)
    return refund


def stripe_charge_refunded(event_id: str, pi: str, captured: int, refunds: list[dict[str, Any]], *, currency: str,
                           created: int) -> dict[str, Any]:
    """``charge.refunded`` whose Charge lists ``refunds`` (Refund objects, newest first as Stripe lists them)."""
    event = fixture("stripe", "charge.refunded")
    charge = event["data"]["object"]
    refunded = sum(r["amount"] for r in refunds if r["status"] == "succeeded")
    charge.update(id=f"ch_{pi[3:]}", payment_intent=pi, amount=captured, amount_captured=captured, currency=currency,
                  amount_refunded=refunded, refunded=refunded >= captured,
                  refunds={**charge["refunds"], "data": sorted(refunds, key=lambda r: -r["created"]),
                           "url": f"/v1/charges/ch_{pi[3:]}/refunds"})
    event.update(id=event_id, created=created)
    return event


def stripe_dispute(event_id: str, pi: str, dispute_id: str, amount: int, status: str, *, currency: str, created: int,
                   opened: int, type_: str) -> dict[str, Any]:
    event = fixture("stripe", type_)
    obj = event["data"]["object"]
    obj.update(id=dispute_id, amount=amount, charge=f"ch_{pi[3:]}", payment_intent=pi, currency=currency,
               status=status, created=opened)
    event.update(id=event_id, created=created)
    return event


# --------------------------------------------------------------------------- PayPal


def paypal_capture(event_id: str, capture: str, minor: int, *, currency: str = "USD", when: str,
                   vendor: str = "vendor_1", type_: str = "PAYMENT.CAPTURE.COMPLETED") -> dict[str, Any]:
    event = fixture("paypal", type_)
    resource = event["resource"]
    value = decimal_text(minor, currency)
    resource.update(id=capture, amount={"currency_code": currency, "value": value}, custom_id=vendor,
                    create_time=when, update_time=when)
    if "seller_receivable_breakdown" in resource:
        resource["seller_receivable_breakdown"]["gross_amount"] = {"currency_code": currency, "value": value}
    for link in resource["links"]:
        if "/captures/" in link["href"]:
            link["href"] = link["href"].replace("3C679366HH908993F", capture)
    event.update(id=event_id, create_time=when)
    return event


def paypal_refund(event_id: str, capture: str, refund_id: str, minor: int, *, currency: str = "USD", when: str,
                  type_: str = "PAYMENT.CAPTURE.REFUNDED") -> dict[str, Any]:
    event = fixture("paypal", type_)
    resource = event["resource"]
    value = decimal_text(minor, currency)
    resource.update(id=refund_id, amount={"currency_code": currency, "value": value}, create_time=when,
                    update_time=when)
    resource["seller_payable_breakdown"].update(gross_amount={"currency_code": currency, "value": value},
                                                net_amount={"currency_code": currency, "value": value})
    resource["links"] = [{"href": f"https://api.paypal.com/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                         {"href": f"https://api.paypal.com/v2/payments/captures/{capture}", "rel": "up", "method": "GET"}]
    event.update(id=event_id, create_time=when)
    return event


def paypal_dispute(event_id: str, capture: str, dispute_id: str, minor: int, *, currency: str = "USD", when: str,
                   opened: str, outcome: str | None = None) -> dict[str, Any]:
    """CUSTOMER.DISPUTE.CREATED, or .RESOLVED with ``outcome`` (a dispute_outcome.outcome_code)."""
    event = fixture("paypal", "CUSTOMER.DISPUTE.RESOLVED" if outcome else "CUSTOMER.DISPUTE.CREATED")
    resource = event["resource"]
    resource.update(dispute_id=dispute_id, create_time=opened, update_time=when,
                    dispute_amount={"currency_code": currency, "value": decimal_text(minor, currency)})
    resource["disputed_transactions"][0]["seller_transaction_id"] = capture
    if outcome:
        resource["dispute_outcome"] = {"outcome_code": outcome,
                                       "amount_refunded": {"currency_code": currency, "value": decimal_text(minor, currency)}}
    event.update(id=event_id, create_time=when)
    return event


# --------------------------------------------------------------------------- domain events


_KIND_FACTS = {"refunded": ("refund", "succeeded"), "reversed": ("reversal", "succeeded"),
               "dispute_opened": ("dispute", "open"), "dispute_won": ("dispute", "won"),
               "dispute_lost": ("dispute", "lost")}


def step(transaction_id: str, kind: str, n: int, *, amount: int = 1999, currency: str = "USD",
         vendor_id: str = "vendor-a", occurred_at: str = "2025-11-29T01:33:00.000Z",
         received_at: int = 1_764_379_980_000) -> Transaction:
    """The normalized event that announces ``kind`` (a payment status, or what undoes a sale: a
    full refund or reversal, a dispute of the whole amount) for ``transaction_id``."""
    from paycore.model import Fact, Transaction  # here: the webhook builders above run on any paycore

    if kind not in _KIND_FACTS:
        return Transaction(transaction_id, "stripe", f"evt_{transaction_id}_{n}", f"payment_intent.{kind}", kind, amount,
                           currency, vendor_id, "cus-1", occurred_at, received_at)
    fact_kind, status = _KIND_FACTS[kind]
    fact = Fact(fact_kind, f"dp_{transaction_id}" if fact_kind == "dispute" else f"re_{transaction_id}_{n}", status,
                amount, currency, occurred_at)
    event_status = {"refund": "refunded", "reversal": "reversed"}.get(fact_kind, f"dispute_{status}")
    return Transaction(transaction_id, "stripe", f"evt_{transaction_id}_{n}", "charge.event", event_status, amount,
                       currency, None, None, occurred_at, received_at, facts=(fact,))


def state_writes(transaction_id: str, kinds: list[str], **fields: Any) -> list[dict[str, Any]]:
    """The state rows (plain values) the ledger writes for events announcing ``kinds`` in turn."""
    from paycore import lifecycle

    payment, items = lifecycle.Payment(transaction_id), []
    for n, kind in enumerate(kinds, start=1):
        applied = lifecycle.apply(payment, step(transaction_id, kind, n, **fields))
        assert applied is not None, kind
        payment = applied.payment
        items.append(lifecycle.to_item(payment, bus_kinds=applied.bus_kinds, announced_from=applied.announced_from))
    return items


def stream_image(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item as a DynamoDB stream record's image (DynamoDB JSON)."""
    serializer = TypeSerializer()
    return json.loads(json.dumps({k: serializer.serialize(v) for k, v in item.items() if v is not None},
                                 default=lambda d: str(d) if isinstance(d, Decimal) else str(d)))


def detail_of(item: dict[str, Any]) -> dict[str, Any]:
    """What Pipe B's template makes of a state row's INSERT/MODIFY record."""
    return eventbridge.status_changed_detail({"eventName": "MODIFY", "dynamodb": {"NewImage": stream_image(item)}})


def domain_event(transaction_id: str, kinds: list[str], **fields: Any) -> dict[str, Any]:
    """The EventBridge event of the last write of a payment whose events announce ``kinds``."""
    return eventbridge.eventbridge_event(detail_of(state_writes(transaction_id, kinds, **fields)[-1]))
