"""Vendor notifications: the two message shapes on the notifications queue and what goes to SNS.

Queue messages (SQS standard queue ``notifications-{env}``):

* a domain event - the full EventBridge event the vendor-notification rule delivers
  (``source = payments.ledger``, ``detail-type = TransactionStatusChanged``, ``detail`` per
  paycore.events): one notification per announcement it tells (paycore.events.
  announcements_to_tell), in seq order, each published once per (transaction_id, seq) with a
  marker row; a write that held a refund or dispute for its sale (``awaiting_sale``) is watched
  until the sale is told;
* manual re-notification - put by ``POST /transactions/{id}/notify``:
  ``{"kind": "manual_notification", "v": 1, "transaction_id", "email", "template",
  "requested_at", "request_id", "vendor_id", "status", "amount", "currency"}``;
  never de-duplicated (asking twice sends twice).

SNS (vendor topic): ``Message`` is the JSON of :func:`sns_message`; message attributes
``vendor_id`` (String; subscription filter policies match on it so a vendor sees only its own
sales), ``notification_kind`` (``status_change`` | ``manual``), ``status`` (the payment's status
after the announcement) and ``event_type`` (``payment.{kind}``).
A missing vendor id is published as ``vendor_id = "unknown"`` (no vendor subscription matches).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from paycore.ledger import MARKER_TTL_SECONDS  # noqa: F401  (re-exported: one TTL for all markers)
from paycore.events import DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE, announcements_to_tell
from paycore.lifecycle import AMOUNT_FIELDS, AWAITING_SALE
from paycore.notify_request import EMAIL as _EMAIL
from paycore.notify_request import TEMPLATES
from paycore.query import ID_PATTERN, QueryError

MANUAL_KIND = "manual_notification"
UNKNOWN_VENDOR = "unknown"
MARKER_PREFIX = "MARKER#notify#"
#: Put once a payment's sale has been published: what a watch for a held refund waits for.
SALE_MARKER = f"{MARKER_PREFIX}sale"


class InvalidMessage(ValueError):
    """A queue message that is not one of the two shapes (permanent: goes to the DLQ)."""


@dataclass(frozen=True)
class Notification:
    kind: str  # "status_change" | "manual"
    transaction_id: str
    vendor_id: str
    status: str
    amount: int | None = None
    currency: str = ""
    occurred_at: str = ""
    customer_id: str = ""
    template: str = ""
    email: str = field(default="", repr=False)
    request_id: str = ""
    event_type: str = ""  # payment.{kind} of an announcement
    seq: int | None = None  # the announcement's number in its payment's story
    object_id: str = ""  # the refund or dispute it is about
    totals: tuple[tuple[str, int], ...] = ()  # the payment's running amounts after it
    retold: bool = False  # an earlier write's announcement, told again in case the bus reordered

    @property
    def dedup(self) -> bool:
        return self.kind == "status_change"

    @property
    def marker_sk(self) -> str:
        return f"{MARKER_PREFIX}seq#{self.seq:06d}" if self.seq is not None else f"{MARKER_PREFIX}{self.status}"


@dataclass(frozen=True)
class DomainEvent:
    """A domain event on the notifications queue: its announcements to publish, in seq order, and
    whether the write held something until the payment's sale is told."""

    transaction_id: str
    notifications: tuple[Notification, ...]
    awaiting_sale: bool


def validate_notify_body(body: Any) -> dict[str, str]:
    """Body of ``POST /transactions/{id}/notify``; :class:`QueryError` 400 when invalid."""
    if not isinstance(body, Mapping):
        raise QueryError(400, "invalid_body", 'body must be a JSON object {"email", "template"}')
    unknown = sorted(set(body) - {"email", "template"})
    if unknown:
        raise QueryError(400, "invalid_body", f"unknown field(s): {', '.join(unknown)}")
    email, template = body.get("email"), body.get("template")
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.match(email):
        raise QueryError(400, "invalid_email", "email must be a valid e-mail address")
    if template not in TEMPLATES:
        raise QueryError(400, "invalid_template", f"template must be one of {', '.join(TEMPLATES)}")
    return {"email": email, "template": template}


def manual_message(
    state: Mapping[str, Any], *, email: str, template: str, requested_at: str, request_id: str
) -> dict[str, Any]:
    return {
        "kind": MANUAL_KIND,
        "v": 1,
        "transaction_id": state["transaction_id"],
        "email": email,
        "template": template,
        "requested_at": requested_at,
        "request_id": request_id,
        "vendor_id": state.get("vendor_id") or "",
        "status": state.get("status") or "",
        "amount": state.get("amount"),
        "currency": state.get("currency") or "",
    }


