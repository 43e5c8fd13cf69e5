"""Payment validator: ``POST /payments`` (API Gateway proxy integration, IAM-authenticated).

Answers:

* **400** ``{"message": "invalid payment request", "errors": [...]}`` listing every problem
  (see ``paycore.providers.direct.validate_request``; values are never echoed);
* **413** when the envelope would not fit in an SQS message (``INGEST_MAX_MESSAGE_BYTES``,
  default 262,144 - see lambda_src/README.md);
* **202** ``{"transaction_id": "pay_...", "status": "accepted"}`` once the envelope is on the
  FIFO queue (the processor writes the ledger). The id is derived from the Idempotency-Key, so a
  retry gets the same id; ``MessageDeduplicationId = "direct:" + key`` (namespaced so a caller
  cannot suppress a provider event id), ``MessageGroupId`` = the transaction id. The same key with
  the same body gets the same 202 (recorded already: nothing is enqueued again);
* **422** ``{"code": "idempotency_key_reused", ...}`` when the key was first used with another body
  (``paycore.idempotency``: the ledger, then a conditional put in the request table);
* **503** when the queue, the request table or the internal envelope key cannot be reached or used
  (the client retries with the same key).

The envelope is signed with the internal envelope key (``paycore.internal_envelope``, kind
``direct``): the processor accepts a direct payment only with that signature, so nothing but this
function can create one, whoever else can write to the queue.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from typing import Any, Callable, Mapping

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from paycore import idempotency, internal_envelope, obs
from paycore.envelope import DEFAULT_MAX_MESSAGE_BYTES, build_envelope, message_size
from paycore.model import MisconfiguredSecret
from paycore.providers import direct
from paycore.secrets import SecretStore

logger, tracer = obs.logger, obs.tracer

QUEUE_URL = os.environ.get("INGEST_QUEUE_URL", "")
MAX_MESSAGE_BYTES = int(os.environ.get("INGEST_MAX_MESSAGE_BYTES") or DEFAULT_MAX_MESSAGE_BYTES)
DEDUP_PREFIX = "direct:"
KEY_REUSED = "idempotency_key_reused"

sqs = obs.client("sqs")
secrets = SecretStore(obs.client("secretsmanager"), prefix=os.environ.get("SECRET_PREFIX", ""))
requests = idempotency.DirectRequests(obs.client("dynamodb"), ledger_table=os.environ.get("TABLE_NAME", ""),
                                      requests_table=os.environ.get("IDEMPOTENCY_TABLE", ""))


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


UNAVAILABLE = {"message": "temporarily unavailable, retry with the same Idempotency-Key"}


def handle_payment_request(
    event: Mapping[str, Any],
    *,
    send: Callable[..., Any],
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    internal_key: Callable[[], Mapping[str, Any] | None] | None = None,
    claim: Callable[..., str] | None = None,
) -> dict[str, Any]:
    """Validate, sign, bind the Idempotency-Key, enqueue, answer (plain data; ``send`` is SQS
    ``send_message``, ``internal_key`` the key's JSON, ``claim`` :meth:`DirectRequests.claim`)."""
    internal_key = internal_key or secrets.internal_key
    claim = claim or requests.claim
    body = parse_body(event)
    key = header(event, direct.IDEMPOTENCY_HEADER)
    problems = direct.validate_request(body, key)
    if problems:
        logger.info("payment request rejected", extra={"problem_count": len(problems)})
        return response(400, {"message": "invalid payment request", "errors": problems})

    context = event.get("requestContext") or {}
    raw = direct.canonical_body(body, key)
    transaction_id = direct.transaction_id_for(key)
    try:
        envelope = internal_envelope.sign(build_envelope(
            provider=direct.PROVIDER.name,
            received_at=context.get("requestTimeEpoch") or now_ms(),
            request_id=context.get("requestId") or "",
            source_ip=(context.get("identity") or {}).get("sourceIp") or "",
            headers={direct.IDEMPOTENCY_HEADER: key},
            raw=raw,
        ), "direct", internal_key())
    except MisconfiguredSecret as problem:
        obs.metric_blob(obs.SIGNING_SECRET_UNUSABLE)  # printed at once: the validator flushes no other metric
        logger.error("internal envelope key unusable: payment not accepted", extra={"problem": str(problem)})
        return response(503, UNAVAILABLE)
    except (GetParameterError, ClientError, BotoCoreError) as exc:
        logger.error("internal envelope key unreadable: payment not accepted", extra={"error": type(exc).__name__})
        return response(503, UNAVAILABLE)
    size = message_size(envelope)
    if size > max_message_bytes:
        logger.warning("payment request too large for the queue", extra={"size": size, "limit": max_message_bytes})
        return response(413, {"message": f"request too large: envelope {size} bytes > {max_message_bytes}"})
    accepted = response(202, {"transaction_id": transaction_id, "status": "accepted"},
                        {"Location": f"/transactions/{transaction_id}"})
    try:
        verdict = claim(transaction_id, hashlib.sha256(raw).hexdigest(), request_id=envelope.request_id)
    except (ClientError, BotoCoreError) as exc:
        logger.error("could not check the Idempotency-Key", extra={"transaction_id": transaction_id,
                                                                     "error": type(exc).__name__})
        return response(503, UNAVAILABLE)
    if verdict == idempotency.REUSED:
        logger.info("Idempotency-Key reused with another request", extra={"transaction_id": transaction_id})
        return response(422, {"code": KEY_REUSED, "message": "this Idempotency-Key was first used with another "
                              "request; a new payment needs a new key"})
    if verdict == idempotency.RECORDED:
        logger.info("payment request repeated: already recorded", extra={"transaction_id": transaction_id})
        return accepted
    try:
        send(
            QueueUrl=QUEUE_URL,
            MessageBody=envelope.to_json(),
            MessageGroupId=transaction_id,
            MessageDeduplicationId=DEDUP_PREFIX + key,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("could not enqueue payment", extra={"transaction_id": transaction_id, "error": type(exc).__name__})
        return response(503, UNAVAILABLE)
    logger.info("payment request accepted", extra={"transaction_id": transaction_id, "repeated": verdict != idempotency.NEW})
    return accepted


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: Any) -> dict:
    return handle_payment_request(event, send=sqs.send_message)
