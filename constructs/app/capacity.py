"""The platform's capacity, hop by hop: the AWS quotas it leans on (each with its default, Service
Quotas code and source), what one webhook uses of each hop (measured), what the model assumes
(durations), and from an environment's settings the highest sustained webhook rate each hop
carries and what limits it. The settings' rules fail synth when the stack cannot apply or cannot
carry the environment's design rate (`webhooks_per_minute`); scripts/capacity_model.py prints the
table. Plain Python: no cdktf or provider import."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:
    from constructs.app.settings import Settings

#: An SQS event source's batch (constructs.processing.SQS_BATCH_SIZE, the FIFO maximum).
SQS_BATCH = 10
#: Message groups of one batch the delivery sender works on at once (delivery_sender_handler.MAX_PARALLEL_GROUPS).
SENDER_PARALLEL_GROUPS = 10
#: The ledger's global secondary indexes (constructs.storage.LEDGER_GSIS).
LEDGER_INDEXES = 2
#: What the WAF rate rule counts over (seconds).
WAF_RATE_WINDOW_SECONDS = 300

LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_RESERVED = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
EVENTBRIDGE_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
SNS_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/sns.html"
SNS_EMAIL = "https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html"
DYNAMODB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
SQS_MESSAGE_QUOTAS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
SQS_FIFO_QUOTAS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html"


# ----- the quotas ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    """One account quota (per region) and how to raise it: `raise_by` "service-quotas" (a request
    with `code`), "support" (a case with AWS Support) or "hard" (it cannot be raised)."""

    key: str
    service: str
    name: str
    unit: str
    default: int
    source: str
    raise_by: Literal["service-quotas", "support", "hard"] = "service-quotas"
    code: str | None = None
    #: region -> default where it differs from `default`
    regions: Mapping[str, int] = field(default_factory=dict)

    def default_for(self, region: str) -> int:
        return self.regions.get(region, self.default)

    def increase(self, value: float) -> str:
        """What to do to have `value`."""
        target = f"{math.ceil(value):,}"
        if self.raise_by == "service-quotas":
            return (f"request a Service Quotas increase of {self.service} '{self.name}' ({self.code}) to {target}, "
                    f"then set quotas.{self.key}: {math.ceil(value)}")
        if self.raise_by == "support":
            return (f"ask AWS Support to raise {self.service} '{self.name}' to {target}, "
                    f"then set quotas.{self.key}: {math.ceil(value)}")
        return f"{self.service} '{self.name}' is a hard limit and cannot be raised"

    @property
    def label(self) -> str:
        return f"{self.service} '{self.name}'" + (f" ({self.code})" if self.code else "")


def _by_region(groups: Mapping[tuple[str, ...], int]) -> dict[str, int]:
    return {region: value for regions, value in groups.items() for region in regions}


#: Every quota the model reads, by its key under the settings' `quotas` (None there: this default).
QUOTAS: dict[str, Quota] = {q.key: q for q in (
    Quota("lambda_concurrent_executions", "Lambda", "Concurrent executions", "concurrent executions", 1_000,
          LAMBDA_QUOTAS, code="L-B99A9384"),
    # Reserved concurrency may take the account's concurrency less this much: functions without a
    # reservation keep it (new accounts with a lower concurrency quota keep less).
    Quota("lambda_unreserved_minimum", "Lambda", "Unreserved account concurrency minimum", "concurrent executions",
          100, LAMBDA_RESERVED, raise_by="hard"),
    Quota("api_gateway_requests_per_second", "API Gateway", "Throttle rate", "requests/s", 10_000, APIGW_QUOTAS,
          code="L-8A5B8E43"),
    Quota("api_gateway_burst_requests", "API Gateway", "Throttle burst rate", "requests", 5_000, APIGW_QUOTAS,
          raise_by="support", code="L-CDF5615A"),
    Quota("eventbridge_put_events_per_second", "EventBridge", "PutEvents throttle limit in transactions per second",
          "entries/s", 400, EVENTBRIDGE_QUOTAS, code="L-9B653E91", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 10_000,
              ("us-east-2", "eu-central-1", "eu-south-2"): 2_400,
              ("us-west-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-west-2"): 1_200,
              ("ap-east-1", "ap-northeast-2", "ap-south-1", "ca-central-1", "eu-north-1", "eu-west-3",
               "sa-east-1"): 600,
          })),
    Quota("eventbridge_invocations_per_second", "EventBridge", "Invocations throttle limit in transactions per second",
          "invocations/s", 750, EVENTBRIDGE_QUOTAS, code="L-5540C5E3", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 18_750,
              ("us-east-2", "eu-central-1", "eu-south-2"): 4_500,
              ("us-west-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-west-2"): 2_250,
              ("ap-east-1", "ap-northeast-2", "ap-south-1", "ca-central-1", "eu-north-1", "eu-west-3",
               "sa-east-1"): 1_100,
          })),
    Quota("sns_publish_per_second", "SNS", "Publish API throttling per account (standard topics)", "messages/s", 300,
          SNS_QUOTAS, raise_by="support", regions=_by_region({
              ("us-east-1",): 30_000,
              ("us-west-2", "eu-west-1"): 9_000,
              ("us-east-2", "us-west-1", "ap-south-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
               "ap-northeast-1", "eu-central-1"): 1_500,
          })),
    # Above it SNS suspends the subscription (PendingConfirmation), it does not queue (SNS_EMAIL).
    Quota("sns_email_per_subscription_per_second", "SNS", "Delivery rate for email messages", "e-mails/s", 10,
          SNS_QUOTAS, raise_by="hard"),
    Quota("dynamodb_table_write_units_per_second", "DynamoDB", "Table-level write throughput limit", "WRU/s", 40_000,
          DYNAMODB_QUOTAS, code="L-AB614373"),
    # One partition of a table or index; a stream has one shard per partition.
    Quota("dynamodb_partition_write_units_per_second", "DynamoDB", "Partition write throughput", "WRU/s", 1_000,
          DYNAMODB_QUOTAS, raise_by="hard"),
    # High throughput mode (the platform's FIFO queues), per API action; 300 per partition.
    Quota("sqs_fifo_requests_per_second", "SQS", "FIFO high throughput transactions per API action", "requests/s",
          2_400, SQS_MESSAGE_QUOTAS, raise_by="support", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 70_000,
              ("us-east-2", "eu-central-1"): 19_000,
              ("ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1"): 9_000,
              ("eu-west-2", "sa-east-1"): 4_500,
          })),
    Quota("sqs_fifo_in_flight_messages", "SQS", "FIFO messages in flight per queue", "messages", 120_000,
          SQS_FIFO_QUOTAS, raise_by="support"),
    Quota("pipes_concurrent_executions", "EventBridge Pipes", "Concurrent pipe executions per account", "executions",
          1_000, EVENTBRIDGE_QUOTAS, raise_by="support",
          regions=_by_region({("us-east-1", "us-west-2", "eu-west-1"): 3_000})),
)}


def quota(settings: Settings, key: str) -> int:
    """The account's value: the setting `quotas.<key>`, else AWS's default for the region."""
    configured = getattr(settings.quotas, key)
    return QUOTAS[key].default_for(settings.region) if configured is None else configured


# ----- what one webhook uses, and what the model assumes ---------------------------------------

@dataclass(frozen=True)
class Traffic:
    """Per webhook, what reaches each hop: measured on the local end-to-end run's capture
    (scripts/data/cost_calls_local_e2e.json, its mix of events) the way scripts/cost_model.py
    counts it; tests/test_capacity.py recomputes every figure from that capture."""

    ledger_table_wru: float = 2.55       # ledger rows written (event row 986 B = 1 WRU, markers, state)
    ledger_index_wru: float = 0.82       # both GSIs together (KEYS_ONLY, written when a state row is created)
    markers_table_wru: float = 0.64      # the notifier's at-most-once claims
    archive_records: float = 0.82        # Pipe A: new event rows -> archiver
    bus_events: float = 0.41             # Pipe B: state changes the rules route -> PutEvents entries
    rule_invocations: float = 0.73       # rule matches sent to a target (completed 0.32 + vendor delivery 0.41)
    notifications: float = 0.32          # completed payments -> notifier -> one SNS publish each
    delivery_events: float = 0.41        # vendor-delivery rule -> delivery fan-out
    deliveries: float = 0.39             # signed vendor webhooks sent
    deliveries_table_wru: float = 1.90   # the sender's rows (messages, attempts, rate slots, holds)


@dataclass(frozen=True)
class Assumptions:
    """What the model assumes rather than measures; the CLI prints each. Durations are the cost
    model's modelled ones (scripts/cost_model.py CostSettings: CPU benches plus AWS round trips)."""

    batch_fill: int = SQS_BATCH          # records per event-source batch at sustained traffic (full)
    authorizer_ms: float = 3.0           # per request; every request invokes it (result cache TTL 0)
    processor_batch_ms: float = 5.0      # per invocation
    processor_cpu_ms: float = 0.5        # per record, one at a time (one GIL)
    processor_writes: float = 3.0        # DynamoDB round trips per record: claim marker, event row, state row
    dynamodb_ms: float = 4.0             # one round trip in-region
    archiver_batch_ms: float = 40.0      # per Pipe A batch (an S3 PUT per provider and hour)
    archiver_record_ms: float = 1.0
    pipe_b_batch_ms: float = 50.0        # one PutEvents round trip per Pipe B batch
    notifier_batch_ms: float = 5.0
    notifier_record_ms: float = 12.0     # marker claim + publish + marker done
    fanout_batch_ms: float = 5.0
    fanout_record_ms: float = 10.0       # one SendMessageBatch per record
    sender_batch_ms: float = 5.0
    sender_dynamodb_trips: float = 7.4   # per delivery (the local run's, holds included)
    vendor_ms: float = 200.0             # a vendor's 2xx over a new TLS connection
    source_ips_per_provider: int = 1     # WAF counts per source address: worst case, all from one
    put_events_entries_per_request: int = 1  # each entry counted against PutEvents (Pipes may batch)

    def describe(self) -> list[str]:
        return [
            f"event-source batches hold {self.batch_fill} records (full, at sustained traffic)",
            f"authorizer {self.authorizer_ms:g} ms per request, no result cache (every request invokes it)",
            f"processor {self.processor_batch_ms:g} ms per batch + per record {self.processor_cpu_ms:g} ms CPU and "
            f"{self.processor_writes:g} DynamoDB round trips x {self.dynamodb_ms:g} ms (message groups of a batch "
            f"at once: processor_parallel_groups)",
            f"archiver {self.archiver_batch_ms:g} ms per batch + {self.archiver_record_ms:g} ms per record; Pipe B "
            f"{self.pipe_b_batch_ms:g} ms per batch (one PutEvents); a stream shard per table partition "
            "(1,000 WRU/s each), read by one batch at a time per pipe",
            f"notifier {self.notifier_batch_ms:g} + {self.notifier_record_ms:g} ms per record; fan-out "
            f"{self.fanout_batch_ms:g} + {self.fanout_record_ms:g} ms per record",
            f"sender {self.sender_batch_ms:g} ms per batch + per delivery {self.vendor_ms:g} ms vendor answer and "
            f"{self.sender_dynamodb_trips:g} DynamoDB round trips, {SENDER_PARALLEL_GROUPS} message groups at once",
            f"WAF: a provider sends from {self.source_ips_per_provider} source address(es) (worst case; Stripe and "
            "PayPal publish several)",
            f"EventBridge: {self.put_events_entries_per_request} PutEvents entr"
            f"{'y' if self.put_events_entries_per_request == 1 else 'ies'} per counted transaction (Pipes' batches "
            "not credited)",
        ]


