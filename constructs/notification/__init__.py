"""Notification: from a DynamoDB table's stream to an archive function and to subscribers
(`EventFanout`, fanout.py; its pipes in pipes.py, its options in options.py), reusable in any stack."""

from constructs.notification.fanout import (
    DLQ_RETENTION_SECONDS,
    RULE_TARGET_MAX_EVENT_AGE_SECONDS,
    RULE_TARGET_MAX_RETRIES,
    EventFanout,
)
from constructs.notification.options import (
    SUBSCRIPTION_PROTOCOLS,
    ArchivePipeOptions,
    BusOptions,
    FanoutKeys,
    FilteredSubscription,
    PipeOptions,
    RuleOptions,
    StatusPipeOptions,
    TopicOptions,
)
from constructs.notification.pipes import Pipes, build_pipes, pipe_filter

__all__ = [
    "DLQ_RETENTION_SECONDS", "RULE_TARGET_MAX_EVENT_AGE_SECONDS", "RULE_TARGET_MAX_RETRIES", "SUBSCRIPTION_PROTOCOLS",
    "ArchivePipeOptions", "BusOptions", "EventFanout", "FanoutKeys", "FilteredSubscription", "PipeOptions", "Pipes",
    "RuleOptions", "StatusPipeOptions", "TopicOptions", "build_pipes", "pipe_filter",
]
