"""Vendor webhook delivery: endpoint configuration, message ids, Standard Webhooks signing, schedule.

Pure code shared by the fan-out and sender functions and the ops tooling (lambda_src/README.md,
"Vendor delivery"). Time comes from :data:`clock` so tests can run a 27-hour schedule in
seconds by replacing it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import secrets as _secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from paycore.egress import is_public_address
from paycore.lifecycle import AMOUNT_FIELDS, KINDS, UNDOING_KINDS
from paycore.model import PAYMENT_STATUS_RANK, SAFE_ID

#: Seconds since the epoch; tests replace it (``delivery.clock = fake``).
clock: Callable[[], float] = time.time

#: What vendors can subscribe to, as event types ``payment.<kind>``: the announcements of a
#: payment's lifecycle (paycore.lifecycle.KINDS).
DELIVERABLE_STATUSES = KINDS
EVENT_TYPES = tuple(f"payment.{s}" for s in DELIVERABLE_STATUSES)

#: Delay before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (~27.6 h).
DEFAULT_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_DELAY_SECONDS = 43_200  # SQS ChangeMessageVisibility ceiling (12 h)
DEFAULT_TIMEOUT_SECONDS = 15.0
#: The sender's time budget: one batch of the FIFO event source (at most 10 records) may be one
#: message group, whose records are attempted in a row; each record also makes a few AWS calls
#: (message row, attempt row, state), and the invocation starts and flushes its metrics.
SENDER_BATCH_SIZE = 10
SENDER_RECORD_MARGIN_SECONDS = 1.0
SENDER_INVOCATION_MARGIN_SECONDS = 10.0
DEFAULT_AUTO_DISABLE_AFTER_SECONDS = 3 * 24 * 3600
DEFAULT_PAUSE_RECHECK_SECONDS = 300
#: SQS deletes a message this long after it was sent (the deliveries queue keeps the maximum, 14 days);
#: a message held so long that it would come back later than a day before that is parked instead.
DEFAULT_QUEUE_RETENTION_SECONDS = 1_209_600
PARK_MARGIN_SECONDS = 86_400
DEFAULT_LOG_TTL_DAYS = 30
SECRET_PREFIX_BYTES = 32
ENDPOINT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{2,47}$")
#: Bus rule ``vendor-delivery-{env}`` -> queue ``delivery-events-{env}`` (the fan-out's input).
DELIVERY_RULE_PATTERN: dict[str, Any] = {
    "source": ["payments.ledger"],
    "detail-type": ["TransactionStatusChanged"],
    "detail": {"bus_kinds": list(DELIVERABLE_STATUSES)},
}
EVENT_SOURCE = "payments.delivery"
EXHAUSTED_DETAIL_TYPE = "DeliveryExhausted"
DISABLED_DETAIL_TYPE = "DeliveryEndpointDisabled"
PARKED_DETAIL_TYPE = "DeliveryParked"


class ConfigError(ValueError):
    """The vendor endpoint configuration is invalid; the message lists every problem."""


@dataclass(frozen=True)
class Endpoint:
    id: str
    vendor_id: str
    url: str
    event_types: frozenset[str]
    rate_limit_per_second: float | None = None
    paused: bool = False

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


def parse_endpoints(document: Any, *, allow_loopback_http: bool = False) -> dict[str, Endpoint]:
    """Validate ``{"vendors": {vendor_id: {"endpoints": [{id, url, event_types,
    rate_limit_per_second?, paused?}]}}}``; returns endpoints by id or raises one :class:`ConfigError`.

    ``allow_loopback_http`` (the ``local`` environment only) admits ``http://127.0.0.1:<port>``
    and ``http://localhost:<port>``; everywhere else a URL must be ``https://`` on a host name or
    a public address (the sender re-checks the resolved address on every attempt).
    """
    problems: list[str] = []
    endpoints: dict[str, Endpoint] = {}
    vendors = document.get("vendors") if isinstance(document, Mapping) else None
    if not isinstance(vendors, Mapping):
        raise ConfigError('vendor endpoints: expected {"vendors": {vendor_id: {"endpoints": [...]}}}')
    unknown_top = sorted(set(document) - {"vendors"})
    if unknown_top:
        problems.append(f"unknown top-level key(s) {unknown_top}")
    for vendor_id, vendor in vendors.items():
        where = f"vendors.{vendor_id}"
        if not isinstance(vendor_id, str) or not SAFE_ID.match(vendor_id):
            problems.append(f"{where}: vendor id {vendor_id!r} must match {SAFE_ID.pattern}")
        items = vendor.get("endpoints") if isinstance(vendor, Mapping) else None
        if not isinstance(items, list) or not items:
            problems.append(f"{where}: 'endpoints' must be a non-empty list")
            continue
        for index, item in enumerate(items):
            endpoint = _parse_endpoint(item, str(vendor_id), f"{where}.endpoints[{index}]", problems, allow_loopback_http)
            if endpoint is None:
                continue
            if endpoint.id in endpoints:
                problems.append(f"{where}.endpoints[{index}]: endpoint id {endpoint.id!r} is used twice (ids are global)")
            endpoints[endpoint.id] = endpoint
    if problems:
        raise ConfigError("invalid vendor endpoint configuration:\n- " + "\n- ".join(problems))
    return endpoints


def _parse_endpoint(item: Any, vendor_id: str, where: str, problems: list[str], allow_loopback_http: bool) -> Endpoint | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: expected an object")
        return None
    before = len(problems)
    unknown = sorted(set(item) - {"id", "url", "event_types", "rate_limit_per_second", "paused"})
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}")
    endpoint_id = item.get("id")
    if not isinstance(endpoint_id, str) or not ENDPOINT_ID.match(endpoint_id):
        problems.append(f"{where}.id: {endpoint_id!r} must match {ENDPOINT_ID.pattern}")
    url = item.get("url")
    url_problem = url_problem_of(url, allow_loopback_http=allow_loopback_http)
    if url_problem:
        problems.append(f"{where}.url: {url_problem}")
    types = item.get("event_types")
    if not isinstance(types, list) or not types or any(t not in EVENT_TYPES for t in types):
        problems.append(f"{where}.event_types: {types!r} must be a non-empty list of {list(EVENT_TYPES)}")
    rate = item.get("rate_limit_per_second")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.001 <= rate <= 1000):
        problems.append(f"{where}.rate_limit_per_second: {rate!r} must be a number in 0.001..1000 (or absent: no limit)")
    paused = item.get("paused", False)
    if not isinstance(paused, bool):
        problems.append(f"{where}.paused: {paused!r} must be true or false")
    if len(problems) > before:
        return None
    return Endpoint(str(endpoint_id), str(vendor_id), str(url), frozenset(types or ()),
                    float(rate) if rate is not None else None, paused)


def url_problem_of(url: Any, *, allow_loopback_http: bool = False) -> str | None:
    """Why ``url`` cannot be a vendor endpoint (static checks), or None."""
    import ipaddress

    if not isinstance(url, str) or len(url) > 2048:
        return "must be a URL string of at most 2048 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return f"{url!r} is not a valid URL"
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        return "must not carry credentials (user:password@)"
    if parts.fragment:
        return "must not have a #fragment"
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if allow_loopback_http and loopback and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https":
        return f"{url!r} must use https://" + (" (http://127.0.0.1 only in the local environment)" if loopback else "")
    if not host or host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        return f"host {host!r} is not a public host name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not is_public_address(address):
        return f"address {host} is not public (loopback, private, link-local or reserved)"
    return None




# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    schedule: tuple[int, ...] = DEFAULT_SCHEDULE
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    auto_disable_after_seconds: int = DEFAULT_AUTO_DISABLE_AFTER_SECONDS
    pause_recheck_seconds: int = DEFAULT_PAUSE_RECHECK_SECONDS
    log_ttl_seconds: int = DEFAULT_LOG_TTL_DAYS * 86400
    allow_loopback_http: bool = False
    queue_retention_seconds: int = DEFAULT_QUEUE_RETENTION_SECONDS

    @property
    def park_after_seconds(self) -> int:
        """Age (since the message was sent) from which a message is parked rather than held past it:
        the queue's retention less a day (less a quarter of it, when that is shorter)."""
        return self.queue_retention_seconds - min(PARK_MARGIN_SECONDS, self.queue_retention_seconds // 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        problems: list[str] = []
        schedule: tuple[int, ...] = DEFAULT_SCHEDULE
        raw = env.get("DELIVERY_RETRY_SCHEDULE", "").strip()
        if raw:
            try:
                schedule = tuple(int(x) for x in raw.split(","))
            except ValueError:
                schedule = ()
            if not schedule or any(not 0 <= s <= MAX_DELAY_SECONDS for s in schedule):
                problems.append(f"DELIVERY_RETRY_SCHEDULE {raw!r}: comma list of seconds, each 0..{MAX_DELAY_SECONDS}")

        def number(name: str, default: float, low: float, high: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                value = low - 1
            if not low <= value <= high:
                problems.append(f"{name} {text!r}: must be a number in {low}..{high}")
                return default
            return value

        settings = cls(
            schedule=schedule,
            timeout_seconds=number("DELIVERY_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, 0.1, 60),
            auto_disable_after_seconds=int(number("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", DEFAULT_AUTO_DISABLE_AFTER_SECONDS, 1, 30 * 86400)),
            pause_recheck_seconds=int(number("DELIVERY_PAUSE_RECHECK_SECONDS", DEFAULT_PAUSE_RECHECK_SECONDS, 1, MAX_DELAY_SECONDS)),
            log_ttl_seconds=int(number("DELIVERY_LOG_TTL_DAYS", DEFAULT_LOG_TTL_DAYS, 1, 365) * 86400),
            allow_loopback_http=env.get("DELIVERY_ALLOW_LOOPBACK_HTTP", "").lower() == "true",
            queue_retention_seconds=int(number("DELIVERY_QUEUE_RETENTION_SECONDS", DEFAULT_QUEUE_RETENTION_SECONDS,
                                               60, DEFAULT_QUEUE_RETENTION_SECONDS)),
        )
        if problems:
            raise ConfigError("invalid delivery settings:\n- " + "\n- ".join(problems))
        return settings


def record_budget_seconds(attempt_timeout_seconds: float) -> float:
    """Time one record may take: the attempt's deadline plus its AWS calls."""
    return attempt_timeout_seconds + SENDER_RECORD_MARGIN_SECONDS


def sender_timeout_floor(attempt_timeout_seconds: float, batch_size: int = SENDER_BATCH_SIZE) -> int:
    """The least sender function timeout (s) that fits a batch of one group attempted in a row:
    ``batch_size`` x :func:`record_budget_seconds` + the invocation's own margin."""
    return math.ceil(batch_size * record_budget_seconds(attempt_timeout_seconds) + SENDER_INVOCATION_MARGIN_SECONDS)


def next_delay(attempts_made: int, schedule: tuple[int, ...]) -> int | None:
    """Seconds to wait before the next attempt after ``attempts_made`` failed ones; None: exhausted."""
    return schedule[attempts_made] if attempts_made < len(schedule) else None


def rate_window(rate_per_second: float, now: float) -> tuple[int, int, int]:
    """Fixed window for a rate: (window start epoch s, window length s, messages allowed in it)."""
    length = 1 if rate_per_second >= 1 else max(1, round(1 / rate_per_second))
    allowed = max(1, int(rate_per_second * length))
    start = int(now) - int(now) % length
    return start, length, allowed


# --------------------------------------------------------------------------- messages


def event_type_of(status: str) -> str | None:
    return f"payment.{status}" if status in DELIVERABLE_STATUSES else None


def webhook_id(endpoint_id: str, transaction_id: str, label: str) -> str:
    """Deterministic ``webhook-id``: one per (endpoint, payment, announcement), stable across
    retries, resends and every domain event that carries the announcement. ``label``:
    :func:`announcement_label` (older messages: the status)."""
    digest = hashlib.sha256(f"{endpoint_id}\n{transaction_id}\n{label}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


def announcement_label(seq: int) -> str:
    return f"seq:{seq}"


def group_id(endpoint_id: str, transaction_id: str) -> str:
    """FIFO message group: one lane per (endpoint, payment) - order per payment, endpoints independent."""
    lane = f"{endpoint_id}#{transaction_id}"
    return lane if len(lane) <= 128 else f"{endpoint_id}#{hashlib.sha256(transaction_id.encode()).hexdigest()[:64]}"


def payload(detail: Mapping[str, Any], announcement: Mapping[str, Any]) -> str:
    """The JSON body vendors receive (Standard Webhooks shape: type, timestamp, data): one
    announcement, its own amount and the payment's running totals after it; the same bytes from
    whichever domain event carried it."""
    occurred_at = announcement.get("occurred_at") or None
    data = {
        "transaction_id": detail.get("transaction_id"),
        "vendor_id": detail.get("vendor_id") or None,
        "sequence": announcement["seq"],
        "status": announcement.get("status"),
        "amount": announcement.get("amount"),
        "currency": announcement.get("currency") or detail.get("currency") or None,
        "occurred_at": occurred_at,
        "object_id": announcement.get("object_id") or None,
        **{name: announcement.get(name) for name in AMOUNT_FIELDS},
    }
    body = {"type": event_type_of(announcement["kind"]), "timestamp": occurred_at, "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def status_rank(status: str) -> int:
    """An order of the kinds for messages without a sequence (older rows): payment statuses by
    rank, then what undoes a sale."""
    if status in PAYMENT_STATUS_RANK:
        return PAYMENT_STATUS_RANK[status]
    return 100 + UNDOING_KINDS.index(status) if status in UNDOING_KINDS else 0


def order_key(row: Mapping[str, Any]) -> tuple[str, int, int]:
    """How a payment's messages are ordered for a resend: created, then sequence, then kind."""
    return (str(row.get("created_at", "")), int(row.get("seq") or 0), status_rank(str(row.get("status", ""))))


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- signing


def generate_secret() -> str:
    """A new ``whsec_`` signing secret (32 random bytes, base64)."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(SECRET_PREFIX_BYTES)).decode()


def _key(secret: str) -> bytes:
    text = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    key = base64.b64decode(text + "==")
    if not key:
        raise ValueError("empty signing secret")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` (Standard Webhooks)."""
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def active_secrets(value: Mapping[str, Any], now: float) -> list[str]:
    """Current secret, plus the previous one while its grace period runs."""
    found = [value["current"]] if isinstance(value.get("current"), str) and value["current"] else []
    previous, until = value.get("previous"), value.get("previous_expires_at")
    if isinstance(previous, str) and previous and isinstance(until, (int, float)) and now < until:
        found.append(previous)
    if not found:
        raise ValueError("signing secret has no current value")
    return found


def headers(msg_id: str, timestamp: int, body: str, secrets: Iterable[str]) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "payment-webhooks-delivery/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }


def secret_name(prefix: str, endpoint_id: str) -> str:
    return f"{prefix}vendors/{endpoint_id}/signing"


# --------------------------------------------------------------------------- configuration source

_parsed: dict[tuple[str, bool], dict[str, Endpoint]] = {}


def load_endpoints(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, Endpoint]:
    """Endpoints from ``DELIVERY_ENDPOINTS`` (inline JSON) or the SSM parameter named by
    ``DELIVERY_ENDPOINTS_PARAMETER`` (cached 60 s: a configuration change applies within a minute).
    No configuration = no vendor endpoints."""
    env = os.environ if env is None else env
    raw = env.get("DELIVERY_ENDPOINTS")
    if raw is None and env.get("DELIVERY_ENDPOINTS_PARAMETER"):
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_parameter(env["DELIVERY_ENDPOINTS_PARAMETER"], max_age=60)
    if not raw:
        return {}
    key = (raw, settings.allow_loopback_http)
    if key not in _parsed:
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise ConfigError("vendor endpoint configuration is not JSON") from exc
        _parsed.clear()
        _parsed[key] = parse_endpoints(document, allow_loopback_http=settings.allow_loopback_http)
    return _parsed[key]


def endpoints_of_vendor(endpoints: Mapping[str, Endpoint], vendor_id: str) -> list[Endpoint]:
    return sorted((e for e in endpoints.values() if e.vendor_id == vendor_id), key=lambda e: e.id)
