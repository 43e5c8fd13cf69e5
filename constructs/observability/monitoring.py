"""`Observability`: alerts topic, metric filters, alarms, dashboard and the X-Ray sampling rule.

Every alarm notifies the alerts topic (alarm and OK), treats missing data as not breaching (no
traffic is not an incident), and names what it watches:

* per function: Lambda `Errors` >= 1 (absolute threshold) and `Throttles` >= 1; one metric
  filter per log group for ERROR-level JSON lines, all feeding one `ErrorLogs` metric with one
  alarm (handled errors a function logged but survived; the log group names the function);
* per dead-letter queue: `ApproximateNumberOfMessagesVisible` > 0;
* the ingest queue: `ApproximateAgeOfOldestMessage` > the threshold (lag);
* API: `5XXError` >= 1 and `Latency` p99 > the threshold on the stage;
* DynamoDB: `ReadThrottleEvents` / `WriteThrottleEvents` >= 1 on the table (`ThrottledRequests`
  needs an Operation dimension per API call; these two cover every operation);
* pipes: `ExecutionFailed` and `TargetStageFailed` >= 1 per pipe (AWS/EventBridge/Pipes);
* the completed-payment rule: `FailedInvocations` >= 1 (AWS/Events);
* authorizer denies: a metric filter on the authorizer's log (`decision` deny/unauthorized, one
  JSON line per decision) summed over 5 minutes >= the threshold: a spike means a leaked URL, a
  rotated key not yet deployed at the provider, or someone guessing.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import CloudwatchLogMetricFilter
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.xray_sampling_rule import XraySamplingRule
from constructs import Construct

from constructs.core.limits import ALARM_PERIOD_STEP_SECONDS, API_LATENCY_MS, XRAY_SAMPLING_RATE
from constructs.core.policy import document
from constructs.core.tokens import is_literal
from constructs.observability.dashboard import dashboard_body
from constructs.observability.metrics import (
    AUTHORIZER_DENY_PATTERN,
    BUSINESS_NAMESPACE,
    ERROR_LOG_PATTERN,
    ERROR_LOGS_METRIC,
    LOG_METRICS_NAMESPACE,
    XRAY_RULE_PRIORITY,
)
from constructs.observability.options import (
    DEFAULT_ALARMS,
    NOTHING_WATCHED,
    AlarmOptions,
    AlertOptions,
    WatchedResources,
)


class Observability(Construct):
    """Alerts topic, alarms, metric filters, dashboard and X-Ray sampling rule.

    Keyword arguments:
      name_prefix: names the alarms (`{name_prefix}-{key}`), the metric filters and the X-Ray
        sampling rule (at most 32 characters then) (required).
      region: the dashboard widgets' region (required).
      alerts: AlertOptions (the topic, its e-mail subscription and the rules that publish to it) (required).
      watched: WatchedResources (default nothing: only the topic).
      alarms: AlarmOptions (default: on, with its default thresholds).
      dashboard_name: the dashboard's name; None builds no dashboard (default None).
      xray_sampling_rate: 0..1, the fixed rate of an X-Ray sampling rule; None builds no rule
        (default 0.1).

    Attributes: alerts_topic, alerts_topic_policy (None without alert rules), alarms (name ->
      alarm), metric_filters, dashboard, sampling_rule (None when not built).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        region: str,
        alerts: AlertOptions,
        watched: WatchedResources = NOTHING_WATCHED,
        alarms: AlarmOptions = DEFAULT_ALARMS,
        dashboard_name: str | None = None,
        xray_sampling_rate: float | None = 0.1,
    ):
        super().__init__(scope, id_)
        problems = _problems(name_prefix, alerts, watched, alarms, xray_sampling_rate)
        if problems:
            raise ValueError("Observability: " + "; ".join(problems))

        w, functions, dlqs = watched, dict(watched.functions), dict(watched.dead_letter_queue_names)
        self._prefix, self._period = name_prefix, alarms.period_seconds
        self.alerts_topic = SnsTopic(self, "alerts", name=alerts.topic_name, kms_master_key_id=alerts.kms_key_arn)
        self._topic_arns = [self.alerts_topic.arn]  # read once: each read is a jsii round trip
        self.alerts_topic_policy = None
        if alerts.rule_arns:
            self.alerts_topic_policy = SnsTopicPolicy(
                self, "alerts-policy", arn=self._topic_arns[0],
                policy=document(self, "alerts-policy-document", [
                    {"sid": "AlarmsPublish", "principals": {"Service": ["cloudwatch.amazonaws.com"]},
                     "actions": ["sns:Publish"], "resources": [self._topic_arns[0]],
                     "conditions": [("StringEquals", "aws:SourceAccount", [alerts.account_id])]},
                    {"sid": "RulesPublish", "principals": {"Service": ["events.amazonaws.com"]},
                     "actions": ["sns:Publish"], "resources": [self._topic_arns[0]],
                     "conditions": [("ArnEquals", "aws:SourceArn", list(alerts.rule_arns))]},
                ]).json)
        if alerts.email and alerts.email_subscriptions:
            SnsTopicSubscription(self, "alerts-email", topic_arn=self._topic_arns[0], protocol="email",
                                 endpoint=alerts.email)

        self.metric_filters: dict[str, CloudwatchLogMetricFilter] = {}
        for name, fn in sorted(functions.items()):
            self.metric_filters[f"{name}-errors"] = CloudwatchLogMetricFilter(
                self, f"{name}-error-logs", name=f"{name_prefix}-{name}-error-logs", log_group_name=fn.log_group_name,
                pattern=ERROR_LOG_PATTERN,
                metric_transformation={"name": ERROR_LOGS_METRIC, "namespace": LOG_METRICS_NAMESPACE, "value": "1",
                                       "unit": "Count"})
        if w.authorizer in functions:
            self.metric_filters["authorizer-denies"] = CloudwatchLogMetricFilter(
                self, "authorizer-denies", name=f"{name_prefix}-authorizer-denies",
                log_group_name=functions[w.authorizer].log_group_name, pattern=AUTHORIZER_DENY_PATTERN,
                metric_transformation={"name": "AuthorizerDenies", "namespace": BUSINESS_NAMESPACE, "value": "1",
                                       "default_value": "0", "unit": "Count"})

        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        if alarms.enabled:
            self._alarms(w, alarms)

        self.dashboard = None
        if dashboard_name is not None:
            body = dashboard_body(region=region, functions=functions, ingest_queue_name=w.ingest_queue_name,
                                  dead_letter_queue_names=dlqs, api_name=w.api_name, api_stage_name=w.api_stage_name,
                                  table_name=w.table_name, pipe_names=list(w.pipe_names),
                                  delivery_vendor_ids=list(w.delivery_vendor_ids))
            self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=dashboard_name,
                                                 dashboard_body=json.dumps(body, sort_keys=True))

        self.sampling_rule = None
        if xray_sampling_rate is not None:
            self.sampling_rule = XraySamplingRule(
                self, "sampling", rule_name=name_prefix, priority=XRAY_RULE_PRIORITY, version=1,
                fixed_rate=xray_sampling_rate, reservoir_size=1, host="*", http_method="*", url_path="*",
                service_name="*", service_type="*", resource_arn="*")

    def _alarms(self, w: WatchedResources, a: AlarmOptions) -> None:
        """Every alarm of the module docstring on what `w` names, with the thresholds of `a`."""
        functions = dict(w.functions)
        for name, fn in sorted(functions.items()):
            dims: dict[str, Any] = {"FunctionName": fn.function_name}
            self._alarm(f"{name}-errors", "AWS/Lambda", "Errors", dims, threshold=1,
                        description=f"{fn.function_name}: invocation errors (any error: absolute threshold 1)")
            self._alarm(f"{name}-throttles", "AWS/Lambda", "Throttles", dims, threshold=1,
                        description=f"{fn.function_name}: throttled invocations (reserved concurrency reached)")
        if functions:
            # every function's filter feeds one metric: one alarm; the Lambda Errors alarms name the function
            self._alarm("error-logs", LOG_METRICS_NAMESPACE, ERROR_LOGS_METRIC, {}, threshold=1,
                        description="ERROR lines in a payment function's log (see the per-function filters)")
        if w.authorizer in functions:
            self._alarm("authorizer-deny-spike", BUSINESS_NAMESPACE, "AuthorizerDenies", {},
                        threshold=a.authorizer_denies_per_5min, period=300,
                        description="Webhook gate: denied or keyless requests spiking (leaked URL, rotated key, probing)")
        for spec in a.business_alarms:
            self._alarm(spec.key, spec.namespace, spec.metric, spec.dimensions, threshold=spec.threshold,
                        period=spec.period_seconds, description=spec.description, statistic=spec.statistic,
                        comparison=spec.comparison, treat_missing_data=spec.treat_missing_data)
        for label, queue in sorted(w.dead_letter_queue_names.items()):
            self._alarm(f"{label}-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue},
                        statistic="Maximum", threshold=0, comparison="GreaterThanThreshold",
                        description=f"{queue}: messages waiting in a dead-letter queue")
        if w.ingest_queue_name:
            self._alarm("ingest-oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage",
                        {"QueueName": w.ingest_queue_name}, statistic="Maximum",
                        threshold=a.ingest_oldest_message_seconds, comparison="GreaterThanThreshold",
                        evaluation_periods=3, description=f"{w.ingest_queue_name}: processing lag")
        if w.api_name:
            dims = {"ApiName": w.api_name, "Stage": w.api_stage_name}
            self._alarm("api-5xx", "AWS/ApiGateway", "5XXError", dims, threshold=1,
                        description=f"{w.api_name}: 5xx answers (providers will retry)")
            self._alarm("api-latency-p99", "AWS/ApiGateway", "Latency", dims, extended_statistic="p99",
                        threshold=a.api_latency_p99_ms, comparison="GreaterThanThreshold", evaluation_periods=5,
                        datapoints_to_alarm=3,
                        description=f"{w.api_name}: p99 latency above {a.api_latency_p99_ms} ms")
        if w.table_name:
            for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                self._alarm(f"table-{metric}", "AWS/DynamoDB", metric, {"TableName": w.table_name}, threshold=1,
                            description=f"{w.table_name}: {metric}")
        for pipe in w.pipe_names:
            for metric in ("ExecutionFailed", "TargetStageFailed"):
                self._alarm(f"pipe-{pipe}-{metric}", "AWS/EventBridge/Pipes", metric, {"PipeName": pipe}, threshold=1,
                            description=f"pipe {pipe}: {metric}")
        if w.rule_name:
            self._alarm("completed-rule-failed", "AWS/Events", "FailedInvocations",
                        {"EventBusName": w.event_bus_name, "RuleName": w.rule_name}, threshold=1,
                        description=f"rule {w.rule_name}: deliveries to the notifications queue failed")

    def _alarm(self, key: str, namespace: str, metric: str, dimensions: Mapping[str, Any], *, threshold: float,
               description: str, statistic: str | None = "Sum", extended_statistic: str | None = None,
               comparison: str = "GreaterThanOrEqualToThreshold", period: int | None = None,
               evaluation_periods: int = 1, datapoints_to_alarm: int | None = None,
               treat_missing_data: str = "notBreaching") -> CloudwatchMetricAlarm:
        topic = self._topic_arns
        self.alarms[key] = CloudwatchMetricAlarm(
            self, f"alarm-{key}", alarm_name=f"{self._prefix}-{key}", alarm_description=description,
            namespace=namespace, metric_name=metric, dimensions=dict(dimensions) or None,
            statistic=None if extended_statistic else statistic, extended_statistic=extended_statistic,
            period=period or self._period, evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm, threshold=threshold, comparison_operator=comparison,
            treat_missing_data=treat_missing_data, alarm_actions=topic, ok_actions=topic,
        )
        return self.alarms[key]


