"""The one Transaction model every provider normalizes into, and the vocabulary around it.

Pure data and pure functions (no AWS, no I/O): the statuses of a payment, of its refunds and
disputes, and of the events about them (paycore.lifecycle folds them into a payment's state),
ISO 4217 currencies with their minor-unit exponents, decimal -> minor units, timestamps, and the
two non-transaction outcomes of processing a webhook:

* :class:`Ignored` - a well-formed, authentic event of a type we do not track (recorded, not an error);
* :class:`Rejected` - a message that must not reach the ledger (bad signature, stale timestamp,
  malformed body...). Its ``reason`` is a short code, used as the ``reason`` metric dimension; it
  never carries payload, signature or secret text, so it is safe to log.

Timestamps: ``occurred_at`` is ISO-8601 UTC with milliseconds and a ``Z`` (sorts as text);
``received_at`` is epoch milliseconds (API Gateway ``$context.requestTimeEpoch``), exactly as the
envelope and the ledger event row carry it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

#: The payment's own status (from its payment events) -> rank. It only moves to a strictly higher
#: rank, so a late ``processing`` never overwrites ``succeeded``, whatever the arrival order.
PAYMENT_STATUS_RANK: dict[str, int] = {
    "pending": 10,
    "requires_action": 20,
    "requires_capture": 25,
    "processing": 30,
    "failed": 40,
    "canceled": 50,
    "succeeded": 60,
}
#: What one event says of the refund, reversal or dispute it is about (``Transaction.status`` of
#: an event that is not a payment event; the event row keeps it).
REFUND_EVENT_STATUSES = ("refund_pending", "refunded", "refund_failed", "refund_canceled")
DISPUTE_EVENT_STATUSES = ("dispute_open", "dispute_won", "dispute_lost")
EVENT_STATUSES = frozenset(PAYMENT_STATUS_RANK) | {"reversed", *REFUND_EVENT_STATUSES, *DISPUTE_EVENT_STATUSES}
#: The payment's status as its state row shows it, derived from its amounts (paycore.lifecycle).
DERIVED_STATUSES = frozenset(PAYMENT_STATUS_RANK) | {
    "awaiting_sale", "partially_refunded", "refunded", "reversed", "disputed", "dispute_won", "dispute_lost"}
#: Kept for readers of the older name: the payment dimension's ranks.
STATUS_RANK = PAYMENT_STATUS_RANK
STATUSES = EVENT_STATUSES

#: What a :class:`Fact` is about.
FACT_KINDS = ("refund", "reversal", "dispute", "refund_total")
#: A fact's own status, per kind (refund_total: the provider's cumulative refunded amount).
FACT_STATUSES: dict[str, frozenset[str]] = {
    "refund": frozenset({"pending", "requires_action", "succeeded", "failed", "canceled"}),
    "reversal": frozenset({"pending", "succeeded", "failed", "canceled"}),
    "dispute": frozenset({"open", "won", "lost"}),
    "refund_total": frozenset({"succeeded"}),
}

# ISO 4217 active codes by minor-unit exponent (2 unless listed). Funds codes included
# (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW); metals and test codes (XAU, XTS, XXX...) are not.
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)
CURRENCY_EXPONENT: dict[str, int] = {
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    **{code: 4 for code in _EXPONENT_4.split()},
}
CURRENCIES = frozenset(CURRENCY_EXPONENT)

#: Ids we accept from outside (vendor, customer, transaction, event): no spaces, no control
#: characters, nothing that needs escaping in a key, a URL path or a log line.
#: ``\Z``, not ``$``: ``$`` would also accept one trailing newline.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}\Z")
_SAFE_ID_MATCH = SAFE_ID.match
#: Vendor and customer ids that matched SAFE_ID lately: they recur from event to event, and each
#: event checks them twice (route_fields, then Transaction). Bounded; a pure function's results.
_SAFE_RECURRING_IDS: set[str] = set()


def _safe_recurring_id(value: str) -> bool:
    """``SAFE_ID.match(value)``, remembered when it matches (vendor and customer ids only)."""
    if value in _SAFE_RECURRING_IDS:
        return True
    if _SAFE_ID_MATCH(value) is None:
        return False
    if len(_SAFE_RECURRING_IDS) >= 4096:
        _SAFE_RECURRING_IDS.clear()
    _SAFE_RECURRING_IDS.add(value)
    return True


#: The largest amount any provider's event may carry, in minor units: far above any real payment,
#: well inside DynamoDB's 38-digit numbers (a Stripe amount of 10**40 is refused, not retried).
MAX_AMOUNT = 10**12

#: The normalized vendor id of a verified event whose vendor cannot be identified safely; such an
#: event is recorded (raw value kept) but routed to no vendor. Never a valid configured vendor id.
UNKNOWN_VENDOR = "unknown"
#: The currency recorded for a verified event whose currency is not an ISO 4217 code we know:
#: ISO 4217's own "no currency" code; the provider's text is kept in ``currency_raw``.
UNKNOWN_CURRENCY = "XXX"
_TRANSACTION_CURRENCIES = CURRENCIES | {UNKNOWN_CURRENCY}
#: Longest raw business value kept beside its normalized form (PayPal ``custom_id``: 1-127 chars).
RAW_VALUE_MAX_CHARS = 256


class MisconfiguredSecret(Exception):
    """A signing secret we hold is unusable (empty, not JSON, no current/previous value).

    Our own misconfiguration, never the sender's fault: the record is retried (and dead-lettered
    after the queue's maxReceiveCount), never rejected as a signature mismatch. The text names the
    provider and the problem, never the value.
    """


class Rejected(Exception):
    """The message is refused for good: quarantined, counted, acknowledged (never retried).

    ``reason`` is one of a small fixed set of codes (the ``reason`` metric dimension). The
    exception text is the reason only, never message content.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fact:
    """What an event says of one refund, reversal or dispute of its payment, keyed by that object's
    own id so a payment's state counts each once (paycore.lifecycle). ``refund_total`` is a
    provider's cumulative refunded amount of one charge (``id``: the charge), used where the event
    does not itemize its refunds. ``occurred_at``: when the object was created."""

    kind: str
    id: str
    status: str
    amount: int
    currency: str
    occurred_at: str
    withdrawn: bool = False  # a dispute's funds left the balance
    reinstated: bool = False  # ... and came back

    def problems(self) -> list[str]:
        found = []
        if self.status not in FACT_STATUSES.get(self.kind, ()):
            found.append("fact.status")
        if type(self.amount) is not int or not 0 <= self.amount <= MAX_AMOUNT:
            found.append("fact.amount")
        if not SAFE_ID.match(self.id or ""):
            found.append("fact.id")
        if self.currency not in _TRANSACTION_CURRENCIES:
            found.append("fact.currency")
        return found


