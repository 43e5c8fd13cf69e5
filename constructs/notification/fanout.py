"""`EventFanout`: from a DynamoDB table's stream to an archive function and to subscribers,
reusable in any stack.

    table stream ─ Pipe A (archive filter) ─> archive function
                 └ Pipe B (status filter, input template) ─> event bus
    bus ─ rule (rule pattern) ─> notifications queue (its consumer publishes to the topic)
    topic <─ publisher; one subscription per `FilteredSubscription`, filtered on a message attribute

A pipe has exactly one target and a DynamoDB stream should have at most two readers, hence two
pipes and a bus whose rules fan out. The filter patterns, Pipe B's input template and the rule
pattern are options: the platform passes the ones its handlers define (`paycore.events`).

Failures: each pipe retries a failing batch `maximum_retry_attempts` times, bisecting it
(AUTOMATIC_BISECT) to isolate the bad record, and sends what still fails, or what is older than
`maximum_record_age_seconds`, to the fan-out dead-letter queue, which also takes the rule
target's undeliverable events.

The bus is encrypted with the events KMS key (`kms_key_identifier`, provider >= 5.77); the key
policy admits events.amazonaws.com (security construct) and Pipe B's role may use the key. An event
the bus cannot encrypt or decrypt (the key disabled, deleted or its policy broken) goes to the bus's
own dead-letter queue (`dead_letter_config`), as the EventBridge User Guide recommends for a bus
with a customer managed key ("Using dead-letter queues to capture encrypted event errors"): its
queue policy admits events.amazonaws.com from this bus only.
"""

from __future__ import annotations

import json
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
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
from constructs.notification.options import (
    SUBSCRIPTION_PROTOCOLS,
    BusOptions,
    FanoutKeys,
    PipeOptions,
    RuleOptions,
    TopicOptions,
)
from constructs.notification.pipes import build_pipes

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 24 * 3600
RULE_TARGET_MAX_RETRIES = 185


