"""The options of `VendorDelivery`, grouped by concern. Names are physical names; every field
without a default is required. The construct checks them all and reports every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from constructs.processing import FunctionSpec, ServerlessFunction

#: builds one function: (construct id, spec, security group ids or None for the caller's) -> function
FunctionBuilder = Callable[[str, FunctionSpec, "Sequence[str] | None"], ServerlessFunction]


@dataclass(frozen=True)
class DeliveryQueueOptions:
    """events_queue_name: the standard queue the delivery rule feeds; visibility 6 x the fan-out
    timeout, retention 4 days, redrive after `events_max_receive_count` (1..1000) receives to
    `events_dead_letter_queue_name` (default `{events_queue_name}-dlq`).
    queue_name / dead_letter_queue_name: the deliveries FIFO queue (no redrive policy: a held
    message counts receives, the sender dead-letters itself; retention 14 days, which the sender
    is told so that it parks a message before it) and its FIFO dead-letter queue.
    alerts_dead_letter_queue_name: where the alerts rule's events wait when the alerts topic
    refused them for a day (default `{events_queue_name}-alerts-dlq`): alerts, not domain events,
    so not in the events DLQ an operator redrives to the fan-out."""

    events_queue_name: str
    events_max_receive_count: int
    queue_name: str
    dead_letter_queue_name: str
    events_dead_letter_queue_name: str | None = None
    alerts_dead_letter_queue_name: str | None = None


@dataclass(frozen=True)
class DeliveryTableOptions:
    """The table of messages and attempts: pk `pk` / sk `sk`, TTL `expires_at`, PITR, KMS,
    KEYS_ONLY GSIs (`INDEXES`). deletion_protection_enabled: default False."""

    name: str
    deletion_protection_enabled: bool = False


@dataclass(frozen=True)
class EndpointOptions:
    """parameter_name / document: the SSM String parameter holding the endpoint configuration
    (JSON text, at most 8 KB; Advanced tier above 4 KB). signing_secret_names: endpoint id ->
    secret name (one empty secret each; values are set by the ops tooling, never by Terraform);
    signing_secret_prefix: what every such name starts with, ending in '/' (the sender may read
    `{prefix}*`). secret_recovery_window_in_days: 0 or 7..30 (default 30)."""

    parameter_name: str
    document: str
    signing_secret_names: Mapping[str, str]
    signing_secret_prefix: str
    secret_recovery_window_in_days: int = 30


@dataclass(frozen=True)
class DeliveryRuleOptions:
    """event_bus_name / event_bus_arn: the bus the rules listen on and the sender writes to.
    rule_name / rule_pattern: the rule feeding the events queue. alerts_rule_name /
    alerts_rule_pattern / alert_topic_arn: the rule sending delivery events to the alerts topic
    (its policy must admit events.amazonaws.com from this rule); what the topic refuses for a day
    goes to the events queue's DLQ, as the rule's own undeliverable events do."""

    event_bus_name: str
    event_bus_arn: str
    rule_name: str
    rule_pattern: Mapping[str, Any]
    alerts_rule_name: str
    alerts_rule_pattern: Mapping[str, Any]
    alert_topic_arn: str


@dataclass(frozen=True)
class DeliveryKeys:
    """The KMS key ARNs of the queues, the table, the signing secrets and the bus."""

    sqs: str
    dynamodb: str
    secrets: str
    events: str


@dataclass(frozen=True)
class SenderOptions:
    """function: the sender's FunctionSpec (timeout <= 7200 s: 6 x it is the FIFO visibility).
    maximum_concurrency: 2..1000, its event source cap (default 20). vpc_id / vpc_cidr: with a
    VPC, the sender gets its own security group (egress tcp/443 to the VPC's interface endpoints
    and to 0.0.0.0/0 through the NAT); default None (no VPC)."""

    function: FunctionSpec
    maximum_concurrency: int = 20
    vpc_id: str | None = None
    vpc_cidr: str | None = None