def _amount(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise InvalidMessage("amount is not an integer of minor units") from exc


def parse_queue_message(body: str) -> Notification | DomainEvent:
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidMessage("body is not JSON") from exc
    if not isinstance(message, dict):
        raise InvalidMessage("body is not a JSON object")
    if message.get("detail-type") == DOMAIN_EVENT_DETAIL_TYPE and message.get("source") == DOMAIN_EVENT_SOURCE:
        return _domain_event(message.get("detail"))
    if message.get("kind") != MANUAL_KIND:
        raise InvalidMessage("neither a TransactionStatusChanged event nor a manual notification")
    fields = message
    if fields.get("template") not in TEMPLATES or not _EMAIL.match(str(fields.get("email") or "")):
        raise InvalidMessage("manual notification has an invalid template or e-mail")
    transaction_id = str(fields.get("transaction_id") or "")
    if not ID_PATTERN.match(transaction_id):
        raise InvalidMessage("transaction_id is missing or invalid")
    return Notification(
        kind="manual",
        transaction_id=transaction_id,
        vendor_id=str(fields.get("vendor_id") or ""),
        status=str(fields.get("status") or ""),
        amount=_amount(fields.get("amount")),
        currency=str(fields.get("currency") or ""),
        template=str(fields.get("template") or ""),
        email=str(fields.get("email") or ""),
        request_id=str(fields.get("request_id") or ""),
    )


def _domain_event(detail: Any) -> DomainEvent:
    if not isinstance(detail, dict):
        raise InvalidMessage("event has no detail object")
    transaction_id = str(detail.get("transaction_id") or "")
    if not ID_PATTERN.match(transaction_id):
        raise InvalidMessage("transaction_id is missing or invalid")
    kinds = detail.get("bus_kinds")
    first = int(str(detail.get("announced_from") or "0") or 0)
    notifications = tuple(
        Notification(
            kind="status_change", transaction_id=transaction_id, vendor_id=str(detail.get("vendor_id") or ""),
            status=str(a.get("status") or ""), amount=_amount(a.get("amount")),
            currency=str(a.get("currency") or detail.get("currency") or ""), occurred_at=str(a.get("occurred_at") or ""),
            customer_id=str(detail.get("customer_id") or ""), event_type=f"payment.{a.get('kind')}", seq=a["seq"],
            object_id=str(a.get("object_id") or ""), totals=tuple((name, int(a.get(name) or 0)) for name in AMOUNT_FIELDS),
            retold=a["seq"] < first)
        for a in announcements_to_tell(detail))
    return DomainEvent(transaction_id, notifications, isinstance(kinds, list) and AWAITING_SALE in kinds)


def vendor_attribute(notification: Notification, known_vendors: frozenset[str] | None) -> tuple[str, bool]:
    """(value of the ``vendor_id`` attribute, whether the vendor is known).

    Unknown = no vendor id on the transaction, or (when ``KNOWN_VENDORS`` is configured) an id
    not in that list. Either way the message is still published - nothing subscribed matches it,
    but the topic's delivery logs and the ``UnknownVendorNotifications`` metric show it.
    """
    vendor = notification.vendor_id
    if not vendor or not ID_PATTERN.match(vendor):
        return UNKNOWN_VENDOR, False
    return vendor, known_vendors is None or vendor in known_vendors


def sns_message(notification: Notification, vendor_attr: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "payment.manual_notification" if notification.kind == "manual" else "payment.status_changed",
        "transaction_id": notification.transaction_id,
        "vendor_id": vendor_attr,
        "status": notification.status,
        "amount": notification.amount,
        "currency": notification.currency,
        "occurred_at": notification.occurred_at,
    }
    if notification.kind == "manual":
        message.update({"template": notification.template, "email": notification.email})
    else:
        message.update({"event_type": notification.event_type, "sequence": notification.seq,
                        "object_id": notification.object_id or None, **dict(notification.totals)})
    what = notification.event_type.removeprefix("payment.") or notification.status or "update"
    subject = f"Payment {what}: {notification.transaction_id}"[:100]
    attributes = {
        "vendor_id": {"DataType": "String", "StringValue": vendor_attr},
        "notification_kind": {"DataType": "String", "StringValue": notification.kind},
        "status": {"DataType": "String", "StringValue": notification.status or "unknown"},
    }
    if notification.event_type:
        attributes["event_type"] = {"DataType": "String", "StringValue": notification.event_type}
    return {
        "Message": json.dumps(message, sort_keys=True, separators=(",", ":")),
        "Subject": subject,
        "MessageAttributes": attributes,
    }
