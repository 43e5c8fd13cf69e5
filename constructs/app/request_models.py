"""JSON schemas (draft 4) of the API's request bodies (P14), built from the handlers' own
definitions in `paycore`, so API Gateway rejects what the handlers would reject."""

from __future__ import annotations

from typing import Any

from paycore import notify_request
from paycore.model import CURRENCIES, SAFE_ID
from paycore.providers import direct

PAYMENT_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "PaymentRequest",
    "type": "object",
    "additionalProperties": False,
    "required": list(direct.REQUIRED_FIELDS),
    "properties": {
        "amount": {"type": "integer", "minimum": 1, "maximum": direct.MAX_AMOUNT},
        "currency": {"type": "string", "enum": sorted(CURRENCIES)},
        "vendor_id": {"type": "string", "pattern": SAFE_ID.pattern},
        "customer_id": {"type": "string", "pattern": SAFE_ID.pattern},
        "status": {"type": "string", "enum": list(direct.REQUEST_STATUSES)},
    },
}
NOTIFY_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "NotifyRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "template"],
    "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": notify_request.EMAIL.pattern},
        "template": {"type": "string", "enum": list(notify_request.TEMPLATES)},
    },
}
#: title -> schema, as `WebhookIngress(request_models=...)` takes them
REQUEST_MODELS = {"PaymentRequest": PAYMENT_REQUEST_SCHEMA, "NotifyRequest": NOTIFY_REQUEST_SCHEMA}
