"""Archiver: target of Pipe A (ledger event INSERTs) -> batched objects in the archive bucket.

Input: the JSON array of DynamoDB stream records a pipe sends (``{"Records": [...]}`` as sent by
a Lambda event source mapping is accepted too). Output: ``{"batchItemFailures": [{"itemIdentifier":
<eventID>}]}`` - for a DynamoDB stream source, Pipes match ``itemIdentifier`` to the record's
``eventID`` and retry only from the failures.

* transient failure (S3 write): every record of the failed object is reported; the retry writes
  the same key with the same bytes when the same records come back;
* a record that can never be archived (malformed, no payload, bad checksum): logged without its
  contents, counted as ``ArchiveInvalidRecords`` (alarm on it) and acknowledged - retrying it
  would stall the shard for up to 24 h and cannot succeed;
* a record that is not a ledger event INSERT (Pipe A's filter should have dropped it): skipped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from aws_lambda_powertools.metrics import MetricUnit

from paycore import obs
from paycore.obs import logger, metrics, tracer
from paycore.archive import (
    ArchiveObject,
    InvalidRecord,
    build_object,
    event_from_stream_record,
    group_events,
    is_ledger_event_insert,
    put_checksum,
)



@lru_cache(maxsize=1)
def s3_client():
    return obs.client("s3")


@dataclass
class ArchiveResult:
    failed: list[str] = field(default_factory=list)
    written_objects: list[str] = field(default_factory=list)
    archived_events: int = 0
    invalid: int = 0
    skipped: int = 0

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failed]}


def archive_records(
    records: Iterable[Any], write: Callable[[ArchiveObject], None]
) -> ArchiveResult:
    """Parse, group and write; ``write`` raises on a failed PUT. No AWS in here."""
    result = ArchiveResult()
    parsed: list[tuple[str, Any]] = []
    for position, record in enumerate(records):
        stream_id = record.get("eventID") if isinstance(record, Mapping) else None
        has_image = isinstance(record, Mapping) and isinstance(record.get("dynamodb"), Mapping) and (
            "NewImage" in record["dynamodb"]
        )
        if has_image and not is_ledger_event_insert(record):
            result.skipped += 1
            continue
        try:
            event = event_from_stream_record(record)
        except InvalidRecord as exc:
            result.invalid += 1
            logger.error(
                "unarchivable stream record acknowledged",
                extra={"stream_event_id": stream_id, "position": position, "reason": str(exc)},
            )
            continue
        parsed.append((str(stream_id or ""), event))

    by_event: dict[str, list[str]] = {}
    for stream_id, event in parsed:
        by_event.setdefault(event.event_id, []).append(stream_id)
    for prefix, events in sorted(group_events(e for _, e in parsed).items()):
        archive_object = build_object(events)
        try:
            write(archive_object)
        except Exception as exc:  # noqa: BLE001 - any write failure is retried by the pipe
            stream_ids = [s for eid in archive_object.event_ids for s in by_event[eid] if s]
            result.failed.extend(stream_ids)
            logger.warning(
                "archive write failed; records reported for retry",
                extra={"key": archive_object.key, "records": len(stream_ids), "error": type(exc).__name__},
            )
            continue
        result.written_objects.append(archive_object.key)
        result.archived_events += len(archive_object.event_ids)
    return result


def s3_writer(bucket: str, kms_key_arn: str | None) -> Callable[[ArchiveObject], None]:
    def write(archive_object: ArchiveObject) -> None:
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": archive_object.key,
            "Body": archive_object.body,
            "ContentType": "application/gzip",
            "Metadata": dict(archive_object.metadata),
            "ServerSideEncryption": "aws:kms",
            "BucketKeyEnabled": True,
            **put_checksum(archive_object.body),  # Object Lock (prod) refuses an upload without one
        }
        if kms_key_arn:
            params["SSEKMSKeyId"] = kms_key_arn
        s3_client().put_object(**params)

    return write


def _records_of(event: Any) -> list[Any]:
    if isinstance(event, list):
        return event
    if isinstance(event, Mapping) and isinstance(event.get("Records"), list):
        return event["Records"]
    raise ValueError("archiver expects a JSON array of DynamoDB stream records")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    records = _records_of(event)
    result = archive_records(
        records,
        s3_writer(os.environ["ARCHIVE_BUCKET"], os.environ.get("ARCHIVE_KMS_KEY_ARN") or None),
    )
    metrics.add_metric("ArchivedEvents", MetricUnit.Count, result.archived_events)
    metrics.add_metric("ArchiveObjectsWritten", MetricUnit.Count, len(result.written_objects))
    metrics.add_metric("ArchiveInvalidRecords", MetricUnit.Count, result.invalid)
    metrics.add_metric("ArchiveFailedRecords", MetricUnit.Count, len(result.failed))
    logger.info(
        "archive batch done",
        extra={
            "records": len(records),
            "objects": len(result.written_objects),
            "archived": result.archived_events,
            "invalid": result.invalid,
            "skipped": result.skipped,
            "failed": len(result.failed),
        },
    )
    return result.response()
