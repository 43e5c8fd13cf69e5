"""The ledger table (``payment-transactions-{env}``): idempotent event rows + monotonic state row.

Row layout (lambda_src/README.md, "The ledger"); pk ``transaction_id``, sk ``timestamp``:

* event row, immutable, one per provider event: ``timestamp = "{occurred_at}#{event_id}"``,
  ``row_type = "event"``; written with ``attribute_not_exists(transaction_id)``, so a redelivery
  of the same provider event - minutes or weeks later - is acknowledged as a duplicate and never
  written twice (no TTL: the row is the ledger). Carries the raw body compressed
  (:mod:`paycore.rawcodec`: ``raw_zd1``; rows written before it: ``raw_gzip``), ``raw_sha256``,
  ``signature_headers`` and ``request_id`` for the archiver and replays. ``event_id`` and
  ``occurred_at`` are read from the sort key (:func:`event_key_fields`; older rows carry both), so
  a realistic event row stays within one write unit (1 KB).
* state row, ``timestamp = "STATE"``, ``row_type = "state"``: the payment as amounts
  (:mod:`paycore.lifecycle`: its status, refunds, disputes, totals, derived status and the
  announcements its vendor is told), read, folded with the event and written back whole under
  an optimistic ``version`` check (a row written before that model has no ``version`` and reads
  as its payment). Every write of it changes something; the writes that announce carry
  ``bus_kinds`` (what Pipe B puts on the bus).
* marker rows, ``row_type = "marker"``, TTL ``expires_at``: ``put_marker`` (idempotency of ignored
  events, notifications...). The event idempotency claim ``event#{provider}#{event_id}`` (claimed
  before the event row, see :meth:`Ledger.record`) has no TTL: an event can come back at any age
  (provider retries, the events APIs' 30 days, our replay tools), and the claim names the one row
  that records it; and the transmission marker
  ``transmission#{provider}#{transmission_id}`` (``bind_transmission``: one body per transmission of
  a provider whose signature covers only a checksum of the body), kept as long as the provider
  says (PayPal: for good).

Order of writes for one event: claim, event row, state row. A redelivery (the claim exists) reads
the event row first and writes it only when a crash left it out, then folds the event into the
state again (a no-op when it is there already: every part of the state is idempotent), so a
crash between the writes heals on redelivery.

Errors other than a failed condition propagate (throttling is retried by botocore first, then
the record fails and the queue redelivers it).

Public API (used by the processor and the downstream handlers)::

    ledger = Ledger(dynamodb_client, table_name)
    ledger.record(txn, raw) -> RecordResult
    ledger.record_ignored(ignored) -> bool          # False: already recorded
    ledger.put_marker(pk, sk, kind=..., ttl_seconds=..., attributes=...) -> bool
    ledger.bind_transmission(provider, transmission_id, body_sha256, ttl_seconds=...) -> bool
    ledger.get_state(transaction_id) -> dict | None
    ledger.get_events(transaction_id) -> list[dict]  # oldest first, event_id/occurred_at filled in
    ledger.event_body_hashes(transaction_id) -> set[str]  # raw_sha256 of its event rows
    event_item(txn, raw, ...) / event_key_fields(item) / event_sort_key(...)  # pure helpers
"""
from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from paycore import lifecycle, rawcodec
from paycore.model import Ignored, Rejected, Transaction

STATE_SK, STATE_ROW = lifecycle.STATE_SK, lifecycle.STATE_ROW
MARKER_SK = "MARKER"
EVENT_ROW, MARKER_ROW = "event", "marker"
VENDOR_INDEX, CUSTOMER_INDEX = "by-vendor", "by-customer"
MARKER_TTL_SECONDS = 8 * 24 * 3600  # > 7 days: longer than Stripe's and PayPal's 3-day retries
#: Concurrent writers of one state row (two message groups naming one payment) retry the fold.
STATE_WRITE_ATTEMPTS = 5



