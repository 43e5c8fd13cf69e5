"""What undoes a sale and arrives before it - a refund, a dispute - is told after the sale, each
with its own amount: through the handlers and the ledger's real stream (lifecycle_platform.py),
to the vendor's SNS queue and its webhook endpoint. Issue 26's first finding: a PayPal refund that
arrived before its capture left the sale untold (the state jumped to refunded; the late capture
was a lower rank)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from lifecycle_platform import Platform, platform


@pytest.fixture(scope="module")
def lifecycle(paypal_keys) -> Iterator[Platform]:
    with platform() as built:
        yield built


def deliver(lifecycle: Platform, body: str, group: str) -> dict[str, int]:
    """One webhook on its own (its own batch, then what the stream puts on the bus); the consumer
    messages left waiting (the notifier watches a refund or dispute held for its sale)."""
    assert lifecycle.process([body], group) == {"batchItemFailures": []}
    return lifecycle.tell(lifecycle.bus_events())


WATCHED, DONE = {"notifier": 1, "fanout": 0}, {"notifier": 0, "fanout": 0}


def told(lifecycle: Platform, transaction_id: str) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]]:
    """(status, amount) of each SNS message and of each webhook the vendor got, in order."""
    sns = [(m["status"], m["amount"]) for m in lifecycle.notifications() if m["transaction_id"] == transaction_id]
    hooks = [(h["data"]["status"], h["data"]["amount"]) for h in lifecycle.webhooks(transaction_id)]
    return sns, hooks


def paypal_refund_of(paypal_event, capture: str, *, event_id: str, refund_id: str, value: str) -> dict:
    refund = paypal_event(event_id=event_id, event_type="PAYMENT.CAPTURE.REFUNDED", capture_id=refund_id, value=value)
    refund["resource"]["links"] = [
        {"href": f"https://api.paypal.com/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
        {"href": f"https://api.paypal.com/v2/payments/captures/{capture}", "rel": "up", "method": "GET"}]
    return refund


def test_a_paypal_refund_before_its_capture_is_told_after_the_sale(lifecycle, paypal_event, paypal_envelope):
    refund = paypal_refund_of(paypal_event, "CAPORDER1", event_id="WH-ORDER-REF", refund_id="REFORDER1", value="2.00")
    sale = paypal_event(event_id="WH-ORDER-SALE", capture_id="CAPORDER1", value="10.50")
    waiting = [deliver(lifecycle, paypal_envelope(refund), "CAPORDER1")]
    before_the_sale = told(lifecycle, "CAPORDER1")
    waiting.append(deliver(lifecycle, paypal_envelope(sale), "CAPORDER1"))
    expected = [("succeeded", 1050), ("partially_refunded", 200)]
    assert (before_the_sale, told(lifecycle, "CAPORDER1")) == (([], []), (expected, expected))
    assert waiting == [WATCHED, DONE]
    state = lifecycle.state("CAPORDER1")
    assert (state["vendor_id"], state["captured_amount"], state["refunded_amount"], state["net_amount"]) == (
        "vendor_1", 1050, 200, 850)  # the refund fixed neither the vendor nor the amount


def test_a_paypal_dispute_before_its_capture_is_told_after_the_sale(lifecycle, paypal_event, paypal_envelope):
    dispute = paypal_event(event_id="WH-ORDER-DSP", event_type="CUSTOMER.DISPUTE.CREATED", capture_id="unused")
    dispute["resource"] = {"dispute_id": "PP-D-ORDER2", "create_time": "2024-11-22T01:46:30Z", "status": "OPEN",
                           "disputed_transactions": [{"seller_transaction_id": "CAPORDER2"}],
                           "dispute_amount": {"currency_code": "USD", "value": "3.00"}}
    waiting = [deliver(lifecycle, paypal_envelope(dispute), "CAPORDER2"),
               deliver(lifecycle, paypal_envelope(paypal_event(event_id="WH-ORDER-SALE2", capture_id="CAPORDER2")),
                       "CAPORDER2")]
    expected = [("succeeded", 1050), ("disputed", 300)]
    assert told(lifecycle, "CAPORDER2") == (expected, expected)
    assert waiting == [WATCHED, DONE]


def test_a_stripe_refund_before_its_payment_intent_succeeds_is_told_after_the_sale(lifecycle, stripe_event,
                                                                                    stripe_envelope):
    refunded = stripe_event(event_id="evt_order_ref", type="charge.refunded", pi="ch_order3", amount=1999)
    charge = refunded["data"]["object"]
    charge.update(object="charge", payment_intent="pi_order3", amount_refunded=500, refunds={
        "object": "list", "has_more": False, "data": [{"id": "re_order3", "object": "refund", "amount": 500,
                                                      "currency": "eur", "status": "succeeded", "created": 1732239000,
                                                      "charge": "ch_order3", "payment_intent": "pi_order3"}]})
    waiting = [deliver(lifecycle, stripe_envelope(refunded), "pi_order3"),
               deliver(lifecycle, stripe_envelope(stripe_event(event_id="evt_order_sale", pi="pi_order3")), "pi_order3")]
    expected = [("succeeded", 1999), ("partially_refunded", 500)]
    assert told(lifecycle, "pi_order3") == (expected, expected)
    assert waiting == [WATCHED, DONE]
