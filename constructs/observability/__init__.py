"""Observability (M13, M14, P8, F7, C3, C4, C12): alerts topic, metric filters, alarms, dashboard and
the X-Ray sampling rule.

Every alarm notifies the alerts topic `payment-alerts-{env}` (alarm and OK), treats missing data as
not breaching (no traffic is not an incident), and names what it watches:

* per function: Lambda `Errors` >= 1 (absolute threshold, F7) and `Throttles` >= 1; one metric
  filter per log group for ERROR-level JSON lines, all feeding one `ErrorLogs` metric with one
  alarm (handled errors a function logged but survived; the log group names the function);
* per dead-letter queue: `ApproximateNumberOfMessagesVisible` > 0;
* the ingest queue: `ApproximateAgeOfOldestMessage` > the threshold (lag);
* API: `5XXError` >= 1 and `Latency` p99 > 500 ms (P7) on the stage;
* DynamoDB: `ReadThrottleEvents` / `WriteThrottleEvents` >= 1 on the table (`ThrottledRequests`
  needs an Operation dimension per API call; these two cover every operation);
* pipes: `ExecutionFailed` and `TargetStageFailed` >= 1 per pipe (AWS/EventBridge/Pipes);
* the completed-payment rule: `FailedInvocations` >= 1 (AWS/Events);
* authorizer denies: a metric filter on the authorizer's log (`decision` deny/unauthorized, one
  JSON line per decision) summed over 5 minutes >= the threshold: a spike means a leaked URL, a
  rotated key not yet deployed at the provider, or someone guessing.

The dashboard body is `json.dumps(..., sort_keys=True)`: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


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

BUSINESS_NAMESPACE = "PaymentWebhooks"
LOG_METRICS_NAMESPACE = "PaymentWebhooks/Logs"
SERVICE_DIMENSION = {"service": "payment-webhooks"}
#: Powertools JSON log lines at ERROR level (or worse).
ERROR_LOG_PATTERN = '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
#: The authorizer's decision lines (lambda_src/authorizer: extra field `decision`).
AUTHORIZER_DENY_PATTERN = '{ ($.decision = "deny") || ($.decision = "unauthorized") }'
XRAY_RULE_PRIORITY = 1000
#: The delivery sender's per-vendor metrics (dimensions service, vendor_id) the dashboard shows.
DELIVERY_METRICS = {"attempts": "DeliveryAttempts", "successes": "DeliverySuccesses", "latency": "DeliveryLatency",
                    "exhausted": "DeliveryExhausted"}
ERROR_LOGS_METRIC = "ErrorLogs"


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


@dataclass(frozen=True)
class WatchedFunction:
    """A function to alarm on: its name (metric dimension) and its log group's name."""

    function_name: str
    log_group_name: str


