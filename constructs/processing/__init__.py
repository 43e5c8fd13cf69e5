"""Processing: Lambda functions with secure defaults, reusable in any stack.

- `ServerlessFunction`: one function with its own role, log group and async failure handling.
- `FunctionGroup`: a shared layer and any number of functions described as data (`FunctionSpec`),
  plus SQS event sources (`add_queue_event_source`).
- `ProvisionedConcurrencyAutoscaling`: the add-on a stack attaches to a latency-critical
  function: a published alias, provisioned concurrency and Application Auto Scaling (utilization
  and, optionally, the backlog of the queue it consumes).

Code is a local zip per function (and one for the layer), referenced as cdktf file assets: the
synthesized JSON names `assets/<id>/<content hash>/<file>` relative to the stack directory (no
absolute path, no timestamp), so two synths and a clean checkout give the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

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
    LambdaFunctionLoggingConfig,
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
from constructs import Construct

from constructs.core.limits import (
    AUTOSCALING_TARGET_UTILIZATION,
    LAMBDA_ASYNC_RETRY_ATTEMPTS,
    LAMBDA_MEMORY_MB,
    LAMBDA_SYSTEM_LOG_LEVELS,
    LAMBDA_TIMEOUT_SECONDS,
    LOG_RETENTION_DAYS,
    SQS_EVENT_SOURCE_MAX_CONCURRENCY,
)
from constructs.core.policy import Statement, document, wildcard_problems
from constructs.core.tokens import is_literal

RUNTIME = "python3.11"
ARCHITECTURE = "arm64"
#: Lambda's platform (system) log levels with the JSON log format.
SYSTEM_LOG_LEVELS = LAMBDA_SYSTEM_LOG_LEVELS
# Actions AWS cannot scope to a resource ARN (their only valid resource is "*").
UNSCOPABLE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "ec2:DescribeNetworkInterfaces",
                      "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs")
SQS_CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                       "sqs:GetQueueAttributes"]
SQS_BATCH_SIZE = 10  # FIFO event sources take at most 10
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")



class ServerlessFunction(Construct):
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
      function_name: 1..64 of [A-Za-z0-9_-]; required.
      handler: `module.function`; required.
      code_path: the zip to deploy (a local file; it becomes an asset); required.
      source_code_hash: base64 SHA-256 of the zip; required.
      kms_key_arn: the lambda data-class key (environment encryption); required.
      log_kms_key_arn: the logs data-class key; required.
      account_id, partition, region: for ARNs in the role policy; required.
      memory_size_mb: 128..10240; default 512. timeout_seconds: 1..900; default 30.
      reserved_concurrent_executions: None (unreserved, default) or >= 0 (0 stops every invocation).
      layer_arns: up to 5 layer version ARNs; default none.
      environment: variables; default none.
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      subnet_ids / security_group_ids: VPC placement; default None (no VPC). Both or neither.
      async_failure_destination_arn: SQS queue ARN for failed async invocations; default None.
      async_failure_destination_arn_by_name: the same queue's ARN built from its name
        (`arn:{partition}:sqs:{region}:{account}:{name}`); when given, the role's policy names it
        instead, so the function does not wait for the queue to be created (the provider waits
        ~25 s for a new queue's attributes). The async invoke config keeps the queue's own ARN,
        and with it the order. Default None.
      async_failure_destination_kms_key_arn: that queue's KMS key (the role may send to it); default None.
      async_max_retry_attempts: 0..2 (Lambda limit); default 2.
      async_max_event_age_seconds: 60..21600; default 3600.
      publish: publish a version (needed for an alias); default False.
      system_log_level: the Lambda platform's log level with JSON log format (DEBUG, INFO or WARN;
        WARN drops the START/END/REPORT lines); default None (text format, every platform line).
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
        async_failure_destination_arn_by_name: str | None = None,
        async_failure_destination_kms_key_arn: str | None = None,
        async_max_retry_attempts: int = 2,
        async_max_event_age_seconds: int = 3600,
        publish: bool = False,
        system_log_level: str | None = None,
    ):
        super().__init__(scope, id_)
        problems = []
        if system_log_level is not None and system_log_level not in SYSTEM_LOG_LEVELS:
            problems.append(f"system_log_level must be one of {', '.join(SYSTEM_LOG_LEVELS)} or None, got {system_log_level!r}")
        if is_literal(function_name) and not _FUNCTION_NAME.match(function_name):
            problems.append(f"function_name must be 1..64 of [A-Za-z0-9_-], got {function_name!r}")
        if not re.match(r"^[A-Za-z0-9_.]+\.[A-Za-z0-9_]+$", handler):
            problems.append(f"handler must be 'module.function', got {handler!r}")
        if is_literal(memory_size_mb) and memory_size_mb not in LAMBDA_MEMORY_MB:
            problems.append(f"memory_size_mb must be {LAMBDA_MEMORY_MB}, got {memory_size_mb}")
        if is_literal(timeout_seconds) and timeout_seconds not in LAMBDA_TIMEOUT_SECONDS:
            problems.append(f"timeout_seconds must be {LAMBDA_TIMEOUT_SECONDS}, got {timeout_seconds}")
        if reserved_concurrent_executions is not None and is_literal(reserved_concurrent_executions) \
                and reserved_concurrent_executions < 0:
            problems.append(
                f"reserved_concurrent_executions must be >= 0 or None (unreserved), got {reserved_concurrent_executions}"
            )
        if len(layer_arns) > 5:
            problems.append(f"layer_arns: a function takes at most 5 layers, got {len(layer_arns)}")
        if is_literal(log_retention_in_days) and log_retention_in_days not in LOG_RETENTION_DAYS:
            problems.append(f"log_retention_in_days must be a CloudWatch Logs retention, got {log_retention_in_days}")
        if (subnet_ids is None) != (security_group_ids is None):
            problems.append("subnet_ids and security_group_ids go together (VPC placement), got only one")
        if is_literal(async_max_retry_attempts) and async_max_retry_attempts not in LAMBDA_ASYNC_RETRY_ATTEMPTS:
            problems.append(
                f"async_max_retry_attempts must be {LAMBDA_ASYNC_RETRY_ATTEMPTS} (Lambda limit; put a 3rd try in an SQS redrive), "
                f"got {async_max_retry_attempts}"
            )
        if is_literal(async_max_event_age_seconds) and not 60 <= async_max_event_age_seconds <= 21_600:
            problems.append(f"async_max_event_age_seconds must be 60..21600, got {async_max_event_age_seconds}")
        if problems:
            raise ValueError(f"ServerlessFunction {function_name}: " + "; ".join(problems))

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
                         "resources": [async_failure_destination_arn_by_name or async_failure_destination_arn]})
            if async_failure_destination_kms_key_arn:  # SendMessage to an encrypted queue needs a data key
                base.append({"sid": "AsyncFailuresKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
                             "resources": [async_failure_destination_kms_key_arn]})
        base_policy = self.grant("base", base)

        options: dict = {}
        if subnet_ids is not None:
            options["vpc_config"] = LambdaFunctionVpcConfig(subnet_ids=list(subnet_ids),
                                                            security_group_ids=list(security_group_ids or ()))
        if environment:
            options["environment"] = LambdaFunctionEnvironment(variables=dict(environment))
        if system_log_level is not None:
            # JSON format; the application's level stays what the handlers set (Powertools)
            options["logging_config"] = LambdaFunctionLoggingConfig(
                log_format="JSON", system_log_level=system_log_level, log_group=self.log_group.name)
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
        """Attach an inline policy built from `statements` (see constructs/core/policy.py) to the role.
        Raises ValueError for wildcard actions and "*" resources on scopable actions."""
        problems = wildcard_problems(statements, UNSCOPABLE_ACTIONS)
        if problems:
            raise ValueError(f"grant {id_} to {self.node.path}: " + "; ".join(problems))
        policy_document = document(self, f"{id_}-document", statements)
        policy = IamRolePolicy(self, f"{id_}-policy", name=id_, role=self.role.id, policy=policy_document.json)
        self.policies.append(policy)
        return policy


@dataclass(frozen=True)
class FunctionSpec:
    """One function of a `FunctionGroup`, as data.

    function_name: the deployed name (1..64 of [A-Za-z0-9_-]). handler: `module.function`.
    code_path: the function's zip (a local file; it becomes an asset). source_code_hash: base64
    SHA-256 of the zip. memory_size_mb 128..10240 (default 512), timeout_seconds 1..900 (default
    30), reserved_concurrent_executions None (unreserved, default) or >= 1. environment: its
    variables (default none). publish: publish a version, needed for an alias (default False).
    """

    function_name: str
    handler: str
    code_path: str
    source_code_hash: str
    memory_size_mb: int = 512
    timeout_seconds: int = 30
    reserved_concurrent_executions: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    publish: bool = False


class FunctionGroup(Construct):
    """Functions that share a layer, keys, log settings, VPC placement and async failure handling.

    Keyword arguments:
      functions: id -> FunctionSpec; each becomes a `ServerlessFunction` with that construct id
        (and its zip an asset `{id}-asset`); at least one (required).
      lambda_kms_key_arn: environment encryption key; logs_kms_key_arn: the log groups' key (required).
      account_id, partition, region: for ARNs in the roles' policies (required).
      layer_zip_path / layer_source_code_hash: a shared layer (`layer_name`, python3.11, arm64)
        every function gets; default None (no layer). layer_description: its description.
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      subnet_ids / security_group_ids: VPC placement of every function; default None (no VPC).
      async_failure_queue_arn: on-failure destination (SQS) of async invocations; default None;
        async_failure_queue_arn_by_name: the same ARN built from the queue's name, for the roles'
        policies (see ServerlessFunction); default None;
        async_failure_queue_kms_key_arn: its KMS key, granted to the roles for sending; default None.
      async_max_retry_attempts: 0..2 (Lambda limit); default 2.
      system_log_level: every function's platform log level (see ServerlessFunction); default None.

    Attributes: `layer` (LambdaLayerVersion or None), `functions` (id -> ServerlessFunction),
      `event_source_mappings` (id -> LambdaEventSourceMapping, see `add_queue_event_source`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        functions: Mapping[str, FunctionSpec],
        lambda_kms_key_arn: str,
        logs_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        layer_name: str | None = None,
        layer_zip_path: str | None = None,
        layer_source_code_hash: str | None = None,
        layer_description: str | None = None,
        log_retention_in_days: int = 30,
        subnet_ids: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        async_failure_queue_arn: str | None = None,
        async_failure_queue_arn_by_name: str | None = None,
        async_failure_queue_kms_key_arn: str | None = None,
        async_max_retry_attempts: int = 2,
        system_log_level: str | None = None,
    ):
        super().__init__(scope, id_)
        problems = []
        if not functions:
            problems.append("functions must name at least one function, got none")
        if layer_zip_path is not None and not (layer_name and layer_source_code_hash):
            problems.append("layer_name and layer_source_code_hash are required with layer_zip_path, got "
                            f"{layer_name!r} / {layer_source_code_hash!r}")
        if problems:
            raise ValueError("FunctionGroup: " + "; ".join(problems))

        self.layer: LambdaLayerVersion | None = None
        if layer_zip_path is not None:
            layer_asset = TerraformAsset(self, "layer-asset", path=layer_zip_path, type=AssetType.FILE)
            self.layer = LambdaLayerVersion(
                self, "layer", layer_name=layer_name, filename=layer_asset.path,
                source_code_hash=layer_source_code_hash, compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE], description=layer_description,
            )
        self._shared: dict[str, Any] = dict(
            kms_key_arn=lambda_kms_key_arn, log_kms_key_arn=logs_kms_key_arn,
            account_id=account_id, partition=partition, region=region,
            layer_arns=[self.layer.arn] if self.layer is not None else [],
            log_retention_in_days=log_retention_in_days,
            async_failure_destination_arn=async_failure_queue_arn,
            async_failure_destination_arn_by_name=async_failure_queue_arn_by_name,
            async_failure_destination_kms_key_arn=async_failure_queue_kms_key_arn,
            async_max_retry_attempts=async_max_retry_attempts, system_log_level=system_log_level,
        )
        self._subnet_ids, self._security_group_ids = subnet_ids, security_group_ids
        self.functions: dict[str, ServerlessFunction] = {}
        for name, spec in functions.items():
            self.add_function(name, spec)
        self.event_source_mappings: dict[str, LambdaEventSourceMapping] = {}

    def add_function(self, name: str, spec: FunctionSpec, *,
                     security_group_ids: Sequence[str] | None = None) -> ServerlessFunction:
        """One more function of the group (construct id `name`, its zip the asset `{name}-asset`)
        with the group's layer, keys, logs, VPC placement and async failure handling.
        `security_group_ids`: instead of the group's (same subnets); default the group's."""
        if name in self.functions:
            raise ValueError(f"FunctionGroup.add_function: {name!r} is already a function of the group")
        if security_group_ids is not None and self._subnet_ids is None:
            raise ValueError(f"FunctionGroup.add_function {name}: security_group_ids needs the group's VPC "
                             "placement (subnet_ids), got none")
        asset = TerraformAsset(self, f"{name}-asset", path=spec.code_path, type=AssetType.FILE)
        self.functions[name] = ServerlessFunction(
            self, name,
            function_name=spec.function_name,
            handler=spec.handler,
            code_path=asset.path,
            source_code_hash=spec.source_code_hash,
            memory_size_mb=spec.memory_size_mb,
            timeout_seconds=spec.timeout_seconds,
            reserved_concurrent_executions=spec.reserved_concurrent_executions,
            environment=spec.environment,
            subnet_ids=self._subnet_ids,
            security_group_ids=security_group_ids if security_group_ids is not None else self._security_group_ids,
            publish=spec.publish,
            **self._shared,
        )
        return self.functions[name]

    def add_queue_event_source(
        self,
        name: str,
        *,
        queue_arn: str,
        queue_kms_key_arn: str,
        target_arn: str | None = None,
        maximum_concurrency: int | None = None,
        enabled: bool = True,
    ) -> LambdaEventSourceMapping:
        """Let function `name` consume an SQS queue: batch 10 (the FIFO maximum),
        ReportBatchItemFailures, its role granted exactly the consume actions on that queue and
        Decrypt on its key. `target_arn`: what the mapping invokes (an alias ARN; default the
        function). `maximum_concurrency`: 2..1000 or None (unbounded). `enabled=False` deploys the
        mapping disabled. The queue's visibility timeout must be >= 6 x the function timeout
        (`constructs.queueing.WebhookQueue` checks it). Construct id: `{name}-event-source`."""
        problems = []
        if name not in self.functions:
            problems.append(f"name must be one of the group's functions {sorted(self.functions)}, got {name!r}")
        if maximum_concurrency is not None and is_literal(maximum_concurrency) \
                and maximum_concurrency not in SQS_EVENT_SOURCE_MAX_CONCURRENCY:
            problems.append(f"maximum_concurrency must be {SQS_EVENT_SOURCE_MAX_CONCURRENCY} (SQS event source limit), "
                            f"got {maximum_concurrency}")
        if problems:
            raise ValueError("FunctionGroup.add_queue_event_source: " + "; ".join(problems))
        fn = self.functions[name]
        consume = fn.grant("consume-queue", [
            {"sid": "ConsumeQueue", "actions": SQS_CONSUME_ACTIONS, "resources": [queue_arn]},
            {"sid": "DecryptQueue", "actions": ["kms:Decrypt"], "resources": [queue_kms_key_arn]},
        ])
        options: dict = {}
        if maximum_concurrency is not None:
            options["scaling_config"] = LambdaEventSourceMappingScalingConfig(maximum_concurrency=maximum_concurrency)
        mapping = LambdaEventSourceMapping(
            self, f"{name}-event-source", event_source_arn=queue_arn, function_name=target_arn or fn.function.arn,
            batch_size=SQS_BATCH_SIZE, function_response_types=["ReportBatchItemFailures"],
            enabled=enabled, depends_on=[consume], **options,
        )
        self.event_source_mappings[name] = mapping
        return mapping