@dataclass(frozen=True, slots=True)
class Transaction:
    """One provider event about one payment, normalized. Amounts are integer minor units.

    A payment event (``facts`` empty) carries the payment's status and amount; an event about a
    refund, reversal or dispute carries its ``facts`` (a Stripe ``charge.refunded`` may list
    several refunds), ``status`` then says what the event reports (``refunded``,
    ``dispute_open``...) and ``amount`` the amount of its first fact."""

    transaction_id: str
    provider: str
    event_id: str
    event_type: str
    status: str
    amount: int
    currency: str
    vendor_id: str | None
    customer_id: str | None
    occurred_at: str  # ISO-8601 UTC, ms, "Z"
    received_at: int  # epoch ms (API Gateway requestTimeEpoch)
    # A verified event is recorded even when a business field is unusable: the provider's text is
    # kept here (see :func:`route_fields`) and ``unroutable`` names why (``UnroutableEvent`` reasons).
    vendor_id_raw: str | None = None
    customer_id_raw: str | None = None
    currency_raw: str | None = None
    amount_raw: str | None = None
    unroutable: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()

    def __post_init__(self) -> None:
        # Fast path, the common case: every check below passes (same checks, no list, no getattr).
        amount = self.amount
        if (
            self.status in EVENT_STATUSES
            and not self.facts
            and self.currency in _TRANSACTION_CURRENCIES
            and type(amount) is int
            and 0 <= amount <= MAX_AMOUNT
            and _SAFE_ID_MATCH(self.transaction_id or "")
            and _SAFE_ID_MATCH(self.event_id or "")
            and (self.vendor_id is None or _safe_recurring_id(self.vendor_id))
            and (self.customer_id is None or _safe_recurring_id(self.customer_id))
        ):
            return
        problems = [problem for fact in self.facts for problem in fact.problems()]
        if self.status not in EVENT_STATUSES:
            problems.append("status")
        if self.currency not in CURRENCIES and self.currency != UNKNOWN_CURRENCY:
            problems.append("currency")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool) or not 0 <= self.amount <= MAX_AMOUNT:
            problems.append("amount")
        for name in ("transaction_id", "event_id"):
            if not SAFE_ID.match(getattr(self, name) or ""):
                problems.append(name)
        for name in ("vendor_id", "customer_id"):
            value = getattr(self, name)
            if value is not None and not SAFE_ID.match(value):
                problems.append(name)
        if problems:
            # Field names only: the values came from outside.
            raise Rejected("malformed_event") from ValueError(", ".join(problems))

    @property
    def is_payment_event(self) -> bool:
        """An event about the payment itself (its status), not about a refund or dispute of it."""
        return not self.facts and self.status in PAYMENT_STATUS_RANK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RouteFields(NamedTuple):
    """Safe business fields of a verified event, with the raw values they replace (a NamedTuple:
    immutable, and built per record at a fifth of a frozen dataclass's cost)."""

    vendor_id: str | None
    customer_id: str | None
    currency: str
    vendor_id_raw: str | None = None
    customer_id_raw: str | None = None
    currency_raw: str | None = None
    unroutable: tuple[str, ...] = ()

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "vendor_id_raw": self.vendor_id_raw,
            "customer_id_raw": self.customer_id_raw,
            "currency_raw": self.currency_raw,
            "unroutable": self.unroutable,
        }


