"""Normalization of each provider's events into the one Transaction model."""
from __future__ import annotations

import json

import pytest
from handler_constants import NOW_MS

from paycore.envelope import build_envelope
from paycore.model import Ignored, Rejected, Transaction, iso_from_text, to_minor_units
from paycore.providers import direct, get, names, paypal, stripe


def envelope(provider: str, raw: bytes = b"{}", headers=None):
    return build_envelope(provider=provider, received_at=NOW_MS, request_id="r1", source_ip="1.2.3.4", headers=headers or {}, raw=raw)


def test_registry_lists_every_provider_module():
    assert names() == ("stripe", "paypal", "direct")
    assert get("stripe") is stripe.PROVIDER and get("paypal") is paypal.PROVIDER and get("direct") is direct.PROVIDER


def test_registry_refuses_unknown_provider():
    from paycore.providers import UnknownProvider

    with pytest.raises(UnknownProvider):
        get("adyen")


def test_stripe_payment_intent_succeeded(stripe_event):
    txn = stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(currency="eur", amount=1999))
    assert txn == Transaction(
        transaction_id="pi_1",
        provider="stripe",
        event_id="evt_1",
        event_type="payment_intent.succeeded",
        status="succeeded",
        amount=1999,
        currency="EUR",
        vendor_id="vendor_1",
        customer_id="cus_1",
        occurred_at=iso_from_text("2024-11-22T01:46:38Z"),
        received_at=NOW_MS,
    )
    assert txn.occurred_at == "2024-11-22T01:46:38.000Z"


@pytest.mark.parametrize(
    "event_type,status",
    [
        ("payment_intent.created", "pending"),
        ("payment_intent.processing", "processing"),
        ("payment_intent.requires_action", "requires_action"),
        ("payment_intent.payment_failed", "failed"),
        ("payment_intent.canceled", "canceled"),
    ],
)
def test_stripe_statuses(stripe_event, event_type, status):
    assert stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(type=event_type)).status == status


def test_stripe_customer_falls_back_to_metadata(stripe_event):
    event = stripe_event(customer=None)
    event["data"]["object"]["metadata"]["customer_id"] = "cust_meta"
    assert stripe.PROVIDER.normalize(envelope("stripe"), event).customer_id == "cust_meta"


def test_stripe_without_vendor_metadata_has_no_vendor(stripe_event):
    assert stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(vendor_id=None)).vendor_id is None


def test_unknown_event_type_is_ignored_not_an_error(stripe_event):
    result = stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(type="customer.created"))
    assert result == Ignored("stripe", "evt_1", "customer.created", NOW_MS)


def test_json_without_an_id_is_rejected(stripe_event):
    event = stripe_event()
    del event["id"]
    with pytest.raises(Rejected) as caught:
        stripe.PROVIDER.normalize(envelope("stripe"), event)
    assert caught.value.reason == "missing_event_id"


@pytest.mark.parametrize("mutate", [
    lambda e: e["data"]["object"].update(amount="1999"),
    lambda e: e["data"]["object"].update(amount=-1),
    lambda e: e["data"]["object"].update(amount=10**40),  # over the cap: never retried
    lambda e: e["data"]["object"].update(id="pi 1; drop"),
    lambda e: e.update(created="yesterday"),
    lambda e: e.update(data=None),
])
def test_stripe_malformed_fields_are_rejected(stripe_event, mutate):
    event = stripe_event()
    mutate(event)
    with pytest.raises(Rejected) as caught:
        stripe.PROVIDER.normalize(envelope("stripe"), event)
    assert caught.value.reason == "malformed_event"


@pytest.mark.parametrize(
    "value,currency,minor",
    [("10.50", "USD", 1050), ("10", "USD", 1000), ("1000", "JPY", 1000), ("1.234", "KWD", 1234), ("0.5", "BHD", 500), ("0", "EUR", 0)],
)
def test_decimal_amounts_become_minor_units_by_currency_exponent(value, currency, minor):
    assert to_minor_units(value, currency) == minor


@pytest.mark.parametrize("value,currency", [("10.5", "JPY"), ("1.001", "USD"), ("-1.00", "USD"), ("1e3", "USD"), ("10.00", "ABC"), (10, "USD")])
def test_impossible_amounts_are_rejected(value, currency):
    with pytest.raises(Rejected):
        to_minor_units(value, currency)


def test_paypal_capture_completed(paypal_event):
    txn = paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(value="1500", currency="JPY"))
    assert (txn.transaction_id, txn.status, txn.amount, txn.currency, txn.vendor_id) == ("CAP1", "succeeded", 1500, "JPY", "vendor_1")
    assert txn.occurred_at == "2024-11-22T01:46:35.123Z"
    assert txn.event_type == "PAYMENT.CAPTURE.COMPLETED"


