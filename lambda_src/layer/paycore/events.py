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
* With a Pipe whose target is an event bus, the template output is the event's ``detail``;
  ``source`` and ``detail-type`` are pipe target parameters (:data:`DOMAIN_EVENT_SOURCE`,
  :data:`DOMAIN_EVENT_DETAIL_TYPE`).
"""
from __future__ import annotations

from typing import Any

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
