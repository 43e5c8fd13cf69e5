"""Notify API: validated manual re-notification requests go to the notifications queue."""
from __future__ import annotations

import json
import logging

import boto3
import pytest

from downstream_fixtures import (  # noqa: F401  (fixtures)
    REGION,
    FakeContext,
    apigw_event,
    aws_env,
    fresh,
    ledger,
    state_item,
)

EMAIL = "buyer.name+tag@example.com"


@pytest.fixture
def queue_url(aws_env, monkeypatch):
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="notifications-test")["QueueUrl"]
    monkeypatch.setenv("NOTIFICATIONS_QUEUE_URL", url)
    return url


@pytest.fixture
def notify(ledger, queue_url):
    return fresh("manual_notify_handler")


@pytest.fixture
def logs(notify):
    lines: list[str] = []
    formatter = notify.logger.registered_formatter

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(formatter.format(record))

    handler = Capture()
    notify.logger._logger.addHandler(handler)
    yield lines
    notify.logger._logger.removeHandler(handler)


def post(module, transaction_id, body):
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = apigw_event("POST", f"/transactions/{transaction_id}/notify", body=raw)
    response = module.handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"])


def queued(url):
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_notify_queues_a_manual_notification_and_answers_202(notify, ledger, queue_url, logs):
    ledger.put_item(Item=state_item("pi_1"))

    code, body = post(notify, "pi_1", {"email": EMAIL, "template": "receipt"})

    assert code == 202
    assert body["status"] == "accepted" and body["message_id"]
    [message] = queued(queue_url)
    assert message["kind"] == "manual_notification"
    assert message["transaction_id"] == "pi_1"
    assert message["email"] == EMAIL and message["template"] == "receipt"
    assert message["vendor_id"] == "vendor-1"
    assert logs and not any(EMAIL in line or "buyer.name" in line for line in logs)


def test_notify_for_a_transaction_that_does_not_exist_is_404(notify, queue_url):
    code, body = post(notify, "pi_missing", {"email": EMAIL, "template": "receipt"})
    assert code == 404 and body["error"]["code"] == "not_found"
    assert queued(queue_url) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not-an-email", "template": "receipt"}, "invalid_email"),
        ({"email": "a@b", "template": "receipt"}, "invalid_email"),
        ({"email": EMAIL, "template": "marketing"}, "invalid_template"),
        ({"email": EMAIL}, "invalid_template"),
        ({"email": EMAIL, "template": "receipt", "cc": "x@example.com"}, "invalid_body"),
        (["email"], "invalid_body"),
        ("{not json", "invalid_body"),
        (None, "invalid_body"),
        ({"email": "x" * 250 + "@example.com", "template": "refund"}, "invalid_email"),
    ],
)
def test_invalid_notify_bodies_are_400(notify, ledger, queue_url, body, code, logs):
    ledger.put_item(Item=state_item("pi_1"))
    status, answer = post(notify, "pi_1", body)
    assert status == 400
    assert answer["error"]["code"] == code
    assert queued(queue_url) == []
    assert not any(EMAIL in line for line in logs)


def test_invalid_transaction_id_is_400(notify, queue_url):
    status, answer = post(notify, "bad id!", {"email": EMAIL, "template": "receipt"})
    assert status == 400 and answer["error"]["code"] == "invalid_id"


def test_deeply_nested_notify_body_is_400_not_500(notify, ledger, queue_url):
    ledger.put_item(Item=state_item("pi_1"))
    status, answer = post(notify, "pi_1", "[" * 1500 + "]" * 1500)  # under 4 KB, deeper than a parser goes
    assert (status, answer["error"]["code"]) == (400, "invalid_body")
    assert "nested" in answer["error"]["message"]
    assert queued(queue_url) == []


def test_notify_body_that_is_not_utf8_is_400_not_500(notify, ledger, queue_url):
    import base64

    ledger.put_item(Item=state_item("pi_1"))
    event = apigw_event("POST", "/transactions/pi_1/notify",
                        body=base64.b64encode(b'{"email": "\xff\xfe", "template": "receipt"}').decode())
    event["isBase64Encoded"] = True
    response = notify.handler(event, FakeContext())
    answer = json.loads(response["body"])
    assert (response["statusCode"], answer["error"]["code"]) == (400, "invalid_body")
    assert "UTF-8" in answer["error"]["message"]
    assert queued(queue_url) == []
