"""`VendorDelivery`: signed outbound webhooks with durable retries, reusable in any stack.

    bus rule -> SQS delivery-events (+ DLQ) -> fan-out function -> SQS FIFO deliveries (no redrive)
    -> sender function (VPC, egress security group) -> vendors; table of messages and attempts;
    FIFO dead-letter queue for exhausted messages; a second rule sends the delivery events
    (exhausted, endpoint disabled, messages parked) to the alerts topic.

The product's names, rule patterns and endpoint document are options (the app layer derives them
from `paycore.delivery`); the functions are built by the caller's `function_builder`, so they
share the caller's layer, keys, logging and VPC placement.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Mapping

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

from constructs.core.limits import SECRETS_RECOVERY_WINDOW_DAYS, SQS_EVENT_SOURCE_MAX_CONCURRENCY
from constructs.core.policy import document
from constructs.core.tokens import is_literal, is_token
from constructs.delivery.options import (
    DeliveryKeys,
    DeliveryQueueOptions,
    DeliveryRuleOptions,
    DeliveryTableOptions,
    EndpointOptions,
    FunctionBuilder,
    SenderOptions,
)
from constructs.processing import SQS_BATCH_SIZE, FunctionSpec
from constructs.queueing import FOURTEEN_DAYS, VISIBILITY_FACTOR, FailureQueue, FifoQueue, WebhookQueue
from constructs.storage import encrypted_table

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

    Keyword arguments (all required unless a default is given; see each option's docstring):
      queues: DeliveryQueueOptions (the events queue and its DLQ, the deliveries FIFO and its DLQ, the
        alerts rule's DLQ).
      table: DeliveryTableOptions (messages and attempts).
      endpoints: EndpointOptions (the endpoint document's parameter, one signing secret per endpoint).
      rules: DeliveryRuleOptions (the bus, the rule feeding the events queue, the alerts rule).
      keys: DeliveryKeys (sqs, dynamodb, secrets, events).
      fanout: the fan-out function's FunctionSpec; sender: SenderOptions (its function, event source
        cap and egress); their environments are extended with the queue, table, parameter and bus
        names. function_builder: builds them (see FunctionBuilder).
      account_id, partition, region: for the secrets ARN pattern and the rule's ARN.
      ops_policy_name: a managed policy for the people running the delivery operations (list,
        resend, recover, pause/resume, signing secrets), attached to nobody; default None (none).

    Attributes: events_queue (WebhookQueue), queue, dead_letter_queue, alerts_dead_letter_queue (SqsQueue), table,
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
        queues: DeliveryQueueOptions,
        table: DeliveryTableOptions,
        endpoints: EndpointOptions,
        rules: DeliveryRuleOptions,
        keys: DeliveryKeys,
        fanout: FunctionSpec,
        sender: SenderOptions,
        function_builder: FunctionBuilder,
        account_id: str,
        partition: str,
        region: str,
        ops_policy_name: str | None = None,
    ):
        super().__init__(scope, id_)
        problems = _problems(queues, endpoints, sender)
        if problems:
            raise ValueError("VendorDelivery: " + "; ".join(problems))
        size = len(endpoints.document.encode())

        # --- queues: the rule's queue (standard + DLQ), the deliveries FIFO and its DLQ
        # the rule sends here; what it cannot deliver (after a day of retries) goes to the DLQ
        rule_arn, alerts_rule_arn = (_rule_arn(partition, region, account_id, rules.event_bus_name, name)
                                     for name in (rules.rule_name, rules.alerts_rule_name))
        self.events_queue = WebhookQueue(
            self, "events-queue", name=queues.events_queue_name, kms_key_arn=keys.sqs,
            consumer_timeout_seconds=fanout.timeout_seconds, message_retention_seconds=FOUR_DAYS,
            dlq_max_receive_count=queues.events_max_receive_count,
            dlq_name=queues.events_dead_letter_queue_name, service_senders={"events.amazonaws.com": rule_arn},
            dlq_service_senders={"events.amazonaws.com": rule_arn},
        )
        # the alerts rule's events the alerts topic refused for a day: kept apart from the domain
        # events (redriven to the fan-out, which would refuse an alert)
        self.alerts_dead_letter_queue = FailureQueue(
            self, "alerts-dlq", name=queues.alerts_dead_letter_queue_name or f"{queues.events_queue_name}-alerts-dlq",
            kms_key_arn=keys.sqs, service_senders={"events.amazonaws.com": alerts_rule_arn}).queue
        # the sender parks a message in the table before this retention runs out (it is told it)
        self.queue = FifoQueue(
            self, "deliveries-queue", name=queues.queue_name, kms_key_arn=keys.sqs,
            visibility_timeout_seconds=VISIBILITY_FACTOR * sender.function.timeout_seconds,
            message_retention_seconds=FOURTEEN_DAYS).queue
        self.dead_letter_queue = FifoQueue(
            self, "dead-letter-queue", name=queues.dead_letter_queue_name, kms_key_arn=keys.sqs).queue

        # --- table: message rows, attempt log, endpoint state, rate windows
        self.table = encrypted_table(
            self, "table", name=table.name, hash_key="pk", range_key="sk", kms_key_arn=keys.dynamodb,
            indexes=INDEXES, deletion_protection_enabled=table.deletion_protection_enabled,
        )

        # --- configuration: the endpoint document and one signing secret per endpoint
        self.endpoints_parameter = SsmParameter(
            self, "endpoints-parameter", name=endpoints.parameter_name, type="String", value=endpoints.document,
            tier="Advanced" if size > STANDARD_PARAMETER_BYTES else "Standard",
            description="vendor webhook endpoints (validated at synth; read by the delivery functions)",
        )
        self.signing_secrets = {
            endpoint_id: SecretsmanagerSecret(
                self, f"signing-secret-{endpoint_id}", name=name, kms_key_id=keys.secrets,
                recovery_window_in_days=endpoints.secret_recovery_window_in_days,
                description=f"Standard Webhooks signing secret of endpoint {endpoint_id}; value set by "
                            "python -m scripts.ops deliveries secret create|rotate")
            for endpoint_id, name in sorted(endpoints.signing_secret_names.items())
        }

        # --- the sender's egress: HTTPS to the interface endpoints and, through the NAT, to vendors
        self.sender_security_group: SecurityGroup | None = None
        if sender.vpc_id is not None:
            self.sender_security_group = SecurityGroup(
                self, "sender-sg", name=f"{sender.function.function_name}-egress", vpc_id=sender.vpc_id,
                description="Vendor webhook sender: HTTPS egress only, no ingress",
                egress=[
                    SecurityGroupEgress(description="HTTPS to the interface endpoints in the VPC", protocol="tcp",
                                        from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=[sender.vpc_cidr or ""]),
                    SecurityGroupEgress(description="HTTPS to vendor endpoints through the NAT instances",
                                        protocol="tcp", from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=["0.0.0.0/0"]),
                ],
                tags={"Name": f"{sender.function.function_name}-egress"},
            )

        # --- functions
        queue_url, parameter = self.queue.url, self.endpoints_parameter.name
        self.fanout = function_builder("delivery-fanout", _with_environment(fanout, {
            "DELIVERY_QUEUE_URL": queue_url, "DELIVERY_ENDPOINTS_PARAMETER": parameter}), None)
        self.sender = function_builder("delivery-sender", _with_environment(sender.function, {
            "DELIVERY_TABLE_NAME": self.table.name, "DELIVERY_QUEUE_URL": queue_url,
            "DELIVERY_DLQ_URL": self.dead_letter_queue.url, "EVENT_BUS_NAME": rules.event_bus_name,
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
            {"sid": "QueueKey", "actions": produce, "resources": [keys.sqs]},
        ])
        # every secret under the prefix: the ops tooling creates the endpoints' secrets it rotates
        secrets_arn = f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{endpoints.signing_secret_prefix}*"
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
            {"sid": "DeliveryEvents", "actions": ["events:PutEvents"], "resources": [rules.event_bus_arn]},
            {"sid": "SigningSecrets", "actions": ["secretsmanager:GetSecretValue"], "resources": [secrets_arn]},
            {"sid": "ReadEndpoints", "actions": ["ssm:GetParameter"], "resources": [parameter_arn]},
            {"sid": "DataKeys", "actions": produce, "resources": [keys.sqs, keys.dynamodb]},
            # the bus is encrypted with the events key: PutEvents needs a data key of it
            {"sid": "EventsKey", "actions": ["kms:GenerateDataKey"], "resources": [keys.events]},
            {"sid": "SecretsKey", "actions": ["kms:Decrypt"], "resources": [keys.secrets],
             "conditions": [("StringEquals", "kms:ViaService", [f"secretsmanager.{region}.amazonaws.com"])]},
        ])

        self.ops_policy: IamPolicy | None = None
        if ops_policy_name is not None:
            def via(service: str) -> list[tuple[str, str, list[str]]]:
                return [("StringEquals", "kms:ViaService", [f"{service}.{region}.amazonaws.com"])]

            table_arn = self.table.arn
            self.ops_policy = IamPolicy(
                self, "ops-policy", name=ops_policy_name,
                description="Vendor delivery operations (python -m scripts.ops deliveries ...)",
                policy=document(self, "ops-policy-document", [
                    {"sid": "DeliveryLog", "actions": ["dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:GetItem",
                                                       "dynamodb:UpdateItem"],
                     "resources": [table_arn, *(f"{table_arn}/index/{index}" for index in INDEXES)]},
                    {"sid": "Resend", "actions": ["sqs:GetQueueUrl", "sqs:SendMessage"], "resources": [self.queue.arn]},
                    {"sid": "SigningSecrets", "actions": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                                          "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
                     "resources": [secrets_arn]},
                    {"sid": "ReadEndpoints", "actions": ["ssm:GetParameter"], "resources": [parameter_arn]},
                    {"sid": "QueueKey", "actions": produce, "resources": [keys.sqs], "conditions": via("sqs")},
                    {"sid": "TableKey", "actions": produce, "resources": [keys.dynamodb],
                     "conditions": via("dynamodb")},
                    {"sid": "SecretsKey", "actions": produce, "resources": [keys.secrets],
                     "conditions": via("secretsmanager")},
                ]).json)

        # --- event sources (batch 10, partial failures; the sender capped)
        self.event_source_mappings = {
            "fanout": LambdaEventSourceMapping(
                self, "fanout-event-source", event_source_arn=self.events_queue.queue.arn,
                function_name=self.fanout.function.arn, batch_size=SQS_BATCH_SIZE,
                function_response_types=["ReportBatchItemFailures"], enabled=True,
                depends_on=[fanout_policy]),
            "sender": LambdaEventSourceMapping(
                self, "sender-event-source", event_source_arn=self.queue.arn, function_name=self.sender.function.arn,
                batch_size=SQS_BATCH_SIZE, function_response_types=["ReportBatchItemFailures"],
                scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=sender.maximum_concurrency),
                enabled=True, depends_on=[sender_policy]),
        }

        # --- bus rules: domain events -> delivery-events; delivery events -> alerts topic
        self.rule = CloudwatchEventRule(
            self, "rule", name=rules.rule_name, event_bus_name=rules.event_bus_name,
            description="Payment status changes -> vendor webhook fan-out",
            event_pattern=json.dumps(dict(rules.rule_pattern), sort_keys=True))
        self.rule_target = CloudwatchEventTarget(
            self, "rule-target", rule=self.rule.name, event_bus_name=rules.event_bus_name, target_id="delivery-events",
            arn=self.events_queue.queue.arn, dead_letter_config={"arn": self.events_queue.dead_letter_queue.arn},
            retry_policy={"maximum_event_age_in_seconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                          "maximum_retry_attempts": RULE_TARGET_MAX_RETRIES})
        self.alerts_rule = CloudwatchEventRule(
            self, "alerts-rule", name=rules.alerts_rule_name, event_bus_name=rules.event_bus_name,
            description="Delivery exhausted / endpoint disabled -> alerts topic",
            event_pattern=json.dumps(dict(rules.alerts_rule_pattern), sort_keys=True))
        self.alerts_rule_target = CloudwatchEventTarget(
            self, "alerts-rule-target", rule=self.alerts_rule.name, event_bus_name=rules.event_bus_name,
            target_id="alerts", arn=rules.alert_topic_arn,
            dead_letter_config={"arn": self.alerts_dead_letter_queue.arn},
            retry_policy={"maximum_event_age_in_seconds": RULE_TARGET_MAX_EVENT_AGE_SECONDS,
                          "maximum_retry_attempts": RULE_TARGET_MAX_RETRIES})


def _problems(queues: DeliveryQueueOptions, endpoints: EndpointOptions, sender: SenderOptions) -> list[str]:
    """Every problem of the options, each naming the option and the value given."""
    problems = []
    for label, name in (("queues.queue_name", queues.queue_name),
                        ("queues.dead_letter_queue_name", queues.dead_letter_queue_name)):
        if is_literal(name) and not name.endswith(".fifo"):
            problems.append(f"{label} must be a FIFO queue name ending in .fifo, got {name!r}")
    if is_literal(endpoints.parameter_name) and not endpoints.parameter_name.startswith("/"):
        problems.append(f"endpoints.parameter_name must be an SSM path such as /payments/dev/delivery-endpoints, "
                        f"got {endpoints.parameter_name!r}")
    size = len(endpoints.document.encode())
    if is_token(endpoints.document):
        problems.append("endpoints.document must be literal JSON text (its size picks the parameter tier), got a token")
    elif size > ADVANCED_PARAMETER_BYTES:
        problems.append(f"endpoints.document must fit an SSM parameter ({ADVANCED_PARAMETER_BYTES} bytes), got {size}")
    else:
        try:
            json.loads(endpoints.document)
        except ValueError:
            problems.append("endpoints.document must be JSON text")
    prefix = endpoints.signing_secret_prefix
    for endpoint_id, secret in sorted(endpoints.signing_secret_names.items()):
        if not _ENDPOINT_ID.match(endpoint_id):
            problems.append(f"endpoints.signing_secret_names: endpoint id must match {_ENDPOINT_ID.pattern}, "
                            f"got {endpoint_id!r}")
        if not secret.startswith(prefix):
            problems.append(f"endpoints.signing_secret_names: {secret!r} must start with signing_secret_prefix "
                            f"{prefix!r} (the sender reads only that prefix)")
    if not prefix.endswith("/"):
        problems.append(f"endpoints.signing_secret_prefix must end with '/', got {prefix!r}")
    window = endpoints.secret_recovery_window_in_days
    if not (window == 0 or window in SECRETS_RECOVERY_WINDOW_DAYS):
        problems.append(f"endpoints.secret_recovery_window_in_days must be 0 or {SECRETS_RECOVERY_WINDOW_DAYS}, "
                        f"got {window}")
    if (sender.vpc_id is None) != (sender.vpc_cidr is None):
        problems.append("sender.vpc_id and sender.vpc_cidr go together (the sender's security group), got only one")
    if is_literal(sender.maximum_concurrency) and sender.maximum_concurrency not in SQS_EVENT_SOURCE_MAX_CONCURRENCY:
        problems.append(f"sender.maximum_concurrency must be {SQS_EVENT_SOURCE_MAX_CONCURRENCY} (SQS event source "
                        f"limit), got {sender.maximum_concurrency}")
    timeout = sender.function.timeout_seconds
    if is_literal(timeout) and VISIBILITY_FACTOR * timeout > 43_200:
        problems.append(f"sender.function.timeout_seconds must be <= 7200 (6 x it is the FIFO visibility), got {timeout}")
    return problems


def _rule_arn(partition: str, region: str, account_id: str, bus_name: str, rule_name: str) -> str:
    """A rule's ARN, fixed by its name (the queue policy needs it before the rule exists)."""
    return f"arn:{partition}:events:{region}:{account_id}:rule/{bus_name}/{rule_name}"


def _with_environment(spec: FunctionSpec, extra: Mapping[str, str]) -> FunctionSpec:
    return replace(spec, environment={**spec.environment, **extra})
