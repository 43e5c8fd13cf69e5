"""The whole bill of an environment: the webhook path's variable cost (webhook.py), what else each
webhook causes (subscription deliveries, endpoint data, vendor delivery, storage over its life),
and the fixed monthly costs (fixed.py); $ per million webhooks at a monthly volume is the fixed
costs spread over the volume plus the variable cost. One function per extra line, like fixed.py."""
from __future__ import annotations

import dataclasses
import gzip
import re
from dataclasses import dataclass
from typing import Any, Callable

from scripts.cost.delivery import delivery_model
from scripts.cost.fixed import BillAssumptions, FixedLine, fixed_lines
from scripts.cost.inputs import STRIPE_EVENT, webhook_path
from scripts.cost.inventory import Inventory
from scripts.cost.prices import FIXED_PRICES, PRICES
from scripts.cost.reconcile import LISTED_SHARE, ReconcileInputs, per_webhook
from scripts.cost.settings import CostSettings
from scripts.cost.webhook import Line, model, total

#: Monthly volumes (millions of webhooks) the bill is printed at.
VOLUMES = (1, 10, 100)
#: DynamoDB's per-item overhead and a KEYS_ONLY index entry (keys + overhead), for the storage size.
ITEM_OVERHEAD_BYTES = 100
INDEX_ENTRY_BYTES = 160
#: S3 Glacier Instant Retrieval and Standard-IA bill each object as at least 128 KB.
MIN_BILLED_OBJECT_BYTES = 128 * 1024
DAYS_PER_MONTH = 30.4


@dataclass(frozen=True)
class Inputs:
    """Everything one bill is computed from."""

    calls: dict
    sizes: dict
    costs: CostSettings
    settings: Any                 # constructs.app.settings.Settings
    inventory: Inventory
    assumptions: BillAssumptions = BillAssumptions()


@dataclass(frozen=True)
class Bill:
    webhook: list[Line]            # the webhook path, per million webhooks (webhook.py)
    extra: list[Line]              # what else each webhook causes, per million webhooks
    fixed: list[FixedLine]         # per month
    delivery: list[Line]           # vendor delivery per million deliveries (delivery.py)
    deliveries_per_webhook: float

    @property
    def variable(self) -> float:
        """$ per million webhooks, whatever the volume."""
        return total(self.webhook) + total(self.extra)

    @property
    def fixed_month(self) -> float:
        return sum(line.dollars_per_month for line in self.fixed)

    def per_million(self, millions: float) -> float:
        """$ per million webhooks at `millions` webhooks a month."""
        return self.fixed_month / millions + self.variable

    def month(self, millions: float) -> float:
        """The monthly total at `millions` webhooks a month."""
        return self.fixed_month + millions * self.variable


ExtraCost = Callable[[Inputs, list[Line]], Line]


def _webhook_logs_bytes(webhook: list[Line]) -> float:
    """Bytes of logs one webhook ingests, as the CloudWatch Logs line prints them."""
    line = next(x for x in webhook if x.service == "CloudWatch Logs")
    match = re.match(r"(\d+) B per webhook", line.detail)
    assert match, line.detail
    return float(match.group(1))


def subscriptions(i: Inputs, webhook: list[Line]) -> Line:
    """The vendor topic's subscriptions: each notification goes to its vendor's subscription (a
    filter on vendor_id); e-mail $2 per 100,000, HTTPS $0.60 per million, SQS free."""
    path = webhook_path(i.calls)
    publishes = path["calls"].get("sns:Publish", 0) / path["webhooks"]
    known = max(1, len(i.settings.known_vendor_ids))
    by_protocol = {p: sum(1 for s in i.settings.vendor_subscriptions if s.protocol == p) for p in ("email", "https", "sqs")}
    if not i.settings.enabled("email_subscriptions"):
        by_protocol["email"] = 0
    emails = publishes * by_protocol["email"] / known
    https = publishes * by_protocol["https"] / known
    return Line("SNS subscriptions", (emails * PRICES["sns_per_email"] + https * PRICES["sns_per_https"]) * 1e6,
                f"{emails:.3f} e-mails + {https:.3f} HTTPS deliveries per webhook ({publishes:.2f} notifications, "
                f"spread over {known} known vendors; subscriptions: {by_protocol['email']} e-mail, "
                f"{by_protocol['https']} https, {by_protocol['sqs']} sqs)")


