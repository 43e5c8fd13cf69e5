"""The capacity table of an environment: per hop its maximum sustained rate and what limits it,
the utilisation at 1x, 10x and 100x a rate, the first hop to saturate and what moves it, then the
e-mail subscriptions, the functions' concurrency, the measured traffic, assumptions and quotas."""
from __future__ import annotations

import argparse
import math
import re

from constructs.app import capacity

MULTIPLES = (1, 10, 100)


def parse_rate(text: str) -> float:
    """Webhooks per second from `10000/min`, `167/s` or `10000` (per minute)."""
    match = re.fullmatch(r"\s*([0-9][0-9_,.]*)\s*(?:/\s*(min|m|s|sec))?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"a rate such as 10000/min or 167/s, got {text!r}")
    value = float(match.group(1).replace(",", "").replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a rate above 0, got {text!r}")
    return value if match.group(2) in ("s", "sec") else value / 60


def _rate(value: float) -> str:
    return "unlimited" if math.isinf(value) else f"{value:,.0f}/s"


def _share(value: float) -> str:
    return "any share" if value >= 1 else f"up to {value:.0%} of sales"


def report(settings, rate: float, traffic=None, assumptions=None) -> str:
    """The table and its notes for `settings` at `rate` webhooks/s (the model's measured traffic
    and assumptions unless given)."""
    traffic = traffic or capacity.TRAFFIC
    assumptions = assumptions or capacity.ASSUMPTIONS
    hops = capacity.hops(settings, traffic, assumptions)
    rows = [("hop", "max sustained", "limited by", *(f"{m}x" for m in MULTIPLES))]
    for hop in hops:
        limit = hop.limiting
        rows.append((hop.name, _rate(hop.max_rate), limit.describe() if limit else "-",
                     *(f"{hop.utilisation(m * rate):.0%}" + (" !" if hop.utilisation(m * rate) > 1 else "")
                       for m in MULTIPLES)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) if 0 < i != 2 else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip() for row in rows]
    notes = [f"  {hop.name}: {hop.note}" for hop in hops if hop.note]
    lines += ["", "notes:", *notes]

    first = min(hops, key=lambda hop: hop.max_rate)
    lines.append("")
    limit = first.limiting
    if limit is None or math.isinf(first.max_rate):
        lines.append("no hop saturates: every ceiling scales")
    else:
        lines.append(f"first hop to saturate: {first.name} at {first.max_rate:,.0f} webhooks/s "
                     f"({first.max_rate / rate:.1f}x the rate): {limit.describe()}")
        for multiple in MULTIPLES[1:]:
            if first.max_rate < multiple * rate:
                after = sorted((hop for hop in hops if hop is not first), key=lambda hop: hop.max_rate)[0]
                lines.append(f"  to carry {multiple}x ({multiple * rate:,.0f}/s): {limit.increase(multiple * rate)}; "
                             f"then {after.name} saturates first, at {_rate(after.max_rate)}")
                break
    for multiple in MULTIPLES[1:]:
        over = [hop for hop in hops if hop.utilisation(multiple * rate) > 1]
        lines.append(f"over capacity at {multiple}x ({multiple * rate:,.0f}/s):" + ("" if over else " none"))
        lines += [f"  {hop.name}: " + "; ".join(limit.increase(multiple * rate) for limit in hop.limits
                                                if limit.utilisation(multiple * rate) > 1) for hop in over]

    lines += ["", f"e-mail subscriptions of the vendor topic (SNS delivers at most "
                  f"{capacity.quota(settings, 'sns_email_per_subscription_per_second')} e-mails/s each; above it SNS "
                  "suspends the subscription):"]
    subscriptions = capacity.email_subscriptions(settings, traffic, rate=rate)
    lines += [f"  {sub.who}: {_share(sub.max_share)} at this rate "
              f"({sub.emails_per_second_at_full_share:,.1f} notifications/s in all)"
              for sub in subscriptions] or ["  none"]
    lines.append("vendor endpoints with a rate limit of their own (deliveries above it wait in the queue):")
    deliveries = traffic.deliveries * rate
    endpoints = [e for e in settings.delivery.endpoints(allow_loopback_http=settings.emulator).values()
                 if e.rate_limit_per_second]
    lines += [f"  {e.id} ({e.vendor_id}) {e.rate_limit_per_second:g}/s: "
              f"{_share(e.rate_limit_per_second / deliveries)} at this rate ({deliveries:,.1f} deliveries/s in all)"
              for e in endpoints] or ["  none"]

    claims = capacity.concurrency_claims(settings)
    account = capacity.quota(settings, "lambda_concurrent_executions")
    lines += ["", f"Lambda concurrency: the functions reserve {sum(claims.values()):,} of the "
                  f"{capacity.reservable(settings):,} the account lets them reserve (Concurrent executions "
                  f"{account:,} less {capacity.quota(settings, 'lambda_unreserved_minimum'):,} kept unreserved; "
                  f"{capacity.QUOTAS['lambda_concurrent_executions'].code})"]
    lines.append("  " + ", ".join(f"{name} {value}" for name, value in claims.items()))

    t = traffic
    lines += ["", "measured per webhook (the local end-to-end run's capture, its mix of events):",
              f"  ledger {t.ledger_table_wru:g} WRU + its indexes {t.ledger_index_wru:g} WRU, notification markers "
              f"{t.markers_table_wru:g} WRU; Pipe A {t.archive_records:g} records; bus {t.bus_events:g} events, "
              f"{t.rule_invocations:g} rule invocations; {t.notifications:g} notifications; {t.delivery_events:g} "
              f"delivery events, {t.deliveries:g} deliveries ({t.deliveries_table_wru:g} WRU)"]
    lines += ["assumptions:", *(f"  {line}" for line in assumptions.describe())]
    lines.append("quotas (null in the settings: AWS's default for the region):")
    for key, q in capacity.QUOTAS.items():
        configured = getattr(settings.quotas, key)
        lines.append(f"  quotas.{key} = {capacity.quota(settings, key):,} {q.unit}"
                     f"{'' if configured is None else ' (configured)'}: {q.label}; {q.source}")
    return "\n".join(lines)
