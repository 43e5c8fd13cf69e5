"""Move messages from a dead-letter queue back to its source queue.

The source is found from the DLQ itself (``ListDeadLetterSourceQueues``) unless ``--to`` is given.
FIFO-aware: a FIFO message keeps its ``MessageGroupId`` (ordering within the payment) and gets a new
``MessageDeduplicationId`` derived from the DLQ message id - the original id would be swallowed by
the 5-minute dedup window, and a deterministic new one makes a re-run after a crash between send
and delete harmless. Message attributes and body are copied as they are, plus ``redrive_count``.
Each message is deleted from the DLQ only after the send succeeded. ``--dry-run`` prints the
count and moves nothing.

Parking: a message that comes back to the DLQ after ``--park-after`` redrives (default 1) failed
again - a poison message, which would otherwise keep failing beside the healthy ones. With
``--park-bucket`` it is parked instead: written whole (body, group id, attributes) to
``s3://{bucket}/parked/{queue}/{yyyy}/{mm}/{dd}/{message id}.json`` in the quarantine document
format and deleted from the DLQ, so every other message is recovered. Parked messages are listed
in the report; after the cause is fixed ``replay_quarantine.py --parked`` re-enqueues them.

    python -m scripts.ops.redrive_dlq --env dev --dlq 'webhooks-{env}-dlq.fifo' [--to URL] \
        [--park-bucket ARCHIVE] [--dry-run]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any

import boto3
from paycore import archive


def queue_url(sqs: Any, name_or_url: str, env: str) -> str:
    value = name_or_url.replace("{env}", env)
    return value if value.startswith(("http://", "https://")) else sqs.get_queue_url(QueueName=value)["QueueUrl"]


def source_of(sqs: Any, dlq_url: str) -> str:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"DLQ has {len(sources)} source queues; name the target with --to")
    return sources[0]


def approximate_count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


REDRIVE_COUNT = "redrive_count"
PARKED_PREFIX = "parked/"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ops.redrive_dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment (dev, prod, local); fills {env} in names")
    parser.add_argument("--dlq", required=True, help="DLQ name or URL (may contain {env}), e.g. webhooks-{env}-dlq.fifo")
    parser.add_argument("--to", help="target queue name or URL (default: the DLQ's source queue)")
    parser.add_argument("--max", type=int, default=None, help="move at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="print the count, move nothing")
    parser.add_argument("--park-bucket", help="park repeat failures in s3://BUCKET/parked/ (the archive bucket)")
    parser.add_argument("--park-after", type=int, default=1, help="park a message redriven this many times (default 1)")
    parser.add_argument("--endpoint-url", help="local emulator URL (e.g. http://127.0.0.1:5000)")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region)
    dlq = queue_url(sqs, args.dlq, args.env)
    target = queue_url(sqs, args.to, args.env) if args.to else source_of(sqs, dlq)
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url, region_name=args.region) if args.park_bucket else None
    print(json.dumps(redrive(sqs, dlq, target, dry_run=args.dry_run, max_messages=args.max, s3=s3,
                             park_bucket=args.park_bucket, park_after=args.park_after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