def endpoint_data(i: Inputs, webhook: list[Line]) -> Line:
    gb = i.assumptions.endpoint_bytes_per_webhook / 1e9 if i.inventory.interface_endpoints else 0.0
    return Line("Endpoint data", gb * FIXED_PRICES["interface_endpoint_per_gb"] * 1e6,
                f"{gb * 1e9:.0f} B per webhook through the endpoints (modelled)")


def vendor_delivery(i: Inputs, webhook: list[Line]) -> Line:
    lines, figures = delivery_model(i.calls, i.costs)
    per_webhook = figures.get("per_webhook", 0.0) if i.settings.delivery.vendors else 0.0
    return Line("Vendor delivery", total(lines) * per_webhook,
                f"{per_webhook:.2f} deliveries per webhook x ${total(lines):.2f} per million deliveries")


def ledger_storage(i: Inputs, webhook: list[Line]) -> Line:
    """The ledger's rows per webhook (their final sizes, the event row as the layer writes it for
    the realistic event) + index entries, stored and backed up (PITR) for `ledger_months`."""
    gb = ledger_bytes_per_webhook(i) / 1e9
    months = i.assumptions.ledger_months
    price = PRICES["ddb_storage_per_gb_month"] + (PRICES["ddb_pitr_per_gb_month"] if i.inventory.pitr_tables else 0.0)
    return Line("Ledger storage + PITR", gb * price * months * 1e6,
                f"{gb * 1e9:,.0f} B per webhook ({gb * 1e6:.2f} GB per million) x ${price:.2f}/GB-month x {months} months")


def ledger_bytes_per_webhook(i: Inputs) -> float:
    path = webhook_path(i.calls)
    event_row = i.sizes["event_row"] if i.costs.event_row == "zd1" else i.sizes["event_row_gzip"]
    final: dict[tuple, tuple[int, int]] = {}
    for write in path["dynamodb_writes"]:
        if not write["table"].startswith("payment-transactions-") or not write["ok"]:
            continue
        key = tuple(write["key"])
        size = event_row if write.get("row_type") == "event" else write["size"]
        indexes = max(len(write.get("gsi") or []), final.get(key, (0, 0))[1])
        final[key] = (size, indexes)
    stored = sum(size + ITEM_OVERHEAD_BYTES + indexes * INDEX_ENTRY_BYTES for size, indexes in final.values())
    return stored / path["webhooks"]


def archive_storage(i: Inputs, webhook: list[Line]) -> Line:
    """Each archived event's bytes (gzip of the realistic event) in S3 Standard until the
    transition, then the archive class until expiry (each object billed as at least 128 KB there),
    plus one transition request per object; objects per event as the S3 line counts them (Pipe A's
    full batches, the run's objects per batch)."""
    transition, storage_class, expiration = i.inventory.archive
    event_bytes = len(gzip.compress(STRIPE_EVENT.read_bytes(), compresslevel=6, mtime=0))
    events, objects_per_event = archived_events(i)
    events_per_object = 1 / objects_per_event if objects_per_event else 0.0
    cold_price = PRICES["s3_glacier_ir_per_gb_month" if storage_class == "GLACIER_IR" else "s3_standard_ia_per_gb_month"]
    billed_object = max(MIN_BILLED_OBJECT_BYTES, events_per_object * event_bytes)
    hot = event_bytes / 1e9 * PRICES["s3_standard_per_gb_month"] * transition / DAYS_PER_MONTH
    cold = objects_per_event * billed_object / 1e9 * cold_price * max(0, expiration - transition) / DAYS_PER_MONTH
    transitions = objects_per_event * PRICES["s3_transition_per_request" if storage_class == "GLACIER_IR"
                                             else "s3_transition_ia_per_request"]
    return Line("Archive storage (S3)", events * (hot + cold + transitions) * 1e6,
                f"{events:.2f} events per webhook, {event_bytes:,} B each, {events_per_object:.0f} per object; "
                f"Standard {transition} d, then {storage_class} to day {expiration} (objects billed at >= 128 KB), "
                "1 transition per object")


