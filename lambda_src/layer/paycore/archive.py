"""Archive layout: turning ledger event rows into batched, replayable S3 objects.

Layout (see lambda_src/README.md, "Archive layout"):

    raw/{provider}/{yyyy}/{mm}/{dd}/{hh}/{first_ms}-{last_ms}-{digest16}.jsonl.gz

One object holds the events of one archiver batch that share a provider and a reception hour
(UTC, from ``received_at``). Each line is one :func:`archive_line` JSON object carrying the raw body
bytes exactly (base64), their sha256, the signature headers and the original ``received_at``, so a
replay re-verifies the signature. ``first_ms``/``last_ms`` are the smallest and largest
``received_at`` in the object, so a lookup of one event reads only the objects whose range covers
it. The key and the bytes are a pure function of the set of events: a retried batch writes the
same key with the same bytes (gzip mtime 0, sorted lines, sorted keys).

Pure functions only; the archiver handler and ``scripts/ops/replay_archive.py`` do the I/O.

Every object written to the archive bucket (archive batches, quarantine documents, parked DLQ
messages) carries its own checksum, :func:`put_checksum`: S3 refuses an upload into a bucket with
default Object Lock retention (prod) unless it has Content-MD5 or x-amz-sdk-checksum-algorithm,
and which of them an SDK adds by itself depends on its version and configuration.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping

from paycore import rawcodec
from paycore.ledger import deserialize, event_key_fields

ARCHIVE_PREFIX = "raw/"
LINE_VERSION = 1
CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
_KEY_RE = re.compile(
    r"^raw/(?P<provider>[a-z0-9_-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"(?P<first>\d+)-(?P<last>\d+)-(?P<digest>[0-9a-f]{16})\.jsonl\.gz$"
)
_PROVIDER_RE = re.compile(r"^[a-z0-9_-]{1,32}$")


def put_checksum(body: bytes) -> dict[str, str]:
    """The PutObject arguments that send a SHA-256 of ``body`` with the request, on every botocore
    version and configuration: ``x-amz-sdk-checksum-algorithm`` plus the precomputed
    ``x-amz-checksum-sha256`` header (never a trailer, never left to the SDK's default). S3 checks
    the body against it and stores it with the object."""
    return {"ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")}


class InvalidRecord(ValueError):
    """A stream record that can never be archived (retrying does not help)."""


# --------------------------------------------------------------------------- DynamoDB JSON

def deserialize_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream record's NewImage as plain values, with the ledger's own deserializer;
    :class:`InvalidRecord` when it is not DynamoDB JSON."""
    if not isinstance(image, Mapping):
        raise InvalidRecord("NewImage is not an object")
    try:
        return deserialize(image)
    except (ArithmeticError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidRecord("undecodable DynamoDB attribute") from exc


# --------------------------------------------------------------------------- one event

@dataclass(frozen=True)
class ArchivedEvent:
    """One ledger event as archived (everything a replay needs)."""

    provider: str
    event_id: str
    transaction_id: str
    received_at: int  # epoch milliseconds, API Gateway requestTimeEpoch
    raw: bytes = field(repr=False)
    event_type: str = ""
    occurred_at: str = ""
    request_id: str = ""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def to_envelope(self) -> dict[str, Any]:
        """The ingest envelope (lambda_src/README.md) that re-delivers this event unchanged."""
        return {
            "v": 1,
            "provider": self.provider,
            "received_at": self.received_at,
            "request_id": self.request_id,
            "source_ip": "",
            "headers": dict(self.headers),
            "body_b64": base64.b64encode(self.raw).decode("ascii"),
        }


def _headers_from(item: Mapping[str, Any]) -> dict[str, str]:
    """Signature headers of the event row, if the processor stored them.

    Accepted shapes: ``headers``/``signature_headers`` as a map, or as a JSON string.
    """
    for name in ("signature_headers", "headers"):
        value = item.get(name)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise InvalidRecord(f"{name} is not JSON") from exc
        if isinstance(value, Mapping):
            return {str(k).lower(): str(v) for k, v in value.items()}
    return {}


def is_ledger_event_insert(record: Mapping[str, Any]) -> bool:
    """True for the records Pipe A forwards (INSERT of a row_type "event" row)."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    return record.get("eventName") == "INSERT" and image.get("row_type") == {"S": "event"}


def event_from_stream_record(record: Mapping[str, Any]) -> ArchivedEvent:
    """Parse one Pipe A stream record; :class:`InvalidRecord` when it can never be archived."""
    if not isinstance(record, Mapping):
        raise InvalidRecord("stream record is not an object")
    dynamodb = record.get("dynamodb")
    if not isinstance(dynamodb, Mapping) or "NewImage" not in dynamodb:
        raise InvalidRecord("stream record has no dynamodb.NewImage")
    item = event_key_fields(deserialize_image(dynamodb["NewImage"]))
    missing = [n for n in ("transaction_id", "event_id", "provider", "received_at") if not item.get(n)]
    if missing:
        raise InvalidRecord(f"event row lacks {', '.join(missing)}")
    provider = str(item["provider"])
    if not _PROVIDER_RE.match(provider):
        raise InvalidRecord("provider is not a valid key segment")
    try:
        raw = rawcodec.unpack(item)
    except KeyError as exc:
        raise InvalidRecord("event row has no raw payload (raw_zd1 or raw_gzip)") from exc
    except ValueError as exc:
        raise InvalidRecord(str(exc)) from exc
    expected = item.get("raw_sha256")
    if expected and hashlib.sha256(raw).hexdigest() != str(expected).lower():
        raise InvalidRecord("raw_sha256 does not match the payload")
    try:
        received_at = int(item["received_at"])
    except (TypeError, ValueError) as exc:
        raise InvalidRecord("received_at is not epoch milliseconds") from exc
    return ArchivedEvent(
        provider=provider,
        event_id=str(item["event_id"]),
        transaction_id=str(item["transaction_id"]),
        received_at=received_at,
        raw=raw,
        event_type=str(item.get("event_type") or ""),
        occurred_at=str(item.get("occurred_at") or ""),
        request_id=str(item.get("request_id") or ""),
        headers=_headers_from(item),
    )


def archive_line(event: ArchivedEvent) -> dict[str, Any]:
    return {
        "v": LINE_VERSION,
        "provider": event.provider,
        "event_id": event.event_id,
        "transaction_id": event.transaction_id,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "request_id": event.request_id,
        "headers": dict(sorted(event.headers.items())),
        "sha256": event.sha256,
        "body_b64": base64.b64encode(event.raw).decode("ascii"),
    }


def event_from_line(line: Mapping[str, Any]) -> ArchivedEvent:
    raw = base64.b64decode(line["body_b64"])
    if hashlib.sha256(raw).hexdigest() != line["sha256"]:
        raise InvalidRecord(f"archived body of {line.get('event_id')} fails its sha256")
    return ArchivedEvent(
        provider=line["provider"],
        event_id=line["event_id"],
        transaction_id=line["transaction_id"],
        received_at=int(line["received_at"]),
        raw=raw,
        event_type=line.get("event_type", ""),
        occurred_at=line.get("occurred_at", ""),
        request_id=line.get("request_id", ""),
        headers=line.get("headers") or {},
    )


# --------------------------------------------------------------------------- objects

def hour_prefix(provider: str, received_at_ms: int) -> str:
    moment = datetime.fromtimestamp(received_at_ms / 1000, tz=timezone.utc)
    return f"{ARCHIVE_PREFIX}{provider}/{moment:%Y/%m/%d/%H}/"


@dataclass(frozen=True)
class ArchiveObject:
    key: str
    body: bytes = field(repr=False)
    metadata: Mapping[str, str]
    event_ids: tuple[str, ...]


def group_events(events: Iterable[ArchivedEvent]) -> dict[str, list[ArchivedEvent]]:
    """Group by object prefix (provider + reception hour); one object per group."""
    groups: dict[str, list[ArchivedEvent]] = {}
    for event in events:
        groups.setdefault(hour_prefix(event.provider, event.received_at), []).append(event)
    return groups


def build_object(events: Iterable[ArchivedEvent]) -> ArchiveObject:
    """One deterministic object for events of one group (same set -> same key, same bytes)."""
    unique: dict[str, ArchivedEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    ordered = sorted(unique.values(), key=lambda e: (e.received_at, e.event_id))
    if not ordered:
        raise ValueError("an archive object needs at least one event")
    prefixes = {hour_prefix(e.provider, e.received_at) for e in ordered}
    if len(prefixes) != 1:
        raise ValueError(f"events span several prefixes: {sorted(prefixes)}")
    text = "".join(
        json.dumps(archive_line(e), sort_keys=True, separators=(",", ":")) + "\n" for e in ordered
    ).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(text)
    body = buffer.getvalue()
    ids = tuple(e.event_id for e in ordered)
    digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()[:16]
    first, last = ordered[0].received_at, ordered[-1].received_at
    key = f"{prefixes.pop()}{first}-{last}-{digest}.jsonl.gz"
    metadata = {
        "format": f"paycore-archive-v{LINE_VERSION}",
        "provider": ordered[0].provider,
        "event-count": str(len(ordered)),
        "first-received-at": str(first),
        "last-received-at": str(last),
        "content-sha256": hashlib.sha256(text).hexdigest(),
    }
    if len(ordered) == 1:  # the per-event fields the brief asks for, when they fit
        only = ordered[0]
        metadata.update(
            {"event-id": only.event_id, "transaction-id": only.transaction_id, "sha256": only.sha256}
        )
    return ArchiveObject(key=key, body=body, metadata=metadata, event_ids=ids)


def read_object(body: bytes) -> Iterator[ArchivedEvent]:
    for raw_line in gzip.decompress(body).splitlines():
        if raw_line.strip():
            yield event_from_line(json.loads(raw_line))


def parse_key(key: str) -> dict[str, Any] | None:
    match = _KEY_RE.match(key)
    if not match:
        return None
    return {
        "provider": match["provider"],
        "first_received_at": int(match["first"]),
        "last_received_at": int(match["last"]),
    }


def hour_prefixes(provider: str, start_ms: int, end_ms: int) -> list[str]:
    """Every hour prefix that can hold events received in [start_ms, end_ms]."""
    if end_ms < start_ms:
        raise ValueError("end must not be before start")
    hour_ms = 3_600_000
    first = start_ms - start_ms % hour_ms
    return [hour_prefix(provider, t) for t in range(first, end_ms + 1, hour_ms)]


def listing_prefixes(provider: str, start_ms: int, end_ms: int) -> list[str]:
    """The fewest prefixes to LIST for [start_ms, end_ms]: hours for up to 3 days, else days
    (up to 62), else months (up to 36), else years. Keys are filtered by range afterwards."""
    if end_ms < start_ms:
        raise ValueError("end must not be before start")
    hours = (end_ms - start_ms) // 3_600_000 + 2
    if hours <= 72:
        return hour_prefixes(provider, start_ms, end_ms)
    start = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)
    end = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
    base = f"{ARCHIVE_PREFIX}{provider}/"
    if hours <= 62 * 24:
        days = (end.date() - start.date()).days
        return [f"{base}{(start + timedelta(days=i)):%Y/%m/%d}/" for i in range(days + 1)]
    months = (end.year - start.year) * 12 + end.month - start.month
    if months <= 36:
        out = []
        for i in range(months + 1):
            year, month = divmod(start.month - 1 + i, 12)
            out.append(f"{base}{start.year + year:04d}/{month + 1:02d}/")
        return out
    return [f"{base}{year:04d}/" for year in range(start.year, end.year + 1)]


def key_overlaps(key: str, start_ms: int, end_ms: int) -> bool:
    parsed = parse_key(key)
    return parsed is not None and parsed["first_received_at"] <= end_ms and parsed["last_received_at"] >= start_ms
