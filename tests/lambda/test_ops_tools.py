"""Ops tools as libraries: DLQ redrive (FIFO-aware, dry run) and secrets (contract names and shapes, rotation).
The commands around them (`python -m scripts.ops`) are tested in tests/test_ops_cli.py."""
from __future__ import annotations

import json

import boto3
import pytest

from downstream_fixtures import REGION, aws_env  # noqa: F401  (fixture)

from scripts.ops import redrive_dlq, set_secrets


@pytest.fixture
def fifo_pair(aws_env):
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="webhooks-dlq-test.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName="webhooks-test.fifo", Attributes={
        "FifoQueue": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    })["QueueUrl"]
    for i, group in enumerate(["pi_1", "pi_1", "pi_2"]):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": i}), MessageGroupId=group,
                         MessageDeduplicationId=f"evt_{i}",
                         MessageAttributes={"replayed_from": {"DataType": "String", "StringValue": "x"}})
    return sqs, dlq, source


def receive_all(sqs, url):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                              MessageAttributeNames=["All"]).get("Messages", [])
    return got


def test_dry_run_counts_and_moves_nothing(fifo_pair):
    sqs, dlq, source = fifo_pair
    result = redrive_dlq.redrive(sqs, dlq, source, dry_run=True)
    assert result["waiting"] == 3 and result["moved"] == 0 and result["target"] == source
    assert receive_all(sqs, source) == []


def test_redrive_keeps_group_and_attributes_with_a_new_dedup_id(fifo_pair):
    sqs, dlq, source = fifo_pair
    result = redrive_dlq.redrive(sqs, dlq, source)
    assert result["moved"] == 3
    moved = receive_all(sqs, source)
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == [0, 1, 2]
    groups = sorted(m["Attributes"]["MessageGroupId"] for m in moved)
    assert groups == ["pi_1", "pi_1", "pi_2"]
    for message in moved:
        assert message["Attributes"]["MessageDeduplicationId"].startswith("redrive-")
        assert message["MessageAttributes"]["replayed_from"]["StringValue"] == "x"
    assert redrive_dlq.approximate_count(sqs, dlq) == 0


def test_redrive_respects_max(fifo_pair):
    sqs, dlq, source = fifo_pair
    assert redrive_dlq.redrive(sqs, dlq, source, max_messages=1)["moved"] == 1


PREFIX = "payment-webhooks/test/"


def secret(name: str) -> dict:
    sm = boto3.client("secretsmanager", region_name=REGION)
    return json.loads(sm.get_secret_value(SecretId=f"{PREFIX}{name}")["SecretString"])


def test_set_secrets_writes_contract_names(aws_env):
    sm = boto3.client("secretsmanager", region_name=REGION)
    done = set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="stripe", signing="whsec_from_the_dashboard",
                                            gate_key="a-gate-key-of-enough-characters")
    assert {name: outcome["action"] for name, outcome in done.items()} == {
        "payment-webhooks/test/stripe/signing": "created", "payment-webhooks/test/stripe/gate-key": "created"}
    assert secret("stripe/signing") == {"current": "whsec_from_the_dashboard"}
    assert secret("stripe/gate-key") == {"current": "a-gate-key-of-enough-characters"}


def test_rotation_keeps_the_previous_value(aws_env):
    sm = boto3.client("secretsmanager", region_name=REGION)
    set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="stripe", signing="whsec_one", gate_key=None)
    set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="stripe", signing="whsec_two", gate_key=None,
                                     rotate=True)
    assert secret("stripe/signing") == {"current": "whsec_two", "previous": "whsec_one"}
    set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="stripe", signing="whsec_three", gate_key=None)
    assert secret("stripe/signing") == {"current": "whsec_three"}  # without --rotate: no previous


def test_paypal_signing_secret_is_the_webhook_id(aws_env):
    sm = boto3.client("secretsmanager", region_name=REGION)
    set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="paypal", signing="WH1", gate_key=None)
    set_secrets.set_provider_secrets(sm, prefix=PREFIX, provider="paypal", signing="WH2", gate_key=None, rotate=True)
    assert secret("paypal/signing") == {"webhook_id": "WH2", "previous_webhook_id": "WH1"}


def test_cursor_key_rotation_keeps_the_previous_key(aws_env):
    sm = boto3.client("secretsmanager", region_name=REGION)
    set_secrets.set_cursor_key(sm, prefix=PREFIX, key="cursor-key-from-stdin-0123456789abcdef")
    set_secrets.set_cursor_key(sm, prefix=PREFIX, key="a-second-cursor-key-0123456789abcdef", rotate=True)
    value = secret("query/cursor-key")
    assert value == {"current": "a-second-cursor-key-0123456789abcdef",
                     "previous": "cursor-key-from-stdin-0123456789abcdef"}


