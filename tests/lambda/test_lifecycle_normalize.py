"""Every event type of a payment's lifecycle, from the providers' published shapes
(data/lifecycle/*/SOURCE.md): what it normalizes to, and that it lands on its payment - the id the
request template reads for its FIFO group (paycore.providers.group_id_of, rendered by API Gateway's
template in tests/test_vtl_second_opinion.py) is the payment the normalized event names."""
from __future__ import annotations

import json

import pytest

from handler_constants import NOW_MS
from lifecycle_events import DATA, decimal_text, fixture, paypal_capture, paypal_dispute, paypal_refund

from paycore import providers
from paycore.envelope import build_envelope
from paycore.model import Transaction

PI, CAPTURE = "pi_3MtwBwLkdIwHu7ix28a3tqPa", "3C679366HH908993F"


def normalize(provider: str, event: dict) -> Transaction:
    raw = json.dumps(event).encode()
    envelope = build_envelope(provider=provider, received_at=NOW_MS, request_id="req-1", source_ip="198.51.100.7",
                              headers={}, raw=raw)
    txn = providers.get(provider).normalize(envelope, event)
    assert type(txn).__name__ == "Transaction"  # of whichever paycore copy a test loaded
    return txn


def facts(txn: Transaction) -> list[tuple]:
    return [(f.kind, f.id, f.status, f.amount, f.currency) for f in txn.facts]


STRIPE = {  # fixture -> (event status, amount, facts)
    "payment_intent.created": ("pending", 1050, []),
    "payment_intent.processing": ("processing", 1050, []),
    "payment_intent.succeeded": ("succeeded", 1050, []),
    "payment_intent.payment_failed": ("failed", 1050, []),
    "payment_intent.canceled": ("canceled", 1050, []),
    "charge.refunded": ("refunded", 200, [("refund", "re_3MtwBwLkdIwHu7ix0rFyWNxm", "succeeded", 200, "USD")]),
    "charge.refunded.unitemized": ("refunded", 200, [("refund_total", "ch_3MtwBwLkdIwHu7ix2Gq5qZ9a", "succeeded", 200,
                                                      "USD")]),
    "charge.refund.updated": ("refunded", 200, [("refund", "re_3MtwBwLkdIwHu7ix0rFyWNxm", "succeeded", 200, "USD")]),
    "refund.created": ("refunded", 200, [("refund", "re_3MtwBwLkdIwHu7ix0rFyWNxm", "succeeded", 200, "USD")]),
    "refund.updated": ("refunded", 200, [("refund", "re_3MtwBwLkdIwHu7ix0rFyWNxm", "succeeded", 200, "USD")]),
    "refund.failed": ("refund_failed", 200, [("refund", "re_3MtwBwLkdIwHu7ix0rFyWNxm", "failed", 200, "USD")]),
    "charge.dispute.created": ("dispute_open", 550, [("dispute", "dp_1MtwBwLkdIwHu7ixHPiHdUoa", "open", 550, "USD")]),
    "charge.dispute.updated": ("dispute_open", 550, [("dispute", "dp_1MtwBwLkdIwHu7ixHPiHdUoa", "open", 550, "USD")]),
    "charge.dispute.funds_withdrawn": ("dispute_open", 550, [("dispute", "dp_1MtwBwLkdIwHu7ixHPiHdUoa", "open", 550,
                                                              "USD")]),
    "charge.dispute.closed": ("dispute_lost", 550, [("dispute", "dp_1MtwBwLkdIwHu7ixHPiHdUoa", "lost", 550, "USD")]),
    "charge.dispute.funds_reinstated": ("dispute_won", 550, [("dispute", "dp_1MtwBwLkdIwHu7ixHPiHdUoa", "won", 550,
                                                              "USD")]),
}
PAYPAL = {
    "PAYMENT.CAPTURE.PENDING": ("pending", 1050, []),
    "PAYMENT.CAPTURE.COMPLETED": ("succeeded", 1050, []),
    "PAYMENT.CAPTURE.DENIED": ("failed", 1050, []),
    "PAYMENT.CAPTURE.REFUNDED": ("refunded", 200, [("refund", "1JU08902781691411", "succeeded", 200, "USD")]),
    "PAYMENT.CAPTURE.REVERSED": ("reversed", 1050, [("reversal", "09E71677NS257044M", "succeeded", 1050, "USD")]),
    "CUSTOMER.DISPUTE.CREATED": ("dispute_open", 550, [("dispute", "PP-D-27803", "open", 550, "USD")]),
    "CUSTOMER.DISPUTE.UPDATED": ("dispute_open", 550, [("dispute", "PP-D-27803", "open", 550, "USD")]),
    "CUSTOMER.DISPUTE.RESOLVED": ("dispute_lost", 550, [("dispute", "PP-D-27803", "lost", 550, "USD")]),
}


