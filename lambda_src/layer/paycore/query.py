"""Read side of the ledger for the query APIs (reader, status, notify).

Everything that leaves the API goes through an allow-list projection (:data:`PUBLIC_STATE_FIELDS`,
:data:`PUBLIC_EVENT_FIELDS`): raw payloads, hashes, markers, GSI keys and idempotency data never
do, whatever the processor adds to a row later.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from boto3.dynamodb.conditions import Key

from paycore.cursor import CursorKeys, InvalidCursor, decode_cursor, encode_cursor
from paycore.ledger import event_key_fields
from paycore.lifecycle import AMOUNT_FIELDS, public_amounts

from paycore.model import SAFE_ID as ID_PATTERN  # one id definition for the ledger and the API
STATE_SK = "STATE"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

PUBLIC_STATE_FIELDS = (
    "transaction_id",
    "status",
    "previous_status",
    "amount",
    "currency",
    "vendor_id",
    "customer_id",
    "provider",
    "created_at",
    "updated_at",
    "last_event_id",
    "payment_status",
    *AMOUNT_FIELDS,
    "refunds",
    "disputes",
)
#: What the API reads of a state row to show it: the public fields and what tells a row of the
#: older model (no ``version``: its amounts are derived from its status and amount).
STATE_READ_FIELDS = PUBLIC_STATE_FIELDS + ("version", "refund_totals")
PUBLIC_EVENT_FIELDS = (
    "event_id",
    "provider",
    "event_type",
    "status",
    "amount",
    "currency",
    "occurred_at",
    "received_at",
)

#: listing key -> (index name, partition key attribute of the index)
LIST_INDEXES = {
    "vendor_id": ("by-vendor", "vendor_key"),
    "customer_id": ("by-customer", "customer_key"),
}
INDEX_RANGE_KEY = "created_at"


class QueryError(ValueError):
    """A client error: HTTP status, a stable code and a message safe to return."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def validate_id(value: Any, name: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise QueryError(400, "invalid_id", f"{name} must match {ID_PATTERN.pattern}")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def project(item: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(item[name]) for name in fields if name in item and item[name] is not None}


def public_state(item: Mapping[str, Any]) -> dict[str, Any]:
    """A state row as the API shows it: its public fields, with the amounts and the derived status
    (a row of the older model gets them derived from its status and amount)."""
    return {**project(item, PUBLIC_STATE_FIELDS), **public_amounts(item)}


def _projection(fields: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    return ", ".join(names), names


def gsi_key_value(listing: str, value: str) -> str:
    """Value of the sparse GSI partition key for a vendor/customer id.

    The ledger writes ``vendor_key``/``customer_key`` (lambda_src/README.md); if paycore.ledger
    exposes a builder, use it so both sides stay one definition.
    """
    try:  # the ledger module owns the row format
        from paycore import ledger  # noqa: PLC0415
    except ImportError:  # pragma: no cover - layer without the ledger module
        ledger = None  # type: ignore[assignment]
    builder = getattr(ledger, "gsi_key", None) if ledger else None
    if callable(builder):
        return builder(listing.removesuffix("_id"), value)
    return value


# --------------------------------------------------------------------------- one transaction

def get_transaction(table: Any, transaction_id: str) -> dict[str, Any] | None:
    """Current state + event history (oldest first); ``None`` when the id is unknown."""
    fields = tuple(sorted(set(STATE_READ_FIELDS) | set(PUBLIC_EVENT_FIELDS) | {"row_type", "timestamp"}))
    expression, names = _projection(fields)
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("transaction_id").eq(transaction_id),
        "ProjectionExpression": expression,
        "ExpressionAttributeNames": names,
        "ConsistentRead": True,
    }
    state: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []
    while True:
        page = table.query(**kwargs)
        for item in page.get("Items", []):
            row_type = item.get("row_type")
            if row_type == "state" or item.get("timestamp") == STATE_SK:
                state = item
            elif row_type == "event":
                events.append(item)
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if state is None and not events:
        return None
    events.sort(key=lambda e: e.get("timestamp", ""))
    return {
        "transaction": public_state(state) if state else None,
        "events": [project(event_key_fields(e), PUBLIC_EVENT_FIELDS) for e in events],
    }


STATUS_FIELDS = ("transaction_id", "status", "updated_at", "currency", *AMOUNT_FIELDS)


def get_status(table: Any, transaction_id: str) -> dict[str, Any] | None:
    expression, names = _projection(STATE_READ_FIELDS)
    item = table.get_item(
        Key={"transaction_id": transaction_id, "timestamp": STATE_SK},
        ProjectionExpression=expression,
        ExpressionAttributeNames=names,
    ).get("Item")
    return project(public_state(item), STATUS_FIELDS) if item else None


def transaction_exists(table: Any, transaction_id: str) -> dict[str, Any] | None:
    """The public state row (for notify), ``None`` when the transaction does not exist."""
    expression, names = _projection(STATE_READ_FIELDS)
    item = table.get_item(
        Key={"transaction_id": transaction_id, "timestamp": STATE_SK},
        ProjectionExpression=expression,
        ExpressionAttributeNames=names,
    ).get("Item")
    return public_state(item) if item else None


# --------------------------------------------------------------------------- listings

