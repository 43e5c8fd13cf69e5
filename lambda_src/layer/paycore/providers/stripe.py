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

Normalization covers ``payment_intent.*``: vendor from ``metadata.vendor_id``, customer from
``customer`` (else ``metadata.customer_id``). Stripe amounts are already in Stripe's smallest
currency unit and are kept as sent.
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from paycore.envelope import Envelope
from paycore.model import Ignored, Rejected, Transaction, iso_from_epoch_ms, route_fields
from paycore.providers.base import Provider

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
        if status is None:
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
        return Transaction(
            transaction_id=_text(obj.get("id")),
            provider=self.name,
            event_id=event_id,
            event_type=event_type,
            status=status,
            amount=obj.get("amount"),  # Stripe's smallest currency unit, whatever the currency
            occurred_at=iso_from_epoch_ms(created * 1000),
            received_at=envelope.received_at,
            **fields.as_kwargs(),
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


PROVIDER = StripeProvider()
