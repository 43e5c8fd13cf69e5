"""`python -m scripts.ops --env ENV reconcile --provider P --since T [--until T] [--dry-run]`: a manual
backfill (after adding a provider account, after an outage longer than the lookback).

The command invokes the environment's reconciler function once per chunk of the range
(``--chunk-minutes``, default 60: a chunk must list within the function's timeout), so the events
are fetched and signed where the internal envelope key is, by the only role that may produce a
``fetched`` envelope; the operator needs nothing but ``lambda:InvokeFunction`` on it. A backfill
leaves the schedule's checkpoint alone. ``--dry-run`` lists and counts, enqueues nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from scripts.ops.command import Command, Targets, UsageError, positive, time_ms

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", required=True, metavar="PROVIDER",
                        help=f"the provider whose events API to list: {', '.join(RECONCILED)}")
    parser.add_argument("--since", required=True, metavar="TIME",
                        help="start of the range, ISO-8601 (e.g. 2026-11-28T00:00:00Z; UTC without an offset)")
    parser.add_argument("--until", metavar="TIME", help="end of the range, ISO-8601 (default: now)")
    parser.add_argument("--chunk-minutes", type=positive, default=60, metavar="N",
                        help="minutes of events per reconciler invocation, 1..1440 (each chunk must be listed "
                             "within the function's timeout; default 60)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list and count in the reconciler; enqueue nothing")


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any] | int:
    if args.provider not in RECONCILED:
        raise UsageError(f"no reconciler for provider {args.provider!r}; known: {', '.join(RECONCILED)}")
    now = int(time.time())
    since = time_ms(args.since, "--since") // 1000
    until = time_ms(args.until, "--until") // 1000 if args.until else now
    if until <= since:
        raise UsageError("--until must be after --since")
    if until > now:
        raise UsageError("--until is in the future")
    retention = RECONCILED[args.provider]
    if retention and since < now - retention * 86400:
        raise UsageError(f"--since is older than the {retention} days {args.provider} lists events for")
    if args.chunk_minutes > 1440:
        raise UsageError("--chunk-minutes must be 1..1440")
    invoke = lambda_invoker(targets.client("lambda"), targets.names.function("reconciler"))
    try:
        return backfill(invoke, provider=args.provider, since_s=since, until_s=until,
                        chunk_minutes=args.chunk_minutes, dry_run=args.dry_run)
    except BackfillError as failed:
        print(f"reconcile: error: {failed}", file=sys.stderr)
        return 1


COMMAND = Command(
    name="reconcile", add_arguments=add_arguments, run=run,
    help="backfill: list a provider's events of a time range, recover the ones the ledger lacks",
    description="A manual backfill (after adding a provider account, or an outage longer than the "
                "reconciler's lookback): invokes the environment's reconciler once per chunk of the range; "
                "it lists the provider's events, and what the ledger lacks goes through the processor as "
                "fetched envelopes. The schedule's checkpoint is left alone. Counts on stdout.")
