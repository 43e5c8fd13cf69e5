"""Archiver (Pipe A target): batched, idempotent, KMS-encrypted archive objects; partial failures."""
from __future__ import annotations

import base64
import gzip
import json
import logging

import boto3
import pytest
from botocore.exceptions import ClientError

from downstream_fixtures import (  # noqa: F401  (fixtures)
    BUCKET,
    REGION,
    FakeContext,
    archive_bucket,
    aws_env,
    event_item,
    fresh,
    state_item,
    stream_record,
    stripe_body,
)

from paycore import archive

HOUR_MS = 3_600_000


@pytest.fixture
def archiver(archive_bucket):
    return fresh("archiver_handler")


@pytest.fixture
def logs(archiver):
    """Every log line the handler writes, formatted as it would reach CloudWatch."""
    lines: list[str] = []
    formatter = archiver.logger.registered_formatter

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(formatter.format(record))

    handler = Capture()
    archiver.logger._logger.addHandler(handler)
    yield lines
    archiver.logger._logger.removeHandler(handler)


def s3():
    return boto3.client("s3", region_name=REGION)


def objects() -> list[str]:
    return [o["Key"] for o in s3().list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_batch_is_archived_as_one_object_with_exact_raw_bytes(archiver):
    records = [stream_record(event_item("pi_1", "evt_1"), seq=1),
               stream_record(event_item("pi_2", "evt_2", received_at=1732237200999), seq=2)]

    response = archiver.handler(records, FakeContext())

    assert response == {"batchItemFailures": []}
    keys = objects()
    assert len(keys) == 1
    assert keys[0].startswith("raw/stripe/2024/11/22/01/1732237200123-1732237200999-")
    stored = s3().get_object(Bucket=BUCKET, Key=keys[0])
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["Metadata"]["event-count"] == "2"
    events = list(archive.read_object(stored["Body"].read()))
    assert [e.event_id for e in events] == ["evt_1", "evt_2"]
    assert events[0].raw == stripe_body("evt_1", "pi_1")
    assert events[0].headers == {"stripe-signature": f"t=1732237200,v1={'0' * 64}"}
    assert events[0].received_at == 1732237200123


def test_retry_of_the_same_batch_writes_the_same_key_with_the_same_bytes(archiver):
    records = [stream_record(event_item("pi_1", "evt_1"), seq=1)]
    archiver.handler(records, FakeContext())
    first_key = objects()[0]
    first = s3().get_object(Bucket=BUCKET, Key=first_key)["Body"].read()

    archiver.handler(records, FakeContext())

    assert objects() == [first_key]
    assert s3().get_object(Bucket=BUCKET, Key=first_key)["Body"].read() == first


def test_single_event_object_carries_the_event_metadata(archiver):
    archiver.handler([stream_record(event_item("pi_1", "evt_1"))], FakeContext())
    meta = s3().head_object(Bucket=BUCKET, Key=objects()[0])["Metadata"]
    assert meta["provider"] == "stripe"
    assert meta["event-id"] == "evt_1"
    assert meta["transaction-id"] == "pi_1"
    assert meta["sha256"] == archive.ArchivedEvent("stripe", "e", "t", 0, stripe_body("evt_1", "pi_1")).sha256


def test_kms_key_from_the_environment_is_used(archiver, monkeypatch):
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("ARCHIVE_KMS_KEY_ARN", key_arn)
    archiver.handler([stream_record(event_item())], FakeContext())
    head = s3().head_object(Bucket=BUCKET, Key=objects()[0])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn


def test_events_of_different_providers_and_hours_go_to_separate_objects(archiver):
    records = [
        stream_record(event_item("pi_1", "evt_1"), seq=1),
        stream_record(event_item("pi_2", "evt_2", received_at=1732237200123 + HOUR_MS), seq=2),
        stream_record(event_item("PAY-1", "WH-1", provider="paypal", raw=b'{"id":"WH-1"}'), seq=3),
    ]
    archiver.handler(records, FakeContext())
    prefixes = sorted(k.rsplit("/", 1)[0] for k in objects())
    assert prefixes == ["raw/paypal/2024/11/22/01", "raw/stripe/2024/11/22/01", "raw/stripe/2024/11/22/02"]


def test_s3_failure_reports_only_the_records_of_the_failed_object(archiver, monkeypatch):
    real = archiver.s3_client()

    class FailingPaypal:
        def put_object(self, **kwargs):
            if kwargs["Key"].startswith("raw/paypal/"):
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "busy"}}, "PutObject")
            return real.put_object(**kwargs)

    monkeypatch.setattr(archiver, "s3_client", lambda: FailingPaypal())
    ok = stream_record(event_item("pi_1", "evt_1"), seq=1)
    bad = stream_record(event_item("PAY-1", "WH-1", provider="paypal", raw=b'{"id":"WH-1"}'), seq=2)

    response = archiver.handler([ok, bad], FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["eventID"]}]}
    assert [k.split("/")[1] for k in objects()] == ["stripe"]


