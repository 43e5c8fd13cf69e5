"""Lambda's SQS event source mappings: poll the mapped queue, invoke the mapped function with a
real SQS event (batch size and ReportBatchItemFailures from the mapping), delete what succeeded
and make the failures visible again (the emulator moves a message to the DLQ after maxReceiveCount).

Making a failure visible at once stands in for waiting out the queue's visibility timeout. A
failure whose visibility the function set itself (the delivery sender keeps its retry schedule,
rate limit and pause in the FIFO queue with `ChangeMessageVisibility`) keeps it, as with Lambda:
the message comes back when the function said, on the emulator's clock."""

from __future__ import annotations

from typing import Any

from .functions import REGION, Functions
from .wiring import EventSource


def poll(sqs: Any, functions: Functions, source: EventSource, held: set[str] | None = None) -> int:
    """One poll of a mapped queue: invoke the function with up to batch_size messages. The names
    of queues where the function held a failed message back (its own visibility) go to `held`."""
    url = source.queue.url
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=source.batch_size,
                                   AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0)
    messages = response.get("Messages", [])
    if not messages:
        return 0
    records = [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": source.queue.arn,
        "awsRegion": REGION,
    } for m in messages]
    try:
        result = functions.invoke(source.function, {"Records": records}) or {}
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])} if source.report_failures else set()
    except Exception:  # a function error fails the whole batch
        failed = {r["messageId"] for r in records}
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
