#!/usr/bin/env python3
"""Move messages from a dead-letter queue back to its source queue.

The source is found from the DLQ itself (``ListDeadLetterSourceQueues``) unless ``--to`` is given.
FIFO-aware: a FIFO message keeps its ``MessageGroupId`` (ordering within the payment) and gets a new
``MessageDeduplicationId`` derived from the DLQ message id - the original id would be swallowed by
the 5-minute dedup window, and a deterministic new one makes a re-run after a crash between send
and delete harmless. Message attributes and body are copied as they are. Each message is deleted
from the DLQ only after the send succeeded. ``--dry-run`` prints the count and moves nothing.

    python scripts/redrive_dlq.py --env dev --dlq 'webhooks-dlq-{env}.fifo' [--to URL] [--dry-run]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any

import boto3


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


def redrive(sqs: Any, dlq_url: str, target_url: str, *, dry_run: bool = False, max_messages: int | None = None) -> dict:
    """Move up to ``max_messages`` (all when None); returns counts."""
    waiting = approximate_count(sqs, dlq_url)
    if dry_run:
        return {"dlq": dlq_url, "target": target_url, "waiting": waiting, "moved": 0, "dry_run": True}
    fifo = target_url.endswith(".fifo")
    moved = 0
    while max_messages is None or moved < max_messages:
        batch = min(10, max_messages - moved) if max_messages is not None else 10
        received = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=batch, WaitTimeSeconds=1, VisibilityTimeout=60,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            params: dict[str, Any] = {"QueueUrl": target_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                params["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                group = message.get("Attributes", {}).get("MessageGroupId")
                if not group:
                    raise SystemExit("a message without MessageGroupId cannot go to a FIFO queue")
                params["MessageGroupId"] = group
                params["MessageDeduplicationId"] = "redrive-" + hashlib.sha256(message["MessageId"].encode()).hexdigest()[:48]
            sqs.send_message(**params)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return {"dlq": dlq_url, "target": target_url, "waiting": waiting, "moved": moved, "dry_run": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment (dev, prod, local); fills {env} in names")
    parser.add_argument("--dlq", required=True, help="DLQ name or URL (may contain {env})")
    parser.add_argument("--to", help="target queue name or URL (default: the DLQ's source queue)")
    parser.add_argument("--max", type=int, default=None, help="move at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="print the count, move nothing")
    parser.add_argument("--endpoint-url", help="local emulator URL (e.g. http://127.0.0.1:5000)")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region)
    dlq = queue_url(sqs, args.dlq, args.env)
    target = queue_url(sqs, args.to, args.env) if args.to else source_of(sqs, dlq)
    print(json.dumps(redrive(sqs, dlq, target, dry_run=args.dry_run, max_messages=args.max)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
