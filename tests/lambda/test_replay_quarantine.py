"""replay_quarantine: re-verify quarantined envelopes with the current secrets, re-enqueue what now
verifies, through the real processor; nothing doubled, user mistakes answered in one line."""
from __future__ import annotations

import json

import pytest
from handler_constants import NOW_MS, SECRET_PREFIX, STRIPE_SECRET

import processor_handler
from paycore.ledger import Ledger
from paycore.secrets import SecretStore, clear_all_caches
from scripts.ops import replay_quarantine as tool

ROTATED = "whsec_ROTATEDatSTRIPEnotHEREyet001"


def quarantined(aws) -> list[str]:
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/").get("Contents", [])]


def set_stripe_secret(aws, value: dict) -> None:
    aws.secretsmanager.put_secret_value(SecretId=f"{SECRET_PREFIX}stripe/signing", SecretString=json.dumps(value))
    clear_all_caches()


def drain_into_processor(aws, lambda_context) -> int:
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": "arn", "awsRegion": "us-east-1"} for m in messages]
    if records:
        assert processor_handler.handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    return len(records)


@pytest.fixture
def wrong_secret_window(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    """Stripe rotated its secret; ours was not updated: three genuine events quarantined."""
    set_stripe_secret(aws, {"current": STRIPE_SECRET})
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_r{i}", pi=f"pi_r{i}"), secret=ROTATED) for i in range(3)]
    bodies.append(stripe_envelope(stripe_event(event_id="evt_forged", pi="pi_r9"), secret="whsec_attacker_000"))
    assert processor_handler.handler(sqs_event(bodies, group_ids=["a", "b", "c", "d"]), lambda_context) == {"batchItemFailures": []}
    assert len(quarantined(aws)) == 4
    return bodies


def run_tool(aws, **kwargs):
    store = SecretStore(aws.secretsmanager, prefix=SECRET_PREFIX, max_age=0)
    return tool.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url, signing_secret=store.signing,
                       now_ms=NOW_MS + 60_000, **kwargs)


def test_nothing_verifies_until_the_secret_is_fixed(aws, wrong_secret_window):
    report = run_tool(aws, provider="stripe")
    assert (report.examined, report.requeued, dict(report.still_rejected)) == (4, 0, {"signature_mismatch": 4})


def test_dry_run_counts_and_sends_nothing(aws, wrong_secret_window):
    set_stripe_secret(aws, {"current": ROTATED, "previous": STRIPE_SECRET})
    report = run_tool(aws, provider="stripe", dry_run=True)
    assert report.as_dict()["verified_now"] == 3 and report.as_dict()["requeued"] == 0
    assert aws.sqs.receive_message(QueueUrl=aws.queue_url).get("Messages", []) == []


def test_fixed_secret_recovers_every_genuine_event_once(aws, lambda_context, wrong_secret_window, stripe_event, stripe_envelope, sqs_event):
    set_stripe_secret(aws, {"current": ROTATED, "previous": STRIPE_SECRET})
    # meanwhile Stripe retried one of them, now verified and recorded: the replay must not double it
    retried = stripe_envelope(stripe_event(event_id="evt_r0", pi="pi_r0"), secret=ROTATED)
    assert processor_handler.handler(sqs_event([retried]), lambda_context) == {"batchItemFailures": []}
    report = run_tool(aws, provider="stripe", since_ms=NOW_MS - 3_600_000)
    assert (report.requeued, dict(report.still_rejected)) == (3, {"signature_mismatch": 1})  # the forgery stays
    assert drain_into_processor(aws, lambda_context) == 3
    ledger = Ledger(aws.dynamodb, aws.table)
    for i in range(3):
        assert [e["event_id"] for e in ledger.get_events(f"pi_r{i}")] == [f"evt_r{i}"]
    assert ledger.get_state("pi_r9") is None
    again = run_tool(aws, provider="stripe")
    assert (again.requeued, again.already_replayed) == (0, 3)


def test_since_skips_older_quarantine(aws, wrong_secret_window):
    set_stripe_secret(aws, {"current": ROTATED})
    assert run_tool(aws, provider="stripe", since_ms=NOW_MS + 1).examined == 0
