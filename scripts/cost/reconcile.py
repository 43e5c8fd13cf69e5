"""The reconciler's cost per scheduled run and per recovered event, and how many events one run can
list within its timeout (paycore.reconcile; constructs/reconcile).

A run lists every event of its window - the interval plus the lookback - page by page, and for each
page reads the ledger's event claims (one BatchGetItem of up to 100 consistent reads) and writes its
checkpoint row; a recovered event is one signed envelope sent to the ingest queue (batches of 10),
then the webhook path after the queue. Assumptions are named in each line: the list call's latency
(``PAGE_SECONDS``), the Lambda time to handle a page, the answer's size.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from scripts.cost.prices import PRICES
from scripts.cost.webhook import Line

#: Stripe returns at most 100 events a page; PayPal's page_size goes to 300.
PAGE_EVENTS = {"stripe": 100, "paypal": 300}
#: Stripe's live-mode rate limit for reads (docs.stripe.com/rate-limits: 100 operations a second).
STRIPE_READS_PER_SECOND = 100
#: Assumed: one list call's round trip (Stripe's API, through the NAT instances), and the Lambda's
#: own time per page (normalize 100 events, BatchGetItem, a checkpoint PutItem).
PAGE_SECONDS = 0.6
HANDLE_SECONDS_PER_PAGE = 0.15
EVENT_BYTES = 3_000  # a Stripe event as listed (scripts.cost.inputs.realistic_sizes: 2,997 B)


#: The share of a provider's webhooks a scheduled run lists: Stripe is asked only for the events it
#: could not deliver (delivery_success=false; modelled 0.1 %); PayPal's list has no such filter.
LISTED_SHARE = {"stripe": 0.001, "paypal": 1.0}


@dataclass(frozen=True)
class ReconcileInputs:
    webhooks_per_minute: int = 10_000
    interval_minutes: int = 15
    lookback_minutes: int = 60
    memory_gb: float = 0.5
    timeout_seconds: int = 300
    provider: str = "stripe"
    #: Share of the window's events the list returns: a scheduled Stripe run asks only for undelivered
    #: ones (delivery_success=false; modelled 0.1 %); PayPal's list has no such filter (all of them).
    listed_share: float = 1.0


def listed_per_run(i: ReconcileInputs) -> int:
    return math.ceil(i.webhooks_per_minute * (i.interval_minutes + i.lookback_minutes) * i.listed_share)


def pages_per_run(i: ReconcileInputs) -> int:
    return max(1, math.ceil(listed_per_run(i) / PAGE_EVENTS[i.provider]))


def run_model(i: ReconcileInputs) -> tuple[list[Line], dict]:
    """Lines of one run (dollars per run, not per million) and the figures."""
    listed = listed_per_run(i)
    pages = pages_per_run(i)
    seconds = pages * (PAGE_SECONDS + HANDLE_SECONDS_PER_PAGE)
    lines = [
        Line("Lambda reconciler", seconds * i.memory_gb * PRICES["lambda_arm_per_gb_second"] + PRICES["lambda_per_request"],
             f"{pages:,} pages x {PAGE_SECONDS + HANDLE_SECONDS_PER_PAGE:.2f} s (assumed) x {i.memory_gb} GB"),
        Line("DynamoDB", listed * PRICES["ddb_per_rru"] + pages * PRICES["ddb_per_wru"],
             f"{listed:,} consistent claim reads (BatchGetItem, 1 RRU each) + {pages:,} checkpoint writes"),
        Line("Secrets Manager + KMS", 2 * (PRICES["secrets_per_call"] + PRICES["kms_per_call"]),
             "the API key and the internal envelope key, read once a run (cached 300 s, runs 15 min apart)"),
        Line("NAT data transfer", 0.0,
             f"{listed * EVENT_BYTES / 1e9:.2f} GB in per run: data transfer in is free; requests out are "
             "a few hundred bytes a page"),
    ]
    figures = {"listed_per_run": listed, "pages_per_run": pages, "seconds_per_run": round(seconds, 1),
               "listable_in_timeout": int(i.timeout_seconds / (PAGE_SECONDS + HANDLE_SECONDS_PER_PAGE))
               * PAGE_EVENTS[i.provider],
               "stripe_rate_limit_pages_per_second": STRIPE_READS_PER_SECOND}
    return lines, figures


def idle_run(i: ReconcileInputs) -> float:
    """$ of a run that lists no event: the invocation, one page, the secret reads."""
    return sum(line.dollars_per_million for line in run_model(dataclasses.replace(i, webhooks_per_minute=0))[0])


def per_listed_event(i: ReconcileInputs) -> float:
    """$ of one event a run lists: its consistent claim read and its share of a page (the Lambda's
    time, the checkpoint write), as in :func:`run_model`."""
    page = ((PAGE_SECONDS + HANDLE_SECONDS_PER_PAGE) * i.memory_gb * PRICES["lambda_arm_per_gb_second"]
            + PRICES["ddb_per_wru"])
    return PRICES["ddb_per_rru"] + page / PAGE_EVENTS[i.provider]


def per_webhook(i: ReconcileInputs) -> float:
    """$ a webhook of the provider adds to its runs: listed (the provider's listed share) by every
    run whose window (interval + lookback) holds it."""
    return i.listed_share * (i.interval_minutes + i.lookback_minutes) / i.interval_minutes * per_listed_event(i)


def per_recovered_event(webhook_lines: list[Line]) -> Line:
    """One recovered event: a tenth of a SendMessageBatch, then the webhook path after the queue
    (the webhook model's lines without API Gateway, WAF and the authorizer)."""
    after_queue = sum(line.dollars_per_million for line in webhook_lines
                      if line.service not in ("API Gateway REST", "WAF", "Lambda authorizer")) / 1e6
    return Line("per recovered event", PRICES["sqs_fifo_per_request"] / 10 + after_queue,
                "a tenth of a SendMessageBatch + the webhook path after the queue")


def reconcile_report(lines: list[Line], figures: dict, recovered: Line) -> str:
    out = [f"reconciler {figures['provider']}, $ per run (every {figures['interval']} min, window +{figures['lookback']} min, "
           f"{figures['listed_share']:.1%} of 10,000 webhooks/min listed):"]
    out += [f"  {line.service:22s} ${line.dollars_per_million:.5f}   {line.detail}" for line in lines]
    total = sum(line.dollars_per_million for line in lines)
    out.append(f"  total: ${total:.4f} per run, ${total * 60 / figures['interval'] * 24 * 30:.2f} a month per provider; "
               f"{figures['listed_per_run']:,} events in {figures['pages_per_run']:,} pages, ~{figures['seconds_per_run']} s")
    if figures["seconds_per_run"] > figures["timeout"]:
        out.append(f"  over the {figures['timeout']} s timeout: runs resume where the last stopped, but fall behind "
                   "at this rate (a smaller lookback, a shorter interval or time-sliced windows are needed)")
    out.append(f"  {recovered.service}: ${recovered.dollars_per_million * 1e6:.2f} per million ({recovered.detail})")
    out.append(f"  capacity: {figures['listable_in_timeout']:,} events listable in the function's timeout")
    return "\n".join(out)