class EventFanout(Construct):
    """Event bus, two stream pipes, one rule to a queue, and a topic with filtered subscriptions.

    Keyword arguments (see each option's docstring):
      account_id: the deploying account (pipe roles trust only pipes of this account) (required).
      keys: FanoutKeys (events, sqs, sns) (required).
      bus: BusOptions; rule: RuleOptions; topic: TopicOptions (required).
      dead_letter_queue_name: the fan-out DLQ: what the pipes and the rule target cannot deliver
        (required).
      pipes: PipeOptions; None leaves both pipes out (default None).

    Attributes: bus, bus_dead_letter_queue, rule, rule_target, topic, dead_letter_queue, archive_pipe, status_pipe
      (None when left out), archive_pipe_role, status_pipe_role, subscriptions (id -> subscription;
      "alert-email" for the alert e-mail).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        account_id: str,
        keys: FanoutKeys,
        bus: BusOptions,
        rule: RuleOptions,
        topic: TopicOptions,
        dead_letter_queue_name: str,
        pipes: PipeOptions | None = None,
    ):
        super().__init__(scope, id_)
        problems = _problems(topic, pipes)
        if problems:
            raise ValueError("EventFanout: " + "; ".join(problems))

        # the bus's own DLQ first: the bus names it, its policy names the bus
        self.bus_dead_letter_queue = SqsQueue(
            self, "bus-dlq", name=bus.dead_letter_queue_name or f"{bus.name}-bus-dlq", kms_master_key_id=keys.sqs,
            kms_data_key_reuse_period_seconds=300, message_retention_seconds=DLQ_RETENTION_SECONDS)
        bus_dlq_arn = self.bus_dead_letter_queue.arn
        self.bus = CloudwatchEventBus(self, "bus", name=bus.name, kms_key_identifier=keys.events,
                                      description=bus.description, dead_letter_config={"arn": bus_dlq_arn})
        SqsQueuePolicy(self, "bus-dlq-policy", queue_url=self.bus_dead_letter_queue.url, policy=document(
            self, "bus-dlq-policy-document", [
                deny_insecure_transport([bus_dlq_arn], ["sqs:*"]),
                # EventBridge User Guide, "Using dead-letter queues": aws:SourceArn is the event bus
                {"sid": "AllowBusDeadLetters", "principals": {"Service": ["events.amazonaws.com"]},
                 "actions": ["sqs:SendMessage"], "resources": [bus_dlq_arn],
                 "conditions": [("ArnEquals", "aws:SourceArn", [self.bus.arn])]},
            ]).json)
        self.dead_letter_queue = SqsQueue(
            self, "dlq", name=dead_letter_queue_name, kms_master_key_id=keys.sqs, kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DLQ_RETENTION_SECONDS)
        bus_ref, dlq_arn = self.bus.name, self.dead_letter_queue.arn  # read once (jsii round trips)
        self.rule = CloudwatchEventRule(
            self, "completed-rule", name=rule.name, event_bus_name=bus_ref,
            description=rule.description, event_pattern=json.dumps(rule.pattern, sort_keys=True))
        self.rule_target = CloudwatchEventTarget(
            self, "completed-target", rule=self.rule.name, event_bus_name=bus_ref, target_id="notifications",
            arn=rule.target_queue_arn, dead_letter_config={"arn": dlq_arn},
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
        self.topic = SnsTopic(self, "vendor-topic", name=topic.name, kms_master_key_id=keys.sns)
        self.subscriptions: dict[str, SnsTopicSubscription] = {}
        self._subscribe(topic)

        self.archive_pipe = self.status_pipe = None
        self.archive_pipe_role = self.status_pipe_role = None
        if pipes is None:
            return
        built = build_pipes(self, pipes, account_id=account_id, dead_letter_queue_arn=dlq_arn, sqs_kms_key_arn=keys.sqs,
                            bus_arn=self.bus.arn, events_kms_key_arn=keys.events)
        self.archive_pipe, self.archive_pipe_role = built.archive_pipe, built.archive_pipe_role
        self.status_pipe, self.status_pipe_role = built.status_pipe, built.status_pipe_role

    def _subscribe(self, topic: TopicOptions) -> None:
        topic_arn, attribute = self.topic.arn, topic.filter_attribute
        if topic.alert_email and topic.email_subscriptions:
            alert_filter: dict[str, Any] = {}
            if topic.alert_email_filter_values:
                alert_filter = dict(filter_policy=json.dumps({attribute: list(topic.alert_email_filter_values)}),
                                    filter_policy_scope="MessageAttributes")
            self.subscriptions["alert-email"] = SnsTopicSubscription(
                self, "alert-email", topic_arn=topic_arn, protocol="email", endpoint=topic.alert_email, **alert_filter)
        for sub in topic.subscriptions:
            if sub.protocol == "email" and not topic.email_subscriptions:
                continue
            self.subscriptions[sub.id_] = SnsTopicSubscription(
                self, sub.id_, topic_arn=topic_arn, protocol=sub.protocol,
                endpoint=sub.endpoint, filter_policy=json.dumps({attribute: [sub.filter_value]}),
                filter_policy_scope="MessageAttributes")


def _problems(topic: TopicOptions, pipes: PipeOptions | None) -> list[str]:
    """Every problem of the options, each naming the option and the value given."""
    problems: list[str] = []
    if pipes is not None:
        if is_literal(pipes.batch_size) and pipes.batch_size not in PIPES_BATCH_SIZE:
            problems.append(f"pipes.batch_size must be {PIPES_BATCH_SIZE}, got {pipes.batch_size}")
        archive = pipes.archive
        if archive is not None:
            if archive.batch_size is not None and is_literal(archive.batch_size) \
                    and archive.batch_size not in PIPES_BATCH_SIZE:
                problems.append(f"pipes.archive.batch_size must be {PIPES_BATCH_SIZE}, got {archive.batch_size}")
            window = archive.batching_window_seconds
            if is_literal(window) and window not in PIPES_BATCHING_WINDOW_SECONDS:
                problems.append(f"pipes.archive.batching_window_seconds must be {PIPES_BATCHING_WINDOW_SECONDS}, "
                                f"got {window}")
        retries, age = pipes.maximum_retry_attempts, pipes.maximum_record_age_seconds
        if is_literal(retries) and retries != -1 and retries not in PIPES_RETRY_ATTEMPTS:
            problems.append(f"pipes.maximum_retry_attempts must be -1 or {PIPES_RETRY_ATTEMPTS}, got {retries}")
        if is_literal(age) and age != -1 and age not in PIPES_RECORD_AGE_SECONDS:
            problems.append(f"pipes.maximum_record_age_seconds must be -1 or {PIPES_RECORD_AGE_SECONDS}, got {age}")
        if is_literal(pipes.table_stream_arn) and ":table/" not in pipes.table_stream_arn:
            problems.append(f"pipes.table_stream_arn must be a DynamoDB stream ARN (…:table/NAME/stream/…), "
                            f"got {pipes.table_stream_arn!r}")
    for sub in topic.subscriptions:
        if sub.protocol not in SUBSCRIPTION_PROTOCOLS:
            problems.append(f"topic.subscriptions[{sub.id_}]: protocol must be 'email', 'https' or 'sqs', "
                            f"got {sub.protocol!r}")
    ids = [sub.id_ for sub in topic.subscriptions]
    if len(set(ids)) != len(ids) or "alert-email" in ids:
        problems.append(f"topic.subscriptions must have distinct ids other than 'alert-email', got {ids}")
    return problems
