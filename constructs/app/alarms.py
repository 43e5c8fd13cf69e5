"""The platform's alarms: what `constructs.observability.Observability` watches in the built stack
(`watched_resources`), and the texts of the alarms on the platform's own metrics (paycore.obs and
the vendor delivery name them; lambda_src/README.md, "Infrastructure contract")."""

from __future__ import annotations

from typing import Any, Sequence

from constructs.app.names import Names
from constructs.app.platform import Platform
from constructs.app.settings import AlarmSettings
from constructs.configuration import SERVICE_NAME
from constructs.observability import MetricAlarm, WatchedFunction, WatchedResources

# A FIFO queue holds at most 120,000 messages in flight; alarm well before it stops taking receives.
DELIVERIES_IN_FLIGHT_ALARM = 100_000
_SERVICE = {"service": SERVICE_NAME}


def watched_resources(stack: Platform) -> WatchedResources:
    """Every function, dead-letter queue, pipe and rule of the stack, the ingest queue, the API and
    the ledger; the vendors whose deliveries get dashboard widgets."""
    s, names = stack.settings, stack.names
    functions = {}
    if stack.processing is not None:
        functions = {name: WatchedFunction(fn.function.function_name, fn.log_group.name)
                     for name, fn in stack.processing.functions.items()}
    dlqs = {}
    if stack.queueing is not None:
        q = stack.queueing
        dlqs = {"ingest-dlq": q.ingest.dead_letter_queue.name, "notifications-dlq": q.notifications.dead_letter_queue.name,
                "lambda-failures": q.lambda_failures.queue.name}
    vendors: list[str] = []
    if stack.delivery is not None:
        dlqs["delivery-events-dlq"] = stack.delivery.events_queue.dead_letter_queue.name
        dlqs["delivery-alerts-dlq"] = stack.delivery.alerts_dead_letter_queue.name
        vendors = sorted({e.vendor_id for e in s.delivery.endpoints(allow_loopback_http=s.emulator).values()})
    pipes, bus, rule = [], None, None
    if stack.notification is not None:
        fanout = stack.notification
        dlqs["fanout-dlq"] = fanout.dead_letter_queue.name
        dlqs["bus-dlq"] = fanout.bus_dead_letter_queue.name
        # literal names: they key the alarms' construct ids
        pipes = [name for name, pipe in ((names.archive_pipe, fanout.archive_pipe),
                                         (names.status_pipe, fanout.status_pipe)) if pipe is not None]
        bus, rule = fanout.bus.name, fanout.rule.name
    return WatchedResources(
        functions=functions, dead_letter_queue_names=dlqs, pipe_names=pipes, event_bus_name=bus, rule_name=rule,
        ingest_queue_name=stack.queueing.ingest.queue.name if stack.queueing is not None else None,
        api_name=stack.ingress.rest_api.name if stack.ingress is not None else None,
        api_stage_name=stack.ingress.stage.stage_name if stack.ingress is not None else None,
        table_name=stack.storage.table.name if stack.storage is not None else None,
        delivery_vendor_ids=vendors,
    )


def business_alarms(a: AlarmSettings) -> tuple[MetricAlarm, ...]:
    """Alarms on the processor's and the notifier's own metrics (paycore.obs names them)."""
    return (
        MetricAlarm("signature-mismatches", "WebhookRejected", a.signature_mismatches_per_5min,
                    "Webhooks rejected as signature_mismatch: a forgery wave, or a signing secret rotated at the "
                    "provider but not here (fix it, then python -m scripts.ops replay-quarantine)",
                    {**_SERVICE, "reason": "signature_mismatch"}),
        MetricAlarm("signing-secret-unusable", "SigningSecretUnusable", 1,
                    "A signing secret of ours (or the internal envelope key) is empty or malformed: webhooks are "
                    "retried, then dead-lettered; direct payments are answered 503 (fix it with python -m scripts.ops "
                    "secrets, then redrive)", _SERVICE),
        MetricAlarm("transmission-replayed", "WebhookRejected", 1,
                    "A verified PayPal transmission id came with another body: a forgery whose CRC32 collides with "
                    "a genuine delivery's (quarantined, nothing recorded). Someone holds a genuine delivery's headers "
                    "and the gate key: rotate the PayPal gate key, find where the headers leaked",
                    {**_SERVICE, "reason": "transmission_replayed"}),
        MetricAlarm("internal-signature-mismatch", "WebhookRejected", 1,
                    "A direct payment without the validator's signature, or a fetched event without the reconciler's, "
                    "reached the processor (quarantined, nothing recorded): someone else wrote to the ingest queue, "
                    "the quarantine or the parked messages, or the internal envelope key was rotated twice while "
                    "messages waited",
                    {**_SERVICE, "reason": "internal_signature_mismatch"}),
        MetricAlarm("certificate-unavailable", "WebhookRejected", 1,
                    "PayPal messages quarantined because their certificate URL answered 4xx, or timed out / 5xx twice: "
                    "forgeries, or PayPal's certificate host failing (genuine events: replay them with python -m scripts.ops "
                    "replay-quarantine --provider paypal once it answers)",
                    {**_SERVICE, "reason": "certificate_unavailable"}),
        MetricAlarm("unroutable-vendor", "UnroutableEvent", 1,
                    "Verified events recorded with a vendor id that cannot be routed: no vendor was notified "
                    "(ledger rows keep vendor_id_raw; GET /transactions?vendor_id=unknown)",
                    {**_SERVICE, "reason": "unsafe_vendor_id"}),
        MetricAlarm("event-id-conflict", "WebhookRejected", 1,
                    "A verified event id came again naming another payment: refused and quarantined "
                    "(event_id_conflict), the first payment's record stands; look at both payments",
                    {**_SERVICE, "reason": "event_id_conflict"}),
        MetricAlarm("lifecycle-conflict", "LifecycleConflict", 1,
                    "A refund, dispute or later payment event names another vendor, customer or currency than "
                    "its payment's sale: recorded, the sale's values kept, the other kept raw on the state row "
                    "(conflicts; GET /transactions/{id})", _SERVICE),
        MetricAlarm("lifecycle-sale-missing", "LifecycleSaleMissing", 1,
                    "A refund, reversal or dispute arrived and its payment's sale did not follow within the "
                    "notifier's watch (the notifications queue's receives): it is held on the state row (status "
                    "awaiting_sale, GET /transactions/{id}) and told right after the sale when it comes; find the "
                    "sale at the provider (dashboard, events API) and have it resent", _SERVICE),
    )


