"""A test-only provider in the batch shape (modelled on Adyen's standard webhooks): one request
carries several notification items, each signed on its own (HMAC-SHA256 over the item's fields,
base64, key = the hex-decoded signing secret), and the sender expects the text ``[accepted]``.

Registered only by the tests that use it (``providers.register(PROVIDER)``); it proves that a
provider is its module + a config entry + its tests. Body::

    {"live": "false", "items": [{"id": "bp_evt_1", "code": "AUTHORISATION", "success": "true",
      "payment_id": "bp_pay_1", "amount": 1999, "currency": "EUR", "vendor_id": "vendor_1",
      "customer_id": "cus_1", "created_at": "2024-11-22T01:46:39Z", "hmac": "<base64>"}, ...]}
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from paycore.envelope import Envelope
from paycore.model import Ignored, Rejected, Transaction, iso_from_text, route_fields
from paycore.providers import Provider, Response

MAX_ITEMS = 100
#: The fields an item's signature covers, in order (joined with ":").
SIGNED_FIELDS = ("id", "payment_id", "amount", "currency", "code", "success")
STATUS = {("AUTHORISATION", "true"): "succeeded", ("AUTHORISATION", "false"): "failed",
          ("CANCELLATION", "true"): "canceled", ("REFUND", "true"): "refunded"}


def signed_text(item: Mapping[str, Any]) -> bytes:
    return ":".join(str(item.get(name, "")) for name in SIGNED_FIELDS).encode("utf-8")


def sign_item(item: Mapping[str, Any], hex_key: str) -> str:
    """The item's ``hmac``: base64 HMAC-SHA256 of :func:`signed_text` with the hex-decoded key."""
    return base64.b64encode(hmac.digest(binascii.unhexlify(hex_key), signed_text(item), "sha256")).decode("ascii")


class BatchPayProvider(Provider):
    name = "batchpay"
    event_id_path = "$.items[*].id"
    group_id_path = "$.items[0].payment_id"  # one message per request: the first item's payment
    response = Response(body="[accepted]", content_type="text/plain")
    batch = True

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        """Nothing covers the whole request: each item carries its own signature."""

    def items(self, payload: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        items = payload.get("items")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
            raise Rejected("malformed_body")
        return [item if isinstance(item, dict) else {} for item in items]

    def verify_item(self, envelope: Envelope, item: Mapping[str, Any], secret: Mapping[str, Any] | None) -> None:
        given = item.get("hmac")
        if not isinstance(given, str) or not given:
            raise Rejected("missing_signature")
        offered = given.encode("utf-8", "replace")
        matched = False
        for key in self.usable_secrets(secret):
            try:
                matched |= hmac.compare_digest(sign_item(item, key).encode("ascii"), offered)
            except (binascii.Error, ValueError):
                continue  # not a hex key: a misconfiguration the others may survive
        if not matched:
            raise Rejected("signature_mismatch")

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        event_id, code = payload.get("id"), payload.get("code")
        if not isinstance(event_id, str) or not event_id:
            raise Rejected("missing_event_id")
        if not isinstance(code, str):
            raise Rejected("malformed_event")
        status = STATUS.get((code, payload.get("success")))
        if status is None:
            return Ignored(self.name, event_id, code[:100], envelope.received_at)
        fields = route_fields(vendor_id=payload.get("vendor_id"), customer_id=payload.get("customer_id"),
                              currency=payload.get("currency"))
        payment_id = payload.get("payment_id")
        return Transaction(
            transaction_id=payment_id if isinstance(payment_id, str) else "",
            provider=self.name, event_id=event_id, event_type=code, status=status,
            amount=payload.get("amount"),  # type: ignore[arg-type]  # checked by Transaction
            occurred_at=iso_from_text(payload.get("created_at")), received_at=envelope.received_at,
            **fields.as_kwargs(),
        )


PROVIDER = BatchPayProvider()
#: A signing secret value (hex, as Adyen's HMAC keys are).
TEST_HMAC_KEY = hashlib.sha256(b"batchpay test key").hexdigest()
