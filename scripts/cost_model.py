#!/usr/bin/env python3
"""Variable AWS cost per million webhooks, from what the local end-to-end run measured.

    .venv/bin/python scripts/cost_model.py [--env prod] [--calls build/cost/calls.json]  # as deployed
    .venv/bin/python scripts/cost_model.py --before      # before issue 14's cuts
    .venv/bin/python scripts/cost_model.py --all-cuts    # with every cut, deployed or not
    .venv/bin/python scripts/cost_model.py --cuts        # each cut on its own, and which are deployed

Inputs, none typed in by hand:

* (a) the AWS API calls per webhook of the local run (``scripts/local_e2e.py`` saves them with
  ``scripts/cost_capture.py``: calls by operation, failed conditional writes, the size of every
  DynamoDB item written and its index keys, the rows read, message bytes, records and message
  groups per batch, log lines by level and bytes per function);
* (b) payload sizes: the ledger event row and the ingest envelope are computed with the layer's
  own pure functions (``paycore.ledger.event_item``, ``paycore.envelope.build_envelope``) for a
  realistic 2,997-byte Stripe ``payment_intent.succeeded`` (``scripts/data/``), not the run's
  small synthetic bodies; the access log line from the stage's format (:func:`access_log_bytes`);
  everything else is the run's measured sizes;
* (c) :data:`PRICES`, us-east-1 list prices with their source and date.

The environment's settings (:class:`CostSettings`) say what the deployed stack does that the
local run cannot show (memory, X-Ray sampling, WAF and access logs, Pipe batching, e-mail
subscriptions) and which cuts are on: :func:`deployed_settings` reads them from the
environment's settings (cdktf.json, ``constructs.app.environments.load_settings``), so "now" is
what the stack deploys; :func:`settings_for` is the state before issue 14's cuts. What is modelled rather than measured is named in each
field's comment. Fixed monthly costs (provisioned concurrency, NAT instances, interface
endpoints, KMS keys, alarms, dashboards, WAF web ACL and rules, custom metrics, storage) are not
per webhook and are left out.

Prints one line per service and ``total: $X.XX per million webhooks``, the webhook path without
vendor delivery's share of the run (:func:`webhook_path`); then, when the run delivered vendor
webhooks, one line per service for delivery and ``vendor delivery: $X.XX per million
notifications delivered`` (:func:`delivery_model`). Time-bound calls (Secrets Manager reads,
cached per execution environment) are priced at the design rate (``webhooks_per_minute``), with
the run's own figure printed beside.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CALLS = ROOT / "build" / "cost" / "calls.json"
SAMPLE_CALLS = ROOT / "scripts" / "data" / "cost_calls_local_e2e.json"
STRIPE_EVENT = ROOT / "scripts" / "data" / "stripe_payment_intent_succeeded.json"
KB, CHUNK_64K = 1024, 64 * 1024

#: us-east-1 list prices, USD. Checked 2026-11-29 against the pages named in PRICE_SOURCES.
PRICE_DATE = "2026-11-29"
PRICES = {
    "apigw_rest_per_request": 3.50e-6,         # first 333 M requests/month
    "waf_per_request": 0.60e-6,
    "lambda_arm_per_gb_second": 0.0000133334,  # arm64, first 7.5 B GB-s/month
    "lambda_per_request": 0.20e-6,
    "ddb_per_wru": 0.625e-6,                   # on-demand, after the November 2024 price cut
    "ddb_per_rru": 0.125e-6,
    "sqs_fifo_per_request": 0.50e-6,           # per 64 KB chunk
    "sqs_standard_per_request": 0.40e-6,
    "s3_put_per_request": 0.005e-3,            # S3 Standard PUT/COPY/POST/LIST
    "s3_get_per_request": 0.0004e-3,
    "eventbridge_per_event": 1.00e-6,          # custom events, per 64 KB chunk
    "pipes_per_request": 0.40e-6,              # after filtering, per 64 KB chunk
    "logs_per_gb_ingested": 0.50,              # CloudWatch Logs standard class
    "logs_ia_per_gb_ingested": 0.25,           # CloudWatch Logs Infrequent Access class
    "xray_per_trace_recorded": 5.00e-6,
    "sns_per_publish": 0.50e-6,                # per 64 KB chunk
    "sns_per_email": 2.00e-5,                  # $2.00 per 100,000 e-mail notifications
    "sns_per_https": 0.60e-6,
    "secrets_per_call": 0.05e-4,               # $0.05 per 10,000 API calls
    "kms_per_call": 0.03e-4,                   # $0.03 per 10,000 requests
    # Vendor delivery leaves through the NAT *instances* (README "Environments": delivery_egress_ips;
    # DESIGN: NAT instances, not NAT gateways): EC2 data transfer out to the internet, first 10 TB
    # a month. The NAT gateway's $0.045/GB processing charge does not apply to an instance; with
    # nat_mode per_az the sender reaches the NAT of its own AZ (no inter-AZ transfer).
    "data_transfer_out_per_gb": 0.09,
}
PRICE_SOURCES = {
    "API Gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "WAF": "https://aws.amazon.com/waf/pricing/",
    "Lambda": "https://aws.amazon.com/lambda/pricing/",
    "DynamoDB": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "SQS": "https://aws.amazon.com/sqs/pricing/",
    "S3": "https://aws.amazon.com/s3/pricing/",
    "EventBridge, Pipes": "https://aws.amazon.com/eventbridge/pricing/",
    "CloudWatch Logs": "https://aws.amazon.com/cloudwatch/pricing/",
    "X-Ray": "https://aws.amazon.com/xray/pricing/",
    "SNS": "https://aws.amazon.com/sns/pricing/",
    "Secrets Manager": "https://aws.amazon.com/secrets-manager/pricing/",
    "KMS": "https://aws.amazon.com/kms/pricing/",
    "Data transfer out (EC2 NAT instance)": "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
}

#: Log lines on the success path, one per webhook (or per sale), by function and message: before
#: the ``no_success_info_logs`` cut at INFO; now at DEBUG (metrics count the same outcomes), so
#: written only where ``log_level`` is DEBUG. The run logs at the local environment's level (DEBUG).
SUCCESS_LINES = {
    ("processor", "transaction event recorded"),
    ("authorizer", "webhook gate: allowed"),
    ("notifier", "notification published"),
}
LOG_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _line_written(fn: str, kind: str, settings: CostSettings) -> bool:
    """Whether a captured line kind (``LEVEL message``, ``EMF``, ``other``) is written under `settings`."""
    level, _, message = kind.partition(" ")
    if (fn, message) in SUCCESS_LINES:
        return settings.success_info_logs
    if level not in LOG_LEVELS:  # EMF (metrics) and unstructured lines
        return True
    return LOG_LEVELS[level] >= LOG_LEVELS.get(settings.log_level, 20)


@dataclass(frozen=True)
class CostSettings:
    """What the deployed environment does beyond what the local run shows, and the cuts."""

    environment: str
    memory_mb: dict = field(default_factory=lambda: {
        "processor": 3008, "authorizer": 512, "archiver": 512, "notifier": 512})
    # Modelled billed duration (ms): per invocation + per record. From the CPU benches
    # (scripts/bench_processor.py) plus AWS round trips (DynamoDB ~4 ms per write, S3 ~20 ms).
    ms_per_invocation: dict = field(default_factory=lambda: {
        "processor": 5.0, "authorizer": 3.0, "archiver": 40.0, "notifier": 5.0,
        "delivery_fanout": 5.0, "delivery_sender": 5.0})
    # (the delivery fan-out: one SendMessageBatch round trip per record; the sender's per record is
    # its DynamoDB round trips as counted + vendor_latency_ms, its message groups in parallel)
    ms_per_record: dict = field(default_factory=lambda: {
        "authorizer": 0.0, "archiver": 1.0, "notifier": 12.0, "delivery_fanout": 10.0})
    # The processor's billed time per record: its CPU (bench_processor.py, with the ledger's
    # serialization) + its DynamoDB round trips per record as counted in the run x a latency.
    processor_cpu_ms: float = 0.5
    dynamodb_latency_ms: float = 4.0           # one PutItem/UpdateItem in-region, modelled
    processor_parallelism: int = 1             # message groups of a batch processed at once
    xray_sampling_rate: float = 0.1            # settings.xray_sampling_rate (1 trace per sampled webhook)
    access_log_bytes: int = 480                # one API Gateway access log line (before: the spaced format with protocol)
    access_log_class: str = "STANDARD"         # the API access log group: STANDARD | INFREQUENT_ACCESS
    lambda_platform_log_bytes: int = 330       # START + END + REPORT (with X-Ray segment) per invocation
    waf_log_bytes: int = 1500                  # one WAF log record (headers, rule matches), modelled
    waf_logging: str = "all"                   # "all" | "blocked_and_counted" (logging filter)
    waf_blocked_or_counted_share: float = 0.005  # share of requests WAF blocks or counts, modelled
    pipe_a_batch_size: int = 10                # settings.pipes.batch_size
    pipe_a_window_seconds: int = 0             # maximum_batching_window_in_seconds
    pipe_b_routed_only: bool = False           # Pipe B filter: only the statuses a rule routes
    event_row: str = "gzip"                    # "gzip" (before) | "zd1" (paycore.rawcodec; see realistic_sizes)
    gsi_projection: str = "ALL"                # "ALL" | "INCLUDE" (public state fields, < 1 KB) | "KEYS_ONLY"
    single_state_write: bool = False           # create-or-advance the state row in one conditional write
    redelivery_reads: bool = False             # a redelivery reads the event and state rows before writing
    success_info_logs: bool = True             # one INFO line per webhook per function on the success path
    log_level: str = "INFO"                    # settings.log_level: lines below it are not written
    alert_email_filtered: bool = False         # alert e-mail on the vendor topic with a filter policy
    authorizer_cache_seconds: int = 0          # REQUEST authorizer result TTL (0: every request invokes it)
    authorizer_cache_miss_share: float = 0.05  # with a TTL: share of requests that still invoke it, modelled
    lambda_system_log_level: str = "INFO"      # logging_config.system_log_level; WARN drops START/END/REPORT
    # SQS event source mappings delete a processed batch with one DeleteMessageBatch (the local
    # runner deletes message by message): deletes are counted per invocation, not per message.
    esm_batch_deletes: bool = True
    # The runner polls every queue until a receive comes back empty, and again each round while it
    # waits for a message the delivery sender held back; Lambda's pollers long-poll, and their empty
    # receives are per time (fixed), not per message: receives are counted one per invocation.
    esm_empty_receives: bool = False
    # Time-bound calls are priced at the design rate: REQUIREMENTS M16 (README "M16"), over 10,000
    # webhooks a minute at Black Friday peaks - the steady traffic the model assumes elsewhere
    # (full Pipe A batches). Secrets Manager reads are cached per execution environment, so their
    # calls per minute = warm environments x secrets the function reads x 60 / cache seconds.
    webhooks_per_minute: int = 10_000
    # Warm environments per function that reads secrets, modelled: at 10,000/min (~167 per second)
    # and ~50 ms per invocation incl. overhead, Little's law gives ~8 busy at once; 10 rounds up
    # (prod keeps 20 processor environments provisioned, but a batch of 10 serves 10 webhooks).
    warm_environments: int = 10
    secret_cache_seconds: int = 300            # paycore.secrets.DEFAULT_MAX_AGE_SECONDS (see settings_for)
    # Secrets each function reads per cache period, counted from the settings and the code (see
    # environment_facts): the authorizer a gate key per enabled provider, the processor a signing
    # secret per provider that needs one, the delivery sender one per vendor endpoint.
    secrets_read: dict = field(default_factory=dict)
    # Pipe B's statuses: the completed-payment rule's (pipes.status_routed_statuses: the webhook
    # path) and the ones only vendor delivery routes (Settings.routed_statuses less those: delivery's)
    webhook_statuses: tuple[str, ...] = ("succeeded",)
    delivery_statuses: tuple[str, ...] = ()
    # Vendor delivery (the block after the webhook total): the functions' memory (delivery.memory_mb),
    # a vendor's answer time (modelled: a 2xx from an HTTPS endpoint incl. a new TLS connection
    # from us-east-1), and the bytes one request sends through the NAT (modelled: TCP + TLS
    # handshake ~1.2 KB, headers with the signature ~0.4 KB, the JSON body ~0.5 KB; responses
    # come in, which is free).
    delivery_memory_mb: int = 512
    vendor_latency_ms: float = 200.0
    vendor_request_bytes: int = 2048


#: The cuts of issue 14 (name -> the settings change), in the order the closing note lists them.
CUTS = {
    "pipe_a_batching": {"pipe_a_batch_size": 100, "pipe_a_window_seconds": 60},
    "pipe_b_filtered": {"pipe_b_routed_only": True},
    "event_row_one_wru": {"event_row": "zd1"},
    "gsi_keys_only": {"gsi_projection": "KEYS_ONLY"},
    "single_state_write": {"single_state_write": True},
    "redelivery_reads_first": {"redelivery_reads": True},
    "waf_logs_filtered": {"waf_logging": "blocked_and_counted"},
    "no_success_info_logs": {"success_info_logs": False},
    "log_level_warning": {"log_level": "WARNING"},
    "alert_email_filter": {"alert_email_filtered": True},
    "authorizer_cache": {"authorizer_cache_seconds": 300},
    "lambda_system_logs_warn": {"lambda_system_log_level": "WARN"},
    "access_logs_infrequent_access": {"access_log_class": "INFREQUENT_ACCESS"},
    "access_log_compact": {"access_log_bytes": 427},  # = access_log_bytes() of the deployed format (a test checks)
    "processor_parallel_groups": {"processor_parallelism": 10},
}
#: Settings that would cut cost but break a requirement: shown by --what-if, never in CUTS.
WHAT_IF = {"xray_5_percent (C3 asks for a 0.1 sampling rule)": {"xray_sampling_rate": 0.05}}


def deployed_settings(environment: str, *, overrides: dict | None = None, measured: dict | None = None) -> CostSettings:
    """What the environment deploys, from its settings (cdktf.json; `overrides` in the settings'
    shape, for tests): the cuts that are settings are on or off as the stack builds them; the cuts
    that are code as `measured` (:func:`measured_code_cuts`) says, else as before."""
    try:
        from constructs.app.environments import load_settings
    except ImportError:
        raise SystemExit("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None

    s = load_settings(environment, overrides, environ={})
    base = settings_for(environment)
    return dataclasses.replace(
        base,
        memory_mb={name: s.function(name).memory_mb for name in base.memory_mb},
        xray_sampling_rate=s.xray_sampling_rate,
        waf_logging="blocked_and_counted" if s.api.waf_log_actions else "all",
        pipe_a_batch_size=s.pipes.archive_batch_size,
        pipe_a_window_seconds=s.pipes.archive_batching_window_seconds,
        pipe_b_routed_only=bool(s.pipes.status_routed_statuses),
        gsi_projection=s.ledger_index_projection,
        alert_email_filtered=bool(s.alert_email_vendor_ids),
        lambda_system_log_level=s.lambda_system_log_level if s.enabled("lambda_logging_config") else "INFO",
        success_info_logs=s.log_level == "DEBUG",
        log_level=s.log_level,
        access_log_class=s.api.access_log_class,
        access_log_bytes=access_log_bytes(),
        processor_parallelism=s.processor_parallel_groups,
        webhook_statuses=s.pipes.status_routed_statuses or base.webhook_statuses,  # empty: unfiltered, unused
        delivery_memory_mb=s.delivery.memory_mb,
        **(measured or {}),
    )


#: $context values of one webhook request, to render the stage's access log format (the size of a line).
ACCESS_LOG_SAMPLE = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "$context.identity.sourceIp": "54.187.174.169",
    "$context.identity.caller": "-", "$context.requestTime": "29/Nov/2026:05:47:24 +0000",
    "$context.httpMethod": "POST", "$context.resourcePath": "/webhooks/{provider}", "$context.status": "200",
    "$context.protocol": "HTTP/1.1", "$context.responseLength": "77", "$context.integration.status": "200",
    "$context.integrationLatency": "21", "$context.responseLatency": "48", "$context.authorizer.error": "-",
    "$context.waf.status": "200", "$context.error.message": "-",
    "$context.xrayTraceId": "Root=1-67a1b2c3-0123456789abcdef01234567;Sampled=0",
}


def access_log_bytes(log_format: str | None = None) -> int:
    """Bytes of one access log line: the stage's format (constructs.ingress.ACCESS_LOG_FORMAT)
    rendered with :data:`ACCESS_LOG_SAMPLE`, plus the newline."""
    if log_format is None:
        from constructs.ingress import ACCESS_LOG_FORMAT as log_format
    for variable in sorted(ACCESS_LOG_SAMPLE, key=len, reverse=True):  # $context.status before $context.s...
        log_format = log_format.replace(variable, ACCESS_LOG_SAMPLE[variable])
    return len(log_format.encode()) + 1


def deployed_cuts(deployed: CostSettings) -> list[str]:
    """The cuts the deployed settings already make (applying one changes nothing)."""
    return [cut for cut, change in CUTS.items() if dataclasses.replace(deployed, **change) == deployed]


@functools.lru_cache(maxsize=None)
def environment_facts(environment: str) -> dict:
    """What the model counts from the environment's settings and the code rather than assume:
    the secrets each function reads (the authorizer a gate key per enabled provider,
    ``SecretStore.gate_keys``; the processor a signing secret per enabled provider whose adapter
    has ``secret_required``; the delivery sender a signing secret per configured endpoint), the
    secrets cache period, and the statuses Pipe B puts on the bus only for vendor delivery."""
    try:
        from constructs.app.environments import load_settings
        from paycore import providers
        from paycore.secrets import DEFAULT_MAX_AGE_SECONDS
    except ImportError:
        raise SystemExit("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None

    s = load_settings(environment, None, environ={})
    return {
        "secrets_read": {
            "authorizer": len(s.providers),
            "processor": sum(1 for name in s.providers if providers.get(name).secret_required),
            "delivery_sender": len(s.delivery.endpoints(allow_loopback_http=s.emulator)),
        },
        "secret_cache_seconds": DEFAULT_MAX_AGE_SECONDS,
        "delivery_statuses": tuple(x for x in s.delivery.routed_statuses if x not in s.pipes.status_routed_statuses),
    }


def settings_for(environment: str, *, cuts: tuple[str, ...] = ()) -> CostSettings:
    """The environment before issue 14's cuts, with `cuts` applied."""
    if environment == "prod":
        base = CostSettings("prod")
    elif environment == "dev":
        base = CostSettings("dev", memory_mb={"processor": 1024, "authorizer": 512, "archiver": 512, "notifier": 512})
    else:
        raise SystemExit(f"no cost settings for environment {environment!r} (prod, dev)")
    base = dataclasses.replace(base, **environment_facts(environment))
    changes: dict = {}
    for cut in cuts:
        if cut not in CUTS:
            raise SystemExit(f"unknown cut {cut!r}; known: {', '.join(CUTS)}")
        changes.update(CUTS[cut])
    return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------- payload sizes

