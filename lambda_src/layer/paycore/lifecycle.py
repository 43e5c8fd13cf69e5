"""A payment's state as amounts, and the story its vendor is told: the pure fold of its events.

No AWS, no I/O: :func:`apply` takes the state (:class:`Payment`, read from the ledger's state row
with :func:`from_item`) and one normalized event, and returns the next state (written back with
:func:`to_item`) with what it announces, or None when the event changes nothing. Every part of
the state moves on its own and only forward, so a late or repeated event never moves it back and
never counts twice:

* the payment's own status, by rank (paycore.model.PAYMENT_STATUS_RANK); what the first payment
  event establishes (vendor, customer, currency, amount), set once; the captured amount, set by
  the sale (``succeeded``). A refund or dispute never sets or overwrites these: a conflicting
  value is kept raw in ``conflicts`` and reported;
* refunds and reversals keyed by their own id, disputes by theirs, each status moving up its own
  ranks; a provider's cumulative refunded amount per charge as a floor where the events do not
  itemize their refunds (Stripe ``charge.refunded`` without its refund list);
* the totals and the status derived from them (:func:`totals`, :func:`derived_status`);
* the announcements: numbered per payment (``seq``), each with its own amount and the payment's
  running totals. What undoes a sale (a refund, reversal or dispute) is held while the sale has
  not been announced, and announced right after it, in the order it happened.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from paycore.model import PAYMENT_STATUS_RANK, Fact, Transaction
from paycore.status_derivation import Totals, derived_status

#: The kinds of announcement, as vendors see them (``payment.{kind}``).
PAYMENT_KINDS = ("succeeded", "failed", "canceled")
UNDOING_KINDS = ("refunded", "refund_failed", "reversed", "dispute_opened", "dispute_won", "dispute_lost")
KINDS = PAYMENT_KINDS + UNDOING_KINDS
#: The pseudo-kind of a state write that held something for its sale (the notifier watches it).
AWAITING_SALE = "awaiting_sale"
#: Refund and dispute statuses by rank: each only moves up (a failed refund was once pending or
#: succeeded; a closed dispute was open). Equal ranks are terminal: the first one stays.
REFUND_RANK = {"pending": 1, "requires_action": 1, "succeeded": 2, "failed": 3, "canceled": 3}
DISPUTE_RANK = {"open": 1, "won": 2, "lost": 2}
#: The last announcements the state row keeps (and each domain event carries): a consumer that
#: missed one finds it in a later event's window.
WINDOW = 10
CONFLICT_VALUES_KEPT = 10
AMOUNT_FIELDS = ("captured_amount", "refunded_amount", "reversed_amount", "disputed_amount",
                 "dispute_lost_amount", "net_amount")
#: Set by the first payment event and never by a refund or dispute: the sale's fields.
SALE_FIELDS = ("vendor_id", "customer_id", "currency", "amount", "created_at", "vendor_id_raw",
               "customer_id_raw", "currency_raw", "amount_raw")
#: Of those, the ones a later event may contradict (the conflict is kept raw and counted).
CHECKED_FIELDS = ("vendor_id", "customer_id", "currency")
#: The state row's sort key and row type (paycore.ledger's layout).
STATE_SK, STATE_ROW = "STATE", "state"


@dataclass
class Payment:
    """The state of one payment (one state row); see the module docstring."""

    transaction_id: str
    provider: str = ""
    payment_status: str | None = None
    captured: int = 0
    sale: dict[str, Any] = field(default_factory=dict)  # SALE_FIELDS, set once
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> kind, status, amount, currency, occurred_at
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> status, amount, currency, occurred_at, flags
    refund_totals: dict[str, int] = field(default_factory=dict)  # charge id -> cumulative refunded
    seq: int = 0
    announcements: list[dict[str, Any]] = field(default_factory=list)  # the last WINDOW, oldest first
    held: list[dict[str, Any]] = field(default_factory=list)  # waiting for the sale, in arrival order
    sale_announced: bool = False
    log: dict[str, Any] = field(default_factory=dict)  # running totals of what was announced
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    status: str = "awaiting_sale"
    previous_status: str | None = None
    updated_at: str = ""
    last_event_id: str = ""
    last_event_type: str = ""
    version: int = 0  # writes so far; 0: no row, or a row written before this model (``legacy``)
    legacy: bool = False


@dataclass(frozen=True)
class Applied:
    """What one event did: the next state, the announcements it made (in seq order), how many it
    held for the sale, the conflicting fields it brought, and whether it made the sale."""

    payment: Payment
    announced: tuple[dict[str, Any], ...]
    held: int
    conflicts: tuple[str, ...]
    became_succeeded: bool

    @property
    def announced_from(self) -> int | None:
        """The first seq this event announced (a consumer tells from there)."""
        return self.announced[0]["seq"] if self.announced else None

    @property
    def bus_kinds(self) -> tuple[str, ...]:
        kinds = tuple(dict.fromkeys(a["kind"] for a in self.announced))
        return kinds + ((AWAITING_SALE,) if self.held else ())


# --------------------------------------------------------------------------- the fold


def totals(p: Payment) -> Totals:
    refunds = [r for r in p.refunds.values() if r["status"] == "succeeded"]
    itemized = sum(r["amount"] for r in refunds if r["kind"] == "refund")
    disputes = list(p.disputes.values())
    return Totals(
        captured=p.captured if p.payment_status == "succeeded" else 0,
        refunded=max(itemized, sum(p.refund_totals.values())),
        reversed=sum(r["amount"] for r in refunds if r["kind"] == "reversal"),
        disputed=sum(d["amount"] for d in disputes if d["status"] == "open"),
        dispute_lost=sum(d["amount"] for d in disputes if d["status"] == "lost"),
        open_disputes=sum(d["status"] == "open" for d in disputes),
        won_disputes=sum(d["status"] == "won" for d in disputes),
        lost_disputes=sum(d["status"] == "lost" for d in disputes),
    )


def facts_of(txn: Transaction) -> tuple[Fact, ...]:
    """The event's facts; a provider that reports a refund or dispute only by its status (an older
    plug-in) gets one fact keyed by the event id."""
    if txn.facts or txn.is_payment_event:
        return txn.facts
    kind, status = {
        "refunded": ("refund", "succeeded"), "refund_pending": ("refund", "pending"),
        "refund_failed": ("refund", "failed"), "refund_canceled": ("refund", "canceled"),
        "reversed": ("reversal", "succeeded"), "dispute_open": ("dispute", "open"),
        "dispute_won": ("dispute", "won"), "dispute_lost": ("dispute", "lost"),
    }[txn.status]
    return (Fact(kind, txn.event_id, status, txn.amount, txn.currency, txn.occurred_at),)


def apply(current: Payment, txn: Transaction) -> Applied | None:
    """The state after ``txn``, or None when it changes nothing (a duplicate, a late event)."""
    p = copy.deepcopy(current)
    candidates: list[dict[str, Any]] = []
    conflicts: list[str] = []
    became_succeeded = False
    p.provider = p.provider or txn.provider
    if txn.is_payment_event:
        conflicts += _set_sale_fields(p, txn)
        if PAYMENT_STATUS_RANK[txn.status] > PAYMENT_STATUS_RANK.get(p.payment_status or "", 0):
            p.payment_status = txn.status
            if txn.status == "succeeded":
                p.captured, became_succeeded = txn.amount, True
            if txn.status in PAYMENT_KINDS:
                candidates.append(_candidate(txn.status, txn.amount, txn.currency, txn, txn.transaction_id,
                                             txn.occurred_at))
    else:
        for fact in facts_of(txn):
            candidates += _apply_fact(p, fact, txn)
        conflicts += _refund_conflicts(p, txn)
    conflicts += _currency_conflicts(p)
    announced, held = _announce(p, candidates, txn.received_at)
    p.status = derived_status(p.payment_status, totals(p))
    if p == current:
        return None
    p.previous_status = current.status if current.version or current.legacy else None
    p.version = current.version + 1
    p.updated_at, p.last_event_id, p.last_event_type = txn.occurred_at, txn.event_id, txn.event_type
    return Applied(p, tuple(announced), held, tuple(conflicts), became_succeeded)


def _candidate(kind: str, amount: int, currency: str, txn: Transaction, object_id: str,
               occurred_at: str) -> dict[str, Any]:
    return {"kind": kind, "amount": amount, "currency": currency, "occurred_at": occurred_at,
            "event_id": txn.event_id, "object_id": object_id}


def _set_sale_fields(p: Payment, txn: Transaction) -> list[str]:
    """Set the sale's fields from the first payment event; report the ones a later event contradicts."""
    values = {"vendor_id": txn.vendor_id, "customer_id": txn.customer_id, "currency": txn.currency,
              "amount": txn.amount, "created_at": txn.occurred_at, "vendor_id_raw": txn.vendor_id_raw,
              "customer_id_raw": txn.customer_id_raw, "currency_raw": txn.currency_raw, "amount_raw": txn.amount_raw}
    if not p.sale:
        p.sale = {k: v for k, v in values.items() if v is not None}
        if txn.unroutable:
            p.sale["unroutable"] = list(txn.unroutable)
        return []
    return [name for name in CHECKED_FIELDS
            if values[name] is not None and name in p.sale and values[name] != p.sale[name]
            and _keep_conflict(p, name, values[name])]


