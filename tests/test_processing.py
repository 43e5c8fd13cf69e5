"""Processing: the layer, the eight functions (runtime, arm64, tracing, encryption, log group
first, sizing, VPC), one least-privilege role each, async failure handling, the SQS event sources,
and the processor's alias with provisioned concurrency and autoscaling (the add-on)."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.appautoscaling_policy import AppautoscalingPolicy
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_alias import LambdaAlias
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import LambdaFunctionEventInvokeConfig
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from cdktf_cdktf_provider_aws.lambda_provisioned_concurrency_config import LambdaProvisionedConcurrencyConfig

from constructs.processing import (
    AsyncInvokeOptions,
    FunctionGroup,
    FunctionSpec,
    ProvisionedConcurrencyAutoscaling,
    ServerlessFunction,
    VpcPlacement,
)
from constructs.app.functions import DELIVERY_FUNCTIONS, code_folder
from constructs.app.settings import FUNCTION_NAMES
from infra_synth import by, data_sources, named, resources, small_stack, stack, synth

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def test_eight_functions_python311_arm64_traced_and_encrypted():
    out = synth("dev")
    layer, _ = named(out, LambdaLayerVersion.TF_RESOURCE_TYPE, layer_name="payment-shared-dev")
    for name in FUNCTION_NAMES:
        assert Testing.to_have_resource_with_properties(out, LambdaFunction.TF_RESOURCE_TYPE, {
            "function_name": f"payment-{name}-dev", "handler": f"{code_folder(name)}_handler.handler", "runtime": "python3.11",
            "architectures": ["arm64"], "tracing_config": {"mode": "Active"},
        })
        function = by(out, LambdaFunction.TF_RESOURCE_TYPE, function_name=f"payment-{name}-dev")
        assert "security_lambda-key" in function["kms_key_arn"]
        assert function["layers"] == [f"${{aws_lambda_layer_version.{layer}.arn}}"]
    # plus the two vendor delivery functions (tests/test_delivery.py)
    assert len(resources(out, LambdaFunction.TF_RESOURCE_TYPE)) == len(FUNCTION_NAMES) + len(DELIVERY_FUNCTIONS)
    assert not Testing.to_have_resource_with_properties(out, LambdaFunction.TF_RESOURCE_TYPE, {"architectures": ["x86_64"]})


def test_sizing_comes_from_the_settings():
    assert Testing.to_have_resource_with_properties(synth("prod"), LambdaFunction.TF_RESOURCE_TYPE, {
        "function_name": "payment-processor-prod", "memory_size": 3008, "timeout": 30,
        "reserved_concurrent_executions": 300})
    assert Testing.to_have_resource_with_properties(synth("dev"), LambdaFunction.TF_RESOURCE_TYPE, {
        "function_name": "payment-reader-dev", "timeout": 10, "reserved_concurrent_executions": 5})
    assert Testing.to_have_resource_with_properties(synth("local"), LambdaFunction.TF_RESOURCE_TYPE, {
        "function_name": "payment-reader-local", "reserved_concurrent_executions": -1})  # unreserved


def test_every_function_logs_json_with_platform_lines_at_warn():
    for environment in ("dev", "prod"):
        out = synth(environment)
        for name in FUNCTION_NAMES:
            function = by(out, LambdaFunction.TF_RESOURCE_TYPE, function_name=f"payment-{name}-{environment}")
            config = function["logging_config"]
            assert (config["log_format"], config["system_log_level"]) == ("JSON", "WARN"), name
            assert config["log_group"].startswith("${aws_cloudwatch_log_group.") and name in config["log_group"]
    # local: moto does not round-trip LoggingConfig (cdktf.json disabled_features gives the reason)
    local = resources(synth("local"), LambdaFunction.TF_RESOURCE_TYPE).values()
    assert local and all("logging_config" not in function for function in local)
    info = by(synth("dev", lambda_system_log_level="INFO"), LambdaFunction.TF_RESOURCE_TYPE,
              function_name="payment-processor-dev")
    assert info["logging_config"]["system_log_level"] == "INFO"


def test_fails_when_the_system_log_level_is_unknown():
    with pytest.raises(ValueError, match="system_log_level must be one of DEBUG, INFO, WARN or None, got 'ERROR'"):
        make_function(system_log_level="ERROR")


def test_layer_is_versioned_for_python311_arm64_from_a_relative_asset():
    out = synth("dev")
    assert Testing.to_have_resource_with_properties(out, LambdaLayerVersion.TF_RESOURCE_TYPE, {
        "layer_name": "payment-shared-dev", "compatible_runtimes": ["python3.11"],
        "compatible_architectures": ["arm64"]})
    zips = [r["filename"] for t in (LambdaLayerVersion, LambdaFunction)
            for r in resources(out, t.TF_RESOURCE_TYPE).values()]
    assert all(z.startswith("assets/") and z.endswith(".zip") for z in zips), zips
    assert "/work/" not in out and "/tmp/" not in out  # no absolute path in the plan


def test_each_function_logs_to_its_own_encrypted_group_created_first():
    out = synth("dev")
    for name in FUNCTION_NAMES:
        key, group = named(out, CloudwatchLogGroup.TF_RESOURCE_TYPE, name=f"/aws/lambda/payment-{name}-dev")
        assert group["retention_in_days"] == 30 and "security_logs-key" in group["kms_key_id"]
        function = by(out, LambdaFunction.TF_RESOURCE_TYPE, function_name=f"payment-{name}-dev")
        assert f"aws_cloudwatch_log_group.{key}" in function["depends_on"]
    assert Testing.to_have_resource_with_properties(synth("prod"), CloudwatchLogGroup.TF_RESOURCE_TYPE, {
        "name": "/aws/lambda/payment-processor-prod", "retention_in_days": 365})


def test_functions_run_in_the_private_subnets_when_the_network_exists():
    dev = by(synth("dev"), LambdaFunction.TF_RESOURCE_TYPE, function_name="payment-processor-dev")
    assert len(dev["vpc_config"]["subnet_ids"]) == 3 and len(dev["vpc_config"]["security_group_ids"]) == 1
    no_vpc = synth("dev", disabled_features={"vpc": "test"})
    assert "vpc_config" not in by(no_vpc, LambdaFunction.TF_RESOURCE_TYPE, function_name="payment-processor-dev")


def test_async_failures_go_to_the_failure_queue_after_at_most_2_retries():
    out = synth("dev")
    configs = resources(out, LambdaFunctionEventInvokeConfig.TF_RESOURCE_TYPE)
    assert len(configs) == len(FUNCTION_NAMES) + len(DELIVERY_FUNCTIONS)
    failures, _ = named(out, "aws_sqs_queue", name="payment-lambda-failures-dev")
    for config in configs.values():
        assert config["maximum_retry_attempts"] == 2
        assert config["destination_config"]["on_failure"]["destination"] == f"${{aws_sqs_queue.{failures}.arn}}"
    zero = synth("dev", lambda_async_max_retry_attempts=0)
    assert not Testing.to_have_resource_with_properties(zero, LambdaFunctionEventInvokeConfig.TF_RESOURCE_TYPE,
                                                        {"maximum_retry_attempts": 2})


def test_no_function_waits_for_the_failure_queue_its_role_names_the_queue_by_its_name():
    """Each role may send to the failure queue by the ARN its name fixes, so no function (which
    depends on its base policy) waits ~25 s for the queue's creation; the invoke configs above
    keep the queue's own ARN, and with it the order."""
    out = synth("dev")
    by_name = ("arn:${data.aws_partition.partition.partition}:sqs:${data.aws_region.region.name}:"
               "${data.aws_caller_identity.caller.account_id}:payment-lambda-failures-dev")
    failures, _ = named(out, "aws_sqs_queue", name="payment-lambda-failures-dev")
    bases = {k: d for k, d in data_sources(out, "aws_iam_policy_document").items() if "_base-document" in k}
    assert len(bases) == len(FUNCTION_NAMES) + len(DELIVERY_FUNCTIONS)
    for key, document in bases.items():
        [send] = [s for s in document["statement"] if s["sid"] == "SendAsyncFailures"]
        assert send["resources"] == [by_name], key
        assert failures not in json.dumps(document), key


