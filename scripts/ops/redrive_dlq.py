"""`redrive`: move messages from a dead-letter queue back to its source queue (the queue and its DLQ
by their short name, ``--queue``, constructs/app/names.py).

FIFO-aware: a FIFO message keeps its ``MessageGroupId`` (ordering within the payment) and gets a new
``MessageDeduplicationId`` derived from the DLQ message id - the original id would be swallowed by
the 5-minute dedup window, and a deterministic new one makes a re-run after a crash between send
and delete harmless. Message attributes and body are copied as they are, plus ``redrive_count``.
Each message is deleted from the DLQ only after the send succeeded. ``--dry-run`` prints the
count and moves nothing.

Parking (unless ``--no-park``): a message that comes back to the DLQ after a redrive failed again -
a poison message, which would otherwise keep failing beside the healthy ones. It is parked in the
archive bucket instead: written whole (body, group id, attributes) to
``s3://{bucket}/parked/{queue}/{yyyy}/{mm}/{dd}/{message id}.json`` in the quarantine document
format and deleted from the DLQ, so every other message is recovered. Parked messages are listed
in the report; after the cause is fixed ``replay-quarantine --parked`` re-enqueues them.

Only the ingest queue's messages are parked. ``--queue notifications`` (the vendor notifications
the notifier could not publish) and ``--queue delivery-events`` (the domain events the vendor
fan-out could not take) hold domain events in standard queues: a failing one holds no other back,
and ``replay-quarantine --parked`` re-enqueues webhook envelopes on the ingest queue, not domain
events, so a parked one would never be told; one that fails again is back in its DLQ for the next
redrive.

    python -m scripts.ops --env dev redrive [--queue ingest|notifications|delivery-events] [--max N] [--no-park] [--dry-run]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import datetime, timezone
from typing import Any

from paycore import archive
from scripts.ops.command import Command, Targets, archive_bucket, as_operator, positive, queue_url


def approximate_count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


REDRIVE_COUNT = "redrive_count"
PARKED_PREFIX = "parked/"
#: The queues whose repeat failures are parked in the archive's parked/ (see above).
PARKED_QUEUES = ("ingest",)


def redrive_count(message: dict) -> int:
    value = message.get("MessageAttributes", {}).get(REDRIVE_COUNT, {}).get("StringValue", "0")
    return int(value) if value.isdigit() else 0


def park(s3: Any, bucket: str, dlq_url: str, message: dict, now_ms: int) -> str:
    """Write one DLQ message whole to ``parked/``, in the quarantine document format."""
    day = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
    queue = dlq_url.rstrip("/").rsplit("/", 1)[-1]
    key = f"{PARKED_PREFIX}{queue}/{day:%Y/%m/%d}/{hashlib.sha256(message['MessageId'].encode()).hexdigest()[:32]}.json"
    attributes = message.get("Attributes", {})
    body = message["Body"]
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = {}
    document = {
        "v": 1, "reason": "failed_after_redrive", "provider": envelope.get("provider", "unknown") if isinstance(envelope, dict) else "unknown",
        "request_id": envelope.get("request_id", message["MessageId"]) if isinstance(envelope, dict) else message["MessageId"],
        "received_at": envelope.get("received_at", int(attributes.get("SentTimestamp", now_ms))) if isinstance(envelope, dict) else now_ms,
        "quarantined_at": now_ms, "sqs_message_id": message["MessageId"], "message_body": body,
        "message_group_id": attributes.get("MessageGroupId"), "redrive_count": redrive_count(message),
        "message_attributes": message.get("MessageAttributes", {}),
    }
    payload = json.dumps(document, separators=(",", ":")).encode()
    # the archive bucket: prod's Object Lock refuses an upload without a checksum
    s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/json", **archive.put_checksum(payload))
    return key


def redrive(sqs: Any, dlq_url: str, target_url: str, *, dry_run: bool = False, max_messages: int | None = None,
            s3: Any = None, park_bucket: str | None = None, park_after: int = 1, now_ms: int | None = None) -> dict:
    """Move up to ``max_messages`` (all when None) back, parking repeat failures; returns counts."""
    waiting = approximate_count(sqs, dlq_url)
    report: dict[str, Any] = {"dlq": dlq_url, "target": target_url, "waiting": waiting, "moved": 0, "parked": 0, "parked_keys": [],
              "dry_run": dry_run}
    if dry_run:
        return report
    fifo = target_url.endswith(".fifo")
    handled = 0
    while max_messages is None or handled < max_messages:
        batch = min(10, max_messages - handled) if max_messages is not None else 10
        received = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=batch, WaitTimeSeconds=1, VisibilityTimeout=60,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            handled += 1
            count = redrive_count(message)
            if park_bucket and count >= park_after:
                key = park(s3, park_bucket, dlq_url, message, now_ms if now_ms is not None else int(time.time() * 1000))
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                report["parked"] += 1
                report["parked_keys"].append(key)
                continue
            params: dict[str, Any] = {"QueueUrl": target_url, "MessageBody": message["Body"]}
            params["MessageAttributes"] = {**message.get("MessageAttributes", {}),
                                           REDRIVE_COUNT: {"DataType": "Number", "StringValue": str(count + 1)}}
            if fifo:
                group = message.get("Attributes", {}).get("MessageGroupId")
                if not group:
                    raise SystemExit("a message without MessageGroupId cannot go to a FIFO queue")
                params["MessageGroupId"] = group
                params["MessageDeduplicationId"] = "redrive-" + hashlib.sha256(message["MessageId"].encode()).hexdigest()[:48]
            sqs.send_message(**params)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            report["moved"] += 1
    return report


# ----- the `redrive` command -----------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    from constructs.app.names import REDRIVABLE_QUEUES

    parser.add_argument("--queue", choices=REDRIVABLE_QUEUES, default="ingest",
                        help="which queue's dead-letter queue to move back (default: %(default)s)")
    parser.add_argument("--max", type=positive, metavar="N", help="move at most N messages (default: all)")
    parser.add_argument("--no-park", dest="park", action="store_false",
                        help="move every message back, even one that failed again after a redrive "
                             "(default: park those of the ingest queue in the archive bucket's parked/)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the queues (and the bucket for parking) and count the messages; move nothing")


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    targets = as_operator(targets)
    source_name, dlq_name = targets.names.redrivable_queues[args.queue]
    source, dlq = queue_url(targets, source_name), queue_url(targets, dlq_name)
    bucket = archive_bucket(targets) if args.park and args.queue in PARKED_QUEUES else None
    return redrive(targets.client("sqs"), dlq, source, dry_run=args.dry_run, max_messages=args.max,
                   s3=targets.client("s3") if bucket else None, park_bucket=bucket)


COMMAND = Command(
    name="redrive", add_arguments=add_arguments, run=run,
    help="move a dead-letter queue back to its queue; park messages that failed again",
    description="Move the messages of a dead-letter queue back to its queue (FIFO group kept, a new "
                "deduplication id, redrive_count added); a message that failed again after a redrive is "
                "parked in s3://ARCHIVE/parked/ instead, so one poison message never blocks the rest.",
)