def test_malformed_records_are_acknowledged_counted_and_do_not_block_the_batch(archiver, logs, capsys):
    good = stream_record(event_item("pi_1", "evt_1"), seq=1)
    no_image = {"eventID": "x1", "eventName": "INSERT", "dynamodb": {"Keys": {}}}
    broken_type = stream_record(event_item("pi_2", "evt_2"), seq=2)
    broken_type["dynamodb"]["NewImage"]["raw_gzip"] = {"B": "!!not base64!!"}
    not_gzip = stream_record(event_item("pi_3", "evt_3"), seq=3)
    not_gzip["dynamodb"]["NewImage"]["raw_gzip"] = {"B": base64.b64encode(b"plain").decode()}
    bad_hash = stream_record(event_item("pi_4", "evt_4"), seq=4)
    bad_hash["dynamodb"]["NewImage"]["raw_sha256"] = {"S": "0" * 64}

    response = archiver.handler([good, "garbage", no_image, broken_type, not_gzip, bad_hash], FakeContext())

    assert response == {"batchItemFailures": []}
    assert len(objects()) == 1
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert metrics[-1]["ArchiveInvalidRecords"] == [5.0]
    assert sum("unarchivable stream record" in line for line in logs) == 5


def test_record_without_payload_is_not_archived_and_not_retried(archiver, logs):
    item = event_item("pi_1", "evt_1")
    del item["raw_gzip"]
    response = archiver.handler([stream_record(item)], FakeContext())
    assert response == {"batchItemFailures": []}
    assert objects() == []
    assert any("no raw payload" in line for line in logs)


def test_rows_other_than_event_inserts_are_skipped(archiver):
    records = [stream_record(state_item(), "MODIFY"), stream_record(event_item(), "MODIFY")]
    assert archiver.handler(records, FakeContext()) == {"batchItemFailures": []}
    assert objects() == []


def test_event_source_mapping_shape_is_accepted(archiver):
    assert archiver.handler({"Records": [stream_record(event_item())]}, FakeContext()) == {"batchItemFailures": []}
    assert len(objects()) == 1


def test_logs_never_contain_payload_or_signature(archiver, logs, capsys):
    archiver.handler([stream_record(event_item()), {"eventID": "bad", "dynamodb": {"NewImage": {"x": 1}}}], FakeContext())
    text = "\n".join(logs) + capsys.readouterr().out
    assert logs, "the handler must log something for this check to mean anything"
    # the payload's card digits as the JSON string they are in it: a bare 4242 also occurs in the
    # metrics line's epoch-millisecond timestamp (it failed a suite run once)
    for secret in ('"4242"', "card_last4", "v1=000000", "payment_intent.succeeded\",\"data", "raw_gzip\":"):
        assert secret not in text


def test_object_key_and_bytes_depend_only_on_the_set_of_events():
    events = [archive.event_from_stream_record(stream_record(event_item("pi_1", f"evt_{i}", received_at=1732237200000 + i)))
              for i in range(3)]
    forward, backward = archive.build_object(events), archive.build_object(list(reversed(events)) + events[:1])
    assert forward.key == backward.key
    assert forward.body == backward.body
    assert gzip.decompress(forward.body).count(b"\n") == 3


def test_zd1_rows_and_older_gzip_rows_archive_the_same_exact_bytes(archiver):
    """Rows written since zd1 (raw_zd1, event_id/occurred_at only in the sort key) and older gzip
    rows of the same event give the same archive line."""
    from paycore import ledger, rawcodec

    old = event_item("pi_1", "evt_1")
    body = gzip.decompress(old["raw_gzip"])
    new = {k: v for k, v in old.items() if k not in ("raw_gzip", "event_id", "occurred_at")} | rawcodec.pack(body)
    assert ledger.event_key_fields(new)["event_id"] == "evt_1"

    archived = [archive.event_from_stream_record(stream_record(item)) for item in (old, new)]

    assert archived[0] == archived[1]
    assert archived[1].raw == body and archived[1].occurred_at == old["occurred_at"]
    response = archiver.handler([stream_record(new, seq=1)], FakeContext())
    assert response == {"batchItemFailures": []} and len(objects()) == 1


def test_zd1_row_that_does_not_decode_is_not_archived(archiver, logs):
    item = {k: v for k, v in event_item("pi_1", "evt_1").items() if k != "raw_gzip"} | {"raw_zd1": b"\xff\x00garbage"}
    response = archiver.handler([stream_record(item)], FakeContext())
    assert response == {"batchItemFailures": []}
    assert objects() == []
    assert any("raw_zd1 is not" in line for line in logs)


def test_every_lifecycle_event_row_passes_pipe_a_and_is_archived_byte_for_byte(archiver):
    """Refunds, reversals and disputes are event rows like a sale's: each fixture's row, as the
    ledger writes it, passes Pipe A's deployed filter and is archived with its exact raw bytes."""
    from lifecycle_events import DATA

    from paycore import events, providers
    from paycore.envelope import build_envelope
    from paycore.ledger import event_item as ledger_event_item
    from scripts.local.runner import eventbridge

    records, raws = [], {}
    for seq, path in enumerate(sorted(DATA.glob("*/*.json")), start=1):
        provider, raw = path.parent.name, path.read_bytes()
        envelope = build_envelope(provider=provider, received_at=1732237200123 + seq, request_id=f"req-{seq}",
                                  source_ip="198.51.100.7", headers={}, raw=raw)
        txn = providers.get(provider).normalize(envelope, json.loads(raw))
        record = stream_record(ledger_event_item(txn, raw, request_id=f"req-{seq}"), seq=seq)
        assert eventbridge.matches_pattern(events.PIPE_A_FILTER_PATTERN, record), path.name
        records.append(record)
        raws[(provider, txn.event_id)] = raw

    assert archiver.handler(records, FakeContext()) == {"batchItemFailures": []}
    archived = {(e.provider, e.event_id): e.raw for key in objects()
                for e in archive.read_object(s3().get_object(Bucket=BUCKET, Key=key)["Body"].read())}
    assert archived == raws and len(raws) == len(records)
