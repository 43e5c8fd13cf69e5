"""The webhook path's cost per million webhooks: one line per service, from the run's calls per
webhook (vendor delivery's share taken out) under the environment's :class:`CostSettings`."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scripts.cost.inputs import realistic_sizes, state_changes_by_status, webhook_path
from scripts.cost.prices import CHUNK_64K, KB, PRICES, wru
from scripts.cost.settings import CostSettings, line_written, waf_logged_share

@dataclass
class Line:
    service: str
    dollars_per_million: float
    detail: str


def report(lines: list[Line]) -> str:
    out = [f"{line.service:22s} ${line.dollars_per_million:6.2f}   {line.detail}" for line in lines]
    out.append(f"total: ${sum(line.dollars_per_million for line in lines):.2f} per million webhooks")
    return "\n".join(out)


def total(lines: list[Line]) -> float:
    return sum(line.dollars_per_million for line in lines)


def secret_calls_per_minute(settings: CostSettings, functions: tuple[str, ...]) -> float:
    """GetSecretValue calls a minute of `functions` at steady traffic: every warm environment reads
    each of its secrets once per cache period."""
    reads = sum(settings.secrets_read.get(fn, 0) for fn in functions)
    return settings.warm_environments * reads * 60 / settings.secret_cache_seconds


def _authorizer_share(settings: CostSettings) -> float:
    """Share of webhooks that invoke the authorizer: all without a result cache; with one (the
    key as identity source, TTL 300 s) only cache misses (API Gateway caches per node: modelled)."""
    return settings.authorizer_cache_miss_share if settings.authorizer_cache_seconds else 1.0


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
            if not line_written(fn, kind, settings):
                continue
            log_bytes += figures["bytes"] * (cached if fn == "authorizer" else 1.0)
    invocations = sum(f["invocations"] for f in fns.values())
    if settings.lambda_system_log_level == "INFO":
        log_bytes += invocations * settings.lambda_platform_log_bytes
    waf_bytes = waf_logged_share(settings) * settings.waf_log_bytes
    access_price = PRICES["logs_ia_per_gb_ingested" if settings.access_log_class == "INFREQUENT_ACCESS" else "logs_per_gb_ingested"]
    add("CloudWatch Logs", (per(log_bytes) + waf_bytes) / 1e9 * PRICES["logs_per_gb_ingested"]
        + settings.access_log_bytes / 1e9 * access_price,
        f"{per(log_bytes) + settings.access_log_bytes + waf_bytes:.0f} B per webhook: functions {per(log_bytes):.0f} "
        f"(level {settings.log_level}, success lines {'on' if settings.success_info_logs else 'off'}, "
        f"system logs {settings.lambda_system_log_level}), access log {settings.access_log_bytes} "
        f"({settings.access_log_class}), WAF {waf_bytes:.0f} ({'+'.join(settings.waf_log_actions) or 'every request'})")

    # ---- EventBridge + Pipes: Pipe B sends every state change, or only the routed ones
    # every successful write of a state row is a state change on the stream (Pipe B's input); the
    # bus entries the run measured are only the ones its filter let through
    state_changes = sum(1 for w in writes if w.get("row_type") == "state" and w["ok"]) \
        or len(calls["message_bytes"].get("events", []))
    routed = fns.get("notifier", {}).get("records", 0) - sum(
        v for k, v in calls.get("function_errors", {}).items() if k.startswith("notifier"))
    by_status = state_changes_by_status(calls)
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
