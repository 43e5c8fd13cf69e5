"""Every queue- and pipe-triggered handler run with AWS's sample events (tests/aws_samples/), filled
with the synthesized `local` stack's names (queues, table, account, region): the SQS FIFO sample
for the processor and the delivery sender, the standard one for the notifier and the delivery
fan-out (their bodies the EventBridge event a rule delivers, its detail Pipe B's template applied
to the DynamoDB sample record), and Pipe A's JSON array of DynamoDB sample records for the archiver.
Only data is filled in: message bodies, group ids, the records' item images."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

import aws_shapes
from delivery_fixtures import (  # noqa: F401  (fixtures)
    Esm,
    FakeContext,
    aws_env,
    clock,
    delivery_env,
    fanout,
    moto_visibility_as_sent,
    sender,
)
from downstream_fixtures import BUCKET, REGION, archive_bucket, event_item, fresh, state_item  # noqa: F401
from lifecycle_events import state_writes
from stack_triggers import ACCOUNT, local_stack

from paycore import events
from scripts.local.runner import eventbridge


@pytest.fixture(scope="module")
def sources():
    """Function folder -> the queue or table its trigger reads, in the synthesized local stack."""
    return {t.function: t.source for t in local_stack().triggers() if t.function and t.source}


def sqs_event(sample: str, queue: str, body: str, **fifo: str) -> dict:
    values = dict(partition="aws", region=REGION, account_id=ACCOUNT, queue_name=queue, body=body,
                  md5_of_body=hashlib.md5(body.encode()).hexdigest())  # noqa: S324 - the SQS field
    if sample == "sqs/SqsFifo.json":
        values.update(message_id="4b9a4c4e-0000-4000-8000-000000000001", receipt_handle="AQEB-sample",
                      sent_timestamp="1796601600000", sequence_number="18849496460467696128", sender_id="AROASAMPLE",
                      first_receive_timestamp="1796601600050", **fifo)
    return aws_shapes.load(sample, **values)


def stream_json(item: dict) -> dict:
    """An item in DynamoDB JSON as a stream record carries it (binary as base64 text)."""
    return json.loads(json.dumps({k: TypeSerializer().serialize(v) for k, v in item.items()},
                                 default=lambda b: base64.b64encode(bytes(b)).decode()))


def stream_records(table: str, *items: dict) -> list[dict]:
    """The DynamoDB sample's INSERT record, once per item, with the item as its image and keys."""
    [insert] = [r for r in aws_shapes.load("dynamodb/DynamoDBUpdate.json", region=REGION, partition="aws",
                                           account_id=ACCOUNT, table=table)["Records"] if r["eventName"] == "INSERT"]
    records = []
    for n, item in enumerate(items):
        record = copy.deepcopy(insert)
        image = stream_json(item)
        record["dynamodb"].update(NewImage=image, Keys={k: image[k] for k in ("transaction_id", "timestamp")},
                                  StreamViewType="NEW_IMAGE")
        record["eventID"] = f"{insert['eventID'][:-2]}{n:02d}"
        records.append(record)
    return records


def domain_event(sources: dict, transaction_id: str, status: str = "succeeded", previous: str = "processing",
                 vendor_id: str = "vendor-a") -> str:
    """What the vendor-notification and vendor-delivery rules put in their queues: the EventBridge
    sample event whose detail is Pipe B's input template applied to a DynamoDB sample record of the
    state write that announces ``status`` after ``previous``."""
    item = state_writes(transaction_id, [previous, status], vendor_id=vendor_id)[-1]
    [record] = stream_records(sources["archiver"], {k: v for k, v in item.items() if v is not None})
    event = aws_shapes.load("eventbridge/EventBridgeEvent.json", id="0d79f6a2-0000-4000-8000-0000000000aa",
                            detail_type=events.DOMAIN_EVENT_DETAIL_TYPE, source=events.DOMAIN_EVENT_SOURCE,
                            account_id=ACCOUNT, time="2026-12-07T00:00:01Z", region=REGION)
    event["detail"] = eventbridge.status_changed_detail(record)
    return json.dumps(event)


