"""Event fan-out (M9, M11, C7, C9): from the ledger's stream to the archive and to the vendors.

    ledger stream ─ Pipe A `payments-archive-{env}` (filter: INSERT of an event row) ─> archiver Lambda
                  └ Pipe B `payments-status-{env}`  (filter: state row written)  ─> bus `payments-{env}`
    bus ─ rule `payment-completed-{env}` (detail.new_status = succeeded) ─> notifications queue
    vendor topic `payment-vendor-notifications-{env}` <─ notifier; subscriptions filter on vendor_id

A pipe has exactly one target and a DynamoDB stream should have at most two readers, hence two
pipes and a bus whose rules fan out. The filter patterns, Pipe B's input template and the rule
pattern come from `paycore.events`, the one definition the local runner applies too.

Failures: each pipe retries a failing batch `maximum_retry_attempts` times, bisecting it
(AUTOMATIC_BISECT) to isolate the bad record, and sends what still fails, or what is older than
`maximum_record_age_seconds`, to the fan-out dead-letter queue (`payments-fanout-dlq-{env}`), which
also takes the rule target's undeliverable events.

The bus is encrypted with the events KMS key (`kms_key_identifier`, provider >= 5.77); the key
policy admits events.amazonaws.com (security construct) and Pipe B's role may use the key.
"""

from __future__ import annotations

import json
from typing import Sequence


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

from constructs.policy import deny_insecure_transport, document
from constructs.settings import VendorSubscription
from constructs.tokens import is_literal

from paycore import events as domain_events  # noqa: E402  (one definition with the local runner)

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 24 * 3600
RULE_TARGET_MAX_RETRIES = 185


def pipe_filter(pattern: dict) -> str:
    """The filter pattern text a pipe takes, exactly as `paycore.events.filter_criteria` renders it."""
    return domain_events.filter_criteria(pattern)["Filters"][0]["Pattern"]


