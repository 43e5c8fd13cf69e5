"""Notifier: per-vendor SNS delivery of a payment's announcements in order, de-duplication
markers, the watch of a refund held for its sale, manual bypass, partial failures."""
from __future__ import annotations

import json
import logging
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from downstream_fixtures import (  # noqa: F401  (fixtures)
    REGION,
    FakeContext,
    aws_env,
    fresh,
    ledger,
)
from lifecycle_events import domain_event

EMAIL = "support-target@example.com"


@pytest.fixture
def topic(aws_env, monkeypatch):
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="vendors-test")["TopicArn"]
    monkeypatch.setenv("VENDOR_TOPIC_ARN", arn)
    inboxes = {}
    for vendor in ("vendor-1", "vendor-2"):
        url = sqs.create_queue(QueueName=f"inbox-{vendor}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"FilterPolicy": json.dumps({"vendor_id": [vendor]}), "RawMessageDelivery": "true"})
        inboxes[vendor] = url
    return arn, inboxes


MARKERS = "payment-notification-markers-test"


@pytest.fixture
def markers(aws_env, monkeypatch):
    """The notification marker table as the stack creates it (pk transaction_id, sk marker)."""
    ddb = boto3.resource("dynamodb", region_name=REGION)
    table = ddb.create_table(
        TableName=MARKERS, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}, {"AttributeName": "marker", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"},
                              {"AttributeName": "marker", "AttributeType": "S"}])
    monkeypatch.setenv("NOTIFY_MARKERS_TABLE", MARKERS)
    return table


@pytest.fixture
def notifier(ledger, markers, topic, monkeypatch):
    monkeypatch.delenv("TABLE_NAME", raising=False)  # the deployed notifier has no ledger access
    return fresh("notifier_handler")


@pytest.fixture
def logs(notifier):
    lines: list[str] = []
    formatter = notifier.logger.registered_formatter

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(formatter.format(record))

    handler = Capture()
    notifier.logger._logger.addHandler(handler)
    yield lines
    notifier.logger._logger.removeHandler(handler)


SALE_MARKER = "MARKER#notify#seq#000001"


def status_event(transaction_id="pi_1", status="succeeded", vendor_id="vendor-1", *, kinds=None) -> str:
    """The domain event of the write that announces ``status`` (after ``kinds`` before it)."""
    return json.dumps(domain_event(transaction_id, [*(kinds or []), status], vendor_id=vendor_id))


def manual(transaction_id="pi_1", vendor_id="vendor-1") -> str:
    return json.dumps({"kind": "manual_notification", "v": 1, "transaction_id": transaction_id, "email": EMAIL,
                       "template": "receipt", "requested_at": "2024-11-22T02:00:00Z", "request_id": "r1",
                       "vendor_id": vendor_id, "status": "succeeded", "amount": 1999, "currency": "usd"})


def sqs_event(*bodies: str, receive_count: int = 1) -> dict:
    return {"Records": [
        {"messageId": f"m{i}", "receiptHandle": f"rh{i}", "body": body,
         "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1732237200000"},
         "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
         "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:notifications-test", "awsRegion": REGION}
        for i, body in enumerate(bodies)]}


def inbox(url) -> list[dict]:
    got = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                                  MessageAttributeNames=["All"])
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_status_change_reaches_only_the_vendor_of_the_sale(notifier, topic):
    _, inboxes = topic
    response = notifier.handler(sqs_event(status_event(vendor_id="vendor-1")), FakeContext())
    assert response == {"batchItemFailures": []}
    [message] = inbox(inboxes["vendor-1"])
    assert message["transaction_id"] == "pi_1" and message["status"] == "succeeded"
    assert message["amount"] == 1999
    assert inbox(inboxes["vendor-2"]) == []


def test_same_status_change_twice_is_published_once_and_leaves_a_ttl_marker(notifier, topic, markers, ledger):
    _, inboxes = topic
    notifier.handler(sqs_event(status_event()), FakeContext())
    notifier.handler(sqs_event(status_event(), status_event()), FakeContext())
    assert len(inbox(inboxes["vendor-1"])) == 1
    marker = markers.get_item(Key={"transaction_id": "pi_1", "marker": SALE_MARKER})["Item"]
    assert marker["marker_state"] == "done"
    assert marker["expires_at"] >= int(time.time()) + 7 * 24 * 3600 - 60
    assert ledger.scan()["Items"] == []  # nothing but the processor writes the ledger


def test_a_refund_event_publishes_the_sale_first_then_the_refund_with_the_running_totals(notifier, topic):
    _, inboxes = topic
    # the refund's domain event is the first to arrive (the bus does not keep order)
    assert notifier.handler(sqs_event(status_event(status="refunded", kinds=["succeeded"])), FakeContext()) == {
        "batchItemFailures": []}
    assert notifier.handler(sqs_event(status_event()), FakeContext()) == {"batchItemFailures": []}  # the sale's, late
    messages = inbox(inboxes["vendor-1"])
    assert [(m["event_type"], m["sequence"], m["status"], m["amount"], m["refunded_amount"], m["net_amount"])
            for m in messages] == [("payment.succeeded", 1, "succeeded", 1999, 0, 1999),
                                   ("payment.refunded", 2, "refunded", 1999, 1999, 0)]