def _refund_conflicts(p: Payment, txn: Transaction) -> list[str]:
    """A refund or dispute event's vendor or customer that contradicts the sale's (never set)."""
    found = []
    for name, value in (("vendor_id", txn.vendor_id), ("customer_id", txn.customer_id)):
        if value is not None and p.sale.get(name) not in (None, value) and _keep_conflict(p, name, value):
            found.append(name)
    return found


def _currency_conflicts(p: Payment) -> list[str]:
    """Refunds or disputes in another currency than the sale's (whichever came first)."""
    currency = p.sale.get("currency")
    if currency is None:
        return []
    entries = list(p.refunds.values()) + list(p.disputes.values())
    return ["currency" for other in sorted({e["currency"] for e in entries} - {currency})
            if _keep_conflict(p, "currency", other)]


def _keep_conflict(p: Payment, name: str, value: Any) -> bool:
    """Keep a contradicting raw value once; True when it is new (so it is counted once)."""
    kept = p.conflicts.get(name, [])
    text = str(value)[:256]
    if text in kept:
        return False
    if len(kept) < CONFLICT_VALUES_KEPT:
        p.conflicts[name] = kept + [text]
    return True


def _apply_fact(p: Payment, fact: Fact, txn: Transaction) -> list[dict[str, Any]]:
    """Move one refund, reversal or dispute forward; the announcements that move makes."""
    before = totals(p)
    if fact.kind == "refund_total":
        p.refund_totals[fact.id] = max(p.refund_totals.get(fact.id, 0), fact.amount)
    elif fact.kind in ("refund", "reversal"):
        entry = p.refunds.get(fact.id)
        if entry is None:
            p.refunds[fact.id] = {"kind": fact.kind, "status": fact.status, "amount": fact.amount,
                                  "currency": fact.currency, "occurred_at": fact.occurred_at}
        elif REFUND_RANK[fact.status] > REFUND_RANK[entry["status"]]:
            entry["status"] = fact.status
    else:
        return _apply_dispute(p, fact, txn)
    after = totals(p)
    found = []
    if after.refunded != before.refunded:
        kind = "refunded" if after.refunded > before.refunded else "refund_failed"
        found.append(_candidate(kind, abs(after.refunded - before.refunded), fact.currency, txn, fact.id,
                                fact.occurred_at))
    if after.reversed > before.reversed:
        found.append(_candidate("reversed", after.reversed - before.reversed, fact.currency, txn, fact.id,
                                fact.occurred_at))
    return found