def wru(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / KB))


def realistic_sizes() -> dict[str, int]:
    """Item and message sizes for the realistic Stripe event, from the layer's own functions.

    ``event_row``: the row :func:`paycore.ledger.event_item` writes today; ``event_row_gzip``: the
    same event in the layout before the zd1 cut (``raw_gzip``, plus ``event_id``, ``occurred_at``
    and ``status_rank``, which the row now leaves to its sort key and its status)."""
    import gzip

    from cost_capture import item_size  # scripts/ is this script's folder; paycore is installed
    from paycore import ledger, rawcodec
    from paycore.envelope import build_envelope
    from paycore.providers import stripe

    raw = STRIPE_EVENT.read_bytes()
    envelope = build_envelope(provider="stripe", received_at=1_732_240_000_123, request_id="0" * 36,
                              source_ip="54.187.174.169",
                              headers={"stripe-signature": stripe.sign("whsec_" + "0" * 32, 1_732_240_000, raw)}, raw=raw)
    txn = stripe.PROVIDER.normalize(envelope, json.loads(raw))
    plain = ledger.event_item(txn, raw, request_id=envelope.request_id, signature_headers=envelope.headers)
    before = {k: v for k, v in plain.items() if k not in rawcodec.ATTRIBUTES}
    before.update(event_id=txn.event_id, occurred_at=txn.occurred_at, status_rank=txn.status_rank,
                  raw_gzip=gzip.compress(raw, compresslevel=6, mtime=0))
    return {
        "raw_body": len(raw),
        "envelope": len(envelope.to_json().encode()),
        "event_row": item_size(ledger.serialize(plain)),
        "event_row_gzip": item_size(ledger.serialize(before)),
        "event_row_codec": next((k for k in rawcodec.ATTRIBUTES if k in plain), "none"),  # type: ignore[dict-item]
    }


