"""Notification: from a DynamoDB table's stream to an archive function and to subscribers
(`EventFanout`), reusable in any stack.

    table stream ─ Pipe A (archive filter) ─> archive function
                 └ Pipe B (status filter, input template) ─> event bus
    bus ─ rule (rule pattern) ─> notifications queue (its consumer publishes to the topic)
    topic <─ publisher; one subscription per `FilteredSubscription`, filtered on a message attribute

A pipe has exactly one target and a DynamoDB stream should have at most two readers, hence two
pipes and a bus whose rules fan out. The filter patterns, Pipe B's input template and the rule
pattern are arguments: the platform passes the ones its handlers define (`paycore.events`).

Failures: each pipe retries a failing batch `maximum_retry_attempts` times, bisecting it
(AUTOMATIC_BISECT) to isolate the bad record, and sends what still fails, or what is older than
`maximum_record_age_seconds`, to the fan-out dead-letter queue (`payments-fanout-dlq-{env}`), which
also takes the rule target's undeliverable events.

The bus is encrypted with the events KMS key (`kms_key_identifier`, provider >= 5.77); the key
policy admits events.amazonaws.com (security construct) and Pipe B's role may use the key. An event
the bus cannot encrypt or decrypt (the key disabled, deleted or its policy broken) goes to the bus's
own dead-letter queue (`dead_letter_config`, `payments-bus-dlq-{env}`), as the EventBridge User Guide
recommends for a bus with a customer managed key ("Using dead-letter queues to capture encrypted
event errors"): its queue policy admits events.amazonaws.com from this bus only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
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
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from constructs.core.limits import (
    PIPES_BATCH_SIZE,
    PIPES_BATCHING_WINDOW_SECONDS,
    PIPES_RECORD_AGE_SECONDS,
    PIPES_RETRY_ATTEMPTS,
)
from constructs.core.policy import deny_insecure_transport, document
from constructs.core.tokens import is_literal

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 24 * 3600
RULE_TARGET_MAX_RETRIES = 185


SUBSCRIPTION_PROTOCOLS = ("email", "https", "sqs")


def pipe_filter(pattern: Mapping[str, Any]) -> str:
    """The filter pattern text a pipe takes: compact JSON, keys sorted."""
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FilteredSubscription:
    """One topic subscription that receives only messages whose `filter_attribute` message
    attribute equals `filter_value`. id_: its construct id; protocol: 'email', 'https' or 'sqs'
    (endpoint = the queue ARN)."""

    id_: str
    protocol: str
    endpoint: str
    filter_value: str


DEFAULT_DESCRIPTIONS = {
    "bus": "Domain events",
    "rule": "Matching events -> queue",
    "archive_pipe": "Table event rows -> archive function",
    "status_pipe": "Table state rows -> the bus",
}


class EventFanout(Construct):
    """Event bus, two stream pipes, one rule to a queue, and a topic with filtered subscriptions.

    Keyword arguments:
      bus_name, rule_name, topic_name, archive_pipe_name, status_pipe_name, dlq_name: physical
        names (required; the stack can hand them to other constructs before this one exists).
      bus_dlq_name: the bus's dead-letter queue (events it cannot encrypt or decrypt); default
        `{bus_name}-bus-dlq`.
      account_id: the deploying account (pipe roles trust only pipes of this account) (required).
      events_kms_key_arn, sqs_kms_key_arn, sns_kms_key_arn (required); dynamodb_kms_key_arn: the
        table's key, which the pipes need to read its stream (required with pipes).
      rule_pattern: the rule's event pattern (required); rule_target_queue_arn: its target, whose
        queue policy must admit the rule (required).
      table_stream_arn: the stream; None leaves both pipes out (default None).
      archive_function_arn: Pipe A's target; None leaves Pipe A out (default None).
      archive_filter_pattern / status_filter_pattern: the pipes' filter patterns (required with
        pipes); status_input_template: Pipe B's input template; status_detail_type /
        status_event_source: the events Pipe B puts on the bus.
      pipes: build the pipes (default True).
      batch_size 1..10000 (default 10), maximum_retry_attempts -1/0..10000 (default 3),
        maximum_record_age_seconds -1/60..604800 (default 86400); what still fails goes to the DLQ.
      archive_batch_size 1..10000 (default batch_size) and archive_batching_window_seconds 0..300
        (default 0): Pipe A's batch, fewer archive objects per event (Pipe B keeps batch_size and
        no window: notifications should not wait).
      alert_email: subscribed to the topic, or None (default None); alert_email_filter_values: the
        `filter_attribute` values it receives (e.g. the unroutable vendor id), empty for every
        message (default: every message; each e-mail costs $2 per 100,000).
      subscriptions: FilteredSubscription each, filtered on the `filter_attribute` message
        attribute (default "vendor_id") (default none).
      email_subscriptions: False drops every e-mail subscription (default True).
      descriptions: overrides of DEFAULT_DESCRIPTIONS (keys bus, rule, archive_pipe, status_pipe).

    Attributes: bus, bus_dead_letter_queue, rule, rule_target, topic, dead_letter_queue, archive_pipe, status_pipe
      (None when left out), archive_pipe_role, status_pipe_role, subscriptions (id -> subscription;
      "alert-email" for the alert e-mail).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bus_name: str,
        rule_name: str,
        topic_name: str,
        archive_pipe_name: str,
        status_pipe_name: str,
        dlq_name: str,
        account_id: str,
        events_kms_key_arn: str,
        sqs_kms_key_arn: str,
        sns_kms_key_arn: str,
        rule_pattern: Mapping[str, Any],
        rule_target_queue_arn: str,
        dynamodb_kms_key_arn: str | None = None,
        table_stream_arn: str | None = None,
        archive_function_arn: str | None = None,
        archive_filter_pattern: Mapping[str, Any] | None = None,
        status_filter_pattern: Mapping[str, Any] | None = None,
        status_input_template: str | None = None,
        status_detail_type: str = "StatusChanged",
        status_event_source: str = "table.stream",
        pipes: bool = True,
        batch_size: int = 10,
        maximum_retry_attempts: int = 3,
        maximum_record_age_seconds: int = 86_400,
        archive_batch_size: int | None = None,
        archive_batching_window_seconds: int = 0,
        alert_email: str | None = None,
        alert_email_filter_values: Sequence[str] = (),
        subscriptions: Sequence[FilteredSubscription] = (),
        filter_attribute: str = "vendor_id",
        email_subscriptions: bool = True,
        descriptions: Mapping[str, str] | None = None,
        bus_dlq_name: str | None = None,
    ):
        super().__init__(scope, id_)
        text = {**DEFAULT_DESCRIPTIONS, **(descriptions or {})}
        problems: list[str] = []
        if is_literal(batch_size) and batch_size not in PIPES_BATCH_SIZE:
            problems.append(f"batch_size must be {PIPES_BATCH_SIZE}, got {batch_size}")
        if archive_batch_size is not None and is_literal(archive_batch_size) and archive_batch_size not in PIPES_BATCH_SIZE:
            problems.append(f"archive_batch_size must be {PIPES_BATCH_SIZE}, got {archive_batch_size}")
        if is_literal(archive_batching_window_seconds) and archive_batching_window_seconds not in PIPES_BATCHING_WINDOW_SECONDS:
            problems.append(f"archive_batching_window_seconds must be {PIPES_BATCHING_WINDOW_SECONDS}, "
                            f"got {archive_batching_window_seconds}")
        if is_literal(maximum_retry_attempts) and maximum_retry_attempts != -1 \
                and maximum_retry_attempts not in PIPES_RETRY_ATTEMPTS:
            problems.append(f"maximum_retry_attempts must be -1 or {PIPES_RETRY_ATTEMPTS}, got {maximum_retry_attempts}")
        if is_literal(maximum_record_age_seconds) and maximum_record_age_seconds != -1 \
                and maximum_record_age_seconds not in PIPES_RECORD_AGE_SECONDS:
            problems.append(f"maximum_record_age_seconds must be -1 or {PIPES_RECORD_AGE_SECONDS}, "
                            f"got {maximum_record_age_seconds}")
        if pipes and table_stream_arn and not dynamodb_kms_key_arn:
            problems.append("dynamodb_kms_key_arn is required to read the encrypted table stream, got none")
        if pipes and table_stream_arn is not None and is_literal(table_stream_arn) and ":table/" not in table_stream_arn:
            problems.append(f"table_stream_arn must be a DynamoDB stream ARN (…:table/NAME/stream/…), got {table_stream_arn!r}")
        if pipes and table_stream_arn is not None:
            if status_filter_pattern is None:
                problems.append("status_filter_pattern is required with pipes, got None")
            if archive_function_arn is not None and archive_filter_pattern is None:
                problems.append("archive_filter_pattern is required with archive_function_arn, got None")
        unknown_keys = sorted(set(text) - set(DEFAULT_DESCRIPTIONS))
        if unknown_keys:
            problems.append(f"descriptions has unknown keys {unknown_keys}; known: {sorted(DEFAULT_DESCRIPTIONS)}")
        for sub in subscriptions:
            if sub.protocol not in SUBSCRIPTION_PROTOCOLS:
                problems.append(
                    f"subscriptions[{sub.id_}]: protocol must be 'email', 'https' or 'sqs', got {sub.protocol!r}")
        ids = [sub.id_ for sub in subscriptions]
        if len(set(ids)) != len(ids) or "alert-email" in ids:
            problems.append(f"subscriptions must have distinct ids other than 'alert-email', got {ids}")
        if problems:
            raise ValueError("EventFanout: " + "; ".join(problems))

        # the bus's own DLQ first: the bus names it, its policy names the bus
        self.bus_dead_letter_queue = SqsQueue(
            self, "bus-dlq", name=bus_dlq_name or f"{bus_name}-bus-dlq", kms_master_key_id=sqs_kms_key_arn,
            kms_data_key_reuse_period_seconds=300, message_retention_seconds=DLQ_RETENTION_SECONDS)
        bus_dlq_arn = self.bus_dead_letter_queue.arn
        self.bus = CloudwatchEventBus(self, "bus", name=bus_name, kms_key_identifier=events_kms_key_arn,
                                      description=text["bus"], dead_letter_config={"arn": bus_dlq_arn})
        SqsQueuePolicy(self, "bus-dlq-policy", queue_url=self.bus_dead_letter_queue.url, policy=document(
            self, "bus-dlq-policy-document", [
                deny_insecure_transport([bus_dlq_arn], ["sqs:*"]),
                # EventBridge User Guide, "Using dead-letter queues": aws:SourceArn is the event bus
                {"sid": "AllowBusDeadLetters", "principals": {"Service": ["events.amazonaws.com"]},
                 "actions": ["sqs:SendMessage"], "resources": [bus_dlq_arn],
                 "conditions": [("ArnEquals", "aws:SourceArn", [self.bus.arn])]},
            ]).json)
        self.dead_letter_queue = SqsQueue(
            self, "dlq", name=dlq_name, kms_master_key_id=sqs_kms_key_arn, kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DLQ_RETENTION_SECONDS)
        bus_ref, dlq_arn = self.bus.name, self.dead_letter_queue.arn  # read once (jsii round trips)
        self._dlq_arn = dlq_arn
        self.rule = CloudwatchEventRule(
            self, "completed-rule", name=rule_name, event_bus_name=bus_ref,
            description=text["rule"], event_pattern=json.dumps(rule_pattern, sort_keys=True))
        self.rule_target = CloudwatchEventTarget(
            self, "completed-target", rule=self.rule.name, event_bus_name=bus_ref, target_id="notifications",
            arn=rule_target_queue_arn, dead_letter_config={"arn": dlq_arn},
            retry_policy={"maximum_event_age_in_seconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                          "maximum_retry_attempts": RULE_TARGET_MAX_RETRIES})
        dlq_policy = document(self, "dlq-policy-document", [
            deny_insecure_transport([dlq_arn], ["sqs:*"]),
            {"sid": "AllowRuleDeadLetters", "principals": {"Service": ["events.amazonaws.com"]},
             "actions": ["sqs:SendMessage"], "resources": [dlq_arn],
             "conditions": [("ArnEquals", "aws:SourceArn", [self.rule.arn])]},
        ])
        SqsQueuePolicy(self, "dlq-policy", queue_url=self.dead_letter_queue.url, policy=dlq_policy.json)

        # construct id "vendor-topic": the platform's first use, kept so its address never moves
        self.topic = SnsTopic(self, "vendor-topic", name=topic_name, kms_master_key_id=sns_kms_key_arn)
        topic_arn = self.topic.arn
        self.subscriptions: dict[str, SnsTopicSubscription] = {}
        if alert_email and email_subscriptions:
            alert_filter: dict[str, Any] = {}
            if alert_email_filter_values:
                alert_filter = dict(filter_policy=json.dumps({filter_attribute: list(alert_email_filter_values)}),
                                    filter_policy_scope="MessageAttributes")
            self.subscriptions["alert-email"] = SnsTopicSubscription(
                self, "alert-email", topic_arn=topic_arn, protocol="email", endpoint=alert_email, **alert_filter)
        for sub in subscriptions:
            if sub.protocol == "email" and not email_subscriptions:
                continue
            self.subscriptions[sub.id_] = SnsTopicSubscription(
                self, sub.id_, topic_arn=topic_arn, protocol=sub.protocol,
                endpoint=sub.endpoint, filter_policy=json.dumps({filter_attribute: [sub.filter_value]}),
                filter_policy_scope="MessageAttributes")

        self.archive_pipe = self.status_pipe = None
        self.archive_pipe_role = self.status_pipe_role = None
        if not pipes or table_stream_arn is None:
            return
        stream_read: list[dict[str, Any]] = [
            {"sid": "ReadLedgerStream", "actions": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                    "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
             "resources": [table_stream_arn]},
            {"sid": "DecryptLedgerStream", "actions": ["kms:Decrypt"], "resources": [dynamodb_kms_key_arn]},
            {"sid": "DeadLetters", "actions": ["sqs:SendMessage"], "resources": [dlq_arn]},
            {"sid": "EncryptDeadLetters", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
             "resources": [sqs_kms_key_arn]},
        ]
        source: dict[str, Any] = dict(table_stream_arn=table_stream_arn, batch_size=batch_size,
                      maximum_retry_attempts=maximum_retry_attempts,
                      maximum_record_age_seconds=maximum_record_age_seconds)
        if archive_function_arn is not None:
            assert archive_filter_pattern is not None
            self.archive_pipe_role = self._role("archive-pipe", archive_pipe_name, account_id, stream_read + [
                {"sid": "InvokeArchiver", "actions": ["lambda:InvokeFunction"], "resources": [archive_function_arn]},
            ])
            self.archive_pipe = PipesPipe(
                self, "archive-pipe", name=archive_pipe_name, role_arn=self.archive_pipe_role.arn,
                description=text["archive_pipe"], target=archive_function_arn,
                source_parameters=self._source(
                    pattern=archive_filter_pattern, **{**source, "batch_size": archive_batch_size or batch_size},
                    batching_window_seconds=archive_batching_window_seconds),
                target_parameters=PipesPipeTargetParameters(
                    lambda_function_parameters={"invocation_type": "REQUEST_RESPONSE"}),
                source=table_stream_arn,
            )
        assert status_filter_pattern is not None
        self.status_pipe_role = self._role("status-pipe", status_pipe_name, account_id, stream_read + [
            {"sid": "PutDomainEvents", "actions": ["events:PutEvents"], "resources": [self.bus.arn]},
            {"sid": "EncryptDomainEvents", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
             "resources": [events_kms_key_arn]},
        ])
        self.status_pipe = PipesPipe(
            self, "status-pipe", name=status_pipe_name, role_arn=self.status_pipe_role.arn,
            description=text["status_pipe"], target=self.bus.arn,
            source_parameters=self._source(pattern=status_filter_pattern, **source),
            target_parameters=PipesPipeTargetParameters(
                input_template=status_input_template,
                eventbridge_event_bus_parameters={"detail_type": status_detail_type,
                                                  "source": status_event_source}),
            source=table_stream_arn,
        )

    def _source(self, *, pattern: Mapping[str, Any], table_stream_arn: str, batch_size: int, maximum_retry_attempts: int,
                maximum_record_age_seconds: int, batching_window_seconds: int = 0) -> PipesPipeSourceParameters:
        return PipesPipeSourceParameters(
            dynamodb_stream_parameters=PipesPipeSourceParametersDynamodbStreamParameters(
                starting_position="LATEST", batch_size=batch_size, maximum_retry_attempts=maximum_retry_attempts,
                maximum_batching_window_in_seconds=batching_window_seconds or None,
                maximum_record_age_in_seconds=maximum_record_age_seconds,
                on_partial_batch_item_failure="AUTOMATIC_BISECT",
                dead_letter_config={"arn": self._dlq_arn},
            ),
            filter_criteria=PipesPipeSourceParametersFilterCriteria(
                filter=[PipesPipeSourceParametersFilterCriteriaFilter(pattern=pipe_filter(pattern))]),
        )

    def _role(self, id_: str, pipe_name: str, account_id: str, statements: list[dict]) -> IamRole:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "pipes.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }]}
        role = IamRole(self, f"{id_}-role", name=f"{pipe_name}-pipe", assume_role_policy=json.dumps(trust))
        IamRolePolicy(self, f"{id_}-policy", role=role.id, name="pipe",
                      policy=document(self, f"{id_}-policy-document", statements).json)
        return role

