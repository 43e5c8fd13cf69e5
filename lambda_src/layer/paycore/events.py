"""Domain events: the one definition of what the deployed pipes and rules carry.

The infrastructure deploys these constants (the pipes' filter patterns, the Pipe B input
template, the completed-payment rule's pattern); the local runner applies the deployed ones with
its own EventBridge stand-in (scripts/local/runner/eventbridge.py), so what runs locally is what
the pipe would send.

Facts about EventBridge Pipes the template rests on (AWS EventBridge user guide, "Pipes input
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
* An unquoted placeholder (``<$.path>``) is replaced by the JSON value at the path: a list or an
  object (the guide: "do not put quotes around variables referring to JSON objects or arrays").
  ``bus_kinds`` (a string set) and ``announcements`` (a list of maps) go in that way, in DynamoDB
  JSON (``{"L": [{"M": {...}}]}``): :func:`announcements_of` reads them. Both are on every
  state row Pipe B passes (its filter requires ``bus_kinds``; ``announcements`` is always written).
* With a Pipe whose target is an event bus, the template output is the event's ``detail``;
  ``source`` and ``detail-type`` are pipe target parameters (:data:`DOMAIN_EVENT_SOURCE`,
  :data:`DOMAIN_EVENT_DETAIL_TYPE`).
"""
from __future__ import annotations

from typing import Any, Mapping

from paycore.lifecycle import AMOUNT_FIELDS, AWAITING_SALE, KINDS

DOMAIN_EVENT_SOURCE = "payments.ledger"
DOMAIN_EVENT_DETAIL_TYPE = "TransactionStatusChanged"
COMPLETED_STATUS = "succeeded"

#: The documented detail keys, in order (lambda_src/README.md, "Domain event"): the payment's
#: status before and after the write, its amounts, and the announcements (the last
#: paycore.lifecycle.WINDOW, in seq order) with the kinds this write announced.
DETAIL_FIELDS = (
    "transaction_id",
    "vendor_id",
    "customer_id",
    "old_status",
    "new_status",
    "amount",
    "currency",
    "occurred_at",
    *AMOUNT_FIELDS,
    "seq",
    "announced_from",
    "bus_kinds",
    "announcements",
)

_IMAGE = "$.dynamodb.NewImage"
#: detail key -> path in the stream record (state row NewImage); quoted unless a list.
_DETAIL_PATHS = {
    "transaction_id": f"{_IMAGE}.transaction_id.S",
    "vendor_id": f"{_IMAGE}.vendor_id.S",
    "customer_id": f"{_IMAGE}.customer_id.S",
    "old_status": f"{_IMAGE}.previous_status.S",
    "new_status": f"{_IMAGE}.status.S",
    "amount": f"{_IMAGE}.amount.N",
    "currency": f"{_IMAGE}.currency.S",
    "occurred_at": f"{_IMAGE}.updated_at.S",
    **{name: f"{_IMAGE}.{name}.N" for name in AMOUNT_FIELDS},
    "seq": f"{_IMAGE}.seq.N",
    "announced_from": f"{_IMAGE}.announced_from.N",
    "bus_kinds": f"{_IMAGE}.bus_kinds.SS",
    "announcements": f"{_IMAGE}.announcements.L",
}
_UNQUOTED = frozenset({"bus_kinds", "announcements"})

#: Pipe B target input template (EventBridge Pipes input transformer syntax): every scalar
#: placeholder quoted (see the module docstring: missing values, numbers from ``.N``), the two
#: lists not.
PIPE_B_INPUT_TEMPLATE = (
    "{"
    + ", ".join(f'"{key}": <{_DETAIL_PATHS[key]}>' if key in _UNQUOTED else f'"{key}": "<{_DETAIL_PATHS[key]}>"'
                for key in DETAIL_FIELDS)
    + "}"
)

#: Pipe A (archive): only the INSERT of an immutable ledger event row.
PIPE_A_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"NewImage": {"row_type": {"S": ["event"]}}},
}

#: What Pipe B puts on the bus by default: every state write that announces something, or that
#: held something for its sale (the notifier watches those).
PIPE_B_ROUTED_KINDS: tuple[str, ...] = (*KINDS, AWAITING_SALE)
#: The older name of the setting's default.
PIPE_B_ROUTED_STATUSES = PIPE_B_ROUTED_KINDS


def pipe_b_filter_pattern(kinds: tuple[str, ...] | list[str] = PIPE_B_ROUTED_KINDS) -> dict[str, Any]:
    """Pipe B: the state row writes whose ``bus_kinds`` (what the write announced; absent when it
    announced nothing) name one of ``kinds`` (empty: any of them)."""
    image: dict[str, Any] = {"row_type": {"S": ["state"]}, "bus_kinds": {"SS": list(kinds or PIPE_B_ROUTED_KINDS)}}
    return {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": image}}


PIPE_B_FILTER_PATTERN: dict[str, Any] = pipe_b_filter_pattern()


def announcements_of(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The announcements a domain event carries, plain values (ints), in seq order; DynamoDB JSON
    as Pipe B renders it, or plain values."""
    from paycore.ledger import deserialize
    from paycore.lifecycle import plain as plain_values

    found = detail.get("announcements")
    if isinstance(found, list) and found and isinstance(found[0], Mapping) and "M" in found[0]:
        found = deserialize({"a": {"L": found}})["a"]
    plain = [plain_values(a) for a in found if isinstance(a, Mapping)] if isinstance(found, list) else []
    return sorted((a for a in plain if isinstance(a.get("seq"), int)), key=lambda a: a["seq"])


#: How far back before its own announcements a domain event's window is told again: the bus and
#: the queues may deliver a payment's events out of order (EventBridge retries a target for up to
#: 24 hours), so an event tells the announcements made up to a day before its own first, in seq
#: order, and the consumers' markers (notifier: 8 days; delivery rows: 30 days) drop the repeats.
#: Announcements older than that were told by their own events.
REORDER_HORIZON_MS = 24 * 3600 * 1000


def announcements_to_tell(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a consumer tells for one domain event, in seq order: the announcements the write made
    (seq >= ``announced_from``) and those of its window made within :data:`REORDER_HORIZON_MS`
    before them. None for a write that only held something for its sale."""
    window = announcements_of(detail)
    try:
        first = int(str(detail.get("announced_from") or ""))
    except ValueError:
        return []
    own = [a for a in window if a["seq"] >= first]
    if not own:
        return []
    since = min(int(a.get("announced_at") or 0) for a in own) - REORDER_HORIZON_MS
    return [a for a in window if a["seq"] >= first or int(a.get("announced_at") or 0) >= since]


#: Values the processor records for a verified event whose vendor or currency could not be
#: used (paycore.model.UNKNOWN_VENDOR / UNKNOWN_CURRENCY): recorded, never notified.
UNROUTABLE_VENDOR_ID = "unknown"
UNROUTABLE_CURRENCY = "XXX"

#: The vendor-notification rule on the bus (-> notifications queue; its resource keeps the name
#: ``payment-completed``): every domain event of a routable payment. Unroutable events stay on
#: the bus (audit, other rules) but notify no vendor.
COMPLETED_PAYMENT_RULE_PATTERN: dict[str, Any] = {
    "source": [DOMAIN_EVENT_SOURCE],
    "detail-type": [DOMAIN_EVENT_DETAIL_TYPE],
    "detail": {
        "vendor_id": [{"anything-but": [UNROUTABLE_VENDOR_ID]}],
        "currency": [{"anything-but": [UNROUTABLE_CURRENCY]}],
    },
}
