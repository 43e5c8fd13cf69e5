"""Delivery sender: ``deliveries-{env}.fifo`` -> signed webhooks to vendor endpoints.

One record = one attempt at most. The FIFO queue holds the schedule: after a failed attempt the
sender sets the message's visibility to the next delay (``ChangeMessageVisibility``, up to 12 h)
and reports it failed; its group (endpoint + payment) stays locked while it is in flight, so a
later status of that payment cannot overtake it, and every other group keeps flowing.

* paused (configuration or ops) -> held: visibility = pause re-check, no attempt counted;
* rate limit (fixed window in DynamoDB) full -> held until the next window, no attempt counted;
* disabled -> the message is marked ``failed`` (reason ``endpoint_disabled``), recoverable;
* 2xx within the timeout -> ``delivered``; 410 -> endpoint disabled (event + metric);
* other failure -> next delay; continuously failing for ``DELIVERY_AUTO_DISABLE_AFTER_SECONDS``
  -> endpoint disabled; after the last attempt -> ``exhausted``: copy to the dead-letter queue,
  ``DeliveryExhausted`` on the bus, metric.

Groups of one batch run in parallel threads (records of one group in order): a slow vendor does
not hold another vendor's request behind its timeout. Each attempt ends by its deadline
(``paycore.egress``); a record the invocation has no time left for is returned unattempted
(the function timeout fits a batch: ``paycore.delivery.sender_timeout_floor``). Nothing of a body, header or secret is
logged; the endpoint URL is not logged either (vendors put tokens in URLs).
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.exceptions import ClientError

from paycore import delivery, egress, fifo_groups, obs
from paycore.delivery_store import (
    ACTIVE, DELIVERED, DISABLED, EXHAUSTED, FAILED, PARKED, PARKING, PAUSED, PENDING, RELEASING, DeliveryStore,
    endpoint_key, message_key, park_sort_key,
)
from paycore.ledger import deserialize
from paycore.obs import logger, metrics, tracer
from paycore.secrets import SecretStore

MAX_PARALLEL_GROUPS = 10
_SECRET_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def sqs_client():
    return obs.client("sqs")


@lru_cache(maxsize=1)
def events_client():
    return obs.client("events")


@lru_cache(maxsize=1)
def store() -> DeliveryStore:
    return DeliveryStore(obs.client("dynamodb"), os.environ["DELIVERY_TABLE_NAME"])


@lru_cache(maxsize=1)
def secret_store() -> SecretStore:
    return SecretStore(obs.client("secretsmanager"), prefix=os.environ["SECRET_PREFIX"])


@dataclass(frozen=True)
class Hold:
    """Leave the message in the queue, invisible for ``seconds`` (its group waits with it)."""

    seconds: int
    reason: str


def vendor_metric(name: str, vendor_id: str, value: float = 1, unit: str = MetricUnit.Count, *, total: bool = False) -> None:
    """EMF metric with dimensions (service, vendor_id); ``total`` also emits it with (service) only,
    which is what the alarms watch."""
    dimension_sets = [{"vendor_id": vendor_id}] + ([{}] if total else [])
    for extra in dimension_sets:
        obs.metric_blob(name, value, unit, dimensions=extra)


def attempt_metrics(vendor_id: str, ok: bool, latency_ms: int) -> None:
    """One EMF blob per attempt, dimensions (service, vendor_id): DeliveryAttempts, DeliveryLatency,
    DeliverySuccesses or DeliveryFailedAttempts (an instance per call: safe from the threads)."""
    blob = EphemeralMetrics(namespace=obs.NAMESPACE, service=obs.SERVICE)
    blob.add_dimension(name="vendor_id", value=vendor_id)
    blob.add_metric(name="DeliveryAttempts", unit=MetricUnit.Count, value=1)
    blob.add_metric(name="DeliveryLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    blob.add_metric(name="DeliverySuccesses" if ok else "DeliveryFailedAttempts", unit=MetricUnit.Count, value=1)
    obs.emit(blob)


def obs_count(name: str) -> None:
    """A service-level count, flushed at once (safe from the worker threads)."""
    obs.metric_blob(name)


def _emit(detail_type: str, detail: dict[str, Any]) -> None:
    bus = os.environ.get("EVENT_BUS_NAME")
    if not bus:
        return
    response = events_client().put_events(Entries=[{
        "Source": delivery.EVENT_SOURCE, "DetailType": detail_type, "EventBusName": bus,
        "Detail": json.dumps(detail, separators=(",", ":")),
    }])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"{detail_type} event not accepted by the bus")


def _read_rows(message_id: str, endpoint_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Message row and endpoint state in one BatchGetItem (consistent)."""
    table = store().table
    request = {table: {"Keys": [message_key(message_id), endpoint_key(endpoint_id)], "ConsistentRead": True}}
    rows: list[dict[str, Any]] = []
    while request:
        response = store().client.batch_get_item(RequestItems=request)
        rows.extend(deserialize(i) for i in response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or None
    message = next((r for r in rows if r.get("sk") == "MSG"), None)
    state = next((r for r in rows if r.get("sk") == "STATE"), {})
    state.setdefault("admin_state", ACTIVE)
    return message, state


def _new_row(msg: dict[str, Any], now: float, ttl: int) -> dict[str, Any]:
    return {
        "pk": f"MSG#{msg['message_id']}", "sk": "MSG", "row_type": "message",
        "message_id": msg["message_id"], "endpoint_id": msg["endpoint_id"], "vendor_id": msg["vendor_id"],
        "transaction_id": msg["transaction_id"], "event_type": msg["event_type"], "status": msg.get("status"),
        "seq": msg.get("seq") if isinstance(msg.get("seq"), int) else None,
        "payload": msg["payload"], "created_at": msg["created_at"], "state": PENDING,
        "cycle_attempts": 0, "total_attempts": 0, "updated_at": delivery.iso(now),
        "endpoint_key": msg["endpoint_id"], "txn_key": msg["transaction_id"],
        "sort_key": f"{msg['created_at']}#{msg['message_id']}", "expires_at": int(now) + ttl,
    }


def disable_endpoint(endpoint: delivery.Endpoint, reason: str, now: float) -> bool:
    """Disable once (the winner emits the event and the metric); True if this call disabled it."""
    if not store().set_admin_state(endpoint.id, DISABLED, reason=reason, now=delivery.iso(now), only_from=[ACTIVE, PAUSED]):
        return False
    _emit(delivery.DISABLED_DETAIL_TYPE, {"endpoint_id": endpoint.id, "vendor_id": endpoint.vendor_id,
                                          "reason": reason, "disabled_at": delivery.iso(now)})
    vendor_metric("DeliveryEndpointDisabled", endpoint.vendor_id, total=True)
    logger.warning("delivery endpoint disabled", extra={"endpoint_id": endpoint.id, "reason": reason})
    return True


def _park_mode(state: Mapping[str, Any]) -> str | None:
    """What the endpoint does with a new message because some are parked: None, parking, releasing."""
    mode = state.get("park_mode")
    if mode == RELEASING and int(state.get("parked", 0)) <= 0:
        return None  # the last parked message was re-sent
    return str(mode) if mode else None


def _sent_at(record: Mapping[str, Any] | None, row: Mapping[str, Any]) -> float:
    """When SQS took the message (its retention counts from then); the row's creation if unknown
    (never later than the send: parks early rather than late)."""
    try:
        return int((record or {}).get("attributes", {})["SentTimestamp"]) / 1000
    except (KeyError, TypeError, ValueError):
        return datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00")).timestamp()


def park(row: dict[str, Any], state: Mapping[str, Any], *, reason: str, held_for: str, now: float) -> str:
    """Take the message out of the queue into the table (durable, no TTL) until ops release it; the
    first one of an endpoint puts it in parking mode and says so (event, warning)."""
    endpoint_id, vendor = row["endpoint_id"], row["vendor_id"]
    if state.get("park_mode") != PARKING and store().start_parking(endpoint_id, delivery.iso(now)):
        _emit(delivery.PARKED_DETAIL_TYPE, {"endpoint_id": endpoint_id, "vendor_id": vendor,
                                            "message_id": row["message_id"], "reason": reason, "held_for": held_for,
                                            "parked_at": delivery.iso(now)})
        logger.warning("delivery endpoint parking messages", extra={"endpoint_id": endpoint_id, "reason": reason,
                                                                    "held_for": held_for})
    sort_key = park_sort_key(row, delivery.status_rank(str(row.get("status") or "")))
    if not store().park(row, sort_key=sort_key, reason=reason, now=delivery.iso(now)):
        obs_count("DeliveryDuplicatesSkipped")
        return "skipped_parked"
    vendor_metric("DeliveryParked", vendor, total=True)
    return "parked"


def requeue(msg: Mapping[str, Any], record: Mapping[str, Any] | None) -> str:
    """Send the message again behind what ops are re-sending of its group (the endpoint is releasing
    parked messages, which the queue holds behind this one); the copy is not requeued again."""
    body = {k: v for k, v in msg.items() if k != "park_key"}
    sqs_client().send_message(
        QueueUrl=os.environ["DELIVERY_QUEUE_URL"], MessageBody=json.dumps({**body, "after_park": True}, separators=(",", ":")),
        MessageGroupId=delivery.group_id(msg["endpoint_id"], msg["transaction_id"]),
        MessageDeduplicationId=f"{msg['message_id']}.a{(record or {}).get('messageId', '0')}")
    obs_count("DeliveryRequeued")
    return "requeued"


def process(msg: dict[str, Any], settings: delivery.Settings, endpoints: dict[str, delivery.Endpoint],
            record: Mapping[str, Any] | None = None) -> Hold | str:
    """One delivery message -> an outcome string (the message is done) or a :class:`Hold`."""
    now = delivery.clock()
    row, state = _read_rows(msg["message_id"], msg["endpoint_id"])
    if row is None:
        row = _new_row(msg, now, settings.log_ttl_seconds)
        if not store().create_message(row):
            row = store().get_message(msg["message_id"]) or row
    endpoint = endpoints.get(row["endpoint_id"])
    message_id, vendor = row["message_id"], row["vendor_id"]
    disabled = endpoint is None or state.get("admin_state") == DISABLED
    paused = endpoint is not None and (endpoint.paused or state.get("admin_state") == PAUSED)
    released = msg.get("park_key")
    if released and row["state"] == PARKED and row.get("park_sort") == released:
        if disabled or paused:
            return "kept_parked"  # released while it cannot be delivered: the next release sends it
        if not store().unpark(row, now=delivery.iso(now), expires_at=int(now) + settings.log_ttl_seconds):
            return "skipped_parked"
        row = {**row, "state": PENDING, "cycle_attempts": 0}
        vendor_metric("DeliveryReleased", vendor)
    if row["state"] != PENDING:
        obs_count("DeliveryDuplicatesSkipped")
        return f"skipped_{row['state']}"
    if disabled or endpoint is None:
        reason = "endpoint_removed" if endpoint is None else "endpoint_disabled"
        store().update_message(message_id, {"state": FAILED, "failure_reason": reason, "updated_at": delivery.iso(now)})
        vendor_metric("DeliveryNotAttempted", vendor)
        return reason
    mode = None if released else _park_mode(state)
    if mode == RELEASING and not paused:
        if not msg.get("after_park"):
            return requeue(msg, record)
    elif mode is not None:  # parking (or paused while releasing): behind the parked ones, in the table
        return park(row, state, reason="behind_parked", held_for="paused" if paused else "parked", now=now)

    def held(seconds: int, reason: str) -> Hold | str:
        """Hold the message in the queue, or park it if it would come back too close to its expiry."""
        at = delivery.clock()
        if at + seconds - _sent_at(record, row) >= settings.park_after_seconds:
            return park(row, state, reason="retention", held_for=reason, now=at)
        return Hold(seconds, reason)

    due = float(row.get("next_attempt_ts", 0))
    if due > now:  # woke up early (see _hold): wait for the scheduled time, no attempt
        return held(max(1, int(due - now + 0.999)), "not_due")
    if paused:
        vendor_metric("DeliveryHeldPaused", vendor)
        return held(settings.pause_recheck_seconds, "paused")
    if endpoint.rate_limit_per_second:
        start, length, allowed = delivery.rate_window(endpoint.rate_limit_per_second, now)
        if not store().take_rate_slot(endpoint.id, start, allowed, start + length + 3600):
            vendor_metric("DeliveryRateLimited", vendor)
            return held(max(1, start + length - int(now)), "rate_limited")

    with _SECRET_LOCK:  # one Secrets Manager call per endpoint and cache period, not one per thread
        secret_value = secret_store().get_json(delivery.secret_name(secret_store().prefix, endpoint.id))
    timestamp = int(now)
    body = row["payload"]
    result = egress.send(
        endpoint.url, body.encode(), delivery.headers(message_id, timestamp, body, delivery.active_secrets(secret_value, now)),
        timeout_seconds=settings.timeout_seconds, allow_loopback_http=settings.allow_loopback_http)
    now = delivery.clock()  # the attempt took time (a controllable clock in tests)
    number = int(row.get("total_attempts", 0)) + 1
    cycle = int(row.get("cycle_attempts", 0)) + 1
    store().record_attempt(row, number=number, attempted_at=delivery.iso(timestamp), status_code=result.status_code,
                           latency_ms=result.latency_ms, outcome=result.outcome, expires_at=int(now) + settings.log_ttl_seconds)
    attempt_metrics(vendor, result.ok, result.latency_ms)
    common = {"last_status_code": result.status_code, "last_outcome": result.outcome,
              "last_attempt_at": delivery.iso(timestamp), "updated_at": delivery.iso(now)}
    log = {"endpoint_id": endpoint.id, "message_id": message_id, "status_code": result.status_code,
           "outcome": result.outcome, "latency_ms": result.latency_ms, "attempt": cycle}

    if result.ok:
        store().update_message(message_id, {**common, "state": DELIVERED, "delivered_at": delivery.iso(now)},
                               remove=["next_attempt_at", "next_attempt_ts"], add_attempt=True)
        if "failing_since" in state:
            store().mark_healthy(endpoint.id, now)
        logger.info("webhook delivered", extra=log)
        return "delivered"

    logger.info("webhook attempt failed", extra=log)
    if result.outcome == "gone":
        disable_endpoint(endpoint, "gone", now)
        store().update_message(message_id, {**common, "state": FAILED, "failure_reason": "endpoint_gone"}, add_attempt=True)
        return "endpoint_gone"
    failing_since = state.get("failing_since")
    if failing_since is None:
        store().mark_failing(endpoint.id, timestamp)
        failing_since = timestamp
    if now - float(failing_since) >= settings.auto_disable_after_seconds:
        disable_endpoint(endpoint, "failing", now)
        store().update_message(message_id, {**common, "state": FAILED, "failure_reason": "endpoint_disabled"}, add_attempt=True)
        return "endpoint_disabled"
    delay = delivery.next_delay(cycle, settings.schedule)
    if delay is None:
        exhaust(row, common, cycle, now)
        return "exhausted"
    store().update_message(message_id, {**common, "next_attempt_at": delivery.iso(now + delay), "next_attempt_ts": int(now + delay)},
                           add_attempt=True)
    return held(delay, "retry")


def exhaust(row: dict[str, Any], common: dict[str, Any], attempts: int, now: float) -> None:
    """Last attempt failed: dead-letter copy, row ``exhausted``, event, metric."""
    message_id = row["message_id"]
    sqs_client().send_message(
        QueueUrl=os.environ["DELIVERY_DLQ_URL"],
        MessageBody=json.dumps({"v": 1, "message_id": message_id, "endpoint_id": row["endpoint_id"],
                                "vendor_id": row["vendor_id"], "transaction_id": row["transaction_id"],
                                "event_type": row["event_type"], "attempts": attempts, "exhausted_at": delivery.iso(now)},
                               separators=(",", ":")),
        MessageGroupId=delivery.group_id(row["endpoint_id"], row["transaction_id"]),
        MessageDeduplicationId=f"{message_id}.x{row.get('total_attempts', 0)}",
    )
    store().update_message(message_id, {**common, "state": EXHAUSTED, "failure_reason": "exhausted"},
                           remove=["next_attempt_at", "next_attempt_ts"], add_attempt=True)
    _emit(delivery.EXHAUSTED_DETAIL_TYPE, {"message_id": message_id, "endpoint_id": row["endpoint_id"],
                                           "vendor_id": row["vendor_id"], "transaction_id": row["transaction_id"],
                                           "event_type": row["event_type"], "attempts": attempts,
                                           "last_status_code": common["last_status_code"]})
    vendor_metric("DeliveryExhausted", row["vendor_id"], total=True)
    logger.warning("webhook delivery exhausted", extra={"endpoint_id": row["endpoint_id"], "message_id": message_id})


def _parse(body: str) -> dict[str, Any] | None:
    try:
        msg = json.loads(body)
    except ValueError:
        return None
    required = ("message_id", "endpoint_id", "vendor_id", "transaction_id", "event_type", "created_at", "payload")
    if not isinstance(msg, dict) or any(not isinstance(msg.get(k), str) or not msg.get(k) for k in required):
        return None
    return msg


def _hold(record: dict[str, Any], seconds: int) -> None:
    """Hide the message for ``seconds``. SQS caps one receive's visibility at 12 h; should it refuse
    (``InvalidParameterValue``), the message keeps the visibility it was received with and the
    row's ``next_attempt_ts`` holds it again on its next receive - the schedule lives in DynamoDB."""
    try:
        sqs_client().change_message_visibility(
            QueueUrl=os.environ["DELIVERY_QUEUE_URL"], ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=int(min(seconds, delivery.MAX_DELAY_SECONDS)))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("InvalidParameterValue", "AWS.SimpleQueueService.InvalidParameterValue"):
            raise
        obs_count("DeliveryVisibilityRefused")


def process_group(records: Sequence[dict[str, Any]], settings: delivery.Settings, endpoints: dict[str, delivery.Endpoint],
                  seconds_left: Callable[[], float] = lambda: float("inf")) -> list[str]:
    """Records of one message group, in order; returns the ids to report as failed. A record the
    invocation has no time left for (``seconds_left``) is not started: it and the group's later
    records go back to the queue at once, unattempted."""
    for index, record in enumerate(records):
        if seconds_left() < delivery.record_budget_seconds(settings.timeout_seconds):
            for left_over in records[index:]:
                _hold(left_over, 0)
            obs_count("DeliveryOutOfTime")
            logger.warning("no time left for a delivery record: returned to the queue",
                           extra={"sqs_message_id": record["messageId"], "records": len(records) - index})
            return [r["messageId"] for r in records[index:]]
        msg = _parse(record["body"])
        try:
            if msg is None:  # cannot ever be delivered: keep it for inspection, do not block the group
                sqs_client().send_message(QueueUrl=os.environ["DELIVERY_DLQ_URL"], MessageBody=record["body"][:200_000],
                                          MessageGroupId=record.get("attributes", {}).get("MessageGroupId", "malformed"),
                                          MessageDeduplicationId=record["messageId"])
                obs_count("DeliveryMalformedMessages")
                logger.error("malformed delivery message dead-lettered", extra={"sqs_message_id": record["messageId"]})
                continue
            outcome = process(msg, settings, endpoints, record)
        except Exception:  # noqa: BLE001 - AWS trouble: the group retries after the queue's visibility timeout
            logger.exception("delivery record failed", extra={"sqs_message_id": record["messageId"]})
            return [r["messageId"] for r in records[index:]]
        if isinstance(outcome, Hold):
            _hold(record, outcome.seconds)
            for behind in records[index + 1:]:  # back to the queue now: the group stays locked by the held one
                _hold(behind, 0)
            return [r["messageId"] for r in records[index:]]
    return []


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = delivery.Settings.from_env()
    endpoints = delivery.load_endpoints(settings)
    groups = fifo_groups.by_group(event.get("Records", []),
                                  lambda record: record.get("attributes", {}).get("MessageGroupId", record["messageId"]))
    failed: list[str] = []

    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    if groups:
        store(), sqs_client(), events_client(), secret_store()  # created here: boto3 client creation is not thread-safe
        for ids in fifo_groups.run_groups(groups, lambda records: process_group(records, settings, endpoints, seconds_left),
                                          max_workers=MAX_PARALLEL_GROUPS):
            failed.extend(ids)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
