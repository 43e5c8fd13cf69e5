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

Prints one line per service and, last, ``total: $X.XX per million webhooks``.
"""
from __future__ import annotations

import argparse
import dataclasses
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
        "processor": 5.0, "authorizer": 3.0, "archiver": 40.0, "notifier": 5.0})
    ms_per_record: dict = field(default_factory=lambda: {
        "authorizer": 0.0, "archiver": 1.0, "notifier": 12.0})
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
    # (Secrets Manager: calls per webhook as measured; each GetSecretValue also costs a KMS Decrypt.)


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


def settings_for(environment: str, *, cuts: tuple[str, ...] = ()) -> CostSettings:
    """The environment before issue 14's cuts, with `cuts` applied."""
    if environment == "prod":
        base = CostSettings("prod")
    elif environment == "dev":
        base = CostSettings("dev", memory_mb={"processor": 1024, "authorizer": 512, "archiver": 512, "notifier": 512})
    else:
        raise SystemExit(f"no cost settings for environment {environment!r} (prod, dev)")
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


def model(calls: dict, settings: CostSettings, sizes: dict[str, int] | None = None) -> list[Line]:
    """Cost lines per million webhooks for ``calls`` (the run's JSON) under ``settings``."""
    sizes = sizes or realistic_sizes()
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
    if settings.esm_batch_deletes:  # one DeleteMessageBatch per invocation of each queue consumer
        deletes = min(deletes, sum(fns.get(fn, {}).get("invocations", 0) for fn in consumer))
    esm_calls = deletes + ops.get("sqs:ReceiveMessage", 0) + ops.get("sqs:ChangeMessageVisibility", 0)
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

    secret_calls = per(ops.get("secretsmanager:GetSecretValue", 0))
    add("Secrets Manager + KMS", secret_calls * (PRICES["secrets_per_call"] + PRICES["kms_per_call"]),
        f"{secret_calls:.3f} GetSecretValue (+ KMS Decrypt) per webhook (300 s cache)")

    publishes = per(ops.get("sns:Publish", 0))
    emails = 0.0 if settings.alert_email_filtered else publishes
    add("SNS", publishes * PRICES["sns_per_publish"] + emails * PRICES["sns_per_email"],
        f"{publishes:.2f} publishes per webhook; alert e-mail {'filtered to alerts' if settings.alert_email_filtered else 'receives every sale'}"
        f" ({emails:.2f} e-mails)")
    return lines


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
