"""SQS queues: `WebhookQueue` (a FIFO or standard queue that always has its dead-letter queue),
`FailureQueue` (a plain encrypted queue for Lambda on-failure destinations) and `FifoQueue` (a FIFO
queue without redrive, for a consumer that holds messages on purpose and dead-letters itself).

Redrive: the redrive policy and the DLQ's redrive-allow policy are separate resources
(`aws_sqs_queue_redrive_policy`, `aws_sqs_queue_redrive_allow_policy`) with `jsonencode`d JSON in
the key order and types SQS returns (`deadLetterTargetArn`, then `maxReceiveCount` as a number):
the queue resource no longer owns those attributes, so the emulator's re-formatted RedrivePolicy
cannot show up as a perpetual diff on the queue, and the queue/DLQ pair has no create cycle.
"""

from __future__ import annotations

import re
from typing import Mapping

from cdktf import Fn, TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_allow_policy import SqsQueueRedriveAllowPolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_policy import SqsQueueRedrivePolicy
from constructs import Construct

from constructs.core.limits import SQS_MAX_RECEIVE_COUNT
from constructs.core.policy import deny_insecure_transport, document

FOURTEEN_DAYS = 1_209_600
# hashicorp/aws 5.100.0 validates max_message_size within 1024..262144 (SQS itself has allowed
# 1 MiB since August 2025; the 5.x provider does not). The webhook envelope must fit in it.
MAX_MESSAGE_SIZE_BYTES = 262_144
VISIBILITY_FACTOR = 6  # visibility timeout >= 6 x the consumer's timeout (AWS guidance for Lambda)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$")

# Secure defaults for every queue, in one place.
QUEUE_DEFAULTS = dict(delay_seconds=0)  # no sqs_managed_sse_enabled: it conflicts with kms_master_key_id


def _encrypted_queue(scope: Construct, id_: str, *, name: str, fifo: bool, kms_key_arn: str,
                     kms_data_key_reuse_period_seconds: int, **options) -> SqsQueue:
    if fifo:
        options.setdefault("fifo_queue", True)
    # The redrive policies are their own resources (aws_sqs_queue_redrive_policy / _allow_policy);
    # the queue must not try to own the same attributes (the provider's documented pattern).
    return SqsQueue(scope, id_, name=name, kms_master_key_id=kms_key_arn,
                    kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
                    lifecycle=TerraformResourceLifecycle(ignore_changes=["redrive_policy", "redrive_allow_policy"]),
                    **QUEUE_DEFAULTS, **options)


def _queue_policy(scope: Construct, id_: str, queue: SqsQueue, service_senders: Mapping[str, str]) -> SqsQueuePolicy:
    """The queue's resource policy. It is written beside the queue's redrive policies, not after
    them: each waits ~25 s in the provider for its attribute to settle, and the two waits overlap."""
    statements = [deny_insecure_transport([queue.arn], ["sqs:*"])]
    for principal, source_arn in sorted(service_senders.items()):
        statements.append({
            "sid": "Allow" + re.sub(r"[^A-Za-z0-9]", "", principal.split(".")[0].title()) + "Send",
            "principals": {"Service": [principal]},
            "actions": ["sqs:SendMessage"],
            "resources": [queue.arn],
            "conditions": [("ArnEquals", "aws:SourceArn", [source_arn])],
        })
    policy = document(scope, f"{id_}-document", statements)
    return SqsQueuePolicy(scope, id_, queue_url=queue.url, policy=policy.json)


