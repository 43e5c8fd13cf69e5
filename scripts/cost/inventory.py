"""What an environment keeps running, counted from its synthesized stack (the Terraform JSON its
settings produce) and sized from its settings: the input of the fixed monthly costs (fixed.py).
Also the custom metric series the handlers emit (EMF: metric name x dimension values), read from
the code."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from scripts.cost.inputs import ROOT
from scripts.cost.prices import HOURS_PER_MONTH


@dataclass(frozen=True)
class Inventory:
    """Counts and sizes of what is billed per month, whatever the traffic."""

    environment: str
    provisioned_gb: float = 0.0              # provisioned executions x memory (GB), at the scaling minimum
    peak_provisioned_gb_hours: float = 0.0   # extra GB-hours a year the scheduled peaks keep warm
    nat_instances: tuple[str, ...] = ()      # instance types
    nat_volume_gb: float = 0.0               # their root volumes together
    public_ipv4: int = 0                     # Elastic IPs (each a public IPv4 address)
    interface_endpoints: int = 0             # interface endpoints
    endpoint_azs: int = 0                    # subnets (AZs) each endpoint has an ENI in
    waf_acls: int = 0
    waf_rules: int = 0                       # rules and managed rule groups, over every web ACL
    kms_keys: int = 0
    secrets: int = 0
    alarm_metrics: int = 0                   # metrics the alarms watch (one per standard alarm)
    dashboards: int = 0
    custom_metrics: int = 0                  # EMF metric series (name x dimension values), reasons aside
    reason_metrics: int = 0                  # metric names with a `reason` dimension (x its values)
    stream_pipes: int = 0                    # pipes reading a DynamoDB stream
    flow_logs: int = 0
    az_count: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)  # SNS subscriptions by protocol
    pitr_tables: tuple[str, ...] = ()        # tables with point-in-time recovery
    log_retention_days: int = 30
    archive: tuple[int, str, int] = (90, "GLACIER_IR", 2557)  # transition days, class, expiration days
    reconcile_runs_per_month: float = 0.0    # scheduled reconciler runs, every provider's together
    reconciler_memory_gb: float = 0.0


def _resources(stack: dict, kind: str) -> list[dict]:
    return list(stack.get("resource", {}).get(kind, {}).values())


def inventory(settings: Any, stack: dict) -> Inventory:
    """The inventory of `stack` (Terraform JSON) deployed with `settings` (constructs.app.settings)."""
    provisioned = _resources(stack, "aws_lambda_provisioned_concurrency_config")
    scaling = settings.processor_scaling
    memory_gb = settings.function("processor").memory_mb / 1024 if "processor" in settings.functions else 0.0
    warm = sum(p["provisioned_concurrent_executions"] for p in provisioned)
    if provisioned and _resources(stack, "aws_appautoscaling_target"):
        warm = max(warm, scaling.min_capacity)  # Application Auto Scaling keeps at least the minimum
    peaks = sum((_hours(a, b) * (int(sa["scalable_target_action"]["min_capacity"]) - scaling.min_capacity))
                for a, b, sa in _peak_pairs(stack))
    instances = [i for i in _resources(stack, "aws_instance") if i.get("source_dest_check") is False]
    endpoints = [e for e in _resources(stack, "aws_vpc_endpoint") if e.get("vpc_endpoint_type") == "Interface"]
    acls = _resources(stack, "aws_wafv2_web_acl")
    alarms = _resources(stack, "aws_cloudwatch_metric_alarm")
    subscriptions: dict[str, int] = {}
    for sub in _resources(stack, "aws_sns_topic_subscription"):
        subscriptions[sub["protocol"]] = subscriptions.get(sub["protocol"], 0) + 1
    return Inventory(
        environment=settings.environment,
        provisioned_gb=warm * memory_gb,
        peak_provisioned_gb_hours=peaks * memory_gb,
        nat_instances=tuple(i["instance_type"] for i in instances),
        nat_volume_gb=sum(float((i.get("root_block_device") or {}).get("volume_size", 8)) for i in instances),
        public_ipv4=len(_resources(stack, "aws_eip")),
        interface_endpoints=len(endpoints),
        endpoint_azs=max((len(e.get("subnet_ids") or []) for e in endpoints), default=0),
        waf_acls=len(acls),
        waf_rules=sum(len(acl.get("rule", [])) for acl in acls),
        kms_keys=len(_resources(stack, "aws_kms_key")),
        secrets=len(_resources(stack, "aws_secretsmanager_secret")),
        alarm_metrics=sum(len([q for q in a.get("metric_query", []) if "metric" in q]) or 1 for a in alarms),
        dashboards=len(_resources(stack, "aws_cloudwatch_dashboard")),
        custom_metrics=emf_series(settings, reason_values=0),
        reason_metrics=len(_code_metrics()[1]),
        stream_pipes=sum(1 for p in _resources(stack, "aws_pipes_pipe") if ":dynamodb:" in str(p.get("source", ""))
                         or "stream_arn" in str(p.get("source", ""))),
        flow_logs=len(_resources(stack, "aws_flow_log")),
        az_count=settings.network.az_count if settings.enabled("vpc") else 0,
        subscriptions=subscriptions,
        pitr_tables=tuple(t["name"] for t in _resources(stack, "aws_dynamodb_table")
                          if (t.get("point_in_time_recovery") or {}).get("enabled")),
        log_retention_days=settings.log_retention_days,
        archive=(settings.archive.transition_days, settings.archive.storage_class, settings.archive.expiration_days),
        reconcile_runs_per_month=sum(_runs_per_month(s["schedule_expression"])
                                     for s in _resources(stack, "aws_scheduler_schedule")),
        reconciler_memory_gb=max((f["memory_size"] / 1024 for f in _resources(stack, "aws_lambda_function")
                                  if f["handler"] == "reconciler_handler.handler"), default=0.0),
    )


def _runs_per_month(expression: str) -> float:
    """Runs a month (HOURS_PER_MONTH) of an EventBridge Scheduler `rate(N minutes|hours|days)`."""
    found = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if found is None:
        raise ValueError(f"the cost model reads rate() schedules only, got {expression!r}")
    minutes = int(found.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[found.group(2)]
    return HOURS_PER_MONTH * 60 / minutes


def _peak_pairs(stack: dict) -> list[tuple[str, str, dict]]:
    """(start, end, start action) of each scheduled peak: `-start` / `-end` actions by name."""
    actions = {a["name"]: a for a in _resources(stack, "aws_appautoscaling_scheduled_action")}
    pairs = []
    for name, start in actions.items():
        end = actions.get(name.removesuffix("-start") + "-end") if name.endswith("-start") else None
        if end is not None:
            pairs.append((start["schedule"], end["schedule"], start))
    return pairs


def _hours(start: str, end: str) -> float:
    from datetime import datetime

    at = lambda s: datetime.strptime(s.removeprefix("at(").removesuffix(")"), "%Y-%m-%dT%H:%M:%S")  # noqa: E731
    return (at(end) - at(start)).total_seconds() / 3600


# ----- custom metrics: what the handlers emit ---------------------------------------------------

#: Values of the `reason` dimension (WebhookRejected, UnroutableEvent) the model assumes appear in a
#: month (the rejection reasons of lambda_src/README.md and the unroutable ones): an assumption.
REASON_VALUES = 6
_NAME = r"[\"']([A-Z][A-Za-z]+)[\"']"


@lru_cache(maxsize=None)
def _code_metrics() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """(service-only names, names with a `reason`, names per vendor, per-vendor names also totalled)
    from the handlers and the layer: obs.count / add_metric / count_with_reason / vendor_metric calls."""
    constants = {}
    obs = (ROOT / "lambda_src" / "layer" / "paycore" / "obs.py").read_text()
    for name, value in re.findall(r"^([A-Z_]+) = \"([A-Za-z]+)\"$", obs, re.M):
        constants[name] = value
    plain: set[str] = set()
    reason: set[str] = set()
    vendor: set[str] = set()
    total: set[str] = set()
    for path in (ROOT / "lambda_src").rglob("*_handler.py"):
        code = path.read_text()
        for const in re.findall(r"obs\.count\(obs\.([A-Z_]+)", code):
            plain.add(constants[const])
        plain.update(re.findall(r"obs\.count\(" + _NAME, code))
        plain.update(re.findall(r"add_metric\((?:name=)?" + _NAME, code))
        reason.update(constants[c] for c in re.findall(r"count_with_reason\(obs\.([A-Z_]+)", code))
        if "obs.count_rejected(" in code:
            reason.add(constants["WEBHOOK_REJECTED"])
        for name, rest in re.findall(r"vendor_metric\(" + _NAME + r"([^\n]*)", code):
            vendor.add(name)
            if "total=True" in rest:
                total.add(name)
        if "def attempt_metrics" in code:  # one blob per attempt with the vendor dimension
            body = code.split("def attempt_metrics", 1)[1].split("\ndef ", 1)[0]
            vendor.update(re.findall(r"[\"'](Delivery[A-Za-z]+)[\"']", body))
    plain -= vendor
    return frozenset(plain), frozenset(reason), frozenset(vendor), frozenset(total)


def emf_series(settings: Any, reason_values: int = REASON_VALUES) -> int:
    """Metric series a month: each service-only name once, each reason name x `reason_values`, each
    vendor name x the environment's vendors (+1 where it is also emitted as a total)."""
    plain, reason, vendor, total = _code_metrics()
    vendors = len(settings.delivery.vendors)
    return len(plain) + len(reason) * reason_values + (len(vendor) * vendors + len(total) if vendors else 0)


# ----- the stack JSON -----------------------------------------------------------------------------

def synthesized_stack(settings: Any) -> dict:
    """The Terraform JSON `settings` synthesize (in this process; cdktf starts Node.js)."""
    from main import prepare_runtime

    prepare_runtime()
    from cdktf import Testing

    from constructs.app.stack import PaymentPlatformStack

    stack = PaymentPlatformStack(Testing.app(), settings.environment, settings=settings)
    return json.loads(Testing.synth(stack))
