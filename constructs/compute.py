"""Lambda compute: `PaymentFunction` (one function with its role, log group and async failure
handling) and `Compute` (the shared layer, all eight functions, the SQS event sources, and the
processor's `live` alias with provisioned concurrency and Application Auto Scaling).

Code comes from the deterministic zips of scripts/package.py (manifest `{name: {path, sha256,
source_code_hash}}`), referenced as cdktf file assets: the synthesized JSON names
`assets/<id>/<content hash>/<file>` relative to the stack directory (no absolute path, no
timestamp), so two synths and a clean checkout give the same bytes.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import AssetType, TerraformAsset, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration as TargetTracking,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification as CustomMetric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetrics as Metric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStat as Stat,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetric as StatMetric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetricDimensions as Dimension,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification as Predefined,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_alias import LambdaAlias
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
    LambdaFunctionEventInvokeConfigDestinationConfig,
    LambdaFunctionEventInvokeConfigDestinationConfigOnFailure,
)
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from cdktf_cdktf_provider_aws.lambda_provisioned_concurrency_config import LambdaProvisionedConcurrencyConfig
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from constructs.policy import Statement, document, wildcard_problems
from constructs.settings import FunctionSettings, ProcessorScaling
from constructs.tokens import is_literal

RUNTIME = "python3.11"
ARCHITECTURE = "arm64"
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# Actions AWS cannot scope to a resource ARN (their only valid resource is "*").
UNSCOPABLE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "ec2:DescribeNetworkInterfaces",
                      "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs")
SQS_CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                       "sqs:GetQueueAttributes"]
SQS_BATCH_SIZE = 10  # FIFO event sources take at most 10
ALIAS = "live"

# Which configuration values each handler reads (lambda_src/README.md); all get the common ones.
FUNCTION_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "authorizer": ("SECRET_PREFIX", "ENABLED_PROVIDERS"),
    "validator": ("INGEST_QUEUE_URL", "INGEST_MAX_MESSAGE_BYTES"),
    "processor": ("TABLE_NAME", "ARCHIVE_BUCKET", "SECRET_PREFIX", "ENABLED_PROVIDERS"),
    "archiver": ("TABLE_NAME", "ARCHIVE_BUCKET", "ARCHIVE_KMS_KEY_ARN"),
    "notifier": ("TABLE_NAME", "VENDOR_TOPIC_ARN", "KNOWN_VENDORS"),
    "reader": ("TABLE_NAME",),
    "status": ("TABLE_NAME",),
    "notify": ("TABLE_NAME", "VENDOR_TOPIC_ARN", "NOTIFICATIONS_QUEUE_URL"),
}
COMMON_ENVIRONMENT = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "AWS_ENDPOINT_URL")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")



class PaymentFunction(Construct):
    """One Lambda function: `self.function` (LambdaFunction), `self.role` (IamRole),
    `self.log_group` (CloudwatchLogGroup `/aws/lambda/{name}`, created before the function),
    `self.policies` (IamRolePolicy list), `self.invoke_config` (async failure handling), and
    `grant(id_, statements)` for the stack's wiring.

    Secure defaults: python3.11 on arm64, X-Ray active, environment encrypted with the given key,
    a role of its own trusted by lambda.amazonaws.com only, whose policies are scoped to ARNs (no
    wildcard action, no "*" resource except for actions AWS cannot scope), log retention and log
    encryption set, async failures to an SQS destination after `async_max_retry_attempts`.

    VPC: with `subnet_ids` the role gets the ENI permissions of AWSLambdaVPCAccessExecutionRole as
    a scoped inline policy (create/delete/assign only on this account and region's ENIs, subnets
    and security groups; Describe* needs "*"), instead of the managed policy (which also grants
    logs:* writes on every log group).

    Args:
      function_name: 1..64 of [A-Za-z0-9_-]; required (`payment-{function}-{env}`).
      handler: `module.function`; required.
      code_path: the zip to deploy (a local file; it becomes an asset); required.
      source_code_hash: base64 SHA-256 of the zip; required.
      kms_key_arn: the lambda data-class key (environment encryption); required.
      log_kms_key_arn: the logs data-class key; required.
      account_id, partition, region: for ARNs in the role policy; required.
      memory_size_mb: 128..10240; default 512. timeout_seconds: 1..900; default 30.
      reserved_concurrent_executions: None (unreserved, default) or >= 1.
      layer_arns: up to 5 layer version ARNs; default none.
      environment: variables; default none.
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      subnet_ids / security_group_ids: VPC placement; default None (no VPC). Both or neither.
      async_failure_destination_arn: SQS queue ARN for failed async invocations; default None.
      async_max_retry_attempts: 0..2 (Lambda limit); default 2.
      async_max_event_age_seconds: 60..21600; default 3600.
      publish: publish a version (needed for an alias); default False.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function_name: str,
        handler: str,
        code_path: str,
        source_code_hash: str,
        kms_key_arn: str,
        log_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        memory_size_mb: int = 512,
        timeout_seconds: int = 30,
        reserved_concurrent_executions: int | None = None,
        layer_arns: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        log_retention_in_days: int = 30,
        subnet_ids: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        async_failure_destination_arn: str | None = None,
        async_max_retry_attempts: int = 2,
        async_max_event_age_seconds: int = 3600,
        publish: bool = False,
    ):
        super().__init__(scope, id_)
        problems = []
        if is_literal(function_name) and not _FUNCTION_NAME.match(function_name):
            problems.append(f"function_name must be 1..64 of [A-Za-z0-9_-], got {function_name!r}")
        if not re.match(r"^[A-Za-z0-9_.]+\.[A-Za-z0-9_]+$", handler):
            problems.append(f"handler must be 'module.function', got {handler!r}")
        if is_literal(memory_size_mb) and not 128 <= memory_size_mb <= 10_240:
            problems.append(f"memory_size_mb must be 128..10240, got {memory_size_mb}")
        if is_literal(timeout_seconds) and not 1 <= timeout_seconds <= 900:
            problems.append(f"timeout_seconds must be 1..900, got {timeout_seconds}")
        if is_literal(reserved_concurrent_executions) and reserved_concurrent_executions < 1:
            problems.append(
                f"reserved_concurrent_executions must be >= 1 or None (unreserved), got {reserved_concurrent_executions}"
            )
        if len(layer_arns) > 5:
            problems.append(f"layer_arns: a function takes at most 5 layers, got {len(layer_arns)}")
        if is_literal(log_retention_in_days) and log_retention_in_days not in LOG_RETENTION_DAYS:
            problems.append(f"log_retention_in_days must be a CloudWatch Logs retention, got {log_retention_in_days}")
        if (subnet_ids is None) != (security_group_ids is None):
            problems.append("subnet_ids and security_group_ids go together (VPC placement), got only one")
        if is_literal(async_max_retry_attempts) and not 0 <= async_max_retry_attempts <= 2:
            problems.append(
                f"async_max_retry_attempts must be 0..2 (Lambda limit; put a 3rd try in an SQS redrive), "
                f"got {async_max_retry_attempts}"
            )
        if is_literal(async_max_event_age_seconds) and not 60 <= async_max_event_age_seconds <= 21_600:
            problems.append(f"async_max_event_age_seconds must be 60..21600, got {async_max_event_age_seconds}")
        if problems:
            raise ValueError(f"PaymentFunction {function_name}: " + "; ".join(problems))

        self.function_name = function_name  # the plain name, for names and metric dimensions
        self.policies: list[IamRolePolicy] = []
        self.log_group = CloudwatchLogGroup(
            self, "log-group", name=f"/aws/lambda/{function_name}", retention_in_days=log_retention_in_days,
            kms_key_id=log_kms_key_arn,
        )
        trust = document(self, "trust-document", [{
            "sid": "LambdaAssumesRole",
            "principals": {"Service": ["lambda.amazonaws.com"]},
            "actions": ["sts:AssumeRole"],
            "resources": ["*"],
            "conditions": [("StringEquals", "aws:SourceAccount", [account_id])],
        }])
        self.role = IamRole(self, "role", name=f"{function_name}-role", assume_role_policy=trust.json,
                            description=f"execution role of {function_name}")

        base: list[Statement] = [
            {"sid": "WriteOwnLogs", "actions": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "resources": [f"{self.log_group.arn}:*"]},
            {"sid": "XRayTraces", "actions": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "resources": ["*"]},
            {"sid": "DecryptEnvironment", "actions": ["kms:Decrypt"], "resources": [kms_key_arn]},
        ]
        if subnet_ids is not None:
            ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
            base += [
                {"sid": "DescribeNetwork", "actions": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                 "resources": ["*"]},
                {"sid": "ManageOwnEnis",
                 "actions": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                             "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                 "resources": [f"{ec2}:network-interface/*", f"{ec2}:subnet/*", f"{ec2}:security-group/*"]},
            ]
        if async_failure_destination_arn:
            base.append({"sid": "SendAsyncFailures", "actions": ["sqs:SendMessage"],
                         "resources": [async_failure_destination_arn]})
        base_policy = self.grant("base", base)

        options: dict = {}
        if subnet_ids is not None:
            options["vpc_config"] = LambdaFunctionVpcConfig(subnet_ids=list(subnet_ids),
                                                            security_group_ids=list(security_group_ids))
        if environment:
            options["environment"] = LambdaFunctionEnvironment(variables=dict(environment))
        self.function = LambdaFunction(
            self, "function",
            function_name=function_name,
            role=self.role.arn,
            handler=handler,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            filename=code_path,
            source_code_hash=source_code_hash,
            memory_size=memory_size_mb,
            timeout=timeout_seconds,
            reserved_concurrent_executions=reserved_concurrent_executions if reserved_concurrent_executions else -1,
            layers=list(layer_arns) or None,
            kms_key_arn=kms_key_arn,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            publish=publish,
            # the log group (retention, KMS) and the role's permissions exist before the function
            depends_on=[self.log_group, base_policy],
            **options,
        )
        invoke_options: dict = {}
        if async_failure_destination_arn:
            invoke_options["destination_config"] = LambdaFunctionEventInvokeConfigDestinationConfig(
                on_failure=LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(
                    destination=async_failure_destination_arn)
            )
        self.invoke_config = LambdaFunctionEventInvokeConfig(
            self, "async-invoke-config", function_name=self.function.function_name,
            maximum_retry_attempts=async_max_retry_attempts,
            maximum_event_age_in_seconds=async_max_event_age_seconds, **invoke_options,
        )

    def grant(self, id_: str, statements: Sequence[Statement]) -> IamRolePolicy:
        """Attach an inline policy built from `statements` (see constructs/policy.py) to the role.
        Raises ValueError for wildcard actions and "*" resources on scopable actions."""
        problems = wildcard_problems(statements, UNSCOPABLE_ACTIONS)
        if problems:
            raise ValueError(f"grant {id_} to {self.node.path}: " + "; ".join(problems))
        policy_document = document(self, f"{id_}-document", statements)
        policy = IamRolePolicy(self, f"{id_}-policy", name=id_, role=self.role.id, policy=policy_document.json)
        self.policies.append(policy)
        return policy


class Compute(Construct):
    """The shared layer and every function.

    Attributes: `self.layer` (LambdaLayerVersion), `self.functions` (name -> PaymentFunction),
    `self.event_source_mappings` (name -> LambdaEventSourceMapping; deployed disabled when
    `event_sources_enabled` is False, e.g. locally where the runner plays the poller), `self.processor_alias`
    (LambdaAlias `live`), `self.provisioned_concurrency` (or None), `self.scaling_target` and
    `self.scaling_policies` (or None / []).

    Args:
      name_suffix: the environment suffix; names are `payment-{function}-{suffix}`.
      functions: function name -> FunctionSettings (memory, timeout, reserved concurrency).
      artifacts: the package manifest, name -> {"path", "source_code_hash"}, for every function
        and "layer"; required.
      environment: every configuration value (Configuration.lambda_environment plus extras);
        each function gets the keys FUNCTION_ENVIRONMENT lists for it.
      lambda_kms_key_arn, logs_kms_key_arn, queue_kms_key_arn: the lambda, logs and sqs keys.
      account_id, partition, region: for ARNs.
      log_retention_in_days: default 30.
      subnet_ids / security_group_ids: VPC placement of every function; default None (no VPC).
      async_failure_queue_arn: on-failure destination for async invocations; required.
      async_max_retry_attempts: 0..2; default 2.
      event_sources: function name -> SqsQueue consumed through an event source mapping (batch
        10, ReportBatchItemFailures; the queue's WebhookQueue checks visibility >= 6 x timeout);
        default none.
      processor_backlog_queue: the queue whose backlog drives the processor's scaling; default None
        (utilization tracking only).
      processor_scaling: ProcessorScaling; default ProcessorScaling().
      provisioned_concurrency_enabled, autoscaling_enabled: feature switches; default True.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_suffix: str,
        functions: Mapping[str, FunctionSettings],
        artifacts: Mapping[str, Mapping[str, str]],
        environment: Mapping[str, str],
        lambda_kms_key_arn: str,
        logs_kms_key_arn: str,
        queue_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        async_failure_queue_arn: str,
        log_retention_in_days: int = 30,
        subnet_ids: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        async_max_retry_attempts: int = 2,
        event_sources: Mapping[str, SqsQueue] | None = None,
        processor_backlog_queue: SqsQueue | None = None,
        processor_scaling: ProcessorScaling = ProcessorScaling(),
        provisioned_concurrency_enabled: bool = True,
        autoscaling_enabled: bool = True,
        event_sources_enabled: bool = True,
    ):
        super().__init__(scope, id_)
        event_sources = dict(event_sources or {})
        self._event_sources_enabled = event_sources_enabled
        problems = []
        missing = sorted(({*functions, "layer"}) - set(artifacts))
        if missing:
            problems.append(f"artifacts has no zip for {missing}: run scripts/package.py (build_all)")
        unknown = sorted(set(functions) - set(FUNCTION_ENVIRONMENT))
        if unknown:
            problems.append(f"functions has names without an environment contract: {unknown}")
        for name in sorted(event_sources):
            if name not in functions:
                problems.append(f"event_sources names {name!r}, which is not one of the functions")
        if problems:
            raise ValueError("Compute: " + "; ".join(problems))

        self._queue_kms_key_arn = queue_kms_key_arn
        layer_asset = TerraformAsset(self, "layer-asset", path=artifacts["layer"]["path"], type=AssetType.FILE)
        self.layer = LambdaLayerVersion(
            self, "layer", layer_name=f"payment-shared-{name_suffix}", filename=layer_asset.path,
            source_code_hash=artifacts["layer"]["source_code_hash"], compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE], description="paycore and its pinned dependencies",
        )
        self.functions: dict[str, PaymentFunction] = {}
        for name, sizing in functions.items():
            asset = TerraformAsset(self, f"{name}-asset", path=artifacts[name]["path"], type=AssetType.FILE)
            keys = FUNCTION_ENVIRONMENT[name] + COMMON_ENVIRONMENT
            self.functions[name] = PaymentFunction(
                self, name,
                function_name=f"payment-{name}-{name_suffix}",
                handler=f"{name}_handler.handler",
                code_path=asset.path,
                source_code_hash=artifacts[name]["source_code_hash"],
                kms_key_arn=lambda_kms_key_arn,
                log_kms_key_arn=logs_kms_key_arn,
                account_id=account_id, partition=partition, region=region,
                memory_size_mb=sizing.memory_mb,
                timeout_seconds=sizing.timeout_seconds,
                reserved_concurrent_executions=sizing.reserved_concurrency,
                layer_arns=[self.layer.arn],
                environment={k: environment[k] for k in keys if k in environment},
                log_retention_in_days=log_retention_in_days,
                subnet_ids=subnet_ids, security_group_ids=security_group_ids,
                async_failure_destination_arn=async_failure_queue_arn,
                async_max_retry_attempts=async_max_retry_attempts,
                publish=name == "processor",
            )

        self.processor_alias = None
        self.provisioned_concurrency = None
        self.scaling_target = None
        self.scaling_policies: list[AppautoscalingPolicy] = []
        if "processor" in self.functions:
            self._processor_alias(processor_scaling, provisioned_concurrency_enabled,
                                  autoscaling_enabled, processor_backlog_queue)
        self.event_source_mappings: dict[str, LambdaEventSourceMapping] = {}
        for name, queue in sorted(event_sources.items()):
            self.event_source_mappings[name] = self._event_source(name, queue, processor_scaling)

    def _processor_alias(self, scaling: ProcessorScaling, provisioned_enabled: bool, autoscaling_enabled: bool,
                         queue: SqsQueue | None) -> None:
        processor = self.functions["processor"].function
        name = self.functions["processor"].function_name
        self.processor_alias = LambdaAlias(
            self, "processor-alias", name=ALIAS, function_name=processor.function_name,
            function_version=processor.version, description="what the ingest queue invokes",
        )
        if not (provisioned_enabled and scaling.provisioned_concurrency > 0):
            return
        self.provisioned_concurrency = LambdaProvisionedConcurrencyConfig(
            self, "processor-provisioned-concurrency", function_name=processor.function_name,
            qualifier=self.processor_alias.name,
            provisioned_concurrent_executions=scaling.provisioned_concurrency,
            # once Application Auto Scaling manages the alias, its value wins
            lifecycle=TerraformResourceLifecycle(ignore_changes=["provisioned_concurrent_executions"])
            if autoscaling_enabled else None,
        )
        if not autoscaling_enabled:
            return
        resource_id = f"function:{name}:{ALIAS}"
        self.scaling_target = AppautoscalingTarget(
            self, "processor-scaling-target", service_namespace="lambda", resource_id=resource_id,
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            min_capacity=scaling.min_capacity, max_capacity=scaling.max_capacity,
            depends_on=[self.provisioned_concurrency],
        )
        target = self.scaling_target
        self.scaling_policies.append(AppautoscalingPolicy(
            self, "processor-utilization-policy", name=f"{name}-utilization",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=scaling.target_utilization,
                predefined_metric_specification=Predefined(
                    predefined_metric_type="LambdaProvisionedConcurrencyUtilization"),
            ),
        ))
        if queue is None:
            return
        # Backlog per running instance: visible messages / (concurrent executions of the alias + 1);
        # the +1 keeps the ratio defined when nothing runs yet.
        self.scaling_policies.append(AppautoscalingPolicy(
            self, "processor-backlog-policy", name=f"{name}-queue-backlog",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=scaling.backlog_per_instance,
                customized_metric_specification=CustomMetric(metrics=[
                    Metric(id="visible", return_data=False, metric_stat=Stat(stat="Average", metric=StatMetric(
                        namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                        dimensions=[Dimension(name="QueueName", value=queue.name)]))),
                    Metric(id="running", return_data=False, metric_stat=Stat(stat="Maximum", metric=StatMetric(
                        namespace="AWS/Lambda", metric_name="ConcurrentExecutions",
                        dimensions=[Dimension(name="FunctionName", value=name),
                                    Dimension(name="Resource", value=f"{name}:{ALIAS}")]))),
                    Metric(id="backlog_per_instance", expression="visible / (running + 1)",
                           label="queue messages per running processor", return_data=True),
                ]),
            ),
        ))

    def _event_source(self, name: str, queue: SqsQueue, scaling: ProcessorScaling) -> LambdaEventSourceMapping:
        fn = self.functions[name]
        consume = fn.grant("consume-queue", [
            {"sid": "ConsumeQueue", "actions": SQS_CONSUME_ACTIONS, "resources": [queue.arn]},
            {"sid": "DecryptQueue", "actions": ["kms:Decrypt"], "resources": [self._queue_kms_key_arn]},
        ])
        target = self.processor_alias.arn if name == "processor" and self.processor_alias else fn.function.arn
        options: dict = {}
        if name == "processor":
            options["scaling_config"] = LambdaEventSourceMappingScalingConfig(
                maximum_concurrency=scaling.event_source_max_concurrency)
        return LambdaEventSourceMapping(
            self, f"{name}-event-source", event_source_arn=queue.arn, function_name=target,
            batch_size=SQS_BATCH_SIZE, function_response_types=["ReportBatchItemFailures"],
            enabled=self._event_sources_enabled,
            depends_on=[consume], **options,
        )