def _raw(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:RAW_VALUE_MAX_CHARS]


def route_fields(*, vendor_id: Any, customer_id: Any, currency: Any) -> RouteFields:
    """Normalize the business fields of an event whose signature verified: never reject them.

    * vendor id outside :data:`SAFE_ID` (PayPal allows any 1-127 characters in ``custom_id``):
      ``vendor_id = "unknown"`` (:data:`UNKNOWN_VENDOR`), raw text in ``vendor_id_raw``, reason
      ``unsafe_vendor_id``; the event is recorded and routed to no vendor.
    * customer id outside :data:`SAFE_ID`: no customer id (kept out of the customer index), raw
      text in ``customer_id_raw``, reason ``unsafe_customer_id``.
    * currency not a known ISO 4217 code: ``"XXX"``, raw text in ``currency_raw``, reason
      ``unknown_currency``.
    ``None`` / empty ids stay ``None`` (not an error: many payments carry no vendor metadata).
    """
    reasons = []
    vendor, vendor_raw = (vendor_id or None), None
    if vendor is not None and not (isinstance(vendor, str) and _safe_recurring_id(vendor)):
        vendor, vendor_raw = UNKNOWN_VENDOR, _raw(vendor_id)
        reasons.append("unsafe_vendor_id")
    customer, customer_raw = (customer_id or None), None
    if customer is not None and not (isinstance(customer, str) and _safe_recurring_id(customer)):
        customer, customer_raw = None, _raw(customer_id)
        reasons.append("unsafe_customer_id")
    code, currency_raw = currency, None
    if not (isinstance(currency, str) and currency in CURRENCIES):
        code, currency_raw = UNKNOWN_CURRENCY, _raw(currency)
        reasons.append("unknown_currency")
    return RouteFields(vendor, customer, code, vendor_raw, customer_raw, currency_raw, tuple(reasons))


@dataclass(frozen=True, slots=True)
class Ignored:
    """An authentic event of a type the platform does not track (recorded as ignored)."""

    provider: str
    event_id: str
    event_type: str
    received_at: int


_DECIMAL_AMOUNT = re.compile(r"\d{1,15}(\.\d{1,4})?")


def to_minor_units(value: Any, currency: str) -> int:
    """Decimal string -> integer minor units by the currency's ISO 4217 exponent.

    ``to_minor_units("10.50", "USD") == 1050``, ``("1000", "JPY") == 1000``,
    ``("1.234", "KWD") == 1234``. More decimals than the currency has, a negative amount, or
    anything that is not a plain decimal string raises ``Rejected("malformed_event")``.
    """
    exponent = CURRENCY_EXPONENT.get(currency)
    if exponent is None and currency == UNKNOWN_CURRENCY and isinstance(value, str):
        # Unknown exponent: the value's own decimals (the text is kept in ``amount_raw``).
        exponent = len(value.partition(".")[2])
    if exponent is None or not isinstance(value, str) or not _DECIMAL_AMOUNT.fullmatch(value):
        raise Rejected("malformed_event")
    whole, _, fraction = value.partition(".")
    if len(fraction) <= exponent:  # the common case, exact in integers: no Decimal needed
        return int(whole + fraction.ljust(exponent, "0"))
    try:
        scaled = Decimal(value).scaleb(exponent)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise Rejected("malformed_event") from exc
    if scaled != scaled.to_integral_value():
        raise Rejected("malformed_event")
    return int(scaled)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DATE = date(1970, 1, 1)
_DAY_MS = 86_400_000
#: days since the epoch -> "YYYY-MM-DDT" (events cluster by day: the date is formatted once a day).
_DAY_PREFIX: dict[int, str] = {}
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))


def iso_from_epoch_ms(epoch_ms: int) -> str:
    """1732240000123 -> "2024-11-22T01:46:40.123Z"."""
    days, ms = divmod(epoch_ms, _DAY_MS)
    prefix = _DAY_PREFIX.get(days)
    if prefix is None:
        try:
            prefix = (_EPOCH_DATE + timedelta(days=days)).isoformat() + "T"
        except OverflowError:
            datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc)  # outside years 1-9999: its error
            raise
        if len(_DAY_PREFIX) >= 4096:
            _DAY_PREFIX.clear()
        _DAY_PREFIX[days] = prefix
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{prefix}{_TWO_DIGITS[hours]}:{_TWO_DIGITS[minutes]}:{_TWO_DIGITS[seconds]}.{_THREE_DIGITS[ms]}Z"


def iso_from_text(value: Any) -> str:
    """A provider's ISO-8601 timestamp (``2024-11-22T01:46:40Z``, with or without fraction or
    offset) -> the canonical ``...T01:46:40.000Z`` form. Anything else: ``Rejected``."""
    if not isinstance(value, str) or len(value) > 40:
        raise Rejected("malformed_event")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise Rejected("malformed_event") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso_from_epoch_ms((moment - _EPOCH) // timedelta(milliseconds=1))
