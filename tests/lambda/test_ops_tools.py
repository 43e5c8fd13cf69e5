"""Ops tools: DLQ redrive (FIFO-aware, dry run) and secrets (contract names, values never printed)."""
from __future__ import annotations

import io
import json

import boto3
import pytest

from downstream_fixtures import REGION, aws_env  # noqa: F401  (fixture)

from scripts.ops import redrive_dlq, replay_archive, set_secrets


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


def test_dry_run_counts_and_moves_nothing(fifo_pair, capsys):
    sqs, dlq, source = fifo_pair
    assert redrive_dlq.main(["--env", "test", "--dlq", "webhooks-dlq-{env}.fifo", "--dry-run"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["waiting"] == 3 and result["moved"] == 0 and result["target"] == source
    assert receive_all(sqs, source) == []


def test_redrive_keeps_group_and_attributes_with_a_new_dedup_id(fifo_pair):
    sqs, dlq, source = fifo_pair
    result = redrive_dlq.redrive(sqs, dlq, redrive_dlq.source_of(sqs, dlq))
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


def test_set_secrets_writes_contract_names_and_never_prints_values(aws_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("whsec_from_stdin_value\n"))
    assert set_secrets.main(["--env", "test", "--provider", "stripe", "--signing-secret-file", "-",
                             "--generate-gate-key"]) == 0
    out = capsys.readouterr().out
    sm = boto3.client("secretsmanager", region_name=REGION)
    signing = json.loads(sm.get_secret_value(SecretId="payment-webhooks/test/stripe/signing")["SecretString"])
    gate = json.loads(sm.get_secret_value(SecretId="payment-webhooks/test/stripe/gate-key")["SecretString"])
    assert signing == {"current": "whsec_from_stdin_value"}
    assert len(gate["current"]) >= 40
    assert "whsec_from_stdin_value" not in out and gate["current"] not in out
    assert "payment-webhooks/test/stripe/signing" in out


def test_rotation_keeps_the_previous_value_and_show_prints(aws_env, capsys):
    set_secrets.main(["--env", "test", "--provider", "stripe", "--signing-secret", "whsec_one"])
    set_secrets.main(["--env", "test", "--provider", "stripe", "--signing-secret", "whsec_two", "--rotate", "--show"])
    sm = boto3.client("secretsmanager", region_name=REGION)
    value = json.loads(sm.get_secret_value(SecretId="payment-webhooks/test/stripe/signing")["SecretString"])
    assert value == {"current": "whsec_two", "previous": "whsec_one"}
    assert "whsec_two" in capsys.readouterr().out


def test_paypal_signing_secret_is_the_webhook_id(aws_env):
    set_secrets.main(["--env", "test", "--provider", "paypal", "--signing-secret", "WH-1"])
    set_secrets.main(["--env", "test", "--provider", "paypal", "--signing-secret", "WH-2", "--rotate"])
    sm = boto3.client("secretsmanager", region_name=REGION)
    value = json.loads(sm.get_secret_value(SecretId="payment-webhooks/test/paypal/signing")["SecretString"])
    assert value == {"webhook_id": "WH-2", "previous_webhook_id": "WH-1"}


def test_set_secrets_without_values_is_an_error(aws_env):
    with pytest.raises(SystemExit):
        set_secrets.main(["--env", "test", "--provider", "stripe"])


def cursor_key_secret() -> dict:
    sm = boto3.client("secretsmanager", region_name=REGION)
    return json.loads(sm.get_secret_value(SecretId="payment-webhooks/test/query/cursor-key")["SecretString"])


def test_generated_cursor_key_is_written_under_the_contract_name_and_never_printed(aws_env, capsys):
    assert set_secrets.main(["--env", "test", "--generate-cursor-key"]) == 0
    value = cursor_key_secret()
    assert set(value) == {"current"} and len(value["current"]) >= 43  # 256 bits, URL-safe base64
    out = capsys.readouterr().out
    assert "payment-webhooks/test/query/cursor-key" in out and value["current"] not in out


def test_cursor_key_rotation_keeps_the_previous_key(aws_env, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("cursor-key-from-stdin-0123456789abcdef\n"))
    set_secrets.main(["--env", "test", "--cursor-key-file", "-"])
    set_secrets.main(["--env", "test", "--generate-cursor-key", "--rotate"])
    value = cursor_key_secret()
    assert value["previous"] == "cursor-key-from-stdin-0123456789abcdef" and value["current"] != value["previous"]


def test_the_reader_accepts_the_cursor_key_set_secrets_writes(aws_env, monkeypatch):
    from paycore import cursor
    from paycore.secrets import SecretStore

    set_secrets.main(["--env", "test", "--generate-cursor-key"])
    store = SecretStore(boto3.client("secretsmanager", region_name=REGION), prefix="payment-webhooks/test/")
    assert cursor.load_cursor_keys(store).signing == cursor_key_secret()["current"].encode()


@pytest.mark.parametrize("argv", [["--cursor-key-file", "-"], ["--signing-secret", "whsec_x"]])
def test_short_cursor_key_or_provider_secret_without_provider_is_an_error(aws_env, monkeypatch, argv):
    monkeypatch.setattr("sys.stdin", io.StringIO("too-short\n"))
    with pytest.raises(SystemExit):
        set_secrets.main(["--env", "test", *argv])
    sm = boto3.client("secretsmanager", region_name=REGION)
    assert sm.list_secrets()["SecretList"] == []


def test_help_mentions_endpoint_and_env(capsys):
    for module in (redrive_dlq, set_secrets, replay_archive):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        text = capsys.readouterr().out
        assert "--endpoint-url" in text and "--env" in text


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
