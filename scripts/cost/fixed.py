"""Fixed monthly costs: what the environment keeps running whatever the traffic, one function per
line (add a line: write a function of (Inventory, BillAssumptions) and list it in FIXED_LINES)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from scripts.cost.inventory import REASON_VALUES, Inventory
from scripts.cost.prices import EC2_PER_HOUR, FIXED_PRICES, HOURS_PER_MONTH, PRICES, SECONDS_PER_MONTH
from scripts.cost.reconcile import ReconcileInputs, idle_run


@dataclass(frozen=True)
class BillAssumptions:
    """What the whole bill assumes rather than counts or measures; the CLI prints each with what it
    is worth (bill.py, ASSUMPTION_STEPS)."""

    stream_shards: int = 1                   # DynamoDB stream shards per table (one per partition)
    stream_polls_per_second: float = 4.0     # GetRecords per shard per pipe (Lambda's documented 4/s)
    flow_log_gb_per_az_month: float = 0.5    # VPC flow log records, modelled
    endpoint_bytes_per_webhook: int = 2048   # bytes through the interface endpoints per webhook, modelled
    ledger_months: int = 12                  # months a webhook's ledger rows are priced (the ledger keeps them)
    log_compression: float = 0.2             # stored log bytes / ingested bytes (CloudWatch compresses), modelled
    reason_values: int = REASON_VALUES       # `reason` dimension values a month (custom metrics)
    vendor_share_even: bool = True           # notifications spread evenly over the known vendors
    paypal_share: float = 0.5                # share of webhooks from PayPal (its reconciler lists every event)


@dataclass(frozen=True)
class FixedLine:
    service: str
    dollars_per_month: float
    detail: str


FixedCost = Callable[[Inventory, BillAssumptions], FixedLine]


def provisioned_concurrency(inv: Inventory, a: BillAssumptions) -> FixedLine:
    price = FIXED_PRICES["lambda_provisioned_arm_per_gb_second"]
    steady = inv.provisioned_gb * SECONDS_PER_MONTH * price
    peaks = inv.peak_provisioned_gb_hours * 3600 * price / 12  # a year's peaks, spread over its months
    return FixedLine("Lambda provisioned", steady + peaks,
                     f"{inv.provisioned_gb:.2f} GB kept warm (processor minimum) x {HOURS_PER_MONTH} h"
                     + (f" + scheduled peaks {inv.peak_provisioned_gb_hours:,.0f} GB-h a year / 12" if peaks else ""))


def nat_instances(inv: Inventory, a: BillAssumptions) -> FixedLine:
    hourly = sum(EC2_PER_HOUR[t] for t in inv.nat_instances)
    volumes = inv.nat_volume_gb * FIXED_PRICES["ebs_gp3_per_gb_month"]
    kinds = ", ".join(f"{inv.nat_instances.count(t)} x {t}" for t in sorted(set(inv.nat_instances))) or "none"
    return FixedLine("NAT instances", hourly * HOURS_PER_MONTH + volumes,
                     f"{kinds} (${hourly:.4f}/h) + {inv.nat_volume_gb:g} GB gp3")


def public_ipv4(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("Public IPv4", inv.public_ipv4 * FIXED_PRICES["public_ipv4_per_hour"] * HOURS_PER_MONTH,
                     f"{inv.public_ipv4} Elastic IPs (the NAT instances'), $0.005/h each")


def interface_endpoints(inv: Inventory, a: BillAssumptions) -> FixedLine:
    enis = inv.interface_endpoints * inv.endpoint_azs
    return FixedLine("Interface endpoints", enis * FIXED_PRICES["interface_endpoint_per_az_hour"] * HOURS_PER_MONTH,
                     f"{inv.interface_endpoints} endpoints x {inv.endpoint_azs} AZs = {enis} ENI-hours each hour "
                     "(data: per webhook)")


def waf(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("WAF web ACL", inv.waf_acls * FIXED_PRICES["waf_web_acl_month"]
                     + inv.waf_rules * FIXED_PRICES["waf_rule_month"],
                     f"{inv.waf_acls} web ACL + {inv.waf_rules} rules and managed rule groups (requests: per webhook)")


def kms_keys(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("KMS keys", inv.kms_keys * FIXED_PRICES["kms_key_month"], f"{inv.kms_keys} customer managed keys")


def secrets(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("Secrets Manager", inv.secrets * FIXED_PRICES["secret_month"],
                     f"{inv.secrets} secrets (gate keys, signing secrets, vendor endpoint secrets)")


def alarms(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("CloudWatch alarms", inv.alarm_metrics * FIXED_PRICES["alarm_metric_month"],
                     f"{inv.alarm_metrics} standard-resolution alarm metrics")


def dashboards(inv: Inventory, a: BillAssumptions) -> FixedLine:
    return FixedLine("CloudWatch dashboard", inv.dashboards * FIXED_PRICES["dashboard_month"],
                     f"{inv.dashboards} (the account's 3 free ones not counted)")


def custom_metrics(inv: Inventory, a: BillAssumptions) -> FixedLine:
    series = inv.custom_metrics + inv.reason_metrics * a.reason_values
    return FixedLine("Custom metrics (EMF)", series * FIXED_PRICES["custom_metric_month"],
                     f"{series} metric series (name x dimension values: {inv.reason_metrics} names x "
                     f"{a.reason_values} reasons, vendor names x vendors)")


def pipes_polling(inv: Inventory, a: BillAssumptions) -> FixedLine:
    requests = inv.stream_pipes * a.stream_shards * a.stream_polls_per_second * SECONDS_PER_MONTH
    return FixedLine("Pipes stream polling", requests * PRICES["ddb_stream_read_request"],
                     f"{inv.stream_pipes} pipes x {a.stream_shards} shard x {a.stream_polls_per_second:g} GetRecords/s, "
                     "as DynamoDB Streams read requests (free for Lambda triggers only)")


def flow_logs(inv: Inventory, a: BillAssumptions) -> FixedLine:
    gb = inv.flow_logs * inv.az_count * a.flow_log_gb_per_az_month
    return FixedLine("VPC flow logs", gb * PRICES["vended_logs_per_gb"],
                     f"{gb:g} GB a month delivered to CloudWatch Logs ({a.flow_log_gb_per_az_month:g} GB per AZ, modelled)")


def reconciler_runs(inv: Inventory, a: BillAssumptions) -> FixedLine:
    run = idle_run(ReconcileInputs(memory_gb=inv.reconciler_memory_gb))
    return FixedLine("Reconciler runs", inv.reconcile_runs_per_month * run,
                     f"{inv.reconcile_runs_per_month:,.0f} scheduled runs x ${run:.6f} listing nothing (the invocation, "
                     "one page, two secret reads; what they list: per webhook)")


#: Every fixed line, in the order printed.
FIXED_LINES: tuple[FixedCost, ...] = (
    provisioned_concurrency, nat_instances, public_ipv4, interface_endpoints, waf, kms_keys, secrets, alarms,
    dashboards, custom_metrics, pipes_polling, flow_logs, reconciler_runs,
)


def fixed_lines(inv: Inventory, a: BillAssumptions) -> list[FixedLine]:
    return [line(inv, a) for line in FIXED_LINES]
