"""Observability: every alarm notifies the alerts topic; errors, DLQs, lag, API, DynamoDB, pipes and
authorizer denies are watched; the dashboard is deterministic; X-Ray samples at the set rate."""

import json
from dataclasses import replace

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.xray_sampling_rule import XraySamplingRule

from constructs.observability import (
    AUTHORIZER_DENY_PATTERN,
    ERROR_LOG_PATTERN,
    AlarmOptions,
    AlertOptions,
    Observability,
    WatchedResources,
)
from infra_synth import resources, small_stack, synth


def _alarms(synthesized: str) -> dict[str, dict]:
    return {a["alarm_name"]: a for a in resources(synthesized, CloudwatchMetricAlarm.TF_RESOURCE_TYPE).values()}


def test_every_alarm_has_an_action_to_the_alerts_topic():
    dev = synth("dev")
    topic = next(k for k, t in resources(dev, "aws_sns_topic").items() if t["name"] == "payment-alerts-dev")
    alarms = _alarms(dev)
    assert len(alarms) > 30
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic}.arn}}"], name


def test_lambda_errors_alarm_at_an_absolute_threshold_of_one_per_function():
    alarms = _alarms(synth("dev"))
    errors = [a for a in alarms.values() if a["namespace"] == "AWS/Lambda" and a["metric_name"] == "Errors"]
    assert len(errors) == 11  # 9 platform functions (the reconciler too) + the delivery fan-out and sender
    assert all(a["threshold"] == 1 and a["comparison_operator"] == "GreaterThanOrEqualToThreshold" for a in errors)
    assert sum(1 for a in alarms.values() if a["metric_name"] == "Throttles") == 11


def test_queues_api_table_and_pipes_are_alarmed():
    alarms = _alarms(synth("dev"))
    depth = [a for a in alarms.values() if a["metric_name"] == "ApproximateNumberOfMessagesVisible"]
    assert len(depth) == 7 and all(a["threshold"] == 0 and a["comparison_operator"] == "GreaterThanThreshold"
                                   for a in depth)
    # the event bus's own DLQ: events it could not encrypt or decrypt with its key
    assert alarms["payments-dev-bus-dlq-depth"]["dimensions"] == {"QueueName": "${aws_sqs_queue.fanout_bus-dlq_A9C94BD9.name}"}
    assert alarms["payments-dev-ingest-oldest-message"]["threshold"] == 300
    latency = alarms["payments-dev-api-latency-p99"]
    assert latency["extended_statistic"] == "p99" and latency["threshold"] == 500 and "statistic" not in latency
    assert alarms["payments-dev-api-5xx"]["metric_name"] == "5XXError"
    assert {a["metric_name"] for a in alarms.values() if a["namespace"] == "AWS/DynamoDB"} == {
        "ReadThrottleEvents", "WriteThrottleEvents"}
    pipes = {(a["dimensions"]["PipeName"], a["metric_name"]) for a in alarms.values()
             if a["namespace"] == "AWS/EventBridge/Pipes"}
    assert pipes == {(p, m) for p in ("payments-archive-dev", "payments-status-dev")
                     for m in ("ExecutionFailed", "TargetStageFailed")}


def test_error_and_authorizer_deny_metric_filters():
    dev = synth("dev")
    filters = resources(dev, "aws_cloudwatch_log_metric_filter").values()
    assert sum(1 for f in filters if f["pattern"] == ERROR_LOG_PATTERN) == 11
    deny = [f for f in filters if f["pattern"] == AUTHORIZER_DENY_PATTERN]
    assert len(deny) == 1 and deny[0]["metric_transformation"]["name"] == "AuthorizerDenies"
    alarm = _alarms(dev)["payments-dev-authorizer-deny-spike"]
    assert (alarm["period"], alarm["threshold"]) == (300, 50)


def test_dashboard_is_deterministic_and_shows_business_metrics():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, CloudwatchDashboard.TF_RESOURCE_TYPE, {
        "dashboard_name": "payments-dev"})
    body = next(iter(resources(dev, CloudwatchDashboard.TF_RESOURCE_TYPE).values()))["dashboard_body"]
    document = json.loads(body)
    assert body == json.dumps(document, sort_keys=True)
    titles = [w["properties"]["title"] for w in document["widgets"]]
    assert titles[0] == "Successful transactions" and "Ingest queue depth" in titles
    assert "WebhookRejected" in body and "DuplicateWebhook" in body and "ConsumedWriteCapacityUnits" in body


def test_xray_sampling_rule_uses_the_fixed_rate():
    assert Testing.to_have_resource_with_properties(synth("dev"), XraySamplingRule.TF_RESOURCE_TYPE, {
        "fixed_rate": 0.1, "rule_name": "payments-dev"})
    assert not Testing.to_have_resource(synth("dev", disabled_features={"xray_sampling_rule": "test"}),
                                        XraySamplingRule.TF_RESOURCE_TYPE)