TRAFFIC = Traffic()
ASSUMPTIONS = Assumptions()


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


# ----- what the settings' rules and the CLI ask ------------------------------------------------

@dataclass(frozen=True)
class Subscription:
    """An e-mail subscription of the vendor topic and the share of sales it may receive."""

    key: str
    who: str
    emails_per_second_at_full_share: float
    limit: float

    @property
    def max_share(self) -> float:
        """The largest share of the notifications it can take at the design rate."""
        full = self.emails_per_second_at_full_share
        return min(1.0, self.limit / full) if full else 1.0


def email_subscriptions(settings: Settings, traffic: Traffic = TRAFFIC,
                        rate: float | None = None) -> list[Subscription]:
    """The vendor topic's e-mail subscriptions (the vendors', and the alert address when its
    filter lets every sale through) at `rate` (default: the design rate)."""
    if not settings.enabled("email_subscriptions"):
        return []
    rate = design_rate(settings) if rate is None else rate
    full = traffic.notifications * rate
    limit = quota(settings, "sns_email_per_subscription_per_second")
    found = [Subscription(f"vendor_subscriptions[{i}].protocol", f"{sub.vendor_id} by e-mail", full, limit)
             for i, sub in enumerate(settings.vendor_subscriptions) if sub.protocol == "email"]
    if not settings.alert_email_vendor_ids:
        found.append(Subscription("alert_email_vendor_ids", f"the alert e-mail {settings.alert_email} (every sale)",
                                  full, limit))
    return found


