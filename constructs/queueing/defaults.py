"""What every queue of `constructs.queueing` shares: the secure defaults, the encrypted queue,
its TLS-only resource policy, and the checks of SQS's own limits."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from constructs.core.limits import SQS_MAX_RECEIVE_COUNT
from constructs.core.policy import deny_insecure_transport, document

FOURTEEN_DAYS = 1_209_600
# hashicorp/aws 5.100.0 validates max_message_size within 1024..262144 (SQS itself has allowed
# 1 MiB since August 2025; the 5.x provider does not). The webhook envelope must fit in it.
MAX_MESSAGE_SIZE_BYTES = 262_144
VISIBILITY_FACTOR = 6  # visibility timeout >= 6 x the consumer's timeout (AWS guidance for Lambda)
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$")

# Secure defaults for every queue, in one place.
QUEUE_DEFAULTS = dict(delay_seconds=0)  # no sqs_managed_sse_enabled: it conflicts with kms_master_key_id


def encrypted_queue(scope: Construct, id_: str, *, name: str, fifo: bool, kms_key_arn: str,
                     kms_data_key_reuse_period_seconds: int, **options) -> SqsQueue:
    if fifo:
        options.setdefault("fifo_queue", True)
    # The redrive policies are their own resources (aws_sqs_queue_redrive_policy / _allow_policy);
    # the queue must not try to own the same attributes (the provider's documented pattern).
    return SqsQueue(scope, id_, name=name, kms_master_key_id=kms_key_arn,
                    kms_data_key_reuse_period_seconds=kms_data_key_reuse_period_seconds,
                    lifecycle=TerraformResourceLifecycle(ignore_changes=["redrive_policy", "redrive_allow_policy"]),
                    **QUEUE_DEFAULTS, **options)


def queue_policy(scope: Construct, id_: str, queue: SqsQueue, service_senders: Mapping[str, str | Sequence[str]],
                 sender_principal_arns: Sequence[str] = ()) -> SqsQueuePolicy:
    """The queue's resource policy. It is written beside the queue's redrive policies, not after
    them: each waits ~25 s in the provider for its attribute to settle, and the two waits overlap.

    With `sender_principal_arns`, `sqs:SendMessage` is denied to every other principal
    (`aws:PrincipalArn`: a role's ARN for its sessions); nothing else is denied, so whoever
    administers the account still manages the queue (attributes, policy, purge, delete)."""
    statements = [deny_insecure_transport([queue.arn], ["sqs:*"])]
    if sender_principal_arns:
        statements.append({
            "sid": "DenySendersNotListed",
            "effect": "Deny",
            "principals": {"*": ["*"]},
            "actions": ["sqs:SendMessage"],
            "resources": [queue.arn],
            "conditions": [("ArnNotEquals", "aws:PrincipalArn", list(sender_principal_arns))],
        })
    for principal, source_arn in sorted(service_senders.items()):
        statements.append({
            "sid": "Allow" + re.sub(r"[^A-Za-z0-9]", "", principal.split(".")[0].title()) + "Send",
            "principals": {"Service": [principal]},
            "actions": ["sqs:SendMessage"],
            "resources": [queue.arn],
            "conditions": [("ArnEquals", "aws:SourceArn", [source_arn] if isinstance(source_arn, str) else list(source_arn))],
        })
    policy = document(scope, f"{id_}-document", statements)
    return SqsQueuePolicy(scope, id_, queue_url=queue.url, policy=policy.json)


def queue_problems(*, name, fifo, consumer_timeout_seconds, visibility_timeout_seconds, message_retention_seconds,
              receive_wait_time_seconds, max_message_size_bytes, kms_data_key_reuse_period_seconds,
              dlq_max_receive_count, dlq_message_retention_seconds) -> list[str]:
    def known(value) -> bool:
        return value is not None and not Token.is_unresolved(value)

    p: list[str] = []
    if known(name):
        if not QUEUE_NAME.match(name):
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
