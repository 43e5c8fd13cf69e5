"""The stack's outputs: endpoints, names and ARNs an operator or a script needs
(tests/test_outputs.py lists them)."""

from __future__ import annotations

from cdktf import Fn, TerraformOutput

from constructs.app.platform import Platform


def stack_outputs(stack: Platform) -> None:
    """One TerraformOutput per value, with its description (lists as Terraform lists)."""
    ingress, storage, queues, fanout = stack.ingress, stack.storage, stack.queueing, stack.notification
    out: dict[str, tuple[object, str]] = {"api_url": (ingress.invoke_url, "REST API stage URL")}
    for route in sorted(stack.webhook_routes, key=lambda r: r.route_id):
        out[f"webhook_url_{route.route_id}"] = (ingress.route_urls[route.path],
                                                f"{route.route_id} webhook endpoint (append ?key=<gate key>)")
    if ingress.domain_name is not None:
        out["custom_domain_target"] = (ingress.domain_name.regional_domain_name,
                                       "DNS target (CNAME/alias) of the custom domain")
    out.update({
        "table_name": (storage.table.name, "ledger table"),
        "archive_bucket": (storage.bucket.bucket, "archive bucket"),
        "ingest_queue_url": (queues.ingest.queue.url, "ingest FIFO queue"),
        "ingest_dlq_url": (queues.ingest.dead_letter_queue.url, "ingest dead-letter queue"),
        "notifications_queue_url": (queues.notifications.queue.url, "notifications queue"),
        "notifications_dlq_url": (queues.notifications.dead_letter_queue.url, "notifications dead-letter queue"),
        "vendor_topic_arn": (fanout.topic.arn, "vendor notifications topic"),
        "event_bus_name": (fanout.bus.name, "domain event bus"),
        "fanout_dlq_url": (fanout.dead_letter_queue.url, "pipes/rule dead-letter queue"),
        "bus_dlq_url": (fanout.bus_dead_letter_queue.url,
                        "event bus dead-letter queue (events it could not encrypt or decrypt)"),
        "alerts_topic_arn": (stack.observability.alerts_topic.arn, "alarms topic"),
    })
    for name, fn in sorted(stack.processing.functions.items()):
        out[f"function_arn_{name}"] = (fn.function.arn, f"{name} function")
    if stack.vpc is not None:
        out["vpc_id"] = (stack.vpc.vpc.id, "VPC")
        out["private_subnet_ids"] = (stack.vpc.private_subnet_ids, "private subnets (Lambdas)")
        out["public_subnet_ids"] = (stack.vpc.public_subnet_ids, "public subnets (NAT instances)")
        if stack.vpc.nat_public_ips:
            out["delivery_egress_ips"] = (stack.vpc.nat_public_ips,
                                          "NAT Elastic IPs: vendor webhooks come from these (vendors allow-list them)")
    for key, (value, description) in out.items():
        if isinstance(value, list):
            value = Fn.tolist(value)
        TerraformOutput(stack, key, value=value, description=description)
