"""Replay end to end, in-process: processor -> ledger -> stream (moto) -> Pipe A filter -> archiver
-> S3 -> scripts/ops/replay_archive.py -> ingest FIFO queue -> the real processor again.

Replaying what the ledger already holds writes nothing new; replaying into a ledger that lost the
rows restores them, which proves the replayed envelope re-verifies its original signature."""
from __future__ import annotations

import json

import boto3
import pytest

from downstream_fixtures import fresh

from paycore import events
from scripts.local.runner import eventbridge
from paycore.ledger import deserialize, event_key_fields
from scripts.ops import replay_archive


def stream_records(aws) -> list[dict]:
    """Every record of the ledger's stream, shaped as a pipe sends it (binary as base64 text)."""
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = aws.dynamodb.describe_table(TableName=aws.table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records.extend(streams.get_records(ShardIterator=iterator)["Records"])
    return json.loads(json.dumps(records, default=_json_default))


def _json_default(value):
    import base64
    from datetime import datetime

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value))


def ledger_rows(aws) -> list[dict]:
    items = aws.dynamodb.scan(TableName=aws.table)["Items"]
    plain = [deserialize(item) for item in items]
    return sorted(plain, key=lambda i: (i["transaction_id"], i["timestamp"]))


def drain(aws) -> list[str]:
    bodies = []
    while True:
        got = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10,
                                      AttributeNames=["All"]).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            bodies.append(message["Body"])
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def pipeline(aws, stripe_event, stripe_envelope, sqs_event, lambda_context):
    processor = fresh("processor_handler")
    archiver = fresh("archiver_handler")
    bodies = [stripe_envelope(stripe_event(event_id="evt_1", type="payment_intent.processing", pi="pi_9")),
              stripe_envelope(stripe_event(event_id="evt_2", type="payment_intent.succeeded", pi="pi_9"))]
    assert processor.handler(sqs_event(bodies, group_ids=["pi_9", "pi_9"]), lambda_context) == {"batchItemFailures": []}
    pipe_a = [r for r in stream_records(aws) if eventbridge.matches_pattern(events.PIPE_A_FILTER_PATTERN, r)]
    assert len(pipe_a) == 2
    assert archiver.handler(pipe_a, lambda_context) == {"batchItemFailures": []}
    return processor


def replay_all(aws, **kwargs):
    return replay_archive.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url, provider="stripe",
                                 start_ms=0, end_ms=2**42, **kwargs)


def test_replaying_events_already_in_the_ledger_writes_nothing_new(aws, pipeline, sqs_event, lambda_context):
    before = ledger_rows(aws)

    result = replay_all(aws)
    bodies = drain(aws)
    assert result == {"provider": "stripe", "found": 2, "sent": 2, "dry_run": False}
    assert pipeline.handler(sqs_event(bodies, group_ids=["pi_9"] * len(bodies)), lambda_context) == {"batchItemFailures": []}

    assert ledger_rows(aws) == before
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/")


def test_replay_restores_lost_rows_because_the_original_signature_reverifies(aws, pipeline, sqs_event, lambda_context):
    before = ledger_rows(aws)
    for row in before:
        aws.dynamodb.delete_item(TableName=aws.table, Key={"transaction_id": {"S": row["transaction_id"]},
                                                           "timestamp": {"S": row["timestamp"]}})
    replay_all(aws)
    bodies = drain(aws)
    assert pipeline.handler(sqs_event(bodies, group_ids=["pi_9"] * len(bodies)), lambda_context) == {"batchItemFailures": []}

    after = {(r["timestamp"], r.get("raw_sha256")) for r in ledger_rows(aws) if r["row_type"] == "event"}
    assert after == {(r["timestamp"], r.get("raw_sha256")) for r in before if r["row_type"] == "event"}
    state = [r for r in ledger_rows(aws) if r["row_type"] == "state"]
    assert state and state[0]["status"] == "succeeded"


def test_replayed_envelope_is_the_original_envelope(aws, pipeline):
    replay_all(aws, event_id="evt_2")
    [body] = drain(aws)
    envelope = json.loads(body)
    assert envelope["provider"] == "stripe"
    assert envelope["received_at"] == 1_732_240_000_123
    assert envelope["headers"]["stripe-signature"].startswith("t=")
    from paycore.envelope import parse_envelope

    parsed = parse_envelope(body)
    assert parsed.headers == envelope["headers"] and parsed.request_id == envelope["request_id"]
    assert json.loads(parsed.raw)["id"] == "evt_2"


def test_dry_run_and_time_range(aws, pipeline):
    assert replay_all(aws, dry_run=True) == {"provider": "stripe", "found": 2, "sent": 0, "dry_run": True}
    assert drain(aws) == []
    outside = replay_archive.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url,
                                    provider="stripe", start_ms=0, end_ms=1_732_240_000_122)
    assert outside["found"] == 0
    assert replay_archive.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url,
                                 provider="paypal", start_ms=0, end_ms=2**42)["found"] == 0


def test_a_single_event_is_found_from_its_ledger_row(aws, pipeline):
    row = next(r for r in map(event_key_fields, ledger_rows(aws)) if r.get("event_id") == "evt_2")
    found = replay_archive.find_event(aws.s3, aws.bucket, row["provider"], "evt_2", int(row["received_at"]))
    assert found is not None and found.transaction_id == "pi_9"
    assert found.sha256 == row["raw_sha256"]
