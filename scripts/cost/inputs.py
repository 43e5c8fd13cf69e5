"""What the model reads: the local run's capture (``build/cost/calls.json`` written by
``python -m scripts.local.e2e`` through scripts/cost/capture.py, else the checked-in sample),
split into the webhook path and vendor delivery; the payload sizes of a realistic Stripe event,
from the layer's own functions; and what the code does, as the run shows it."""
from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CALLS = ROOT / "build" / "cost" / "calls.json"
SAMPLE_CALLS = ROOT / "scripts" / "data" / "cost_calls_local_e2e.json"
STRIPE_EVENT = ROOT / "scripts" / "data" / "stripe_payment_intent_succeeded.json"

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


def delivery_table(entry: dict) -> bool:
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
        if delivery_table(write) and not write["ok"]:
            failed[f"dynamodb:{write['op']}"] -= 1
    return {
        **calls,
        "calls": {k: v for k, v in ops.items() if v > 0},
        "failed": {k: v for k, v in failed.items() if v > 0},
        "function_errors": {k: v for k, v in calls.get("function_errors", {}).items()
                            if k.split(":")[0] not in DELIVERY_FUNCTIONS},
        "dynamodb_writes": [w for w in calls["dynamodb_writes"] if not delivery_table(w)],
        "dynamodb_reads": [r for r in calls.get("dynamodb_reads", []) if not delivery_table(r)],
        "functions": {k: v for k, v in calls["functions"].items() if k not in DELIVERY_FUNCTIONS},
        "log_lines": {k: v for k, v in calls["log_lines"].items() if k not in DELIVERY_FUNCTIONS},
    }


def state_changes_by_status(calls: dict) -> collections.Counter[str] | None:
    """Successful ledger state-row writes by the status they set, or None when the capture did
    not record the status (before it did)."""
    states = [w for w in calls["dynamodb_writes"] if w.get("row_type") == "state" and w["ok"] and not delivery_table(w)]
    if not states or not all("status" in w for w in states):
        return None
    return collections.Counter(w["status"] for w in states)


def realistic_sizes() -> dict[str, int]:
    """Item and message sizes for the realistic Stripe event, from the layer's own functions.

    ``event_row``: the row :func:`paycore.ledger.event_item` writes today; ``event_row_gzip``: the
    same event in the layout before the zd1 cut (``raw_gzip``, plus ``event_id``, ``occurred_at``
    and ``status_rank``, which the row now leaves to its sort key and its status)."""
    import gzip

    from scripts.cost.capture import item_size
    from paycore import ledger, rawcodec
    from paycore.envelope import build_envelope
    from paycore.model import PAYMENT_STATUS_RANK, Transaction
    from paycore.providers import stripe

    raw = STRIPE_EVENT.read_bytes()
    envelope = build_envelope(provider="stripe", received_at=1_732_240_000_123, request_id="0" * 36,
                              source_ip="54.187.174.169",
                              headers={"stripe-signature": stripe.sign("whsec_" + "0" * 32, 1_732_240_000, raw)}, raw=raw)
    txn = stripe.PROVIDER.normalize(envelope, json.loads(raw))
    assert isinstance(txn, Transaction), "the sample is a payment event"
    plain = ledger.event_item(txn, raw, request_id=envelope.request_id, signature_headers=envelope.headers)
    before = {k: v for k, v in plain.items() if k not in rawcodec.ATTRIBUTES}
    before.update(event_id=txn.event_id, occurred_at=txn.occurred_at, status_rank=PAYMENT_STATUS_RANK[txn.status],
                  raw_gzip=gzip.compress(raw, compresslevel=6, mtime=0))
    return {
        "raw_body": len(raw),
        "envelope": len(envelope.to_json().encode()),
        "event_row": item_size(ledger.serialize(plain)),
        "event_row_gzip": item_size(ledger.serialize(before)),
        "event_row_codec": next((k for k in rawcodec.ATTRIBUTES if k in plain), "none"),  # type: ignore[dict-item]
    }


def code_as_measured(calls: dict, sizes: dict) -> dict:
    """What the code does (not a setting), as the run and the layer show it: the event row's
    codec, one conditional write per state change (an UpdateItem that created the state row),
    redeliveries that read before they write (GetItems of ledger rows)."""
    writes = calls.get("dynamodb_writes", [])
    return {
        "event_row": "zd1" if sizes.get("event_row_codec") == "raw_zd1" else "gzip",
        "single_state_write": any(w.get("row_type") == "state" and w["op"] == "UpdateItem" and w.get("kind") == "create"
                                  for w in writes),
        "redelivery_reads": any(r.get("row_type") in ("event", "state") for r in calls.get("dynamodb_reads", [])),
    }


def load_calls(path: Path) -> dict:
    data = json.loads(Path(path).read_text())
    if data.get("format") != 1 or not data.get("webhooks"):
        raise SystemExit(f"{path}: not a cost capture of python -m scripts.local.e2e (format 1)")
    return data
