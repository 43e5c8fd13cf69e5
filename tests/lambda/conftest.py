"""Shared fixtures for the Lambda handler tests (tests/lambda/).

Import-time setup (before any test module imports a handler, whose boto3 clients are created at
module level):

* (import roots: ``paycore`` is installed, each ``lambda_src/<function>`` folder is on
  pytest.ini's ``pythonpath``, as it is the root of its zip on Lambda);
* fake AWS credentials, region ``us-east-1`` and the handler environment variables
  (:data:`ENV`, via ``setdefault``: a value already set wins), tracing off;
* ``moto`` imported first, so clients created before ``mock_aws`` starts are still intercepted.

Fixtures:

* ``aws`` - ``mock_aws`` with the contract's resources: the ledger table (pk/sk, GSIs
  ``by-vendor``/``by-customer``, stream NEW_IMAGE, TTL ``expires_at``), the validator's request
  table (``IDEMPOTENCY_TABLE``), the ingest FIFO queue
  (``MaximumMessageSize`` 262,144, the value the code assumes), the notifications queue, the
  archive bucket, the vendor topic, the signing + gate-key secrets of stripe and paypal and the
  internal envelope key (:data:`SECRETS`). Yields an :class:`Aws` namespace (names + clients).
* ``lambda_context`` - a minimal Lambda context for Powertools' ``inject_lambda_context``.
* ``paypal_keys`` - a test CA, an RSA key and its PayPal-shaped certificate chain (session), with
  ``PAYPAL_TRUST_STORE`` naming the CA's root and the certificate fetcher of
  ``paycore.providers.paypal`` stubbed to serve the chain (no network).
* builders: ``stripe_event``, ``paypal_event``, ``stripe_envelope``, ``paypal_envelope``,
  ``sqs_event`` (see each docstring).
* autouse: every cached secret and certificate is forgotten between tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, NamedTuple

import pytest

from handler_constants import (  # noqa: E402,F401  (environment first: see its docstring)
    create_idempotency_table,
    create_ledger_table,
    ROOT,
    LAMBDA_SRC,
    REGION,
    ACCOUNT,
    ENV_NAME,
    TABLE,
    INGEST_QUEUE,
    NOTIFICATIONS_QUEUE,
    BUCKET,
    TOPIC,
    SECRET_PREFIX,
    INGEST_MAX_MESSAGE_BYTES,
    ENV,
    STRIPE_SECRET,
    STRIPE_PREVIOUS_SECRET,
    PAYPAL_WEBHOOK_ID,
    GATE_KEY,
    GATE_KEY_PREVIOUS,
    SECRETS,
    NOW_MS,
    NOW_S,
)

TRANSMISSION_TIME = "2024-11-22T01:46:39Z"  # PAYPAL-TRANSMISSION-TIME, 1.1 s before NOW_MS

import moto  # noqa: E402,F401  (before any boto3 client exists: registers the interception hook)
from moto import mock_aws  # noqa: E402

@dataclass
class Aws:
    table: str
    queue_url: str
    notifications_queue_url: str
    bucket: str
    topic_arn: str
    dynamodb: Any
    sqs: Any
    s3: Any
    secretsmanager: Any
    extra: dict = field(default_factory=dict)


@pytest.fixture
def aws(monkeypatch):
    """moto with the platform's resources; the handler env vars point at them."""
    import boto3

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        create_ledger_table(ddb)
        create_idempotency_table(ddb)
        queue_url = sqs.create_queue(
            QueueName=INGEST_QUEUE,
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "MaximumMessageSize": str(INGEST_MAX_MESSAGE_BYTES),
                "VisibilityTimeout": "180",
            },
        )["QueueUrl"]
        notifications_url = sqs.create_queue(QueueName=NOTIFICATIONS_QUEUE)["QueueUrl"]
        s3.create_bucket(Bucket=BUCKET)
        topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        for secret_name, value in SECRETS.items():
            sm.create_secret(Name=secret_name, SecretString=json.dumps(value))
        yield Aws(TABLE, queue_url, notifications_url, BUCKET, topic_arn, ddb, sqs, s3, sm)


@pytest.fixture(autouse=True)
def _forget_cached_secrets():
    """No secret or certificate survives from one test to the next."""
    yield
    if "paycore.secrets" in sys.modules:
        sys.modules["paycore.secrets"].clear_all_caches()
    if "paycore.providers.paypal" in sys.modules:
        sys.modules["paycore.providers.paypal"].clear_certificate_cache()


@dataclass
class LambdaContext:
    function_name: str = "payment-processor-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payment-processor-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000001"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


# --------------------------------------------------------------------------- builders


