"""PayPal's webhook events normalized (the signature is paycore.providers.paypal's): captures
(Payments v2), their refunds and reversals, and customer disputes (Disputes v1).

Every event of a capture lands on the capture: a refund or reversal (resource ``refund``) names it
by its ``up`` link (``.../v2/payments/captures/{id}``), a dispute by its first disputed
transaction's ``seller_transaction_id``. Amounts are decimal strings in the currency's minor
units (JPY 0 decimals, KWD 3). Shapes: PayPal REST API reference, payments_payment_v2 (``capture``,
``refund``, ``refund_status``) and customer_disputes_v1 (``dispute``, ``dispute_outcome``,
``status``), paypal/paypal-rest-api-specifications; event samples: developer.paypal.com, webhook
event names (tests/lambda/data/lifecycle/paypal/SOURCE.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paycore.envelope import Envelope
from paycore.model import (Fact, Ignored, Rejected, Transaction, iso_from_text, route_fields,
                           to_minor_units)

PROVIDER = "paypal"  # the event's provider (not a plug-in: see paycore.providers.paypal)
CAPTURE_STATUS = {
    "PAYMENT.CAPTURE.PENDING": "pending",
    "PAYMENT.CAPTURE.COMPLETED": "succeeded",
    "PAYMENT.CAPTURE.DENIED": "failed",
    "PAYMENT.CAPTURE.DECLINED": "failed",
}
#: Event type -> the kind of fact its ``refund`` resource is.
REFUND_KIND = {"PAYMENT.CAPTURE.REFUNDED": "refund", "PAYMENT.CAPTURE.REVERSED": "reversal"}
DISPUTE_TYPES = frozenset({"CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.UPDATED", "CUSTOMER.DISPUTE.RESOLVED"})
#: refund_status.status -> the fact's status.
REFUND_STATUS = {"COMPLETED": "succeeded", "PENDING": "pending", "FAILED": "failed", "CANCELLED": "canceled"}
#: dispute_outcome.outcome_code of a RESOLVED dispute -> won or lost: the money went back to the
#: buyer (lost) or stayed with the seller (won; PayPal paid the buyer itself, the buyer withdrew,
#: the claim was denied, no outcome given).
DISPUTE_OUTCOME = {"RESOLVED_BUYER_FAVOUR": "lost", "ACCEPTED": "lost", "RESOLVED_SELLER_FAVOUR": "won",
                   "RESOLVED_WITH_PAYOUT": "won", "CANCELED_BY_BUYER": "won", "DENIED": "won", "NONE": "won"}
EVENT_STATUS = {("refund", "succeeded"): "refunded", ("refund", "pending"): "refund_pending",
                ("refund", "failed"): "refund_failed", ("refund", "canceled"): "refund_canceled",
                ("reversal", "succeeded"): "reversed", ("reversal", "pending"): "refund_pending",
                ("reversal", "failed"): "refund_failed", ("reversal", "canceled"): "refund_canceled",
                ("dispute", "open"): "dispute_open", ("dispute", "won"): "dispute_won", ("dispute", "lost"): "dispute_lost"}


def normalize(envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise Rejected("missing_event_id")
    event_type = payload.get("event_type")
    if not isinstance(event_type, str):
        raise Rejected("malformed_event")
    if event_type not in CAPTURE_STATUS and event_type not in REFUND_KIND and event_type not in DISPUTE_TYPES:
        return Ignored(PROVIDER, event_id, event_type[:100], envelope.received_at)
    resource = payload.get("resource")
    if not isinstance(resource, Mapping):
        raise Rejected("malformed_event")
    occurred_at = iso_from_text(payload.get("create_time") or resource.get("create_time"))
    common = {"provider": PROVIDER, "event_id": event_id, "event_type": event_type, "occurred_at": occurred_at,
              "received_at": envelope.received_at}
    if event_type in CAPTURE_STATUS:
        return _capture(resource, CAPTURE_STATUS[event_type], common)
    if event_type in REFUND_KIND:
        return _refund(resource, REFUND_KIND[event_type], common)
    return _dispute(resource, common)


def _capture(resource: Mapping[str, Any], status: str, common: dict[str, Any]) -> Transaction:
    amount, payee, payer = _mapping(resource.get("amount")), _mapping(resource.get("payee")), _mapping(resource.get("payer"))
    fields = route_fields(vendor_id=resource.get("custom_id") or payee.get("merchant_id"),
                          customer_id=payer.get("payer_id"), currency=amount.get("currency_code"))
    value = amount.get("value")
    return Transaction(
        transaction_id=_text(resource.get("id")), status=status, amount=to_minor_units(value, fields.currency),
        amount_raw=value if fields.currency_raw is not None and isinstance(value, str) else None,
        **common, **fields.as_kwargs())


def _refund(resource: Mapping[str, Any], kind: str, common: dict[str, Any]) -> Transaction:
    """A refund or reversal of a capture (its ``refund`` resource): never sets the capture's
    vendor, customer or currency; its ``custom_id`` is kept to be compared with the capture's."""
    amount = _mapping(resource.get("amount"))
    fields = route_fields(vendor_id=resource.get("custom_id"), customer_id=None, currency=amount.get("currency_code"))
    value = to_minor_units(amount.get("value"), fields.currency)
    status = REFUND_STATUS.get(str(resource.get("status")), "succeeded")
    fact = Fact(kind, _text(resource.get("id")), status, value, fields.currency,
                iso_from_text(resource.get("create_time") or common["occurred_at"]))
    return Transaction(transaction_id=capture_id(resource), status=EVENT_STATUS[(kind, status)], amount=value,
                       facts=(fact,), **common, **fields.as_kwargs())


def _dispute(resource: Mapping[str, Any], common: dict[str, Any]) -> Transaction:
    """A dispute of a capture: open until RESOLVED, then won or lost by its outcome."""
    transactions = resource.get("disputed_transactions")
    first = _mapping(transactions[0]) if isinstance(transactions, list) and transactions else {}
    amount = _mapping(resource.get("dispute_amount"))
    fields = route_fields(vendor_id=None, customer_id=None, currency=amount.get("currency_code"))
    value = to_minor_units(amount.get("value"), fields.currency) if amount.get("value") is not None else 0
    outcome = _mapping(resource.get("dispute_outcome")).get("outcome_code")
    status = DISPUTE_OUTCOME.get(str(outcome), "won") if resource.get("status") == "RESOLVED" else "open"
    fact = Fact("dispute", _text(resource.get("dispute_id")), status, value, fields.currency,
                iso_from_text(resource.get("create_time") or common["occurred_at"]))
    return Transaction(transaction_id=_text(first.get("seller_transaction_id")), status=EVENT_STATUS[("dispute", status)],
                       amount=value, facts=(fact,), **common, **fields.as_kwargs())


def capture_id(resource: Mapping[str, Any]) -> str:
    """The capture a refund or reversal belongs to: the last segment of its ``up`` link to
    ``/v2/payments/captures/{id}`` (a capture's own ``up`` link names its order: not this); else
    the resource's own id (then it stays a payment of its own, its sale never seen)."""
    found = ""
    for link in resource.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == "up" and isinstance(link.get("href"), str):
            href = link["href"]
            if CAPTURE_LINK in href:
                found = href.rsplit("/", 1)[-1]
    return found or _text(resource.get("id"))


#: What the ``up`` link of a refund holds (the request template's group rule reads the same).
CAPTURE_LINK = "/v2/payments/captures/"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
