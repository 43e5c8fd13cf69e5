"""Domain events: the Pipe B template, the pipe filters and the vendor-notification rule pattern,
applied the way EventBridge applies them (the local runner's stand-in,
scripts/local/runner/eventbridge.py), to state rows as the ledger writes them."""
from __future__ import annotations

import json

import pytest

from downstream_fixtures import event_item, state_item, stream_record
from lifecycle_events import detail_of, state_writes

from paycore import events
from scripts.local.runner import eventbridge


def _record(item: dict, event_name: str = "MODIFY") -> dict:
    return stream_record({k: v for k, v in item.items() if v is not None}, event_name)


def test_template_applied_to_a_state_write_gives_the_documented_detail():
    sale, refund = state_writes("pi_123", ["succeeded", "refunded"], amount=1999, vendor_id="vendor-1")
    detail = eventbridge.status_changed_detail(_record(refund))
    assert list(detail) == list(events.DETAIL_FIELDS)
    assert {k: v for k, v in detail.items() if k != "announcements"} == {
        "transaction_id": "pi_123", "vendor_id": "vendor-1", "customer_id": "cus-1", "old_status": "succeeded",
        "new_status": "refunded", "amount": "1999", "currency": "USD", "occurred_at": "2025-11-29T01:33:00.000Z",
        "captured_amount": "1999", "refunded_amount": "1999", "reversed_amount": "0", "disputed_amount": "0",
        "dispute_lost_amount": "0", "net_amount": "0", "seq": "2", "announced_from": "2", "bus_kinds": ["refunded"]}
    told = events.announcements_of(detail)
    assert [(a["seq"], a["kind"], a["amount"], a["net_amount"]) for a in told] == [(1, "succeeded", 1999, 1999),
                                                                                  (2, "refunded", 1999, 0)]


def test_first_state_row_has_an_empty_old_status():
    [first] = state_writes("pi_9", ["succeeded"])
    assert eventbridge.status_changed_detail(_record(first, "INSERT"))["old_status"] == ""


def test_amounts_are_exact_decimal_strings_of_minor_units():
    [first] = state_writes("pi_9", ["succeeded"], amount=999_999_999_999)
    detail = eventbridge.status_changed_detail(_record(first))
    assert (detail["amount"], detail["captured_amount"], detail["net_amount"]) == ("999999999999",) * 3


def test_template_quotes_the_scalars_and_leaves_the_two_lists_unquoted():
    placeholders = eventbridge._PLACEHOLDER.findall(events.PIPE_B_INPUT_TEMPLATE)
    assert len(placeholders) == len(events.DETAIL_FIELDS)
    for open_quote, path, close_quote in placeholders:
        assert path.startswith("$.dynamodb.NewImage.")
        if path.endswith((".L", ".SS")):  # the guide: no quotes around a JSON object or array
            assert open_quote == close_quote == ""
        else:
            assert open_quote == close_quote == '"' and path.endswith((".S", ".N"))


def test_values_needing_escaping_still_render_valid_json():
    [first] = state_writes("pi_9", ["succeeded"])
    assert detail_of({**first, "customer_id": 'cu"s\\1'})["customer_id"] == 'cu"s\\1'


def test_put_events_entry_carries_source_and_detail_type():
    [first] = state_writes("pi_9", ["succeeded"])
    entry = eventbridge.put_events_entry(_record(first), "payments-test")
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "payments.ledger", "TransactionStatusChanged", "payments-test")
    assert json.loads(entry["Detail"])["new_status"] == "succeeded"


_processing, _sale = state_writes("pi_1", ["processing", "succeeded"])


@pytest.mark.parametrize(
    ("record", "pipe_a", "pipe_b"),
    [
        (stream_record(event_item(), "INSERT"), True, False),
        (stream_record(event_item(), "MODIFY"), False, False),
        (_record(_sale, "MODIFY"), False, True),  # it announces the sale
        (_record(_processing, "INSERT"), False, False),  # it announces nothing
        (_record(state_writes("pi_2", ["refunded"])[0], "INSERT"), False, True),  # held for its sale: watched
        (stream_record(state_item(), "MODIFY"), False, False),  # a row of the older model
        (stream_record({"transaction_id": "t", "timestamp": "MARKER#notify#succeeded", "row_type": "marker"}), False, False),
        ({"eventName": "REMOVE", "dynamodb": {"Keys": {}}}, False, False),
    ],
)
def test_pipe_filters_select_event_inserts_and_announcing_state_writes(record, pipe_a, pipe_b):
    assert eventbridge.matches_pattern(events.PIPE_A_FILTER_PATTERN, record) is pipe_a
    assert eventbridge.matches_pattern(events.PIPE_B_FILTER_PATTERN, record) is pipe_b


def test_pipe_b_filter_with_fewer_kinds_keeps_only_their_writes():
    sale, refund = state_writes("pi_1", ["succeeded", "refunded"])
    only_sales = events.pipe_b_filter_pattern(("succeeded",))
    assert eventbridge.matches_pattern(only_sales, _record(sale))
    assert not eventbridge.matches_pattern(only_sales, _record(refund))
    assert eventbridge.matches_pattern(events.pipe_b_filter_pattern(()), _record(refund))  # empty: every kind


@pytest.mark.parametrize(("vendor", "currency", "matched"), [("vendor-a", "USD", True), ("unknown", "USD", False),
                                                             ("vendor-a", "XXX", False)])
def test_vendor_notification_rule_matches_every_routable_domain_event(vendor, currency, matched):
    for item in state_writes("pi_1", ["succeeded", "refunded", "dispute_opened"], vendor_id=vendor, currency=currency):
        event = eventbridge.eventbridge_event(detail_of(item))
        assert eventbridge.matches_pattern(events.COMPLETED_PAYMENT_RULE_PATTERN, event) is matched


def test_rule_does_not_match_other_sources():
    event = eventbridge.eventbridge_event({"new_status": "succeeded", "vendor_id": "v", "currency": "USD"})
    event["source"] = "someone.else"
    assert not eventbridge.matches_pattern(events.COMPLETED_PAYMENT_RULE_PATTERN, event)


def test_an_event_tells_its_own_announcements_and_those_made_a_day_before_them():
    day = events.REORDER_HORIZON_MS
    window = [{"seq": n, "kind": "refunded", "announced_at": at} for n, at in ((1, 0), (2, 10 * day - 1), (3, 10 * day),
                                                                                (4, 11 * day - 1), (5, 11 * day))]
    told = events.announcements_to_tell({"announcements": window, "announced_from": "5"})
    assert [a["seq"] for a in told] == [3, 4, 5]  # 1 and 2 were told long ago by their own events
    assert events.announcements_to_tell({"announcements": window, "announced_from": ""}) == []  # held, nothing new


def test_pattern_matcher_supports_exists_prefix_and_anything_but():
    doc = {"a": "stripe-1", "b": ["x", "y"]}
    assert eventbridge.matches_pattern({"a": [{"prefix": "stripe"}]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"prefix": "paypal"}]}, doc)
    assert eventbridge.matches_pattern({"c": [{"exists": False}]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"exists": False}]}, doc)
    assert eventbridge.matches_pattern({"b": ["y"]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"anything-but": ["stripe-1"]}]}, doc)