def archived_events(i: Inputs) -> tuple[float, float]:
    """(events archived per webhook, archive objects per event): new event rows; Pipe A's batches
    full at steady traffic, each written as the run's objects per batch (as webhook.py's S3 line)."""
    path = webhook_path(i.calls)
    events = sum(1 for w in path["dynamodb_writes"] if w.get("row_type") == "event" and w["ok"])
    quarantined = path["log_lines"].get("processor", {}).get("WARNING webhook rejected", {}).get("lines", 0)
    batches = path["functions"].get("archiver", {}).get("invocations", 0)
    objects_per_batch = (path["calls"].get("s3:PutObject", 0) - quarantined) / batches if batches else 0.0
    return events / path["webhooks"], min(1.0, objects_per_batch / i.costs.pipe_a_batch_size)


def log_storage(i: Inputs, webhook: list[Line]) -> Line:
    ingested = _webhook_logs_bytes(webhook)
    months = i.inventory.log_retention_days / DAYS_PER_MONTH
    stored_gb = ingested * i.assumptions.log_compression / 1e9
    return Line("Log storage", stored_gb * PRICES["logs_storage_per_gb_month"] * months * 1e6,
                f"{ingested:.0f} B ingested per webhook x {i.assumptions.log_compression:g} stored x "
                f"{i.inventory.log_retention_days} days retention")


def reconciliation(i: Inputs, webhook: list[Line]) -> Line:
    """What a webhook adds to its provider's scheduled reconciler runs (scripts.cost.reconcile): each
    run lists its window (interval + lookback), so a webhook is listed several times."""
    r = i.settings.reconcile
    if not i.inventory.reconcile_runs_per_month:
        return Line("Reconciliation", 0.0, "no reconciler in this stack")
    shares = {"paypal": i.assumptions.paypal_share, "stripe": 1 - i.assumptions.paypal_share}
    each = {provider: per_webhook(ReconcileInputs(
        interval_minutes=r.interval_minutes, lookback_minutes=r.lookback_minutes, provider=provider,
        memory_gb=i.inventory.reconciler_memory_gb, listed_share=LISTED_SHARE[provider])) for provider in r.providers}
    times = (r.interval_minutes + r.lookback_minutes) / r.interval_minutes
    return Line("Reconciliation", sum(shares[p] * dollars for p, dollars in each.items()) * 1e6,
                f"a webhook listed {times:g} times (window / interval) x the share its provider lists: "
                + ", ".join(f"{p} ${dollars * 1e6:.3f} per million x {shares[p]:.0%} of webhooks"
                            for p, dollars in each.items()))


#: Every extra line per webhook, in the order printed.
EXTRA_LINES: tuple[ExtraCost, ...] = (subscriptions, endpoint_data, vendor_delivery, ledger_storage, archive_storage,
                                      log_storage, reconciliation)


def whole_bill(i: Inputs) -> Bill:
    webhook = model(i.calls, i.costs, i.sizes)
    delivery_lines, figures = delivery_model(i.calls, i.costs)
    return Bill(webhook=webhook, extra=[line(i, webhook) for line in EXTRA_LINES],
                fixed=fixed_lines(i.inventory, i.assumptions), delivery=delivery_lines,
                deliveries_per_webhook=figures.get("per_webhook", 0.0))


# ----- assumptions and what each is worth -----------------------------------------------------

@dataclass(frozen=True)
class Step:
    """An assumption, its value as printed, and the move whose effect on the bill is printed."""

    label: str
    value: str
    move: str
    apply: Callable[[Inputs], Inputs]