def test_processor_and_notifier_consume_their_queues_in_batches_of_10_with_partial_failures():
    out = synth("dev")
    ingest, _ = named(out, "aws_sqs_queue", name="webhooks-dev.fifo")
    notifications, _ = named(out, "aws_sqs_queue", name="payment-notifications-dev")
    alias, _ = named(out, LambdaAlias.TF_RESOURCE_TYPE, name="live")
    processor = by(out, LambdaEventSourceMapping.TF_RESOURCE_TYPE, event_source_arn=f"${{aws_sqs_queue.{ingest}.arn}}")
    assert processor["function_name"] == f"${{aws_lambda_alias.{alias}.arn}}"
    assert processor["batch_size"] == 10 and processor["function_response_types"] == ["ReportBatchItemFailures"]
    assert processor["scaling_config"] == {"maximum_concurrency": 10}
    notifier = by(out, LambdaEventSourceMapping.TF_RESOURCE_TYPE,
                  event_source_arn=f"${{aws_sqs_queue.{notifications}.arn}}")
    assert notifier["batch_size"] == 10 and notifier["function_response_types"] == ["ReportBatchItemFailures"]
    assert any(d.startswith("aws_iam_role_policy.compute_notifier_consume-queue") for d in notifier["depends_on"])
    assert processor["enabled"] is True and notifier["enabled"] is True
    # local: deployed disabled (moto would invoke the function on SendMessage, which needs Docker);
    # the local runner polls the queues as these mappings say
    local = resources(synth("local"), LambdaEventSourceMapping.TF_RESOURCE_TYPE)
    assert len(local) == 4 and all(mapping["enabled"] is False for mapping in local.values())  # + delivery


