"""The options of `EventFanout`, grouped by concern. Names are physical names; every field
without a default is required. The construct checks them all and reports every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

SUBSCRIPTION_PROTOCOLS = ("email", "https", "sqs")


@dataclass(frozen=True)
class FilteredSubscription:
    """One topic subscription that receives only messages whose `filter_attribute` message
    attribute equals `filter_value`. id_: its construct id; protocol: 'email', 'https' or 'sqs'
    (endpoint = the queue ARN)."""

    id_: str
    protocol: str
    endpoint: str
    filter_value: str


@dataclass(frozen=True)
class FanoutKeys:
    """The KMS key ARNs of the bus (events), the dead-letter queues (sqs) and the topic (sns)."""

    events: str
    sqs: str
    sns: str


@dataclass(frozen=True)
class BusOptions:
    """The event bus: name; dead_letter_queue_name: the bus's own DLQ (events it cannot encrypt or
    decrypt), default `{name}-bus-dlq`; description."""

    name: str
    dead_letter_queue_name: str | None = None
    description: str = "Domain events"


@dataclass(frozen=True)
class RuleOptions:
    """The rule on the bus: name, event pattern, and the queue it delivers to (whose queue policy
    must admit the rule); description."""

    name: str
    pattern: Mapping[str, Any]
    target_queue_arn: str
    description: str = "Matching events -> queue"


@dataclass(frozen=True)
class TopicOptions:
    """The topic the queue's consumer publishes to. subscriptions: FilteredSubscription each,
    filtered on the `filter_attribute` message attribute (default "vendor_id"). alert_email:
    subscribed to the topic, or None (default); alert_email_filter_values: the `filter_attribute`
    values it receives (e.g. the unroutable vendor id), empty for every message (each e-mail costs
    $2 per 100,000). email_subscriptions: False drops every e-mail subscription (default True)."""

    name: str
    subscriptions: Sequence[FilteredSubscription] = ()
    filter_attribute: str = "vendor_id"
    alert_email: str | None = None
    alert_email_filter_values: Sequence[str] = ()
    email_subscriptions: bool = True


@dataclass(frozen=True)
class StatusPipeOptions:
    """Pipe B: the table's state rows that pass `filter_pattern` go to the bus, shaped by
    `input_template`, as events of `detail_type` from `event_source`."""

    name: str
    filter_pattern: Mapping[str, Any]
    input_template: str | None = None
    detail_type: str = "StatusChanged"
    event_source: str = "table.stream"
    description: str = "Table state rows -> the bus"


@dataclass(frozen=True)
class ArchivePipeOptions:
    """Pipe A: the table's rows that pass `filter_pattern` go to the archive function. batch_size
    1..10000 (default the pipes' batch_size) and batching_window_seconds 0..300 (default 0): fewer
    archive objects per event (Pipe B keeps the pipes' batch size and no window: notifications
    should not wait)."""

    name: str
    function_arn: str
    filter_pattern: Mapping[str, Any]
    batch_size: int | None = None
    batching_window_seconds: int = 0
    description: str = "Table event rows -> archive function"


@dataclass(frozen=True)
class PipeOptions:
    """The pipes reading the table's stream (`table_stream_arn`, encrypted with
    `stream_kms_key_arn`): Pipe B (`status`) always, Pipe A (`archive`) when given. batch_size
    1..10000 (default 10), maximum_retry_attempts -1/0..10000 (default 3),
    maximum_record_age_seconds -1/60..604800 (default 86400); what still fails goes to the DLQ."""

    table_stream_arn: str
    stream_kms_key_arn: str
    status: StatusPipeOptions
    archive: ArchivePipeOptions | None = None
    batch_size: int = 10
    maximum_retry_attempts: int = 3
    maximum_record_age_seconds: int = 86_400