def _apply_dispute(p: Payment, fact: Fact, txn: Transaction) -> list[dict[str, Any]]:
    found = []
    entry = p.disputes.get(fact.id)
    if entry is None:
        entry = p.disputes[fact.id] = {"status": "open", "amount": fact.amount, "currency": fact.currency,
                                       "occurred_at": fact.occurred_at, "withdrawn": False, "reinstated": False}
        # a closure seen first still opened the dispute first: the vendor hears both, in order
        found.append(_candidate("dispute_opened", fact.amount, fact.currency, txn, fact.id, fact.occurred_at))
    if DISPUTE_RANK[fact.status] > DISPUTE_RANK[entry["status"]]:
        entry["status"] = fact.status
        found.append(_candidate(f"dispute_{fact.status}", entry["amount"], fact.currency, txn, fact.id,
                                txn.occurred_at))
    entry["withdrawn"] = entry["withdrawn"] or fact.withdrawn
    entry["reinstated"] = entry["reinstated"] or fact.reinstated
    return found


def _announce(p: Payment, candidates: list[dict[str, Any]], now_ms: int) -> tuple[list[dict[str, Any]], int]:
    """Number the candidates that may be told now (a payment event; anything once the sale was
    told) and hold the rest; the sale releases what was held, in the order it happened. Returns
    the announcements and how many candidates were held."""
    announced: list[dict[str, Any]] = []
    held = 0
    for candidate in candidates:
        if candidate["kind"] in UNDOING_KINDS and not p.sale_announced:
            p.held.append(candidate)
            held += 1
            continue
        announced.append(_number(p, candidate, now_ms))
        if candidate["kind"] == "succeeded":
            p.sale_announced = True
            released = sorted(p.held, key=lambda c: c["occurred_at"])  # stable: arrival order on ties
            p.held = []
            announced += [_number(p, c, now_ms) for c in released]
    return announced, held


