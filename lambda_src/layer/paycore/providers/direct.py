"""Direct payments: ``POST /payments`` through the validator (IAM already authenticated the caller).

No signature: the envelope is put on the queue by the validator Lambda, which only IAM principals
can reach, and the queue policy only lets that role and API Gateway send. The envelope's
``idempotency-key`` header is the event id; the body is the validated request, canonical JSON.

The payment request (one definition, used by the validator and re-checked by the processor)::

    {"amount": 1999, "currency": "EUR", "vendor_id": "v_1", "customer_id": "c_9",
     "status": "succeeded"}          # status optional: succeeded (default) | pending | failed

Transaction id: ``pay_`` + 32 hex of SHA-256 over the idempotency key, so a retry with the same
key gets the same id.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping

from paycore.envelope import Envelope
from paycore.model import MAX_AMOUNT, CURRENCIES, SAFE_ID, Ignored, Rejected, Transaction, iso_from_epoch_ms
from paycore.providers.base import Provider

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
EVENT_TYPE = "payment.submitted"
REQUEST_STATUSES = ("succeeded", "pending", "failed")
REQUIRED_FIELDS = ("amount", "currency", "vendor_id", "customer_id")
OPTIONAL_FIELDS = ("status",)


def transaction_id_for(idempotency_key: str) -> str:
    return "pay_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def validate_request(body: Any, idempotency_key: str | None) -> list[str]:
    """Every problem with a payment request, as short sentences naming the field (never echoing
    its value). Empty list = valid."""
    problems: list[str] = []
    if not idempotency_key:
        problems.append("header Idempotency-Key is required")
    elif not IDEMPOTENCY_KEY.match(idempotency_key):
        problems.append("header Idempotency-Key must be 8-100 characters of A-Z a-z 0-9 _ . : -")
    if not isinstance(body, Mapping):
        problems.append("body must be a JSON object")
        return problems
    unknown = sorted(str(k)[:40] for k in body if k not in REQUIRED_FIELDS + OPTIONAL_FIELDS)
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown[:10])}")
    for name in REQUIRED_FIELDS:
        if name not in body:
            problems.append(f"{name} is required")
    amount = body.get("amount")
    if "amount" in body and (type(amount) is not int or not 0 < amount <= MAX_AMOUNT):
        problems.append(f"amount must be a positive integer in minor units (at most {MAX_AMOUNT})")
    currency = body.get("currency")
    if "currency" in body and (not isinstance(currency, str) or currency not in CURRENCIES):
        problems.append("currency must be an ISO 4217 code in upper case (e.g. EUR, USD, JPY)")
    for name in ("vendor_id", "customer_id"):
        value = body.get(name)
        if name in body and (not isinstance(value, str) or not SAFE_ID.match(value)):
            problems.append(f"{name} must match {SAFE_ID.pattern}")
    if "status" in body and body["status"] not in REQUEST_STATUSES:
        problems.append(f"status must be one of {', '.join(REQUEST_STATUSES)}")
    return problems


def canonical_body(body: Mapping[str, Any], idempotency_key: str) -> bytes:
    """The body the envelope carries: the validated fields plus the transaction id, sorted keys."""
    document = {name: body[name] for name in REQUIRED_FIELDS}
    document["status"] = body.get("status", "succeeded")
    document["transaction_id"] = transaction_id_for(idempotency_key)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


class DirectProvider(Provider):
    name = "direct"
    webhook = False  # POST /payments through the validator: no webhook route, template or secrets
    signature_headers = (IDEMPOTENCY_HEADER,)
    secrets = ()
    secret_required = False

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        """Nothing to verify: IAM authenticated the caller at the API."""

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        key = envelope.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            raise Rejected("missing_event_id")
        if validate_request({k: v for k, v in payload.items() if k != "transaction_id"}, key):
            raise Rejected("malformed_event")
        if payload.get("transaction_id") != transaction_id_for(key):
            raise Rejected("malformed_event")
        return Transaction(
            transaction_id=payload["transaction_id"],
            provider=self.name,
            event_id=key,
            event_type=EVENT_TYPE,
            status=payload.get("status", "succeeded"),
            amount=payload["amount"],
            currency=payload["currency"],
            vendor_id=payload["vendor_id"],
            customer_id=payload["customer_id"],
            occurred_at=iso_from_epoch_ms(envelope.received_at),
            received_at=envelope.received_at,
        )


PROVIDER = DirectProvider()
