"""The payment's state as amounts (paycore.lifecycle), pure: each part moves on its own and only
forward; what undoes a sale waits for it; a refund never sets what the sale established; rows of
the older model read as their payment and move on. The ledger's fold under a concurrent writer."""
from __future__ import annotations

from decimal import Decimal

import pytest

from paycore import lifecycle
from paycore.model import Fact, Transaction

T = "2025-01-01T00:00:00.000Z"


def sale(status: str = "succeeded", amount: int = 1000, *, event: str = "e_sale", currency: str = "EUR",
         vendor: str | None = "vendor-1", customer: str | None = "cus-1", when: str = T) -> Transaction:
    return Transaction("pay_1", "stripe", event, f"payment_intent.{status}", status, amount, currency, vendor, customer,
                       when, 1)


def about(*facts: Fact, event: str = "e_fact", status: str = "refunded", vendor: str | None = None,
          currency: str = "EUR", when: str = T) -> Transaction:
    return Transaction("pay_1", "stripe", event, "charge.refunded", status, facts[0].amount, currency, vendor, None,
                       when, 1, facts=facts)


def refund(id_: str, status: str = "succeeded", amount: int = 200, currency: str = "EUR", when: str = T) -> Fact:
    return Fact("refund", id_, status, amount, currency, when)


def dispute(status: str, amount: int = 300, *, withdrawn: bool = False, reinstated: bool = False) -> Fact:
    return Fact("dispute", "dp_1", status, amount, "EUR", T, withdrawn=withdrawn, reinstated=reinstated)


def run(*events: Transaction) -> tuple[lifecycle.Payment, list[dict], list[str]]:
    """Fold the events; (state, every announcement, every conflict reported), each event applied twice."""
    payment, told, conflicts = lifecycle.Payment("pay_1"), [], []
    for event in events:
        for _ in range(2):  # a duplicate never counts twice
            applied = lifecycle.apply(payment, event)
            if applied is not None:
                payment = applied.payment
                told += applied.announced
                conflicts += applied.conflicts
    return payment, told, conflicts


def kinds(told: list[dict]) -> list[tuple[str, int]]:
    return [(a["kind"], a["amount"]) for a in told]


def test_a_refund_before_its_sale_waits_and_is_told_right_after_it():
    held = lifecycle.apply(lifecycle.Payment("pay_1"), about(refund("re_1")))
    assert held is not None and (held.announced, held.held, held.bus_kinds) == ((), 1, ("awaiting_sale",))
    assert (held.payment.status, held.payment.sale) == ("awaiting_sale", {})  # the refund set nothing of the sale
    payment, told, _ = run(about(refund("re_1")), sale())
    assert kinds(told) == [("succeeded", 1000), ("refunded", 200)]
    assert (payment.status, lifecycle.totals(payment).net, payment.held) == ("partially_refunded", 800, [])
    assert [a["seq"] for a in told] == [1, 2] and told[-1]["net_amount"] == 800


def test_a_refund_never_sets_or_overwrites_what_the_sale_established_and_a_conflict_is_counted_once():
    payment, _, conflicts = run(about(refund("re_1", currency="USD"), vendor="MERCHANT7", currency="USD"),
                                sale(vendor="vendor-1"), about(refund("re_2"), event="e_2", vendor="vendor-9"))
    assert (payment.sale["vendor_id"], payment.sale["currency"], payment.sale["amount"]) == ("vendor-1", "EUR", 1000)
    assert sorted(conflicts) == ["currency", "vendor_id"]  # each once, though every event came twice
    assert payment.conflicts == {"currency": ["USD"], "vendor_id": ["vendor-9"]}


def test_a_later_payment_event_contradicting_the_sale_is_kept_raw():
    payment, _, conflicts = run(sale("processing"), sale(event="e_2", vendor="vendor-2", currency="USD"))
    assert (payment.sale["vendor_id"], payment.sale["currency"], conflicts) == ("vendor-1", "EUR",
                                                                                ["vendor_id", "currency"])


@pytest.mark.parametrize(("steps", "told", "refunded"), [
    (["pending", "succeeded"], [("refunded", 200)], 200),
    (["succeeded", "pending"], [("refunded", 200)], 200),  # a late pending never moves it back
    (["pending", "failed"], [], 0),
    (["succeeded", "failed"], [("refunded", 200), ("refund_failed", 200)], 0),  # the money came back
    (["failed", "succeeded"], [], 0),  # failed is final
    (["pending", "canceled", "succeeded"], [], 0),
])
def test_each_refund_moves_up_its_own_statuses(steps, told, refunded):
    events = [about(refund("re_1", status), event=f"e{n}") for n, status in enumerate(steps)]
    payment, announced, _ = run(sale(), *events)
    assert kinds(announced[1:]) == told
    assert lifecycle.totals(payment).refunded == refunded


def test_a_dispute_closure_seen_first_tells_the_opening_then_the_closure_and_the_opening_adds_nothing():
    payment, told, _ = run(sale(), about(dispute("lost"), event="e_closed", status="dispute_lost"),
                           about(dispute("open"), event="e_open", status="dispute_open"))
    assert kinds(told[1:]) == [("dispute_opened", 300), ("dispute_lost", 300)]
    t = lifecycle.totals(payment)
    assert (payment.status, t.disputed, t.dispute_lost, t.net) == ("dispute_lost", 0, 300, 700)


