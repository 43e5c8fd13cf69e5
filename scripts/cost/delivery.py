"""Vendor delivery's cost per million notifications delivered: the delivery functions' calls in
the run divided by the deliveries it made, what only delivery puts on the bus, NAT egress and
Secrets Manager at the design rate."""
from __future__ import annotations

from scripts.cost.inputs import (
    BATCH_GET_KEYS,
    DELIVERY_FUNCTIONS,
    DELIVERY_INDEXES,
    SENDER_MAX_PARALLEL_GROUPS,
    delivery_table,
    state_changes_by_status,
)
from scripts.cost.prices import PRICES, wru
from scripts.cost.settings import CostSettings, line_written
from scripts.cost.webhook import Line, secret_calls_per_minute, total

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
    by_status = state_changes_by_status(calls)
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
    writes = [w for w in calls["dynamodb_writes"] if delivery_table(w)]
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
                    if line_written(fn, kind, settings))
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
