"""Delivery fan-out: status-change events (queue ``delivery-events-{env}``, fed by the bus rule
``vendor-delivery``) -> one message per subscribed vendor endpoint on ``deliveries-{env}.fifo``.

* Message group = (endpoint, payment): a later status of one payment waits behind an earlier one
  for the same endpoint; endpoints and payments never wait for each other.
* ``MessageDeduplicationId`` = the deterministic ``webhook-id`` (endpoint, payment, status): a
  duplicate domain event within 5 minutes is dropped by SQS, a later one by the sender (the
  message row is already delivered).
* The bus hop may reorder two changes of one payment (e.g. succeeded, refunded seconds apart).
  Each event carries ``old_status``: when the endpoint wants that status too, its message is
  enqueued first (same webhook-id as the event of its own, so it is delivered once), so the
  refund never overtakes the sale.
* No DynamoDB write here: the sender creates the message row on first sight (one SQS call per
  event and up to 10 endpoints).
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from paycore import delivery, obs
from paycore.events import DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE
from paycore.model import SAFE_ID
from paycore.obs import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class InvalidEvent(ValueError):
    """Not a TransactionStatusChanged event (permanent: ends in the DLQ)."""


@lru_cache(maxsize=1)
def sqs_client():
    return obs.client("sqs")


def messages_for(detail: dict[str, Any], endpoints: dict[str, delivery.Endpoint], now: float) -> list[dict[str, Any]]:
    """The delivery messages (SQS entries) one status change produces, in the order to enqueue."""
    transaction_id = str(detail.get("transaction_id") or "")
    vendor_id = str(detail.get("vendor_id") or "")
    new_status, old_status = str(detail.get("new_status") or ""), str(detail.get("old_status") or "")
    if not SAFE_ID.match(transaction_id):
        raise InvalidEvent("transaction_id is missing or invalid")
    if not vendor_id:
        return []
    chain = []
    if delivery.event_type_of(old_status) and delivery.status_rank(old_status) < delivery.status_rank(new_status):
        chain.append((old_status, ""))  # when it happened is not in this event: data.occurred_at null
    if delivery.event_type_of(new_status):
        chain.append((new_status, str(detail.get("occurred_at") or "")))
    entries = []
    for endpoint in delivery.endpoints_of_vendor(endpoints, vendor_id):
        for status, occurred_at in chain:
            event_type = delivery.event_type_of(status)
            if not endpoint.wants(event_type):
                continue
            message_id = delivery.webhook_id(endpoint.id, transaction_id, status)
            body = {
                "v": 1,
                "message_id": message_id,
                "endpoint_id": endpoint.id,
                "vendor_id": vendor_id,
                "transaction_id": transaction_id,
                "event_type": event_type,
                "status": status,
                "created_at": delivery.iso(now),
                "payload": delivery.payload(detail, status, occurred_at),
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
