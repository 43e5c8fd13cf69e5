"""Domain events: the Pipe B template, the pipe filters and the completed-payment rule pattern, applied
the way EventBridge applies them (the local runner's stand-in, scripts/local/runner/eventbridge.py)."""
from __future__ import annotations

import json

import pytest

from downstream_fixtures import event_item, state_item, stream_record

from paycore import events
from scripts.local.runner import eventbridge


def test_template_applied_to_a_state_update_gives_the_documented_detail():
    record = stream_record(state_item("pi_123", status="succeeded", previous_status="processing"), "MODIFY")

    detail = eventbridge.status_changed_detail(record)

    assert detail == {
        "transaction_id": "pi_123",
        "vendor_id": "vendor-1",
        "customer_id": "cus-1",
        "old_status": "processing",
        "new_status": "succeeded",
        "amount": "1999",
        "currency": "usd",
        "occurred_at": "2024-11-22T01:00:05Z",
    }
    assert list(detail) == list(events.DETAIL_FIELDS)


def test_first_state_row_has_an_empty_old_status_and_missing_values_stay_valid_json():
    record = stream_record(state_item("pi_9", status="processing", previous_status=None, vendor_id=None), "INSERT")
    detail = eventbridge.status_changed_detail(record)
    assert detail["old_status"] == ""
    assert detail["vendor_id"] == ""
    assert detail["new_status"] == "processing"


def test_first_state_row_as_the_ledger_writes_it_has_an_empty_old_status():
    """The ledger creates the state row with one update: previous_status is a DynamoDB NULL there."""
    record = stream_record(state_item("pi_9", status="processing", previous_status=None), "INSERT")
    record["dynamodb"]["NewImage"]["previous_status"] = {"NULL": True}
    assert eventbridge.status_changed_detail(record)["old_status"] == ""


def test_amount_is_an_exact_decimal_string_of_minor_units():
    record = stream_record(state_item(amount=123456789012345), "MODIFY")
    assert eventbridge.status_changed_detail(record)["amount"] == "123456789012345"


def test_template_uses_only_quoted_dot_paths_into_the_new_image():
    placeholders = eventbridge._PLACEHOLDER.findall(events.PIPE_B_INPUT_TEMPLATE)
    assert len(placeholders) == len(events.DETAIL_FIELDS)
    for open_quote, path, close_quote in placeholders:
        assert open_quote == close_quote == '"'
        assert path.startswith("$.dynamodb.NewImage.") and path.endswith((".S", ".N"))


def test_values_needing_escaping_still_render_valid_json():
    record = stream_record(state_item(customer_id='cu"s\\1'), "MODIFY")
    assert eventbridge.status_changed_detail(record)["customer_id"] == 'cu"s\\1'


def test_put_events_entry_carries_source_and_detail_type():
    entry = eventbridge.put_events_entry(stream_record(state_item(), "MODIFY"), "payments-test")
    assert entry["Source"] == "payments.ledger"
    assert entry["DetailType"] == "TransactionStatusChanged"
    assert entry["EventBusName"] == "payments-test"
    assert json.loads(entry["Detail"])["new_status"] == "succeeded"


@pytest.mark.parametrize(
    ("record", "pipe_a", "pipe_b"),
    [
        (stream_record(event_item(), "INSERT"), True, False),
        (stream_record(event_item(), "MODIFY"), False, False),
        (stream_record(state_item(), "INSERT"), False, True),
        (stream_record(state_item(), "MODIFY"), False, True),
        (stream_record(state_item(status="processing", previous_status=None), "INSERT"), False, False),
        (stream_record(state_item(status="refunded", previous_status="succeeded"), "MODIFY"), False, False),
        (stream_record({"transaction_id": "t", "timestamp": "MARKER#notify#succeeded", "row_type": "marker"}), False, False),
        ({"eventName": "REMOVE", "dynamodb": {"Keys": {}}}, False, False),
    ],
)
def test_pipe_filters_select_event_inserts_and_state_changes(record, pipe_a, pipe_b):
    assert eventbridge.matches_pattern(events.PIPE_A_FILTER_PATTERN, record) is pipe_a
    assert eventbridge.matches_pattern(events.PIPE_B_FILTER_PATTERN, record) is pipe_b


def test_pipe_b_filter_keeps_the_statuses_every_rule_routes():
    routed = set(events.COMPLETED_PAYMENT_RULE_PATTERN["detail"]["new_status"])
    assert routed <= set(events.PIPE_B_ROUTED_STATUSES)
    for status in ("pending", "processing", "failed", "succeeded", "refunded"):
        record = stream_record(state_item(status=status), "MODIFY")
        assert eventbridge.matches_pattern(events.PIPE_B_FILTER_PATTERN, record) is (status in routed), status


def test_pipe_b_filter_without_statuses_keeps_every_state_change():
    record = stream_record(state_item(status="processing", previous_status=None), "INSERT")
    assert eventbridge.matches_pattern(events.pipe_b_filter_pattern(()), record)
    delivery = events.pipe_b_filter_pattern(("succeeded", "failed", "canceled", "refunded", "reversed"))
    assert eventbridge.matches_pattern(delivery, stream_record(state_item(status="refunded"), "MODIFY"))
    assert not eventbridge.matches_pattern(delivery, record)


@pytest.mark.parametrize(("status", "matched"), [("succeeded", True), ("processing", False), ("failed", False)])
def test_completed_payment_rule_matches_only_succeeded(status, matched):
    record = stream_record(state_item(status=status), "MODIFY")
    event = eventbridge.eventbridge_event(eventbridge.status_changed_detail(record))
    assert eventbridge.matches_pattern(events.COMPLETED_PAYMENT_RULE_PATTERN, event) is matched


def test_rule_does_not_match_other_sources():
    event = eventbridge.eventbridge_event({"new_status": "succeeded"})
    event["source"] = "someone.else"
    assert not eventbridge.matches_pattern(events.COMPLETED_PAYMENT_RULE_PATTERN, event)


def test_pattern_matcher_supports_exists_prefix_and_anything_but():
    doc = {"a": "stripe-1", "b": ["x", "y"]}
    assert eventbridge.matches_pattern({"a": [{"prefix": "stripe"}]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"prefix": "paypal"}]}, doc)
    assert eventbridge.matches_pattern({"c": [{"exists": False}]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"exists": False}]}, doc)
    assert eventbridge.matches_pattern({"b": ["y"]}, doc)
    assert not eventbridge.matches_pattern({"a": [{"anything-but": ["stripe-1"]}]}, doc)