def test_a_dispute_s_funds_movements_are_kept_without_telling_anyone_again():
    payment, told, _ = run(sale(), about(dispute("open", withdrawn=True), event="e1", status="dispute_open"),
                           about(dispute("won", reinstated=True), event="e2", status="dispute_won"))
    assert kinds(told[1:]) == [("dispute_opened", 300), ("dispute_won", 300)]
    assert payment.disputes["dp_1"]["withdrawn"] and payment.disputes["dp_1"]["reinstated"]
    assert (payment.status, lifecycle.totals(payment).net) == ("dispute_won", 1000)


def test_an_unitemized_cumulative_refund_is_a_floor_the_itemized_refunds_do_not_count_again():
    total = Fact("refund_total", "ch_1", "succeeded", 500, "EUR", T)
    payment, told, _ = run(sale(), about(total, event="e_total"), about(refund("re_1", amount=200), event="e1"),
                           about(refund("re_2", amount=300), event="e2"))
    assert kinds(told[1:]) == [("refunded", 500)] and lifecycle.totals(payment).refunded == 500


def test_the_status_follows_the_amounts():
    payment, _, _ = run(sale(), about(refund("re_1", amount=1000)))
    assert payment.status == "refunded"
    reversal = Fact("reversal", "rv_1", "succeeded", 1000, "EUR", T)
    assert run(sale(), about(reversal, status="reversed"))[0].status == "reversed"
    assert run(sale("failed"), about(refund("re_1")))[0].status == "failed"  # no sale: its refund waits


def test_announcements_keep_a_window_and_number_on():
    events = [about(refund(f"re_{n}", amount=1), event=f"e{n}") for n in range(15)]
    payment, told, _ = run(sale(), *events)
    assert [a["seq"] for a in payment.announcements] == list(range(7, 17))
    assert told[-1]["refunded_amount"] == 15 and told[-1]["seq"] == 16 == payment.seq


def test_a_row_of_the_older_model_reads_as_its_payment_and_moves_on():
    row = {"transaction_id": "pay_1", "timestamp": "STATE", "row_type": "state", "status": "succeeded",
           "status_rank": Decimal(60), "amount": Decimal(1000), "currency": "EUR", "vendor_id": "vendor-1",
           "customer_id": "cus-1", "created_at": T, "updated_at": T, "last_event_id": "e_sale"}
    payment = lifecycle.from_item("pay_1", row)
    assert payment.legacy and payment.sale_announced and lifecycle.totals(payment).net == 1000
    applied = lifecycle.apply(payment, about(refund("re_1")))  # told at once: the older model told the sale
    assert applied is not None and kinds(list(applied.announced)) == [("refunded", 200)]
    assert applied.announced[0]["seq"] == 1 and applied.announced[0]["net_amount"] == 800
    item = lifecycle.to_item(applied.payment, bus_kinds=applied.bus_kinds, announced_from=1)
    assert (item["version"], item["status"], item["previous_status"], "status_rank" in item) == (
        1, "partially_refunded", "succeeded", False)
    refunded = lifecycle.public_amounts({**row, "status": "refunded"})  # an older refunded row: the whole amount
    assert (refunded["status"], refunded["refunded_amount"], refunded["net_amount"]) == ("refunded", 1000, 0)


def test_the_state_row_round_trips():
    payment, _, _ = run(about(refund("re_9")), sale(), about(dispute("open"), event="e_d", status="dispute_open"))
    again = lifecycle.from_item("pay_1", lifecycle.to_item(payment))
    assert again == payment


def test_the_fold_retries_when_another_writer_changed_the_row(aws):
    from paycore.ledger import Ledger

    ledger = Ledger(aws.dynamodb, aws.table)
    ledger.record(sale("processing"), b"p")
    real = ledger._put_state
    calls = []

    def racing(item, current, row):
        if not calls:  # another group's write lands between this read and this write
            calls.append(1)
            Ledger(aws.dynamodb, aws.table).record(about(refund("re_1"), event="e_race"), b"r")
        return real(item, current, row)

    ledger._put_state = racing  # type: ignore[method-assign]
    result = ledger.record(sale(event="e_ok"), b"s")
    state = ledger.get_state("pay_1")
    assert result.state_changed and state["version"] == 3
    assert (state["status"], state["refunded_amount"], state["seq"]) == ("partially_refunded", 200, 2)


def test_a_refund_naming_another_vendor_is_recorded_and_counted_once(aws, lambda_context, paypal_event,
                                                                   paypal_envelope, sqs_event, capsys):
    import processor_handler
    from test_processor import metric_total

    capture = paypal_event(event_id="WH-CONFLICT-SALE", capture_id="CAPCONFLICT", custom_id="vendor_1")
    refund = paypal_event(event_id="WH-CONFLICT-REF", event_type="PAYMENT.CAPTURE.REFUNDED", capture_id="REFCONFLICT",
                          value="2.00", custom_id="vendor_9")
    refund["resource"]["links"] = [{"href": "https://api.paypal.com/v2/payments/captures/CAPCONFLICT", "rel": "up",
                                    "method": "GET"}]
    bodies = [paypal_envelope(capture), paypal_envelope(refund), paypal_envelope(refund)]  # the refund twice
    assert processor_handler.handler(sqs_event(bodies), lambda_context) == {"batchItemFailures": []}
    from paycore.ledger import Ledger

    state = Ledger(aws.dynamodb, aws.table).get_state("CAPCONFLICT")
    assert (state["vendor_id"], state["conflicts"], state["refunded_amount"]) == ("vendor_1", {"vendor_id": ["vendor_9"]},
                                                                                 200)
    out = capsys.readouterr().out
    assert metric_total(out, "LifecycleConflict", reason="vendor_id") == 1
