"""Replay archived webhooks of one provider and time range back into the ingest FIFO queue.

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

    python -m scripts.ops.replay_archive --env dev --bucket ARCHIVE --provider stripe \
        --from 2024-11-22T00:00:00Z --to 2024-11-22T06:00:00Z [--event-id evt_...] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Iterator

import boto3

from paycore import archive


def epoch_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ops.replay_archive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment (dev, prod, local)")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--from", dest="start", required=True, help="ISO-8601, inclusive (received_at)")
    parser.add_argument("--to", dest="end", required=True, help="ISO-8601, inclusive (received_at)")
    parser.add_argument("--event-id", help="replay only this provider event id")
    parser.add_argument("--bucket", default=os.environ.get("ARCHIVE_BUCKET"), help="archive bucket (env ARCHIVE_BUCKET)")
    parser.add_argument("--queue-url", default=os.environ.get("INGEST_QUEUE_URL"),
                        help="ingest queue URL (env INGEST_QUEUE_URL; default: the environment's ingest queue)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be replayed, send nothing")
    parser.add_argument("--endpoint-url", help="local emulator URL")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("--bucket (or ARCHIVE_BUCKET) is required")
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name=args.region)
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region)
    from constructs.app.names import Names

    queue = args.queue_url or sqs.get_queue_url(QueueName=Names(args.env).ingest_queue)["QueueUrl"]
    result = replay(s3, sqs, bucket=args.bucket, queue_url=queue, provider=args.provider,
                    start_ms=epoch_ms(args.start), end_ms=epoch_ms(args.end), event_id=args.event_id,
                    dry_run=args.dry_run)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