def test_the_processor_records_a_webhook_from_the_fifo_sample(aws, lambda_context, stripe_event, stripe_envelope, sources):
    import processor_handler

    event = sqs_event("sqs/SqsFifo.json", sources["processor"], stripe_envelope(stripe_event(pi="pi_sample")),
                      message_group_id="pi_sample", message_deduplication_id="req-sample-1")
    assert processor_handler.handler(event, lambda_context) == {"batchItemFailures": []}
    state = aws.dynamodb.get_item(TableName=aws.table, Key={"transaction_id": {"S": "pi_sample"},
                                                            "timestamp": {"S": "STATE"}})["Item"]
    assert state["status"] == {"S": "succeeded"}


@pytest.fixture
def notifier(aws_env, monkeypatch):
    sns, ddb = boto3.client("sns", region_name=REGION), boto3.client("dynamodb", region_name=REGION)
    monkeypatch.setenv("VENDOR_TOPIC_ARN", sns.create_topic(Name="vendors-sample")["TopicArn"])
    ddb.create_table(TableName="markers-sample", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"},
                                {"AttributeName": "marker", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"},
                                           {"AttributeName": "marker", "AttributeType": "S"}])
    monkeypatch.setenv("NOTIFY_MARKERS_TABLE", "markers-sample")
    monkeypatch.delenv("TABLE_NAME", raising=False)
    return fresh("notifier_handler")


def test_the_notifier_publishes_a_completed_sale_from_the_standard_sample(notifier, sources):
    event = sqs_event("sqs/Sqs.json", sources["notifier"], domain_event(sources, "pi_notify"))
    assert notifier.handler(event, FakeContext()) == {"batchItemFailures": []}
    marker = boto3.client("dynamodb", region_name=REGION).scan(TableName="markers-sample")["Items"]
    assert sorted((m["transaction_id"]["S"], m["marker"]["S"], m["marker_state"]["S"]) for m in marker) == [
        ("pi_notify", "MARKER#notify#sale", "done"), ("pi_notify", "MARKER#notify#seq#000001", "done")]


def test_the_fanout_and_the_sender_deliver_from_the_standard_and_fifo_samples(delivery_env, fanout, sender, sources):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    event = sqs_event("sqs/Sqs.json", sources["delivery_fanout"], domain_event(sources, "pi_deliver"))
    assert fanout.handler(event, FakeContext()) == {"batchItemFailures": []}
    sqs = delivery_env.sqs
    [message] = sqs.receive_message(QueueUrl=delivery_env.queue_url, AttributeNames=["All"])["Messages"]
    batch = sqs_event("sqs/SqsFifo.json", sources["delivery_sender"], message["Body"],
                      message_group_id=message["Attributes"]["MessageGroupId"],
                      message_deduplication_id=message["Attributes"]["MessageDeduplicationId"])
    batch["Records"][0]["receiptHandle"] = message["ReceiptHandle"]  # data: the sender may hold the message
    assert sender.handler(batch, FakeContext()) == {"batchItemFailures": []}
    assert [(r["payload"]["data"]["transaction_id"], r["payload"]["type"]) for r in vendor.received()] == [
        ("pi_deliver", "payment.succeeded")]


def test_the_archiver_archives_pipe_a_s_json_array_of_sample_records(archive_bucket, sources):
    archiver = fresh("archiver_handler")
    batch = stream_records(sources["archiver"], event_item("pi_arch", "evt_arch_1"), event_item("pi_arch", "evt_arch_2"))
    assert archiver.handler(batch, FakeContext()) == {"batchItemFailures": []}
    [obj] = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)["Contents"]
    assert obj["Key"].startswith("raw/stripe/")