def _problems(name_prefix: str, alerts: AlertOptions, w: WatchedResources, a: AlarmOptions,
              xray_sampling_rate: float | None) -> list[str]:
    """Every problem of the options, each naming the option and the value given."""
    p: list[str] = []
    if is_literal(a.api_latency_p99_ms) and a.api_latency_p99_ms not in API_LATENCY_MS:
        p.append(f"alarms.api_latency_p99_ms must be {API_LATENCY_MS}, got {a.api_latency_p99_ms}")
    step = ALARM_PERIOD_STEP_SECONDS
    if is_literal(a.period_seconds) and (a.period_seconds < step or a.period_seconds % step):
        p.append(f"alarms.period_seconds must be {step} or a multiple of {step}, got {a.period_seconds}")
    if xray_sampling_rate is not None and is_literal(xray_sampling_rate) \
            and xray_sampling_rate not in XRAY_SAMPLING_RATE:
        p.append(f"xray_sampling_rate must be within {XRAY_SAMPLING_RATE}, got {xray_sampling_rate}")
    if (w.api_name is None) != (w.api_stage_name is None):
        p.append(f"watched.api_name and watched.api_stage_name go together, got {w.api_name!r} and "
                 f"{w.api_stage_name!r}")
    if (w.event_bus_name is None) != (w.rule_name is None):
        p.append(f"watched.event_bus_name and watched.rule_name go together, got {w.event_bus_name!r} and "
                 f"{w.rule_name!r}")
    unknown_pipes = [name for name in w.pipe_names if not is_literal(name)]
    if unknown_pipes:
        p.append(f"watched.pipe_names must be literal names (they key the alarms), got tokens {unknown_pipes}")
    keys = [spec.key for spec in a.business_alarms]
    if len(keys) != len(set(keys)):
        p.append(f"alarms.business_alarms keys must be unique, got {keys}")
    for spec in a.business_alarms:
        if spec.threshold < 1 or spec.period_seconds < step or spec.period_seconds % step:
            p.append(f"business alarm {spec.key}: threshold >= 1 and period 60·n seconds, got "
                     f"{spec.threshold} and {spec.period_seconds}")
    if alerts.rule_arns and alerts.account_id is None:
        p.append("alerts.rule_arns needs alerts.account_id (the topic policy admits the account's alarms), got none")
    if xray_sampling_rate is not None and len(f"{name_prefix}") > 32:
        p.append(f"name_prefix names the X-Ray sampling rule, at most 32 characters, got {name_prefix!r}")
    return p
