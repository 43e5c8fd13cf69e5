"""Lambda's SQS event source mapping for the delivery handler tests: receive up to a batch, invoke
the handler, delete every record it did not fail. Records are the local runner's (AWS's samples'
shape, scripts/local/runner/event_sources.py); the tests drive it with a controllable clock
(delivery_fixtures.py).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager

from scripts.local.runner.event_sources import attribute_names, lambda_record


class EventSourceStandIn:
    """Receive up to ``batch_size``, invoke, delete every record not in ``batchItemFailures``
    (failed records keep whatever visibility they have, as with the real mapping)."""

    def __init__(self, sqs: Any, queue_url: str, handler: Callable[[dict, Any], dict], *, context: Any,
                 batch_size: int = 10, own_calls: Callable[[], ContextManager[Any]] = contextlib.nullcontext):
        self.sqs, self.queue_url, self.handler, self.context = sqs, queue_url, handler, context
        self.batch_size = batch_size
        self.own_calls = own_calls  # wraps the stand-in's own SQS calls (tests count the functions' calls apart)
        self.receives = 0
        self.invocations = 0
        self._queue: tuple[str, bool] | None = None  # (ARN, FIFO), asked once

    def _queue_arn_and_fifo(self) -> tuple[str, bool]:
        if self._queue is None:
            with self.own_calls():
                attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn", "FifoQueue"])
            self._queue = (attributes["Attributes"]["QueueArn"], attributes["Attributes"].get("FifoQueue") == "true")
        return self._queue

    def poll_once(self) -> int:
        arn, fifo = self._queue_arn_and_fifo()
        with self.own_calls():
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                           AttributeNames=attribute_names(fifo), MessageAttributeNames=["All"]).get("Messages", [])
        self.receives += 1
        if not got:
            return 0
        response = self.handler({"Records": [lambda_record(m, queue_arn=arn, fifo=fifo) for m in got]}, self.context) or {}
        self.invocations += 1
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        done = [m for m in got if m["MessageId"] not in failed]
        with self.own_calls():
            for start in range(0, len(done), 10):
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        return len(got)

    def run(self, idle: Callable[[], bool], max_batches: int = 100_000) -> None:
        """Poll until ``idle()`` (called when a receive comes back empty) returns False."""
        for _ in range(max_batches):
            if not self.poll_once() and not idle():
                return
        raise RuntimeError(f"{self.queue_url} did not drain in {max_batches} batches")
