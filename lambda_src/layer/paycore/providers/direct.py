"""Direct payments: ``POST /payments`` through the validator (IAM already authenticated the caller).

No provider signs them, so the validator does: it signs the envelope it enqueues with the internal
envelope key, as kind ``direct`` (:mod:`paycore.internal_envelope`), and the processor (and every
replay tool) verifies that signature as it verifies a provider's. An envelope someone else put on
the queue, in the quarantine or among the parked messages is rejected (``internal_signature_mismatch``).
The envelope's ``idempotency-key`` header is the event id; the body is the validated request,
canonical JSON (:func:`canonical_body`; its SHA-256 is what an Idempotency-Key is bound to).

The payment request (one schema, :data:`PAYMENT_REQUEST_SCHEMA`: the API's model, the validator's
check and the processor's re-check)::

    {"amount": 1999, "currency": "EUR", "vendor_id": "v_1", "customer_id": "c_9",
     "status": "succeeded"}          # status optional: succeeded (default) | pending | failed

Transaction id: ``pay_`` + 32 hex of SHA-256 over the idempotency key, so a retry with the same
key gets the same id.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any, Callable, Mapping

import fastjsonschema
from fastjsonschema import JsonSchemaValueException

from paycore import internal_envelope
from paycore.envelope import Envelope
from paycore.model import MAX_AMOUNT, CURRENCIES, SAFE_ID, Ignored, Rejected, Transaction, iso_from_epoch_ms
from paycore.providers.base import Provider

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
EVENT_TYPE = "payment.submitted"
REQUEST_STATUSES = ("succeeded", "pending", "failed")
REQUIRED_FIELDS = ("amount", "currency", "vendor_id", "customer_id")
OPTIONAL_FIELDS = ("status",)

#: The payment request (JSON schema draft 4): API Gateway's request model of ``POST /payments``
#: (constructs/app/request_models.py), the validator's check and the processor's re-check.
PAYMENT_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "PaymentRequest",
    "type": "object",
    "additionalProperties": False,
    "required": list(REQUIRED_FIELDS),
    "properties": {
        "amount": {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT},
        "currency": {"type": "string", "enum": sorted(CURRENCIES)},
        "vendor_id": {"type": "string", "pattern": SAFE_ID.pattern},
        "customer_id": {"type": "string", "pattern": SAFE_ID.pattern},
        "status": {"type": "string", "enum": list(REQUEST_STATUSES)},
    },
}
#: What a 400 says of a field that breaks its rule: the rule, never the value.
FIELD_RULES = {
    "amount": f"must be a positive integer in minor units (at most {MAX_AMOUNT})",
    "currency": "must be an ISO 4217 code in upper case (e.g. EUR, USD, JPY)",
    "vendor_id": f"must match {SAFE_ID.pattern}",
    "customer_id": f"must match {SAFE_ID.pattern}",
    "status": f"must be one of {', '.join(REQUEST_STATUSES)}",
}


def transaction_id_for(idempotency_key: str) -> str:
    return "pay_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def validate_request(body: Any, idempotency_key: str | None) -> list[str]:
    """Every problem with a payment request, as short sentences naming the field (never echoing
    its value). Empty list = valid. The body is checked against :data:`PAYMENT_REQUEST_SCHEMA`
    with fastjsonschema, compiled once (Powertools' ``validate`` compiles the schema again on every
    call: ~4.7 ms a request); when it fails, each rule of the schema is checked on its own so the
    answer lists every problem, not only the first."""
    problems: list[str] = []
    if not idempotency_key:
        problems.append("header Idempotency-Key is required")
    elif not IDEMPOTENCY_KEY.match(idempotency_key):
        problems.append("header Idempotency-Key must be 8-100 characters of A-Z a-z 0-9 _ . : -")
    if not isinstance(body, Mapping):
        problems.append("body must be a JSON object")
        return problems
    if not conforms(dict(body)):
        problems += _schema_problems(body)
    return problems


def _schema_problems(body: Mapping[str, Any]) -> list[str]:
    """The schema's rules one by one: unknown fields, required fields, each field's own schema."""
    schema = PAYMENT_REQUEST_SCHEMA
    properties: Mapping[str, Any] = schema["properties"]
    problems: list[str] = []
    unknown = sorted(str(k)[:40] for k in body if k not in properties)
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown[:10])}")
    problems += [f"{name} is required" for name in schema["required"] if name not in body]
    for name in properties:
        if name not in body:
            continue
        try:
            _compiled_field_rule(name)(body[name])
        except JsonSchemaValueException:
            problems.append(f"{name} {FIELD_RULES[name]}")
    return problems


def conforms(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` satisfies :data:`PAYMENT_REQUEST_SCHEMA` (yes or no, no reasons): the
    processor's re-check of every direct message, with the schema compiled once."""
    try:
        _compiled_schema()(body)
    except JsonSchemaValueException:
        return False
    return True


@functools.cache
def _compiled_schema() -> Callable[[Any], Any]:
    return fastjsonschema.compile(PAYMENT_REQUEST_SCHEMA)


@functools.cache
def _compiled_field_rule(name: str) -> Callable[[Any], Any]:
    """One field's rule of the schema, under the schema's draft (draft 4: 10.0 and true are not
    integers)."""
    schema = PAYMENT_REQUEST_SCHEMA
    return fastjsonschema.compile({"$schema": schema["$schema"], **schema["properties"][name]})


def canonical_body(body: Mapping[str, Any], idempotency_key: str) -> bytes:
    """The body the envelope carries: the validated fields plus the transaction id, sorted keys."""
    document = {name: body[name] for name in REQUIRED_FIELDS}
    document["status"] = body.get("status", "succeeded")
    document["transaction_id"] = transaction_id_for(idempotency_key)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


class DirectProvider(Provider):
    name = "direct"
    webhook = False  # POST /payments through the validator: no webhook route, template or secrets
    signature_headers = (IDEMPOTENCY_HEADER, internal_envelope.HEADER)
    secrets = ()
    secret_required = False
    internal_kind = "direct"  # the validator signs it with the internal envelope key

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        """The validator's signature (``secret``: the internal envelope key): IAM authenticated the
        caller at the API, and only the validator holds the key."""
        internal_envelope.verify(envelope, "direct", secret)

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        key = envelope.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            raise Rejected("missing_event_id")
        if not IDEMPOTENCY_KEY.match(key) or not conforms({k: v for k, v in payload.items() if k != "transaction_id"}):
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