class Observability(Construct):
    """Alerts topic, alarms, metric filters, dashboard and X-Ray sampling rule.

    Keyword arguments:
      alerts_topic_name, dashboard_name, name_prefix (alarm and rule names): physical names (required).
      region: the dashboard widgets' region (required).
      sns_kms_key_arn: the alerts topic's key (required).
      alert_email: subscribed to the alerts topic, or None; email_subscriptions False drops it.
      functions: name -> WatchedFunction (default none).
      authorizer: the key of `functions` whose log carries gate decisions (default "authorizer").
      ingest_queue_name: the ingest queue (lag alarm, dashboard) or None.
      dead_letter_queue_names: label -> queue name, each alarmed at depth > 0 (default none).
      api_name, api_stage_name: the REST API (5xx, latency) or None.
      table_name: the ledger (throttles) or None.
      pipe_names: pipes to alarm on (default none).
      event_bus_name, rule_name: the completed-payment rule (failed invocations) or None.
      api_latency_p99_ms 1..29000 (default 500), ingest_oldest_message_seconds (default 300),
        authorizer_denies_per_5min (default 50), period_seconds 60·n (default 60).
      business_alarms: MetricAlarm specs on the functions' own metrics (default none); keys unique,
        thresholds >= 1, periods 60·n.
      delivery_vendor_ids: vendors whose webhook deliveries get dashboard widgets (success rate,
        attempts, exhausted, latency p50/p99; `DELIVERY_METRICS`); default none.
      alert_rule_arns: EventBridge rules that publish to the alerts topic: the topic gets a policy
        admitting them and the account's CloudWatch alarms (needs account_id); default none (no
        topic policy: the default one).
      alarms / dashboard / xray_sampling_rule: switches (default True); xray_sampling_rate 0..1
        (default 0.1, C3).

    Attributes: alerts_topic, alarms (name -> alarm), metric_filters, dashboard, sampling_rule.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alerts_topic_name: str,
        dashboard_name: str,
        name_prefix: str,
        region: str,
        sns_kms_key_arn: str,
        alert_email: str | None = None,
        email_subscriptions: bool = True,
        functions: Mapping[str, WatchedFunction] | None = None,
        authorizer: str = "authorizer",
        ingest_queue_name: str | None = None,
        dead_letter_queue_names: Mapping[str, str] | None = None,
        api_name: str | None = None,
        api_stage_name: str | None = None,
        table_name: str | None = None,
        pipe_names: Sequence[str] = (),
        event_bus_name: str | None = None,
        rule_name: str | None = None,
        api_latency_p99_ms: int = 500,
        ingest_oldest_message_seconds: int = 300,
        authorizer_denies_per_5min: int = 50,
        business_alarms: Sequence[MetricAlarm] = (),
        delivery_vendor_ids: Sequence[str] = (),
        alert_rule_arns: Sequence[str] = (),
        account_id: str | None = None,
        period_seconds: int = 60,
        alarms: bool = True,
        dashboard: bool = True,
        xray_sampling_rule: bool = True,
        xray_sampling_rate: float = 0.1,
    ):
        super().__init__(scope, id_)


        p: list[str] = []
        if is_literal(api_latency_p99_ms) and api_latency_p99_ms not in API_LATENCY_MS:
            p.append(f"api_latency_p99_ms must be {API_LATENCY_MS}, got {api_latency_p99_ms}")
        step = ALARM_PERIOD_STEP_SECONDS
        if is_literal(period_seconds) and (period_seconds < step or period_seconds % step):
            p.append(f"period_seconds must be {step} or a multiple of {step}, got {period_seconds}")
        if is_literal(xray_sampling_rate) and xray_sampling_rate not in XRAY_SAMPLING_RATE:
            p.append(f"xray_sampling_rate must be within {XRAY_SAMPLING_RATE}, got {xray_sampling_rate}")
        if (api_name is None) != (api_stage_name is None):
            p.append(f"api_name and api_stage_name go together, got {api_name!r} and {api_stage_name!r}")
        if (event_bus_name is None) != (rule_name is None):
            p.append(f"event_bus_name and rule_name go together, got {event_bus_name!r} and {rule_name!r}")
        unknown_pipes = [name for name in pipe_names if not is_literal(name)]
        if unknown_pipes:
            p.append(f"pipe_names must be literal names (they key the alarms), got tokens {unknown_pipes}")
        keys = [a.key for a in business_alarms]
        if len(keys) != len(set(keys)):
            p.append(f"business_alarms keys must be unique, got {keys}")
        for spec in business_alarms:
            if spec.threshold < 1 or spec.period_seconds < step or spec.period_seconds % step:
                p.append(f"business alarm {spec.key}: threshold >= 1 and period 60·n seconds, got "
                         f"{spec.threshold} and {spec.period_seconds}")
        if alert_rule_arns and account_id is None:
            p.append("alert_rule_arns needs account_id (the topic policy admits the account's alarms), got none")
        if xray_sampling_rule and len(f"{name_prefix}") > 32:
            p.append(f"name_prefix names the X-Ray sampling rule, at most 32 characters, got {name_prefix!r}")
        if p:
            raise ValueError("Observability: " + "; ".join(p))

        functions = dict(functions or {})
        dlqs = dict(dead_letter_queue_names or {})
        self._prefix, self._period = name_prefix, period_seconds
        self.alerts_topic = SnsTopic(self, "alerts", name=alerts_topic_name, kms_master_key_id=sns_kms_key_arn)
        self._topic_arns = [self.alerts_topic.arn]  # read once: each read is a jsii round trip
        self.alerts_topic_policy = None
        if alert_rule_arns:
            self.alerts_topic_policy = SnsTopicPolicy(
                self, "alerts-policy", arn=self._topic_arns[0],
                policy=document(self, "alerts-policy-document", [
                    {"sid": "AlarmsPublish", "principals": {"Service": ["cloudwatch.amazonaws.com"]},
                     "actions": ["sns:Publish"], "resources": [self._topic_arns[0]],
                     "conditions": [("StringEquals", "aws:SourceAccount", [account_id])]},
                    {"sid": "RulesPublish", "principals": {"Service": ["events.amazonaws.com"]},
                     "actions": ["sns:Publish"], "resources": [self._topic_arns[0]],
                     "conditions": [("ArnEquals", "aws:SourceArn", list(alert_rule_arns))]},
                ]).json)
        if alert_email and email_subscriptions:
            SnsTopicSubscription(self, "alerts-email", topic_arn=self._topic_arns[0], protocol="email",
                                 endpoint=alert_email)

        self.metric_filters: dict[str, CloudwatchLogMetricFilter] = {}
        for name, fn in sorted(functions.items()):
            self.metric_filters[f"{name}-errors"] = CloudwatchLogMetricFilter(
                self, f"{name}-error-logs", name=f"{name_prefix}-{name}-error-logs", log_group_name=fn.log_group_name,
                pattern=ERROR_LOG_PATTERN,
                metric_transformation={"name": ERROR_LOGS_METRIC, "namespace": LOG_METRICS_NAMESPACE, "value": "1",
                                       "unit": "Count"})
        if authorizer in functions:
            self.metric_filters["authorizer-denies"] = CloudwatchLogMetricFilter(
                self, "authorizer-denies", name=f"{name_prefix}-authorizer-denies",
                log_group_name=functions[authorizer].log_group_name, pattern=AUTHORIZER_DENY_PATTERN,
                metric_transformation={"name": "AuthorizerDenies", "namespace": BUSINESS_NAMESPACE, "value": "1",
                                       "default_value": "0", "unit": "Count"})

        self.alarms: dict[str, CloudwatchMetricAlarm] = {}
        if alarms:
            for name, fn in sorted(functions.items()):
                dims: dict[str, Any] = {"FunctionName": fn.function_name}
                self._alarm(f"{name}-errors", "AWS/Lambda", "Errors", dims, threshold=1,
                            description=f"{fn.function_name}: invocation errors (F7: absolute threshold 1)")
                self._alarm(f"{name}-throttles", "AWS/Lambda", "Throttles", dims, threshold=1,
                            description=f"{fn.function_name}: throttled invocations (reserved concurrency reached)")
            if functions:
                # every function's filter feeds one metric: one alarm; the Lambda Errors alarms name the function
                self._alarm("error-logs", LOG_METRICS_NAMESPACE, ERROR_LOGS_METRIC, {}, threshold=1,
                            description="ERROR lines in a payment function's log (see the per-function filters)")
            if authorizer in functions:
                self._alarm("authorizer-deny-spike", BUSINESS_NAMESPACE, "AuthorizerDenies", {},
                            threshold=authorizer_denies_per_5min, period=300,
                            description="Webhook gate: denied or keyless requests spiking (leaked URL, rotated key, probing)")
            for spec in business_alarms:
                self._alarm(spec.key, spec.namespace, spec.metric, spec.dimensions, threshold=spec.threshold,
                            period=spec.period_seconds, description=spec.description, statistic=spec.statistic,
                            comparison=spec.comparison)
            for label, queue in sorted(dlqs.items()):
                self._alarm(f"{label}-depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue},
                            statistic="Maximum", threshold=0, comparison="GreaterThanThreshold",
                            description=f"{queue}: messages waiting in a dead-letter queue")
            if ingest_queue_name:
                self._alarm("ingest-oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage",
                            {"QueueName": ingest_queue_name}, statistic="Maximum",
                            threshold=ingest_oldest_message_seconds, comparison="GreaterThanThreshold",
                            evaluation_periods=3, description=f"{ingest_queue_name}: processing lag")
            if api_name:
                dims = {"ApiName": api_name, "Stage": api_stage_name}
                self._alarm("api-5xx", "AWS/ApiGateway", "5XXError", dims, threshold=1,
                            description=f"{api_name}: 5xx answers (providers will retry)")
                self._alarm("api-latency-p99", "AWS/ApiGateway", "Latency", dims, extended_statistic="p99",
                            threshold=api_latency_p99_ms, comparison="GreaterThanThreshold", evaluation_periods=5,
                            datapoints_to_alarm=3, description=f"{api_name}: p99 latency above {api_latency_p99_ms} ms (P7)")
            if table_name:
                for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                    self._alarm(f"table-{metric}", "AWS/DynamoDB", metric, {"TableName": table_name}, threshold=1,
                                description=f"{table_name}: {metric}")
            for pipe in pipe_names:
                for metric in ("ExecutionFailed", "TargetStageFailed"):
                    self._alarm(f"pipe-{pipe}-{metric}", "AWS/EventBridge/Pipes", metric, {"PipeName": pipe}, threshold=1,
                                description=f"pipe {pipe}: {metric}")
            if rule_name:
                self._alarm("completed-rule-failed", "AWS/Events", "FailedInvocations",
                            {"EventBusName": event_bus_name, "RuleName": rule_name}, threshold=1,
                            description=f"rule {rule_name}: deliveries to the notifications queue failed")

        self.dashboard = None
        if dashboard:
            body = dashboard_body(region=region, functions=functions, ingest_queue_name=ingest_queue_name,
                                  dead_letter_queue_names=dlqs, api_name=api_name, api_stage_name=api_stage_name,
                                  table_name=table_name, pipe_names=list(pipe_names),
                                  delivery_vendor_ids=list(delivery_vendor_ids))
            self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=dashboard_name,
                                                 dashboard_body=json.dumps(body, sort_keys=True))

        self.sampling_rule = None
        if xray_sampling_rule:
            self.sampling_rule = XraySamplingRule(
                self, "sampling", rule_name=name_prefix, priority=XRAY_RULE_PRIORITY, version=1,
                fixed_rate=xray_sampling_rate, reservoir_size=1, host="*", http_method="*", url_path="*",
                service_name="*", service_type="*", resource_arn="*")

    def _alarm(self, key: str, namespace: str, metric: str, dimensions: Mapping[str, Any], *, threshold: float,
               description: str, statistic: str | None = "Sum", extended_statistic: str | None = None,
               comparison: str = "GreaterThanOrEqualToThreshold", period: int | None = None,
               evaluation_periods: int = 1, datapoints_to_alarm: int | None = None) -> CloudwatchMetricAlarm:
        topic = self._topic_arns
        self.alarms[key] = CloudwatchMetricAlarm(
            self, f"alarm-{key}", alarm_name=f"{self._prefix}-{key}", alarm_description=description,
            namespace=namespace, metric_name=metric, dimensions=dict(dimensions) or None,
            statistic=None if extended_statistic else statistic, extended_statistic=extended_statistic,
            period=period or self._period, evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm, threshold=threshold, comparison_operator=comparison,
            treat_missing_data="notBreaching", alarm_actions=topic, ok_actions=topic,
        )
        return self.alarms[key]


def dashboard_body(*, region: str, functions: Mapping[str, WatchedFunction], ingest_queue_name: str | None,
                   dead_letter_queue_names: Mapping[str, str], api_name: str | None, api_stage_name: str | None,
                   table_name: str | None, pipe_names: Sequence[str],
                   delivery_vendor_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The dashboard as a plain document: business metrics first, then API, queues, Lambda, DynamoDB."""
    widgets: list[dict[str, Any]] = []

    def graph(title: str, metrics: list[list[Any]], stat: str = "Sum", width: int = 12, **extra: Any) -> None:
        props = {"title": title, "region": region, "metrics": metrics, "stat": stat, "period": 300,
                 "view": "timeSeries", "stacked": False, **extra}
        x = 0 if sum(w["width"] for w in widgets) % 24 == 0 else 12
        widgets.append({"type": "metric", "width": width, "height": 6, "x": x, "y": 6 * (len(widgets) // 2),
                        "properties": props})

    svc = ["service", SERVICE_DIMENSION["service"]]
    graph("Successful transactions", [[BUSINESS_NAMESPACE, "SuccessfulTransactions", *svc]])
    graph("Webhooks rejected (by reason) and duplicates", [
        [{"expression": f"SEARCH('{{{BUSINESS_NAMESPACE},reason,service}} MetricName=\"WebhookRejected\"', 'Sum', 300)",
          "id": "rejected", "label": "rejected"}],
        [BUSINESS_NAMESPACE, "DuplicateWebhook", *svc, {"id": "duplicates"}],
        [BUSINESS_NAMESPACE, "AuthorizerDenies", {"id": "denies"}],
    ])
    if api_name:
        api = ["ApiName", api_name, "Stage", api_stage_name]
        graph("API latency (p50, p99)", [["AWS/ApiGateway", "Latency", *api, {"stat": "p50"}],
                                         ["AWS/ApiGateway", "Latency", *api, {"stat": "p99"}]], stat="p99")
        graph("API requests and errors", [["AWS/ApiGateway", "Count", *api], ["AWS/ApiGateway", "4XXError", *api],
                                          ["AWS/ApiGateway", "5XXError", *api]])
    if ingest_queue_name:
        q = ["QueueName", ingest_queue_name]
        graph("Ingest queue depth", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", *q],
                                     ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", *q]], stat="Maximum")
        graph("Ingest queue oldest message (s)", [["AWS/SQS", "ApproximateAgeOfOldestMessage", *q]], stat="Maximum")
    if dead_letter_queue_names:
        graph("Dead-letter queues", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name]
                                     for _, name in sorted(dead_letter_queue_names.items())], stat="Maximum")
    names = [fn.function_name for _, fn in sorted(functions.items())]
    if names:
        for title, metric, stat in (("Lambda invocations", "Invocations", "Sum"), ("Lambda errors", "Errors", "Sum"),
                                    ("Lambda duration p99 (ms)", "Duration", "p99"),
                                    ("Lambda throttles", "Throttles", "Sum")):
            graph(title, [["AWS/Lambda", metric, "FunctionName", n] for n in names], stat=stat)
    if table_name:
        t = ["TableName", table_name]
        graph("DynamoDB consumed capacity", [["AWS/DynamoDB", "ConsumedReadCapacityUnits", *t],
                                             ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *t]])
        graph("DynamoDB throttles", [["AWS/DynamoDB", "ReadThrottleEvents", *t],
                                     ["AWS/DynamoDB", "WriteThrottleEvents", *t]])
    for vendor in delivery_vendor_ids:
        v = [*svc, "vendor_id", vendor]
        graph(f"Webhooks to {vendor}: success rate (%), attempts, exhausted", [
            [{"expression": "100 * successes / attempts", "id": "rate", "label": "success rate (%)", "yAxis": "right"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["attempts"], *v, {"id": "attempts", "label": "attempts"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["successes"], *v, {"id": "successes", "label": "successes"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["exhausted"], *v, {"id": "exhausted", "label": "exhausted"}],
        ])
        graph(f"Webhooks to {vendor}: latency p50, p99 (ms)", [
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["latency"], *v, {"stat": "p50"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["latency"], *v, {"stat": "p99"}]], stat="p99")
    if pipe_names:
        graph("Pipes failures", [["AWS/EventBridge/Pipes", m, "PipeName", p]
                                 for p in pipe_names for m in ("ExecutionFailed", "TargetStageFailed")])
    return {"widgets": widgets}