def measured_code_cuts(calls: dict, sizes: dict) -> dict:
    """The cuts that are code, not settings, as the run and the layer show them: the event row's
    codec, one conditional write per state change (an UpdateItem that created the state row),
    redeliveries that read before they write (GetItems of ledger rows)."""
    writes = calls.get("dynamodb_writes", [])
    return {
        "event_row": "zd1" if sizes.get("event_row_codec") == "raw_zd1" else "gzip",
        "single_state_write": any(w.get("row_type") == "state" and w["op"] == "UpdateItem" and w.get("kind") == "create"
                                  for w in writes),
        "redelivery_reads": any(r.get("row_type") in ("event", "state") for r in calls.get("dynamodb_reads", [])),
    }


# --------------------------------------------------------------------------- the model

@dataclass
class Line:
    service: str
    dollars_per_million: float
    detail: str


#: The vendor delivery functions (capture callers) and its table's KEYS_ONLY indexes
#: (constructs.delivery.INDEXES; a test checks); the table is named in constructs/app/names.py.
DELIVERY_FUNCTIONS = ("delivery_fanout", "delivery_sender")
DELIVERY_INDEXES = ("by-endpoint", "by-transaction")
BATCH_GET_KEYS = 2  # the sender's one BatchGetItem per record: message row + endpoint state (_read_rows)
SENDER_MAX_PARALLEL_GROUPS = 10  # delivery_sender_handler.MAX_PARALLEL_GROUPS


