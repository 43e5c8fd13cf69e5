"""Reconciler: one run for the provider the schedule names (handler ``reconciler_handler.handler``).

EventBridge Scheduler invokes it with the schedule's input, ``{"provider": "stripe"}`` (a
templated Lambda target's ``Input`` is the event as is). The ops CLI's backfill
(``python -m scripts.ops reconcile``) adds ``since``/``until`` (epoch seconds) and ``dry_run``: that
window, the checkpoint left alone. See :mod:`paycore.reconcile.run`.
"""
from __future__ import annotations

import os
import time
from typing import Any

from paycore import obs
from paycore.reconcile import aws, sources
from paycore.reconcile.run import reconcile
from paycore.secrets import SecretStore

logger = obs.logger
INTERVAL_SECONDS = int(os.environ.get("RECONCILE_INTERVAL_SECONDS") or 900)
LOOKBACK_SECONDS = int(os.environ.get("RECONCILE_LOOKBACK_SECONDS") or 3600)
ALLOW_LOOPBACK_HTTP = os.environ.get("ALLOW_LOOPBACK_HTTP") == "true"  # the local environment only
API_BASES = {"stripe": os.environ.get("STRIPE_API_BASE") or None,
             "paypal": os.environ.get("PAYPAL_API_BASE") or "https://api-m.paypal.com"}

secrets = SecretStore(obs.client("secretsmanager"), prefix=os.environ.get("SECRET_PREFIX", ""))
checkpoints = aws.CheckpointTable(obs.client("dynamodb"), os.environ.get("CHECKPOINT_TABLE", ""))
claims = aws.LedgerClaims(obs.client("dynamodb"), os.environ.get("TABLE_NAME", ""))
queue = aws.Queue(obs.client("sqs"), os.environ.get("INGEST_QUEUE_URL", ""))


def source_for(provider: str, *, backfill: bool = False) -> Any:
    """The provider's events API; a scheduled Stripe run lists only the events Stripe could not
    deliver (a backfill lists all of its window)."""
    secret = secrets.get_json(f"{secrets.prefix}{provider}/{aws.API_SECRET}")
    if provider == "stripe":
        return sources.StripeSource(str(secret.get("current") or ""), types=sources.stripe_types(),
                                    api_base=API_BASES["stripe"], allow_loopback_http=ALLOW_LOOPBACK_HTTP,
                                    only_undelivered=not backfill)
    if provider == "paypal":
        return sources.PayPalSource(str(secret.get("client_id") or ""), str(secret.get("client_secret") or ""),
                                    api_base=str(API_BASES["paypal"]), allow_loopback_http=ALLOW_LOOPBACK_HTTP)
    raise ValueError(f"no reconciler for provider {provider!r}")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    provider = str(event.get("provider") or "")
    now = int(time.time())
    since, until = event.get("since"), event.get("until")
    window = {"since": int(since), "until": int(until)} if isinstance(since, int) and isinstance(until, int) else {}
    try:
        report = reconcile(source_for(provider, backfill=bool(window)), checkpoints=checkpoints, recorded=claims, enqueue=queue.__call__,
                           internal_key=secrets.internal_key(), now=now, interval_seconds=INTERVAL_SECONDS,
                           lookback_seconds=LOOKBACK_SECONDS, dry_run=event.get("dry_run") is True, **window,
                           time_left=lambda: context.get_remaining_time_in_millis() / 1000 - 10)
    except sources.SourceError as failed:
        aws.report_metrics(failed.report, now=now, interval_seconds=INTERVAL_SECONDS)  # type: ignore[attr-defined]
        raise  # an invocation error: the function's Errors alarm, Scheduler's retry policy
    aws.report_metrics(report, now=now, interval_seconds=INTERVAL_SECONDS)
    return report.to_dict()
