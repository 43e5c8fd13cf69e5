"""The REST API's stage: X-Ray, access logs (no query string: keys may travel in it), execution logs
encrypted and retained, no cache, throttling; optionally the account's CloudWatch role."""

from __future__ import annotations

import json
from typing import Any

from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage, ApiGatewayStageAccessLogSettings
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from constructs.ingress.options import ApiLogOptions, StageOptions

#: Stage access log line (JSON, compact: the format's spaces would be in every line). No path with
#: query string: a gate key may be in it. No protocol: a REST API answers HTTP/1.1 only.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integrationLatency",
    "responseLatency": "$context.responseLatency",
    "authorizerError": "$context.authorizer.error",
    "wafStatus": "$context.waf.status",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}, sort_keys=True, separators=(",", ":"))


def build_stage(scope: Construct, *, name: str, api_id: str, deployment_id: str, logs: ApiLogOptions,
                stage: StageOptions) -> tuple[ApiGatewayStage, CloudwatchLogGroup]:
    """The stage of `api_id` at `deployment_id`, its access log group and method settings, created
    in `scope` (ids access-logs, execution-logs, stage, method-settings; with
    `logs.manage_account_logging` also cloudwatch-role, cloudwatch-role-logs, account)."""
    access_log_group = CloudwatchLogGroup(
        scope, "access-logs", name=f"/aws/apigateway/{name}/access", retention_in_days=logs.retention_in_days,
        kms_key_id=logs.kms_key_arn,
        log_group_class=None if logs.access_log_class == "STANDARD" else logs.access_log_class)
    # API Gateway writes execution logs here; created first so they are encrypted and retained.
    execution_logs = CloudwatchLogGroup(
        scope, "execution-logs", name=f"API-Gateway-Execution-Logs_{api_id}/{stage.name}",
        retention_in_days=logs.retention_in_days, kms_key_id=logs.kms_key_arn)
    depends: list[Any] = [execution_logs]
    if logs.manage_account_logging:
        role = IamRole(scope, "cloudwatch-role", name=f"{name}-cloudwatch", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                           "Action": "sts:AssumeRole",
                           "Condition": {"StringEquals": {"aws:SourceAccount": logs.account_id}}}],
        }))
        IamRolePolicyAttachment(
            scope, "cloudwatch-role-logs", role=role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        depends.append(ApiGatewayAccount(scope, "account", cloudwatch_role_arn=role.arn))
    api_stage = ApiGatewayStage(
        scope, "stage", rest_api_id=api_id, deployment_id=deployment_id, stage_name=stage.name,
        xray_tracing_enabled=True, cache_cluster_enabled=False, variables=dict(stage.variables) or None,
        access_log_settings=ApiGatewayStageAccessLogSettings(
            destination_arn=access_log_group.arn, format=ACCESS_LOG_FORMAT),
        depends_on=depends,
    )
    ApiGatewayMethodSettings(
        scope, "method-settings", rest_api_id=api_id, stage_name=api_stage.stage_name, method_path="*/*",
        settings=ApiGatewayMethodSettingsSettings(
            metrics_enabled=True, logging_level="ERROR", data_trace_enabled=False,
            throttling_rate_limit=stage.throttle_rate_limit_rps, throttling_burst_limit=stage.throttle_burst_limit,
            caching_enabled=False, cache_data_encrypted=True,
        ),
    )
    return api_stage, access_log_group