def test_processor_alias_has_provisioned_concurrency_scaled_on_utilization_and_backlog():
    out = synth("prod")
    assert Testing.to_have_resource_with_properties(out, LambdaAlias.TF_RESOURCE_TYPE, {"name": "live"})
    alias, _ = named(out, LambdaAlias.TF_RESOURCE_TYPE, name="live")
    assert Testing.to_have_resource_with_properties(out, LambdaFunction.TF_RESOURCE_TYPE, {
        "function_name": "payment-processor-prod", "publish": True})
    assert Testing.to_have_resource_with_properties(out, LambdaProvisionedConcurrencyConfig.TF_RESOURCE_TYPE, {
        "provisioned_concurrent_executions": 2, "qualifier": f"${{aws_lambda_alias.{alias}.name}}"})
    assert Testing.to_have_resource_with_properties(out, AppautoscalingTarget.TF_RESOURCE_TYPE, {
        "service_namespace": "lambda", "scalable_dimension": "lambda:function:ProvisionedConcurrency",
        "min_capacity": 2, "max_capacity": 300})
    policies = {p["name"]: p for p in resources(out, AppautoscalingPolicy.TF_RESOURCE_TYPE).values()}
    utilization = policies["payment-processor-prod-utilization"]["target_tracking_scaling_policy_configuration"]
    assert utilization["target_value"] == 0.7
    assert utilization["predefined_metric_specification"]["predefined_metric_type"] == \
        "LambdaProvisionedConcurrencyUtilization"
    backlog = policies["payment-processor-prod-queue-backlog"]["target_tracking_scaling_policy_configuration"]
    assert backlog["target_value"] == 100
    metrics = backlog["customized_metric_specification"]["metrics"]
    assert [m["id"] for m in metrics] == ["visible", "running", "backlog_per_instance"]
    assert metrics[0]["metric_stat"]["metric"]["metric_name"] == "ApproximateNumberOfMessagesVisible"


def test_local_has_no_provisioned_concurrency_or_autoscaling():
    out = synth("local")
    assert Testing.to_have_resource_with_properties(out, LambdaAlias.TF_RESOURCE_TYPE, {"name": "live"})
    assert not resources(out, LambdaProvisionedConcurrencyConfig.TF_RESOURCE_TYPE)
    assert not resources(out, AppautoscalingTarget.TF_RESOURCE_TYPE)


def _role_statements(out: str, function: str) -> list[dict]:
    return [s for key, d in data_sources(out, "aws_iam_policy_document").items()
            if key.startswith(f"compute_{function}_") and "trust" not in key for s in d["statement"]]


def test_every_role_is_trusted_by_lambda_only_and_has_no_wildcard_action():
    out = synth("prod")
    for name in FUNCTION_NAMES:
        trust = next(d for key, d in data_sources(out, "aws_iam_policy_document").items()
                     if key.startswith(f"compute_{name}_trust-document"))
        assert trust["statement"][0]["principals"] == [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]
        for statement in _role_statements(out, name):
            assert all(a != "*" and not a.endswith(":*") for a in statement["actions"]), statement
            if statement["resources"] == ["*"]:
                assert all(a.startswith(("xray:", "ec2:Describe")) for a in statement["actions"]), statement


