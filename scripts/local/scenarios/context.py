"""The context every zero-loss scenario runs in (`ScenarioContext`): the deployed platform, signed
Stripe and PayPal requests for it, reading back the ledger, DLQ and metrics, faults injected into
the emulator, and the ops tools run as an operator runs them."""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import importlib.util
import json
import sys
from types import ModuleType
from typing import Any, Callable, Iterator

import boto3

from scripts.local import sample_webhooks
from scripts.local.readback import event_id_of
from scripts.local.runner import LocalPlatform
from scripts.local.runner.vendors import Vendors

REGION = "us-east-1"


def fresh_tool(name: str) -> ModuleType:
    """A fresh copy of the ops tool `scripts.ops.<name>`, bound to the paycore modules the
    platform's functions loaded (the runner loads paycore afresh for each deployment, and a tool
    must verify with the same provider modules the processor does); the copy the rest of the
    process imported stays as it was."""
    qualified = f"scripts.ops.{name}"
    spec = importlib.util.find_spec(qualified)
    if spec is None or spec.loader is None:
        raise ImportError(f"no ops tool {qualified}")
    module = importlib.util.module_from_spec(spec)
    shared = sys.modules.get(qualified)
    sys.modules[qualified] = module  # while it runs: its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        if shared is not None:
            sys.modules[qualified] = shared
        else:
            del sys.modules[qualified]
    return module