def test_paypal_vendor_falls_back_to_payee(paypal_event):
    assert paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(custom_id=None)).vendor_id == "MERCHANT7"


def test_paypal_refund_belongs_to_the_capture(paypal_event):
    event = paypal_event(event_type="PAYMENT.CAPTURE.REFUNDED", capture_id="REFUND9", value="2.00")
    event["resource"]["links"] = [
        {"href": "https://api.paypal.com/v2/payments/refunds/REFUND9", "rel": "self"},
        {"href": "https://api.paypal.com/v2/payments/captures/CAP1", "rel": "up"},
    ]
    txn = paypal.PROVIDER.normalize(envelope("paypal"), event)
    assert (txn.transaction_id, txn.status, txn.amount) == ("CAP1", "refunded", 200)


def test_paypal_unknown_event_type_is_ignored(paypal_event):
    result = paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(event_type="CHECKOUT.ORDER.APPROVED"))
    assert isinstance(result, Ignored) and result.event_type == "CHECKOUT.ORDER.APPROVED"


def test_paypal_kwd_three_decimals(paypal_event):
    assert paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(value="12.345", currency="KWD")).amount == 12345


def test_direct_payment_normalizes_from_the_validated_body():
    body = direct.canonical_body({"amount": 500, "currency": "EUR", "vendor_id": "v1", "customer_id": "c1"}, "key-00000001")
    env = envelope("direct", body, {"idempotency-key": "key-00000001"})
    txn = direct.PROVIDER.normalize(env, json.loads(body))
    assert txn.transaction_id == direct.transaction_id_for("key-00000001")
    assert (txn.status, txn.amount, txn.event_id, txn.occurred_at) == ("succeeded", 500, "key-00000001", "2024-11-22T01:46:40.123Z")


def test_direct_payment_with_a_foreign_transaction_id_is_rejected():
    body = json.loads(direct.canonical_body({"amount": 500, "currency": "EUR", "vendor_id": "v1", "customer_id": "c1"}, "key-00000001"))
    body["transaction_id"] = "pi_someone_elses"
    with pytest.raises(Rejected):
        direct.PROVIDER.normalize(envelope("direct", headers={"idempotency-key": "key-00000001"}), body)


# ---------------------------------------------------------------- verified events are recorded


def test_safe_id_refuses_a_trailing_newline():
    from paycore.model import SAFE_ID

    assert SAFE_ID.match("vendor_1") and not SAFE_ID.match("vendor_1\n")


def test_paypal_custom_id_with_a_space_is_kept_raw_and_routed_to_no_vendor(paypal_event):
    txn = paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(custom_id="order 123"))
    assert (txn.vendor_id, txn.vendor_id_raw, txn.unroutable) == ("unknown", "order 123", ("unsafe_vendor_id",))
    assert (txn.amount, txn.currency) == (1050, "USD")  # everything else as usual


def test_stripe_vendor_id_with_a_trailing_newline_is_unsafe(stripe_event):
    event = stripe_event(vendor_id="vendor_1\n")
    txn = stripe.PROVIDER.normalize(envelope("stripe"), event)
    assert (txn.vendor_id, txn.vendor_id_raw) == ("unknown", "vendor_1\n")


def test_unknown_currency_is_recorded_as_xxx_with_the_raw_code(stripe_event, paypal_event):
    txn = stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(currency="zzz"))
    assert (txn.currency, txn.currency_raw, txn.amount, txn.unroutable) == ("XXX", "ZZZ", 1999, ("unknown_currency",))
    txn = paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(currency="BTC", value="0.0125"))
    assert (txn.currency, txn.currency_raw, txn.amount, txn.amount_raw) == ("XXX", "BTC", 125, "0.0125")


def test_unsafe_customer_id_is_dropped_from_the_index_and_kept_raw(stripe_event):
    txn = stripe.PROVIDER.normalize(envelope("stripe"), stripe_event(customer="cus 1/../x"))
    assert (txn.customer_id, txn.customer_id_raw, txn.unroutable) == (None, "cus 1/../x", ("unsafe_customer_id",))


def test_raw_values_are_truncated(paypal_event):
    txn = paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(custom_id="x " * 400))
    assert txn.vendor_id == "unknown" and len(txn.vendor_id_raw) == 256


@pytest.mark.parametrize("value", ["1000000000000.01", "999999999999999.9999"])
def test_paypal_amounts_over_the_cap_are_rejected(paypal_event, value):
    with pytest.raises(Rejected) as caught:
        paypal.PROVIDER.normalize(envelope("paypal"), paypal_event(value=value))
    assert caught.value.reason == "malformed_event"
