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
  provider retry that arrived meanwhile is not doubled;
* delivery (when vendor endpoints are deployed): signed webhooks to the vendors' HTTP servers on
  127.0.0.1 through the deployed bus rule, queues and functions: a dead vendor exhausts its
  schedule (the `local` environment's short one) and gets everything through
  ``delivery_ops.py recover``, while a rate-limited vendor receives at its limit and a healthy one
  is not delayed; a vendor answering 500 for a while receives everything, in order per payment;
  a 410 disables the endpoint (event on the bus).

Faults are injected into the emulator (moto's DynamoDB backend, in this process), nothing is mocked
in the handlers. Each scenario returns plain counts; ``run_all`` adds them up.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import io
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3

import redrive_dlq
import sample_webhooks
from local_runner import LocalPlatform
from local_runner.vendors import Vendors, answer, failing_first

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


def _load_tool(name: str) -> Any:
    """A fresh copy of an ops tool, bound to the paycore modules the platform loaded."""
    spec = importlib.util.spec_from_file_location(f"{name}_local", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


DELIVERY_FUNCTIONS = ("delivery_fanout", "delivery_sender")  # function folders of the delivery path


def delivery_ops(platform: LocalPlatform, *argv: str) -> dict:
    """``scripts/delivery_ops.py --env local ARGV`` against the emulator, as an operator runs it
    (AWS_ENDPOINT_URL and fake credentials from the sender's environment); its JSON answer."""
    out = io.StringIO()
    with platform.env_for("delivery_sender"), contextlib.redirect_stdout(out):
        status = _load_tool("delivery_ops").main(["--env", "local", *argv])
    if status != 0:
        raise RuntimeError(f"delivery_ops {' '.join(argv)} exited {status}")
    return json.loads(out.getvalue())


def start_vendors(platform: LocalPlatform) -> Vendors:
    """The vendors of the deployed endpoint configuration, each listening on the port its URL
    names, verifying with the secret ``delivery_ops.py secret create`` made for its endpoint."""
    vendors = Vendors({endpoint_id: e["url"] for endpoint_id, e in platform.wiring.vendor_endpoints().items()})
    with tempfile.TemporaryDirectory() as folder:
        for endpoint in vendors:
            out = Path(folder) / f"{endpoint.endpoint_id}.secret"
            delivery_ops(platform, "secret", "create", "--endpoint", endpoint.endpoint_id, "--out", str(out))
            endpoint.secret = out.read_text().strip()
    return vendors.start()


def expected_deliveries(platform: LocalPlatform, event_rows: list[dict]) -> dict[str, set[tuple[str, str]]]:
    """Per endpoint, the (transaction, event type) it must receive: every recorded status a vendor's
    endpoint subscribes to, when the pipe puts that status on the bus (ledger event rows, typed)."""
    from paycore.delivery import DELIVERABLE_STATUSES

    routed = platform.wiring.routed_statuses()
    endpoints = platform.wiring.vendor_endpoints()
    expected: dict[str, set[tuple[str, str]]] = {endpoint_id: set() for endpoint_id in endpoints}
    for row in event_rows:
        status, vendor = row["status"]["S"], row.get("vendor_id", {}).get("S", "")
        if status not in DELIVERABLE_STATUSES or (routed is not None and status not in routed):
            continue
        for endpoint_id, endpoint in endpoints.items():
            if endpoint["vendor_id"] == vendor and f"payment.{status}" in endpoint["event_types"]:
                expected[endpoint_id].add((row["transaction_id"]["S"], f"payment.{status}"))
    return expected


def out_of_order(vendors: Vendors) -> int:
    """Deliveries that reached a vendor after a later status of the same payment."""
    from paycore.delivery import status_rank

    late = 0
    for endpoint in vendors:
        highest: dict[str, int] = {}
        for received in endpoint.delivered():
            rank = status_rank(received.event_type.removeprefix("payment."))
            late += rank < highest.get(received.transaction_id, 0)
            highest[received.transaction_id] = max(rank, highest.get(received.transaction_id, 0))
    return late


class Scenarios:
    def __init__(self, platform: LocalPlatform, *, stripe_secret: str, paypal: sample_webhooks.PayPalSigner,
                 gate_keys: dict[str, str], vendors: list[str], set_secrets: Callable[[dict[str, str]], None],
                 vendor_endpoints: Vendors | None = None):
        self.platform = platform
        self.stripe_secret = stripe_secret
        self.paypal = paypal
        self.gate_keys = gate_keys
        self.vendors = vendors
        self.set_secrets = set_secrets  # {"stripe": signing, "paypal": webhook id} -> Secrets Manager
        self.vendor_endpoints = vendor_endpoints  # the vendors' HTTP servers (start_vendors)
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
        rows, kwargs = [], {"TableName": self.platform.wiring.table_name,
                            "FilterExpression": "row_type = :event", "ExpressionAttributeValues": {":event": {"S": "event"}},
                            "ProjectionExpression": "#sort, row_type, event_id",
                            "ExpressionAttributeNames": {"#sort": "timestamp"}}
        while True:
            page = self.ddb.scan(**kwargs)
            rows.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        from local_e2e import event_id_of  # local_e2e imports this module

        return [event_id_of(r) for r in rows]  # the scan's filter kept event rows only

    def notified(self, transaction_id: str) -> bool:
        """The notifier claims (transaction, status) before it publishes: no claim, no notification."""
        markers = self.platform.environment("notifier")["NOTIFY_MARKERS_TABLE"]
        item = self.ddb.get_item(TableName=markers, ConsistentRead=True,
                                 Key={"transaction_id": {"S": transaction_id}, "marker": {"S": "MARKER#notify#succeeded"}})
        return "Item" in item

    def dlq_event_ids(self) -> list[str]:
        """Event ids in the ingest DLQ (the messages are left there, visible)."""
        ids = []
        # no long poll: the deployed DLQ waits 20 s (its receive wait time) when it is empty
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                            WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
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

    # ----- vendor delivery -------------------------------------------------------------------

    @contextlib.contextmanager
    def delivery_alerts(self) -> Iterator[Callable[[], list[dict]]]:
        """Subscribe a queue of ours to the topic the deployed delivery-alerts rule targets; yields a
        reader of the bus events that reached it (removed again on exit: not part of the stack)."""
        from paycore.delivery import EVENT_SOURCE

        sns = boto3.client("sns", endpoint_url=self.platform.endpoint_url, region_name=REGION)
        [rule] = [r for r in self.platform.wiring.bus_rules if r.pattern.get("source") == [EVENT_SOURCE]]
        [topic] = [arn for arn in rule.target_arns if ":sns:" in arn]
        url = self.sqs.create_queue(QueueName="delivery-alerts-capture-local")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        seen: list[dict] = []

        def events() -> list[dict]:
            while True:
                got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    return seen
                for message in got:
                    seen.append(json.loads(json.loads(message["Body"])["Message"]))
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

        try:
            yield events
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
            self.sqs.delete_queue(QueueUrl=url)

    def calls_of_delivery(self) -> dict[str, int]:
        """AWS calls so far of the delivery functions and of their event sources, by operation."""
        total: dict[str, int] = {}
        for counter in (self.platform.handler_calls, self.platform.platform_calls):
            for function in DELIVERY_FUNCTIONS:
                for key, value in counter.by_caller.get(function, {}).items():
                    total[key] = total.get(key, 0) + value
        return total

    def delivery(self) -> dict:
        """Vendor delivery through the deployed wiring, in three rounds (see the module docstring)."""
        assert self.vendor_endpoints is not None, "start_vendors() first"
        vendors, endpoints = self.vendor_endpoints, self.platform.wiring.vendor_endpoints()
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        limited = next(i for i, e in sorted(endpoints.items()) if e.get("rate_limit_per_second"))
        others = [i for i, e in sorted(endpoints.items()) if e["vendor_id"] != endpoints[limited]["vendor_id"]]
        steady, faulty = others[0], next(i for i in others if endpoints[i]["vendor_id"] != endpoints[others[0]]["vendor_id"])
        vendor_of = {i: endpoints[i]["vendor_id"] for i in (limited, steady, faulty)}
        requests: list[sample_webhooks.WebhookRequest] = []

        def sales(tag: str, endpoint_id: str, count: int) -> list[sample_webhooks.WebhookRequest]:
            batch = [self.stripe(f"{tag}{n}", vendor=vendor_of[endpoint_id]) for n in range(count)]
            requests.extend(batch)
            return batch

        def iso_now() -> str:
            return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        def figure(prefix: str) -> int:
            return self.metric(prefix)

        before = {name: figure(name) for name in ("DeliveryAttempts[", "DeliveryExhausted[vendor_id=",
                                                   "DeliveryRateLimited[", "DeliveryEndpointDisabled[vendor_id=")}
        requests_before = {e.endpoint_id: len(e.requests) for e in vendors}
        with self.delivery_alerts() as bus_events:
            # 1. first-try deliveries to two vendors: the AWS calls per delivery, as measured here
            calls_before = self.calls_of_delivery()
            first_try = sales("dlv_base", steady, 3) + sales("dlv_base_c", faulty, 3)
            self.send(first_try)
            self.platform.drain()
            calls = {k: v - calls_before.get(k, 0) for k, v in self.calls_of_delivery().items() if v - calls_before.get(k, 0)}
            first_try_deliveries = sum(len(e.accepted_since(requests_before[e.endpoint_id])) for e in vendors)

            # 2. a dead vendor, a rate-limited one and a healthy one at the same time
            down_since = iso_now()
            vendors[faulty].stop()
            rate = float(endpoints[limited]["rate_limit_per_second"])
            limited_count = max(6, min(30, math.ceil(3 * rate)))
            mark = {e.endpoint_id: len(e.requests) for e in vendors}
            to_limited, to_steady, to_dead = sales("dlv_rate", limited, limited_count), sales("dlv_ok", steady, 3), \
                sales("dlv_dead", faulty, 3)
            self.send(to_limited + to_steady + to_dead)
            self.platform.drain()  # waits out the dead vendor's whole schedule
            limited_seen = vendors[limited].requests[mark[limited]:]
            steady_seen = vendors[steady].requests[mark[steady]:]
            exhausted_events = [e for e in bus_events() if e["detail-type"] == "DeliveryExhausted"]
            vendors[faulty].start()  # back: everything since it went down, through the ops tool
            recovered = delivery_ops(self.platform, "recover", "--endpoint", faulty, "--since", down_since)
            self.platform.drain()
            dead_seen = vendors[faulty].requests[mark[faulty]:]

            # 3. a vendor answering 500 for a while (sales, then their refunds behind them), and a 410
            vendors[steady].behave(failing_first(3))
            vendors[faulty].behave(answer(410))
            gone_since = iso_now()
            mark = {e.endpoint_id: len(e.requests) for e in vendors}
            captures = [self.paypal_request(f"dlv_ord{n}", custom_id=vendor_of[steady]) for n in range(2)]
            gone = sales("dlv_gone", faulty, 2)
            requests.extend(captures)
            self.send(captures + gone)
            self.platform.drain(wait_seconds=0)  # the sales are in flight (held after a 500) when the refunds come
            refunds = [self.paypal_refund(f"dlv_ref{n}", c.expect.transaction_id, vendor=vendor_of[steady])
                       for n, c in enumerate(captures)]
            requests.extend(refunds)
            self.send(refunds)
            self.platform.drain()
            flaky_seen = vendors[steady].requests[mark[steady]:]
            gone_seen = vendors[faulty].requests[mark[faulty]:]
            disabled_events = [e for e in bus_events() if e["detail-type"] == "DeliveryEndpointDisabled"]
            gone_listing = delivery_ops(self.platform, "list", "--endpoint", faulty, "--since", down_since)
            vendors[steady].behave(answer(200))
            vendors[faulty].behave(answer(200))
            enabled = delivery_ops(self.platform, "enable", "--endpoint", faulty)  # the vendor fixed its URL
            after_enable = delivery_ops(self.platform, "recover", "--endpoint", faulty, "--since", gone_since)
            self.platform.drain()
        after = {name: figure(name) - value for name, value in before.items()}
        order = {c.expect.transaction_id: [r.event_type for r in vendors[steady].delivered()
                                           if r.transaction_id == c.expect.transaction_id] for c in captures}
        return {
            "endpoints": {"rate_limited": limited, "healthy_then_500": steady, "dead_then_410": faulty},
            "sent": len(requests),
            "deliveries": sum(len(e.accepted_since(requests_before[e.endpoint_id])) for e in vendors),
            "attempts": after["DeliveryAttempts["],
            "duplicates_seen_by_vendors": sum(e.duplicates() for e in vendors),
            "unverified_at_vendors": sum(e.unverified() for e in vendors),
            "exhausted": after["DeliveryExhausted[vendor_id="],
            "exhausted_events": len(exhausted_events),
            "recovered": recovered["resent"] + after_enable["resent"],
            "dead_vendor": {"sent": len(to_dead), "received_after_recover": len({r.webhook_id for r in dead_seen
                                                                                   if r.status == 200}),
                            "requests": len(dead_seen)},
            "rate_limit": {"per_second": rate, "sent": len(to_limited),
                           "received": len({r.webhook_id for r in limited_seen if r.status == 200}),
                           "most_in_one_second": max(vendors[limited].per_second(limited_seen).values(), default=0),
                           "held_back": after["DeliveryRateLimited["]},
            "healthy_vendor": {"sent": len(to_steady), "received": len({r.webhook_id for r in steady_seen if r.status == 200}),
                               "requests": len(steady_seen),
                               "done_before_rate_limited_vendor": bool(steady_seen and limited_seen and
                                                                       max(r.arrived_at for r in steady_seen)
                                                                       < max(r.arrived_at for r in limited_seen))},
            "failing_vendor": {"answered_500": sum(r.status == 500 for r in flaky_seen),
                               "received": len({r.webhook_id for r in flaky_seen if r.status == 200}),
                               "order_per_payment": order},
            "gone_endpoint": {"requests": len(gone_seen), "answered_410": sum(r.status == 410 for r in gone_seen),
                              "disabled_events": [e["detail"].get("reason") for e in disabled_events
                                                  if e["detail"].get("endpoint_id") == faulty],
                              "disabled_metric": after["DeliveryEndpointDisabled[vendor_id="],
                              "not_attempted": sum(1 for i in gone_listing["items"]
                                                   if i.get("failure_reason") == "endpoint_disabled"),
                              "enabled_again": enabled["changed"], "recovered_after_enable": after_enable["resent"]},
            "api_calls_per_first_try_delivery": {k: round(v / first_try_deliveries, 2) for k, v in sorted(calls.items())}
            if first_try_deliveries else {},
            "first_try_deliveries": first_try_deliveries,
            "out_of_order": out_of_order(vendors),
            "expected": [r.expect.event_id for r in requests],
        }


def run_all(scenarios: Scenarios, *, correct_secrets: dict[str, str]) -> dict:
    results = {}
    runs: list[tuple[str, Callable[[], dict]]] = [
        ("unroutable", scenarios.unroutable), ("poison", scenarios.poison),
        ("wrong_secret", lambda: scenarios.wrong_secret(correct_secrets))]
    if scenarios.vendor_endpoints is not None:
        runs.append(("delivery", scenarios.delivery))
    for name, run in runs:
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
