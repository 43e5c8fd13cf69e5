"""Variable AWS cost per million webhooks, from what the local end-to-end run measured.

    .venv/bin/python -m scripts.cost [--env prod] [--calls build/cost/calls.json]  # as deployed

Inputs, none typed in by hand:

* (a) the AWS API calls per webhook of the local run (``python -m scripts.local.e2e`` saves them
  with capture.py: calls by operation, failed conditional writes, the size of every
  DynamoDB item written and its index keys, the rows read, message bytes, records and message
  groups per batch, log lines by level and bytes per function);
* (b) payload sizes: the ledger event row and the ingest envelope are computed with the layer's
  own pure functions (``paycore.ledger.event_item``, ``paycore.envelope.build_envelope``) for a
  realistic 2,997-byte Stripe ``payment_intent.succeeded`` (``scripts/data/``), not the run's
  small synthetic bodies (inputs.py); the access log line from the stage's format
  (settings.py, ``access_log_bytes``); everything else is the run's measured sizes;
* (c) prices.py, us-east-1 list prices with their source and date.

The environment's settings (``CostSettings``, settings.py) say what the deployed stack does that
the local run cannot show (memory, X-Ray sampling, WAF and access logs, Pipe batching, e-mail
subscriptions): ``deployed_settings`` reads them from the environment's settings (cdktf.json), so
the figures are what the stack deploys. What is modelled rather than measured is named in each
field's comment.

The whole bill (bill.py, fixed.py, inventory.py, bill_report.py): the fixed monthly costs of what
the environment keeps running, counted from the stack its settings synthesize (provisioned
concurrency, NAT instances with their volumes and public IPv4 addresses, interface endpoints, WAF
web ACL and rules, KMS keys, secrets, alarms, dashboards, custom metrics, Pipes' stream polling,
flow logs: one function per line), what else each webhook causes (vendor subscriptions' deliveries,
endpoint data, vendor delivery, the ledger's, archive's and logs' storage over their life), and
``$ per million`` at 1M, 10M and 100M webhooks a month with the monthly total, its assumptions
each with what it is worth, and a PNG of $ per million against volume for dev and prod.

Prints one line per service and ``total: $X.XX per million webhooks``, the webhook path without
vendor delivery's share of the run (webhook.py); then, when the run delivered vendor webhooks,
one line per service for delivery and ``vendor delivery: $X.XX per million notifications
delivered`` (delivery.py). Time-bound calls (Secrets Manager reads,
cached per execution environment) are priced at the design rate (``webhooks_per_minute``), with
the run's own figure printed beside.
"""

from scripts.cost.bill import Bill, Inputs, whole_bill
from scripts.cost.bill_report import bill_report, plot
from scripts.cost.cli import bill_inputs, main
from scripts.cost.fixed import FIXED_LINES, BillAssumptions, FixedLine
from scripts.cost.inventory import Inventory, inventory
from scripts.cost.delivery import deliveries_made, delivery_bus_events, delivery_model, delivery_report
from scripts.cost.inputs import (
    DELIVERY_INDEXES,
    SAMPLE_CALLS,
    code_as_measured,
    load_calls,
    realistic_sizes,
    webhook_path,
)
from scripts.cost.prices import PRICES
from scripts.cost.settings import CostSettings, access_log_bytes, base_settings, deployed_settings, line_written
from scripts.cost.webhook import Line, model, report, total

__all__ = [
    "DELIVERY_INDEXES", "FIXED_LINES", "PRICES", "Bill", "BillAssumptions", "FixedLine", "Inputs", "Inventory",
    "bill_inputs", "bill_report", "inventory", "plot", "whole_bill", "SAMPLE_CALLS", "CostSettings", "Line", "access_log_bytes", "base_settings",
    "code_as_measured", "deliveries_made", "delivery_bus_events", "delivery_model", "delivery_report",
    "deployed_settings", "line_written", "load_calls", "main", "model", "realistic_sizes", "report", "total",
    "webhook_path",
]
