"""What EventBridge does with the events the local runner hands it, in Python: event patterns (a
pipe's filters, a rule's pattern) and Pipes' input templates, applied to the deployed patterns and
template. The product only declares them (paycore.events); this is the runner's half.

Facts about EventBridge Pipes this rests on (AWS EventBridge user guide, "Pipes input
transformation" and "Transforming target input"):

* a quoted placeholder (`"<$.path>"`) becomes the value's text, an unquoted one its JSON;
  placeholders are replaced per record of a batch;
* a path that does not exist in the record produces no value: quoted, `""`; unquoted, `null`;
* with an event bus target the template's output is the event's `detail`; `source` and
  `detail-type` are target parameters.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from paycore.events import DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE, PIPE_B_INPUT_TEMPLATE
from scripts.json_paths import resolve_path

_PLACEHOLDER = re.compile(r'(")?<(\$[^<>]*)>(")?')


class TemplateError(ValueError):
    """A template or pattern in a syntax this implementation (and this project) does not use."""


# --------------------------------------------------------------------------- input templates

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
    """The ``TransactionStatusChanged`` detail Pipe B builds from one stream record."""
    detail: dict[str, str] = apply_input_template(PIPE_B_INPUT_TEMPLATE, record)
    return detail


def put_events_entry(record: Mapping[str, Any], event_bus_name: str) -> dict[str, str]:
    """The ``PutEvents`` entry Pipe B sends for one record."""
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