@functools.lru_cache(maxsize=1)
def _delivery_table_prefix() -> str:
    """`deliveries-` (the table of any environment, names.Names.deliveries_table)."""
    from constructs.app.names import DELIVERIES_TABLE

    return f"{DELIVERIES_TABLE}-"


def _delivery_table(entry: dict) -> bool:
    return str(entry.get("table", "")).startswith(_delivery_table_prefix())


def webhook_path(calls: dict) -> dict:
    """The run without vendor delivery's share, so the webhook figure does not move with it: the
    delivery functions' calls (theirs and their event sources', ``calls_by_caller``) taken out of
    the operation counts, the deliveries table's writes, failed writes and reads left out, the
    delivery functions' invocations and log lines left out. A capture without ``calls_by_caller``
    (before vendor delivery) is returned as it is."""
    by_caller = calls.get("calls_by_caller")
    if not by_caller:
        return calls
    ops: collections.Counter[str] = collections.Counter(calls["calls"])
    for fn in DELIVERY_FUNCTIONS:
        ops.subtract(by_caller.get(fn, {}))
    failed: collections.Counter[str] = collections.Counter(calls.get("failed", {}))
    for write in calls["dynamodb_writes"]:
        if _delivery_table(write) and not write["ok"]:
            failed[f"dynamodb:{write['op']}"] -= 1
    return {
        **calls,
        "calls": {k: v for k, v in ops.items() if v > 0},
        "failed": {k: v for k, v in failed.items() if v > 0},
        "function_errors": {k: v for k, v in calls.get("function_errors", {}).items()
                            if k.split(":")[0] not in DELIVERY_FUNCTIONS},
        "dynamodb_writes": [w for w in calls["dynamodb_writes"] if not _delivery_table(w)],
        "dynamodb_reads": [r for r in calls.get("dynamodb_reads", []) if not _delivery_table(r)],
        "functions": {k: v for k, v in calls["functions"].items() if k not in DELIVERY_FUNCTIONS},
        "log_lines": {k: v for k, v in calls["log_lines"].items() if k not in DELIVERY_FUNCTIONS},
    }


def _state_changes_by_status(calls: dict) -> collections.Counter[str] | None:
    """Successful ledger state-row writes by the status they set, or None when the capture did
    not record the status (before it did)."""
    states = [w for w in calls["dynamodb_writes"] if w.get("row_type") == "state" and w["ok"] and not _delivery_table(w)]
    if not states or not all("status" in w for w in states):
        return None
    return collections.Counter(w["status"] for w in states)


def secret_calls_per_minute(settings: CostSettings, functions: tuple[str, ...]) -> float:
    """GetSecretValue calls a minute of `functions` at steady traffic: every warm environment reads
    each of its secrets once per cache period."""
    reads = sum(settings.secrets_read.get(fn, 0) for fn in functions)
    return settings.warm_environments * reads * 60 / settings.secret_cache_seconds


