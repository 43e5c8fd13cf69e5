"""Names, secrets and times shared by the handler tests and their fixtures (tests/lambda/).

Importing it sets the handlers' environment variables (``setdefault``: a value already set
wins), before any handler module creates its boto3 clients.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = ROOT / "lambda_src"

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENV_NAME = "test"
TABLE = f"payment-transactions-{ENV_NAME}"
INGEST_QUEUE = f"webhooks-{ENV_NAME}.fifo"
NOTIFICATIONS_QUEUE = f"notifications-{ENV_NAME}"
BUCKET = f"archive-{ENV_NAME}"
TOPIC = f"vendor-notifications-{ENV_NAME}"
SECRET_PREFIX = f"payment-webhooks/{ENV_NAME}/"
IDEMPOTENCY_TABLE = f"payment-idempotency-{ENV_NAME}"
INGEST_MAX_MESSAGE_BYTES = 262_144

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "TABLE_NAME": TABLE,
    "INGEST_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{INGEST_QUEUE}",
    "NOTIFICATIONS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{NOTIFICATIONS_QUEUE}",
    "ARCHIVE_BUCKET": BUCKET,
    "VENDOR_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
    "SECRET_PREFIX": SECRET_PREFIX,
    "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
    "ENABLED_PROVIDERS": "stripe,paypal",
    "WEBHOOK_ROUTES": '{"/webhooks/paypal":"paypal","/webhooks/stripe":"stripe"}',
    "POWERTOOLS_SERVICE_NAME": "payment-webhooks",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentWebhooks",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
for _name, _value in ENV.items():
    os.environ.setdefault(_name, _value)

#: Secret values. Distinctive strings so the log-hygiene tests can search for them.
STRIPE_SECRET = "whsec_TESTcurrentSIGNINGsecret0001"
STRIPE_PREVIOUS_SECRET = "whsec_TESTpreviousSIGNINGsecret02"
PAYPAL_WEBHOOK_ID = "WH-TESTWEBHOOKID-0001"
GATE_KEY = "gk_TESTcurrentGATEkey_00000001"
GATE_KEY_PREVIOUS = "gk_TESTpreviousGATEkey_0000002"
INTERNAL_KEY = "ik_TESTcurrentINTERNALenvelopeKEY_000001"
INTERNAL_KEY_PREVIOUS = "ik_TESTpreviousINTERNALenvelopeKEY_00002"
SECRETS = {
    f"{SECRET_PREFIX}internal/envelope-key": {"current": INTERNAL_KEY},
    f"{SECRET_PREFIX}stripe/signing": {"current": STRIPE_SECRET, "previous": STRIPE_PREVIOUS_SECRET},
    f"{SECRET_PREFIX}paypal/signing": {"webhook_id": PAYPAL_WEBHOOK_ID},
    f"{SECRET_PREFIX}stripe/gate-key": {"current": GATE_KEY, "previous": GATE_KEY_PREVIOUS},
    f"{SECRET_PREFIX}paypal/gate-key": {"current": GATE_KEY, "previous": ""},
}

#: "Now" for the builders: API Gateway's requestTimeEpoch of the sample requests.
NOW_MS = 1_732_240_000_123
NOW_S = NOW_MS // 1000


def create_ledger_table(client: Any, name: str = TABLE, projection: str = "ALL") -> None:
    """The ledger table exactly as lambda_src/README.md describes it (`projection`: the GSIs')."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"}
            for n in ("transaction_id", "timestamp", "vendor_key", "customer_key", "created_at")
        ],
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": projection},
            }
            for index, key in (("by-vendor", "vendor_key"), ("by-customer", "customer_key"))
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )


def create_idempotency_table(client: Any, name: str = IDEMPOTENCY_TABLE) -> None:
    """The validator's request table (paycore.idempotency): pk transaction_id, sk marker, TTL expires_at."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("transaction_id", "marker")],
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}, {"AttributeName": "marker", "KeyType": "RANGE"}],
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
