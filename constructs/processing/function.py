"""`ServerlessFunction`: one Lambda function with its own role, log group and async failure
handling, and the secure defaults every function of the repository shares."""

from __future__ import annotations

import re
from typing import Sequence

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
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
from constructs import Construct

from constructs.core.limits import (
    LAMBDA_ASYNC_RETRY_ATTEMPTS,
    LAMBDA_MEMORY_MB,
    LAMBDA_SYSTEM_LOG_LEVELS,
    LAMBDA_TIMEOUT_SECONDS,
    LOG_RETENTION_DAYS,
)
from constructs.core.policy import Statement, document, wildcard_problems
from constructs.core.tokens import is_literal
from constructs.processing.options import DEFAULT_ASYNC_INVOKE, AsyncInvokeOptions, FunctionSpec, VpcPlacement

RUNTIME = "python3.11"
ARCHITECTURE = "arm64"
#: Lambda's platform (system) log levels with the JSON log format.
SYSTEM_LOG_LEVELS = LAMBDA_SYSTEM_LOG_LEVELS
# Actions AWS cannot scope to a resource ARN (their only valid resource is "*").
UNSCOPABLE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "ec2:DescribeNetworkInterfaces",
                      "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ServerlessFunction(Construct):
    """One Lambda function: `self.function` (LambdaFunction), `self.role` (IamRole),
    `self.log_group` (CloudwatchLogGroup `/aws/lambda/{name}`, created before the function),
    `self.policies` (IamRolePolicy list), `self.invoke_config` (async failure handling), and
    `grant(id_, statements)` for the stack's wiring.

    Secure defaults: python3.11 on arm64, X-Ray active, environment encrypted with the given key,
    a role of its own trusted by lambda.amazonaws.com only, whose policies are scoped to ARNs (no
    wildcard action, no "*" resource except for actions AWS cannot scope), log retention and log
    encryption set, async failures to an SQS destination after `async_invoke.max_retry_attempts`.

    VPC: with `vpc` the role gets the ENI permissions of AWSLambdaVPCAccessExecutionRole as a
    scoped inline policy (create/delete/assign only on this account and region's ENIs, subnets
    and security groups; Describe* needs "*"), instead of the managed policy (which also grants
    logs:* writes on every log group).

    Args:
      spec: the function (FunctionSpec); its code_path is the zip as Terraform reads it (a
        FunctionGroup passes its asset's path); required.
      kms_key_arn: the lambda data-class key (environment encryption); required.
      log_kms_key_arn: the logs data-class key; required.
      account_id, partition, region: for ARNs in the role policy; required.
      layer_arns: up to 5 layer version ARNs; default none.
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      vpc: VpcPlacement; default None (no VPC).
      async_invoke: AsyncInvokeOptions (retries, event age, on-failure queue); default its defaults.
      system_log_level: the Lambda platform's log level with JSON log format (DEBUG, INFO or WARN;
        WARN drops the START/END/REPORT lines); default None (text format, every platform line).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        spec: FunctionSpec,
        kms_key_arn: str,
        log_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        layer_arns: Sequence[str] = (),
        log_retention_in_days: int = 30,
        vpc: VpcPlacement | None = None,
        async_invoke: AsyncInvokeOptions = DEFAULT_ASYNC_INVOKE,
        system_log_level: str | None = None,
    ):
        super().__init__(scope, id_)
        function_name, reserved = spec.function_name, spec.reserved_concurrent_executions
        problems = []
        if system_log_level is not None and system_log_level not in SYSTEM_LOG_LEVELS:
            problems.append(f"system_log_level must be one of {', '.join(SYSTEM_LOG_LEVELS)} or None, got {system_log_level!r}")
        if is_literal(function_name) and not _FUNCTION_NAME.match(function_name):
            problems.append(f"spec.function_name must be 1..64 of [A-Za-z0-9_-], got {function_name!r}")
        if not re.match(r"^[A-Za-z0-9_.]+\.[A-Za-z0-9_]+$", spec.handler):
            problems.append(f"spec.handler must be 'module.function', got {spec.handler!r}")
        if is_literal(spec.memory_size_mb) and spec.memory_size_mb not in LAMBDA_MEMORY_MB:
            problems.append(f"spec.memory_size_mb must be {LAMBDA_MEMORY_MB}, got {spec.memory_size_mb}")
        if is_literal(spec.timeout_seconds) and spec.timeout_seconds not in LAMBDA_TIMEOUT_SECONDS:
            problems.append(f"spec.timeout_seconds must be {LAMBDA_TIMEOUT_SECONDS}, got {spec.timeout_seconds}")
        if reserved is not None and is_literal(reserved) and reserved < 0:
            problems.append(f"spec.reserved_concurrent_executions must be >= 0 or None (unreserved), got {reserved}")
        if len(layer_arns) > 5:
            problems.append(f"layer_arns: a function takes at most 5 layers, got {len(layer_arns)}")
        if is_literal(log_retention_in_days) and log_retention_in_days not in LOG_RETENTION_DAYS:
            problems.append(f"log_retention_in_days must be a CloudWatch Logs retention, got {log_retention_in_days}")
        retries, event_age = async_invoke.max_retry_attempts, async_invoke.max_event_age_seconds
        if is_literal(retries) and retries not in LAMBDA_ASYNC_RETRY_ATTEMPTS:
            problems.append(f"async_invoke.max_retry_attempts must be {LAMBDA_ASYNC_RETRY_ATTEMPTS} (Lambda limit; put a "
                            f"3rd try in an SQS redrive), got {retries}")
        if is_literal(event_age) and not 60 <= event_age <= 21_600:
            problems.append(f"async_invoke.max_event_age_seconds must be 60..21600, got {event_age}")
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
        if vpc is not None:
            ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
            base += [
                {"sid": "DescribeNetwork", "actions": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                 "resources": ["*"]},
                {"sid": "ManageOwnEnis",
                 "actions": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                             "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                 "resources": [f"{ec2}:network-interface/*", f"{ec2}:subnet/*", f"{ec2}:security-group/*"]},
            ]
        failures = async_invoke.failure_queue_arn
        if failures:
            base.append({"sid": "SendAsyncFailures", "actions": ["sqs:SendMessage"],
                         "resources": [async_invoke.failure_queue_arn_by_name or failures]})
            if async_invoke.failure_queue_kms_key_arn:  # SendMessage to an encrypted queue needs a data key
                base.append({"sid": "AsyncFailuresKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
                             "resources": [async_invoke.failure_queue_kms_key_arn]})
        base_policy = self.grant("base", base)

        options: dict = {}
        if vpc is not None:
            options["vpc_config"] = LambdaFunctionVpcConfig(subnet_ids=list(vpc.subnet_ids),
                                                            security_group_ids=list(vpc.security_group_ids))
        if spec.environment:
            options["environment"] = LambdaFunctionEnvironment(variables=dict(spec.environment))
        if system_log_level is not None:
            # JSON format; the application's level stays what the handlers set (Powertools)
            options["logging_config"] = LambdaFunctionLoggingConfig(
                log_format="JSON", system_log_level=system_log_level, log_group=self.log_group.name)
        self.function = LambdaFunction(
            self, "function",
            function_name=function_name,
            role=self.role.arn,
            handler=spec.handler,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            filename=spec.code_path,
            source_code_hash=spec.source_code_hash,
            memory_size=spec.memory_size_mb,
            timeout=spec.timeout_seconds,
            reserved_concurrent_executions=reserved if reserved else -1,
            layers=list(layer_arns) or None,
            kms_key_arn=kms_key_arn,
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            publish=spec.publish,
            # the log group (retention, KMS) and the role's permissions exist before the function
            depends_on=[self.log_group, base_policy],
            **options,
        )
        invoke_options: dict = {}
        if failures:
            invoke_options["destination_config"] = LambdaFunctionEventInvokeConfigDestinationConfig(
                on_failure=LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(destination=failures))
        self.invoke_config = LambdaFunctionEventInvokeConfig(
            self, "async-invoke-config", function_name=self.function.function_name,
            maximum_retry_attempts=retries, maximum_event_age_in_seconds=event_age, **invoke_options,
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
