"""Stripe: ``Stripe-Signature`` verification (written here, no stripe-python) and normalization.

Verification, as Stripe documents it ("Verify webhook signatures manually"):

* header ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]``;
* signed payload = ``"{t}." + raw body bytes``; expected = hex HMAC-SHA256 with the endpoint secret
  (the whole ``whsec_...`` string, UTF-8) as key;
* any ``v1`` matching passes (Stripe sends several during a secret roll); each is checked against
  the current and the previous secret (our own rotation); ``v0`` (test-mode legacy) is ignored;
* comparisons are constant time (``hmac.compare_digest``);
* tolerance 300 s between ``t`` and the time API Gateway received the request (``received_at``),
  not the time the queue delivered it; ``t`` more than the tolerance in the future is rejected too.
  The signature is checked first, so a stale but authentic message reads ``stale_timestamp``.

Normalization covers ``payment_intent.*`` (the payment: vendor from ``metadata.vendor_id``,
customer from ``customer``, else ``metadata.customer_id``; the captured amount from
``amount_received``), the refunds of its charge (``charge.refunded``: a Charge, its ``refunds``
list when the API version includes it, else its cumulative ``amount_refunded``;
``charge.refund.updated`` and ``refund.*``: a Refund) and its disputes (``charge.dispute.*``: a
Dispute). Every one of them lands on the PaymentIntent (``payment_intent`` of the Charge, Refund
or Dispute; a charge without one is its own payment). Stripe amounts are already in Stripe's
smallest currency unit and are kept as sent. Shapes: Stripe API reference, the Charge, Refund and
Dispute objects (stripe/openapi fixtures3.json; tests/lambda/data/lifecycle/stripe/SOURCE.md).
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from paycore.envelope import Envelope
from paycore.model import (CURRENCIES, UNKNOWN_CURRENCY, Fact, Ignored, Rejected, Transaction, iso_from_epoch_ms,
                           route_fields)
from paycore.providers.base import GroupRule, Provider

TOLERANCE_SECONDS = 300
HEADER = "stripe-signature"

#: Stripe event type -> our status. Other ``payment_intent.*`` and all other types are Ignored.
EVENT_STATUS = {
    "payment_intent.created": "pending",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.amount_capturable_updated": "requires_capture",
    "payment_intent.processing": "processing",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "payment_intent.succeeded": "succeeded",
}
#: Event type -> the object its ``data.object`` is (events about the payment's refunds and disputes).
LIFECYCLE_OBJECT = {
    "charge.refunded": "charge",
    "charge.refund.updated": "refund",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
    "charge.dispute.created": "dispute",
    "charge.dispute.updated": "dispute",
    "charge.dispute.closed": "dispute",
    "charge.dispute.funds_withdrawn": "dispute",
    "charge.dispute.funds_reinstated": "dispute",
}
REFUND_STATUS = frozenset({"pending", "requires_action", "succeeded", "failed", "canceled"})
#: Dispute.status -> open, won or lost. An inquiry closed without a chargeback (warning_closed),
#: a dispute prevented, or closed by a refund of the charge (charge_refunded, older versions)
#: took no money: won.
DISPUTE_STATUS = {"warning_needs_response": "open", "warning_under_review": "open", "needs_response": "open",
                  "under_review": "open", "won": "won", "warning_closed": "won", "prevented": "won",
                  "charge_refunded": "won", "lost": "lost"}
EVENT_STATUS_OF_FACT = {("refund", "succeeded"): "refunded", ("refund", "pending"): "refund_pending",
                        ("refund", "requires_action"): "refund_pending", ("refund", "failed"): "refund_failed",
                        ("refund", "canceled"): "refund_canceled", ("refund_total", "succeeded"): "refunded",
                        ("dispute", "open"): "dispute_open", ("dispute", "won"): "dispute_won",
                        ("dispute", "lost"): "dispute_lost"}


def compute_signature(secret: str, timestamp: int, raw: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}." + raw`` with ``secret``: Stripe's ``v1``."""
    # One-shot OpenSSL HMAC: no HMAC object, no hash-constructor lookup (copying the body costs less).
    return hmac.digest(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + raw, "sha256").hex()