def delivery_alarms(names: Names) -> tuple[MetricAlarm, ...]:
    """Alarms of the vendor delivery; its functions' Errors and the delivery-events DLQ are watched
    like every other one."""
    return (
        MetricAlarm("delivery-exhausted", "DeliveryExhausted", 1,
                    "Vendor webhooks exhausted their retry schedule: the vendor got nothing for a day "
                    "(python -m scripts.ops deliveries list/recover once it is back)", _SERVICE),
        MetricAlarm("delivery-endpoint-disabled", "DeliveryEndpointDisabled", 1,
                    "A vendor endpoint was disabled (410 Gone or failing too long); its messages wait for "
                    "python -m scripts.ops deliveries enable + recover", _SERVICE),
        MetricAlarm("delivery-parked", "DeliveryParked", 1,
                    "Vendor webhooks parked in the deliveries table before the queue's 14-day retention ran out "
                    "(an endpoint paused or failing for ~13 days): python -m scripts.ops deliveries "
                    "resume|enable|release", _SERVICE),
        MetricAlarm("delivery-malformed-messages", "DeliveryMalformedMessages", 1,
                    "Delivery queue messages the sender could not read (dropped to the delivery DLQ)", _SERVICE),
        MetricAlarm("deliveries-in-flight", "ApproximateNumberOfMessagesNotVisible", DELIVERIES_IN_FLIGHT_ALARM,
                    f"{names.deliveries_queue}: held deliveries near the FIFO limit of 120,000 in flight "
                    "(a large vendor failing or paused; auto-disable bounds it)",
                    {"QueueName": names.deliveries_queue}, namespace="AWS/SQS", period_seconds=300,
                    statistic="Maximum", comparison="GreaterThanThreshold"),
    )


def reconcile_alarms(r: Any, providers: Sequence[str]) -> tuple[MetricAlarm, ...]:
    """Alarms of the reconciler (paycore.reconcile.aws names the metrics), per provider; its
    failing runs are the function's Errors, watched like every other function's."""
    alarms = []
    for provider in providers:
        dims = {**_SERVICE, "provider": provider}
        alarms += [
            MetricAlarm(f"reconcile-recovered-{provider}", "ReconcileRecovered", 1,
                        f"The reconciler found {provider} events the ledger did not have and enqueued them: something "
                        "upstream of the ledger broke (a gate key, the authorizer, the WAF, the API, a deploy) and "
                        "the provider gave up pushing. They are recorded now; find what refused the webhooks",
                        dims, period_seconds=r.interval_minutes * 60),
            MetricAlarm(f"reconcile-checkpoint-age-{provider}", "ReconcileCheckpointAgeSeconds",
                        r.checkpoint_age_alarm_intervals * r.interval_minutes * 60,
                        f"The {provider} reconciler has not completed a run for {r.checkpoint_age_alarm_intervals} "
                        "intervals: its API key, the provider's API or the schedule is failing (runs resume where "
                        "they stopped once it works); no datapoint counts too (no run at all)", dims, statistic="Maximum",
                        period_seconds=r.interval_minutes * 60, treat_missing_data="breaching"),
        ]
    return tuple(alarms)