@pytest.fixture
def stripe_event() -> Callable[..., dict]:
    """``stripe_event(event_id="evt_1", type="payment_intent.succeeded", pi="pi_1", amount=1999,
    currency="eur", created=NOW_S - 2, vendor_id="vendor_1", customer="cus_1")`` -> event dict."""

    def build(
        event_id: str = "evt_1",
        type: str = "payment_intent.succeeded",  # noqa: A002 - Stripe's field name
        pi: str = "pi_1",
        amount: int = 1999,
        currency: str = "eur",
        created: int = NOW_S - 2,
        vendor_id: str | None = "vendor_1",
        customer: str | None = "cus_1",
    ) -> dict:
        return {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "livemode": False,
            "type": type,
            "data": {
                "object": {
                    "id": pi,
                    "object": "payment_intent",
                    "amount": amount,
                    "currency": currency,
                    "customer": customer,
                    "metadata": {"vendor_id": vendor_id} if vendor_id else {},
                    "status": type.rsplit(".", 1)[-1],
                }
            },
        }

    return build


@pytest.fixture
def stripe_envelope() -> Callable[..., str]:
    """``stripe_envelope(event_or_raw, secret=STRIPE_SECRET, timestamp=NOW_S, received_at=NOW_MS,
    header=None, request_id=None)`` -> the SQS message body (JSON text) API Gateway would enqueue.
    ``header`` overrides the computed Stripe-Signature (``""``: no header)."""
    from paycore.envelope import build_envelope
    from paycore.providers import stripe

    def build(
        event: dict | bytes,
        *,
        secret: str = STRIPE_SECRET,
        timestamp: int = NOW_S,
        received_at: int = NOW_MS,
        header: str | None = None,
        request_id: str | None = None,
    ) -> str:
        raw = event if isinstance(event, bytes) else json.dumps(event, indent=2).encode()
        signature = stripe.sign(secret, timestamp, raw) if header is None else header
        return build_envelope(
            provider="stripe",
            received_at=received_at,
            request_id=request_id or str(uuid.uuid4()),
            source_ip="54.187.174.169",
            headers={"stripe-signature": signature} if signature else {},
            raw=raw,
        ).to_json()

    return build


class PayPalKeys(NamedTuple):
    key: Any  # the RSA private key the leaf certifies
    pem: bytes  # what ``url`` serves: leaf + intermediate
    url: str
    fetched: list  # every URL the fetcher was asked for
    authority: Any  # sample_webhooks.TestCertificateAuthority (its root is the trust store)
    served: dict  # URL -> bytes the fetcher serves, or the exception it raises (tests may add URLs)
    trust_store_path: str


