"""The options of `Observability`, grouped by concern: where alerts go, what is watched, and the
alarms' thresholds. Every field without a default is required."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from constructs.observability.metrics import BUSINESS_NAMESPACE


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on one metric (by default one the functions publish themselves, EMF): `statistic`
    over period_seconds compared (`comparison`, default >=) with threshold. `key` names the alarm
    (`{name_prefix}-{key}`); dimensions as published."""

    key: str
    metric: str
    threshold: float
    description: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    namespace: str = BUSINESS_NAMESPACE
    period_seconds: int = 300
    statistic: str = "Sum"
    comparison: str = "GreaterThanOrEqualToThreshold"
    #: "breaching" for a metric whose absence is the problem (a run that never happens)
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True)
class WatchedFunction:
    """A function to alarm on: its name (metric dimension) and its log group's name."""

    function_name: str
    log_group_name: str


@dataclass(frozen=True)
class AlertOptions:
    """The alerts topic every alarm notifies (alarm and OK): its name and KMS key. email:
    subscribed to it, or None (default); email_subscriptions False drops it. rule_arns:
    EventBridge rules that publish to the topic: the topic gets a policy admitting them and the
    account's CloudWatch alarms (needs account_id); default none (no topic policy: the default one)."""

    topic_name: str
    kms_key_arn: str
    email: str | None = None
    email_subscriptions: bool = True
    rule_arns: Sequence[str] = ()
    account_id: str | None = None


@dataclass(frozen=True)
class WatchedResources:
    """What the alarms and the dashboard watch (each None or empty: not watched).

    functions: name -> WatchedFunction; authorizer: the key of `functions` whose log carries gate
    decisions (default "authorizer"). ingest_queue_name: lag alarm and dashboard.
    dead_letter_queue_names: label -> queue name, each alarmed at depth > 0. api_name and
    api_stage_name (together): 5xx and latency. table_name: throttles. pipe_names: literal names
    (they key the alarms). event_bus_name and rule_name (together): the rule's failed invocations.
    delivery_vendor_ids: vendors whose webhook deliveries get dashboard widgets."""

    functions: Mapping[str, WatchedFunction] = field(default_factory=dict)
    authorizer: str = "authorizer"
    ingest_queue_name: str | None = None
    dead_letter_queue_names: Mapping[str, str] = field(default_factory=dict)
    api_name: str | None = None
    api_stage_name: str | None = None
    table_name: str | None = None
    pipe_names: Sequence[str] = ()
    event_bus_name: str | None = None
    rule_name: str | None = None
    delivery_vendor_ids: Sequence[str] = ()


@dataclass(frozen=True)
class AlarmOptions:
    """enabled: build the alarms (default True; the metric filters stay). period_seconds 60·n
    (default 60). api_latency_p99_ms 1..29000 (default 500), ingest_oldest_message_seconds (default
    300), authorizer_denies_per_5min (default 50). business_alarms: MetricAlarm specs on the
    functions' own metrics (default none); keys unique, thresholds >= 1, periods 60·n."""

    enabled: bool = True
    period_seconds: int = 60
    api_latency_p99_ms: int = 500
    ingest_oldest_message_seconds: int = 300
    authorizer_denies_per_5min: int = 50
    business_alarms: Sequence[MetricAlarm] = ()


#: Defaults of the construct's option arguments.
NOTHING_WATCHED = WatchedResources()
DEFAULT_ALARMS = AlarmOptions()