def test_every_fixture_is_covered():
    assert sorted(p.stem for p in (DATA / "stripe").glob("*.json")) == sorted(STRIPE)
    assert sorted(p.stem for p in (DATA / "paypal").glob("*.json")) == sorted(PAYPAL)


@pytest.mark.parametrize(("provider", "name"), [("stripe", n) for n in STRIPE] + [("paypal", n) for n in PAYPAL])
def test_each_event_type_normalizes_onto_its_payment_and_its_fifo_group(provider, name):
    event = fixture(provider, name)
    txn = normalize(provider, event)
    status, amount, expected_facts = (STRIPE if provider == "stripe" else PAYPAL)[name]
    assert (txn.transaction_id, txn.status, txn.amount, facts(txn)) == (
        PI if provider == "stripe" else CAPTURE, status, amount, expected_facts)
    assert providers.group_id_of(providers.get(provider), event) == txn.transaction_id


def test_a_dispute_event_carries_the_funds_movement_of_its_type():
    withdrawn = normalize("stripe", fixture("stripe", "charge.dispute.funds_withdrawn")).facts[0]
    reinstated = normalize("stripe", fixture("stripe", "charge.dispute.funds_reinstated")).facts[0]
    assert (withdrawn.withdrawn, withdrawn.reinstated, reinstated.withdrawn, reinstated.reinstated) == (
        True, False, False, True)


def test_a_stripe_charge_lists_its_refunds_oldest_first_and_its_event_reports_the_newest():
    event = fixture("stripe", "charge.refunded")
    charge = event["data"]["object"]
    older = dict(charge["refunds"]["data"][0], id="re_older", amount=100, created=charge["created"] + 60)
    charge["refunds"]["data"].append(older)  # Stripe lists the newest first
    txn = normalize("stripe", event)
    assert [f.id for f in txn.facts] == ["re_older", "re_3MtwBwLkdIwHu7ix0rFyWNxm"] and txn.amount == 200


def test_a_paypal_capture_s_own_up_link_names_its_order_not_a_capture():
    event = fixture("paypal", "PAYMENT.CAPTURE.COMPLETED")
    assert any(link["rel"] == "up" and "/checkout/orders/" in link["href"] for link in event["resource"]["links"])
    assert normalize("paypal", event).transaction_id == CAPTURE


def test_a_paypal_refund_without_an_up_link_is_a_payment_of_its_own():
    event = fixture("paypal", "PAYMENT.CAPTURE.REFUNDED")
    event["resource"]["links"] = event["resource"]["links"][:1]
    assert normalize("paypal", event).transaction_id == "1JU08902781691411"


@pytest.mark.parametrize(("currency", "minor", "text"), [("USD", 1050, "10.50"), ("JPY", 1050, "1050"),
                                                          ("KWD", 10500, "10.500")])
def test_paypal_amounts_are_minor_units_by_each_currency_s_exponent(currency, minor, text):
    assert decimal_text(minor, currency) == text
    when = "2024-11-22T01:45:00Z"
    capture = normalize("paypal", paypal_capture("WH-C", "CAPX", minor, currency=currency, when=when))
    refund = normalize("paypal", paypal_refund("WH-R", "CAPX", "REFX", minor // 5, currency=currency, when=when))
    dispute = normalize("paypal", paypal_dispute("WH-D", "CAPX", "PP-D-X", minor // 2, currency=currency, when=when,
                                                 opened=when))
    assert (capture.amount, capture.currency) == (minor, currency)
    assert (refund.transaction_id, refund.facts[0].amount, refund.facts[0].currency) == ("CAPX", minor // 5, currency)
    assert (dispute.transaction_id, dispute.facts[0].amount) == ("CAPX", minor // 2)


@pytest.mark.parametrize(("outcome", "status"), [("RESOLVED_BUYER_FAVOUR", "lost"), ("ACCEPTED", "lost"),
                                                  ("RESOLVED_SELLER_FAVOUR", "won"), ("RESOLVED_WITH_PAYOUT", "won"),
                                                  ("CANCELED_BY_BUYER", "won"), ("DENIED", "won"), ("NONE", "won")])
def test_a_resolved_paypal_dispute_is_won_or_lost_by_its_outcome(outcome, status):
    when = "2024-11-30T01:45:00Z"
    txn = normalize("paypal", paypal_dispute("WH-D", "CAPX", "PP-D-X", 550, when=when, opened=when, outcome=outcome))
    assert txn.facts[0].status == status


@pytest.mark.parametrize(("stripe_status", "status"), [
    ("warning_needs_response", "open"), ("warning_under_review", "open"), ("needs_response", "open"),
    ("under_review", "open"), ("won", "won"), ("warning_closed", "won"), ("prevented", "won"), ("lost", "lost")])
def test_a_stripe_dispute_status_is_open_won_or_lost(stripe_status, status):
    event = fixture("stripe", "charge.dispute.updated")
    event["data"]["object"]["status"] = stripe_status
    assert normalize("stripe", event).facts[0].status == status