def _number(p: Payment, candidate: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The next announcement: the candidate with its seq, when it was made (``announced_at``: the
    announcing event's ``received_at``, epoch ms) and the running totals after it."""
    log = _fold(p.log, candidate)
    p.log, p.seq = log, p.seq + 1
    t = Totals(**{k: log.get(k, 0) for k in Totals.__dataclass_fields__})
    entry = {**candidate, "seq": p.seq, "announced_at": now_ms, "status": derived_status(log.get("payment_status"), t),
             **t.amounts()}
    p.announcements = (p.announcements + [entry])[-WINDOW:]
    return entry


def _fold(log: Mapping[str, Any], a: Mapping[str, Any]) -> dict[str, Any]:
    """The running totals of the announcements after one more."""
    out = dict(log)
    kind, amount = a["kind"], a["amount"]

    def add(name: str, value: int) -> None:
        out[name] = out.get(name, 0) + value

    if kind in PAYMENT_KINDS:
        rank = PAYMENT_STATUS_RANK
        if rank[kind] > rank.get(out.get("payment_status") or "", 0):
            out["payment_status"] = kind
        if kind == "succeeded":
            out["captured"] = amount
    elif kind == "refunded":
        add("refunded", amount)
    elif kind == "refund_failed":
        add("refunded", -amount)
    elif kind == "reversed":
        add("reversed", amount)
    elif kind == "dispute_opened":
        add("disputed", amount)
        add("open_disputes", 1)
    else:  # dispute_won, dispute_lost
        add("disputed", -amount)
        add("open_disputes", -1)
        add("won_disputes" if kind == "dispute_won" else "lost_disputes", 1)
        if kind == "dispute_lost":
            add("dispute_lost", amount)
    return out


# --------------------------------------------------------------------------- the state row


def from_item(transaction_id: str, item: Mapping[str, Any] | None) -> Payment:
    """The state row (plain values, paycore.ledger.deserialize) -> :class:`Payment`; a row written
    before this model (status and status_rank only) reads as its payment with everything it
    announced counted as announced."""
    if not item:
        return Payment(transaction_id)
    if "version" not in item:
        return _from_legacy(transaction_id, item)
    sale = {k: item[k] for k in SALE_FIELDS if k in item}
    if "unroutable" in item:
        sale["unroutable"] = list(item["unroutable"])
    return Payment(
        transaction_id=transaction_id, provider=item.get("provider", ""), payment_status=item.get("payment_status"),
        captured=int(item.get("captured_amount", 0)), sale=sale,
        refunds={k: plain(v) for k, v in (item.get("refunds") or {}).items()},
        disputes={k: plain(v) for k, v in (item.get("disputes") or {}).items()},
        refund_totals={k: int(v) for k, v in (item.get("refund_totals") or {}).items()},
        seq=int(item.get("seq", 0)), announcements=[plain(a) for a in item.get("announcements") or []],
        held=[plain(c) for c in item.get("held") or []], sale_announced=bool(item.get("sale_announced")),
        log=plain(item.get("log") or {}), conflicts={k: list(v) for k, v in (item.get("conflicts") or {}).items()},
        status=item.get("status", "awaiting_sale"), previous_status=item.get("previous_status"),
        updated_at=item.get("updated_at", ""), last_event_id=item.get("last_event_id", ""),
        last_event_type=item.get("last_event_type", ""), version=int(item["version"]),
    )


def _from_legacy(transaction_id: str, item: Mapping[str, Any]) -> Payment:
    status = str(item.get("status") or "")
    undone = {"refunded": "refund", "reversed": "reversal"}.get(status)
    payment_status = "succeeded" if undone else (status if status in PAYMENT_STATUS_RANK else None)
    amount = int(item.get("amount", 0))
    p = Payment(transaction_id=transaction_id, provider=item.get("provider", ""), payment_status=payment_status,
                captured=amount if payment_status == "succeeded" else 0,
                sale={k: item[k] for k in SALE_FIELDS if k in item}, status=status or "awaiting_sale",
                previous_status=item.get("previous_status"), updated_at=item.get("updated_at", ""),
                last_event_id=item.get("last_event_id", ""), last_event_type=item.get("last_event_type", ""),
                legacy=True)
    if undone:  # the older model announced a refund or reversal of the whole amount
        p.refunds["legacy"] = {"kind": undone, "status": "succeeded", "amount": amount,
                               "currency": item.get("currency", ""), "occurred_at": p.updated_at}
    p.sale_announced = payment_status == "succeeded"
    t = totals(p)
    p.log = {"payment_status": payment_status, **{k: v for k, v in vars(t).items() if v}}
    return p


def plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) back to int, in nested maps and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if type(value).__name__ == "Decimal":
        return int(value)
    return value


def to_item(p: Payment, *, bus_kinds: Iterable[str] = (), announced_from: int | None = None) -> dict[str, Any]:
    """:class:`Payment` -> the state row (plain values for paycore.ledger.serialize; None is left
    out). ``bus_kinds``: what this write announces (Pipe B puts only such writes on the bus);
    ``announced_from``: the first seq it announces."""
    t = totals(p)
    sale = p.sale
    item: dict[str, Any] = {
        "transaction_id": p.transaction_id, "timestamp": STATE_SK, "row_type": STATE_ROW,
        "version": p.version, "provider": p.provider or None, **sale,
        "vendor_key": sale.get("vendor_id"), "customer_key": sale.get("customer_id"),
        "payment_status": p.payment_status, "status": p.status, "previous_status": p.previous_status,
        "updated_at": p.updated_at or None, "last_event_id": p.last_event_id or None,
        "last_event_type": p.last_event_type or None, **t.amounts(),
        "refunds": p.refunds, "disputes": p.disputes, "refund_totals": p.refund_totals or None,
        "seq": p.seq, "announcements": p.announcements, "held": p.held, "sale_announced": p.sale_announced,
        "log": {k: v for k, v in p.log.items() if v is not None}, "conflicts": p.conflicts or None,
        "bus_kinds": set(bus_kinds) or None, "announced_from": announced_from,
    }
    return item


def public_amounts(item: Mapping[str, Any]) -> dict[str, Any]:
    """The amounts and derived status of any state row, also of a row written before this model."""
    p = from_item(str(item.get("transaction_id", "")), item)
    t = totals(p)
    status = derived_status(p.payment_status, t) if not p.legacy else p.status
    refunds = {k: {f: v[f] for f in ("kind", "status", "amount", "currency") if f in v} for k, v in p.refunds.items()}
    disputes = {k: {f: v[f] for f in ("status", "amount", "currency", "withdrawn", "reinstated") if f in v}
                for k, v in p.disputes.items()}
    return {**t.amounts(), "status": status, "refunds": refunds, "disputes": disputes}
