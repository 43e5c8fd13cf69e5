"""The webhook path hop by hop: each hop's ceilings (a quota or a setting), the highest sustained
rate it carries and what moves it; the functions' claims on the account's concurrency."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from constructs.app.capacity.quotas import QUOTAS, Quota, quota
from constructs.app.capacity.traffic import (
    ASSUMPTIONS,
    LEDGER_INDEXES,
    SENDER_PARALLEL_GROUPS,
    TRAFFIC,
    WAF_RATE_WINDOW_SECONDS,
    Assumptions,
    Traffic,
)

if TYPE_CHECKING:
    from constructs.app.settings import Settings

# ----- hops and their limits ---------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """One ceiling of a hop: `capacity` (in `unit`, a quota or a setting) of which one webhook per
    second uses `per_webhook`; `reserved` of it is taken by something else (the other functions'
    reservations in the account's concurrency). `key` is the setting that sets it (`quotas.*` for
    a quota); `setting_scale` turns a needed capacity into that setting's unit."""

    label: str
    key: str
    capacity: float
    per_webhook: float
    unit: str
    quota: Quota | None = None
    reserved: float = 0.0
    setting_scale: float = 1.0
    # a DynamoDB-stream pipe: capacity is per shard; a shard never receives more than this many webhooks/s
    shard_webhooks: float | None = None

    def needed(self, rate: float) -> float:
        """Capacity needed at `rate` webhooks/s (per shard for a stream pipe)."""
        if self.shard_webhooks is not None:
            return self.per_webhook * min(rate, self.shard_webhooks)
        return self.per_webhook * rate + self.reserved

    def utilisation(self, rate: float) -> float:
        return self.needed(rate) / self.capacity if self.capacity else math.inf

    @property
    def max_rate(self) -> float:
        """The highest sustained webhooks/s this ceiling allows (inf: not limiting)."""
        if self.per_webhook <= 0:
            return math.inf
        if self.shard_webhooks is not None:  # more shards come with more partitions
            keeps_up = self.per_webhook * self.shard_webhooks <= self.capacity
            return math.inf if keeps_up else self.capacity / self.per_webhook
        return max(0.0, (self.capacity - self.reserved) / self.per_webhook)

    def increase(self, rate: float) -> str:
        """What moves this ceiling to carry `rate` webhooks/s."""
        needed = self.needed(rate)
        if self.quota is not None:
            return self.quota.increase(needed)
        if self.shard_webhooks is not None:
            return f"raise {self.key}: one stream shard must carry {needed:,.0f} {self.unit}"
        return f"raise {self.key} to {math.ceil(needed * self.setting_scale):,}"

    def describe(self, *, with_key: bool = True) -> str:
        """`label capacity unit[, the quota or the setting]`."""
        scale = " per shard" if self.shard_webhooks is not None else ""
        what = self.quota.label if self.quota is not None else self.key if with_key else ""
        return f"{self.label} {self.capacity:,.0f} {self.unit}{scale}" + (f", {what}" if what else "")


@dataclass(frozen=True)
class Hop:
    """One step of the webhook's path and its ceilings."""

    name: str
    limits: tuple[Limit, ...]
    note: str = ""

    @property
    def limiting(self) -> Limit | None:
        return min(self.limits, key=lambda limit: limit.max_rate, default=None)

    @property
    def max_rate(self) -> float:
        return self.limiting.max_rate if self.limiting is not None else math.inf

    def utilisation(self, rate: float) -> float:
        return max((limit.utilisation(rate) for limit in self.limits), default=0.0)


def design_rate(settings: Settings) -> float:
    """The environment's design rate in webhooks per second."""
    return settings.webhooks_per_minute / 60


def concurrency_claims(settings: Settings) -> dict[str, int]:
    """Concurrent executions each function takes from the account's quota: its reserved
    concurrency; without one, the provisioned concurrency it may scale to (which Lambda also
    takes from the reservable part). The delivery functions included."""
    claims: dict[str, int] = {}
    for name, sizing in settings.functions.items():
        if sizing.reserved_concurrency is not None:
            claims[name] = sizing.reserved_concurrency
    d = settings.delivery
    for name, reserved in (("delivery_fanout", d.fanout_reserved_concurrency),
                           ("delivery_sender", d.sender_reserved_concurrency)):
        if reserved is not None:
            claims[name] = reserved
    s = settings.processor_scaling
    if "processor" not in claims and s.provisioned_concurrency and settings.enabled("provisioned_concurrency"):
        claims["processor"] = max(s.provisioned_concurrency, s.max_capacity if settings.enabled("autoscaling") else 0)
    return claims


def reservable(settings: Settings) -> int:
    """What the account lets the functions reserve: its concurrency less Lambda's unreserved minimum."""
    return quota(settings, "lambda_concurrent_executions") - quota(settings, "lambda_unreserved_minimum")