class ProvisionedConcurrencyAutoscaling:
    """Add-on for one function: an alias on its published version, provisioned concurrency on the
    alias, and Application Auto Scaling of that concurrency (target tracking on utilization and,
    with `backlog_queue_name`, on the queue's visible messages per running instance).

    Not a construct node of its own: the resources are created in `scope` with ids
    `{id_prefix}-alias`, `-provisioned-concurrency`, `-scaling-target`, `-utilization-policy`,
    `-backlog-policy`, so attaching it to an existing function moves no resource address.

    Keyword arguments:
      function: a ServerlessFunction built with publish=True (required).
      alias_name: default "live". alias_description: default none.
      provisioned_concurrent_executions: baseline kept warm; 0 (default) creates only the alias.
      autoscaling: manage the baseline with Application Auto Scaling (default True).
      min_capacity / max_capacity: scaling range, 1 <= min <= provisioned <= max (default 1 / 10).
      target_utilization: 0.1..0.9 of provisioned concurrency (default 0.7).
      backlog_queue_name: the consumed queue's name; default None (utilization tracking only).
      backlog_messages_per_instance: >= 1 (default 100).

    Attributes: alias, provisioned_concurrency, scaling_target (None when not built), scaling_policies.
    """

    def __init__(
        self,
        scope: Construct,
        id_prefix: str,
        *,
        function: ServerlessFunction,
        alias_name: str = "live",
        alias_description: str | None = None,
        provisioned_concurrent_executions: int = 0,
        autoscaling: bool = True,
        min_capacity: int = 1,
        max_capacity: int = 10,
        target_utilization: float = 0.7,
        backlog_queue_name: str | None = None,
        backlog_messages_per_instance: int = 100,
    ):
        problems = []
        if provisioned_concurrent_executions < 0:
            problems.append(f"provisioned_concurrent_executions must be >= 0, got {provisioned_concurrent_executions}")
        if not 1 <= min_capacity <= max_capacity:
            problems.append(f"needs 1 <= min_capacity <= max_capacity, got {min_capacity}..{max_capacity}")
        elif provisioned_concurrent_executions and not min_capacity <= provisioned_concurrent_executions <= max_capacity:
            problems.append(f"provisioned_concurrent_executions must lie within min..max capacity "
                            f"({min_capacity}..{max_capacity}), got {provisioned_concurrent_executions}")
        if target_utilization not in AUTOSCALING_TARGET_UTILIZATION:
            problems.append(f"target_utilization must be {AUTOSCALING_TARGET_UTILIZATION}, got {target_utilization}")
        if backlog_messages_per_instance < 1:
            problems.append(f"backlog_messages_per_instance must be >= 1, got {backlog_messages_per_instance}")
        if problems:
            raise ValueError(f"ProvisionedConcurrencyAutoscaling {id_prefix}: " + "; ".join(problems))

        fn = function.function
        name = function.function_name
        self.alias = LambdaAlias(
            scope, f"{id_prefix}-alias", name=alias_name, function_name=fn.function_name,
            function_version=fn.version, description=alias_description,
        )
        self.provisioned_concurrency: LambdaProvisionedConcurrencyConfig | None = None
        self.scaling_target: AppautoscalingTarget | None = None
        self.scaling_policies: list[AppautoscalingPolicy] = []
        if provisioned_concurrent_executions <= 0:
            return
        self.provisioned_concurrency = LambdaProvisionedConcurrencyConfig(
            scope, f"{id_prefix}-provisioned-concurrency", function_name=fn.function_name,
            qualifier=self.alias.name,
            provisioned_concurrent_executions=provisioned_concurrent_executions,
            # once Application Auto Scaling manages the alias, its value wins
            lifecycle=TerraformResourceLifecycle(ignore_changes=["provisioned_concurrent_executions"])
            if autoscaling else None,
        )
        if not autoscaling:
            return
        self.scaling_target = target = AppautoscalingTarget(
            scope, f"{id_prefix}-scaling-target", service_namespace="lambda",
            resource_id=f"function:{name}:{alias_name}",
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            min_capacity=min_capacity, max_capacity=max_capacity,
            depends_on=[self.provisioned_concurrency],
        )
        self.scaling_policies.append(AppautoscalingPolicy(
            scope, f"{id_prefix}-utilization-policy", name=f"{name}-utilization",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=target_utilization,
                predefined_metric_specification=Predefined(
                    predefined_metric_type="LambdaProvisionedConcurrencyUtilization"),
            ),
        ))
        if backlog_queue_name is None:
            return
        # Backlog per running instance: visible messages / (concurrent executions of the alias + 1);
        # the +1 keeps the ratio defined when nothing runs yet.
        self.scaling_policies.append(AppautoscalingPolicy(
            scope, f"{id_prefix}-backlog-policy", name=f"{name}-queue-backlog",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=backlog_messages_per_instance,
                customized_metric_specification=CustomMetric(metrics=[
                    Metric(id="visible", return_data=False, metric_stat=Stat(stat="Average", metric=StatMetric(
                        namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                        dimensions=[Dimension(name="QueueName", value=backlog_queue_name)]))),
                    Metric(id="running", return_data=False, metric_stat=Stat(stat="Maximum", metric=StatMetric(
                        namespace="AWS/Lambda", metric_name="ConcurrentExecutions",
                        dimensions=[Dimension(name="FunctionName", value=name),
                                    Dimension(name="Resource", value=f"{name}:{alias_name}")]))),
                    Metric(id="backlog_per_instance", expression="visible / (running + 1)",
                           label="queue messages per running processor", return_data=True),
                ]),
            ),
        ))