def model(calls: dict, settings: CostSettings, sizes: dict[str, int] | None = None) -> list[Line]:
    """Cost lines per million webhooks for ``calls`` (the run's JSON) under ``settings``; vendor
    delivery's share of the run is left out (:func:`webhook_path`, :func:`delivery_model`)."""
    sizes = sizes or realistic_sizes()
    calls = webhook_path(calls)
    n = calls["webhooks"]
    per = lambda count: count / n  # noqa: E731 - per webhook
    ops = calls["calls"]
    fns = {fn: dict(figures) for fn, figures in calls["functions"].items()}
    cached = _authorizer_share(settings)
    if "authorizer" in fns:
        fns["authorizer"]["invocations"] *= cached
        fns["authorizer"]["records"] *= cached
    million = 1_000_000
    lines: list[Line] = []

    def add(service: str, dollars_per_webhook: float, detail: str) -> None:
        lines.append(Line(service, dollars_per_webhook * million, detail))

    accepted = ops.get("sqs:SendMessage", 0)  # API Gateway's SendMessage: one per accepted request
    add("API Gateway REST", PRICES["apigw_rest_per_request"], "1 request per webhook")
    add("WAF", PRICES["waf_per_request"], "1 request per webhook")

    # ---- DynamoDB: write units from item sizes; GSIs written when an item with their keys changes
    writes = calls["dynamodb_writes"]
    event_row_size = sizes["event_row"] if settings.event_row == "zd1" else sizes["event_row_gzip"]
    wrus = gsi_wrus = 0.0
    event_rows = marker_claims = removed = added = 0
    previous: dict[tuple, dict] = {}
    for write in writes:
        row = write.get("row_type", "")
        size = write["size"]
        if row == "event":
            size = event_row_size
            event_rows += write["ok"]
        elif row == "marker" and write["key"][0].startswith("event#"):
            marker_claims += 1
        key = tuple(write["key"])
        if row == "state" and write["ok"] and write.get("kind") == "create":
            before = previous.get(key)
            if write["op"] == "PutItem" and settings.single_state_write and before is not None \
                    and before["op"] == "UpdateItem" and not before["ok"]:
                removed += 1  # the failed "advance" made before each create is not needed
                wrus -= wru(before["size"])
            elif write["op"] == "UpdateItem" and not settings.single_state_write:
                added += 1  # without the cut: a failed "advance", then the PutItem that creates
                wrus += wru(size)
        previous[key] = write
        wrus += wru(size)
        if write["ok"] and write.get("gsi"):
            if settings.gsi_projection == "ALL":
                gsi_wrus += len(write["gsi"]) * wru(size)
            elif settings.gsi_projection == "INCLUDE":  # the public state fields change with the status
                gsi_wrus += len(write["gsi"]) * wru(min(size, KB))
            elif write.get("kind") == "create":  # KEYS_ONLY: keys are set once, at creation
                gsi_wrus += len(write["gsi"])
    # A redelivery's strongly consistent reads of its event and state rows (1 read unit each, up to
    # 4 KB); without the cut each was a conditional write that failed, billed as a write of the row.
    ledger_reads = [r for r in calls.get("dynamodb_reads", []) if r.get("row_type") in ("event", "state")]
    reads = sum(v for k, v in ops.items() if k in ("dynamodb:GetItem", "dynamodb:Query"))
    if not settings.redelivery_reads:
        reads -= len(ledger_reads)
        wrus += sum(wru(event_row_size if r["row_type"] == "event" else r.get("size", 0)) for r in ledger_reads)
        added += len(ledger_reads)
    processor_trips = sum(1 for w in writes if w.get("row_type") in ("event", "state")
                          or w["key"][0].startswith("event#")) - removed + added \
        + (len(ledger_reads) if settings.redelivery_reads else 0)
    failed = sum(calls["failed"].get(k, 0) for k in ("dynamodb:PutItem", "dynamodb:UpdateItem")) - removed + added
    add("DynamoDB", per(wrus + gsi_wrus) * PRICES["ddb_per_wru"] + per(reads) * PRICES["ddb_per_rru"],
        f"{per(wrus):.2f} table + {per(gsi_wrus):.2f} index WRU, {per(reads):.2f} RRU per webhook; "
        f"event row {settings.event_row} {event_row_size} B, {per(failed):.2f} failed conditional writes"
        + (f" ({per(removed):.2f} avoided)" if removed else ""))

    # ---- S3: archive objects per Pipe A batch (one per provider and hour) + quarantine objects
    quarantined = calls["log_lines"].get("processor", {}).get("WARNING webhook rejected", {}).get("lines", 0)
    archive_puts = ops.get("s3:PutObject", 0) - quarantined
    archiver = fns.get("archiver", {"invocations": 0, "records": 0})
    objects_per_batch = archive_puts / archiver["invocations"] if archiver["invocations"] else 0
    # at steady traffic every batch fills before its window ends: objects per event = objects per batch / batch size
    puts_per_event = min(1.0, objects_per_batch / settings.pipe_a_batch_size)
    s3_puts = per(event_rows) * puts_per_event + per(quarantined)
    add("S3", s3_puts * PRICES["s3_put_per_request"],
        f"{s3_puts:.3f} PUT per webhook (Pipe A batch {settings.pipe_a_batch_size}, window "
        f"{settings.pipe_a_window_seconds} s, {objects_per_batch:.1f} objects per batch; quarantine {per(quarantined):.3f})")

    # ---- CloudWatch Logs: the functions' lines as measured (+ platform lines), access, WAF logs
    log_bytes = 0.0
    for fn, kinds in calls["log_lines"].items():
        for kind, figures in kinds.items():
            if not _line_written(fn, kind, settings):
                continue
            log_bytes += figures["bytes"] * (cached if fn == "authorizer" else 1.0)
    invocations = sum(f["invocations"] for f in fns.values())
    if settings.lambda_system_log_level == "INFO":
        log_bytes += invocations * settings.lambda_platform_log_bytes
    waf_bytes = (1.0 if settings.waf_logging == "all" else settings.waf_blocked_or_counted_share) * settings.waf_log_bytes
    access_price = PRICES["logs_ia_per_gb_ingested" if settings.access_log_class == "INFREQUENT_ACCESS" else "logs_per_gb_ingested"]
    add("CloudWatch Logs", (per(log_bytes) + waf_bytes) / 1e9 * PRICES["logs_per_gb_ingested"]
        + settings.access_log_bytes / 1e9 * access_price,
        f"{per(log_bytes) + settings.access_log_bytes + waf_bytes:.0f} B per webhook: functions {per(log_bytes):.0f} "
        f"(level {settings.log_level}, success lines {'on' if settings.success_info_logs else 'off'}, "
        f"system logs {settings.lambda_system_log_level}), access log {settings.access_log_bytes} "
        f"({settings.access_log_class}), WAF {waf_bytes:.0f} ({settings.waf_logging})")

    # ---- EventBridge + Pipes: Pipe B sends every state change, or only the routed ones
    # every successful write of a state row is a state change on the stream (Pipe B's input); the
    # bus entries the run measured are only the ones its filter let through
    state_changes = sum(1 for w in writes if w.get("row_type") == "state" and w["ok"]) \
        or len(calls["message_bytes"].get("events", []))
    routed = fns.get("notifier", {}).get("records", 0) - sum(
        v for k, v in calls.get("function_errors", {}).items() if k.startswith("notifier"))
    by_status = _state_changes_by_status(calls)
    if settings.pipe_b_routed_only and by_status is not None:  # the completed-payment rule's statuses
        routed = sum(by_status[x] for x in settings.webhook_statuses)
    # (the statuses only vendor delivery routes are delivery's cost: delivery_model)
    bus_events = routed if settings.pipe_b_routed_only else state_changes
    chunks = lambda sizes_: sum(max(1, math.ceil(s / CHUNK_64K)) for s in sizes_)  # noqa: E731
    event_chunk = chunks(calls["message_bytes"].get("events", [])) / max(1, len(calls["message_bytes"].get("events", [])))
    add("EventBridge", per(bus_events) * event_chunk * PRICES["eventbridge_per_event"],
        f"{per(bus_events):.2f} events per webhook ({'routed statuses only' if settings.pipe_b_routed_only else 'every state change'})")
    pipe_requests = per(event_rows) + per(bus_events)
    add("EventBridge Pipes", pipe_requests * PRICES["pipes_per_request"],
        f"{per(event_rows):.2f} Pipe A + {per(bus_events):.2f} Pipe B records per webhook, after filtering")

    # ---- SQS: the ingest FIFO queue (sends, ESM receives/deletes) and the notifications queue
    fifo_sends = chunks([sizes["envelope"]] * accepted)
    consumer = {fn: fns.get(fn, {}).get("records", 0) for fn in ("processor", "notifier")}
    share = consumer["processor"] / max(1, sum(consumer.values()))
    deletes = ops.get("sqs:DeleteMessage", 0) + ops.get("sqs:DeleteMessageBatch", 0)
    batches = sum(fns.get(fn, {}).get("invocations", 0) for fn in consumer)
    if settings.esm_batch_deletes:  # one DeleteMessageBatch per invocation of each queue consumer
        deletes = min(deletes, batches)
    receives = ops.get("sqs:ReceiveMessage", 0)
    if not settings.esm_empty_receives:  # one receive per batch: the empty polls are per time
        receives = min(receives, batches)
    esm_calls = deletes + receives + ops.get("sqs:ChangeMessageVisibility", 0)
    fifo = fifo_sends + esm_calls * share
    standard = routed + esm_calls * (1 - share)  # EventBridge's delivery to the queue is a send
    add("SQS", per(fifo) * PRICES["sqs_fifo_per_request"] + per(standard) * PRICES["sqs_standard_per_request"],
        f"{per(fifo):.2f} FIFO + {per(standard):.2f} standard requests per webhook (envelope {sizes['envelope']} B)")

    # ---- Lambda: requests + GB-seconds (modelled duration) per function
    processor_records = fns.get("processor", {}).get("records", 0) or 1
    # Groups of a batch on threads overlap their DynamoDB round trips (not their CPU: one GIL), as
    # many at once as the setting allows and the batches held groups (measured per invocation).
    processor = fns.get("processor", {})
    groups_per_batch = processor.get("message_groups", 0) / max(1, processor.get("invocations", 0))
    parallel = max(1.0, min(float(settings.processor_parallelism), groups_per_batch or 1.0))
    per_record = dict(settings.ms_per_record, processor=(
        settings.processor_cpu_ms + processor_trips / processor_records * settings.dynamodb_latency_ms / parallel))
    for fn, figures in sorted(fns.items()):
        if fn == "archiver" and event_rows:  # Pipe A invokes it per full batch at steady traffic (as S3 above)
            figures = dict(figures, invocations=event_rows / settings.pipe_a_batch_size)
        memory_gb = settings.memory_mb.get(fn, 512) / 1024
        seconds = (figures["invocations"] * settings.ms_per_invocation.get(fn, 5.0)
                   + figures["records"] * per_record.get(fn, 5.0)) / 1000
        add(f"Lambda {fn}", per(figures["invocations"]) * PRICES["lambda_per_request"]
            + per(seconds) * memory_gb * PRICES["lambda_arm_per_gb_second"],
            f"{per(figures['invocations']):.2f} invocations, {per(seconds) * 1000:.1f} ms x {memory_gb:.2f} GB per webhook"
            + (f" ({parallel:.1f} groups at once; batches held {groups_per_batch:.1f})" if fn == "processor" else ""))

    add("X-Ray", settings.xray_sampling_rate * PRICES["xray_per_trace_recorded"],
        f"sampling {settings.xray_sampling_rate:.2f}, one trace per sampled webhook")

    # per time, not per webhook (a cache per execution environment): at the design rate
    readers = ("authorizer", "processor")
    secret_calls = secret_calls_per_minute(settings, readers) / settings.webhooks_per_minute
    add("Secrets Manager + KMS", secret_calls * (PRICES["secrets_per_call"] + PRICES["kms_per_call"]),
        f"{secret_calls:.4f} GetSecretValue (+ KMS Decrypt) per webhook at {settings.webhooks_per_minute:,}/min: "
        f"{settings.warm_environments} warm environments x "
        + " + ".join(f"{fn} {settings.secrets_read.get(fn, 0)}" for fn in readers)
        + f" secrets per {settings.secret_cache_seconds} s (run: {per(ops.get('secretsmanager:GetSecretValue', 0)):.3f})")

    publishes = per(ops.get("sns:Publish", 0))
    emails = 0.0 if settings.alert_email_filtered else publishes
    add("SNS", publishes * PRICES["sns_per_publish"] + emails * PRICES["sns_per_email"],
        f"{publishes:.2f} publishes per webhook; alert e-mail {'filtered to alerts' if settings.alert_email_filtered else 'receives every sale'}"
        f" ({emails:.2f} e-mails)")
    return lines