class EventFanout(Construct):
    """Bus, pipes, completed-payment rule and the vendor topic.

    Keyword arguments:
      bus_name, rule_name, vendor_topic_name: physical names (from the stack, which also hands
        them to the configuration before this construct exists) (required).
      archive_pipe_name, status_pipe_name, dlq_name: physical names (required).
      account_id: the deploying account (pipe roles trust only pipes of this account) (required).
      events_kms_key_arn, sqs_kms_key_arn, sns_kms_key_arn (required); dynamodb_kms_key_arn: the
        ledger's key, which the pipes need to read its stream (required with pipes).
      notifications_queue_arn: the rule's target (its queue policy admits the rule) (required).
      table_stream_arn: the ledger stream; None leaves both pipes out (default None).
      archiver_function_arn: Pipe A's target; None leaves Pipe A out (default None).
      pipes: build the pipes (default True).
      batch_size 1..10000 (default 10), maximum_retry_attempts -1/0..10000 (default 3),
        maximum_record_age_seconds -1/60..604800 (default 86400).
      alert_email: subscribed to the vendor topic unfiltered (F5), or None (default None).
      vendor_subscriptions: one filtered subscription each (default none).
      email_subscriptions: False drops every e-mail subscription (default True).

    Attributes: bus, rule, rule_target, vendor_topic, dead_letter_queue, archive_pipe, status_pipe
      (None when left out), archive_pipe_role, status_pipe_role, subscriptions (endpoint key ->
      subscription).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bus_name: str,
        rule_name: str,
        vendor_topic_name: str,
        archive_pipe_name: str,
        status_pipe_name: str,
        dlq_name: str,
        account_id: str,
        events_kms_key_arn: str,
        sqs_kms_key_arn: str,
        sns_kms_key_arn: str,
        notifications_queue_arn: str,
        dynamodb_kms_key_arn: str | None = None,
        table_stream_arn: str | None = None,
        archiver_function_arn: str | None = None,
        pipes: bool = True,
        batch_size: int = 10,
        maximum_retry_attempts: int = 3,
        maximum_record_age_seconds: int = 86_400,
        alert_email: str | None = None,
        vendor_subscriptions: Sequence[VendorSubscription] = (),
        email_subscriptions: bool = True,
    ):
        super().__init__(scope, id_)


        problems: list[str] = []
        if is_literal(batch_size) and not 1 <= batch_size <= 10_000:
            problems.append(f"batch_size must be 1..10000, got {batch_size}")
        if is_literal(maximum_retry_attempts) and not (maximum_retry_attempts == -1 or 0 <= maximum_retry_attempts <= 10_000):
            problems.append(f"maximum_retry_attempts must be -1 or 0..10000, got {maximum_retry_attempts}")
        if is_literal(maximum_record_age_seconds) and not (
                maximum_record_age_seconds == -1 or 60 <= maximum_record_age_seconds <= 604_800):
            problems.append(f"maximum_record_age_seconds must be -1 or 60..604800, got {maximum_record_age_seconds}")
        if pipes and table_stream_arn and not dynamodb_kms_key_arn:
            problems.append("dynamodb_kms_key_arn is required to read the encrypted ledger stream, got none")
        if pipes and table_stream_arn is not None and is_literal(table_stream_arn) and ":table/" not in table_stream_arn:
            problems.append(f"table_stream_arn must be a DynamoDB stream ARN (…:table/NAME/stream/…), got {table_stream_arn!r}")
        for sub in vendor_subscriptions:
            if sub.protocol not in ("email", "https", "sqs"):
                problems.append(
                    f"vendor_subscriptions[{sub.vendor_id}]: protocol must be 'email', 'https' or 'sqs', got {sub.protocol!r}")
        keys = [(s.vendor_id, s.endpoint) for s in vendor_subscriptions]
        if len(set(keys)) != len(keys):
            problems.append(f"vendor_subscriptions repeat a vendor and endpoint: {sorted(keys)}")
        if problems:
            raise ValueError("EventFanout: " + "; ".join(problems))

        self.bus = CloudwatchEventBus(self, "bus", name=bus_name, kms_key_identifier=events_kms_key_arn,
                                      description="Payment domain events (TransactionStatusChanged)")
        self.dead_letter_queue = SqsQueue(
            self, "dlq", name=dlq_name, kms_master_key_id=sqs_kms_key_arn, kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DLQ_RETENTION_SECONDS)
        bus_ref, dlq_arn = self.bus.name, self.dead_letter_queue.arn  # read once (jsii round trips)
        self._dlq_arn = dlq_arn
        self.rule = CloudwatchEventRule(
            self, "completed-rule", name=rule_name, event_bus_name=bus_ref,
            description="Completed payments -> notifications queue",
            event_pattern=json.dumps(domain_events.COMPLETED_PAYMENT_RULE_PATTERN, sort_keys=True))
        self.rule_target = CloudwatchEventTarget(
            self, "completed-target", rule=self.rule.name, event_bus_name=bus_ref, target_id="notifications",
            arn=notifications_queue_arn, dead_letter_config={"arn": dlq_arn},
            retry_policy={"maximum_event_age_in_seconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                          "maximum_retry_attempts": RULE_TARGET_MAX_RETRIES})
        dlq_policy = document(self, "dlq-policy-document", [
            deny_insecure_transport([dlq_arn], ["sqs:*"]),
            {"sid": "AllowRuleDeadLetters", "principals": {"Service": ["events.amazonaws.com"]},
             "actions": ["sqs:SendMessage"], "resources": [dlq_arn],
             "conditions": [("ArnEquals", "aws:SourceArn", [self.rule.arn])]},
        ])
        SqsQueuePolicy(self, "dlq-policy", queue_url=self.dead_letter_queue.url, policy=dlq_policy.json)

        self.vendor_topic = SnsTopic(self, "vendor-topic", name=vendor_topic_name, kms_master_key_id=sns_kms_key_arn)
        topic_arn = self.vendor_topic.arn
        self.subscriptions: dict[str, SnsTopicSubscription] = {}
        if alert_email and email_subscriptions:
            self.subscriptions["alert-email"] = SnsTopicSubscription(
                self, "alert-email", topic_arn=topic_arn, protocol="email", endpoint=alert_email)
        for index, sub in enumerate(vendor_subscriptions):
            if sub.protocol == "email" and not email_subscriptions:
                continue
            self.subscriptions[f"{sub.vendor_id}-{index}"] = SnsTopicSubscription(
                self, f"vendor-{sub.vendor_id}-{index}", topic_arn=topic_arn, protocol=sub.protocol,
                endpoint=sub.endpoint, filter_policy=json.dumps({"vendor_id": [sub.vendor_id]}),
                filter_policy_scope="MessageAttributes")

        self.archive_pipe = self.status_pipe = None
        self.archive_pipe_role = self.status_pipe_role = None
        if not pipes or table_stream_arn is None:
            return
        stream_read = [
            {"sid": "ReadLedgerStream", "actions": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                    "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
             "resources": [table_stream_arn]},
            {"sid": "DecryptLedgerStream", "actions": ["kms:Decrypt"], "resources": [dynamodb_kms_key_arn]},
            {"sid": "DeadLetters", "actions": ["sqs:SendMessage"], "resources": [dlq_arn]},
            {"sid": "EncryptDeadLetters", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
             "resources": [sqs_kms_key_arn]},
        ]
        source = dict(table_stream_arn=table_stream_arn, batch_size=batch_size,
                      maximum_retry_attempts=maximum_retry_attempts,
                      maximum_record_age_seconds=maximum_record_age_seconds)
        if archiver_function_arn is not None:
            self.archive_pipe_role = self._role("archive-pipe", archive_pipe_name, account_id, stream_read + [
                {"sid": "InvokeArchiver", "actions": ["lambda:InvokeFunction"], "resources": [archiver_function_arn]},
            ])
            self.archive_pipe = PipesPipe(
                self, "archive-pipe", name=archive_pipe_name, role_arn=self.archive_pipe_role.arn,
                description="Ledger event rows -> archiver", target=archiver_function_arn,
                source_parameters=self._source(pattern=domain_events.PIPE_A_FILTER_PATTERN, **source),
                target_parameters=PipesPipeTargetParameters(
                    lambda_function_parameters={"invocation_type": "REQUEST_RESPONSE"}),
                source=table_stream_arn,
            )
        self.status_pipe_role = self._role("status-pipe", status_pipe_name, account_id, stream_read + [
            {"sid": "PutDomainEvents", "actions": ["events:PutEvents"], "resources": [self.bus.arn]},
            {"sid": "EncryptDomainEvents", "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
             "resources": [events_kms_key_arn]},
        ])
        self.status_pipe = PipesPipe(
            self, "status-pipe", name=status_pipe_name, role_arn=self.status_pipe_role.arn,
            description="Ledger state rows -> TransactionStatusChanged on the bus", target=self.bus.arn,
            source_parameters=self._source(pattern=domain_events.PIPE_B_FILTER_PATTERN, **source),
            target_parameters=PipesPipeTargetParameters(
                input_template=domain_events.PIPE_B_INPUT_TEMPLATE,
                eventbridge_event_bus_parameters={"detail_type": domain_events.DOMAIN_EVENT_DETAIL_TYPE,
                                                  "source": domain_events.DOMAIN_EVENT_SOURCE}),
            source=table_stream_arn,
        )

    def _source(self, *, pattern: dict, table_stream_arn: str, batch_size: int, maximum_retry_attempts: int,
                maximum_record_age_seconds: int) -> PipesPipeSourceParameters:
        return PipesPipeSourceParameters(
            dynamodb_stream_parameters=PipesPipeSourceParametersDynamodbStreamParameters(
                starting_position="LATEST", batch_size=batch_size, maximum_retry_attempts=maximum_retry_attempts,
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

