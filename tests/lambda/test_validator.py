"""POST /payments: validation, enqueue on the FIFO queue, and the processor accepting the result."""
from __future__ import annotations

import json

import pytest
from apigateway_events import IamCaller, proxy_event, synthesized_api
from handler_constants import NOW_MS

import processor_handler
import validator_handler
from paycore.envelope import build_envelope
from paycore.ledger import Ledger
from paycore.providers import direct

KEY = "order-2024-000001"
API = synthesized_api("dev")
CALLER = IamCaller(user_arn="arn:aws:iam::123456789012:user/shop")


def api_event(body, *, key=KEY, base64_body=False):
    """POST /payments as API Gateway sends it to the validator (AWS_PROXY, AWS_IAM caller); a
    base64 body is what AWS would send only if the API listed binary media types (it lists none)."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    text = body if isinstance(body, str) else json.dumps(body)
    event = proxy_event(API, "POST", "/payments", headers=headers, body=text, caller=CALLER, request_id="req-pay-1",
                        request_time_ms=NOW_MS, source_ip="10.1.2.3")
    event["isBase64Encoded"] = base64_body
    return event


GOOD = {"amount": 1999, "currency": "EUR", "vendor_id": "vendor_1", "customer_id": "cust_9"}


def receive(aws):
    return aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])


def test_valid_payment_is_queued_and_answered_202(aws, lambda_context):
    result = validator_handler.handler(api_event(GOOD), lambda_context)
    assert result["statusCode"] == 202
    body = json.loads(result["body"])
    assert body == {"transaction_id": direct.transaction_id_for(KEY), "status": "accepted"}
    (message,) = receive(aws)
    assert message["Attributes"]["MessageDeduplicationId"] == f"direct:{KEY}"
    assert message["Attributes"]["MessageGroupId"] == body["transaction_id"]
    envelope = json.loads(message["Body"])
    assert (envelope["provider"], envelope["received_at"], envelope["headers"]) == ("direct", NOW_MS, {"idempotency-key": KEY})


def test_retry_with_the_same_key_gets_the_same_transaction_id(aws, lambda_context):
    first = json.loads(validator_handler.handler(api_event(GOOD), lambda_context)["body"])
    second = json.loads(validator_handler.handler(api_event(GOOD), lambda_context)["body"])
    other = json.loads(validator_handler.handler(api_event(GOOD, key="order-2024-000002"), lambda_context)["body"])
    assert first["transaction_id"] == second["transaction_id"] != other["transaction_id"]
    assert len(receive(aws)) == 2  # the retry is deduplicated by the FIFO queue


def test_every_problem_is_listed_in_one_400(aws, lambda_context):
    bad = {"amount": -5, "currency": "eur", "vendor_id": "vendor 1; drop", "extra": 1}
    result = validator_handler.handler(api_event(bad, key=None), lambda_context)
    assert result["statusCode"] == 400
    errors = json.loads(result["body"])["errors"]
    assert len(errors) == 6, errors
    joined = " | ".join(errors)
    for word in ("Idempotency-Key", "unknown field(s): extra", "customer_id is required", "amount", "currency", "vendor_id"):
        assert word in joined
    assert "drop" not in joined  # values are not echoed
    assert receive(aws) == []


@pytest.mark.parametrize(
    "change",
    [{"amount": 0}, {"amount": 10.5}, {"amount": True}, {"amount": "100"}, {"currency": "ABC"}, {"customer_id": ""}, {"status": "refunded"}],
)
def test_each_invalid_field_is_a_400(aws, lambda_context, change):
    assert validator_handler.handler(api_event({**GOOD, **change}), lambda_context)["statusCode"] == 400


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_non_object_body_is_a_400(aws, lambda_context, body):
    result = validator_handler.handler(api_event(body), lambda_context)
    assert result["statusCode"] == 400 and "body must be a JSON object" in result["body"]


def test_bad_idempotency_key_is_a_400(aws, lambda_context):
    assert validator_handler.handler(api_event(GOOD, key="short"), lambda_context)["statusCode"] == 400


def test_base64_encoded_body_is_decoded(aws, lambda_context):
    import base64

    event = api_event(base64.b64encode(json.dumps(GOOD).encode()).decode(), base64_body=True)
    assert validator_handler.handler(event, lambda_context)["statusCode"] == 202


def test_envelope_bigger_than_the_queue_accepts_is_a_413_not_an_enqueue(aws):
    sent = []
    result = validator_handler.handle_payment_request(api_event(GOOD), send=lambda **kw: sent.append(kw), max_message_bytes=200)
    assert result["statusCode"] == 413 and sent == []


def test_queue_failure_is_a_503(aws, monkeypatch):
    monkeypatch.setattr(validator_handler, "QUEUE_URL", aws.queue_url + "-missing")
    result = validator_handler.handle_payment_request(api_event(GOOD), send=validator_handler.sqs.send_message)
    assert result["statusCode"] == 503


def test_processor_records_what_the_validator_queued(aws, lambda_context, sqs_event):
    validator_handler.handler(api_event(GOOD), lambda_context)
    (message,) = receive(aws)
    assert processor_handler.handler(sqs_event([message["Body"]]), lambda_context) == {"batchItemFailures": []}
    state = Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for(KEY))
    assert (state["status"], state["amount"], state["currency"], state["vendor_key"], state["customer_key"]) == ("succeeded", 1999, "EUR", "vendor_1", "cust_9")


@pytest.mark.parametrize("text", ["[" * 5_000 + "]" * 5_000, "{\"a\":" * 100_000 + "1" + "}" * 100_000])
def test_deeply_nested_body_is_400_not_a_crash(aws, lambda_context, text):
    result = validator_handler.handler(api_event(text), lambda_context)
    assert result["statusCode"] == 400
    assert "JSON object" in json.dumps(json.loads(result["body"])["errors"])
    assert receive(aws) == []


def test_body_that_is_not_utf8_is_400(aws, lambda_context):
    import base64

    text = base64.b64encode(b'{"amount": 1999, "currency": "\xff\xfe"}').decode()
    result = validator_handler.handler(api_event(text, base64_body=True), lambda_context)
    assert result["statusCode"] == 400
    assert receive(aws) == []


def test_the_api_model_and_the_validator_check_one_schema(aws, lambda_context):
    from constructs.app.request_models import REQUEST_MODELS

    assert REQUEST_MODELS["PaymentRequest"] is direct.PAYMENT_REQUEST_SCHEMA
    assert validator_handler.handler(api_event({**GOOD, "amount": 10.0}), lambda_context)["statusCode"] == 400  # draft 4
    assert direct.validate_request({**GOOD, "amount": 10.0}, KEY) == [
        f"amount must be a positive integer in minor units (at most {direct.MAX_AMOUNT})"]


def test_the_processor_refuses_a_direct_body_the_schema_refuses(aws, lambda_context, sqs_event):
    raw = json.dumps({**GOOD, "status": "succeeded", "transaction_id": direct.transaction_id_for(KEY), "extra": 1}).encode()
    body = build_envelope(provider="direct", received_at=NOW_MS, request_id="req-x", source_ip="10.1.2.3",
                          headers={direct.IDEMPOTENCY_HEADER: KEY}, raw=raw).to_json()
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for(KEY)) is None