@dataclass(frozen=True)
class ListRequest:
    listing: str  # "vendor_id" | "customer_id"
    value: str
    start: str | None
    end: str | None
    limit: int
    cursor: str | None

    @property
    def context(self) -> str:
        return "|".join([self.listing, self.value, self.start or "", self.end or ""])


def _parse_instant(text: str, name: str, *, end: bool) -> str:
    """ISO-8601 date or date-time -> the inclusive bound compared with ``created_at``.

    ``created_at`` is ISO-8601 UTC text; bounds are compared at second precision (an ``end`` of
    ``...T10:00:00`` includes ``10:00:00.999Z``; a date-only ``end`` includes that whole day).
    """
    candidate = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate):
            day = datetime.strptime(candidate, "%Y-%m-%d")
            return day.strftime("%Y-%m-%dT") + ("\uffff" if end else "00:00:00")
        moment = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(400, "invalid_parameter", f"{name} must be an ISO-8601 date or date-time") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    bound = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return bound + "\uffff" if end else bound


def parse_list_request(params: Mapping[str, str] | None) -> ListRequest:
    params = dict(params or {})
    allowed = {"vendor_id", "customer_id", "from", "to", "limit", "cursor"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise QueryError(400, "invalid_parameter", f"unknown query parameter(s): {', '.join(unknown)}")
    chosen = [name for name in LIST_INDEXES if params.get(name)]
    if len(chosen) != 1:
        raise QueryError(400, "invalid_parameter", "give exactly one of vendor_id or customer_id")
    listing = chosen[0]
    value = validate_id(params[listing], listing)
    start = _parse_instant(params["from"], "from", end=False) if params.get("from") else None
    end = _parse_instant(params["to"], "to", end=True) if params.get("to") else None
    if start and end and start > end:
        raise QueryError(400, "invalid_parameter", "from must not be after to")
    raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise QueryError(400, "invalid_parameter", f"limit must be an integer in 1..{MAX_LIMIT}")
    return ListRequest(listing, value, start, end, int(raw_limit), params.get("cursor") or None)


def _key_condition(request: ListRequest, partition_attr: str) -> Any:
    condition = Key(partition_attr).eq(gsi_key_value(request.listing, request.value))
    if request.start and request.end:
        return condition & Key(INDEX_RANGE_KEY).between(request.start, request.end)
    if request.start:
        return condition & Key(INDEX_RANGE_KEY).gte(request.start)
    if request.end:
        return condition & Key(INDEX_RANGE_KEY).lte(request.end)
    return condition


def _whole_state_rows(table: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The index entries with the public fields of their state rows: as they are when the index
    projects them (ALL, INCLUDE), else read with BatchGetItem (KEYS_ONLY), in the index's order.
    A row gone between the two reads is left out."""
    if not items or all("status" in item for item in items):
        return items
    # the Table resource's client takes and returns plain Python values (boto3's transformation)
    expression, names = _projection(STATE_READ_FIELDS)
    pending = [{"transaction_id": item["transaction_id"], "timestamp": STATE_SK} for item in items]
    rows: dict[str, dict[str, Any]] = {}
    for _ in range(5):  # BatchGetItem may leave keys unprocessed under throttling
        if not pending:
            break
        answer = table.meta.client.batch_get_item(RequestItems={table.name: {
            "Keys": pending, "ProjectionExpression": expression, "ExpressionAttributeNames": names}})
        for row in answer.get("Responses", {}).get(table.name, []):
            rows[row["transaction_id"]] = row
        pending = answer.get("UnprocessedKeys", {}).get(table.name, {}).get("Keys", [])
    if pending:
        raise RuntimeError(f"BatchGetItem left {len(pending)} state rows unread")
    return [{**item, **rows[item["transaction_id"]]} for item in items if item["transaction_id"] in rows]


def list_transactions(table: Any, request: ListRequest, *, keys: CursorKeys) -> dict[str, Any]:
    """One page, newest first: ``{"items": [...], "next_cursor": str | None}``.

    Reads ``limit + 1`` items so the last page has no cursor (no dangling empty page); a page cut
    short by DynamoDB's 1 MB limit still carries a cursor.
    """
    index, partition_attr = LIST_INDEXES[request.listing]
    key_attrs = ("transaction_id", "timestamp", partition_attr, INDEX_RANGE_KEY)
    kwargs: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": _key_condition(request, partition_attr),
        "ScanIndexForward": False,
        "Limit": request.limit + 1,
    }
    if request.cursor:
        start_key = decode_cursor(request.cursor, secret=keys.accepted, context=request.context)
        if set(start_key) != set(key_attrs) or start_key[partition_attr] != gsi_key_value(
            request.listing, request.value
        ):
            raise InvalidCursor("cursor does not belong to this listing")
        kwargs["ExclusiveStartKey"] = start_key
    page = table.query(**kwargs)
    items = _whole_state_rows(table, page.get("Items", []))
    next_key: Mapping[str, Any] | None = page.get("LastEvaluatedKey")
    if len(items) > request.limit:
        items = items[: request.limit]
        next_key = {name: items[-1][name] for name in key_attrs}
    cursor = (
        encode_cursor({k: str(v) for k, v in next_key.items()}, secret=keys.signing, context=request.context)
        if next_key
        else None
    )
    return {"items": [public_state(i) for i in items], "next_cursor": cursor}
