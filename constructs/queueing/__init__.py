"""SQS queues: `WebhookQueue` (a FIFO or standard queue that always has its dead-letter queue,
queue.py), `FailureQueue` (a plain encrypted queue for Lambda on-failure destinations,
failure.py) and `FifoQueue` (a FIFO queue without redrive, for a consumer that holds messages on
purpose and dead-letters itself, fifo.py); their shared defaults in defaults.py."""

from constructs.queueing.defaults import (
    FOURTEEN_DAYS,
    MAX_MESSAGE_SIZE_BYTES,
    QUEUE_DEFAULTS,
    VISIBILITY_FACTOR,
)
from constructs.queueing.failure import FailureQueue
from constructs.queueing.fifo import FifoQueue
from constructs.queueing.queue import WebhookQueue

__all__ = [
    "FOURTEEN_DAYS", "MAX_MESSAGE_SIZE_BYTES", "QUEUE_DEFAULTS", "VISIBILITY_FACTOR", "FailureQueue", "FifoQueue",
    "WebhookQueue",
]
