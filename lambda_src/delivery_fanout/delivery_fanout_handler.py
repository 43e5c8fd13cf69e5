"""Delivery fan-out: domain events (queue ``delivery-events-{env}``, fed by the bus rule
``vendor-delivery``) -> one message per announcement and subscribed vendor endpoint on
``deliveries-{env}.fifo``.

* Message group = (endpoint, payment): a later announcement of one payment waits behind an
  earlier one for the same endpoint; endpoints and payments never wait for each other.
* Each domain event carries the payment's last announcements in seq order
  (paycore.lifecycle.WINDOW); its own and those made up to a day before them
  (paycore.events.announcements_to_tell) are enqueued, oldest first, so an announcement never
  overtakes an earlier one, whatever order the bus delivers the events in: the one that arrives
  first enqueues its predecessors before itself.
* ``MessageDeduplicationId`` = the deterministic ``webhook-id`` (endpoint, payment, seq): the same
  announcement from another domain event within 5 minutes is dropped by SQS, a later one by the
  sender (its message row is no longer pending), so each is delivered once.
* No DynamoDB write here: the sender creates the message row on first sight (one SQS call per
  event and up to 10 messages).
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from paycore import delivery, obs
from paycore.events import DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE, announcements_to_tell
from paycore.model import SAFE_ID
from paycore.obs import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class InvalidEvent(ValueError):
    """Not a TransactionStatusChanged event (permanent: ends in the DLQ)."""


@lru_cache(maxsize=1)
def sqs_client():
    return obs.client("sqs")


def messages_for(detail: dict[str, Any], endpoints: dict[str, delivery.Endpoint], now: float) -> list[dict[str, Any]]:
    """The delivery messages (SQS entries) one domain event produces, in the order to enqueue."""
    transaction_id = str(detail.get("transaction_id") or "")
    vendor_id = str(detail.get("vendor_id") or "")
    if not SAFE_ID.match(transaction_id):
        raise InvalidEvent("transaction_id is missing or invalid")
    if not vendor_id:
        return []
    entries = []
    for endpoint in delivery.endpoints_of_vendor(endpoints, vendor_id):
        for announcement in announcements_to_tell(detail):
            event_type = delivery.event_type_of(announcement.get("kind", ""))
            if event_type is None or not endpoint.wants(event_type):
                continue
            message_id = delivery.webhook_id(endpoint.id, transaction_id, delivery.announcement_label(announcement["seq"]))
            body = {
                "v": 1,
                "message_id": message_id,
                "endpoint_id": endpoint.id,
                "vendor_id": vendor_id,
                "transaction_id": transaction_id,
                "event_type": event_type,
                "status": announcement["kind"],
                "seq": announcement["seq"],
                "created_at": delivery.iso(now),
                "payload": delivery.payload(detail, announcement),
            }
            entries.append({
                "Id": str(len(entries)),
                "MessageBody": json.dumps(body, separators=(",", ":")),
                "MessageGroupId": delivery.group_id(endpoint.id, transaction_id),
                "MessageDeduplicationId": message_id,
            })
    return entries


def enqueue(queue_url: str, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 10):
        chunk = entries[start:start + 10]
        response = sqs_client().send_message_batch(QueueUrl=queue_url, Entries=chunk)
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} delivery message(s) not enqueued")


def record_handler(record: SQSRecord) -> int:
    try:
        event = json.loads(record.body)
    except ValueError as exc:
        raise InvalidEvent("body is not JSON") from exc
    if not isinstance(event, dict) or event.get("source") != DOMAIN_EVENT_SOURCE or event.get("detail-type") != DOMAIN_EVENT_DETAIL_TYPE:
        raise InvalidEvent("not a TransactionStatusChanged event")
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    settings = delivery.Settings.from_env()
    entries = messages_for(detail, delivery.load_endpoints(settings), delivery.clock())
    enqueue(os.environ["DELIVERY_QUEUE_URL"], entries)
    obs.count("DeliveryMessagesEnqueued", len(entries))
    logger.info("delivery fan-out", extra={"transaction_id": detail.get("transaction_id"), "messages": len(entries)})
    return len(entries)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
