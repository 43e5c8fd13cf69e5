"""`replay-archive`: re-send archived webhooks of one provider and time range to the ingest FIFO queue.

Each archived event carries the raw body bytes, the signature headers and the original
``received_at`` (lambda_src/README.md, "Archive layout"), so the replayed envelope is the original
envelope: the processor re-verifies the provider signature exactly as at first receipt, with the
tolerance measured from the original ``received_at``. Nothing is trusted because it is "a
replay": a tampered archive object fails verification and is quarantined like any forgery.
Replay is harmless by construction: an event already in the ledger is acknowledged as a duplicate
(conditional write), and the state projection only moves forward.

The time range is on ``received_at`` (when API Gateway received the webhook), inclusive.
``MessageDeduplicationId`` = provider event id, ``MessageGroupId`` = transaction id (the contract's
choices), so a replay inside the 5-minute FIFO window is deduplicated by SQS itself.

    python -m scripts.ops --env dev replay-archive --provider stripe \
        --from 2024-11-22T00:00:00Z --to 2024-11-22T06:00:00Z [--event-id evt_...] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Iterator

from paycore import archive
from scripts.ops.command import (
    Command, Targets, UsageError, archive_bucket, as_operator, choice, queue_url, time_ms, webhook_providers,
)


def archived_events(s3: Any, bucket: str, provider: str, start_ms: int, end_ms: int) -> Iterator[archive.ArchivedEvent]:
    """Every archived event of ``provider`` received in [start_ms, end_ms], each event once."""
    seen: set[str] = set()
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in archive.listing_prefixes(provider, start_ms, end_ms):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for summary in page.get("Contents", []):
                if not archive.key_overlaps(summary["Key"], start_ms, end_ms):
                    continue
                body = s3.get_object(Bucket=bucket, Key=summary["Key"])["Body"].read()
                for event in archive.read_object(body):
                    if start_ms <= event.received_at <= end_ms and event.event_id not in seen:
                        seen.add(event.event_id)
                        yield event


def find_event(s3: Any, bucket: str, provider: str, event_id: str, received_at_ms: int) -> archive.ArchivedEvent | None:
    """One event, located from its ledger row (provider + received_at): reads only the objects
    whose [first, last] received_at range covers it."""
    for event in archived_events(s3, bucket, provider, received_at_ms, received_at_ms):
        if event.event_id == event_id:
            return event
    return None


def send(sqs: Any, queue_url: str, events: list[archive.ArchivedEvent]) -> int:
    sent = 0
    for start in range(0, len(events), 10):
        chunk = events[start:start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(e.to_envelope(), separators=(",", ":")),
                    "MessageGroupId": e.transaction_id or e.event_id,
                    "MessageDeduplicationId": e.event_id,
                    "MessageAttributes": {"replayed_from": {"DataType": "String", "StringValue": "archive"}},
                }
                for i, e in enumerate(chunk)
            ],
        )
        if response.get("Failed"):
            raise SystemExit(f"{len(response['Failed'])} messages were not accepted: {response['Failed'][0].get('Code')}")
        sent += len(response.get("Successful", []))
    return sent


def replay(s3: Any, sqs: Any, *, bucket: str, queue_url: str, provider: str, start_ms: int, end_ms: int,
           event_id: str | None = None, dry_run: bool = False) -> dict:
    events = [e for e in archived_events(s3, bucket, provider, start_ms, end_ms) if event_id in (None, e.event_id)]
    sent = 0 if dry_run else send(sqs, queue_url, events)
    return {"provider": provider, "found": len(events), "sent": sent, "dry_run": dry_run}


# ----- the `replay-archive` command ---------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", required=True, metavar="PROVIDER",
                        help=f"the provider whose webhooks to re-send: {', '.join(webhook_providers())}")
    parser.add_argument("--from", dest="start", required=True, metavar="TIME",
                        help="first received_at to replay, inclusive (ISO-8601, UTC without an offset)")
    parser.add_argument("--to", dest="end", required=True, metavar="TIME",
                        help="last received_at to replay, inclusive (ISO-8601, UTC without an offset)")
    parser.add_argument("--event-id", metavar="ID", help="replay only this provider event id")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the bucket and the queue and count what would be sent; send nothing")


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    choice(args.provider, webhook_providers(), "provider")
    start, end = time_ms(args.start, "--from"), time_ms(args.end, "--to")
    if end < start:
        raise UsageError(f"--to ({args.end}) is before --from ({args.start})")
    targets = as_operator(targets)
    queue = queue_url(targets, targets.names.ingest_queue)
    return replay(targets.client("s3"), targets.client("sqs"), bucket=archive_bucket(targets), queue_url=queue,
                  provider=args.provider, start_ms=start, end_ms=end, event_id=args.event_id, dry_run=args.dry_run)


COMMAND = Command(
    name="replay-archive", add_arguments=add_arguments, run=run,
    help="re-send archived webhooks of a provider and time range (harmless: the ledger is idempotent)",
    description="Re-send the archived webhooks of one provider received in a time range to the ingest queue, "
                "as first received: the processor re-verifies each signature, and an event already in the "
                "ledger is acknowledged as a duplicate.",
)
