"""`FifoQueue`: a FIFO queue without redrive, for a consumer that holds messages on purpose and
dead-letters itself."""

from __future__ import annotations

from constructs import Construct

from constructs.queueing.defaults import (
    FOURTEEN_DAYS,
    MAX_MESSAGE_SIZE_BYTES,
    encrypted_queue,
    queue_policy,
    queue_problems,
)


class FifoQueue(Construct):
    """A high-throughput FIFO queue without a redrive policy: `self.queue`, `self.policy`.

    For a consumer that keeps a message in flight on purpose (retry schedules, rate limits,
    pauses): every hold counts a receive, so a maxReceiveCount would dead-letter healthy
    messages; the consumer moves what it gives up on to a queue of its own. Encrypted with the
    given key, TLS-only policy, dedup scope and throughput limit per message group, content-based
    deduplication off (the producer sets MessageDeduplicationId).

    Args:
      name: 1..80 characters of [A-Za-z0-9_-] ending in .fifo; required.
      kms_key_arn: the sqs data-class key; required.
      visibility_timeout_seconds: 0..43200; default 30 (>= 6 x the consumer's timeout).
      message_retention_seconds: 60..1209600; default 14 days.
      max_message_size_bytes: 1024..262144; default 262144.
      kms_data_key_reuse_period_seconds: 60..86400; default 3600.
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, kms_key_arn: str,
                 visibility_timeout_seconds: int = 30, message_retention_seconds: int = FOURTEEN_DAYS,
                 max_message_size_bytes: int = MAX_MESSAGE_SIZE_BYTES, kms_data_key_reuse_period_seconds: int = 3600):
        super().__init__(scope, id_)
        problems = queue_problems(
            name=name, fifo=True, consumer_timeout_seconds=None, visibility_timeout_seconds=visibility_timeout_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            max_message_size_bytes=max_message_size_bytes,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=1, dlq_message_retention_seconds=FOURTEEN_DAYS,
        )
        if problems:
            raise ValueError(f"FifoQueue {name}: " + "; ".join(problems))
        self.queue = encrypted_queue(
            self, "queue", name=name, fifo=True, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            visibility_timeout_seconds=visibility_timeout_seconds, max_message_size=max_message_size_bytes,
            content_based_deduplication=False, deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
        )
        self.policy = queue_policy(self, "policy", self.queue, {})
