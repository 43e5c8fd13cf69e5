"""Powertools setup shared by every handler: one Logger, one Metrics, one Tracer, one boto config.

* Logger: JSON lines (botocore/urllib3 wire logging capped at INFO), service ``POWERTOOLS_SERVICE_NAME`` (``payment-webhooks``); handlers set a
  correlation id (API Gateway request id). Events are never logged (``log_event`` stays off) and
  no line carries a payload, signature, key or secret - tests/lambda/test_logs_hygiene.py checks.
* Metrics: EMF, namespace ``PaymentWebhooks``, default dimension ``service``:
  ``SuccessfulTransactions`` (a state row moved to ``succeeded``), ``DuplicateWebhook``,
  ``WebhookIgnored``, ``SigningSecretUnusable``; ``WebhookRejected`` and ``UnroutableEvent``
  with dimensions ``service`` + ``reason`` (a separate EMF blob per reason, :func:`count_with_reason`).
* Tracer: patches botocore only (``patch_modules=("boto3",)``), not ``patch_all`` (requests,
  httplib, sqlite3...): measured by scripts/bench/cold_init.py. Off outside Lambda.
* boto3 clients: standard retry mode, 4 attempts (throttling is retried with backoff before a
  record fails), short connect/read timeouts. ``AWS_ENDPOINT_URL`` (local emulator) is honoured
  by boto3 itself.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Mapping

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from botocore.config import Config

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "payment-webhooks"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "PaymentWebhooks"

SUCCESSFUL_TRANSACTIONS = "SuccessfulTransactions"
WEBHOOK_REJECTED = "WebhookRejected"
DUPLICATE_WEBHOOK = "DuplicateWebhook"
WEBHOOK_IGNORED = "WebhookIgnored"
WEBHOOK_RECORDED = "WebhookRecorded"
UNROUTABLE_EVENT = "UnroutableEvent"
SIGNING_SECRET_UNUSABLE = "SigningSecretUnusable"
#: A refund, reversal or dispute held until its payment's sale is announced (counted per hold).
LIFECYCLE_HELD = "LifecycleHeld"
#: An event whose vendor, customer or currency contradicts its payment's sale (dimension reason:
#: the field); the value is kept raw on the state row.
LIFECYCLE_CONFLICT = "LifecycleConflict"
#: A refund, reversal or dispute whose sale did not come within the notifier's watch (the
#: notifications queue's receives): it stays held on the state row.
LIFECYCLE_SALE_MISSING = "LifecycleSaleMissing"

logger = Logger(service=SERVICE)

# botocore logs whole request and response bodies (secret values included) at DEBUG: never let
# them through, whatever the root logger's level (tests/lambda/test_logs_hygiene.py runs at DEBUG).
for _wire_logger in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_wire_logger).setLevel(logging.INFO)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=("boto3",))

BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
)


def client(service_name: str, **kwargs: Any):
    """A boto3 client with the platform's retry/timeout settings (create at module level)."""
    return boto3.client(service_name, config=BOTO_CONFIG, **kwargs)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_rejected(reason: str) -> None:
    """``WebhookRejected`` with a ``reason`` dimension (own EMF blob, flushed immediately)."""
    count_with_reason(WEBHOOK_REJECTED, reason)


def count_with_reason(name: str, reason: str) -> None:
    """``name`` with dimensions ``service`` + ``reason`` (own EMF blob, flushed immediately)."""
    metric_blob(name, dimensions={"reason": reason})


def metric_blob(name: str, value: float = 1, unit: str | MetricUnit = MetricUnit.Count, *,
                dimensions: Mapping[str, str] | None = None) -> None:
    """One metric in an EMF blob of its own, dimensions ``service`` then ``dimensions``, printed at
    once (see :func:`emit`; the same blob Powertools' ``single_metric`` prints)."""
    blob = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    blob.add_dimension(name="service", value=SERVICE)
    for key, value_ in (dimensions or {}).items():
        blob.add_dimension(name=key, value=value_)
    blob.add_metric(name=name, unit=unit, value=value)
    emit(blob)


def emit(blob: EphemeralMetrics) -> None:
    """Print ``blob`` as one EMF line in one write, then clear it. Powertools' own flush prints
    the line and its newline as two writes: two threads flushing at once (the handlers' worker
    threads) could run their lines together, and CloudWatch drops a line it cannot parse."""
    if blob.metric_set and not is_metrics_disabled():
        sys.stdout.write(json.dumps(blob.serialize_metric_set(), separators=(",", ":")) + "\n")
    blob.clear_metrics()
