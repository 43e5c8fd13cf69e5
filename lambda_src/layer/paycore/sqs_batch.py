"""The SQS side of a processor batch: what it reads of a record, and bringing records back soon
(a shorter visibility for those whose verification could not be decided)."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

from paycore import obs

#: Seconds until a message whose verification could not be decided comes back, once.
SHORT_RETRY_SECONDS = 10


class SqsRecord(NamedTuple):
    """What the processor reads of one record of an SQS event (AWS's keys ``messageId``, ``body``,
    ``attributes.SentTimestamp``, ``attributes.MessageGroupId`` and
    ``attributes.ApproximateReceiveCount``: the ones Powertools' SQSRecord reads, without importing
    its data_classes package at a cold start)."""

    message_id: str
    body: str
    sent_timestamp: int
    message_group_id: str | None
    receive_count: int

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> "SqsRecord":
        attributes = raw.get("attributes") or {}
        return cls(raw["messageId"], raw["body"], int(attributes.get("SentTimestamp") or 0),
                   attributes.get("MessageGroupId"), int(attributes.get("ApproximateReceiveCount") or 1))


def retry_soon_entries(records: Sequence[Mapping[str, Any]], retry: Sequence[str], failed: set[str]) -> list[dict]:
    """ChangeMessageVisibilityBatch entries for the records to bring back soon: each one whose
    verification could not be decided, and the later records of its group in the batch that failed
    with it (a FIFO group stays locked while any of its messages is in flight)."""
    entries: list[dict] = []
    chosen: set[str] = set()
    for index, record in enumerate(records):
        if record.get("messageId") not in retry:
            continue
        group = (record.get("attributes") or {}).get("MessageGroupId")
        for later in records[index:]:
            same = later is record or (group and (later.get("attributes") or {}).get("MessageGroupId") == group)
            if same and later.get("messageId") in failed and later.get("messageId") not in chosen:
                chosen.add(later["messageId"])
                entries.append({"Id": str(len(entries)), "ReceiptHandle": later["receiptHandle"],
                                "VisibilityTimeout": SHORT_RETRY_SECONDS})
    return entries


def bring_back_soon(sqs: Any, records: Sequence[Mapping[str, Any]], retry: Sequence[str], failed: set[str]) -> None:
    """Shorten the visibility of :func:`retry_soon_entries` (ten per call, SQS's batch limit); on
    an error they come back after the queue's visibility timeout instead."""
    entries = retry_soon_entries(records, retry, failed)
    for start in range(0, len(entries), 10):
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url(sqs, records[0]), Entries=entries[start:start + 10])
        except Exception as error:  # noqa: BLE001 - they come back after the queue's visibility timeout instead
            obs.logger.warning("could not shorten the visibility of unverified records",
                           extra={"error_type": type(error).__name__})


def queue_url(sqs: Any, record: Mapping[str, Any]) -> str:
    """The queue's URL from a record's ``eventSourceARN`` (``arn:aws:sqs:{region}:{account}:{name}``):
    the queue the records came from, at the SQS endpoint of the client `sqs`."""
    _, _, _, _, account, name = str(record.get("eventSourceARN", "")).split(":", 5)
    return f"{sqs.meta.endpoint_url}/{account}/{name}"
