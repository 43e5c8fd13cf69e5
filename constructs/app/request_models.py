"""JSON schemas (draft 4) of the API's request bodies, built from the handlers' own
definitions in `paycore`, so API Gateway rejects what the handlers would reject."""

from __future__ import annotations

from typing import Any

from paycore import notify_request
from paycore.providers import direct

#: the validator's own schema (one definition: API Gateway rejects what the validator would reject)
PAYMENT_REQUEST_SCHEMA: dict[str, Any] = direct.PAYMENT_REQUEST_SCHEMA
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
