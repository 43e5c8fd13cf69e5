"""Idempotency edges of the ledger (issue 25, items 9 and 10): an event id comes back at any age and
still counts once; the same event id naming another payment is refused, not counted again."""
from __future__ import annotations

import time

import pytest
from handler_constants import NOW_S

import processor_handler
from paycore.ledger import Ledger
from test_processor import metric_total, quarantined

DAY = 86_400


def sweep_expired(aws, now: float) -> int:
    """What DynamoDB's TTL does by ``now``: delete every row whose ``expires_at`` is behind it
    (moto keeps them); returns how many went."""
    rows = aws.dynamodb.scan(TableName=aws.table, FilterExpression="attribute_exists(expires_at)")["Items"]
    gone = [r for r in rows if int(r["expires_at"]["N"]) < now]
    for row in gone:
        aws.dynamodb.delete_item(TableName=aws.table, Key={k: row[k] for k in ("transaction_id", "timestamp")})
    return len(gone)


@pytest.mark.parametrize("days", [9, 31])
def test_an_event_resent_after_days_with_another_created_is_still_one_ledger_row(
        days, aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    first = stripe_event(event_id="evt_age", pi="pi_age", created=NOW_S - 2)
    assert processor_handler.handler(sqs_event([stripe_envelope(first)]), lambda_context) == {"batchItemFailures": []}
    sweep_expired(aws, time.time() + days * DAY)  # the claims' clock is the processor's own
    # the same event, replayed at that age (our replay tools, a provider's events API) with another
    # `created` (another sort key for its row), signed at its delivery
    later = NOW_S + days * DAY
    again = stripe_event(event_id="evt_age", pi="pi_age", created=NOW_S - 2 + 3_600)
    body = stripe_envelope(again, timestamp=later, received_at=later * 1000)
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}

    assert [row["event_id"] for row in Ledger(aws.dynamodb, aws.table).get_events("pi_age")] == ["evt_age"]
    out = capsys.readouterr().out
    assert metric_total(out, "WebhookRecorded") == 1 and metric_total(out, "DuplicateWebhook") == 1
    assert metric_total(out, "SuccessfulTransactions") == 1


def test_the_same_event_id_on_another_payment_is_rejected_quarantined_and_counted_once(
        aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    genuine = stripe_event(event_id="evt_twice", pi="pi_first", amount=1999)
    other = stripe_event(event_id="evt_twice", pi="pi_second", amount=5000)
    response = processor_handler.handler(sqs_event([stripe_envelope(genuine), stripe_envelope(other)],
                                                   group_ids=["pi_first", "pi_second"]), lambda_context)
    assert response == {"batchItemFailures": []}  # refused for good: acknowledged, kept for a look

    ledger = Ledger(aws.dynamodb, aws.table)
    assert ledger.get_state("pi_second") is None and ledger.get_events("pi_second") == []
    assert ledger.get_state("pi_first")["captured_amount"] == 1999
    [document] = quarantined(aws).values()
    assert (document["reason"], document["provider"]) == ("event_id_conflict", "stripe")
    out = capsys.readouterr().out
    assert metric_total(out, "SuccessfulTransactions") == 1
    assert metric_total(out, "WebhookRejected", reason="event_id_conflict") == 1
