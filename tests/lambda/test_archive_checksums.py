"""Every upload into the archive bucket carries its own checksum, seen through botocore itself.

In prod the archive bucket has default Object Lock retention, and S3 then refuses an upload that has
neither Content-MD5 nor x-amz-sdk-checksum-algorithm (PutObject API reference: "The Content-MD5 or
x-amz-sdk-checksum-algorithm header is required for any request to upload an object with a retention
period configured using Amazon S3 Object Lock"). moto does not enforce that rule, and whether an SDK
adds a checksum by itself depends on it: botocore < 1.36 adds Content-MD5 only where MD5 is
available (not under FIPS), >= 1.36 adds CRC32 only unless `request_checksum_calculation` is
`when_required`. The Lambda runtime's boto3 "depends on the runtime version and your AWS Region"
(Lambda developer guide, Building Lambda functions with Python). So the tests turn the SDK's own
checksums off and record, with a before-send hook on each writer's real client, the serialized
request that reaches (moto's) S3.
"""
from __future__ import annotations

import ast
import base64
import hashlib
import json
from pathlib import Path

import boto3
import botocore.utils
import pytest

from downstream_fixtures import (  # noqa: F401  (fixtures)
    BUCKET,
    REGION,
    FakeContext,
    archive_bucket,
    aws_env,
    event_item,
    fresh,
    stream_record,
)

from paycore.quarantine import Quarantine
from scripts.ops import redrive_dlq

ROOT = Path(__file__).resolve().parents[2]
#: every module that uploads objects, and the test below that sends its uploads through botocore
WRITERS = {
    "lambda_src/archiver/archiver_handler.py": "test_archiver_uploads_carry_a_sha256_of_their_body",
    "lambda_src/layer/paycore/quarantine.py": "test_quarantine_uploads_carry_a_sha256_of_their_body",
    "scripts/ops/redrive_dlq.py": "test_parked_dlq_messages_carry_a_sha256_of_their_body",
}
UPLOAD_CALLS = {"put_object", "upload_file", "upload_fileobj", "copy_object", "create_multipart_upload"}


class Uploads:
    """The PutObject requests of the watched clients, as botocore serialized them."""

    def __init__(self) -> None:
        self.requests: list = []

    def watch(self, client):
        client.meta.events.register("before-send.s3.PutObject", self._record)
        return client

    def _record(self, request, **_):
        self.requests.append(request)  # returns None: the request goes on to moto

    def assert_each_carries_its_sha256(self) -> None:
        assert self.requests, "no upload was recorded"
        for request in self.requests:
            body = _bytes(request.body)
            headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
            assert headers.get("x-amz-sdk-checksum-algorithm") == "SHA256", f"{request.url}: {sorted(headers)}"
            assert headers.get("x-amz-checksum-sha256") == base64.b64encode(hashlib.sha256(body).digest()).decode()
            assert "x-amz-trailer" not in headers  # the header itself, whatever the transport


def _bytes(body) -> bytes:
    if isinstance(body, bytes):
        return body
    position = body.tell()
    body.seek(0)
    data = body.read()
    body.seek(position)
    return data


@pytest.fixture
def uploads(monkeypatch) -> Uploads:
    """An SDK that adds no checksum on its own: botocore >= 1.36 with when_required, or < 1.36
    without MD5. Without the writers' own checksum, the uploads below would carry none."""
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    monkeypatch.setattr(botocore.utils, "MD5_AVAILABLE", False)
    return Uploads()


def test_the_sdk_adds_no_checksum_of_its_own_under_the_fixture(archive_bucket, uploads):
    client = uploads.watch(boto3.client("s3", region_name=REGION))
    client.put_object(Bucket=BUCKET, Key="plain", Body=b"{}")
    [request] = uploads.requests
    assert not [h for h in request.headers if h.lower().startswith(("content-md5", "x-amz-checksum", "x-amz-sdk"))]


def test_archiver_uploads_carry_a_sha256_of_their_body(archive_bucket, uploads):
    archiver = fresh("archiver_handler")
    uploads.watch(archiver.s3_client())
    records = [stream_record(event_item("pi_1", "evt_1"), seq=1),
               stream_record(event_item("PAY-1", "WH-1", provider="paypal", raw=b'{"id":"WH-1"}'), seq=2)]
    assert archiver.handler(records, FakeContext()) == {"batchItemFailures": []}
    assert len(uploads.requests) == 2
    uploads.assert_each_carries_its_sha256()


def test_quarantine_uploads_carry_a_sha256_of_their_body(archive_bucket, uploads):
    quarantine = Quarantine(uploads.watch(boto3.client("s3", region_name=REGION)), BUCKET)
    key = quarantine.put(reason="signature_mismatch", provider="stripe", request_id="req-1",
                         received_at=1732237200123, sqs_message_id="m1", message_body='{"v":1,"ü":"\\u0000"}')
    uploads.assert_each_carries_its_sha256()
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(stored)["message_body"] == '{"v":1,"ü":"\\u0000"}'


def test_parked_dlq_messages_carry_a_sha256_of_their_body(archive_bucket, uploads):
    s3 = uploads.watch(boto3.client("s3", region_name=REGION))
    message = {"MessageId": "m-1", "Body": '{"provider":"stripe","request_id":"r-1","received_at":1}',
               "Attributes": {"MessageGroupId": "pi_1"}, "MessageAttributes": {}}
    key = redrive_dlq.park(s3, BUCKET, "https://sqs.us-east-1.amazonaws.com/1/webhooks-dlq.fifo", message, 1732237200123)
    assert key.startswith("parked/webhooks-dlq.fifo/2024/11/22/")
    uploads.assert_each_carries_its_sha256()


def test_every_module_that_uploads_objects_is_exercised_above():
    found = set()
    for path in sorted([*ROOT.glob("lambda_src/**/*.py"), *ROOT.glob("scripts/**/*.py")]):
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in UPLOAD_CALLS
               for node in ast.walk(tree)):
            found.add(path.relative_to(ROOT).as_posix())
    assert found == set(WRITERS), "a new S3 writer: send its uploads through botocore in a test here"
    assert all(name in globals() for name in WRITERS.values())
