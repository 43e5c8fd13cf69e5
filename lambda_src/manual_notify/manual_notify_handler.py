"""Notify API: ``POST /transactions/{id}/notify`` -> a manual notification on the notifications queue.

Body ``{"email": "...", "template": "receipt" | "refund" | "reminder"}`` (validated, unknown
fields rejected); 404 when the transaction does not exist; 202 with the queue message id. The
notifier publishes it without the de-duplication marker (asking twice sends twice). The e-mail
address is never logged.
"""
from __future__ import annotations

import binascii
import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from paycore import obs
from paycore.obs import logger, metrics, tracer
from paycore.notification import manual_message, validate_notify_body
from paycore.query import QueryError, transaction_exists, validate_id
from paycore.query_api import json_response, make_app

app = make_app(logger)
MAX_BODY_BYTES = 4096


@lru_cache(maxsize=1)
def table():
    return boto3.resource("dynamodb", config=obs.BOTO_CONFIG).Table(os.environ["TABLE_NAME"])


@lru_cache(maxsize=1)
def sqs_client():
    return obs.client("sqs")


def _json_body() -> Any:
    try:
        raw = app.current_event.decoded_body or ""
    except (ValueError, binascii.Error) as exc:  # base64 of bytes that are not UTF-8
        raise QueryError(400, "invalid_body", "body must be UTF-8 JSON") from exc
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise QueryError(400, "invalid_body", f"body must be at most {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise QueryError(400, "invalid_body", "body must be JSON") from exc
    except RecursionError as exc:
        raise QueryError(400, "invalid_body", "body is nested too deeply") from exc


@app.post("/transactions/<transaction_id>/notify")
def request_notification(transaction_id: str) -> Response:
    validate_id(transaction_id, "transaction id")
    body = validate_notify_body(_json_body())
    state = transaction_exists(table(), transaction_id)
    if state is None:
        raise QueryError(404, "not_found", "transaction not found")
    request_id = app.current_event.request_context.request_id or ""
    message = manual_message(
        state,
        email=body["email"],
        template=body["template"],
        requested_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        request_id=request_id,
    )
    sent = sqs_client().send_message(
        QueueUrl=os.environ["NOTIFICATIONS_QUEUE_URL"],
        MessageBody=json.dumps(message, separators=(",", ":")),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": message["kind"]}},
    )
    metrics.add_metric("ManualNotificationsRequested", MetricUnit.Count, 1)
    logger.info("manual notification queued", extra={"transaction_id": transaction_id, "template": body["template"]})
    return json_response(
        202,
        {"status": "accepted", "transaction_id": transaction_id, "template": body["template"],
         "message_id": sent.get("MessageId")},
        app,
    )


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