def test_a_refund_held_for_its_sale_is_watched_until_the_sale_is_published(notifier, topic, capsys):
    _, inboxes = topic
    held = json.dumps(domain_event("pi_1", ["refunded"], vendor_id="vendor-1"))  # the refund came first: held
    assert notifier.handler(sqs_event(held), FakeContext()) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert inbox(inboxes["vendor-1"]) == []
    assert '"LifecycleAwaitingSale"' in capsys.readouterr().out
    sale = json.dumps(domain_event("pi_1", ["refunded", "succeeded"], vendor_id="vendor-1"))  # releases the refund
    assert notifier.handler(sqs_event(sale, held), FakeContext()) == {"batchItemFailures": []}
    assert [m["event_type"] for m in inbox(inboxes["vendor-1"])] == ["payment.succeeded", "payment.refunded"]


def test_a_watch_whose_sale_never_comes_ends_on_the_queue_s_last_receive_counted_for_the_alarm(
        notifier, topic, capsys, logs, monkeypatch):
    monkeypatch.setenv("NOTIFICATIONS_MAX_RECEIVE_COUNT", "3")  # the queue's maxReceiveCount
    _, inboxes = topic
    held = json.dumps(domain_event("pi_1", ["refunded"], vendor_id="vendor-1"))
    failed = {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [notifier.handler(sqs_event(held, receive_count=n), FakeContext()) for n in (1, 2)] == [failed, failed]
    assert '"LifecycleSaleMissing"' not in capsys.readouterr().out
    # the last receive before the queue would dead-letter it: the watch ends, counted and logged
    assert notifier.handler(sqs_event(held, receive_count=3), FakeContext()) == {"batchItemFailures": []}
    out = capsys.readouterr().out
    [blob] = [json.loads(x) for x in out.splitlines() if x.startswith("{") and '"LifecycleSaleMissing"' in x]
    # what the lifecycle-sale-missing alarm watches: the metric with the service dimension only
    assert (blob["LifecycleSaleMissing"], blob["service"], blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) == (
        [1.0], "payment-webhooks", [["service"]])
    assert '"LifecycleAwaitingSale"' not in out
    [line] = [json.loads(x) for x in logs if "its sale did not come" in x]
    assert (line["level"], line["transaction_id"]) == ("WARNING", "pi_1")
    assert inbox(inboxes["vendor-1"]) == []
    # the sale, whenever it comes, still tells the sale and then the refund held for it
    sale = json.dumps(domain_event("pi_1", ["refunded", "succeeded"], vendor_id="vendor-1"))
    assert notifier.handler(sqs_event(sale), FakeContext()) == {"batchItemFailures": []}
    assert [m["event_type"] for m in inbox(inboxes["vendor-1"])] == ["payment.succeeded", "payment.refunded"]


def test_manual_notifications_bypass_the_marker(notifier, topic):
    _, inboxes = topic
    notifier.handler(sqs_event(status_event()), FakeContext())
    notifier.handler(sqs_event(manual(), manual()), FakeContext())
    messages = inbox(inboxes["vendor-1"])
    assert sorted(m["type"] for m in messages) == [
        "payment.manual_notification", "payment.manual_notification", "payment.status_changed"]


def test_unknown_vendor_is_published_and_counted(notifier, topic, capsys, monkeypatch):
    _, inboxes = topic
    response = notifier.handler(sqs_event(status_event("pi_2", vendor_id=None)), FakeContext())
    assert response == {"batchItemFailures": []}
    monkeypatch.setenv("KNOWN_VENDORS", "vendor-1")
    notifier.handler(sqs_event(status_event("pi_3", vendor_id="vendor-9")), FakeContext())
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert sum(m.get("UnknownVendorNotifications", [0])[0] for m in emf) == 2
    assert sum(m.get("NotificationsPublished", [0])[0] for m in emf) == 2
    assert inbox(inboxes["vendor-1"]) == [] and inbox(inboxes["vendor-2"]) == []


def test_only_the_bad_message_of_a_batch_is_reported(notifier, topic):
    response = notifier.handler(sqs_event(status_event(), "not json", json.dumps({"hello": 1})), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_publish_failure_releases_the_claim_so_the_retry_publishes(notifier, topic, markers, monkeypatch):
    _, inboxes = topic
    real = notifier.sns_client()

    class Down:
        def publish(self, **kwargs):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    monkeypatch.setattr(notifier, "sns_client", lambda: Down())
    response = notifier.handler(sqs_event(status_event(), manual()), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert "Item" not in markers.get_item(Key={"transaction_id": "pi_1", "marker": SALE_MARKER})

    monkeypatch.setattr(notifier, "sns_client", lambda: real)
    assert notifier.handler(sqs_event(status_event()), FakeContext()) == {"batchItemFailures": []}
    assert len(inbox(inboxes["vendor-1"])) == 1


def test_a_claim_held_by_another_invocation_is_retried_later(notifier, topic, markers):
    markers.put_item(Item={"transaction_id": "pi_1", "marker": SALE_MARKER,
                          "marker_state": "in_progress", "lease_until": int(time.time()) + 100,
                          "expires_at": int(time.time()) + 1000})
    response = notifier.handler(sqs_event(status_event(), status_event("pi_2")), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_an_expired_claim_is_taken_over(notifier, topic, markers):
    _, inboxes = topic
    markers.put_item(Item={"transaction_id": "pi_1", "marker": SALE_MARKER,
                          "marker_state": "in_progress", "lease_until": int(time.time()) - 1,
                          "expires_at": int(time.time()) + 1000})
    assert notifier.handler(sqs_event(status_event()), FakeContext()) == {"batchItemFailures": []}
    assert len(inbox(inboxes["vendor-1"])) == 1


def test_logs_never_contain_the_email_or_message_bodies(notifier, topic, logs, capsys):
    notifier.handler(sqs_event(manual(), manual(vendor_id="")), FakeContext())
    text = "\n".join(logs) + capsys.readouterr().out
    assert logs
    assert EMAIL not in text and "support-target" not in text
