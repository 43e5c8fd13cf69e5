"""Reading back what a local run left in the deployed stack: ledger rows and their event ids, the
archive's events, a bucket prefix's objects, a queue's messages."""
from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"


def event_id_of(row: dict) -> str:
    """The provider event id of a ledger event row (DynamoDB JSON): rows written since the zd1
    layout carry it only in their sort key."""
    from paycore.ledger import deserialize, event_key_fields

    return str(event_key_fields(deserialize(row))["event_id"])


def drain_queue(sqs: Any, url: str) -> list[dict]:
    messages: list[dict] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        for m in batch:
            messages.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def ledger_rows(endpoint_url: str, table: str) -> list[dict]:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=REGION)
    rows: list[dict] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        rows.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return rows
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def archived_event_ids(endpoint_url: str, bucket: str) -> list[str]:
    from paycore import archive

    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)
    ids: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="raw/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            ids.extend(event.event_id for event in archive.read_object(body))
    return ids


def count_prefix(endpoint_url: str, bucket: str, prefix: str) -> int:
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)
    return sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))