def deliveries_made(calls: dict) -> tuple[int, int]:
    """(deliveries, attempts) of the run: the sender's ``webhook delivered`` lines (one per 2xx;
    the run logs at DEBUG, so every line is captured) and those plus ``webhook attempt failed``."""
    kinds = calls["log_lines"].get("delivery_sender", {})
    delivered = sum(f["lines"] for kind, f in kinds.items() if kind.endswith(" webhook delivered"))
    failed = sum(f["lines"] for kind, f in kinds.items() if kind.endswith(" webhook attempt failed"))
    return delivered, delivered + failed


def delivery_bus_events(calls: dict, settings: CostSettings) -> tuple[float, str]:
    """Bus events (= Pipe B records) only vendor delivery puts on the bus: state changes to the
    statuses it alone routes (``settings.delivery_statuses``). From the run's state writes by
    status when the capture has them; else Pipe B's entries as measured (the bus entries less the
    functions' own PutEvents) less the completed-payment rule's (the notifier's records), which
    is the statuses the *run's* environment routes."""
    if not settings.pipe_b_routed_only:  # every state change is on the bus for the webhook path already
        return 0.0, "Pipe B unfiltered: every state change is the webhook path's"
    by_status = _state_changes_by_status(calls)
    if by_status is not None:
        return float(sum(by_status[x] for x in settings.delivery_statuses)), \
            f"state changes to {', '.join(settings.delivery_statuses) or 'none'} counted by status"
    by_caller = calls.get("calls_by_caller") or {}
    own = sum(ops.get("events:PutEvents", 0) for who, ops in by_caller.items() if who != "-")
    pipe_b = len(calls["message_bytes"].get("events", [])) - own
    notified = calls["functions"].get("notifier", {}).get("records", 0)
    return float(max(0, pipe_b - notified)), "Pipe B entries measured less the notifier's (the run's routed statuses)"