class ScenarioContext:
    """What every scenario uses: the platform, signed requests for it, reading back what it did,
    faults in the emulator and the ops tools bound to the platform's code."""

    def __init__(self, platform: LocalPlatform, *, stripe_secret: str, paypal: sample_webhooks.PayPalSigner,
                 gate_keys: dict[str, str], vendors: list[str], set_secrets: Callable[[dict[str, str]], None],
                 vendor_endpoints: Vendors | None = None):
        self.platform = platform
        self.stripe_secret = stripe_secret
        self.paypal = paypal
        self.gate_keys = gate_keys
        self.vendors = vendors
        self.set_secrets = set_secrets  # {"stripe": signing, "paypal": webhook id} -> Secrets Manager
        self.vendor_endpoints = vendor_endpoints  # the vendors' HTTP servers (vendors.start_vendors)
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.ingest_url = platform.ingest_queue_url
        self.dlq_url = platform.dead_letter_queue_url(self.ingest_url)
        client = lambda name: boto3.client(name, endpoint_url=platform.endpoint_url, region_name=REGION)  # noqa: E731
        self.sqs, self.s3, self.ddb = client("sqs"), client("s3"), client("dynamodb")

    # ----- requests --------------------------------------------------------------------------

    def stripe(self, tag: str, *, vendor: str | None = None, currency: str = "USD",
               secret: str | None = None) -> sample_webhooks.WebhookRequest:
        created = int(self.now.timestamp())
        event_id, intent = f"evt_{tag}", f"pi_{tag}"
        body = sample_webhooks.stripe_event(event_id, "payment_intent.succeeded", intent, 4200, currency,
                                            vendor or self.vendors[0], f"cus_{tag}", created)
        headers = {"Content-Type": "application/json",
                   "Stripe-Signature": sample_webhooks.stripe_signature(secret or self.stripe_secret, created, body)}
        return sample_webhooks.WebhookRequest(
            "stripe", "/webhooks/stripe", headers, {"key": self.gate_keys["stripe"]}, body,
            sample_webhooks.Expect("valid", intent, event_id, "succeeded", vendor or self.vendors[0], 4200, currency))

    def paypal_request(self, tag: str, *, custom_id: str | None = None) -> sample_webhooks.WebhookRequest:
        event_id, capture = f"WH-{tag.upper()}", f"CAP-{tag.upper()}"
        body = sample_webhooks.paypal_event(event_id, "PAYMENT.CAPTURE.COMPLETED", capture, 4200, "USD",
                                            custom_id or self.vendors[0], f"PAYER{tag}", self.now)
        headers = {"Content-Type": "application/json", **self.paypal.headers(body, f"tx-{tag}", self.now),
                   "X-Webhook-Key": self.gate_keys["paypal"]}
        return sample_webhooks.WebhookRequest(
            "paypal", "/webhooks/paypal", headers, {}, body,
            sample_webhooks.Expect("valid", capture, event_id, "succeeded", custom_id or self.vendors[0], 4200, "USD"))

    def paypal_refund(self, tag: str, capture: str, *, vendor: str) -> sample_webhooks.WebhookRequest:
        """PAYMENT.CAPTURE.REFUNDED of `capture` (the refund's `up` link names the capture)."""
        event_id, refund = f"WH-{tag.upper()}", f"REF-{tag.upper()}"
        event = json.loads(sample_webhooks.paypal_event(event_id, "PAYMENT.CAPTURE.COMPLETED", refund, 4200, "USD",
                                                        vendor, f"PAYER{tag}", self.now))
        event["event_type"], event["summary"] = "PAYMENT.CAPTURE.REFUNDED", "Payment refunded"
        event["resource"]["links"] = [
            {"href": f"https://api.paypal.com/v2/payments/refunds/{refund}", "rel": "self", "method": "GET"},
            {"href": f"https://api.paypal.com/v2/payments/captures/{capture}", "rel": "up", "method": "GET"}]
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self.paypal.headers(body, f"tx-{tag}", self.now),
                   "X-Webhook-Key": self.gate_keys["paypal"]}
        return sample_webhooks.WebhookRequest(
            "paypal", "/webhooks/paypal", headers, {}, body,
            sample_webhooks.Expect("valid", capture, event_id, "refunded", vendor, 4200, "USD"))

    def send(self, requests: list[sample_webhooks.WebhookRequest]) -> None:
        for request in requests:
            result = self.platform.http("POST", request.path, headers=request.headers, query=request.query,
                                        body=request.body)
            if result.status != 200:
                raise AssertionError(f"{request.expect.event_id}: HTTP {result.status} {result.body}")

    # ----- reading back ----------------------------------------------------------------------

    def ledger_event_ids(self) -> list[str]:
        # only what names an event: the scan stays cheap as the ledger grows (the payload is not read)
        rows: list[dict] = []
        kwargs: dict[str, Any] = {"TableName": self.platform.wiring.table_name,
                            "FilterExpression": "row_type = :event", "ExpressionAttributeValues": {":event": {"S": "event"}},
                            "ProjectionExpression": "#sort, row_type, event_id",
                            "ExpressionAttributeNames": {"#sort": "timestamp"}}
        while True:
            page = self.ddb.scan(**kwargs)
            rows.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [event_id_of(r) for r in rows]  # the scan's filter kept event rows only

    def notified(self, transaction_id: str) -> bool:
        """The notifier claims (transaction, status) before it publishes: no claim, no notification."""
        markers = self.platform.environment("notifier")["NOTIFY_MARKERS_TABLE"]
        item = self.ddb.get_item(TableName=markers, ConsistentRead=True,
                                 Key={"transaction_id": {"S": transaction_id}, "marker": {"S": "MARKER#notify#succeeded"}})
        return "Item" in item

    def dlq_event_ids(self) -> list[str]:
        """Event ids in the ingest DLQ (the messages are left there, visible)."""
        ids: list[str] = []
        # no long poll: the deployed DLQ waits 20 s (its receive wait time) when it is empty
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                            WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
        for message in messages:
            raw = json.loads(message["Body"])["body_b64"]
            ids.append(json.loads(base64.b64decode(raw))["id"])
        return sorted(ids)

    def dlq_depth(self) -> int:
        """Messages in the ingest DLQ, visible or not."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return sum(int(v) for v in attributes.values())

    def metric(self, prefix: str) -> int:
        return sum(v for k, v in self.platform.metrics.items() if k.startswith(prefix))

    # ----- faults ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def failing_writes(self, event_ids: set[str]) -> Iterator[set[str]]:
        """Every DynamoDB write about one of ``event_ids`` fails in the emulator (a bug, or an
        outage of that partition) while the context is open; the set can be changed inside."""
        from moto.dynamodb.exceptions import MockValidationException
        from moto.dynamodb.models import DynamoDBBackend

        original = DynamoDBBackend.put_item

        def put_item(backend, table_name, item_attrs, *args, **kwargs):
            text = json.dumps(item_attrs, default=str)
            if any(event_id in text for event_id in event_ids):
                raise MockValidationException("injected fault: this item cannot be written")
            return original(backend, table_name, item_attrs, *args, **kwargs)

        DynamoDBBackend.put_item = put_item  # type: ignore[method-assign, assignment]
        try:
            yield event_ids
        finally:
            DynamoDBBackend.put_item = original  # type: ignore[method-assign]

    def clear_secret_caches(self) -> None:
        secrets = sys.modules.get("paycore.secrets")
        if secrets is not None:
            secrets.clear_all_caches()

    def replay_quarantine(self, **kwargs: Any) -> dict:
        with self.platform.env_for("processor"):  # the processor's settings and trust
            tool = fresh_tool("replay_quarantine")
            from paycore.providers import paypal
            from paycore.secrets import SecretStore

            paypal.set_certificate_fetcher(self.paypal.fetch)
            store = SecretStore(boto3.client("secretsmanager", endpoint_url=self.platform.endpoint_url, region_name=REGION),
                                prefix=self.platform.environment("processor")["SECRET_PREFIX"], max_age=0)
            report = tool.replay(self.s3, self.sqs, bucket=self.platform.wiring.bucket, queue_url=self.ingest_url,
                                 signing_secret=store.signing, internal_key=store.internal_key, **kwargs)
        return report.as_dict()
