"""POST /payments: validation, enqueue on the FIFO queue, and the processor accepting the result."""
from __future__ import annotations

import base64
import json

import pytest
from apigateway_events import IamCaller, proxy_event, synthesized_api
from handler_constants import IDEMPOTENCY_TABLE, INTERNAL_KEY, NOW_MS, SECRET_PREFIX

import processor_handler
import validator_handler
from paycore.envelope import build_envelope, parse_envelope
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
    assert (envelope["provider"], envelope["received_at"]) == ("direct", NOW_MS)
    assert set(envelope["headers"]) == {"idempotency-key", "internal-signature"}
    assert envelope["headers"]["idempotency-key"] == KEY
    # signed with the internal envelope key, as kind direct
    from paycore import internal_envelope

    internal_envelope.verify(parse_envelope(message["Body"]), "direct", {"current": INTERNAL_KEY})


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
    from paycore import internal_envelope

    raw = json.dumps({**GOOD, "status": "succeeded", "transaction_id": direct.transaction_id_for(KEY), "extra": 1}).encode()
    body = internal_envelope.sign(build_envelope(
        provider="direct", received_at=NOW_MS, request_id="req-x", source_ip="10.1.2.3",
        headers={direct.IDEMPOTENCY_HEADER: KEY}, raw=raw), "direct", {"current": INTERNAL_KEY}).to_json()
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for(KEY)) is None


# ---------------------------------------------------------------- the Idempotency-Key (issue 25, item 11)

def process_queue(aws, lambda_context, sqs_event) -> None:
    bodies = [m["Body"] for m in receive(aws)]
    if bodies:
        assert processor_handler.handler(sqs_event(bodies), lambda_context) == {"batchItemFailures": []}


def test_a_key_reused_with_another_body_is_a_422_while_the_first_request_is_queued(aws, lambda_context):
    first = validator_handler.handler(api_event(GOOD), lambda_context)
    other = validator_handler.handler(api_event({**GOOD, "amount": 99_999}), lambda_context)
    assert first["statusCode"] == 202
    assert other["statusCode"] == 422 and json.loads(other["body"])["code"] == "idempotency_key_reused"
    [message] = receive(aws)  # only the first request is on the queue
    assert json.loads(base64.b64decode(json.loads(message["Body"])["body_b64"]))["amount"] == 1999


def test_a_key_reused_with_another_body_is_a_422_once_the_first_request_is_recorded(aws, lambda_context, sqs_event):
    assert validator_handler.handler(api_event(GOOD), lambda_context)["statusCode"] == 202
    process_queue(aws, lambda_context, sqs_event)
    # the request table forgot it (its TTL, or a request from before it existed): the ledger answers
    aws.dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"transaction_id": {"S": direct.transaction_id_for(KEY)},
                                                               "marker": {"S": "REQUEST"}})
    other = validator_handler.handler(api_event({**GOOD, "vendor_id": "vendor_2"}), lambda_context)
    assert other["statusCode"] == 422 and json.loads(other["body"])["code"] == "idempotency_key_reused"
    assert receive(aws) == []
    state = Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for(KEY))
    assert (state["vendor_id"], state["amount"]) == ("vendor_1", 1999)


def test_the_same_key_and_body_get_the_first_answer_again(aws, lambda_context, sqs_event):
    first = validator_handler.handler(api_event(GOOD), lambda_context)
    queued_again = validator_handler.handler(api_event(GOOD), lambda_context)  # still queued: sent again, deduplicated
    process_queue(aws, lambda_context, sqs_event)
    recorded = validator_handler.handler(api_event(GOOD), lambda_context)  # recorded: nothing is sent
    assert first["statusCode"] == queued_again["statusCode"] == recorded["statusCode"] == 202
    assert first["body"] == queued_again["body"] == recorded["body"]
    assert receive(aws) == []
    assert len(Ledger(aws.dynamodb, aws.table).get_events(direct.transaction_id_for(KEY))) == 1


def test_a_status_given_explicitly_is_the_same_request_as_its_default(aws, lambda_context):
    # the key is bound to the canonical request: "status": "succeeded" is what an absent status means
    assert validator_handler.handler(api_event(GOOD), lambda_context)["statusCode"] == 202
    assert validator_handler.handler(api_event({**GOOD, "status": "succeeded"}), lambda_context)["statusCode"] == 202
    assert validator_handler.handler(api_event({**GOOD, "status": "pending"}), lambda_context)["statusCode"] == 422


def test_two_requests_racing_with_one_key_are_decided_by_the_request_table(aws):
    from paycore.idempotency import NEW, PENDING, REUSED, DirectRequests

    requests = DirectRequests(aws.dynamodb, ledger_table=aws.table, requests_table=IDEMPOTENCY_TABLE)
    assert requests.claim("pay_x", "a" * 64) == NEW
    assert requests.claim("pay_x", "b" * 64) == REUSED
    assert requests.claim("pay_x", "a" * 64) == PENDING
    item = aws.dynamodb.get_item(TableName=IDEMPOTENCY_TABLE, Key={"transaction_id": {"S": "pay_x"},
                                                                   "marker": {"S": "REQUEST"}})["Item"]
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) > 14 * 86_400  # outlives the queue's retention


def test_the_request_table_down_is_a_503_and_nothing_is_sent(aws):
    sent = []

    def failing_claim(*args, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")

    result = validator_handler.handle_payment_request(api_event(GOOD), send=lambda **kw: sent.append(kw),
                                                      claim=failing_claim)
    assert result["statusCode"] == 503 and sent == []


@pytest.mark.parametrize("value", ["{}", '{"current": "too-short"}', "not json"])
def test_an_unusable_internal_key_is_a_503_not_an_unsigned_payment(aws, lambda_context, value, capsys):
    aws.secretsmanager.put_secret_value(SecretId=f"{SECRET_PREFIX}internal/envelope-key", SecretString=value)
    result = validator_handler.handler(api_event(GOOD), lambda_context)
    assert result["statusCode"] == 503 and receive(aws) == []
    assert "SigningSecretUnusable" in capsys.readouterr().out