def _costs(**changes: Any) -> Callable[[Inputs], Inputs]:
    return lambda i: dataclasses.replace(i, costs=dataclasses.replace(i.costs, **changes))


def _bill(**changes: Any) -> Callable[[Inputs], Inputs]:
    return lambda i: dataclasses.replace(i, assumptions=dataclasses.replace(i.assumptions, **changes))


def assumption_steps(i: Inputs) -> list[Step]:
    c, a = i.costs, i.assumptions
    ms = c.ms_per_invocation
    return [
        Step("Pipe A batches full at steady traffic", f"{c.pipe_a_batch_size} records", "half full",
             _costs(pipe_a_batch_size=max(1, c.pipe_a_batch_size // 2))),
        Step("processor CPU per record", f"{c.processor_cpu_ms:g} ms", "+0.5 ms",
             _costs(processor_cpu_ms=c.processor_cpu_ms + 0.5)),
        Step("DynamoDB round trip", f"{c.dynamodb_latency_ms:g} ms", "+4 ms",
             _costs(dynamodb_latency_ms=c.dynamodb_latency_ms + 4)),
        Step("authorizer duration", f"{ms['authorizer']:g} ms", "+3 ms",
             _costs(ms_per_invocation={**ms, "authorizer": ms["authorizer"] + 3})),
        Step("warm execution environments (secret reads)", f"{c.warm_environments}", "+10",
             _costs(warm_environments=c.warm_environments + 10)),
        Step("WAF log line", f"{c.waf_log_bytes:,} B", "+1,500 B", _costs(waf_log_bytes=c.waf_log_bytes + 1500)),
        Step("share of requests WAF blocks", f"{c.waf_blocked_share:g}", "+0.005",
             _costs(waf_blocked_share=c.waf_blocked_share + 0.005)),
        Step("share of webhooks WAF counts (logged with COUNT)", f"{c.waf_counted_share:g}", "-0.5",
             _costs(waf_counted_share=max(0.0, c.waf_counted_share - 0.5))),
        Step("vendor answer time", f"{c.vendor_latency_ms:g} ms", "+200 ms",
             _costs(vendor_latency_ms=c.vendor_latency_ms + 200)),
        Step("bytes per delivery through the NAT", f"{c.vendor_request_bytes:,} B", "+2,048 B",
             _costs(vendor_request_bytes=c.vendor_request_bytes + 2048)),
        Step("months a webhook's ledger rows are priced", f"{a.ledger_months}", "+12",
             _bill(ledger_months=a.ledger_months + 12)),
        Step("stored / ingested log bytes", f"{a.log_compression:g}", "+0.2", _bill(log_compression=a.log_compression + 0.2)),
        Step("flow logs per AZ", f"{a.flow_log_gb_per_az_month:g} GB/month", "+1 GB",
             _bill(flow_log_gb_per_az_month=a.flow_log_gb_per_az_month + 1)),
        Step("stream shards per table", f"{a.stream_shards}", "+1", _bill(stream_shards=a.stream_shards + 1)),
        Step("GetRecords per shard per pipe", f"{a.stream_polls_per_second:g}/s", "+4/s",
             _bill(stream_polls_per_second=a.stream_polls_per_second + 4)),
        Step("bytes through interface endpoints per webhook", f"{a.endpoint_bytes_per_webhook:,} B", "+2,048 B",
             _bill(endpoint_bytes_per_webhook=a.endpoint_bytes_per_webhook + 2048)),
        Step("`reason` dimension values a month", f"{a.reason_values}", "+6", _bill(reason_values=a.reason_values + 6)),
        Step("share of webhooks from PayPal (reconciliation lists each)", f"{a.paypal_share:g}", "+0.25",
             _bill(paypal_share=min(1.0, a.paypal_share + 0.25))),
    ]


def worth(i: Inputs, step: Step, millions: float) -> float:
    """The monthly bill's change at `millions` webhooks a month when `step` moves."""
    return whole_bill(step.apply(i)).month(millions) - whole_bill(i).month(millions)
