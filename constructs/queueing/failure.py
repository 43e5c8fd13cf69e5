"""`FailureQueue`: a plain encrypted queue for failures: Lambda on-failure destinations, a rule
target's dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from constructs import Construct

from constructs.queueing.defaults import (
    FOURTEEN_DAYS,
    MAX_MESSAGE_SIZE_BYTES,
    encrypted_queue,
    queue_policy,
    queue_problems,
)


class FailureQueue(Construct):
    """A standard queue collecting failures - failed asynchronous Lambda invocations (on-failure
    destination), the events a rule target refused (its dead-letter queue): `self.queue`,
    `self.policy`. Encrypted with the given key, 14-day retention, TLS-only policy. It has no DLQ of
    its own: nothing consumes it automatically (operators inspect and redrive).

    Args:
      name: 1..80 characters of [A-Za-z0-9_-]; required.
      kms_key_arn: the sqs data-class key; required.
      message_retention_seconds: 60..1209600; default 14 days.
      kms_data_key_reuse_period_seconds: 60..86400; default 3600.
      service_senders: service principal -> the source ARN(s) it may send from (e.g.
        {"events.amazonaws.com": rule_arn}); default none (a Lambda destination sends as the
        function's role).
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, kms_key_arn: str,
                 message_retention_seconds: int = FOURTEEN_DAYS, kms_data_key_reuse_period_seconds: int = 3600,
                 service_senders: Mapping[str, str | Sequence[str]] | None = None):
        super().__init__(scope, id_)
        problems = queue_problems(
            name=name, fifo=False, consumer_timeout_seconds=None, visibility_timeout_seconds=None,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=1, dlq_message_retention_seconds=FOURTEEN_DAYS,
        )
        if problems:
            raise ValueError(f"FailureQueue {name}: " + "; ".join(problems))
        self.queue = encrypted_queue(
            self, "queue", name=name, fifo=False, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
        )
        self.policy = queue_policy(self, "policy", self.queue, service_senders or {})
