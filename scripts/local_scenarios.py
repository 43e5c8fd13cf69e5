"""Zero-loss scenarios of the local end-to-end run (scripts/local_e2e.py), driven through the
deployed wiring by the local runner, each showing that a genuine event the platform answered 200
for ends up in the ledger - or in a place a documented tool recovers it from:

* unroutable: signed events with an unsafe vendor id (Stripe metadata, a PayPal ``custom_id`` with a
  space) and an unknown currency are recorded, counted (``UnroutableEvent``) and notify no vendor;
* poison: a message that always fails, among healthy ones of other payments (message groups) and
  one that fails only during an outage: only the two failing ones reach the DLQ; redrive recovers
  the outage victim and parks the poison, which ``replay_quarantine.py --parked`` recovers once
  the cause is fixed;
* wrong secret: the providers' signing secrets rotated without us; every genuine event of that
  window is quarantined; after ``set_secrets`` the quarantine replay recovers all of them, and a
  provider retry that arrived meanwhile is not doubled.

Faults are injected into the emulator (moto's DynamoDB backend, in this process), nothing is mocked
in the handlers. Each scenario returns plain counts; ``run_all`` adds them up.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3

import redrive_dlq
import sample_webhooks
from local_runner import LocalPlatform

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


def _load_tool(name: str) -> Any:
    """A fresh copy of an ops tool, bound to the paycore modules the platform loaded."""
    spec = importlib.util.spec_from_file_location(f"{name}_local", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Scenarios:
    def __init__(self, platform: LocalPlatform, *, stripe_secret: str, paypal: sample_webhooks.PayPalSigner,
                 gate_keys: dict[str, str], vendors: list[str], set_secrets: Callable[[dict[str, str]], None]):
        self.platform = platform
        self.stripe_secret = stripe_secret
        self.paypal = paypal
        self.gate_keys = gate_keys
        self.vendors = vendors
        self.set_secrets = set_secrets  # {"stripe": signing, "paypal": webhook id} -> Secrets Manager
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

    def send(self, requests: list[sample_webhooks.WebhookRequest]) -> None:
        for request in requests:
            result = self.platform.http("POST", request.path, headers=request.headers, query=request.query,
                                        body=request.body)
            if result.status != 200:
                raise AssertionError(f"{request.expect.event_id}: HTTP {result.status} {result.body}")

    # ----- reading back ----------------------------------------------------------------------

    def ledger_event_ids(self) -> list[str]:
        rows, kwargs = [], {"TableName": self.platform.wiring.table_name}
        while True:
            page = self.ddb.scan(**kwargs)
            rows.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        from local_e2e import event_id_of  # local_e2e imports this module

        return [event_id_of(r) for r in rows if r.get("row_type", {}).get("S") == "event"]

    def notified(self, transaction_id: str) -> bool:
        """The notifier claims (transaction, status) before it publishes: no claim, no notification."""
        markers = self.platform.environment("notifier")["NOTIFY_MARKERS_TABLE"]
        item = self.ddb.get_item(TableName=markers, ConsistentRead=True,
                                 Key={"transaction_id": {"S": transaction_id}, "marker": {"S": "MARKER#notify#succeeded"}})
        return "Item" in item

    def dlq_event_ids(self) -> list[str]:
        """Event ids in the ingest DLQ (the messages are left there, visible)."""
        ids = []
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                            AttributeNames=["All"]).get("Messages", [])
        for message in messages:
            raw = json.loads(message["Body"])["body_b64"]
            import base64

            ids.append(json.loads(base64.b64decode(raw))["id"])
        return sorted(ids)

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

        DynamoDBBackend.put_item = put_item
        try:
            yield event_ids
        finally:
            DynamoDBBackend.put_item = original

    def clear_secret_caches(self) -> None:
        secrets = sys.modules.get("paycore.secrets")
        if secrets is not None:
            secrets.clear_all_caches()

    def replay_quarantine(self, **kwargs: Any) -> dict:
        with self.platform.env_for("processor"):  # the processor's settings and trust
            tool = _load_tool("replay_quarantine")
            from paycore.providers import paypal
            from paycore.secrets import SecretStore

            paypal.set_certificate_fetcher(self.paypal.fetch)
            store = SecretStore(boto3.client("secretsmanager", endpoint_url=self.platform.endpoint_url, region_name=REGION),
                                prefix=self.platform.environment("processor")["SECRET_PREFIX"], max_age=0)
            report = tool.replay(self.s3, self.sqs, bucket=self.platform.wiring.bucket, queue_url=self.ingest_url,
                                 signing_secret=store.signing, **kwargs)
        return report.as_dict()

    # ----- scenarios -------------------------------------------------------------------------

    def unroutable(self) -> dict:
        requests = [self.stripe("unr_vendor", vendor="vendor a!"),
                    self.paypal_request("unr_custom", custom_id="order 123"),
                    self.stripe("unr_currency", currency="ZZZ")]
        before = {r: self.metric(f"UnroutableEvent[reason={r}]") for r in ("unsafe_vendor_id", "unknown_currency")}
        self.send(requests)
        self.platform.drain()
        recorded = set(self.ledger_event_ids())
        return {
            "sent": len(requests),
            "recorded": sum(r.expect.event_id in recorded for r in requests),
            "notified": sum(self.notified(r.expect.transaction_id) for r in requests),
            "counted": {r: self.metric(f"UnroutableEvent[reason={r}]") - n for r, n in before.items()},
            "expected": [r.expect.event_id for r in requests],
        }

    def poison(self) -> dict:
        poison, victim = self.stripe("poison"), self.stripe("outage_victim")
        healthy = [self.stripe(f"healthy{i}") if i % 2 else self.paypal_request(f"healthy{i}") for i in range(8)]
        requests = healthy[:3] + [poison] + healthy[3:6] + [victim] + healthy[6:]
        park_bucket = self.platform.wiring.bucket
        with self.failing_writes({poison.expect.event_id, victim.expect.event_id}) as failing:
            self.send(requests)
            self.platform.drain()
            in_dlq = self.dlq_event_ids()
            innocent = [e for e in in_dlq if e not in (poison.expect.event_id, victim.expect.event_id)]
            failing.discard(victim.expect.event_id)  # the outage is over; the poison still fails
            first = redrive_dlq.redrive(self.sqs, self.dlq_url, self.ingest_url, s3=self.s3, park_bucket=park_bucket)
            self.platform.drain()
            second = redrive_dlq.redrive(self.sqs, self.dlq_url, self.ingest_url, s3=self.s3, park_bucket=park_bucket)
        recorded_before_fix = set(self.ledger_event_ids())
        # the cause is fixed (the context above is closed): the parked message is replayed
        replayed = self.replay_quarantine(parked=True)
        self.platform.drain()
        recorded = set(self.ledger_event_ids())
        return {
            "sent": len(requests),
            "in_dlq": in_dlq,
            "innocent_in_dlq": len(innocent),
            "redriven": first["moved"] + second["moved"],
            "recovered_by_redrive": int(victim.expect.event_id in recorded_before_fix),
            "parked": first["parked"] + second["parked"],
            "recovered_from_parked": int(replayed["requeued"] == 1 and poison.expect.event_id in recorded),
            "dlq_after": len(self.dlq_event_ids()),
            "expected": [r.expect.event_id for r in requests],
        }

    def wrong_secret(self, correct: dict[str, str]) -> dict:
        since = int(self.now.timestamp() * 1000) - 1
        self.set_secrets({"stripe": "whsec_rotated_at_stripe_not_here_0001", "paypal": "WH-RE-REGISTERED-ELSEWHERE"})
        self.clear_secret_caches()
        window = [self.stripe(f"window{i}") for i in range(3)] + [self.paypal_request(f"window{i}") for i in range(2)]
        rejected_before = self.metric("WebhookRejected[reason=signature_mismatch]")
        self.send(window)
        self.platform.drain()
        quarantined = self.metric("WebhookRejected[reason=signature_mismatch]") - rejected_before
        self.set_secrets(correct)
        self.clear_secret_caches()
        self.send([window[0]])  # Stripe's own retry, after the fix: recorded before the replay
        self.platform.drain()
        recorded_before = set(self.ledger_event_ids())
        dry = self.replay_quarantine(provider=None, since_ms=since, dry_run=True)
        report = self.replay_quarantine(provider=None, since_ms=since)
        self.platform.drain()
        again = self.replay_quarantine(provider=None, since_ms=since)
        recorded = set(self.ledger_event_ids())
        ids = [r.expect.event_id for r in window]
        return {
            "sent": len(window),
            "quarantined": quarantined,
            "dry_run_verified": dry["verified_now"],
            "requeued": report["requeued"],
            "requeued_again": again["requeued"],
            "recovered_by_replay": sum(e in recorded and e not in recorded_before for e in ids),
            "expected": ids,
        }


def run_all(scenarios: Scenarios, *, correct_secrets: dict[str, str]) -> dict:
    results = {}
    for name, run in (("unroutable", scenarios.unroutable), ("poison", scenarios.poison),
                      ("wrong_secret", lambda: scenarios.wrong_secret(correct_secrets))):
        started = time.perf_counter()
        results[name] = {**run(), "seconds": round(time.perf_counter() - started, 1)}
    event_ids = scenarios.ledger_event_ids()
    expected = {e for r in results.values() for e in r["expected"]}
    return {
        **results,
        "lost": len(expected - set(event_ids)),
        "doubled": len(event_ids) - len(set(event_ids)),
        "innocent_in_dlq": results["poison"]["innocent_in_dlq"],
        "recovered_by_replay": results["wrong_secret"]["recovered_by_replay"],
    }