def _function_limits(settings: Settings, name: str, reserved: int | None, seconds_per_webhook: float,
                     key: str) -> list[Limit]:
    """Function `name`'s concurrency ceiling: its reservation, else what the other functions leave
    of the account's concurrency."""
    unit = "concurrent executions"
    if reserved is not None:
        return [Limit("reserved concurrency", key, reserved, seconds_per_webhook, unit)]
    others = {other: claim for other, claim in concurrency_claims(settings).items() if other != name}
    return [Limit("account concurrency (unreserved)", "quotas.lambda_concurrent_executions",
                  quota(settings, "lambda_concurrent_executions"), seconds_per_webhook, unit,
                  quota=QUOTAS["lambda_concurrent_executions"], reserved=sum(others.values()))]


def hops(settings: Settings, traffic: Traffic = TRAFFIC, assumptions: Assumptions = ASSUMPTIONS) -> list[Hop]:
    """The webhook path of `settings`, hop by hop, with each hop's ceilings."""
    t, a, s = traffic, assumptions, settings
    q = lambda key: quota(s, key)  # noqa: E731
    batch = a.batch_fill
    result: list[Hop] = []

    result.append(Hop("API Gateway", (
        Limit("stage throttle", "api.throttle_rate_limit", s.api.throttle_rate_limit, 1.0, "requests/s"),
        Limit("account throttle", "quotas.api_gateway_requests_per_second", q("api_gateway_requests_per_second"),
              1.0, "requests/s", quota=QUOTAS["api_gateway_requests_per_second"]),
    ), note=f"burst {min(s.api.throttle_burst_limit, q('api_gateway_burst_requests')):,} requests (stage "
            f"{s.api.throttle_burst_limit:,}, account {q('api_gateway_burst_requests'):,}); the account's throttle "
            "is shared by every API of the account in the region"))
    if s.enabled("waf"):
        result.append(Hop("WAF rate rule", (
            Limit("rate-based rule", "api.waf_rate_limit", s.api.waf_rate_limit / WAF_RATE_WINDOW_SECONDS,
                  1.0 / a.source_ips_per_provider, "requests/s per source address",
                  setting_scale=WAF_RATE_WINDOW_SECONDS),
        ), note=f"{s.api.waf_rate_limit:,} requests per 5 minutes per source address"))
    if "authorizer" in s.functions:
        result.append(Hop("authorizer λ", tuple(_function_limits(
            s, "authorizer", s.function("authorizer").reserved_concurrency, a.authorizer_ms / 1000,
            "functions.authorizer.reserved_concurrency"))))
    result.append(Hop("ingest FIFO (SQS)", (
        Limit("SendMessage", "quotas.sqs_fifo_requests_per_second", q("sqs_fifo_requests_per_second"), 1.0,
              "requests/s", quota=QUOTAS["sqs_fifo_requests_per_second"]),
        Limit("ReceiveMessage (event source)", "quotas.sqs_fifo_requests_per_second",
              q("sqs_fifo_requests_per_second"), 1.0 / batch, "requests/s",
              quota=QUOTAS["sqs_fifo_requests_per_second"]),
    ), note="high throughput mode; partitions scale with the message groups (payments)"))

    if "processor" in s.functions:
        parallel = max(1, min(s.processor_parallel_groups, batch))
        batch_ms = a.processor_batch_ms + batch * a.processor_cpu_ms \
            + math.ceil(batch / parallel) * a.processor_writes * a.dynamodb_ms
        per_webhook = batch_ms / 1000 / batch
        limits = _function_limits(s, "processor", s.function("processor").reserved_concurrency, per_webhook,
                                  "functions.processor.reserved_concurrency")
        limits.append(Limit("event source maximum concurrency", "processor_scaling.event_source_max_concurrency",
                            s.processor_scaling.event_source_max_concurrency, per_webhook, "concurrent executions"))
        result.append(Hop("processor λ", tuple(limits),
                          note=f"batch {batch}, {parallel} message group(s) at once: {batch_ms:g} ms per batch"))

    table_quota = QUOTAS["dynamodb_table_write_units_per_second"]
    table_wru = q("dynamodb_table_write_units_per_second")
    result.append(Hop("DynamoDB writes", (
        Limit("ledger table", "quotas.dynamodb_table_write_units_per_second", table_wru, t.ledger_table_wru, "WRU/s",
              quota=table_quota),
        Limit("each ledger index", "quotas.dynamodb_table_write_units_per_second", table_wru,
              t.ledger_index_wru / LEDGER_INDEXES, "WRU/s", quota=table_quota),
        Limit("notification markers table", "quotas.dynamodb_table_write_units_per_second", table_wru,
              t.markers_table_wru, "WRU/s", quota=table_quota),
    ), note=f"on-demand; one item (a payment's row) takes at most "
            f"{q('dynamodb_partition_write_units_per_second'):,} WRU/s (its partition)"))

    shard_webhooks = q("dynamodb_partition_write_units_per_second") / t.ledger_table_wru
    if s.enabled("pipes"):
        archive_batch = s.pipes.archive_batch_size
        archive_ms = a.archiver_batch_ms + archive_batch * a.archiver_record_ms
        limits = [Limit("Pipe A", "pipes.archive_batch_size", archive_batch / (archive_ms / 1000), t.archive_records,
                        "records/s", shard_webhooks=shard_webhooks)]
        if "archiver" in s.functions:
            seconds = t.archive_records * (a.archiver_batch_ms / archive_batch + a.archiver_record_ms) / 1000
            limits += _function_limits(s, "archiver", s.function("archiver").reserved_concurrency, seconds,
                                       "functions.archiver.reserved_concurrency")
        limits.append(Limit("pipe executions (both pipes, one per shard)", "quotas.pipes_concurrent_executions",
                            q("pipes_concurrent_executions"), 2 / shard_webhooks, "executions",
                            quota=QUOTAS["pipes_concurrent_executions"]))
        result.append(Hop("Pipe A -> archiver λ", tuple(limits),
                          note=f"batch {archive_batch}: {archive_ms:g} ms per batch; a shard receives at most "
                               f"{shard_webhooks:,.0f} webhooks/s"))
        b_batch = s.pipes.batch_size
        result.append(Hop("Pipe B -> EventBridge", (
            Limit("Pipe B", "pipes.batch_size", b_batch / (a.pipe_b_batch_ms / 1000), t.bus_events, "records/s",
                  shard_webhooks=shard_webhooks),
            Limit("PutEvents", "quotas.eventbridge_put_events_per_second", q("eventbridge_put_events_per_second"),
                  t.bus_events / a.put_events_entries_per_request, "entries/s",
                  quota=QUOTAS["eventbridge_put_events_per_second"]),
            Limit("rule invocations", "quotas.eventbridge_invocations_per_second",
                  q("eventbridge_invocations_per_second"), t.rule_invocations, "invocations/s",
                  quota=QUOTAS["eventbridge_invocations_per_second"]),
        ), note="account quotas shared by every bus of the account in the region"))

    if "notifier" in s.functions:
        seconds = t.notifications * (a.notifier_batch_ms / batch + a.notifier_record_ms) / 1000
        result.append(Hop("notifier λ", tuple(_function_limits(
            s, "notifier", s.function("notifier").reserved_concurrency, seconds,
            "functions.notifier.reserved_concurrency"))))
        result.append(Hop("SNS publish", (
            Limit("Publish", "quotas.sns_publish_per_second", q("sns_publish_per_second"), t.notifications,
                  "messages/s", quota=QUOTAS["sns_publish_per_second"]),
        ), note="per subscription: e-mail at most "
                f"{q('sns_email_per_subscription_per_second')}/s (see the subscriptions below)"))

    if s.delivery.vendors:
        d = s.delivery
        seconds = t.delivery_events * (a.fanout_batch_ms / batch + a.fanout_record_ms) / 1000
        result.append(Hop("delivery fan-out λ", tuple(_function_limits(
            s, "delivery_fanout", d.fanout_reserved_concurrency, seconds, "delivery.fanout_reserved_concurrency"))))
        per_delivery_ms = a.sender_batch_ms / batch \
            + (a.vendor_ms + a.sender_dynamodb_trips * a.dynamodb_ms) / min(SENDER_PARALLEL_GROUPS, batch)
        seconds = t.deliveries * per_delivery_ms / 1000
        limits = _function_limits(s, "delivery_sender", d.sender_reserved_concurrency, seconds,
                                  "delivery.sender_reserved_concurrency")
        limits.append(Limit("event source maximum concurrency", "delivery.sender_max_concurrency",
                            d.sender_max_concurrency, seconds, "concurrent executions"))
        limits.append(Limit("deliveries table", "quotas.dynamodb_table_write_units_per_second", table_wru,
                            t.deliveries_table_wru, "WRU/s", quota=table_quota))
        held = q("sqs_fifo_in_flight_messages") / (t.deliveries * design_rate(s)) / 60 if t.deliveries else math.inf
        result.append(Hop("delivery sender λ", tuple(limits),
                          note=f"{per_delivery_ms:.1f} ms of a sender per delivery; endpoints' own rate limits below; "
                               "a failing vendor's deliveries wait in flight between attempts: if every vendor "
                               f"failed, the FIFO's {q('sqs_fifo_in_flight_messages'):,} in flight would fill in "
                               f"{held:,.0f} min at the design rate (delivery.auto_disable_after_seconds bounds it)"))
    return result
