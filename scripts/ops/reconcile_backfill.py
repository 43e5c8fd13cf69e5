"""`python -m scripts.ops --env ENV reconcile --provider P --since T [--until T] [--dry-run]`: a manual
backfill (after adding a provider account, after an outage longer than the lookback).

The command invokes the environment's reconciler function once per chunk of the range
(``--chunk-minutes``, default 60: a chunk must list within the function's timeout), so the events
are fetched and signed where the internal envelope key is, by the only role that may produce a
``fetched`` envelope; the operator needs nothing but ``lambda:InvokeFunction`` on it. A backfill
leaves the schedule's checkpoint alone. ``--dry-run`` lists and counts, enqueues nothing.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: Providers with a reconciler, and how many days back their events API lists (None: unknown).
RECONCILED = {"stripe": 30, "paypal": None}
COUNTS = ("pages", "listed", "already_recorded", "recovered", "ignored", "failed")


class BackfillError(Exception):
    """A chunk failed: the counts so far and the function's error."""


def chunks(since_s: int, until_s: int, minutes: int) -> list[tuple[int, int]]:
    step = minutes * 60
    return [(start, min(start + step, until_s)) for start in range(since_s, until_s, step)]


def backfill(invoke: Callable[[dict[str, Any]], dict[str, Any]], *, provider: str, since_s: int, until_s: int,
             chunk_minutes: int, dry_run: bool) -> dict[str, Any]:
    """Invoke the reconciler for each chunk in order; the summed counts (``BackfillError`` at the
    first chunk that fails, naming where to resume)."""
    totals: dict[str, Any] = {name: 0 for name in COUNTS}
    totals.update(provider=provider, since=since_s, until=until_s, dry_run=dry_run, chunks=0)
    for start, end in chunks(since_s, until_s, chunk_minutes):
        answer = invoke({"provider": provider, "since": start, "until": end, "dry_run": dry_run})
        if "errorMessage" in answer or not answer.get("completed"):
            raise BackfillError(f"the chunk from {start} failed ({answer.get('errorType') or answer.get('error')}); "
                                f"resume with --since {start}: {json.dumps(totals)}")
        for name in COUNTS:
            totals[name] += int(answer.get(name) or 0)
        totals["chunks"] += 1
    return totals


def lambda_invoker(client: Any, function_name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        answer = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                               Payload=json.dumps(payload).encode())
        result = json.loads(answer["Payload"].read() or b"{}")
        return result if isinstance(result, dict) else {"error": "not an object"}
    return invoke