def test_the_reader_accepts_the_cursor_key_set_secrets_writes(aws_env):
    from paycore import cursor
    from paycore.secrets import SecretStore

    sm = boto3.client("secretsmanager", region_name=REGION)
    set_secrets.set_cursor_key(sm, prefix=PREFIX, key="cursor-key-0123456789abcdef-0123456789")
    store = SecretStore(sm, prefix=PREFIX)
    assert cursor.load_cursor_keys(store).signing == secret("query/cursor-key")["current"].encode()


def test_a_short_cursor_key_is_refused_and_nothing_written(aws_env):
    sm = boto3.client("secretsmanager", region_name=REGION)
    with pytest.raises(ValueError, match="at least 32 characters"):
        set_secrets.set_cursor_key(sm, prefix=PREFIX, key="too-short")
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("provider,value,fits", [
    ("stripe", "whsec_5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d", True),
    ("stripe", "sk_live_51Habcdefghijklmnop", False),  # an API key, not the endpoint's signing secret
    ("stripe", "whsec_", False),
    ("paypal", "8PT597110X687430LKGECATA", True),
    ("paypal", "WH-LOCAL-E2E-0001", False),  # PayPal's schema: ^[a-zA-Z0-9]+$
    ("paypal", "whsec_5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d", False),
])
def test_signing_values_must_have_the_shape_the_provider_documents(provider, value, fits):
    shape = set_secrets.SIGNING_SHAPES[provider]
    assert bool(shape[0].fullmatch(value)) is fits


def test_listing_prefixes_stay_few_for_wide_ranges():
    from paycore import archive

    assert len(archive.listing_prefixes("stripe", 0, 2**42)) < 200
    assert archive.listing_prefixes("stripe", 1_732_237_200_000, 1_732_237_200_000) == ["raw/stripe/2024/11/22/01/"]
    days = archive.listing_prefixes("stripe", 1_732_237_200_000, 1_732_237_200_000 + 10 * 86_400_000)
    assert days[0] == "raw/stripe/2024/11/22/" and len(days) == 11


def test_redrive_parks_a_message_that_failed_again_and_moves_the_rest(fifo_pair):
    sqs, dlq, source = fifo_pair
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="archive-test")
    first = redrive_dlq.redrive(sqs, dlq, source, s3=s3, park_bucket="archive-test")
    assert (first["moved"], first["parked"]) == (3, 0)
    # the processor fails {"n": 2} again: the queue dead-letters it with its redrive_count
    for message in receive_all(sqs, source):
        sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
        if json.loads(message["Body"])["n"] == 2:
            assert message["MessageAttributes"]["redrive_count"]["StringValue"] == "1"
            sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"], MessageGroupId="pi_2",
                             MessageDeduplicationId="again", MessageAttributes=message["MessageAttributes"])
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": 3}), MessageGroupId="pi_3", MessageDeduplicationId="new")
    second = redrive_dlq.redrive(sqs, dlq, source, s3=s3, park_bucket="archive-test")
    assert (second["moved"], second["parked"]) == (1, 1)
    (key,) = second["parked_keys"]
    assert key.startswith("parked/webhooks-dlq-test.fifo/")
    document = json.loads(s3.get_object(Bucket="archive-test", Key=key)["Body"].read())
    assert json.loads(document["message_body"]) == {"n": 2} and document["message_group_id"] == "pi_2"
    assert [json.loads(m["Body"])["n"] for m in receive_all(sqs, source)] == [3]
    assert redrive_dlq.approximate_count(sqs, dlq) == 0


def test_redrive_without_a_park_bucket_moves_everything(fifo_pair):
    sqs, dlq, source = fifo_pair
    for message in receive_all(sqs, dlq):  # pretend each was redriven before
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"], MessageGroupId=message["Attributes"]["MessageGroupId"],
                         MessageDeduplicationId=message["MessageId"] + "x",
                         MessageAttributes={"redrive_count": {"DataType": "Number", "StringValue": "4"}})
    result = redrive_dlq.redrive(sqs, dlq, source)
    assert (result["moved"], result["parked"]) == (3, 0)
    assert {m["MessageAttributes"]["redrive_count"]["StringValue"] for m in receive_all(sqs, source)} == {"5"}


def test_check_paypal_cert_reports_trusted_untrusted_and_unavailable(paypal_keys):
    from datetime import datetime, timezone

    from handler_constants import NOW_S

    from scripts.ops import check_paypal_cert
    at = datetime.fromtimestamp(NOW_S, tz=timezone.utc)
    authority = paypal_keys.authority
    impostor = authority.chain_pem(authority.issue_leaf(paypal_keys.key, self_signed=True), with_intermediate=False)
    cases = [(paypal_keys.pem, 0, "trusted"), (impostor, 1, "NOT TRUSTED: untrusted_certificate"),
             (b"<html>down</html>", 2, "UNAVAILABLE")]
    for served, status, text in cases:
        got = check_paypal_cert.check(paypal_keys.url, fetch=lambda _url, pem=served: pem, at=at)
        assert got[0] == status and got[1].startswith(text)
    assert check_paypal_cert.check("https://evil.example/cert", at=at)[0] == 1
