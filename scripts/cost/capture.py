"""What the local end-to-end run bills, per AWS request: the input of the cost model (``python -m scripts.cost``).

``CostCapture(platform)`` hooks the functions' SDK session (boto3's default session) and the
runner's own session (what API Gateway, the event source mappings and the pipes do on AWS) and
wraps ``platform.functions.invoke``; it records, until :meth:`stop`:

* every API call by service and operation, and which ones failed (e.g. a failed conditional write);
  also by caller (`calls_by_caller`: the function invoked, or the function whose event source the
  runner polls; `-` for the rest), so a path such as vendor delivery can be priced on its own;
* DynamoDB reads (GetItem: the key, its table, and the size and type of the row read) and writes:
  the size of each item written (DynamoDB's item-size rules), whether it is a create (a PutItem,
  or an UpdateItem asking for old values that got none back) or an update, which index key
  attributes it carries (GSI writes), its table, and the status a ledger state write sets;
* the bytes of each SQS message, EventBridge entry and SNS message (billed in 64 KB chunks);
* per function: invocations, records per invocation, message groups per FIFO batch, request
  payload bytes and log bytes (stdout is the CloudWatch log, EMF lines included).

:meth:`save` writes JSON (default ``build/cost/calls.json``, gitignored) with the counts and the
number of webhooks sent, so the model divides by what was measured, nothing typed in.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / "build" / "cost" / "calls.json"
#: index name -> its partition key attribute: the ledger's GSIs, then the deliveries table's (KEYS_ONLY)
INDEX_KEYS = {"by-vendor": "vendor_key", "by-customer": "customer_key",
              "by-endpoint": "endpoint_key", "by-transaction": "txn_key"}
FORMAT = 1


def attribute_size(value: dict) -> int:
    """Bytes DynamoDB counts for one typed value (``{"S": ...}``), per its item-size rules."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        digits = len(str(v).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: x}) for x in v)
    if kind == "L":
        return 3 + sum(attribute_size(x) + 1 for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_size(x) + 1 for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict) -> int:
    """Size of an item in DynamoDB JSON, or in plain values (the resource layer's, serialized here)."""
    from boto3.dynamodb.types import TypeSerializer

    total = 0
    for name, value in item.items():
        if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TYPES):
            value = TypeSerializer().serialize(value)
        total += len(name.encode("utf-8")) + attribute_size(value)
    return total


_TYPES = {"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"}