@pytest.mark.parametrize("function, sid, actions, resource_fragment", [
    ("processor", "LedgerWrites", {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"},
     "aws_dynamodb_table.ledger_table"),
    ("processor", "Quarantine", {"s3:PutObject"}, "/quarantine/*"),
    ("processor", "SigningSecrets", {"secretsmanager:GetSecretValue"},
     "secret-stripe-signing"),
    ("validator", "SendToIngest", {"sqs:SendMessage"}, "aws_sqs_queue.ingest_queue"),
    ("authorizer", "GateKeySecrets", {"secretsmanager:GetSecretValue"},
     "secret-paypal-gate-key"),
    ("archiver", "WriteRaw", {"s3:PutObject"}, "/raw/*"),
    ("notifier", "PublishToVendors", {"sns:Publish"}, ":payment-vendor-notifications-dev"),
    ("reader", "QueryLedger", {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}, "/index/*"),
    ("status", "QueryLedger", {"dynamodb:GetItem"}, "aws_dynamodb_table.ledger_table"),
    ("notifier", "NotificationMarkers", {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
                                         "dynamodb:DeleteItem"}, "aws_dynamodb_table.notification-markers_table"),
    ("reader", "CursorKeySecret", {"secretsmanager:GetSecretValue"}, "secret-query-cursor-key"),
    ("notify", "SendToNotifications", {"sqs:SendMessage"}, "aws_sqs_queue.notifications_queue"),
])
def test_grants_are_exact_actions_on_exact_arns(function, sid, actions, resource_fragment):
    statements = {s["sid"]: s for s in _role_statements(synth("dev"), function)}
    assert set(statements[sid]["actions"]) == actions
    assert any(resource_fragment in r for r in statements[sid]["resources"]), statements[sid]["resources"]


def test_authorizer_cannot_read_signing_secrets_and_reader_cannot_write():
    out = synth("dev")
    authorizer = json.dumps(_role_statements(out, "authorizer"))
    assert "gate-key" in authorizer and "signing" not in authorizer
    reader = {a for s in _role_statements(out, "reader") for a in s["actions"]}
    assert not reader & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def make_function(spec: dict | None = None, **overrides) -> ServerlessFunction:
    code = dict(function_name="payment-test-dev", handler="test_handler.handler", code_path="assets/x.zip",
                source_code_hash="abc=")
    args = dict(spec=FunctionSpec(**{**code, **(spec or {})}), kms_key_arn=KEY, log_kms_key_arn=KEY,
                account_id="123456789012", partition="aws", region="us-east-1")
    args.update(overrides)
    return ServerlessFunction(small_stack(), "function", **args)


def test_fails_when_async_retries_exceed_2_or_the_event_age_is_out_of_range():
    with pytest.raises(ValueError) as error:
        make_function(async_invoke=AsyncInvokeOptions(max_retry_attempts=3, max_event_age_seconds=30))
    message = str(error.value)
    assert "async_invoke.max_retry_attempts must be 0..2 (Lambda limit" in message and "got 3" in message
    assert "async_invoke.max_event_age_seconds must be 60..21600, got 30" in message


def test_fails_when_sizing_and_retention_are_invalid_and_reports_all():
    with pytest.raises(ValueError) as error:
        make_function(dict(memory_size_mb=64, timeout_seconds=901, reserved_concurrent_executions=-1),
                      log_retention_in_days=31, layer_arns=["arn:aws:lambda:us-east-1:1:layer:x:1"] * 6)
    message = str(error.value)
    for fragment in ("spec.memory_size_mb must be 128..10240, got 64", "spec.timeout_seconds must be 1..900, got 901",
                     "spec.reserved_concurrent_executions must be >= 0 or None (unreserved), got -1",
                     "log_retention_in_days must be a CloudWatch Logs retention, got 31",
                     "layer_arns: a function takes at most 5 layers, got 6"):
        assert fragment in message


def test_fails_when_function_name_or_handler_is_malformed():
    with pytest.raises(ValueError, match=r"spec.function_name must be 1\.\.64 .*'payment processor'.*spec.handler must be"):
        make_function(dict(function_name="payment processor", handler="handler"))


def test_a_function_in_a_vpc_may_manage_only_its_own_enis():
    function = make_function(vpc=VpcPlacement(subnet_ids=["subnet-1"], security_group_ids=["sg-1"]))
    out = json.loads(Testing.synth(function.node.scope))
    [lambda_function] = out["resource"][LambdaFunction.TF_RESOURCE_TYPE].values()
    assert lambda_function["vpc_config"] == {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]}
    enis = [s for d in out["data"]["aws_iam_policy_document"].values() for s in d["statement"]
            if s.get("sid") == "ManageOwnEnis"]
    assert enis and all(r.startswith("arn:aws:ec2:us-east-1:123456789012:") for r in enis[0]["resources"])


