"""The vendor webhooks, wired (lambda_src/README.md, "Vendor delivery"): the delivery functions join
the processing group (its layer, keys, logs and VPC); the sender gets its own egress group."""

from __future__ import annotations

import json
from typing import cast

from constructs import Construct
from paycore import delivery as delivery_runtime

from constructs.app.functions import delivery_function_specs, lambda_artifacts
from constructs.app.platform import Platform
from constructs.delivery import (
    DeliveryKeys,
    DeliveryQueueOptions,
    DeliveryRuleOptions,
    DeliveryTableOptions,
    EndpointOptions,
    SenderOptions,
    VendorDelivery,
)


def vendor_delivery(stack: Platform) -> VendorDelivery:
    """The stack's VendorDelivery (construct id "delivery"), after the processing group and the bus."""
    s, names, keys, group = stack.settings, stack.names, stack.security.keys, stack.processing
    endpoints = s.delivery.endpoints(allow_loopback_http=s.emulator)  # validated with the settings
    specs = delivery_function_specs(s, lambda_artifacts(), stack.lambda_environment)
    return VendorDelivery(
        cast(Construct, stack), "delivery",
        queues=DeliveryQueueOptions(
            events_queue_name=names.delivery_events_queue,
            events_dead_letter_queue_name=names.delivery_events_dead_letter_queue,
            alerts_dead_letter_queue_name=names.delivery_alerts_dead_letter_queue,
            events_max_receive_count=s.delivery.events_max_receive_count, queue_name=names.deliveries_queue,
            dead_letter_queue_name=names.deliveries_dead_letter_queue),
        table=DeliveryTableOptions(name=names.deliveries_table, deletion_protection_enabled=s.protects_data),
        endpoints=EndpointOptions(
            parameter_name=names.delivery_endpoints_parameter,
            document=json.dumps(s.delivery.document(), sort_keys=True, separators=(",", ":")),
            signing_secret_names={e: delivery_runtime.secret_name(names.secret_prefix, e) for e in sorted(endpoints)},
            signing_secret_prefix=f"{names.secret_prefix}vendors/",
            secret_recovery_window_in_days=30 if s.production else 0),
        rules=DeliveryRuleOptions(
            event_bus_name=stack.notification.bus.name, event_bus_arn=stack.notification.bus.arn,
            rule_name=names.delivery_rule, rule_pattern=delivery_runtime.DELIVERY_RULE_PATTERN,
            alerts_rule_name=names.delivery_alerts_rule,
            alerts_rule_pattern={"source": [delivery_runtime.EVENT_SOURCE]}, alert_topic_arn=stack.arns.alerts_topic),
        keys=DeliveryKeys(sqs=keys["sqs"].arn, dynamodb=keys["dynamodb"].arn, secrets=keys["secrets"].arn,
                          events=keys["events"].arn),
        fanout=specs["fanout"],
        sender=SenderOptions(function=specs["sender"], maximum_concurrency=s.delivery.sender_max_concurrency,
                             vpc_id=stack.vpc.vpc.id if stack.vpc is not None else None,
                             vpc_cidr=s.network.cidr if stack.vpc is not None else None),
        function_builder=lambda id_, spec, groups: group.add_function(id_, spec, security_group_ids=groups),
        account_id=stack.account_id, partition=stack.partition, region=stack.region_name,
        ops_policy_name=names.delivery_ops_policy,
    )