@pytest.fixture(scope="session")
def paypal_keys(tmp_path_factory):
    """:class:`PayPalKeys`: a test CA (root -> intermediate, valid from 30 days before ``NOW``), an
    RSA key and its leaf certificate (CN messageverificationcerts.paypal.com). For the session,
    ``PAYPAL_TRUST_STORE`` names a file with the CA's root, and the fetcher of
    ``paycore.providers.paypal`` serves ``served[url]`` (leaf + intermediate for ``url``) and
    fails loudly for any other URL (no network in tests)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from paycore.providers import paypal
    from scripts.local.sample_webhooks import TestCertificateAuthority

    start = datetime.fromtimestamp(NOW_S, tz=timezone.utc) - timedelta(days=30)
    authority = TestCertificateAuthority(name="Payments Unit Test", valid_from=start)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = authority.chain_pem(authority.issue_leaf(key))
    url = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-test"
    trust_store_path = authority.write_trust_store(tmp_path_factory.mktemp("paypal-ca") / "root.pem")
    fetched: list[str] = []
    served = {url: pem}

    def fetch(requested: str) -> bytes:
        fetched.append(requested)
        if requested not in served:
            raise paypal.CertificateUnavailable("unknown test URL")
        answer = served[requested]
        if isinstance(answer, Exception):  # what the download makes of a 404, a 503, a timeout...
            raise answer
        return answer

    saved = os.environ.get(paypal.TRUST_STORE_ENV)
    os.environ[paypal.TRUST_STORE_ENV] = trust_store_path
    paypal.set_certificate_fetcher(fetch)
    yield PayPalKeys(key, pem, url, fetched, authority, served, trust_store_path)
    paypal.set_certificate_fetcher(paypal.download_certificate)
    if saved is None:
        os.environ.pop(paypal.TRUST_STORE_ENV, None)
    else:
        os.environ[paypal.TRUST_STORE_ENV] = saved


@pytest.fixture
def paypal_event() -> Callable[..., dict]:
    """``paypal_event(event_id="WH-1", event_type="PAYMENT.CAPTURE.COMPLETED", capture_id="CAP1",
    value="10.50", currency="USD", custom_id="vendor_1")`` -> event dict."""

    def build(
        event_id: str = "WH-1",
        event_type: str = "PAYMENT.CAPTURE.COMPLETED",
        capture_id: str = "CAP1",
        value: str = "10.50",
        currency: str = "USD",
        custom_id: str | None = "vendor_1",
    ) -> dict:
        resource: dict[str, Any] = {
            "id": capture_id,
            "status": event_type.rsplit(".", 1)[-1],
            "amount": {"currency_code": currency, "value": value},
            "final_capture": True,
            "create_time": "2024-11-22T01:46:30Z",
            "payee": {"merchant_id": "MERCHANT7", "email_address": "shop@example.com"},
            "links": [{"href": f"https://api.paypal.com/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"}],
        }
        if custom_id:
            resource["custom_id"] = custom_id
        return {
            "id": event_id,
            "event_version": "1.0",
            "create_time": "2024-11-22T01:46:35.123Z",
            "resource_type": "capture",
            "event_type": event_type,
            "summary": "Payment completed",
            "resource": resource,
        }

    return build


@pytest.fixture
def paypal_envelope(paypal_keys) -> Callable[..., str]:
    """``paypal_envelope(event_or_raw, webhook_id=PAYPAL_WEBHOOK_ID, cert_url=<test url>,
    received_at=NOW_MS, transmission_time=TRANSMISSION_TIME (1 s before NOW), signing_key=<test
    key>, headers_override={...})`` -> SQS message body, signed with ``signing_key``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from paycore.envelope import build_envelope
    from paycore.providers import paypal

    key, url = paypal_keys.key, paypal_keys.url

    def build(
        event: dict | bytes,
        *,
        webhook_id: str = PAYPAL_WEBHOOK_ID,
        cert_url: str = url,
        received_at: int = NOW_MS,
        transmission_time: str = TRANSMISSION_TIME,
        signing_key: Any = None,
        headers_override: dict | None = None,
    ) -> str:
        raw = event if isinstance(event, bytes) else json.dumps(event).encode()
        transmission_id = str(uuid.uuid4())
        signature = (signing_key or key).sign(
            paypal.signed_message(transmission_id, transmission_time, webhook_id, raw),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        headers = {
            "paypal-transmission-id": transmission_id,
            "paypal-transmission-time": transmission_time,
            "paypal-transmission-sig": base64.b64encode(signature).decode(),
            "paypal-cert-url": cert_url,
            "paypal-auth-algo": "SHA256withRSA",
            **(headers_override or {}),
        }
        return build_envelope(
            provider="paypal",
            received_at=received_at,
            request_id=str(uuid.uuid4()),
            source_ip="173.0.82.126",
            headers={k: v for k, v in headers.items() if v is not None},
            raw=raw,
        ).to_json()

    return build


def direct_envelope(key: str, received_at: int = NOW_MS, *, body: dict | None = None, internal_key: str | None = None,
                    request_id: str | None = None, sign: bool = True) -> str:
    """The envelope the validator enqueues for a payment with Idempotency-Key ``key`` (``body``:
    the request, default 700 EUR v1 -> c1), signed with the internal envelope key (``internal_key``,
    default the test secret's current value; ``sign=False``: no signature, as a forger sends it)."""
    from handler_constants import INTERNAL_KEY

    from paycore.envelope import build_envelope
    from paycore.providers import direct

    request = body or {"amount": 700, "currency": "EUR", "vendor_id": "v1", "customer_id": "c1"}
    envelope = build_envelope(provider="direct", received_at=received_at, request_id=request_id or f"r{received_at}",
                              source_ip="10.0.0.1", headers={direct.IDEMPOTENCY_HEADER: key},
                              raw=direct.canonical_body(request, key))
    if sign:
        from paycore import internal_envelope

        envelope = internal_envelope.sign(envelope, "direct", {"current": internal_key or INTERNAL_KEY})
    return envelope.to_json()


@pytest.fixture
def sqs_event() -> Callable[..., dict]:
    """``sqs_event([body, ...], group_ids=None)`` -> an SQS FIFO event as Lambda receives it
    (message ids ``m1``, ``m2``...; group id from ``group_ids`` or ``g``)."""

    def build(bodies: list[str], group_ids: list[str] | None = None, start: int = 1) -> dict:
        records = []
        for index, body in enumerate(bodies, start=start):
            group = group_ids[index - start] if group_ids else "g"
            records.append(
                {
                    "messageId": f"m{index}",
                    "receiptHandle": f"rh-{index}",
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": str(NOW_MS + index),
                        "SequenceNumber": str(10**19 + index),
                        "MessageGroupId": group,
                        "SenderId": "AROAEXAMPLE",
                        "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
                        "ApproximateFirstReceiveTimestamp": str(NOW_MS + 50),
                    },
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS field
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{INGEST_QUEUE}",
                    "awsRegion": REGION,
                }
            )
        return {"Records": records}

    return build