def test_fails_when_a_grant_uses_a_wildcard_action_or_resource():
    function = make_function()
    with pytest.raises(ValueError, match=r"action 'dynamodb:\*' is a wildcard"):
        function.grant("too-broad", [{"actions": ["dynamodb:*"], "resources": ["arn:aws:dynamodb:::table/t"]}])
    with pytest.raises(ValueError, match=r"resource '\*' for \['s3:PutObject'\]; scope it to ARNs"):
        function.grant("unscoped", [{"actions": ["s3:PutObject"], "resources": ["*"]}])


def test_fails_when_the_package_manifest_lacks_a_zip():
    from constructs.app.functions import code_folder, function_specs
    from constructs.app.environments import load_settings

    s = load_settings("dev", environ={})
    with pytest.raises(ValueError, match=r"artifacts has no zip for \['layer', 'reader'\]: run python -m scripts.packaging"):
        function_specs(s, {code_folder(n): {"path": "x.zip", "source_code_hash": "h"} for n in FUNCTION_NAMES if n != "reader"},
                       {})


def _group(tmp_path, **overrides) -> FunctionGroup:
    (tmp_path / "worker.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip, for the asset
    args = dict(functions={"worker": FunctionSpec(function_name="worker-dev", handler="worker.handler",
                                                  code_path=str(tmp_path / "worker.zip"), source_code_hash="h=",
                                                  publish=True)},
                lambda_kms_key_arn=KEY, logs_kms_key_arn=KEY, account_id="123456789012", partition="aws",
                region="us-east-1")
    args.update(overrides)
    return FunctionGroup(small_stack(), "group", **args)


def test_fails_when_a_function_group_is_empty(tmp_path):
    with pytest.raises(ValueError, match="functions must name at least one function"):
        _group(tmp_path, functions={})


def test_fails_when_a_group_function_asks_for_security_groups_without_a_vpc(tmp_path):
    group = _group(tmp_path)
    spec = FunctionSpec(function_name="extra-dev", handler="worker.handler", code_path=str(tmp_path / "worker.zip"),
                        source_code_hash="h=")
    with pytest.raises(ValueError, match="security_group_ids needs the group's VPC placement"):
        group.add_function("extra", spec, security_group_ids=["sg-2"])


def test_fails_when_an_event_source_names_an_unknown_function_or_concurrency(tmp_path):
    group = _group(tmp_path)
    with pytest.raises(ValueError) as error:
        group.add_queue_event_source("mailer", queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
                                     queue_kms_key_arn=KEY, maximum_concurrency=1)
    assert "got 'mailer'" in str(error.value) and "maximum_concurrency must be 2..1000" in str(error.value)


def test_fails_when_provisioned_concurrency_is_outside_the_scaling_range(tmp_path):
    group = _group(tmp_path)
    with pytest.raises(ValueError) as error:
        ProvisionedConcurrencyAutoscaling(group, "worker", function=group.functions["worker"],
                                          provisioned_concurrent_executions=20, min_capacity=1, max_capacity=10,
                                          target_utilization=0.95, backlog_messages_per_instance=0)
    message = str(error.value)
    for fragment in ("provisioned_concurrent_executions must lie within min..max capacity (1..10), got 20",
                     "target_utilization must be 0.1..0.9, got 0.95", "backlog_messages_per_instance must be >= 1"):
        assert fragment in message


def test_stack_exposes_functions_roles_and_log_groups_to_the_other_constructs():
    platform = stack("dev")
    processing = platform.processing
    assert set(processing.functions) == set(FUNCTION_NAMES) | {"delivery-fanout", "delivery-sender"}
    processor = processing.functions["processor"]
    assert processor.function is not None and processor.role is not None and processor.log_group is not None
    assert processing.layer is not None and platform.processor_scaling.alias is not None