def sign(secret: str, timestamp: int, raw: bytes) -> str:
    """A ``Stripe-Signature`` header value, as Stripe would send it (local runner, tests)."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, raw)}"


def parse_header(value: str | None) -> tuple[int, list[str]]:
    """``(t, [v1, ...])``; ``Rejected`` with ``missing_signature``, ``malformed_signature`` or
    ``no_v1_signature`` (a header with only ``v0``)."""
    if not value:
        raise Rejected("missing_signature")
    timestamp: int | None = None
    v1: list[str] = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise Rejected("malformed_signature")
        if key == "t":
            if not val.isdigit() or len(val) > 12 or timestamp is not None:
                raise Rejected("malformed_signature")
            timestamp = int(val)
        elif key == "v1":
            v1.append(val)
    if timestamp is None:
        raise Rejected("malformed_signature")
    if not v1:
        raise Rejected("no_v1_signature")
    return timestamp, v1


def verify_signature(
    raw: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    received_at_ms: int,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> int:
    """Raise ``Rejected`` unless ``header`` signs ``raw`` with one of ``secrets`` within the
    tolerance around ``received_at_ms``; returns the signature timestamp."""
    timestamp, candidates = parse_header(header)
    if not secrets:
        raise Rejected("signature_mismatch")
    matched = False
    offered = [candidate.encode("utf-8", "replace") for candidate in candidates]
    for secret in secrets:  # current first; the previous one is only computed when current fails
        expected = compute_signature(secret, timestamp, raw).encode("ascii")
        for candidate in offered:
            # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
            matched |= hmac.compare_digest(expected, candidate)
        if matched:
            break
    if not matched:
        raise Rejected("signature_mismatch")
    age = received_at_ms / 1000 - timestamp
    if age > tolerance_seconds:
        raise Rejected("stale_timestamp")
    if -age > tolerance_seconds:
        raise Rejected("future_timestamp")
    return timestamp


def secrets_from(secret: Mapping[str, Any] | None) -> list[str]:
    """``{"current": ..., "previous": ...}`` -> the non-empty secrets, current first."""
    if not secret:
        return []
    usable = []
    for value in (secret.get("current"), secret.get("previous")):
        if isinstance(value, str) and value:
            usable.append(value)
    return usable


class StripeProvider(Provider):
    name = "stripe"
    usable_secrets = staticmethod(secrets_from)
    signature_headers = (HEADER,)
    event_id_path = "$.id"
    group_id_path = "$.data.object.id"
    #: a Charge, Refund or Dispute names its PaymentIntent
    group_id_rules = (GroupRule("$.data.object.payment_intent"),)

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        verify_signature(
            envelope.raw,
            envelope.headers.get(HEADER),
            secrets_from(secret),
            received_at_ms=envelope.received_at,
        )

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        event_id = payload.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise Rejected("missing_event_id")
        event_type = payload.get("type")
        if not isinstance(event_type, str):
            raise Rejected("malformed_event")
        status = EVENT_STATUS.get(event_type)
        kind = LIFECYCLE_OBJECT.get(event_type)
        if status is None and kind is None:
            return Ignored(self.name, event_id, event_type[:100], envelope.received_at)
        # `type(x) is dict or isinstance(x, Mapping)`: JSON gives dicts, and the ABC check alone
        # costs ~0.3 us per call; a str is never a Mapping
        data = payload.get("data")
        obj = data.get("object") if type(data) is dict or isinstance(data, Mapping) else None
        created = payload.get("created")
        if not (type(obj) is dict or isinstance(obj, Mapping)) or type(created) is not int or not 0 < created < 10**11:
            raise Rejected("malformed_event")
        metadata = obj.get("metadata")
        if not (type(metadata) is dict or isinstance(metadata, Mapping)):
            metadata = {}
        customer = obj.get("customer")
        if type(customer) is not str and isinstance(customer, Mapping):  # expanded customer object
            customer = customer.get("id")
        currency = obj.get("currency")
        fields = route_fields(
            vendor_id=metadata.get("vendor_id"),
            customer_id=customer or metadata.get("customer_id"),
            currency=currency.upper() if isinstance(currency, str) else currency,
        )
        common = {"provider": self.name, "event_id": event_id, "event_type": event_type,
                  "occurred_at": iso_from_epoch_ms(created * 1000), "received_at": envelope.received_at}
        if status is not None:
            received = obj.get("amount_received")
            amount = received if status == "succeeded" and type(received) is int and received > 0 else obj.get("amount")
            return Transaction(
                transaction_id=_text(obj.get("id")),
                status=status,
                amount=amount,  # Stripe's smallest currency unit, whatever the currency
                **common,
                **fields.as_kwargs(),
            )
        facts = _facts(kind or "", obj, event_type, common["occurred_at"])
        primary = next((f for f in reversed(facts) if f.kind != "refund_total"), facts[-1])  # the newest
        return Transaction(
            transaction_id=_text(obj.get("payment_intent")) or _text(obj.get("charge" if kind != "charge" else "id")),
            status=EVENT_STATUS_OF_FACT[(primary.kind, primary.status)],
            amount=primary.amount,
            facts=facts,
            **common,
            **fields.as_kwargs(),
        )


def _facts(kind: str, obj: Mapping[str, Any], event_type: str, when: str) -> tuple[Fact, ...]:
    """The refunds or dispute a Charge, Refund or Dispute object reports, in the order they were
    made (``when``: the event's time, for an object without its own)."""
    if kind == "dispute":
        return (Fact("dispute", _text(obj.get("id")), DISPUTE_STATUS.get(str(obj.get("status")), "open"),
                     obj.get("amount"), _currency(obj), _when(obj, when),  # checked by Fact
                     withdrawn=event_type == "charge.dispute.funds_withdrawn",
                     reinstated=event_type == "charge.dispute.funds_reinstated"),)
    if kind == "refund":
        return (_refund(obj, when),)
    refunds = obj.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    facts = [_refund(r, when) for r in listed if isinstance(r, Mapping)] if isinstance(listed, list) else []
    facts.sort(key=lambda f: (f.occurred_at, f.id))
    if not facts or (isinstance(refunds, Mapping) and refunds.get("has_more") is True):
        # not itemized (API versions from 2022-11-15 leave the list out), or only in part: the
        # charge's cumulative refunded amount is a floor of the payment's refunded amount
        facts.append(Fact("refund_total", _text(obj.get("id")), "succeeded", obj.get("amount_refunded"),
                          _currency(obj), when))
    return tuple(facts)


def _refund(obj: Mapping[str, Any], when: str) -> Fact:
    status = obj.get("status")
    return Fact("refund", _text(obj.get("id")), status if status in REFUND_STATUS else "pending",
                obj.get("amount"), _currency(obj), _when(obj, when))  # checked by Fact


def _currency(obj: Mapping[str, Any]) -> str:
    code = obj.get("currency")
    code = code.upper() if isinstance(code, str) else ""
    return code if code in CURRENCIES else UNKNOWN_CURRENCY


def _when(obj: Mapping[str, Any], default: str) -> str:
    created = obj.get("created")
    return iso_from_epoch_ms(created * 1000) if type(created) is int and 0 < created < 10**11 else default


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


PROVIDER = StripeProvider()