def delivery_model(calls: dict, settings: CostSettings) -> tuple[list[Line], dict]:
    """Vendor delivery's cost lines per million notifications delivered, from the delivery
    functions' calls in the run (``calls_by_caller``) divided by the deliveries the run made
    (:func:`deliveries_made`), plus what only delivery puts on the bus (:func:`delivery_bus_events`),
    the deliveries table's writes (size-based WRU, the KEYS_ONLY index entries of each message row
    created), NAT egress and Secrets Manager at the design rate. ([], {}) when the run has no
    delivery. The runner's inflation is taken out as in :func:`model`: deletes and receives per
    invocation (it deletes one by one and polls until a receive is empty)."""
    by_caller = calls.get("calls_by_caller") or {}
    delivered, attempts = deliveries_made(calls)
    if not delivered or not any(by_caller.get(fn) for fn in DELIVERY_FUNCTIONS):
        return [], {}
    per = lambda count: count / delivered  # noqa: E731 - per delivery
    fanout, sender = by_caller.get("delivery_fanout", {}), by_caller.get("delivery_sender", {})
    fns = {fn: calls["functions"].get(fn, {"invocations": 0, "records": 0}) for fn in DELIVERY_FUNCTIONS}
    lines: list[Line] = []

    def add(service: str, dollars_per_delivery: float, detail: str) -> None:
        lines.append(Line(service, dollars_per_delivery * 1_000_000, detail))

    # ---- DynamoDB: every write's size (a failed conditional write bills too); the index entries of
    # each message row created (KEYS_ONLY: keys only, 1 WRU each; updates do not change the keys)
    writes = [w for w in calls["dynamodb_writes"] if _delivery_table(w)]
    created = {tuple(w["key"]): w["size"] for w in writes if w["op"] == "PutItem" and any(w["key"])}
    wrus = sum(wru(max(w["size"], created.get(tuple(w["key"]), 0))) for w in writes)
    if any(w.get("gsi") for w in writes):
        index_wrus = sum(len(w["gsi"]) for w in writes if w["ok"] and w["op"] == "PutItem")
    else:  # a capture without the deliveries table's index keys: every created row but the attempts is a message row
        messages = sum(1 for w in writes if w["ok"] and w["op"] == "PutItem") - attempts
        index_wrus = len(DELIVERY_INDEXES) * max(0, messages)
    rrus = sender.get("dynamodb:BatchGetItem", 0) * BATCH_GET_KEYS + sender.get("dynamodb:GetItem", 0) \
        + sender.get("dynamodb:Query", 0)
    add("DynamoDB", per(wrus + index_wrus) * PRICES["ddb_per_wru"] + per(rrus) * PRICES["ddb_per_rru"],
        f"{per(wrus):.2f} table + {per(index_wrus):.2f} index WRU, {per(rrus):.2f} consistent RRU per delivery "
        f"({per(sum(1 for w in writes if not w['ok'])):.2f} failed conditional writes)")

    # ---- SQS: the rule's send to delivery-events (one per fan-out record) and the fan-out's event
    # source (standard); the fan-out's SendMessageBatch, the sender's event source, its holds
    # (ChangeMessageVisibility) and dead-letter copies (FIFO)
    def esm(ops: dict, fn: str) -> float:
        batches = fns[fn]["invocations"]
        deletes = ops.get("sqs:DeleteMessage", 0) + ops.get("sqs:DeleteMessageBatch", 0)
        receives = ops.get("sqs:ReceiveMessage", 0)
        return (min(deletes, batches) if settings.esm_batch_deletes else deletes) \
            + (receives if settings.esm_empty_receives else min(receives, batches))
    standard = fns["delivery_fanout"]["records"] + esm(fanout, "delivery_fanout") + fanout.get("sqs:ChangeMessageVisibility", 0)
    fifo = fanout.get("sqs:SendMessageBatch", 0) + fanout.get("sqs:SendMessage", 0) + esm(sender, "delivery_sender") \
        + sender.get("sqs:ChangeMessageVisibility", 0) + sender.get("sqs:SendMessage", 0)
    add("SQS", per(standard) * PRICES["sqs_standard_per_request"] + per(fifo) * PRICES["sqs_fifo_per_request"],
        f"{per(standard):.2f} standard + {per(fifo):.2f} FIFO requests per delivery "
        f"({per(sender.get('sqs:ChangeMessageVisibility', 0)):.2f} holds)")

    # ---- EventBridge + Pipes: the statuses only delivery routes, and the sender's own events
    bus, how = delivery_bus_events(calls, settings)
    emitted = sender.get("events:PutEvents", 0)
    add("EventBridge", per(bus + emitted) * PRICES["eventbridge_per_event"],
        f"{per(bus):.2f} state changes per delivery ({how}) + {per(emitted):.3f} delivery events")
    add("EventBridge Pipes", per(bus) * PRICES["pipes_per_request"], f"{per(bus):.2f} Pipe B records per delivery")

    # ---- Lambda: requests + GB-seconds (modelled durations, as for the webhook path's functions)
    memory_gb = settings.delivery_memory_mb / 1024
    # the sender waits for its DynamoDB round trips and, per attempt (not per held record), for the
    # vendor; the message groups of a batch run on threads, as many at once as the batches held
    trips = sum(v for k, v in sender.items() if k.startswith("dynamodb:"))
    groups = fns["delivery_sender"].get("message_groups", 0) / max(1, fns["delivery_sender"]["invocations"])
    parallel = max(1.0, min(float(SENDER_MAX_PARALLEL_GROUPS), groups or 1.0))
    waited_ms = {"delivery_fanout": fns["delivery_fanout"]["records"] * settings.ms_per_record.get("delivery_fanout", 5.0),
                 "delivery_sender": (trips * settings.dynamodb_latency_ms + attempts * settings.vendor_latency_ms) / parallel}
    for fn in DELIVERY_FUNCTIONS:
        figures = fns[fn]
        seconds = (figures["invocations"] * settings.ms_per_invocation.get(fn, 5.0) + waited_ms[fn]) / 1000
        add(f"Lambda {fn}", per(figures["invocations"]) * PRICES["lambda_per_request"]
            + per(seconds) * memory_gb * PRICES["lambda_arm_per_gb_second"],
            f"{per(figures['invocations']):.2f} invocations, {per(seconds) * 1000:.1f} ms x {memory_gb:.2f} GB per delivery"
            + (f" (vendor {settings.vendor_latency_ms:.0f} ms per attempt, {per(trips):.1f} DynamoDB trips per delivery, "
               f"{parallel:.1f} groups at once)" if fn == "delivery_sender" else ""))

    # ---- CloudWatch Logs: the lines the environment's level writes (+ platform lines); X-Ray
    log_bytes = sum(f["bytes"] for fn in DELIVERY_FUNCTIONS for kind, f in calls["log_lines"].get(fn, {}).items()
                    if _line_written(fn, kind, settings))
    invocations = sum(fns[fn]["invocations"] for fn in DELIVERY_FUNCTIONS)
    if settings.lambda_system_log_level == "INFO":
        log_bytes += invocations * settings.lambda_platform_log_bytes
    add("CloudWatch Logs", per(log_bytes) / 1e9 * PRICES["logs_per_gb_ingested"],
        f"{per(log_bytes):.0f} B per delivery (level {settings.log_level}: EMF per attempt, lines at or above it)")
    add("X-Ray", per(invocations) * settings.xray_sampling_rate * PRICES["xray_per_trace_recorded"],
        f"sampling {settings.xray_sampling_rate:.2f} of {per(invocations):.2f} invocations per delivery")

    # ---- NAT instance egress: each attempt's request bytes out to the internet
    add("NAT data transfer out", per(attempts) * settings.vendor_request_bytes / 1e9 * PRICES["data_transfer_out_per_gb"],
        f"{per(attempts):.2f} attempts x {settings.vendor_request_bytes} B (modelled) per delivery, EC2 NAT instance "
        f"${PRICES['data_transfer_out_per_gb']}/GB out (no NAT gateway processing charge)")

    # ---- Secrets Manager + KMS: per time, at the design rate's deliveries per minute
    per_minute = settings.webhooks_per_minute * delivered / calls["webhooks"]
    secret_calls = secret_calls_per_minute(settings, ("delivery_sender",)) / per_minute
    add("Secrets Manager + KMS", secret_calls * (PRICES["secrets_per_call"] + PRICES["kms_per_call"]),
        f"{secret_calls:.4f} GetSecretValue (+ KMS Decrypt) per delivery at {per_minute:,.0f} deliveries/min "
        f"({settings.webhooks_per_minute:,} webhooks/min): {settings.warm_environments} warm environments x "
        f"{settings.secrets_read.get('delivery_sender', 0)} endpoint secrets per {settings.secret_cache_seconds} s "
        f"(run: {per(sender.get('secretsmanager:GetSecretValue', 0)):.3f})")
    # what the held messages (rate limit, pause, not yet due) cost of the above: each hold is a
    # ChangeMessageVisibility, a re-read of the rows (BatchGetItem) and, under a rate limit, a
    # failed rate-slot write; a first try without a hold costs the rest
    holds = sender.get("sqs:ChangeMessageVisibility", 0)
    rereads = max(0, sender.get("dynamodb:BatchGetItem", 0) - attempts)
    failed_writes = sum(1 for w in writes if not w["ok"])
    held = per(holds) * PRICES["sqs_fifo_per_request"] + per(rereads) * BATCH_GET_KEYS * PRICES["ddb_per_rru"] \
        + per(failed_writes) * PRICES["ddb_per_wru"]
    return lines, {"deliveries": delivered, "attempts": attempts, "per_webhook": delivered / calls["webhooks"],
                   "holds": per(holds), "rereads": per(rereads), "failed_writes": per(failed_writes),
                   "held_dollars": held * 1_000_000}


