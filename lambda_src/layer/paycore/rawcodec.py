"""The raw body of a ledger event row, compressed: byte-exact, deterministic and versioned.

* ``raw_zd1`` (current): raw DEFLATE (zlib level 9, 32 KB window, memLevel 9) with a preset
  dictionary, :data:`ZD1_DICTIONARY`: the documented skeletons of the events the platform takes
  (Stripe ``payment_intent.*`` as Stripe sends it, pretty-printed and compact; PayPal
  ``PAYMENT.CAPTURE.*``), field names and enum values only, no payload's ids or amounts. A 2,997-byte
  Stripe event packs into ~480 bytes (gzip: 1,143), so its event row is one DynamoDB write unit.
* ``raw_gzip`` (rows written before zd1): gzip, mtime 0.

The dictionary of a version never changes (tests pin its SHA-256): a better dictionary is a new
attribute (``raw_zd2``) that :func:`unpack` learns beside the old ones, so every row stays readable.
"""
from __future__ import annotations

import gzip
import json
import zlib
from typing import Any, Mapping

ZD1 = "raw_zd1"
GZIP = "raw_gzip"
ATTRIBUTES = (ZD1, GZIP)


def _zd1_dictionary() -> bytes:
    paypal_amount = {"currency_code": "USD", "value": ""}
    paypal = {
        "id": "WH-", "create_time": "", "resource_type": "capture", "event_version": "1.0",
        "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Payment completed for ", "resource_version": "2.0",
        "resource": {
            "id": "", "amount": paypal_amount, "final_capture": True,
            "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
            "disbursement_mode": "INSTANT",
            "seller_receivable_breakdown": {"gross_amount": paypal_amount, "paypal_fee": paypal_amount, "net_amount": paypal_amount},
            "invoice_id": "", "custom_id": "", "status": "COMPLETED", "payer": {"payer_id": ""},
            "supplementary_data": {"related_ids": {"order_id": ""}},
            "payee": {"email_address": "", "merchant_id": ""}, "create_time": "", "update_time": "",
            "links": [{"href": "https://api.paypal.com/v2/payments/captures/", "rel": "self", "method": "GET"},
                      {"href": "https://api.paypal.com/v2/payments/captures//refund", "rel": "refund", "method": "POST"},
                      {"href": "https://api.paypal.com/v2/checkout/orders/", "rel": "up", "method": "GET"}],
        },
        "links": [{"href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-", "rel": "self", "method": "GET"},
                  {"href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-/resend", "rel": "resend", "method": "POST"}],
    }
    intent = {
        "id": "pi_", "object": "payment_intent", "amount": 0, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": 0, "application": None, "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic_async",
        "client_secret": "pi__secret_", "confirmation_method": "automatic", "created": 0, "currency": "usd",
        "customer": "cus_", "description": None, "invoice": None, "last_payment_error": None, "latest_charge": "ch_",
        "livemode": True, "metadata": {"order_id": "", "vendor_id": ""}, "next_action": None, "on_behalf_of": None,
        "payment_method": "pm_", "payment_method_configuration_details": {"id": "pmc_", "parent": None},
        "payment_method_options": {
            "card": {"installments": None, "mandate_options": None, "network": None,
                     "request_three_d_secure": "automatic", "setup_future_usage": None},
            "link": {"persistent_token": None, "setup_future_usage": None},
            "paypal": {"preferred_locale": None, "reference": None}},
        "payment_method_types": ["card", "link", "paypal"], "processing": None, "receipt_email": None, "review": None,
        "setup_future_usage": None,
        "shipping": {"address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None,
                                 "state": None},
                     "carrier": None, "name": None, "phone": None, "tracking_number": None},
        "source": None, "statement_descriptor": None, "statement_descriptor_suffix": None, "status": "succeeded",
        "transfer_data": None, "transfer_group": None,
    }
    stripe = {"id": "evt_", "object": "event", "api_version": "2024-06-20", "created": 0, "data": {"object": intent},
              "livemode": True, "pending_webhooks": 1, "request": {"id": "req_", "idempotency_key": None},
              "type": "payment_intent.succeeded"}
    compact = {"separators": (",", ":")}
    # the most likely matches last (shortest distances): Stripe's pretty-printed events
    return b"\n".join(json.dumps(doc, **kw).encode()
                      for doc, kw in ((paypal, compact), (paypal, {}), (stripe, compact), (stripe, {"indent": 2})))


#: Frozen: rows written with zd1 are read with exactly these bytes (tests pin the SHA-256).
ZD1_DICTIONARY = _zd1_dictionary()


def pack(raw: bytes) -> dict[str, bytes]:
    """The event row's attribute for ``raw`` (the current version, zd1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZD1_DICTIONARY)
    return {ZD1: packer.compress(raw) + packer.flush()}


def unpack(item: Mapping[str, Any]) -> bytes:
    """The raw body of an event row (plain values), whichever version wrote it.

    Raises ``KeyError`` when the row has none, ``ValueError`` when the bytes do not decode."""
    if ZD1 in item:
        data = _bytes(item[ZD1])
        unpacker = zlib.decompressobj(-15, ZD1_DICTIONARY)
        try:
            raw = unpacker.decompress(data) + unpacker.flush()
        except zlib.error as exc:
            raise ValueError(f"{ZD1} is not zd1 DEFLATE: {exc}") from exc
        if not unpacker.eof or unpacker.unused_data:
            raise ValueError(f"{ZD1} is not one complete zd1 DEFLATE stream")
        return raw
    if GZIP in item:
        try:
            return gzip.decompress(_bytes(item[GZIP]))
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{GZIP} is not gzip: {exc}") from exc
    raise KeyError(f"event row has no raw payload ({' or '.join(ATTRIBUTES)})")


def _bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or not value:
        raise ValueError("raw payload attribute is not non-empty binary")
    return bytes(value)