class _Deserializer(TypeDeserializer):
    """boto3's, also for DynamoDB JSON as a stream record carries it (a Lambda event is JSON, so
    binary is base64 text there): binary comes back as bytes either way."""

    def _deserialize_b(self, value: Any) -> bytes:
        return bytes(value) if isinstance(value, (bytes, bytearray)) else base64.b64decode(value, validate=True)


_serializer = TypeSerializer()
_deserializer = _Deserializer()


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB JSON (a client's answer, or a stream record's image) -> plain values (numbers as int
    when integral, binary as bytes); a NULL attribute is left out, as :func:`serialize` leaves out
    None."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if "NULL" in value:
            continue
        plain = _deserializer.deserialize(value)
        if type(plain).__name__ == "Decimal" and plain == plain.to_integral_value():
            plain = int(plain)
        out[key] = plain
    return out


def event_sort_key(occurred_at: str, event_id: str) -> str:
    return f"{occurred_at}#{event_id}"


def event_key_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` (an event row, plain values) with ``occurred_at`` and ``event_id`` filled in from its
    sort key where the row does not carry them (rows written since zd1 do not)."""
    occurred_at, _, event_id = str(item.get("timestamp") or "").partition("#")
    if not event_id:
        return dict(item)
    return {"occurred_at": occurred_at, "event_id": event_id, **item}


def event_item(
    txn: Transaction, raw: bytes, *, request_id: str = "", signature_headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The immutable event row for ``txn`` (plain values): within 1 KB for a realistic event,
    so one write unit (``event_id``, ``occurred_at``: in the sort key; the rank: from ``status``)."""
    return {
        "transaction_id": txn.transaction_id,
        "timestamp": event_sort_key(txn.occurred_at, txn.event_id),
        "row_type": EVENT_ROW,
        "provider": txn.provider,
        "event_type": txn.event_type,
        "status": txn.status,
        "amount": txn.amount,
        "currency": txn.currency,
        "vendor_id": txn.vendor_id,
        "customer_id": txn.customer_id,
        "received_at": txn.received_at,
        "request_id": request_id or None,
        "signature_headers": dict(signature_headers) if signature_headers else None,
        **rawcodec.pack(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        **_route_attributes(txn),
    }


def _route_attributes(txn: Transaction) -> dict[str, Any]:
    """The raw business values a verified event carried where they were unusable (absent otherwise)."""
    return {
        "vendor_id_raw": txn.vendor_id_raw,
        "customer_id_raw": txn.customer_id_raw,
        "currency_raw": txn.currency_raw,
        "amount_raw": txn.amount_raw,
        "unroutable": list(txn.unroutable) or None,
    }


def event_marker_key(provider: str, event_id: str) -> str:
    """Partition key of the idempotency marker of one provider event (the event id alone)."""
    return f"event#{provider}#{event_id}"


def transmission_marker_key(provider: str, transmission_id: str) -> str:
    """Partition key of the marker binding one provider transmission to its body."""
    return f"transmission#{provider}#{transmission_id}"


@dataclass(frozen=True)
class RecordResult:
    event_written: bool  # False: this provider event was already in the ledger (duplicate)
    state_changed: bool  # True: the state row was created or changed
    previous_status: str | None  # the payment's status before this event (None: no state row yet)
    status: str | None = None  # ... and after it
    announced: tuple[dict[str, Any], ...] = ()  # what the vendor is told now, in seq order
    held: int = 0  # announcements held until the payment's sale is told
    conflicts: tuple[str, ...] = ()  # fields whose value contradicts the sale's (kept raw)
    became_succeeded: bool = False  # this event made the sale

    @property
    def duplicate(self) -> bool:
        return not self.event_written


class StateContention(RuntimeError):
    """The state row kept changing under this write (retried by the queue)."""


class Ledger:
    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table_name = table_name

    # ------------------------------------------------------------------ writes

    def record(
        self,
        txn: Transaction,
        raw: bytes,
        *,
        request_id: str = "",
        signature_headers: Mapping[str, str] | None = None,
    ) -> RecordResult:
        """Write the event row (once per provider event id) and fold the event into the state row.

        Idempotency is keyed on the provider's event id alone: a claim row
        ``event#{provider}#{event_id}`` is put first (conditional, no TTL) and names the event
        row's key. When the claim exists, the event row is put (conditionally) at the key it names:
        normally it is there (a duplicate, nothing written); after a crash between the two writes
        it is not, and this delivery writes it (healed). The same event id claimed for another
        payment is ``Rejected("event_id_conflict")``: nothing is written for it."""
        item = event_item(txn, raw, request_id=request_id, signature_headers=signature_headers)
        claimed, first_key = self._claim_event(txn, item["timestamp"])
        if claimed:
            written = self._put_if_absent(item)
        elif first_key[0] != txn.transaction_id:
            raise Rejected("event_id_conflict")
        elif first_key[1] == item["timestamp"]:
            # a redelivery: read first (a read unit), write only what a crash left out (a
            # conditional write that fails is billed as a write unit of the whole row)
            written = self._get(first_key, "transaction_id") is None and self._put_if_absent(item)
        else:  # the same event came first with another occurred_at: that row is the record
            state = self._get((txn.transaction_id, STATE_SK), "#status")
            return RecordResult(False, False, (state or {}).get("status"), (state or {}).get("status"))
        return self._fold(txn, written, redelivery=not claimed)

    def _fold(self, txn: Transaction, written: bool, *, redelivery: bool) -> RecordResult:
        """Fold ``txn`` into its payment's state row: read (consistent), apply, write under the
        version read; another writer in between makes it read and apply again."""
        for _ in range(STATE_WRITE_ATTEMPTS):
            row = self.get_state(txn.transaction_id)
            current = lifecycle.from_item(txn.transaction_id, row)
            # a row of the older model applied every event it recorded
            applied = None if redelivery and current.legacy else lifecycle.apply(current, txn)
            if applied is None:
                return RecordResult(written, False, current.status if row else None, current.status if row else None)
            item = lifecycle.to_item(applied.payment, bus_kinds=applied.bus_kinds, announced_from=applied.announced_from)
            if self._put_state(item, current, row):
                return RecordResult(written, True, current.status if row else None, applied.payment.status,
                                    applied.announced, applied.held, applied.conflicts, applied.became_succeeded)
        raise StateContention(f"state row of {txn.transaction_id} changed {STATE_WRITE_ATTEMPTS} times")

    def _put_state(self, item: Mapping[str, Any], current: lifecycle.Payment, row: Mapping[str, Any] | None) -> bool:
        """Write the whole state row if it is still the one read (no row, a row of the older
        model, or the same ``version``)."""
        if row is None:
            condition, values = "attribute_not_exists(transaction_id)", None
        elif current.legacy:
            condition, values = "attribute_exists(transaction_id) AND attribute_not_exists(version)", None
        else:
            condition, values = "version = :version", serialize({":version": current.version})
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self.client.put_item(TableName=self.table_name, Item=serialize(item), ConditionExpression=condition,
                                 **kwargs)
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def record_ignored(self, ignored: Ignored, *, now: float | None = None) -> bool:
        """Marker for an event type we do not track; False when it was already recorded."""
        return self.put_marker(
            f"ignored#{ignored.provider}#{ignored.event_id}",
            MARKER_SK,
            kind="ignored_event",
            attributes={
                "provider": ignored.provider,
                "event_id": ignored.event_id,
                "event_type": ignored.event_type,
                "received_at": ignored.received_at,
            },
            now=now,
        )

    def put_marker(
        self,
        pk: str,
        sk: str = MARKER_SK,
        *,
        kind: str,
        ttl_seconds: int = MARKER_TTL_SECONDS,
        attributes: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> bool:
        """Conditional put of a marker row (TTL ``expires_at``); True if new, False if present."""
        now = time.time() if now is None else now
        item = {
            **(attributes or {}),
            "transaction_id": pk,
            "timestamp": sk,
            "row_type": MARKER_ROW,
            "kind": kind,
            "expires_at": int(now) + int(ttl_seconds),
        }
        return self._put_if_absent(item)

    def bind_transmission(self, provider: str, transmission_id: str, body_sha256: str, *, ttl_seconds: int | None,
                          now: float | None = None) -> bool:
        """Bind a provider's transmission id to the SHA-256 of the body it carried (a marker row
        ``transmission#{provider}#{transmission_id}``, kept ``ttl_seconds``, or for good when None): True when the id is new
        or carried this very body before (a redelivery, a provider retry), False when it came with
        another body (one transmission, one body: a second body under a verified id is a forgery
        whose checksum collides). One conditional put; a repeat reads the first body's hash from the
        failed condition (ALL_OLD), no second request."""
        now = time.time() if now is None else now
        item = {
            "transaction_id": transmission_marker_key(provider, transmission_id),
            "timestamp": MARKER_SK,
            "row_type": MARKER_ROW,
            "kind": "transmission",
            "body_sha256": body_sha256,
            "expires_at": None if ttl_seconds is None else int(now) + int(ttl_seconds),
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            first = deserialize(exc.response.get("Item") or {}).get("body_sha256")
            return first == body_sha256

    def _claim_event(self, txn: Transaction, sort_key: str) -> tuple[bool, tuple[str, str]]:
        """Claim ``txn.event_id``: (True, its key) when new, else (False, the key the first claim
        named). No TTL: the claim lasts as long as the event row it names."""
        item = {
            "transaction_id": event_marker_key(txn.provider, txn.event_id),
            "timestamp": MARKER_SK,
            "row_type": MARKER_ROW,
            "kind": "event",
            "event_transaction_id": txn.transaction_id,
            "event_timestamp": sort_key,
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True, (txn.transaction_id, sort_key)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = deserialize(exc.response.get("Item") or {})
            return False, (str(old.get("event_transaction_id", "")), str(old.get("event_timestamp", "")))

    def _get(self, key: tuple[str, str], projection: str) -> dict[str, Any] | None:
        """The row at ``key`` (strongly consistent, only ``projection``), or None."""
        kwargs: dict[str, Any] = {}
        if "#status" in projection:
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
        response = self.client.get_item(
            TableName=self.table_name,
            Key=serialize({"transaction_id": key[0], "timestamp": key[1]}),
            ConsistentRead=True,
            ProjectionExpression=projection,
            **kwargs,
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def _put_if_absent(self, item: Mapping[str, Any]) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(transaction_id)",
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    # ------------------------------------------------------------------ reads

    def get_state(self, transaction_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=serialize({"transaction_id": transaction_id, "timestamp": STATE_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def event_body_hashes(self, transaction_id: str) -> set[str]:
        """The ``raw_sha256`` of every event row of a transaction (strongly consistent; only the
        keys, the row type and the hash are read): what a direct payment's Idempotency-Key was
        recorded with."""
        hashes: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "transaction_id = :id",
            "ProjectionExpression": "row_type, raw_sha256",
            "ExpressionAttributeValues": serialize({":id": transaction_id}),
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                row = deserialize(item)
                if row.get("row_type") == EVENT_ROW and isinstance(row.get("raw_sha256"), str):
                    hashes.add(row["raw_sha256"])
            if "LastEvaluatedKey" not in page:
                return hashes
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_events(self, transaction_id: str) -> list[dict[str, Any]]:
        """Event rows of a transaction, oldest first (sort key order)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "transaction_id = :id",
            "FilterExpression": "row_type = :event",
            "ExpressionAttributeValues": serialize({":id": transaction_id, ":event": EVENT_ROW}),
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            items.extend(event_key_fields(deserialize(i)) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
