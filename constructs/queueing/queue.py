"""`WebhookQueue`: a FIFO or standard queue that always has its dead-letter queue.

Redrive: the redrive policy and the DLQ's redrive-allow policy are separate resources
(`aws_sqs_queue_redrive_policy`, `aws_sqs_queue_redrive_allow_policy`) with `jsonencode`d JSON in
the key order and types SQS returns (`deadLetterTargetArn`, then `maxReceiveCount` as a number):
the queue resource no longer owns those attributes, so the emulator's re-formatted RedrivePolicy
cannot show up as a perpetual diff on the queue, and the queue/DLQ pair has no create cycle.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from cdktf import Fn, Token
from cdktf_cdktf_provider_aws.sqs_queue_redrive_allow_policy import SqsQueueRedriveAllowPolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_policy import SqsQueueRedrivePolicy
from constructs import Construct

from constructs.queueing.defaults import (
    FOURTEEN_DAYS,
    MAX_MESSAGE_SIZE_BYTES,
    QUEUE_NAME,
    VISIBILITY_FACTOR,
    encrypted_queue,
    queue_policy,
    queue_problems,
)


class WebhookQueue(Construct):
    """A queue and its dead-letter queue: `self.queue`, `self.dead_letter_queue` (SqsQueue), plus
    `self.redrive_policy`, `self.redrive_allow_policy`, `self.policy`, `self.dead_letter_policy`.

    FIFO queues are high-throughput FIFO (dedup scope and throughput limit per message group) with
    content-based deduplication off (the producer sets MessageDeduplicationId); their DLQ is FIFO.
    Both queues are encrypted with the given key and reuse data keys for
    `kms_data_key_reuse_period_seconds`; both policies deny non-TLS access; only this queue may
    redrive into the DLQ (redrive-allow policy byQueue).

    Args:
      name: queue name; FIFO names end in `.fifo` (the DLQ is `{base}-dlq[.fifo]`); 1..80 chars.
      kms_key_arn: the sqs data-class key; required.
      fifo: default False.
      consumer_timeout_seconds: the consuming function's timeout; the visibility timeout must be
        >= 6 x this (validated). Default None (no consumer to check against).
      visibility_timeout_seconds: 0..43200; default 6 x consumer_timeout_seconds, else 30.
      message_retention_seconds: 60..1209600; default 14 days.
      receive_wait_time_seconds: long polling 0..20; default 20.
      max_message_size_bytes: 1024..262144 (provider 5.100.0 range); default 262144.
      kms_data_key_reuse_period_seconds: 60..86400; default 3600 (fewer KMS calls).
      dlq_max_receive_count: receives before a message moves to the DLQ, 1..1000; required (how
        many tries a consumer gets is the caller's decision).
      dlq_message_retention_seconds: 60..1209600; default 14 days.
      service_senders: service principal -> the source ARN (or ARNs) allowed to SendMessage (e.g.
        {"events.amazonaws.com": rule ARN}); default none (IAM principals only).
      dlq_name: the DLQ's name; default `{base}-dlq[.fifo]`.
      dlq_service_senders: like service_senders, for the DLQ (e.g. the rules whose undeliverable
        events it takes); default none.
      sender_principal_arns: the only IAM principals (role ARNs) that may SendMessage to the queue:
        the queue's policy denies it to every other principal (aws:PrincipalArn), and denies nothing
        else (administrators still manage the queue); not with service_senders (a service principal
        has no principal ARN). Default none (any principal its own policy allows).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        kms_key_arn: str,
        dlq_max_receive_count: int,
        fifo: bool = False,
        consumer_timeout_seconds: int | None = None,
        visibility_timeout_seconds: int | None = None,
        message_retention_seconds: int = FOURTEEN_DAYS,
        receive_wait_time_seconds: int = 20,
        max_message_size_bytes: int = MAX_MESSAGE_SIZE_BYTES,
        kms_data_key_reuse_period_seconds: int = 3600,
        dlq_message_retention_seconds: int = FOURTEEN_DAYS,
        service_senders: Mapping[str, str | Sequence[str]] | None = None,
        dlq_name: str | None = None,
        dlq_service_senders: Mapping[str, str | Sequence[str]] | None = None,
        sender_principal_arns: Sequence[str] = (),
    ):
        super().__init__(scope, id_)
        if visibility_timeout_seconds is None:
            visibility_timeout_seconds = VISIBILITY_FACTOR * consumer_timeout_seconds if consumer_timeout_seconds else 30
        problems = queue_problems(
            name=name, fifo=fifo, consumer_timeout_seconds=consumer_timeout_seconds,
            visibility_timeout_seconds=visibility_timeout_seconds, message_retention_seconds=message_retention_seconds,
            receive_wait_time_seconds=receive_wait_time_seconds, max_message_size_bytes=max_message_size_bytes,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=dlq_max_receive_count, dlq_message_retention_seconds=dlq_message_retention_seconds,
        )
        if dlq_name is not None and not Token.is_unresolved(dlq_name) and (
                not QUEUE_NAME.match(dlq_name) or fifo != dlq_name.endswith(".fifo")):
            problems.append(f"dlq_name must be 1..80 characters of [A-Za-z0-9_-], ending .fifo exactly when "
                            f"fifo=True (fifo={fifo}), got {dlq_name!r}")
        if sender_principal_arns and service_senders:
            problems.append("sender_principal_arns cannot be combined with service_senders: a service principal has no "
                            "aws:PrincipalArn, so the deny would refuse it")
        bad = [a for a in sender_principal_arns if not Token.is_unresolved(a) and not str(a).startswith("arn:")]
        if bad:
            problems.append(f"sender_principal_arns must be IAM principal ARNs, got {bad!r}")
        if problems:
            raise ValueError(f"WebhookQueue {name}: " + "; ".join(problems))

        if dlq_name is None:
            base = name[: -len(".fifo")] if name.endswith(".fifo") else name
            dlq_name = f"{base}-dlq.fifo" if fifo else f"{base}-dlq"
        fifo_options = dict(
            content_based_deduplication=False,
            deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
        ) if fifo else {}
        self.dead_letter_queue = encrypted_queue(
            self, "dead-letter-queue", name=dlq_name, fifo=fifo, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=dlq_message_retention_seconds, max_message_size=max_message_size_bytes,
            receive_wait_time_seconds=receive_wait_time_seconds, **fifo_options,
        )
        self.queue = encrypted_queue(
            self, "queue", name=name, fifo=fifo, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=message_retention_seconds, max_message_size=max_message_size_bytes,
            receive_wait_time_seconds=receive_wait_time_seconds, visibility_timeout_seconds=visibility_timeout_seconds,
            **fifo_options,
        )
        self.redrive_policy = SqsQueueRedrivePolicy(
            self, "redrive-policy", queue_url=self.queue.url,
            redrive_policy=Fn.jsonencode({
                "deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": dlq_max_receive_count,
            }),
        )
        self.redrive_allow_policy = SqsQueueRedriveAllowPolicy(
            self, "redrive-allow-policy", queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=Fn.jsonencode({"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}),
        )
        self.policy = queue_policy(self, "policy", self.queue, service_senders or {}, sender_principal_arns)
        self.dead_letter_policy = queue_policy(self, "dead-letter-policy", self.dead_letter_queue,
                                               dlq_service_senders or {})

    @property
    def name(self) -> str:
        return self.queue.name
