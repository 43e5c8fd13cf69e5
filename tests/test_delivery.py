"""Vendor delivery infrastructure (constructs/delivery, wired in constructs/app/stack.py) against the
contract of lambda_src/README.md ("Infrastructure contract"): queues, table, parameter, secrets,
functions, event sources, rules, IAM scopes, alarms, dashboard, egress IPs; the delivery settings'
errors; and the construct on its own in a foreign stack (terraform validate)."""

import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_aws.provider import AwsProvider
from paycore import delivery as runtime

from constructs.app.environments import load_settings
from constructs.app.settings import SettingsError
from constructs.delivery import (
    DeliveryKeys,
    DeliveryQueueOptions,
    DeliveryRuleOptions,
    DeliveryTableOptions,
    EndpointOptions,
    SenderOptions,
    VendorDelivery,
)
from constructs.processing import FunctionGroup, FunctionSpec
from infra_synth import by, named, synth
from support import run_terraform

Testing.__test__ = False
NO_ENV: dict[str, str] = {}


def _stack(environment: str = "dev", **overrides) -> dict:
    return json.loads(synth(environment, **overrides))


def _function(out: dict, name: str) -> dict:
    [function] = [f for f in out["resource"]["aws_lambda_function"].values() if f["function_name"] == name]
    return function


def _ref(out: dict, resource_type: str, **properties) -> str:
    logical, _ = named(json.dumps(out), resource_type, **properties)
    return f"{resource_type}.{logical}"


def _statements(out: dict, role_name: str, policy_name: str) -> dict[str, dict]:
    roles = {k for k, r in out["resource"]["aws_iam_role"].items() if r["name"] == role_name}
    documents = out["data"]["aws_iam_policy_document"]
    [policy] = [p for p in out["resource"]["aws_iam_role_policy"].values()
                if p["role"].split(".")[1] in roles and p["name"] == policy_name]
    return {s["sid"]: s for s in documents[policy["policy"].split(".")[2]]["statement"]}


# ----- queues, table, parameter, secrets -------------------------------------------------------------

def test_queues_follow_the_contract():
    out = _stack()
    queues = {q["name"]: q for q in out["resource"]["aws_sqs_queue"].values()}
    events, fifo, dlq = queues["delivery-events-dev"], queues["deliveries-dev.fifo"], queues["deliveries-dlq-dev.fifo"]
    assert "delivery-events-dlq-dev" in queues
    assert events["visibility_timeout_seconds"] == 180 and events["message_retention_seconds"] == 345_600
    assert "fifo_queue" not in events and "security_sqs-key" in events["kms_master_key_id"]
    assert fifo["fifo_queue"] is True and fifo["content_based_deduplication"] is False
    assert fifo["deduplication_scope"] == "messageGroup" and fifo["fifo_throughput_limit"] == "perMessageGroupId"
    assert fifo["visibility_timeout_seconds"] == 1080 and fifo["message_retention_seconds"] == 1_209_600
    assert fifo["max_message_size"] == 262_144 and "security_sqs-key" in fifo["kms_master_key_id"]
    assert dlq["fifo_queue"] is True and dlq["message_retention_seconds"] == 1_209_600
    events_ref, fifo_ref = (_ref(out, "aws_sqs_queue", name=n) for n in ("delivery-events-dev", "deliveries-dev.fifo"))
    events_dlq_ref = _ref(out, "aws_sqs_queue", name="delivery-events-dlq-dev")
    [events_redrive] = [r for r in out["resource"]["aws_sqs_queue_redrive_policy"].values()
                        if r["queue_url"] == f"${{{events_ref}.url}}"]
    assert f"{events_dlq_ref}.arn" in events_redrive["redrive_policy"]
    assert '"maxReceiveCount" = 5' in events_redrive["redrive_policy"]
    # no redrive on the deliveries FIFO: a held message counts receives, the sender dead-letters itself
    assert not [r for r in out["resource"]["aws_sqs_queue_redrive_policy"].values()
                if r["queue_url"] == f"${{{fifo_ref}.url}}"]


