"""Notifier: notifications queue (SQS standard) -> vendor SNS topic.

* Domain events (EventBridge events delivered by the vendor-notification rule) carry the
  payment's announcements (paycore.lifecycle): each is published at most once per
  (transaction_id, seq), in seq order - a marker row ``{transaction_id, marker:
  "MARKER#notify#seq#<seq>", expires_at}`` in the notification marker table
  (``NOTIFY_MARKERS_TABLE``, TTL on ``expires_at``; the notifier never writes the ledger) is
  claimed with a conditional put *before* publishing (state ``in_progress`` with a short lease)
  and marked ``done`` after; a publish failure releases the claim, so the retry publishes. A
  crash between publish and ``done`` republishes after the lease: at-least-once, never lost. An
  announcement another invocation is publishing fails this record (retried), so the later ones
  wait and the order holds.
* A domain event whose write held a refund or dispute until the payment's sale (``awaiting_sale``)
  is watched: the record fails (``LifecycleAwaitingSale``) until the sale has been published
  (marker ``MARKER#notify#sale``). On the last receive the queue allows
  (``NOTIFICATIONS_MAX_RECEIVE_COUNT``, its ``maxReceiveCount``) the watch ends: counted
  ``LifecycleSaleMissing`` (alarmed), logged with the payment's id, acknowledged. The held
  announcements stay on the state row and are published by the sale's event, right after the
  sale, whenever it comes.
* Manual re-notifications (``kind = manual_notification``, from the notify API) bypass the marker.
* Unknown vendor (no vendor id, or not in the optional ``KNOWN_VENDORS`` list): published anyway
  with ``vendor_id = "unknown"``/the id (no vendor subscription matches) and counted as
  ``UnknownVendorNotifications``.
* Partial batch failures (Powertools BatchProcessor): only failed messages return to the queue;
  a message that is not one of the two shapes fails every time and ends in the DLQ.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from paycore import obs
from paycore.obs import LIFECYCLE_SALE_MISSING, logger, metrics, tracer
from paycore.notification import (
    MARKER_TTL_SECONDS,
    SALE_MARKER,
    DomainEvent,
    Notification,
    parse_queue_message,
    sns_message,
    vendor_attribute,
)

# An all-failed batch is answered with every id in batchItemFailures (same retry effect as an
# error) instead of an invocation error; persistent failures surface as DLQ depth.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
LEASE_SECONDS = 120


class NotificationInProgress(RuntimeError):
    """Another invocation holds the claim: retry this message later."""


class AwaitingSale(RuntimeError):
    """A refund or dispute of this payment waits for its sale, not published yet: look again later."""


@lru_cache(maxsize=1)
def table():
    """The notification marker table (not the ledger: only the processor writes the ledger)."""
    return boto3.resource("dynamodb", config=obs.BOTO_CONFIG).Table(os.environ["NOTIFY_MARKERS_TABLE"])


@lru_cache(maxsize=1)
def sns_client():
    return obs.client("sns")


def _known_vendors() -> frozenset[str] | None:
    raw = os.environ.get("KNOWN_VENDORS", "").strip()
    return frozenset(v.strip() for v in raw.split(",") if v.strip()) if raw else None


def _marker_key(notification: Notification) -> dict[str, str]:
    return {"transaction_id": notification.transaction_id, "marker": notification.marker_sk}


def claim(notification: Notification, now: int) -> bool:
    """True when this invocation must publish; False when it was already published."""
    try:
        table().put_item(
            Item={
                **_marker_key(notification),
                "row_type": "marker",
                "kind": "notification",
                "marker_state": "in_progress",
                "lease_until": now + LEASE_SECONDS,
                "expires_at": now + MARKER_TTL_SECONDS,
            },
            ConditionExpression="attribute_not_exists(transaction_id) OR (#s = :busy AND lease_until < :now)",
            ExpressionAttributeNames={"#s": "marker_state"},
            ExpressionAttributeValues={":busy": "in_progress", ":now": now},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    existing = table().get_item(Key=_marker_key(notification), ConsistentRead=True).get("Item") or {}
    if existing.get("marker_state") == "done":
        return False
    raise NotificationInProgress(f"notification {notification.status} of a transaction is in progress")


def _complete(notification: Notification, message_id: str) -> None:
    table().update_item(
        Key=_marker_key(notification),
        UpdateExpression="SET #s = :done, sns_message_id = :mid REMOVE lease_until",
        ExpressionAttributeNames={"#s": "marker_state"},
        ExpressionAttributeValues={":done": "done", ":mid": message_id},
    )


def _release(notification: Notification) -> None:
    try:
        table().delete_item(
            Key=_marker_key(notification),
            ConditionExpression="#s = :busy",
            ExpressionAttributeNames={"#s": "marker_state"},
            ExpressionAttributeValues={":busy": "in_progress"},
        )
    except ClientError:  # the lease expires anyway
        logger.warning("could not release notification claim")


def _done(notification: Notification) -> bool:
    """Whether the notification was published already (one read: most announcements told again
    were, and a read costs less than the failed conditional write a claim would be)."""
    item = table().get_item(Key=_marker_key(notification), ConsistentRead=True).get("Item") or {}
    return item.get("marker_state") == "done"


def notify(notification: Notification, *, topic_arn: str, now: int) -> str:
    """Publish one notification; returns "published" or "duplicate"."""
    if notification.dedup and ((notification.retold and _done(notification)) or not claim(notification, now)):
        metrics.add_metric("NotificationDuplicates", MetricUnit.Count, 1)
        logger.info("duplicate status notification skipped", extra={"transaction_id": notification.transaction_id})
        return "duplicate"
    vendor, known = vendor_attribute(notification, _known_vendors())
    if not known:
        metrics.add_metric("UnknownVendorNotifications", MetricUnit.Count, 1)
        logger.warning("notification for an unknown vendor", extra={"transaction_id": notification.transaction_id})
    try:
        response = sns_client().publish(TopicArn=topic_arn, **sns_message(notification, vendor))
    except Exception:
        if notification.dedup:
            _release(notification)
        raise
    if notification.dedup:
        _complete(notification, response.get("MessageId", ""))
        if notification.event_type == "payment.succeeded":
            table().put_item(Item={"transaction_id": notification.transaction_id, "marker": SALE_MARKER,
                                   "row_type": "marker", "kind": "notification", "marker_state": "done",
                                   "expires_at": now + MARKER_TTL_SECONDS})
    metrics.add_metric("NotificationsPublished", MetricUnit.Count, 1)
    # the success path: NotificationsPublished counts it; DEBUG (POWERTOOLS_LOG_LEVEL) shows each one
    logger.debug(
        "notification published",
        extra={"transaction_id": notification.transaction_id, "kind": notification.kind, "status": notification.status},
    )
    return "published"


def _max_receives() -> int | None:
    """The notifications queue's maxReceiveCount (None when unset or not a positive integer: the
    watch then fails until the queue dead-letters it)."""
    raw = os.environ.get("NOTIFICATIONS_MAX_RECEIVE_COUNT", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def announce(event: DomainEvent, *, topic_arn: str, now: int, receive_count: int = 1,
             max_receives: int | None = None) -> str:
    """Publish a domain event's announcements in seq order (a failure stops the rest: the retry
    resumes in order); then, for a write that held something, fail until the sale was published -
    on the last receive (``max_receives``) count the sale as missing and let the watch go."""
    outcomes = [notify(n, topic_arn=topic_arn, now=now) for n in event.notifications]
    if event.awaiting_sale:
        told = table().get_item(Key={"transaction_id": event.transaction_id, "marker": SALE_MARKER},
                                ConsistentRead=True).get("Item")
        if not told and max_receives is not None and receive_count >= max_receives:
            metrics.add_metric(LIFECYCLE_SALE_MISSING, MetricUnit.Count, 1)
            logger.warning("a refund or dispute is held: its sale did not come within the watch",
                           extra={"transaction_id": event.transaction_id, "receives": receive_count})
            outcomes.append("sale_missing")
        elif not told:
            metrics.add_metric("LifecycleAwaitingSale", MetricUnit.Count, 1)
            logger.info("a refund or dispute waits for its sale", extra={"transaction_id": event.transaction_id})
            raise AwaitingSale("the payment's sale has not been published yet")
    return ",".join(outcomes) or "nothing_new"


def record_handler(record: SQSRecord) -> str:
    message = parse_queue_message(record.body)
    if isinstance(message, DomainEvent):
        receives = record.attributes.approximate_receive_count
        return announce(message, topic_arn=os.environ["VENDOR_TOPIC_ARN"], now=int(time.time()),
                        receive_count=int(receives) if str(receives or "").isdigit() else 1,
                        max_receives=_max_receives())
    return notify(message, topic_arn=os.environ["VENDOR_TOPIC_ARN"], now=int(time.time()))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
