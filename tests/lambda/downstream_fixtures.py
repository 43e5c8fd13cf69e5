"""Fixtures and builders for the downstream handler tests (archiver, events, notifier, query APIs,
replay, ops tools). Rows follow the ledger contract in lambda_src/README.md; stream records are
built exactly as a pipe delivers them (DynamoDB JSON, binary as base64 text)."""
from __future__ import annotations

import base64
import gzip
import hashlib
import importlib
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import handler_constants
import pytest
from apigateway_events import IamCaller, proxy_event, synthesized_api
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = ROOT / "lambda_src"

REGION = "us-east-1"
TABLE = "payment-transactions-test"
BUCKET = "archive-test"
SECRET_VALUES_FOR_LOG_CHECKS = ("whsec_test_secret", "gatekey-test")


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "TABLE_NAME": TABLE,
        "ARCHIVE_BUCKET": BUCKET,
        "POWERTOOLS_SERVICE_NAME": "payment-webhooks",
        "POWERTOOLS_METRICS_NAMESPACE": "PaymentWebhooks",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("CURSOR_SECRET", raising=False)
    monkeypatch.delenv("ARCHIVE_KMS_KEY_ARN", raising=False)
    monkeypatch.delenv("KNOWN_VENDORS", raising=False)
    with mock_aws():
        yield


def create_ledger_table(client=None) -> None:
    handler_constants.create_ledger_table(client or boto3.client("dynamodb", region_name=REGION), TABLE)


@pytest.fixture
def ledger(aws_env):
    create_ledger_table()
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE)


@pytest.fixture
def archive_bucket(aws_env):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return BUCKET


def fresh(module_name: str):
    """Import (or re-import) a handler module so its cached clients bind to the moto mock."""
    if module_name in sys.modules:
        module = importlib.reload(sys.modules[module_name])
    else:
        module = importlib.import_module(module_name)
    return module


# --------------------------------------------------------------------------- ledger rows

def stripe_body(event_id: str, transaction_id: str, status: str = "succeeded", amount: int = 1999) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": f"payment_intent.{status}",
            "data": {"object": {"id": transaction_id, "amount": amount, "currency": "usd",
                                "metadata": {"vendor_id": "vendor-1", "card_last4": "4242"}}},
        },
        separators=(",", ":"),
    ).encode()


def event_item(
    transaction_id: str = "pi_123",
    event_id: str = "evt_1",
    *,
    provider: str = "stripe",
    status: str = "succeeded",
    amount: int = 1999,
    occurred_at: str = "2024-11-22T01:00:00Z",
    received_at: int = 1732237200123,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = raw if raw is not None else stripe_body(event_id, transaction_id, status, amount)
    return {
        "transaction_id": transaction_id,
        "timestamp": f"{occurred_at}#{event_id}",
        "row_type": "event",
        "provider": provider,
        "event_id": event_id,
        "event_type": f"payment_intent.{status}",
        "status": status,
        "amount": Decimal(amount),
        "currency": "usd",
        "vendor_id": "vendor-1",
        "customer_id": "cus-1",
        "occurred_at": occurred_at,
        "received_at": Decimal(received_at),
        "request_id": f"req-{event_id}",
        "signature_headers": headers if headers is not None else {"stripe-signature": f"t=1732237200,v1={'0' * 64}"},
        "raw_gzip": gzip.compress(body, mtime=0),
        "raw_sha256": hashlib.sha256(body).hexdigest(),
    }


def state_item(
    transaction_id: str = "pi_123",
    *,
    status: str = "succeeded",
    previous_status: str | None = "processing",
    vendor_id: str | None = "vendor-1",
    customer_id: str = "cus-1",
    amount: int = 1999,
    created_at: str = "2024-11-22T01:00:00Z",
    updated_at: str = "2024-11-22T01:00:05Z",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "transaction_id": transaction_id,
        "timestamp": "STATE",
        "row_type": "state",
        "status": status,
        "status_rank": Decimal(3),
        "amount": Decimal(amount),
        "currency": "usd",
        "customer_id": customer_id,
        "created_at": created_at,
        "updated_at": updated_at,
        "last_event_id": "evt_1",
        "customer_key": customer_id,
        "idempotency_token": "internal-do-not-leak",
    }
    if previous_status is not None:
        item["previous_status"] = previous_status
    if vendor_id is not None:
        item["vendor_id"] = vendor_id
        item["vendor_key"] = vendor_id
    return item


def _to_stream_json(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, inner in value.items():
        if kind == "B":
            out[kind] = base64.b64encode(bytes(inner)).decode()
        elif kind == "BS":
            out[kind] = [base64.b64encode(bytes(b)).decode() for b in inner]
        elif kind == "M":
            out[kind] = {k: _to_stream_json(v) for k, v in inner.items()}
        elif kind == "L":
            out[kind] = [_to_stream_json(v) for v in inner]
        else:
            out[kind] = inner
    return out


def stream_record(item: dict[str, Any], event_name: str = "INSERT", seq: int = 1) -> dict[str, Any]:
    """One DynamoDB stream record as a pipe delivers it."""
    serializer = TypeSerializer()
    image = {k: _to_stream_json(serializer.serialize(v)) for k, v in item.items()}
    return {
        "eventID": f"ev{seq:04d}{hashlib.md5(repr(sorted(item.items())).encode()).hexdigest()[:8]}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1732237201,
            "Keys": {k: image[k] for k in ("transaction_id", "timestamp")},
            "NewImage": image,
            "SequenceNumber": f"{seq:021d}",
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/stream/2024-11-22T00:00:00.000",
    }


def apigw_event(method: str, path: str, *, query=None, body=None) -> dict[str, Any]:
    """The AWS_PROXY input API Gateway sends for `method path` on the synthesized dev stack's route
    that serves it (AWS_IAM: a SigV4 caller), from AWS's sample (tests/apigateway_events.py)."""
    return proxy_event(synthesized_api("dev"), method, path, headers={"Content-Type": "application/json"},
                       query=query, body=body, caller=IamCaller(user_arn="arn:aws:iam::123456789012:user/support"),
                       request_id="req-test-1")


class FakeContext:
    function_name = "fn-test"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:fn-test"
    aws_request_id = "lambda-req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000