class CostCapture:
    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.active = True
        self.calls: collections.Counter[str] = collections.Counter()
        self.calls_by_caller: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.failed: collections.Counter[str] = collections.Counter()
        self.hook_errors: collections.Counter[str] = collections.Counter()
        self.log_lines: dict[str, dict[str, dict[str, int]]] = collections.defaultdict(
            lambda: collections.defaultdict(lambda: {"lines": 0, "bytes": 0}))
        self.function_errors: collections.Counter[str] = collections.Counter()
        self.writes: list[dict] = []  # one per DynamoDB item write
        self.reads: list[dict] = []  # one per DynamoDB GetItem
        self.message_bytes: dict[str, list[int]] = collections.defaultdict(list)  # sqs / events / sns
        self.functions: dict[str, dict] = collections.defaultdict(
            lambda: {"invocations": 0, "records": 0, "payload_bytes": 0, "log_bytes": 0, "log_lines": 0, "emf_lines": 0})
        # the functions' clients are created (from the default session) on their first invocation;
        # the runner's clients exist already and each has its own copy of the hooks
        emitters = [boto3.DEFAULT_SESSION.events] + [
            c.meta.events for c in (platform.sqs, platform.pipes.streams, platform.pipes.events)]
        for emitter in emitters:
            emitter.register("provide-client-params", self._params)
            emitter.register("after-call", self._after)
        original = platform.functions.invoke  # every hop (API, event sources, pipes) invokes through it

        def invoke(short: str, event: Any) -> Any:
            if not self.active:
                return original(short, event)
            entry = self.functions[short]
            entry["invocations"] += 1
            records = event.get("Records") if isinstance(event, dict) else event if isinstance(event, list) else None
            entry["records"] += len(records) if isinstance(records, list) else 1
            groups = {r.get("attributes", {}).get("MessageGroupId") for r in records or [] if isinstance(r, dict)} - {None}
            if groups:  # an SQS FIFO batch: how many message groups it held (groups can run in parallel)
                entry["message_groups"] = entry.get("message_groups", 0) + len(groups)
            entry["payload_bytes"] += len(json.dumps(event, default=str))
            start = platform.log_sink.tell()
            try:
                return original(short, event)
            except Exception as error:
                self.function_errors[f"{short}: {type(error).__name__}"] += 1
                raise
            finally:
                text = platform.log_sink.getvalue()[start:]
                entry["log_bytes"] += len(text.encode("utf-8"))
                lines = [line for line in text.splitlines() if line.strip()]
                entry["log_lines"] += len(lines)
                entry["emf_lines"] += sum(1 for line in lines if '"_aws"' in line)
                for line in lines:
                    kind = _line_kind(line)
                    self.log_lines[short][kind]["lines"] += 1
                    self.log_lines[short][kind]["bytes"] += len(line.encode("utf-8")) + 1

        platform.functions.invoke = invoke

    # -- hooks (they must never break the call they observe) --
    def _params(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        if not self.active:
            return
        try:
            self._record_params(params, model, context)
        except Exception as error:  # noqa: BLE001 - measuring must not change what is measured
            self.hook_errors[f"{model.service_model.service_name}:{model.name}"] += 1
            context["cost_hook_error"] = repr(error)

    def _record_params(self, params: dict, model: Any, context: dict) -> None:
        service, op = model.service_model.service_name, model.name
        context["cost_key"] = f"{service}:{op}"
        context["cost_caller"] = self.platform.functions.current or self.platform.polling or "-"
        if service == "dynamodb" and op in ("PutItem", "UpdateItem", "DeleteItem"):
            write = {"op": op, "key": _key_of(params), "size": item_size(params.get("Item", {})),
                              "gsi": sorted(i for i, k in INDEX_KEYS.items() if k in params.get("Item", {})),
                              "table": params.get("TableName", "")}
            status = (params.get("Item") or {}).get("status") or (params.get("ExpressionAttributeValues") or {}).get(":status")
            if isinstance(status, dict) and "S" in status:  # the status a ledger state write sets (Pipe B filters on it)
                write["status"] = status["S"]
            if op == "UpdateItem" and params.get("ReturnValues") in ("ALL_OLD", "UPDATED_OLD"):
                write["returns_old"] = True  # then a response without Attributes is an update that created the item
            context["cost_write"] = write
        elif service == "dynamodb" and op == "GetItem":
            context["cost_read"] = {"op": op, "key": _key_of(params), "table": params.get("TableName", "")}
        elif service == "sqs" and op == "SendMessage":
            self.message_bytes["sqs"].append(len(params.get("MessageBody", "").encode()))
        elif service == "sqs" and op == "SendMessageBatch":
            self.message_bytes["sqs"].extend(len(e.get("MessageBody", "").encode()) for e in params.get("Entries", []))
        elif service == "events" and op == "PutEvents":
            self.message_bytes["events"].extend(
                len(json.dumps(e, separators=(",", ":")).encode()) for e in params.get("Entries", []))
        elif service == "sns" and op == "Publish":
            self.message_bytes["sns"].append(len(params.get("Message", "").encode()))

    def _after(self, http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
        key = context.get("cost_key")
        if not self.active or key is None:
            return
        self.calls[key] += 1
        self.calls_by_caller[context.get("cost_caller") or "-"][key] += 1
        ok = not (isinstance(parsed, dict) and "Error" in parsed)
        if not ok:
            self.failed[key] += 1
        read = context.get("cost_read")
        if read is not None:
            read["found"] = isinstance(parsed, dict) and "Item" in parsed
            self.reads.append(read)
        write = context.get("cost_write")
        if write is not None:
            write["ok"] = ok
            if ok and (write["op"] == "PutItem" or (write.pop("returns_old", False) and not parsed.get("Attributes"))):
                write["kind"] = "create"
            write.pop("returns_old", None)
            self.writes.append(write)

    def stop(self) -> None:
        self.active = False

    # -- output --
    def finish(self, endpoint_url: str, table: str) -> None:
        """Size updates (and failed writes) by the item as stored at the end of the run."""
        ddb = boto3.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoint_url)
        stored: dict[tuple, dict] = {}
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = ddb.scan(**kwargs)
            for item in page["Items"]:
                stored[(item["transaction_id"]["S"], item["timestamp"]["S"])] = item
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for write in self.writes:
            final = stored.get(tuple(write["key"]))
            if final is None:
                continue
            if write["op"] == "UpdateItem" or not write["ok"]:
                write["size"] = max(write["size"], item_size(final))
            write["gsi"] = sorted(i for i, k in INDEX_KEYS.items() if k in final)
            write["row_type"] = final.get("row_type", {}).get("S", "")
        for read in self.reads:  # the row each GetItem read (as stored at the end: its size, its type)
            final = stored.get(tuple(read["key"]))
            if final is not None:
                read["size"] = item_size(final)
                read["row_type"] = final.get("row_type", {}).get("S", "")

    def to_json(self, webhooks: int) -> dict:
        return {
            "format": FORMAT,
            "source": "python -m scripts.local.e2e (moto server, local stack, real handlers)",
            "webhooks": webhooks,
            "calls": dict(sorted(self.calls.items())),
            "calls_by_caller": {who: dict(sorted(c.items())) for who, c in sorted(self.calls_by_caller.items())},
            "failed": dict(sorted(self.failed.items())),
            "hook_errors": dict(sorted(self.hook_errors.items())),
            "function_errors": dict(sorted(self.function_errors.items())),
            "dynamodb_writes": self.writes,
            "dynamodb_reads": self.reads,
            "message_bytes": {k: v for k, v in sorted(self.message_bytes.items())},
            "functions": {k: dict(v) for k, v in sorted(self.functions.items())},
            "log_lines": {fn: {kind: dict(v) for kind, v in sorted(kinds.items())} for fn, kinds in sorted(self.log_lines.items())},
        }

    def save(self, webhooks: int, path: Path = DEFAULT_PATH) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(webhooks), indent=1, sort_keys=True) + "\n")
        return path


def _line_kind(line: str) -> str:
    """``EMF`` for a metrics blob, else ``LEVEL message`` of a structured log line (``other``)."""
    try:
        record = json.loads(line)
    except ValueError:
        return "other"
    if not isinstance(record, dict):
        return "other"
    if "_aws" in record:
        return "EMF"
    return f"{record.get('level', '?')} {str(record.get('message', ''))[:80]}"


def _key_of(params: dict) -> list[str]:
    source = params.get("Item") or params.get("Key") or {}
    plain = lambda v: v.get("S", "") if isinstance(v, dict) else str(v)  # noqa: E731 - client or resource layer
    if "pk" in source and "sk" in source:  # the deliveries table (pk, sk; its message rows also hold transaction_id)
        return [plain(source.get("pk", "")), plain(source.get("sk", ""))]
    return [plain(source.get("transaction_id", "")), plain(source.get("timestamp", ""))]
