"""Vendor delivery: signed outbound webhooks with durable retries, reusable in any stack.

`VendorDelivery` builds the delivery path of lambda_src/README.md ("Vendor delivery"):

    bus rule -> SQS delivery-events (+ DLQ) -> fan-out function -> SQS FIFO deliveries (no redrive)
    -> sender function (VPC, egress security group) -> vendors; table of messages and attempts;
    FIFO dead-letter queue for exhausted messages; a second rule sends the delivery events
    (exhausted, endpoint disabled) to the alerts topic.

The product's names, rule patterns and endpoint document are arguments (the app layer derives
them from `paycore.delivery`); the functions are built by the caller's `function_builder`, so they
share the caller's layer, keys, logging and VPC placement.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupEgress
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from constructs.core.policy import document
from constructs.core.tokens import is_literal, is_token
from constructs.processing import SQS_BATCH_SIZE, FunctionSpec, ServerlessFunction
from constructs.queueing import FOURTEEN_DAYS, VISIBILITY_FACTOR, FifoQueue, WebhookQueue
from constructs.storage import encrypted_table

#: builds one function: (construct id, spec, security group ids or None for the caller's) -> function
FunctionBuilder = Callable[[str, FunctionSpec, "Sequence[str] | None"], ServerlessFunction]
#: SSM String parameters above 4 KB need the Advanced tier (8 KB).
STANDARD_PARAMETER_BYTES = 4_096
ADVANCED_PARAMETER_BYTES = 8_192
#: GSI name -> (partition key, sort key); KEYS_ONLY (the ops tooling fetches the rows it lists).
INDEXES = {"by-endpoint": ("endpoint_key", "sort_key"), "by-transaction": ("txn_key", "sort_key")}
FOUR_DAYS = 345_600
# EventBridge's own limits: retry a target for up to a day, 185 attempts
RULE_TARGET_MAX_EVENT_AGE_SECONDS = 86_400
RULE_TARGET_MAX_RETRIES = 185
_HTTPS = 443
_ENDPOINT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{2,47}$")


class VendorDelivery(Construct):
    """Queues, table, endpoint parameter, signing secrets, the two functions and their event
    sources, the bus rules and the sender's egress security group.

    Keyword arguments (names are physical names; all required unless a default is given):
      events_queue_name: standard queue the delivery rule feeds (DLQ `{name}-dlq` unless
        events_dead_letter_queue_name); visibility 6 x the fan-out timeout, retention 4 days,
        redrive after `events_max_receive_count` (1..1000, default 5) receives.
      queue_name / dead_letter_queue_name: the deliveries FIFO queue (no redrive policy: a held
        message counts receives, the sender dead-letters itself) and its FIFO dead-letter queue.
      table_name: pk `pk` / sk `sk`, TTL `expires_at`, PITR, KMS, KEYS_ONLY GSIs `INDEXES`.
      endpoints_parameter_name / endpoints_document: the SSM String parameter holding the endpoint
        configuration (JSON text, at most 8 KB; Advanced tier above 4 KB).
      signing_secret_names: endpoint id -> secret name (one empty secret each; values are set by the
        ops tooling, never by Terraform); signing_secret_prefix: what every such name starts with
        (the sender may read `{prefix}*`).
      event_bus_name / event_bus_arn: the bus the rules listen on and the sender writes to.
      rule_name / rule_pattern: the rule feeding `events_queue_name`.
      alerts_rule_name / alerts_rule_pattern / alert_topic_arn: the rule sending delivery events to
        the alerts topic (its policy must admit events.amazonaws.com from this rule).
      sqs_kms_key_arn, dynamodb_kms_key_arn, secrets_kms_key_arn, events_kms_key_arn: the keys.
      account_id, partition, region: for the secrets ARN pattern.
      fanout_function / sender_function: FunctionSpec of each (their environment is extended with
        the queue, table, parameter and bus names); function_builder: see FunctionBuilder.
      vpc_id / vpc_cidr: with a VPC, the sender gets its own security group (egress tcp/443 to the
        VPC's interface endpoints and to 0.0.0.0/0 through the NAT); default None (no VPC).
      sender_maximum_concurrency: 2..1000, the sender's event source cap (default 20).
      event_source_mappings_enabled: default True (False deploys them disabled).
      secret_recovery_window_in_days: 0 or 7..30 (default 30).
      deletion_protection_enabled: the table's (default False).
      dlq_redrive_allow_policy: only the events queue may use its DLQ (default True).
      ops_policy_name: a managed policy for the people running the delivery operations (list,
        resend, recover, pause/resume, signing secrets), attached to nobody; default None (none).

    Attributes: events_queue (WebhookQueue), queue, dead_letter_queue (SqsQueue), table,
      endpoints_parameter, signing_secrets (endpoint id -> secret), fanout, sender
      (ServerlessFunction), event_source_mappings ("fanout"/"sender" -> mapping), rule,
      rule_target, alerts_rule, alerts_rule_target, sender_security_group (None without a VPC),
      ops_policy (None without ops_policy_name).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        events_queue_name: str,
        queue_name: str,
        dead_letter_queue_name: str,
        table_name: str,
        endpoints_parameter_name: str,
        endpoints_document: str,
        signing_secret_names: Mapping[str, str],
        signing_secret_prefix: str,
        event_bus_name: str,
        event_bus_arn: str,
        rule_name: str,
        rule_pattern: Mapping[str, Any],
        alerts_rule_name: str,
        alerts_rule_pattern: Mapping[str, Any],
        alert_topic_arn: str,
        sqs_kms_key_arn: str,
        dynamodb_kms_key_arn: str,
        secrets_kms_key_arn: str,
        events_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        fanout_function: FunctionSpec,
        sender_function: FunctionSpec,
        function_builder: FunctionBuilder,
        events_dead_letter_queue_name: str | None = None,
        events_max_receive_count: int = 5,
        vpc_id: str | None = None,
        vpc_cidr: str | None = None,
        sender_maximum_concurrency: int = 20,
        event_source_mappings_enabled: bool = True,
        secret_recovery_window_in_days: int = 30,
        deletion_protection_enabled: bool = False,
        dlq_redrive_allow_policy: bool = True,
        ops_policy_name: str | None = None,
    ):
        super().__init__(scope, id_)
        problems = []
        for label, name in (("queue_name", queue_name), ("dead_letter_queue_name", dead_letter_queue_name)):
            if is_literal(name) and not name.endswith(".fifo"):
                problems.append(f"{label} must be a FIFO queue name ending in .fifo, got {name!r}")
        if is_literal(endpoints_parameter_name) and not endpoints_parameter_name.startswith("/"):
            problems.append(f"endpoints_parameter_name must be an SSM path such as /payments/dev/delivery-endpoints, "
                            f"got {endpoints_parameter_name!r}")
        size = len(endpoints_document.encode())
        if is_token(endpoints_document):
            problems.append("endpoints_document must be literal JSON text (its size picks the parameter tier), got a token")
        elif size > ADVANCED_PARAMETER_BYTES:
            problems.append(f"endpoints_document must fit an SSM parameter ({ADVANCED_PARAMETER_BYTES} bytes), got {size}")
        else:
            try:
                json.loads(endpoints_document)
            except ValueError:
                problems.append("endpoints_document must be JSON text")
        for endpoint_id, secret in sorted(signing_secret_names.items()):
            if not _ENDPOINT_ID.match(endpoint_id):
                problems.append(f"signing_secret_names: endpoint id must match {_ENDPOINT_ID.pattern}, got {endpoint_id!r}")
            if not secret.startswith(signing_secret_prefix):
                problems.append(f"signing_secret_names: {secret!r} must start with signing_secret_prefix "
                                f"{signing_secret_prefix!r} (the sender reads only that prefix)")
        if not signing_secret_prefix.endswith("/"):
            problems.append(f"signing_secret_prefix must end with '/', got {signing_secret_prefix!r}")
        if (vpc_id is None) != (vpc_cidr is None):
            problems.append("vpc_id and vpc_cidr go together (the sender's security group), got only one")
        if is_literal(sender_maximum_concurrency) and not 2 <= sender_maximum_concurrency <= 1000:
            problems.append(f"sender_maximum_concurrency must be 2..1000 (SQS event source limit), "
                            f"got {sender_maximum_concurrency}")
        if not 1 <= events_max_receive_count <= 1000:
            problems.append(f"events_max_receive_count must be 1..1000, got {events_max_receive_count}")
        if not (secret_recovery_window_in_days == 0 or 7 <= secret_recovery_window_in_days <= 30):
            problems.append(f"secret_recovery_window_in_days must be 0 or 7..30, got {secret_recovery_window_in_days}")
        if is_literal(sender_function.timeout_seconds) and VISIBILITY_FACTOR * sender_function.timeout_seconds > 43_200:
            problems.append(f"sender_function.timeout_seconds must be <= 7200 (6 x it is the FIFO visibility), "
                            f"got {sender_function.timeout_seconds}")
        if problems:
            raise ValueError("VendorDelivery: " + "; ".join(problems))

        # --- queues: the rule's queue (standard + DLQ), the deliveries FIFO and its DLQ
        # the rule sends here; what it cannot deliver (after a day of retries) goes to the DLQ
        rule_arn = {"events.amazonaws.com": _rule_arn(partition, region, account_id, event_bus_name, rule_name)}
        self.events_queue = WebhookQueue(
            self, "events-queue", name=events_queue_name, kms_key_arn=sqs_kms_key_arn,
            consumer_timeout_seconds=fanout_function.timeout_seconds, message_retention_seconds=FOUR_DAYS,
            dlq_max_receive_count=events_max_receive_count, dlq_redrive_allow_policy=dlq_redrive_allow_policy,
            dlq_name=events_dead_letter_queue_name, service_senders=rule_arn, dlq_service_senders=rule_arn,
        )
        # the sender parks a message in the table before this retention runs out (it is told it)
        self.queue = FifoQueue(
            self, "deliveries-queue", name=queue_name, kms_key_arn=sqs_kms_key_arn,
            visibility_timeout_seconds=VISIBILITY_FACTOR * sender_function.timeout_seconds,
            message_retention_seconds=FOURTEEN_DAYS).queue
        self.dead_letter_queue = FifoQueue(
            self, "dead-letter-queue", name=dead_letter_queue_name, kms_key_arn=sqs_kms_key_arn).queue

        # --- table: message rows, attempt log, endpoint state, rate windows
        self.table = encrypted_table(
            self, "table", name=table_name, hash_key="pk", range_key="sk", kms_key_arn=dynamodb_kms_key_arn,
            indexes=INDEXES, deletion_protection_enabled=deletion_protection_enabled,
        )

        # --- configuration: the endpoint document and one signing secret per endpoint
        self.endpoints_parameter = SsmParameter(
            self, "endpoints-parameter", name=endpoints_parameter_name, type="String", value=endpoints_document,
            tier="Advanced" if size > STANDARD_PARAMETER_BYTES else "Standard",
            description="vendor webhook endpoints (validated at synth; read by the delivery functions)",
        )
        self.signing_secrets = {
            endpoint_id: SecretsmanagerSecret(
                self, f"signing-secret-{endpoint_id}", name=name, kms_key_id=secrets_kms_key_arn,
                recovery_window_in_days=secret_recovery_window_in_days,
                description=f"Standard Webhooks signing secret of endpoint {endpoint_id}; value set by "
                            "scripts/delivery_ops.py secret create|rotate")
            for endpoint_id, name in sorted(signing_secret_names.items())
        }

        # --- the sender's egress: HTTPS to the interface endpoints and, through the NAT, to vendors
        self.sender_security_group: SecurityGroup | None = None
        if vpc_id is not None:
            self.sender_security_group = SecurityGroup(
                self, "sender-sg", name=f"{sender_function.function_name}-egress", vpc_id=vpc_id,
                description="Vendor webhook sender: HTTPS egress only, no ingress",
                egress=[
                    SecurityGroupEgress(description="HTTPS to the interface endpoints in the VPC", protocol="tcp",
                                        from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=[vpc_cidr or ""]),
                    SecurityGroupEgress(description="HTTPS to vendor endpoints through the NAT instances",
                                        protocol="tcp", from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=["0.0.0.0/0"]),
                ],
                tags={"Name": f"{sender_function.function_name}-egress"},
            )

        # --- functions
        queue_url, parameter = self.queue.url, self.endpoints_parameter.name
        self.fanout = function_builder("delivery-fanout", _with_environment(fanout_function, {
            "DELIVERY_QUEUE_URL": queue_url, "DELIVERY_ENDPOINTS_PARAMETER": parameter}), None)
        self.sender = function_builder("delivery-sender", _with_environment(sender_function, {
            "DELIVERY_TABLE_NAME": self.table.name, "DELIVERY_QUEUE_URL": queue_url,
            "DELIVERY_DLQ_URL": self.dead_letter_queue.url, "EVENT_BUS_NAME": event_bus_name,
            "DELIVERY_ENDPOINTS_PARAMETER": parameter, "DELIVERY_QUEUE_RETENTION_SECONDS": str(FOURTEEN_DAYS),
        }), [self.sender_security_group.id] if self.sender_security_group is not None else None)

        parameter_arn = self.endpoints_parameter.arn
        produce = ["kms:Decrypt", "kms:GenerateDataKey"]
        fanout_policy = self.fanout.grant("delivery-fanout", [
            {"sid": "ConsumeDeliveryEvents",
             "actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
             "resources": [self.events_queue.queue.arn]},
            {"sid": "EnqueueDeliveries", "actions": ["sqs:SendMessage"], "resources": [self.queue.arn]},
            {"sid": "ReadEndpoints", "actions": ["ssm:GetParameter"], "resources": [parameter_arn]},
            {"sid": "QueueKey", "actions": produce, "resources": [sqs_kms_key_arn]},
        ])
        secrets_arn = f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{signing_secret_prefix}*"
        sender_policy = self.sender.grant("delivery-sender", [
            {"sid": "ConsumeDeliveries",
             "actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                         "sqs:ChangeMessageVisibility"],
             "resources": [self.queue.arn]},
            {"sid": "DeadLetterExhausted", "actions": ["sqs:SendMessage"], "resources": [self.dead_letter_queue.arn]},
            # a new message goes behind the parked ones being re-sent
            {"sid": "RequeueBehindParked", "actions": ["sqs:SendMessage"], "resources": [self.queue.arn]},
            {"sid": "DeliveryLog",
             "actions": ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
             "resources": [self.table.arn]},
            # a re-sent parked message leaves the park partition (PARK#...) when it is un-parked
            {"sid": "UnparkMessages", "actions": ["dynamodb:DeleteItem"], "resources": [self.table.arn],
             "conditions": [("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["PARK#*"])]},
            {"sid": "DeliveryEvents", "actions": ["events:PutEvents"], "resources": [event_bus_arn]},
            {"sid": "SigningSecrets", "actions": ["secretsmanager:GetSecretValue"], "resources": [secrets_arn]},
            {"sid": "ReadEndpoints", "actions": ["ssm:GetParameter"], "resources": [parameter_arn]},
            {"sid": "DataKeys", "actions": produce, "resources": [sqs_kms_key_arn, dynamodb_kms_key_arn]},
            # the bus is encrypted with the events key: PutEvents needs a data key of it
            {"sid": "EventsKey", "actions": ["kms:GenerateDataKey"], "resources": [events_kms_key_arn]},
            {"sid": "SecretsKey", "actions": ["kms:Decrypt"], "resources": [secrets_kms_key_arn],
             "conditions": [("StringEquals", "kms:ViaService", [f"secretsmanager.{region}.amazonaws.com"])]},
        ])

        self.ops_policy: IamPolicy | None = None
        if ops_policy_name is not None:
            def via(service: str) -> list[tuple[str, str, list[str]]]:
                return [("StringEquals", "kms:ViaService", [f"{service}.{region}.amazonaws.com"])]

            table_arn = self.table.arn
            self.ops_policy = IamPolicy(
                self, "ops-policy", name=ops_policy_name,
                description="Vendor delivery operations (scripts/ops.py deliveries ...)",
                policy=document(self, "ops-policy-document", [
                    {"sid": "DeliveryLog", "actions": ["dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:GetItem",
                                                       "dynamodb:UpdateItem"],
                     "resources": [table_arn, *(f"{table_arn}/index/{index}" for index in INDEXES)]},
                    {"sid": "Resend", "actions": ["sqs:GetQueueUrl", "sqs:SendMessage"], "resources": [self.queue.arn]},
                    {"sid": "SigningSecrets", "actions": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                                          "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
                     "resources": [secrets_arn]},
                    {"sid": "ReadEndpoints", "actions": ["ssm:GetParameter"], "resources": [parameter_arn]},
                    {"sid": "QueueKey", "actions": produce, "resources": [sqs_kms_key_arn], "conditions": via("sqs")},
                    {"sid": "TableKey", "actions": produce, "resources": [dynamodb_kms_key_arn],
                     "conditions": via("dynamodb")},
                    {"sid": "SecretsKey", "actions": produce, "resources": [secrets_kms_key_arn],
                     "conditions": via("secretsmanager")},
                ]).json)

        # --- event sources (batch 10, partial failures; the sender capped)
        self.event_source_mappings = {
            "fanout": LambdaEventSourceMapping(
                self, "fanout-event-source", event_source_arn=self.events_queue.queue.arn,
                function_name=self.fanout.function.arn, batch_size=SQS_BATCH_SIZE,
                function_response_types=["ReportBatchItemFailures"], enabled=event_source_mappings_enabled,
                depends_on=[fanout_policy]),
            "sender": LambdaEventSourceMapping(
                self, "sender-event-source", event_source_arn=self.queue.arn, function_name=self.sender.function.arn,
                batch_size=SQS_BATCH_SIZE, function_response_types=["ReportBatchItemFailures"],
                scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=sender_maximum_concurrency),
                enabled=event_source_mappings_enabled, depends_on=[sender_policy]),
        }

        # --- bus rules: domain events -> delivery-events; delivery events -> alerts topic
        self.rule = CloudwatchEventRule(
            self, "rule", name=rule_name, event_bus_name=event_bus_name,
            description="Payment status changes -> vendor webhook fan-out",
            event_pattern=json.dumps(dict(rule_pattern), sort_keys=True))
        self.rule_target = CloudwatchEventTarget(
            self, "rule-target", rule=self.rule.name, event_bus_name=event_bus_name, target_id="delivery-events",
            arn=self.events_queue.queue.arn, dead_letter_config={"arn": self.events_queue.dead_letter_queue.arn},
            retry_policy={"maximum_event_age_in_seconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                          "maximum_retry_attempts": RULE_TARGET_MAX_RETRIES})
        self.alerts_rule = CloudwatchEventRule(
            self, "alerts-rule", name=alerts_rule_name, event_bus_name=event_bus_name,
            description="Delivery exhausted / endpoint disabled -> alerts topic",
            event_pattern=json.dumps(dict(alerts_rule_pattern), sort_keys=True))
        self.alerts_rule_target = CloudwatchEventTarget(
            self, "alerts-rule-target", rule=self.alerts_rule.name, event_bus_name=event_bus_name,
            target_id="alerts", arn=alert_topic_arn)


def _rule_arn(partition: str, region: str, account_id: str, bus_name: str, rule_name: str) -> str:
    """A rule's ARN, fixed by its name (the queue policy needs it before the rule exists)."""
    return f"arn:{partition}:events:{region}:{account_id}:rule/{bus_name}/{rule_name}"


def _with_environment(spec: FunctionSpec, extra: Mapping[str, str]) -> FunctionSpec:
    return replace(spec, environment={**spec.environment, **extra})
