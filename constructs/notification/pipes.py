"""The two EventBridge Pipes of `EventFanout` on a DynamoDB stream: Pipe A to the archive
function, Pipe B to the event bus; each with a role of its own that reads the stream and sends
what still fails to the fan-out dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.pipes_pipe import (
    PipesPipe,
    PipesPipeSourceParameters,
    PipesPipeSourceParametersDynamodbStreamParameters,
    PipesPipeSourceParametersFilterCriteria,
    PipesPipeSourceParametersFilterCriteriaFilter,
    PipesPipeTargetParameters,
)
from constructs import Construct

from constructs.core.policy import document
from constructs.notification.options import PipeOptions


def pipe_filter(pattern: Mapping[str, Any]) -> str:
    """The filter pattern text a pipe takes: compact JSON, keys sorted."""
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Pipes:
    """What `build_pipes` made: each pipe and its role (the archive ones None without Pipe A)."""

    archive_pipe: PipesPipe | None
    archive_pipe_role: IamRole | None
    status_pipe: PipesPipe
    status_pipe_role: IamRole


def build_pipes(scope: Construct, options: PipeOptions, *, account_id: str, dead_letter_queue_arn: str,
                sqs_kms_key_arn: str, bus_arn: str, events_kms_key_arn: str) -> Pipes:
    """Pipe A (ids `archive-pipe`, `archive-pipe-role`, ...) when `options.archive` is given, and
    Pipe B (`status-pipe`, ...), created in `scope`."""
    stream_arn = options.table_stream_arn
    stream_read: list[dict[str, Any]] = [
        {"sid": "ReadLedgerStream", "actions": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
         "resources": [stream_arn]},
        {"sid": "DecryptLedgerStream", "actions": ["kms:Decrypt"], "resources": [options.stream_kms_key_arn]},
        {"sid": "DeadLetters", "actions": ["sqs:SendMessage"], "resources": [dead_letter_queue_arn]},
        {"sid": "EncryptDeadLetters", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
         "resources": [sqs_kms_key_arn]},
    ]
    source: dict[str, Any] = dict(table_stream_arn=stream_arn, batch_size=options.batch_size,
                                  maximum_retry_attempts=options.maximum_retry_attempts,
                                  maximum_record_age_seconds=options.maximum_record_age_seconds,
                                  dead_letter_queue_arn=dead_letter_queue_arn)
    archive_pipe = archive_role = None
    archive = options.archive
    if archive is not None:
        archive_role = _role(scope, "archive-pipe", archive.name, account_id, stream_read + [
            {"sid": "InvokeArchiver", "actions": ["lambda:InvokeFunction"], "resources": [archive.function_arn]},
        ])
        archive_pipe = PipesPipe(
            scope, "archive-pipe", name=archive.name, role_arn=archive_role.arn,
            description=archive.description, target=archive.function_arn,
            source_parameters=_source(
                pattern=archive.filter_pattern, **{**source, "batch_size": archive.batch_size or options.batch_size},
                batching_window_seconds=archive.batching_window_seconds),
            target_parameters=PipesPipeTargetParameters(
                lambda_function_parameters={"invocation_type": "REQUEST_RESPONSE"}),
            source=stream_arn,
        )
    status = options.status
    status_role = _role(scope, "status-pipe", status.name, account_id, stream_read + [
        {"sid": "PutDomainEvents", "actions": ["events:PutEvents"], "resources": [bus_arn]},
        {"sid": "EncryptDomainEvents", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
         "resources": [events_kms_key_arn]},
    ])
    status_pipe = PipesPipe(
        scope, "status-pipe", name=status.name, role_arn=status_role.arn,
        description=status.description, target=bus_arn,
        source_parameters=_source(pattern=status.filter_pattern, **source),
        target_parameters=PipesPipeTargetParameters(
            input_template=status.input_template,
            eventbridge_event_bus_parameters={"detail_type": status.detail_type, "source": status.event_source}),
        source=stream_arn,
    )
    return Pipes(archive_pipe, archive_role, status_pipe, status_role)


def _source(*, pattern: Mapping[str, Any], table_stream_arn: str, batch_size: int, maximum_retry_attempts: int,
            maximum_record_age_seconds: int, dead_letter_queue_arn: str,
            batching_window_seconds: int = 0) -> PipesPipeSourceParameters:
    return PipesPipeSourceParameters(
        dynamodb_stream_parameters=PipesPipeSourceParametersDynamodbStreamParameters(
            starting_position="LATEST", batch_size=batch_size, maximum_retry_attempts=maximum_retry_attempts,
            maximum_batching_window_in_seconds=batching_window_seconds or None,
            maximum_record_age_in_seconds=maximum_record_age_seconds,
            on_partial_batch_item_failure="AUTOMATIC_BISECT",
            dead_letter_config={"arn": dead_letter_queue_arn},
        ),
        filter_criteria=PipesPipeSourceParametersFilterCriteria(
            filter=[PipesPipeSourceParametersFilterCriteriaFilter(pattern=pipe_filter(pattern))]),
    )


def _role(scope: Construct, id_: str, pipe_name: str, account_id: str, statements: list[dict]) -> IamRole:
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "pipes.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }]}
    role = IamRole(scope, f"{id_}-role", name=f"{pipe_name}-pipe", assume_role_policy=json.dumps(trust))
    IamRolePolicy(scope, f"{id_}-policy", role=role.id, name="pipe",
                  policy=document(scope, f"{id_}-policy-document", statements).json)
    return role
