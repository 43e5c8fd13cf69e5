"""Domain events: the one definition shared by the deployed pipes/rule and the local runner.

The infrastructure imports the constants (filter patterns, the Pipe B input template, the
completed-payment rule pattern); the local runner and the tests call the pure functions, which
apply the *same* template string to a DynamoDB stream record, so what runs locally is what the
pipe would send.

Facts about EventBridge Pipes this module rests on (AWS EventBridge user guide, "Pipes input
transformation" and "Transforming target input"):

* A placeholder ``<$.path>`` that is quoted (``"<$.path>"``) is replaced by the value's text;
  placeholders are replaced per record of a batch.
* A path that does not exist in the record produces no value: every placeholder here is quoted,
  so a missing attribute renders as ``""`` and the output stays valid JSON.
* A DynamoDB number is a *string* in DynamoDB JSON (``{"N": "1999"}``): the template cannot turn it
  into a JSON number.  ``amount`` in the detail is therefore a decimal string of minor units
  (``"1999"``); consumers parse it with ``int()``.  This is deliberate, exact (no float), and the
  notifier does exactly that.
* On the first state row of a transaction (an INSERT) there is no ``previous_status``:
  ``old_status`` is ``""``.
* With a Pipe whose target is an event bus, the template output is the event's ``detail``;
  ``source`` and ``detail-type`` are pipe target parameters (:data:`DOMAIN_EVENT_SOURCE`,
  :data:`DOMAIN_EVENT_DETAIL_TYPE`).
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

DOMAIN_EVENT_SOURCE = "payments.ledger"
DOMAIN_EVENT_DETAIL_TYPE = "TransactionStatusChanged"
COMPLETED_STATUS = "succeeded"

#: The documented detail keys, in order (lambda_src/README.md, "Domain event").
DETAIL_FIELDS = (
    "transaction_id",
    "vendor_id",
    "customer_id",
    "old_status",
    "new_status",
    "amount",
    "currency",
    "occurred_at",
)

#: detail key -> path in the stream record (state row NewImage).
_DETAIL_PATHS = {
    "transaction_id": "$.dynamodb.NewImage.transaction_id.S",
    "vendor_id": "$.dynamodb.NewImage.vendor_id.S",
    "customer_id": "$.dynamodb.NewImage.customer_id.S",
    "old_status": "$.dynamodb.NewImage.previous_status.S",
    "new_status": "$.dynamodb.NewImage.status.S",
    "amount": "$.dynamodb.NewImage.amount.N",
    "currency": "$.dynamodb.NewImage.currency.S",
    "occurred_at": "$.dynamodb.NewImage.updated_at.S",
}

#: Pipe B target input template (EventBridge Pipes input transformer syntax). Every placeholder
#: is quoted: see the module docstring for why (missing values, numbers from ``.N``).
PIPE_B_INPUT_TEMPLATE = (
    "{"
    + ", ".join(f'"{key}": "<{_DETAIL_PATHS[key]}>"' for key in DETAIL_FIELDS)
    + "}"
)

#: Pipe A (archive): only the INSERT of an immutable ledger event row.
PIPE_A_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"row_type": {"S": ["event"]}}},
}

#: The statuses a deployed rule routes (the completed-payment rule: ``succeeded``); Pipe B puts
#: only these on the bus. A new rule (e.g. paycore.delivery's DELIVERABLE_STATUSES) adds its own.
PIPE_B_ROUTED_STATUSES: tuple[str, ...] = (COMPLETED_STATUS,)


def pipe_b_filter_pattern(statuses: tuple[str, ...] | list[str] = PIPE_B_ROUTED_STATUSES) -> dict[str, Any]:
    """Pipe B (status changes): the state row is written only when the status moves forward
    (monotonic projection), so every INSERT/MODIFY of it is a status change; with ``statuses``
    only the changes to one of them (empty: every change)."""
    image: dict[str, Any] = {"row_type": {"S": ["state"]}}
    if statuses:
        image["status"] = {"S": list(statuses)}
    return {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": image}}


PIPE_B_FILTER_PATTERN: dict[str, Any] = pipe_b_filter_pattern()

#: Values the processor records for a verified event whose vendor or currency could not be
#: used (paycore.model.UNKNOWN_VENDOR / UNKNOWN_CURRENCY): recorded, never notified.
UNROUTABLE_VENDOR_ID = "unknown"
UNROUTABLE_CURRENCY = "XXX"

#: The completed-payment rule on the bus (-> notifications queue). Unroutable events stay on
#: the bus (audit, other rules) but notify no vendor.
COMPLETED_PAYMENT_RULE_PATTERN: dict[str, Any] = {
    "source": [DOMAIN_EVENT_SOURCE],
    "detail-type": [DOMAIN_EVENT_DETAIL_TYPE],
    "detail": {
        "new_status": [COMPLETED_STATUS],
        "vendor_id": [{"anything-but": [UNROUTABLE_VENDOR_ID]}],
        "currency": [{"anything-but": [UNROUTABLE_CURRENCY]}],
    },
}


def filter_criteria(pattern: Mapping[str, Any]) -> dict[str, Any]:
    """Pipe ``FilterCriteria`` for one pattern: ``{"Filters": [{"Pattern": "<json>"}]}``."""
    return {"Filters": [{"Pattern": json.dumps(pattern, sort_keys=True, separators=(",", ":"))}]}


# --------------------------------------------------------------------------- template engine

_PLACEHOLDER = re.compile(r'(")?<(\$[^<>]*)>(")?')
_PATH_PART = re.compile(r"^[A-Za-z0-9_\-/]+$")


class TemplateError(ValueError):
    """The template uses syntax this local implementation (and this project) does not use."""


def resolve_path(document: Any, path: str) -> Any:
    """Resolve a Pipes JSON path (dot notation only, ``$.a.b.c``); ``None`` when missing."""
    if path == "$":
        return document
    if not path.startswith("$."):
        raise TemplateError(f"unsupported JSON path {path!r}: expected '$.a.b'")
    node = document
    for part in path[2:].split("."):
        if not _PATH_PART.match(part):
            raise TemplateError(f"unsupported JSON path segment {part!r} in {path!r}")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def apply_input_template(template: str, record: Mapping[str, Any]) -> Any:
    """Apply a Pipes input template to one record, the way the pipe does, and parse the JSON.

    Quoted placeholders become the value's text, JSON-escaped (missing -> empty string);
    unquoted placeholders become the value's JSON (missing -> ``null``).
    """

    def substitute(match: re.Match[str]) -> str:
        open_q, path, close_q = match.group(1), match.group(2), match.group(3)
        value = resolve_path(record, path)
        if open_q and close_q:
            if value is None:
                text = ""
            elif isinstance(value, str):
                text = value
            else:
                text = json.dumps(value, separators=(",", ":"))
            return json.dumps(text)
        if open_q or close_q:
            raise TemplateError(f"placeholder <{path}> is half-quoted")
        return json.dumps(value)

    return json.loads(_PLACEHOLDER.sub(substitute, template))


def status_changed_detail(record: Mapping[str, Any]) -> dict[str, str]:
    """The ``TransactionStatusChanged`` detail the pipe builds from one stream record."""
    return apply_input_template(PIPE_B_INPUT_TEMPLATE, record)


def put_events_entry(record: Mapping[str, Any], event_bus_name: str) -> dict[str, str]:
    """The ``PutEvents`` entry Pipe B sends for one record (used by the local runner)."""
    return {
        "Source": DOMAIN_EVENT_SOURCE,
        "DetailType": DOMAIN_EVENT_DETAIL_TYPE,
        "Detail": json.dumps(status_changed_detail(record), separators=(",", ":")),
        "EventBusName": event_bus_name,
    }


def eventbridge_event(
    detail: Mapping[str, Any],
    *,
    account: str = "000000000000",
    region: str = "us-east-1",
    event_id: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """A full EventBridge event as a rule delivers it to an SQS target (the SQS body)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": DOMAIN_EVENT_DETAIL_TYPE,
        "source": DOMAIN_EVENT_SOURCE,
        "account": account,
        "time": time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": dict(detail),
    }


# --------------------------------------------------------------------------- event patterns

def matches_pattern(pattern: Mapping[str, Any], event: Any) -> bool:
    """Evaluate an EventBridge/Pipes event pattern against a JSON document.

    Supports what this project uses: literal value lists, ``prefix``, ``anything-but`` and
    ``exists`` (the same subset works for rule patterns and pipe filters).
    """
    if not isinstance(event, Mapping):
        return False
    for key, expected in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(expected, Mapping):
            if not present or not matches_pattern(expected, value):
                return False
            continue
        if not isinstance(expected, list):
            raise TemplateError(f"pattern value for {key!r} must be a list or an object")
        if not _match_leaf(expected, present, value):
            return False
    return True


def _match_leaf(rules: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, Mapping):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if not present:
                continue
            if "prefix" in rule:
                if any(isinstance(v, str) and v.startswith(rule["prefix"]) for v in values):
                    return True
            elif "anything-but" in rule:
                banned = rule["anything-but"]
                banned = banned if isinstance(banned, list) else [banned]
                if any(v not in banned for v in values):
                    return True
            else:
                raise TemplateError(f"unsupported pattern rule {rule!r}")
        elif present and rule in values:
            return True
    return False
