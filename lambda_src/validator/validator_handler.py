"""Payment validator: ``POST /payments`` (API Gateway proxy integration, IAM-authenticated).

Answers:

* **400** ``{"message": "invalid payment request", "errors": [...]}`` listing every problem
  (see ``paycore.providers.direct.validate_request``; values are never echoed);
* **413** when the envelope would not fit in an SQS message (``INGEST_MAX_MESSAGE_BYTES``,
  default 262,144 - see lambda_src/README.md);
* **202** ``{"transaction_id": "pay_...", "status": "accepted"}`` once the envelope is on the
  FIFO queue (the processor writes the ledger). The id is derived from the Idempotency-Key, so a
  retry gets the same id; ``MessageDeduplicationId = "direct:" + key`` (namespaced so a caller
  cannot suppress a provider event id), ``MessageGroupId`` = the transaction id;
* **503** when the queue cannot be reached (the client retries with the same key).
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any, Callable, Mapping

from aws_lambda_powertools.logging import correlation_paths
from botocore.exceptions import BotoCoreError, ClientError

from paycore import obs
from paycore.envelope import DEFAULT_MAX_MESSAGE_BYTES, build_envelope, message_size
from paycore.providers import direct

logger, tracer = obs.logger, obs.tracer

QUEUE_URL = os.environ.get("INGEST_QUEUE_URL", "")
MAX_MESSAGE_BYTES = int(os.environ.get("INGEST_MAX_MESSAGE_BYTES") or DEFAULT_MAX_MESSAGE_BYTES)
DEDUP_PREFIX = "direct:"

sqs = obs.client("sqs")


def response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
    }


def header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def parse_body(event: Mapping[str, Any]) -> Any:
    """The JSON body, or ``None`` when it is absent or not JSON."""
    raw = event.get("body")
    if raw is None:
        return None
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw, validate=True)
        return json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):  # not JSON, not UTF-8, nested too deep
        return None


def handle_payment_request(
    event: Mapping[str, Any],
    *,
    send: Callable[..., Any],
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> dict[str, Any]:
    """Validate, enqueue, answer (plain data; ``send`` is SQS ``send_message``)."""
    body = parse_body(event)
    key = header(event, direct.IDEMPOTENCY_HEADER)
    problems = direct.validate_request(body, key)
    if problems:
        logger.info("payment request rejected", extra={"problem_count": len(problems)})
        return response(400, {"message": "invalid payment request", "errors": problems})

    context = event.get("requestContext") or {}
    envelope = build_envelope(
        provider=direct.PROVIDER.name,
        received_at=context.get("requestTimeEpoch") or now_ms(),
        request_id=context.get("requestId") or "",
        source_ip=(context.get("identity") or {}).get("sourceIp") or "",
        headers={direct.IDEMPOTENCY_HEADER: key},
        raw=direct.canonical_body(body, key),
    )
    transaction_id = direct.transaction_id_for(key)
    size = message_size(envelope)
    if size > max_message_bytes:
        logger.warning("payment request too large for the queue", extra={"size": size, "limit": max_message_bytes})
        return response(413, {"message": f"request too large: envelope {size} bytes > {max_message_bytes}"})
    try:
        send(
            QueueUrl=QUEUE_URL,
            MessageBody=envelope.to_json(),
            MessageGroupId=transaction_id,
            MessageDeduplicationId=DEDUP_PREFIX + key,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("could not enqueue payment", extra={"transaction_id": transaction_id, "error": type(exc).__name__})
        return response(503, {"message": "temporarily unavailable, retry with the same Idempotency-Key"})
    logger.info("payment request accepted", extra={"transaction_id": transaction_id})
    return response(
        202,
        {"transaction_id": transaction_id, "status": "accepted"},
        {"Location": f"/transactions/{transaction_id}"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: Any) -> dict:
    return handle_payment_request(event, send=sqs.send_message)