def test_disabled_alarms_and_dashboard_are_left_out():
    off = synth("dev", disabled_features={"alarms": "test", "dashboard": "test"})
    assert not Testing.to_have_resource(off, CloudwatchMetricAlarm.TF_RESOURCE_TYPE)
    assert not Testing.to_have_resource(off, CloudwatchDashboard.TF_RESOURCE_TYPE)


ALERTS = AlertOptions(topic_name="payment-alerts-test", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/test")


def _observability(**overrides):
    options = dict(name_prefix="payments-test", region="us-east-1", alerts=ALERTS, dashboard_name="payments-test")
    options.update(overrides)
    return Observability(small_stack(), "observability", **options)


def test_fails_when_latency_threshold_exceeds_the_api_timeout():
    with pytest.raises(ValueError, match="alarms.api_latency_p99_ms must be 1..29000, got 30000"):
        _observability(alarms=AlarmOptions(api_latency_p99_ms=30_000))


def test_fails_when_period_is_not_whole_minutes():
    with pytest.raises(ValueError, match="alarms.period_seconds must be 60 or a multiple of 60, got 45"):
        _observability(alarms=AlarmOptions(period_seconds=45))


def test_fails_when_sampling_rate_is_not_a_fraction():
    with pytest.raises(ValueError, match="xray_sampling_rate must be within 0..1, got 2"):
        _observability(xray_sampling_rate=2)


def test_fails_when_api_name_comes_without_stage():
    with pytest.raises(ValueError, match="watched.api_name and watched.api_stage_name go together"):
        _observability(watched=WatchedResources(api_name="payments-api-test"))


def test_fails_when_rule_name_comes_without_bus():
    with pytest.raises(ValueError, match="watched.event_bus_name and watched.rule_name go together"):
        _observability(watched=WatchedResources(rule_name="payment-completed-test"))


def test_fails_when_the_sampling_rule_name_is_too_long():
    with pytest.raises(ValueError, match="at most 32 characters"):
        _observability(name_prefix="payments-" + "x" * 30)
    _observability(name_prefix="payments-" + "x" * 30, xray_sampling_rate=None)  # no rule: no limit


def test_fails_when_alert_rules_come_without_the_account():
    with pytest.raises(ValueError, match="alerts.rule_arns needs alerts.account_id"):
        _observability(alerts=replace(ALERTS, rule_arns=["arn:aws:events:us-east-1:123456789012:rule/r"]))


def test_nothing_watched_builds_the_topic_only():
    observability = _observability(dashboard_name=None, xray_sampling_rate=None)
    assert observability.alarms == {} and observability.metric_filters == {}
    assert observability.dashboard is None and observability.sampling_rule is None
    assert observability.alerts_topic is not None and observability.alerts_topic_policy is None


def test_signature_mismatch_rate_secret_and_unroutable_alarms_watch_the_processor_metrics():
    alarms = _alarms(synth("dev"))
    mismatch = alarms["payments-dev-signature-mismatches"]
    assert (mismatch["namespace"], mismatch["metric_name"]) == ("PaymentWebhooks", "WebhookRejected")
    assert mismatch["dimensions"] == {"service": "payment-webhooks", "reason": "signature_mismatch"}
    assert (mismatch["threshold"], mismatch["period"], mismatch["statistic"]) == (5, 300, "Sum")
    secret = alarms["payments-dev-signing-secret-unusable"]
    assert (secret["metric_name"], secret["threshold"]) == ("SigningSecretUnusable", 1)
    unroutable = alarms["payments-dev-unroutable-vendor"]
    assert unroutable["dimensions"]["reason"] == "unsafe_vendor_id"


def test_lifecycle_alarms_watch_event_id_conflicts_contradicting_events_and_sales_that_never_come():
    alarms = _alarms(synth("dev"))
    watched = {name: (alarms[f"payments-dev-{name}"]["metric_name"], alarms[f"payments-dev-{name}"]["dimensions"],
                      alarms[f"payments-dev-{name}"]["threshold"])
               for name in ("event-id-conflict", "lifecycle-conflict", "lifecycle-sale-missing")}
    service = {"service": "payment-webhooks"}
    assert watched == {"event-id-conflict": ("WebhookRejected", {**service, "reason": "event_id_conflict"}, 1),
                       "lifecycle-conflict": ("LifecycleConflict", service, 1),
                       "lifecycle-sale-missing": ("LifecycleSaleMissing", service, 1)}


def test_fails_when_business_alarms_repeat_a_key_or_have_no_threshold():
    from constructs.observability import MetricAlarm

    with pytest.raises(ValueError) as error:
        _observability(alarms=AlarmOptions(business_alarms=[MetricAlarm("a", "M", 1, "d"),
                                                            MetricAlarm("a", "M", 0, "d", period_seconds=90)]))
    assert "alarms.business_alarms keys must be unique" in str(error.value)
    assert "business alarm a: threshold >= 1 and period 60·n seconds, got 0 and 90" in str(error.value)