def test_the_rule_may_send_to_the_delivery_events_queue_and_nothing_else_may():
    out = _stack()
    events_ref = _ref(out, "aws_sqs_queue", name="delivery-events-dev")
    [policy] = [p for p in out["resource"]["aws_sqs_queue_policy"].values() if p["queue_url"] == f"${{{events_ref}.url}}"]
    document = out["data"]["aws_iam_policy_document"][policy["policy"].split(".")[2]]
    [allow] = [s for s in document["statement"] if s.get("effect", "Allow") == "Allow"]
    assert allow["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert allow["actions"] == ["sqs:SendMessage"]
    [source] = allow["condition"][0]["values"]
    assert allow["condition"][0]["variable"] == "aws:SourceArn"
    assert source.endswith(f":rule/${{{_ref(out, 'aws_cloudwatch_event_bus', name='payments-dev')}.name}}/vendor-delivery-dev")


def test_table_has_ttl_pitr_kms_and_two_keys_only_indexes():
    table = by(synth("dev"), "aws_dynamodb_table", name="deliveries-dev")
    assert (table["hash_key"], table["range_key"], table["billing_mode"]) == ("pk", "sk", "PAY_PER_REQUEST")
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"] == {"enabled": True}
    assert "security_dynamodb-key" in table["server_side_encryption"]["kms_key_arn"]
    assert "stream_enabled" not in table
    indexes = {i["name"]: (i["hash_key"], i["range_key"], i["projection_type"]) for i in table["global_secondary_index"]}
    assert indexes == {"by-endpoint": ("endpoint_key", "sort_key", "KEYS_ONLY"),
                       "by-transaction": ("txn_key", "sort_key", "KEYS_ONLY")}
    assert {a["name"] for a in table["attribute"]} == {"pk", "sk", "endpoint_key", "txn_key", "sort_key"}
    assert by(synth("prod"), "aws_dynamodb_table", name="deliveries-prod")["deletion_protection_enabled"] is True


def test_endpoint_parameter_holds_the_validated_configuration():
    settings = load_settings("prod", environ=NO_ENV)
    parameter = by(synth("prod"), "aws_ssm_parameter", name="/payments/prod/delivery-endpoints")
    assert parameter["type"] == "String" and parameter["tier"] == "Standard"
    assert json.loads(parameter["value"]) == settings.delivery.document()
    assert set(runtime.parse_endpoints(json.loads(parameter["value"]))) == {"ep-acme-sales", "ep-acme-risk",
                                                                            "ep-globex-main"}


def test_a_large_endpoint_configuration_uses_the_advanced_tier():
    endpoints = [{"id": f"ep-big-{i:03d}", "url": f"https://hooks{i}.vendor-big.example.com/payments/webhooks",
                  "event_types": list(runtime.EVENT_TYPES)} for i in range(25)]
    out = synth("dev", delivery={"vendors": {"vendor-big": {"endpoints": endpoints}}})
    parameter = by(out, "aws_ssm_parameter", name="/payments/dev/delivery-endpoints")
    assert len(parameter["value"]) > 4096 and parameter["tier"] == "Advanced"


def test_one_empty_signing_secret_per_endpoint():
    out = _stack("prod")
    secrets = {s["name"]: s for s in out["resource"]["aws_secretsmanager_secret"].values()
               if "/vendors/" in s["name"]}
    assert set(secrets) == {runtime.secret_name("payment-webhooks/prod/", e)
                            for e in ("ep-acme-sales", "ep-acme-risk", "ep-globex-main")}
    assert all("security_secrets-key" in s["kms_key_id"] and s["recovery_window_in_days"] == 30
               for s in secrets.values())
    assert "aws_secretsmanager_secret_version" not in out["resource"]  # values never pass through Terraform


# ----- functions, event sources, rules -----------------------------------------------------------------

def test_fanout_and_sender_functions_with_their_environment():
    out = _stack()
    fanout, sender = _function(out, "delivery-fanout-dev"), _function(out, "delivery-sender-dev")
    assert fanout["handler"] == "delivery_fanout_handler.handler" and sender["handler"] == "delivery_sender_handler.handler"
    assert (fanout["memory_size"], fanout["timeout"]) == (512, 30)
    assert (sender["memory_size"], sender["timeout"], sender["reserved_concurrent_executions"]) == (512, 180, 20)
    env = sender["environment"]["variables"]
    for key in ("DELIVERY_TABLE_NAME", "DELIVERY_QUEUE_URL", "DELIVERY_DLQ_URL", "EVENT_BUS_NAME",
                "DELIVERY_ENDPOINTS_PARAMETER"):
        assert env[key].startswith("${"), key
    assert env["SECRET_PREFIX"] == "payment-webhooks/dev/"
    assert env["DELIVERY_RETRY_SCHEDULE"] == "0,5,300,1800,7200,18000,36000,36000"
    assert env["DELIVERY_TIMEOUT_SECONDS"] == "15" and "DELIVERY_ALLOW_LOOPBACK_HTTP" not in env
    assert set(fanout["environment"]["variables"]) >= {"DELIVERY_QUEUE_URL", "DELIVERY_ENDPOINTS_PARAMETER"}
    # what the runtime parses is what the stack sets; the sender knows when the queue drops a message
    assert runtime.Settings.from_env(env).schedule == runtime.DEFAULT_SCHEDULE
    fifo = by(synth("dev"), "aws_sqs_queue", name="deliveries-dev.fifo")
    assert env["DELIVERY_QUEUE_RETENTION_SECONDS"] == str(fifo["message_retention_seconds"]) == "1209600"
    assert runtime.Settings.from_env(env).park_after_seconds == 1_209_600 - 86_400


def test_local_functions_may_target_loopback_on_a_short_schedule():
    env = _function(_stack("local"), "delivery-sender-local")["environment"]["variables"]
    assert env["DELIVERY_ALLOW_LOOPBACK_HTTP"] == "true" and env["DELIVERY_RETRY_SCHEDULE"] == "0,1,1,2,2,3,3,3"
    settings = runtime.Settings.from_env(env)
    assert settings.allow_loopback_http and sum(settings.schedule) == 15


def test_sender_runs_in_the_private_subnets_behind_its_own_https_egress_group():
    out = _stack()
    sender = _function(out, "delivery-sender-dev")
    group_ref = _ref(out, "aws_security_group", name="delivery-sender-dev-egress")
    assert sender["vpc_config"]["security_group_ids"] == [f"${{{group_ref}.id}}"]
    assert len(sender["vpc_config"]["subnet_ids"]) == 3 and all("private" in s for s in sender["vpc_config"]["subnet_ids"])
    group = by(synth("dev"), "aws_security_group", name="delivery-sender-dev-egress")
    assert "ingress" not in group or not group["ingress"]
    egress = {(r["protocol"], r["from_port"], r["to_port"], tuple(r["cidr_blocks"])) for r in group["egress"]}
    assert egress == {("tcp", 443, 443, ("0.0.0.0/0",)), ("tcp", 443, 443, ("10.40.0.0/16",))}
    fanout = _function(out, "delivery-fanout-dev")
    assert fanout["vpc_config"]["security_group_ids"] != sender["vpc_config"]["security_group_ids"]


def test_event_sources_batch_10_with_partial_failures_and_a_capped_sender():
    out = _stack("prod")
    mappings = {m["event_source_arn"]: m for m in out["resource"]["aws_lambda_event_source_mapping"].values()}
    fanout = mappings[f"${{{_ref(out, 'aws_sqs_queue', name='delivery-events-prod')}.arn}}"]
    sender = mappings[f"${{{_ref(out, 'aws_sqs_queue', name='deliveries-prod.fifo')}.arn}}"]
    for mapping in (fanout, sender):
        assert mapping["batch_size"] == 10 and mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert mapping["enabled"] is True
    assert sender["scaling_config"] == {"maximum_concurrency": 50} and "scaling_config" not in fanout
    assert "delivery-sender" in sender["function_name"] and "delivery-fanout" in fanout["function_name"]


def test_rules_route_status_changes_to_the_fanout_and_delivery_events_to_the_alerts():
    out = _stack()
    rules = {r["name"]: r for r in out["resource"]["aws_cloudwatch_event_rule"].values()}
    assert json.loads(rules["vendor-delivery-dev"]["event_pattern"]) == runtime.DELIVERY_RULE_PATTERN
    assert json.loads(rules["delivery-alerts-dev"]["event_pattern"]) == {"source": [runtime.EVENT_SOURCE]}
    targets = {t["target_id"]: t for t in out["resource"]["aws_cloudwatch_event_target"].values()}
    assert targets["delivery-events"]["arn"] == f"${{{_ref(out, 'aws_sqs_queue', name='delivery-events-dev')}.arn}}"
    def senders(queue: str) -> list[str]:
        """The rules the queue's policy lets EventBridge send from."""
        [policy] = [p for p in out["resource"]["aws_sqs_queue_policy"].values() if p["queue_url"] == f"${{{queue}.url}}"]
        statements = out["data"]["aws_iam_policy_document"][policy["policy"].split(".")[2]]["statement"]
        [allow] = [s for s in statements if s.get("effect", "Allow") == "Allow"]
        assert allow["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
        return [v.rsplit("/", 1)[1] for v in allow["condition"][0]["values"]]

    # undeliverable domain events land in the fan-out's DLQ (alarmed, redriven by `ops redrive`)
    dlq = _ref(out, "aws_sqs_queue", name="delivery-events-dlq-dev")
    assert targets["delivery-events"]["dead_letter_config"] == {"arn": f"${{{dlq}.arn}}"}
    assert targets["delivery-events"]["retry_policy"]["maximum_event_age_in_seconds"] == 86_400
    assert senders(dlq) == ["vendor-delivery-dev"]
    assert targets["alerts"]["arn"].endswith(":payment-alerts-dev")
    # an alert the topic refuses (its key, its policy) waits in a DLQ of its own (alarmed), not
    # dropped after a day, and not among the domain events a redrive gives the fan-out
    alerts_dlq = _ref(out, "aws_sqs_queue", name="delivery-alerts-dlq-dev")
    assert targets["alerts"]["dead_letter_config"] == {"arn": f"${{{alerts_dlq}.arn}}"}
    assert targets["alerts"]["retry_policy"] == targets["delivery-events"]["retry_policy"]
    assert senders(alerts_dlq) == ["delivery-alerts-dev"]
    queue = out["resource"]["aws_sqs_queue"][alerts_dlq.split(".")[1]]
    assert queue["kms_master_key_id"] == out["resource"]["aws_sqs_queue"][dlq.split(".")[1]]["kms_master_key_id"]
    assert queue["message_retention_seconds"] == 14 * 86_400
    policy = by(synth("dev"), "aws_sns_topic_policy")
    document = out["data"]["aws_iam_policy_document"][policy["policy"].split(".")[2]]
    statements = {s["sid"]: s for s in document["statement"]}
    assert statements["RulesPublish"]["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert statements["RulesPublish"]["condition"][0]["values"] == [
        f"${{{_ref(out, 'aws_cloudwatch_event_rule', name='delivery-alerts-dev')}.arn}}"]
    assert statements["AlarmsPublish"]["principals"][0]["identifiers"] == ["cloudwatch.amazonaws.com"]


# ----- IAM: resources exact, as the contract says -----------------------------------------------------

def test_fanout_policy_names_exactly_its_queues_parameter_and_key():
    out = _stack()
    s = _statements(out, "delivery-fanout-dev-role", "delivery-fanout")
    events, fifo = (_ref(out, "aws_sqs_queue", name=n) for n in ("delivery-events-dev", "deliveries-dev.fifo"))
    parameter = _ref(out, "aws_ssm_parameter", name="/payments/dev/delivery-endpoints")
    assert s["ConsumeDeliveryEvents"]["resources"] == [f"${{{events}.arn}}"]
    assert sorted(s["ConsumeDeliveryEvents"]["actions"]) == ["sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                                             "sqs:ReceiveMessage"]
    assert s["EnqueueDeliveries"]["resources"] == [f"${{{fifo}.arn}}"]
    assert s["ReadEndpoints"]["resources"] == [f"${{{parameter}.arn}}"]
    assert len(s["QueueKey"]["resources"]) == 1 and "security_sqs-key" in s["QueueKey"]["resources"][0]


def test_sender_policy_names_exactly_its_queues_table_bus_secrets_and_keys():
    out = _stack()
    s = _statements(out, "delivery-sender-dev-role", "delivery-sender")
    fifo, dlq = (_ref(out, "aws_sqs_queue", name=n) for n in ("deliveries-dev.fifo", "deliveries-dlq-dev.fifo"))
    assert s["ConsumeDeliveries"]["resources"] == [f"${{{fifo}.arn}}"]
    assert "sqs:ChangeMessageVisibility" in s["ConsumeDeliveries"]["actions"]
    assert s["DeadLetterExhausted"]["resources"] == [f"${{{dlq}.arn}}"]
    assert s["RequeueBehindParked"] == {**s["RequeueBehindParked"], "actions": ["sqs:SendMessage"],
                                        "resources": [f"${{{fifo}.arn}}"]}
    table = f"${{{_ref(out, 'aws_dynamodb_table', name='deliveries-dev')}.arn}}"
    assert s["DeliveryLog"]["resources"] == [table]
    assert "dynamodb:Query" not in s["DeliveryLog"]["actions"] and "dynamodb:DeleteItem" not in s["DeliveryLog"]["actions"]
    # deleting is for parked items only (partition keys PARK#...), when one is un-parked
    assert (s["UnparkMessages"]["actions"], s["UnparkMessages"]["resources"]) == (["dynamodb:DeleteItem"], [table])
    assert [(c["test"], c["variable"], c["values"]) for c in s["UnparkMessages"]["condition"]] == [
        ("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["PARK#*"])]
    assert s["DeliveryEvents"]["resources"] == [f"${{{_ref(out, 'aws_cloudwatch_event_bus', name='payments-dev')}.arn}}"]
    [secrets] = s["SigningSecrets"]["resources"]
    assert secrets.endswith(":secret:payment-webhooks/dev/vendors/*") and s["SigningSecrets"]["actions"] == [
        "secretsmanager:GetSecretValue"]
    keys = " ".join(s["DataKeys"]["resources"])
    assert "security_sqs-key" in keys and "security_dynamodb-key" in keys and len(s["DataKeys"]["resources"]) == 2
    # the bus is encrypted with the events key: PutEvents needs a data key of it (not in the README's list)
    assert s["EventsKey"]["actions"] == ["kms:GenerateDataKey"] and "security_events-key" in s["EventsKey"]["resources"][0]
    assert s["SecretsKey"]["actions"] == ["kms:Decrypt"]
    assert s["SecretsKey"]["condition"][0]["variable"] == "kms:ViaService"


def test_ops_policy_lets_people_list_resend_recover_and_manage_secrets_only():
    out = _stack()
    policy = by(synth("dev"), "aws_iam_policy", name="delivery-ops-dev")
    document = out["data"]["aws_iam_policy_document"][policy["policy"].split(".")[2]]
    s = {x["sid"]: x for x in document["statement"]}
    table = _ref(out, "aws_dynamodb_table", name="deliveries-dev")
    assert s["DeliveryLog"]["resources"] == [f"${{{table}.arn}}", f"${{{table}.arn}}/index/by-endpoint",
                                             f"${{{table}.arn}}/index/by-transaction"]
    assert sorted(s["Resend"]["actions"]) == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    assert "secretsmanager:DeleteSecret" not in s["SigningSecrets"]["actions"]
    assert all(x["condition"][0]["variable"] == "kms:ViaService" for sid, x in s.items() if sid.endswith("Key"))
    assert not [r for r in out["resource"].get("aws_iam_policy_attachment", {}).values()]


# ----- observability and egress -------------------------------------------------------------------------

def test_delivery_alarms_of_the_contract():
    alarms = {a["alarm_name"]: a for a in _stack()["resource"]["aws_cloudwatch_metric_alarm"].values()}
    for key, metric in (("delivery-exhausted", "DeliveryExhausted"),
                        ("delivery-endpoint-disabled", "DeliveryEndpointDisabled"),
                        ("delivery-parked", "DeliveryParked"),
                        ("delivery-malformed-messages", "DeliveryMalformedMessages")):
        alarm = alarms[f"payments-dev-{key}"]
        assert (alarm["metric_name"], alarm["threshold"], alarm["period"]) == (metric, 1, 300)
        assert alarm["namespace"] == "PaymentWebhooks" and alarm["dimensions"] == {"service": "payment-webhooks"}
    in_flight = alarms["payments-dev-deliveries-in-flight"]
    assert (in_flight["metric_name"], in_flight["threshold"], in_flight["comparison_operator"]) == (
        "ApproximateNumberOfMessagesNotVisible", 100_000, "GreaterThanThreshold")
    assert in_flight["dimensions"] == {"QueueName": "deliveries-dev.fifo"} and in_flight["statistic"] == "Maximum"
    for name in ("delivery-sender-errors", "delivery-fanout-errors"):
        assert alarms[f"payments-dev-{name}"]["threshold"] == 1
    for name in ("delivery-events-dlq", "delivery-alerts-dlq"):
        dlq = _ref(_stack(), "aws_sqs_queue", name=f"{name}-dev")
        assert alarms[f"payments-dev-{name}-depth"]["dimensions"] == {"QueueName": f"${{{dlq}.name}}"}


def test_dashboard_shows_success_rate_attempts_latency_and_exhausted_per_vendor():
    body = json.loads(by(synth("prod"), "aws_cloudwatch_dashboard")["dashboard_body"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for vendor in ("vendor-acme", "vendor-globex"):
        [rate] = [w for w in body["widgets"] if w["properties"]["title"].startswith(f"Webhooks to {vendor}: success")]
        metrics = json.dumps(rate["properties"]["metrics"])
        assert "100 * successes / attempts" in metrics and "DeliveryExhausted" in metrics and vendor in metrics
        assert f"Webhooks to {vendor}: latency p50, p99 (ms)" in titles
    assert not [t for t in titles if "vendor-demo" in t]


def test_every_nat_instance_has_an_elastic_ip_and_the_stack_outputs_them():
    out = _stack("prod")
    eips = out["resource"]["aws_eip"]
    assert len(eips) == 3 and all(e["domain"] == "vpc" for e in eips.values())
    associations = {a["instance_id"] for a in out["resource"]["aws_eip_association"].values()}
    assert associations == {f"${{aws_instance.{k}.id}}" for k in out["resource"]["aws_instance"]}
    value = out["output"]["delivery_egress_ips"]["value"]
    assert all(f"aws_eip.{k}.public_ip" in value for k in eips)
    assert "delivery_egress_ips" not in _stack("dev", disabled_features={"nat_instances": "test"})["output"]


# ----- settings -------------------------------------------------------------------------------------------

def _fails(environment: str, delivery: dict, *fragments: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environment, {"delivery": delivery}, environ=NO_ENV)
    for fragment in fragments:
        assert fragment in str(error.value), f"{fragment!r} not in:\n{error.value}"


def _vendor(**endpoint) -> dict:
    base = {"id": "ep-x-main", "url": "https://hooks.x.example.com/p", "event_types": ["payment.succeeded"]}
    return {"vendors": {"vendor-x": {"endpoints": [{**base, **endpoint}]}}}


def test_fails_when_an_endpoint_is_not_https_on_a_public_host():
    _fails("dev", _vendor(url="http://hooks.x.example.com/p"), "dev: delivery.vendors.vendor-x.endpoints[0].url: ",
           "must use https://")
    _fails("dev", _vendor(url="https://10.0.0.7/p"), "is not public")
    _fails("prod", _vendor(url="http://127.0.0.1:8701/p"), "only in the local environment")


def test_local_is_the_only_environment_that_may_target_loopback():
    settings = load_settings("local", environ=NO_ENV)
    assert all(e.url.startswith("http://127.0.0.1:") for e in settings.delivery.endpoints(allow_loopback_http=True).values())
    _fails("dev", _vendor(url="http://127.0.0.1:8701/p"), "must use https://")


def test_fails_when_an_endpoint_has_a_bad_id_event_type_rate_or_paused_flag():
    _fails("dev", _vendor(id="X"), ".id: 'X' must match")
    _fails("dev", _vendor(event_types=["payment.done"]), "event_types: ['payment.done'] must be a non-empty list")
    _fails("dev", _vendor(rate_limit_per_second=5000), "rate_limit_per_second: 5000 must be a number in 0.001..1000")
    _fails("dev", _vendor(paused="yes"), "paused: 'yes' must be true or false")
    _fails("dev", _vendor(secret="whsec_x"), "unknown key(s) ['secret']")


def test_fails_when_an_endpoint_id_is_used_twice():
    twice = {"vendors": {
        "vendor-x": {"endpoints": [{"id": "ep-same", "url": "https://a.example.com/p", "event_types": ["payment.failed"]}]},
        "vendor-y": {"endpoints": [{"id": "ep-same", "url": "https://b.example.com/p", "event_types": ["payment.failed"]}]},
    }}
    _fails("dev", twice, "endpoint id 'ep-same' is used twice")


def test_fails_when_the_retry_schedule_or_timeouts_are_out_of_range():
    _fails("dev", {"retry_schedule_seconds": [0, 5, 86_400]},
           "dev: delivery.retry_schedule_seconds: must be a comma list of seconds, each 0..43200 (DELIVERY_RETRY_SCHEDULE), "
           "got [0, 5, 86400]")
    _fails("dev", {"retry_schedule_seconds": []}, "dev: delivery.retry_schedule_seconds: must have at least 1 item(s), got []")
    _fails("dev", {"timeout_seconds": 120},
           "dev: delivery.timeout_seconds: must be a number in 0.1..60 (DELIVERY_TIMEOUT_SECONDS), got 120")
    _fails("dev", {"log_ttl_days": 0}, "dev: delivery.log_ttl_days: must be a number in 1..365 (DELIVERY_LOG_TTL_DAYS)")
    _fails("dev", {"timeout_seconds": 30}, "dev: delivery.sender_timeout_seconds: must be >= 320 "
           "(paycore.delivery.sender_timeout_floor", "got 180")
    # the attempt deadline alone would fit (10 x 15 = 150 s); its AWS calls and the invocation do not
    _fails("dev", {"sender_timeout_seconds": 160}, "dev: delivery.sender_timeout_seconds: must be >= 170 ", "got 160")
    _fails("dev", {"sender_timeout_seconds": 901}, "dev: delivery.sender_timeout_seconds: must be 1..900, got 901")


def test_fails_when_sender_concurrency_is_out_of_range_or_above_its_reservation():
    _fails("dev", {"sender_max_concurrency": 1},
           "dev: delivery.sender_max_concurrency: must be 2..1000 (SQS event source limit), got 1")
    _fails("dev", {"sender_max_concurrency": 30, "sender_reserved_concurrency": 20},
           "dev: delivery.sender_max_concurrency: must be <= sender_reserved_concurrency (20)", "got 30")
    _fails("dev", {"fanout_reserved_concurrency": 0}, "dev: delivery.fanout_reserved_concurrency: must be >= 1, got 0")
    _fails("dev", {"memory_mb": 256}, "dev: delivery.memory_mb: must be 512..10240, got 256")
    _fails("dev", {"events_max_receive_count": 0},
           "dev: delivery.events_max_receive_count: must be 1..1000 (SQS maxReceiveCount), got 0")


def test_fails_when_a_delivery_setting_is_unknown_or_mistyped():
    _fails("dev", {"retries": 3}, "dev: delivery.retries: unknown setting")
    _fails("dev", {"retry_schedule": [0]}, "dev: delivery.retry_schedule: unknown setting; did you mean retry_schedule_seconds?")
    _fails("dev", {"timeout_seconds": "15"}, "dev: delivery.timeout_seconds: must be a number, got '15'")


def test_names_come_from_one_place():
    names = load_settings("prod", environ=NO_ENV).names
    assert (names.deliveries_queue, names.deliveries_dead_letter_queue, names.delivery_events_queue,
            names.delivery_events_dead_letter_queue) == (
        "deliveries-prod.fifo", "deliveries-dlq-prod.fifo", "delivery-events-prod", "delivery-events-dlq-prod")
    assert (names.deliveries_table, names.delivery_endpoints_parameter, names.secret_prefix) == (
        "deliveries-prod", "/payments/prod/delivery-endpoints", "payment-webhooks/prod/")
    out = synth("prod")
    for name in (names.delivery_fanout_function, names.delivery_sender_function):
        assert Testing.to_have_resource_with_properties(out, "aws_lambda_function", {"function_name": name})
    for name in (names.delivery_rule, names.delivery_alerts_rule):
        assert Testing.to_have_resource_with_properties(out, "aws_cloudwatch_event_rule", {"name": name})


# ----- the construct on its own ------------------------------------------------------------------------

KEY = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"


@pytest.fixture
def code_zip(tmp_path) -> str:
    path = tmp_path / "hooks.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for module in ("fanout", "sender"):
            archive.writestr(f"{module}.py", "def handler(event, context):\n    return {}\n")
    return str(path)


def build_shop_stack(scope, zip_path: str, **overrides) -> TerraformStack:
    """A foreign stack: its own names, no VPC, no settings, nothing of the platform's stack.
    `overrides`: option group -> fields to replace in it (e.g. sender={"maximum_concurrency": 1})."""
    stack = TerraformStack(scope, "shop")
    AwsProvider(stack, "aws", region="eu-west-1")
    group = FunctionGroup(
        stack, "workers", lambda_kms_key_arn=KEY, logs_kms_key_arn=KEY, account_id="123456789012", partition="aws",
        region="eu-west-1",
        functions={"noop": FunctionSpec(function_name="shop-noop", handler="fanout.handler", code_path=zip_path,
                                        source_code_hash="placeholder=")})
    spec = dict(code_path=zip_path, source_code_hash="placeholder=")
    options = dict(
        queues=DeliveryQueueOptions(events_queue_name="shop-order-events", events_max_receive_count=5,
                                    queue_name="shop-hooks.fifo", dead_letter_queue_name="shop-hooks-dlq.fifo"),
        table=DeliveryTableOptions(name="shop-hooks"),
        endpoints=EndpointOptions(parameter_name="/shop/hooks", document='{"vendors": {}}',
                                  signing_secret_names={"ep-partner": "shop/hooks/ep-partner"},
                                  signing_secret_prefix="shop/hooks/"),
        rules=DeliveryRuleOptions(
            event_bus_name="default", event_bus_arn="arn:aws:events:eu-west-1:123456789012:event-bus/default",
            rule_name="shop-orders-to-hooks", rule_pattern={"source": ["shop.orders"]},
            alerts_rule_name="shop-hook-alerts", alerts_rule_pattern={"source": ["shop.hooks"]},
            alert_topic_arn="arn:aws:sns:eu-west-1:123456789012:shop-alerts"),
        keys=DeliveryKeys(sqs=KEY, dynamodb=KEY, secrets=KEY, events=KEY),
        fanout=FunctionSpec(function_name="shop-hooks-fanout", handler="fanout.handler", **spec),
        sender=SenderOptions(function=FunctionSpec(function_name="shop-hooks-sender", handler="sender.handler",
                                                   timeout_seconds=60, **spec)),
        function_builder=lambda id_, fn, groups: group.add_function(id_, fn, security_group_ids=groups),
        account_id="123456789012", partition="aws", region="eu-west-1",
    )
    for key, fields in overrides.items():
        options[key] = replace(options[key], **fields)
    VendorDelivery(stack, "hooks", **options)
    return stack


def test_the_construct_works_in_a_foreign_stack_without_settings_or_a_vpc(code_zip):
    out = json.loads(Testing.synth(build_shop_stack(Testing.app(), code_zip)))
    res = out["resource"]
    assert {q["name"] for q in res["aws_sqs_queue"].values()} == {
        "shop-order-events", "shop-order-events-dlq", "shop-order-events-alerts-dlq", "shop-hooks.fifo",
        "shop-hooks-dlq.fifo"}
    assert {f["function_name"] for f in res["aws_lambda_function"].values()} == {
        "shop-noop", "shop-hooks-fanout", "shop-hooks-sender"}
    assert "aws_security_group" not in res
    assert [q for q in res["aws_sqs_queue"].values() if q["name"] == "shop-hooks.fifo"][0]["visibility_timeout_seconds"] == 360
    assert {r["name"] for r in res["aws_cloudwatch_event_rule"].values()} == {"shop-orders-to-hooks", "shop-hook-alerts"}
    assert "aws_iam_policy" not in res  # no ops policy asked for


@pytest.mark.slow
def test_the_foreign_stack_passes_terraform_validate(code_zip, tmp_path):
    stack = build_shop_stack(Testing.app(), code_zip)
    outdir = Path(Testing.full_synth(stack))
    work = tmp_path / "shop"
    shutil.copytree(next(outdir.glob("**/stacks/shop")), work)
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = json.loads(run_terraform(["validate", "-json", "-no-color"], work).stdout)
    assert validate["valid"] is True, json.dumps(validate["diagnostics"], indent=2)


def test_fails_when_the_construct_gets_wrong_names_or_a_mismatched_secret_prefix(code_zip):
    with pytest.raises(ValueError) as error:
        build_shop_stack(Testing.app(), code_zip, queues={"queue_name": "shop-hooks"},
                         endpoints={"parameter_name": "shop/hooks",
                                    "signing_secret_names": {"ep-partner": "elsewhere/ep-partner"},
                                    "secret_recovery_window_in_days": 3},
                         sender={"maximum_concurrency": 1, "vpc_id": "vpc-123"})
    message = str(error.value)
    for fragment in ("queues.queue_name must be a FIFO queue name ending in .fifo, got 'shop-hooks'",
                     "endpoints.parameter_name must be an SSM path",
                     "must start with signing_secret_prefix 'shop/hooks/'",
                     "endpoints.secret_recovery_window_in_days must be 0 or 7..30, got 3",
                     "sender.maximum_concurrency must be 2..1000", "sender.vpc_id and sender.vpc_cidr go together"):
        assert fragment in message, message


def test_fails_when_the_endpoint_document_does_not_fit_a_parameter(code_zip):
    with pytest.raises(ValueError, match="endpoints.document must fit an SSM parameter"):
        build_shop_stack(Testing.app(), code_zip, endpoints={"document": json.dumps({"vendors": {"x": "y" * 9000}})})
