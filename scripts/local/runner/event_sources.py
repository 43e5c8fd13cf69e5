"""Lambda's SQS event source mappings: poll the mapped queue, invoke the mapped function with the
SQS event Lambda sends (batch size and ReportBatchItemFailures from the mapping), delete what
succeeded and make the failures visible again (the emulator moves a message to the DLQ after
maxReceiveCount).

Each record has the keys and JSON types of AWS's samples (tests/aws_samples/sqs/): `attributes`
holds what Lambda sends for a standard or a FIFO queue, not whatever `ReceiveMessage` could
return, and each message attribute is in Lambda's form (`stringValue`/`binaryValue`,
`stringListValues`, `binaryListValues`, `dataType`), not in the SQS API's.

Making a failure visible at once stands in for waiting out the queue's visibility timeout. A
failure whose visibility the function set itself (the delivery sender keeps its retry schedule,
rate limit and pause in the FIFO queue with `ChangeMessageVisibility`) keeps it, as with Lambda:
the message comes back when the function said, on the emulator's clock."""

from __future__ import annotations

import base64
from typing import Any

from .functions import REGION, Functions
from .wiring import EventSource

#: A record's `attributes` from a standard queue, and what a FIFO queue adds (AWS Lambda developer
#: guide, "Using Lambda with Amazon SQS", the standard and FIFO example events); `AWSTraceHeader`
#: is there only when the message carries an X-Ray trace header.
STANDARD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
FIFO_ATTRIBUTES = ("SequenceNumber", "MessageGroupId", "MessageDeduplicationId")
TRACE_ATTRIBUTE = "AWSTraceHeader"


def attribute_names(fifo: bool) -> list[str]:
    """The system attributes to ask `ReceiveMessage` for: those Lambda puts in a record."""
    return [*STANDARD_ATTRIBUTES, *(FIFO_ATTRIBUTES if fifo else ()), TRACE_ATTRIBUTE]


def message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A `MessageAttributeValue` of `ReceiveMessage` (boto3: binary as bytes) -> Lambda's form."""
    entry: dict[str, Any] = {}
    if "StringValue" in value:
        entry["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return {**entry, "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def lambda_record(message: dict[str, Any], *, queue_arn: str, fifo: bool, region: str = REGION) -> dict[str, Any]:
    """One `ReceiveMessage` message -> the record Lambda passes to the function."""
    received = message.get("Attributes", {})
    names = [*STANDARD_ATTRIBUTES, *(FIFO_ATTRIBUTES if fifo else ())]
    missing = [n for n in names if n not in received]
    if missing:
        raise ValueError(f"ReceiveMessage answered without {missing}: ask for attribute_names({fifo})")
    attributes = {n: received[n] for n in names}
    if TRACE_ATTRIBUTE in received:
        attributes[TRACE_ATTRIBUTE] = received[TRACE_ATTRIBUTE]
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {k: message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region,
    }


def failed_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The messages a partial batch response fails, as Lambda reads it (Lambda developer guide,
    "Handling errors for an SQS event source in Lambda", partial batch responses): no response, an
    empty or null `batchItemFailures` is success; an entry whose `itemIdentifier` is missing, empty,
    null or not a message of the batch fails the whole batch."""
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    found = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    batch = set(message_ids)
    return {i for i in found if isinstance(i, str)} if found <= batch else batch


def poll(sqs: Any, functions: Functions, source: EventSource, held: set[str] | None = None) -> int:
    """One poll of a mapped queue: invoke the function with up to batch_size messages. The names
    of queues where the function held a failed message back (its own visibility) go to `held`."""
    url = source.queue.url
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=source.batch_size,
                                   AttributeNames=attribute_names(source.queue.fifo), MessageAttributeNames=["All"],
                                   WaitTimeSeconds=0)
    messages = response.get("Messages", [])
    if not messages:
        return 0
    records = [lambda_record(m, queue_arn=source.queue.arn, fifo=source.queue.fifo) for m in messages]
    ids = [r["messageId"] for r in records]
    try:
        result = functions.invoke(source.function, {"Records": records})
        failed = failed_ids(result, ids) if source.report_failures else set()
    except Exception:  # a function error fails the whole batch
        failed = set(ids)
    set_by_function = functions.take_visibility_changes({m["ReceiptHandle"] for m in messages})
    for m in messages:
        if m["MessageId"] in failed and m["ReceiptHandle"] in set_by_function:
            if held is not None:
                held.add(source.queue.name)
        elif m["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return len(messages)