def delivery_report(lines: list[Line], figures: dict) -> str:
    out = [f"vendor delivery, $ per million notifications delivered (the run: {figures['deliveries']} deliveries "
           f"in {figures['attempts']} attempts, {figures['per_webhook']:.2f} per webhook; from the sender's "
           f"'webhook delivered' lines):"]
    out += [f"  {line.service:22s} ${line.dollars_per_million:6.2f}   {line.detail}" for line in lines]
    out.append(f"  of which held messages: ${figures['held_dollars']:.2f} ({figures['holds']:.2f} holds, "
               f"{figures['rereads']:.2f} re-reads, {figures['failed_writes']:.2f} failed rate-slot writes per delivery); "
               f"a first try without a hold: ${total(lines) - figures['held_dollars']:.2f}")
    out.append(f"vendor delivery: ${total(lines):.2f} per million notifications delivered")
    return "\n".join(out)


def _authorizer_share(settings: CostSettings) -> float:
    """Share of webhooks that invoke the authorizer: all without a result cache; with one (the
    key as identity source, TTL 300 s) only cache misses (API Gateway caches per node: modelled)."""
    return settings.authorizer_cache_miss_share if settings.authorizer_cache_seconds else 1.0


def report(lines: list[Line]) -> str:
    out = [f"{line.service:22s} ${line.dollars_per_million:6.2f}   {line.detail}" for line in lines]
    out.append(f"total: ${sum(line.dollars_per_million for line in lines):.2f} per million webhooks")
    return "\n".join(out)


def total(lines: list[Line]) -> float:
    return sum(line.dollars_per_million for line in lines)


def load_calls(path: Path) -> dict:
    data = json.loads(Path(path).read_text())
    if data.get("format") != 1 or not data.get("webhooks"):
        raise SystemExit(f"{path}: not a cost capture of scripts/local_e2e.py (format 1)")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="prod")
    parser.add_argument("--calls", default=None,
                        help=f"the local run's JSON (default {DEFAULT_CALLS.relative_to(ROOT)}, else the checked-in sample)")
    parser.add_argument("--before", action="store_true", help="before issue 14's cuts")
    parser.add_argument("--all-cuts", action="store_true", help="with every cut, deployed or not")
    parser.add_argument("--cuts", action="store_true", help="before, each cut alone (deployed or not), as deployed")
    args = parser.parse_args(argv)
    path = Path(args.calls) if args.calls else (DEFAULT_CALLS if DEFAULT_CALLS.is_file() else SAMPLE_CALLS)
    calls = load_calls(path)
    sizes = realistic_sizes()
    print(f"cost model: {args.env}, us-east-1 list prices of {PRICE_DATE}; calls per webhook from {path} "
          f"({calls['webhooks']} webhooks); payload {sizes['raw_body']} B Stripe event")
    deployed = deployed_settings(args.env, measured=measured_code_cuts(calls, sizes))
    if args.cuts:
        on = deployed_cuts(deployed)
        before = total(model(calls, settings_for(args.env), sizes))
        print(f"{'before (no cut)':26s} ${before:6.2f}")
        for cut in CUTS:
            after = total(model(calls, settings_for(args.env, cuts=(cut,)), sizes))
            print(f"  {cut:30s} ${after:6.2f}  ({after - before:+.2f} alone){'  deployed' if cut in on else ''}")
        for name, change in WHAT_IF.items():
            after = total(model(calls, dataclasses.replace(settings_for(args.env, cuts=tuple(CUTS)), **change), sizes))
            print(f"  what if {name}: ${after:.2f} with every cut")
        print(f"deployed now: {', '.join(on) or 'none'}")
    if args.before:
        settings = settings_for(args.env)
    elif args.all_cuts:
        settings = settings_for(args.env, cuts=tuple(CUTS))
    else:
        settings = deployed
    print(report(model(calls, settings, sizes)))
    delivery_lines, figures = delivery_model(calls, settings)
    if delivery_lines:
        print(delivery_report(delivery_lines, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
