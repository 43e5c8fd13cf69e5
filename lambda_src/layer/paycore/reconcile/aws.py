"""The reconciler's AWS side: checkpoint rows, the ledger's event claims, the ingest queue, the
provider API credentials and the run's metrics.

Checkpoints live in a table of their own (``reconciler-checkpoints-{env}``, pk ``provider`` S, sk
``row`` S = ``CHECKPOINT``):
a handful of rows written once a page, so the reconciler needs no write access to the ledger
(whose stream feeds the archive and the notifications) and the ledger keeps only payments.

Secrets (``{SECRET_PREFIX}{provider}/api``): Stripe ``{"current": "rk_live_..."}`` - a restricted
key allowed to read events only; PayPal ``{"client_id": "...", "client_secret": "..."}``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from paycore import obs
from paycore.ledger import MARKER_SK, event_marker_key
from paycore.reconcile.run import Report

API_SECRET = "api"
CHECKPOINT_ROW = "CHECKPOINT"
RECONCILE_RUN = "ReconcileRun"  # metric names (dimension service + provider)
RECONCILE_FAILED = "ReconcileFailed"  # dimensions service + provider + reason
RECOVERED = "ReconcileRecovered"
CHECKPOINT_AGE = "ReconcileCheckpointAgeSeconds"


class CheckpointTable:
    def __init__(self, client: Any, table_name: str):
        self.client, self.table_name = client, table_name

    def get(self, provider: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                    Key={"provider": {"S": provider}, "row": {"S": CHECKPOINT_ROW}}).get("Item")
        if not item:
            return None
        return {name: (int(value["N"]) if "N" in value else value.get("S", "")) for name, value in item.items()
                if name not in ("provider", "row")}

    def save(self, provider: str, row: Mapping[str, Any]) -> None:
        item = {"provider": {"S": provider}, "row": {"S": CHECKPOINT_ROW}}
        for name, value in row.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
        self.client.put_item(TableName=self.table_name, Item=item)


class LedgerClaims:
    """Which events the ledger has: its event claims, read 100 keys a call."""

    def __init__(self, client: Any, table_name: str):
        self.client, self.table_name = client, table_name

    def __call__(self, provider: str, event_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for first in range(0, len(event_ids), 100):
            by_key = {event_marker_key(provider, e): e for e in event_ids[first:first + 100]}
            request: dict[str, Any] = {self.table_name: {
                "Keys": [{"transaction_id": {"S": key}, "timestamp": {"S": MARKER_SK}} for key in by_key],
                "ProjectionExpression": "transaction_id", "ConsistentRead": True}}
            for attempt in range(8):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    found.add(by_key[item["transaction_id"]["S"]])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            else:
                raise RuntimeError("the ledger left keys unprocessed")
        return found


class Queue:
    def __init__(self, client: Any, queue_url: str):
        self.client, self.queue_url = client, queue_url

    def __call__(self, entries: list[dict[str, Any]]) -> None:
        answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if answer.get("Failed"):  # the page is not done: the run fails and resumes at it
            raise RuntimeError(f"{len(answer['Failed'])} fetched events were not enqueued")


def report_metrics(report: Report, *, now: int, interval_seconds: int) -> None:
    """EMF: the run's counts, the checkpoint's age, a failure by reason; and the one log line."""
    dims = {"provider": report.provider}
    for name, value in (("ReconcileListed", report.listed), ("ReconcileAlreadyRecorded", report.already_recorded),
                        (RECOVERED, report.recovered), ("ReconcileUnreadable", report.failed), (RECONCILE_RUN, 1)):
        obs.metric_blob(name, value, dimensions=dims)
    age = now - report.checkpoint if report.checkpoint else now - report.window_start
    obs.metric_blob(CHECKPOINT_AGE, age, "Seconds", dimensions=dims)
    if report.error:
        obs.metric_blob(RECONCILE_FAILED, 1, dimensions={**dims, "reason": report.error})
    line = json.dumps(report.to_dict(), separators=(",", ":"))
    (obs.logger.warning if report.error or report.recovered else obs.logger.info)(f"reconcile run {line}")