class WebhookQueue(Construct):
    """A queue and its dead-letter queue: `self.queue`, `self.dead_letter_queue` (SqsQueue), plus
    `self.redrive_policy`, `self.redrive_allow_policy`, `self.policy`, `self.dead_letter_policy`.

    FIFO queues are high-throughput FIFO (dedup scope and throughput limit per message group) with
    content-based deduplication off (the producer sets MessageDeduplicationId); their DLQ is FIFO.
    Both queues are encrypted with the given key and reuse data keys for
    `kms_data_key_reuse_period_seconds`; both policies deny non-TLS access.

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
      service_senders: service principal -> the source ARN allowed to SendMessage (e.g.
        {"events.amazonaws.com": rule ARN}); default none (IAM principals only).
      dlq_redrive_allow_policy: only this queue may use the DLQ (byQueue); default True (the local
        emulator cannot store it).
      dlq_name: the DLQ's name; default `{base}-dlq[.fifo]`.
      dlq_service_senders: like service_senders, for the DLQ (e.g. the rule whose undeliverable
        events it takes); default none.
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
        service_senders: Mapping[str, str] | None = None,
        dlq_redrive_allow_policy: bool = True,
        dlq_name: str | None = None,
        dlq_service_senders: Mapping[str, str] | None = None,
    ):
        super().__init__(scope, id_)
        if visibility_timeout_seconds is None:
            visibility_timeout_seconds = VISIBILITY_FACTOR * consumer_timeout_seconds if consumer_timeout_seconds else 30
        problems = _problems(
            name=name, fifo=fifo, consumer_timeout_seconds=consumer_timeout_seconds,
            visibility_timeout_seconds=visibility_timeout_seconds, message_retention_seconds=message_retention_seconds,
            receive_wait_time_seconds=receive_wait_time_seconds, max_message_size_bytes=max_message_size_bytes,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=dlq_max_receive_count, dlq_message_retention_seconds=dlq_message_retention_seconds,
        )
        if dlq_name is not None and not Token.is_unresolved(dlq_name) and (
                not _NAME.match(dlq_name) or fifo != dlq_name.endswith(".fifo")):
            problems.append(f"dlq_name must be 1..80 characters of [A-Za-z0-9_-], ending .fifo exactly when "
                            f"fifo=True (fifo={fifo}), got {dlq_name!r}")
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
        self.dead_letter_queue = _encrypted_queue(
            self, "dead-letter-queue", name=dlq_name, fifo=fifo, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=dlq_message_retention_seconds, max_message_size=max_message_size_bytes,
            receive_wait_time_seconds=receive_wait_time_seconds, **fifo_options,
        )
        self.queue = _encrypted_queue(
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
        ) if dlq_redrive_allow_policy else None
        self.policy = _queue_policy(self, "policy", self.queue, service_senders or {})
        self.dead_letter_policy = _queue_policy(self, "dead-letter-policy", self.dead_letter_queue,
                                                dlq_service_senders or {})

    @property
    def name(self) -> str:
        return self.queue.name


def _problems(*, name, fifo, consumer_timeout_seconds, visibility_timeout_seconds, message_retention_seconds,
              receive_wait_time_seconds, max_message_size_bytes, kms_data_key_reuse_period_seconds,
              dlq_max_receive_count, dlq_message_retention_seconds) -> list[str]:
    def known(value) -> bool:
        return value is not None and not Token.is_unresolved(value)

    p: list[str] = []
    if known(name):
        if not _NAME.match(name):
            p.append(f"name must be 1..80 characters of [A-Za-z0-9_-] (FIFO: ending .fifo), got {name!r}")
        if fifo != name.endswith(".fifo"):
            p.append(f"name must end in .fifo exactly when fifo=True (fifo={fifo}), got {name!r}")
    if known(visibility_timeout_seconds):
        if not 0 <= visibility_timeout_seconds <= 43_200:
            p.append(f"visibility timeout must be 0..43200 s, got {visibility_timeout_seconds} s")
        elif known(consumer_timeout_seconds) and visibility_timeout_seconds < VISIBILITY_FACTOR * consumer_timeout_seconds:
            p.append(
                f"visibility timeout must be >= {VISIBILITY_FACTOR} x function timeout "
                f"({VISIBILITY_FACTOR * consumer_timeout_seconds} s), got {visibility_timeout_seconds} s"
            )
    for label, value in (("message_retention_seconds", message_retention_seconds),
                         ("dlq_message_retention_seconds", dlq_message_retention_seconds)):
        if known(value) and not 60 <= value <= FOURTEEN_DAYS:
            p.append(f"{label} must be 60..{FOURTEEN_DAYS} s (14 days), got {value}")
    if known(receive_wait_time_seconds) and not 0 <= receive_wait_time_seconds <= 20:
        p.append(f"receive_wait_time_seconds must be 0..20 s (long polling), got {receive_wait_time_seconds}")
    if known(max_message_size_bytes) and not 1_024 <= max_message_size_bytes <= MAX_MESSAGE_SIZE_BYTES:
        p.append(
            f"max_message_size_bytes must be 1024..{MAX_MESSAGE_SIZE_BYTES} (hashicorp/aws 5.100.0), "
            f"got {max_message_size_bytes}"
        )
    if known(kms_data_key_reuse_period_seconds) and not 60 <= kms_data_key_reuse_period_seconds <= 86_400:
        p.append(f"kms_data_key_reuse_period_seconds must be 60..86400, got {kms_data_key_reuse_period_seconds}")
    if known(dlq_max_receive_count) and dlq_max_receive_count not in SQS_MAX_RECEIVE_COUNT:
        p.append(f"dlq_max_receive_count must be {SQS_MAX_RECEIVE_COUNT}, got {dlq_max_receive_count}")
    return p


class FailureQueue(Construct):
    """A standard queue collecting failed asynchronous Lambda invocations (on-failure destination):
    `self.queue`, `self.policy`. Encrypted with the given key, 14-day retention, TLS-only policy.
    It has no DLQ of its own: nothing consumes it automatically (operators inspect and redrive).

    Args:
      name: 1..80 characters of [A-Za-z0-9_-]; required.
      kms_key_arn: the sqs data-class key; required.
      message_retention_seconds: 60..1209600; default 14 days.
      kms_data_key_reuse_period_seconds: 60..86400; default 3600.
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, kms_key_arn: str,
                 message_retention_seconds: int = FOURTEEN_DAYS, kms_data_key_reuse_period_seconds: int = 3600):
        super().__init__(scope, id_)
        problems = _problems(
            name=name, fifo=False, consumer_timeout_seconds=None, visibility_timeout_seconds=None,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            max_message_size_bytes=MAX_MESSAGE_SIZE_BYTES,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=1, dlq_message_retention_seconds=FOURTEEN_DAYS,
        )
        if problems:
            raise ValueError(f"FailureQueue {name}: " + "; ".join(problems))
        self.queue = _encrypted_queue(
            self, "queue", name=name, fifo=False, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
        )
        self.policy = _queue_policy(self, "policy", self.queue, {})


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
        problems = _problems(
            name=name, fifo=True, consumer_timeout_seconds=None, visibility_timeout_seconds=visibility_timeout_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            max_message_size_bytes=max_message_size_bytes,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            dlq_max_receive_count=1, dlq_message_retention_seconds=FOURTEEN_DAYS,
        )
        if problems:
            raise ValueError(f"FifoQueue {name}: " + "; ".join(problems))
        self.queue = _encrypted_queue(
            self, "queue", name=name, fifo=True, kms_key_arn=kms_key_arn,
            kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
            message_retention_seconds=message_retention_seconds, receive_wait_time_seconds=20,
            visibility_timeout_seconds=visibility_timeout_seconds, max_message_size=max_message_size_bytes,
            content_based_deduplication=False, deduplication_scope="messageGroup",
            fifo_throughput_limit="perMessageGroupId",
        )
        self.policy = _queue_policy(self, "policy", self.queue, {})