def problems(settings: Settings, traffic: Traffic = TRAFFIC,
             assumptions: Assumptions = ASSUMPTIONS) -> list[tuple[str, str]]:
    """(key, message) for each way the environment cannot apply on its account or cannot carry
    its design rate; one per problem."""
    found: list[tuple[str, str]] = []
    claims = concurrency_claims(settings)
    total, allowed = sum(claims.values()), reservable(settings)
    if total > allowed:
        account = quota(settings, "lambda_concurrent_executions")
        minimum = quota(settings, "lambda_unreserved_minimum")
        parts = ", ".join(f"{name} {value}" for name, value in claims.items())
        found.append(("quotas.lambda_concurrent_executions",
                      f"the functions reserve {total:,} concurrent executions ({parts}), more than the account's "
                      f"{account:,} less the {minimum:,} Lambda keeps unreserved ({allowed:,}): "
                      f"{QUOTAS['lambda_concurrent_executions'].increase(total + minimum)}, "
                      "or lower the functions' reserved concurrency"))
    rate = design_rate(settings)
    for hop in hops(settings, traffic, assumptions):
        limit = hop.limiting
        if limit is None or limit.max_rate >= rate:
            continue
        found.append((limit.key, f"{hop.name} carries at most {limit.max_rate:,.0f} webhooks/s "
                                 f"({limit.describe(with_key=False)}), below the design rate {rate:,.0f}/s "
                                 f"(webhooks_per_minute {settings.webhooks_per_minute:,}): {limit.increase(rate)}"))
    return found


def warnings(settings: Settings, traffic: Traffic = TRAFFIC) -> list[str]:
    """`key: message` lines for what may break at the design rate but need not (it depends on a
    vendor's share of sales): e-mail subscriptions that a large vendor would push over SNS's
    per-subscription e-mail rate."""
    found = []
    for sub in email_subscriptions(settings, traffic):
        if sub.max_share >= 1.0:
            continue
        found.append(f"{sub.key}: {sub.who}: SNS delivers at most {sub.limit:g} e-mails/s per subscription (a hard "
                     f"limit; above it SNS suspends the subscription) and the design rate publishes "
                     f"{sub.emails_per_second_at_full_share:,.1f} notifications/s: a vendor with more than "
                     f"{sub.max_share:.0%} of sales exceeds it; use a signed webhook (delivery.vendors) or an SQS "
                     "subscription")
    return found
