"""Fixtures for the vendor delivery tests: a controllable clock shared by the handlers, moto's SQS
and the vendors' verifier; the delivery resources in moto; vendor endpoints as real HTTP servers
on 127.0.0.1 that verify every request with the official ``standardwebhooks`` library; and an
event-source-mapping stand-in that drives the FIFO queue the way Lambda does (receive up to 10,
invoke, delete what did not fail), jumping the clock to the next visible message when idle.
"""
from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import boto3
import botocore.client
import moto.dynamodb.models
import moto.sqs.models
import pytest
import standardwebhooks.webhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from downstream_fixtures import REGION, FakeContext, aws_env, fresh  # noqa: F401  (fixtures)

from paycore import delivery
from sqs_event_source import EventSourceStandIn


ACCOUNT = "123456789012"
DELIVERY_TABLE = "deliveries-test"
QUEUE = "deliveries-test.fifo"
DLQ = "deliveries-dlq-test.fifo"
EVENTS_QUEUE = "delivery-events-test"
BUS = "payments-test"
SECRET_PREFIX = "payment-webhooks/test/"
START = 1_764_380_000.0  # 2025-11-29T01:33:20Z


class Clock:
    """Seconds since the epoch, moved only by the test (``advance``/``set``)."""

    def __init__(self, now: float = START):
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self.now = max(self.now, when)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(delivery, "clock", fake)
    monkeypatch.setattr(moto.sqs.models, "unix_time", lambda *a: fake())
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *a: fake() * 1000)

    class VendorClock(datetime):
        """What a vendor's clock says: in sync with ours (the library checks a 5-minute tolerance)."""

        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(fake(), tz=tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", VendorClock)
    return fake


def patch_moto_visibility(monkeypatch, *, limit_from_sent: bool) -> None:
    """Two moto 5.2 behaviours differ from SQS:

    * the 12-h visibility cap: moto measures it from when the message was *sent*; SQS per receive
      ("the maximum allowed timeout would be 9 hours 30 minutes" after a 30-minute visibility plus a
      2-hour extension, ChangeMessageVisibility API reference). ``limit_from_sent=False`` measures
      from the last receive; True keeps moto's stricter rule (the sender must cope with both);
    * a message whose visibility ended stays in moto's in-flight set until a receive walks past
      it, so moto skips the *earlier* message of its group and returns the later one: here a group
      is locked only by messages that are still invisible, as in SQS.
    """
    monkeypatch.setattr(moto.sqs.models.Queue, "pending_message_groups", property(
        lambda queue: {m.group_id for m in queue._pending_messages if m.group_id is not None and not m.visible}))
    real_mark = moto.sqs.models.Message.mark_received

    def mark_received(self, visibility_timeout=None):
        self.last_received_ms = moto.sqs.models.unix_time_millis()
        return real_mark(self, visibility_timeout)

    def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
        queue = self.get_queue(queue_name)
        for message in queue._messages:
            if message.had_receipt_handle(receipt_handle):
                now = moto.sqs.models.unix_time_millis()
                base = message.sent_timestamp if limit_from_sent else getattr(message, "last_received_ms", now)
                if now + int(visibility_timeout) * 1000 - base > 43200 * 1000:
                    raise moto.sqs.models.InvalidParameterValue(
                        f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                        "VisibilityTimeout for the message is beyond the limit [43200 seconds]")
                message.change_visibility(visibility_timeout)
                if message.visible_at <= now and message in queue.pending_messages:
                    queue.pending_messages.remove(message)
                return
        raise moto.sqs.models.ReceiptHandleIsInvalid

    monkeypatch.setattr(moto.sqs.models.Message, "mark_received", mark_received)
    monkeypatch.setattr(moto.sqs.models.SQSBackend, "change_message_visibility", change_message_visibility)


def patch_moto_retention(monkeypatch) -> None:
    """SQS deletes a message once it is older than the queue's ``MessageRetentionPeriod`` (SQS API
    reference, SetQueueAttributes: "The length of time, in seconds, for which Amazon SQS retains a
    message"). moto 5.2 keeps it: a receive marks the expired message received (its group stays
    locked) and stops there without returning anything. Here a receive first drops what expired."""
    real_receive = moto.sqs.models.SQSBackend.receive_message

    def receive_message(self, queue_name, *args, **kwargs):
        queue = self.get_queue(queue_name)
        now = moto.sqs.models.unix_time()
        for message in list(queue._messages):
            if message.sent_timestamp / 1000 + int(queue.message_retention_period) <= now:
                queue._messages.remove(message)
                queue.pending_messages.discard(message)
        return real_receive(self, queue_name, *args, **kwargs)

    monkeypatch.setattr(moto.sqs.models.SQSBackend, "receive_message", receive_message)


def create_delivery_table(ddb) -> None:
    keys = [("pk", "S"), ("sk", "S"), ("endpoint_key", "S"), ("txn_key", "S"), ("sort_key", "S")]
    ddb.create_table(
        TableName=DELIVERY_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in keys],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": name, "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": "sort_key", "KeyType": "RANGE"}]}
            for name, pk in (("by-endpoint", "endpoint_key"), ("by-transaction", "txn_key"))
        ],
    )
    ddb.update_time_to_live(TableName=DELIVERY_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


@dataclass
class Vendor:
    """An HTTP server on 127.0.0.1 that plays a vendor endpoint."""

    endpoint_id: str
    secret: str = ""
    respond: Callable[["Vendor", dict[str, str], bytes], int] = lambda vendor, headers, body: 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    #: answer 200 with a 1 MB body sent one byte per 100 ms, until the client hangs up
    trickle: bool = False
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{self.endpoint_id}"

    def received(self) -> list[dict[str, Any]]:
        """Verified, answered 2xx, de-duplicated by webhook-id (what the vendor's app keeps)."""
        seen, kept = set(), []
        for request in self.requests:
            if request["answered"] // 100 == 2 and request["verified"] and request["id"] not in seen:
                seen.add(request["id"])
                kept.append(request)
        return kept

    def start(self) -> "Vendor":
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(vendor.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    payload, verified = json.loads(body), False
                request = {"id": headers.get("webhook-id"), "verified": verified, "payload": payload,
                           "signature": headers.get("webhook-signature"), "timestamp": headers.get("webhook-timestamp"),
                           "host": headers.get("host"), "answered": 0}
                vendor.requests.append(request)
                if vendor.trickle:
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    while not vendor.stopped.wait(0.1):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    return
                status = vendor.respond(vendor, headers, body) if verified else 401
                request["answered"] = status
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class ApiCalls:
    """Counts AWS API calls made by the functions (not by the test's own set-up or the ESM stand-in)."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.local = threading.local()

    def by_operation(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for service, operation in self.calls:
            counts[f"{service}:{operation}"] = counts.get(f"{service}:{operation}", 0) + 1
        return counts


@dataclass
class DeliveryEnv:
    ddb: Any
    sqs: Any
    sm: Any
    queue_url: str
    dlq_url: str
    events_queue_url: str
    bus_capture_url: str
    clock: Clock
    calls: ApiCalls
    vendors: dict[str, Vendor] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=lambda: {"vendors": {}})
    monkeypatch: Any = None

    def add_endpoint(self, vendor_id: str, endpoint_id: str, *, event_types=("payment.succeeded", "payment.refunded", "payment.failed"),
                     rate_limit_per_second=None, paused=False, respond=None, trickle=False) -> Vendor:
        secret = delivery.generate_secret()
        self.sm.create_secret(Name=delivery.secret_name(SECRET_PREFIX, endpoint_id), SecretString=json.dumps({"current": secret}))
        vendor = Vendor(endpoint_id, secret, respond or (lambda v, h, b: 200), trickle=trickle).start()
        self.vendors[endpoint_id] = vendor
        endpoint: dict[str, Any] = {"id": endpoint_id, "url": vendor.url, "event_types": list(event_types)}
        if rate_limit_per_second is not None:
            endpoint["rate_limit_per_second"] = rate_limit_per_second
        if paused:
            endpoint["paused"] = True
        self.config["vendors"].setdefault(vendor_id, {"endpoints": []})["endpoints"].append(endpoint)
        self.monkeypatch.setenv("DELIVERY_ENDPOINTS", json.dumps(self.config))
        return vendor

    def endpoints(self) -> dict[str, delivery.Endpoint]:
        return delivery.parse_endpoints(self.config, allow_loopback_http=True)

    def bus_events(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.bus_capture_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.bus_capture_url, ReceiptHandle=message["ReceiptHandle"])

    def dlq_messages(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]


@pytest.fixture
def moto_visibility_as_sent() -> bool:
    """Override with True to keep moto's stricter 12-h-since-sent visibility cap."""
    return False


@pytest.fixture
def delivery_env(aws_env, clock, monkeypatch, moto_visibility_as_sent):
    patch_moto_visibility(monkeypatch, limit_from_sent=moto_visibility_as_sent)
    patch_moto_retention(monkeypatch)
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    sm = boto3.client("secretsmanager", region_name=REGION)
    eb = boto3.client("events", region_name=REGION)
    create_delivery_table(ddb)
    dlq_url = sqs.create_queue(QueueName=DLQ, Attributes={"FifoQueue": "true", "MessageRetentionPeriod": "1209600"})["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "180", "MessageRetentionPeriod": "1209600"})["QueueUrl"]
    events_url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    capture_url = sqs.create_queue(QueueName="bus-capture-test")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    eb.create_event_bus(Name=BUS)
    eb.put_rule(Name="delivery-alerts", EventBusName=BUS, EventPattern=json.dumps({"source": [delivery.EVENT_SOURCE]}))
    eb.put_targets(Rule="delivery-alerts", EventBusName=BUS, Targets=[{"Id": "capture", "Arn": capture_arn}])
    for name, value in {
        "DELIVERY_TABLE_NAME": DELIVERY_TABLE, "DELIVERY_QUEUE_URL": queue_url, "DELIVERY_DLQ_URL": dlq_url,
        "EVENT_BUS_NAME": BUS, "SECRET_PREFIX": SECRET_PREFIX, "DELIVERY_ALLOW_LOOPBACK_HTTP": "true",
        "DELIVERY_TIMEOUT_SECONDS": "5", "DELIVERY_ENDPOINTS": json.dumps({"vendors": {}}),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DELIVERY_RETRY_SCHEDULE", raising=False)
    monkeypatch.delenv("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", raising=False)
    # DynamoDB applies a conditional write and a transaction atomically; moto does not when called
    # from several threads (a cancelled transaction restores a copy of the whole table).
    lock = threading.RLock()

    def atomic(real):
        def call(self, *args, **kwargs):
            with lock:
                return real(self, *args, **kwargs)
        return call

    for name in ("update_item", "transact_write_items"):
        monkeypatch.setattr(moto.dynamodb.models.DynamoDBBackend, name, atomic(getattr(moto.dynamodb.models.DynamoDBBackend, name)))
    calls = ApiCalls()
    real = botocore.client.BaseClient._make_api_call

    def counted(self, operation, params):
        if not getattr(calls.local, "harness", False):
            calls.calls.append((self.meta.service_model.service_name, operation))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    env = DeliveryEnv(ddb, sqs, sm, queue_url, dlq_url, events_url, capture_url, clock, calls, monkeypatch=monkeypatch)
    yield env
    for vendor in env.vendors.values():
        vendor.stop()


@pytest.fixture
def sender(delivery_env):
    return fresh("delivery_sender_handler")


@pytest.fixture
def fanout(delivery_env):
    return fresh("delivery_fanout_handler")


def status_change(transaction_id: str, new_status: str, old_status: str = "", vendor_id: str = "vendor-a",
                  amount: int = 1999, occurred_at: str = "2025-11-29T01:33:00.000Z") -> str:
    """The SQS body of the domain event (what the rule delivers) of the write that announces
    ``new_status`` after ``old_status`` (a payment status or a kind of paycore.lifecycle): built
    as the processor and Pipe B build it (lifecycle_events.domain_event)."""
    from lifecycle_events import domain_event  # here: the platform tests import this module on older code too

    kinds = [old_status, new_status] if old_status else [new_status]
    return json.dumps(domain_event(transaction_id, kinds, vendor_id=vendor_id, amount=amount, occurred_at=occurred_at))


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [
        {"messageId": f"e{i}", "receiptHandle": f"rh{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
         "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
         "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{EVENTS_QUEUE}", "awsRegion": REGION}
        for i, body in enumerate(bodies)]}


class Esm:
    """Lambda's SQS FIFO event source mapping (sqs_event_source.py), jumping the clock to the
    next visible message when a receive comes back empty."""

    def __init__(self, env: DeliveryEnv, handler: Callable[[dict, Any], dict]):
        self.env = env
        self.source = EventSourceStandIn(env.sqs, env.queue_url, handler, context=FakeContext(),
                                         own_calls=self._own_calls)

    @contextlib.contextmanager
    def _own_calls(self):
        self.env.calls.local.harness = True
        try:
            yield
        finally:
            self.env.calls.local.harness = False

    @property
    def receives(self) -> int:
        return self.source.receives

    @property
    def invocations(self) -> int:
        return self.source.invocations

    def _queue(self):
        return moto.sqs.models.sqs_backends[ACCOUNT][REGION].queues[QUEUE]

    def next_visible_at(self) -> float | None:
        """When the next message becomes visible (a visible message whose group is locked waits for
        the in-flight one); None when the queue is empty."""
        messages = list(self._queue()._messages)
        if not messages:
            return None
        now_ms = self.env.clock() * 1000
        future = [max(m.visible_at, m.delayed_until or 0) for m in messages]
        future = [t for t in future if t >= now_ms]
        if not future:
            raise AssertionError("visible messages that nothing receives: the queue is stuck")
        return min(future) / 1000

    def pending(self) -> int:
        return len(self._queue()._messages)

    def run(self, *, until: float | None = None, max_batches: int = 5000) -> None:
        """Drive the queue until it is empty (or the clock would pass ``until``)."""

        def idle() -> bool:
            when = self.next_visible_at()
            if when is None or (until is not None and when > until):
                if until is not None:
                    self.env.clock.set(until)
                return False
            self.env.clock.set(when + 0.001)
            return True

        self.source.run(idle, max_batches=max_batches)

    def run_bounded(self, seconds: float, **kwargs: Any) -> None:
        """:meth:`run` in a thread that must end within ``seconds`` of real time (a test of a
        deadline must not hang when the deadline does not hold)."""
        failure: list[BaseException] = []

        def target() -> None:
            try:
                self.run(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
                failure.append(exc)

        worker = threading.Thread(target=target, daemon=True)
        worker.start()
        worker.join(seconds)
        assert not worker.is_alive(), f"the sender was still busy after {seconds:g} s of real time"
        if failure:
            raise failure[0]
