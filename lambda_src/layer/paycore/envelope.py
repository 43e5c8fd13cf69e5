"""The ingest envelope: the SQS message body that API Gateway (or the validator) puts on the FIFO queue.

One definition, :data:`FIELDS`, drives three things so they cannot drift apart:

* the API Gateway request mapping template (VTL) of the ``SendMessage`` AWS integration behind
  ``POST /webhooks/{provider}``, rendered from FIELDS by the infrastructure
  (``constructs/app/request_templates.py``; runtime code never needs it);
* :func:`build_envelope` / :meth:`Envelope.to_json` - the validator and the local runner;
* :func:`parse_envelope` - the processor.

Shape (lambda_src/README.md, "The ingest envelope")::

    {"v": 1, "provider": "stripe", "received_at": 1732240000123, "request_id": "...",
     "source_ip": "...", "headers": {"stripe-signature": "..."}, "body_b64": "..."}

Header names are lower-case; only the provider's signature headers are kept (an absent header is
rendered as ``""`` by the template and dropped by the parser). The body is base64 so its exact
bytes survive for signature verification and the archive.

Queue message ids (FIFO): ``MessageDeduplicationId`` = the API Gateway request id, never a body
field (the body is not verified yet: a forgery must not claim a genuine event id for SQS's
5-minute window); ``MessageGroupId`` = the payment object's id (``$.data.object.id`` for Stripe,
``$.resource.id`` for PayPal), else the request id. Idempotency is the ledger's conditional write.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, overload

from paycore import fastdecode
from paycore.model import Rejected

VERSION = 1

#: What the code assumes the ingest queue accepts per message (bytes of the message body).
#: 262,144 is the classic SQS limit and the aws provider's ``max_message_size`` default; AWS
#: raised the ceiling to 1 MiB (1,048,576) in 2025, which a queue gets only when configured so.
#: Assuming the smaller value is safe with either queue. See lambda_src/README.md.
DEFAULT_MAX_MESSAGE_BYTES = 262_144


@dataclass(frozen=True)
class EnvelopeField:
    """One envelope key: its JSON type and the VTL that renders its JSON value."""

    name: str
    kind: type
    vtl: str  # JSON value text in the template; "{provider}" / "{headers}" are filled per provider


#: The envelope, in order. The template renders exactly these keys; the parser requires them.
FIELDS: tuple[EnvelopeField, ...] = (
    EnvelopeField("v", int, str(VERSION)),
    EnvelopeField("provider", str, '"{provider}"'),
    EnvelopeField("received_at", int, "${context.requestTimeEpoch}"),
    EnvelopeField("request_id", str, '"${context.requestId}"'),
    EnvelopeField("source_ip", str, '"${context.identity.sourceIp}"'),
    EnvelopeField("headers", dict, "{headers}"),
    EnvelopeField("body_b64", str, '"${body_b64}"'),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
_FIELD_KINDS = tuple((f.name, f.kind) for f in FIELDS)


class _DecodedBody:
    """``envelope.raw``: ``body_b64`` decoded on first read, then kept in the instance's
    ``__dict__``, which later reads find before this (non-data) descriptor: verify, the body
    parse and the ledger read it without a call."""

    @overload
    def __get__(self, envelope: None, owner: type) -> _DecodedBody: ...
    @overload
    def __get__(self, envelope: Envelope, owner: type | None = None) -> bytes: ...

    def __get__(self, envelope: Envelope | None, owner: type | None = None) -> bytes | _DecodedBody:
        if envelope is None:  # Envelope.raw: the descriptor itself
            return self
        # base64.b64decode(validate=True) is a2b_base64(strict_mode=True) (a non-ASCII str is a
        # ValueError); fastdecode gives its bytes and errors at pybase64's speed.
        raw = fastdecode.b64decode_strict(envelope.body_b64)
        envelope.__dict__["raw"] = raw  # a frozen dataclass: not through __setattr__
        return raw


@dataclass(frozen=True)
class Envelope:
    provider: str
    received_at: int  # epoch ms, API Gateway $context.requestTimeEpoch
    request_id: str
    source_ip: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body_b64: str = ""
    v: int = VERSION

    #: The request body, byte for byte (not a field, unannotated: it is ``body_b64`` decoded).
    raw = _DecodedBody()

    def to_dict(self) -> dict[str, Any]:
        return {name: (dict(getattr(self, name)) if name == "headers" else getattr(self, name)) for name in FIELD_NAMES}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def build_envelope(
    *,
    provider: str,
    received_at: int,
    request_id: str,
    source_ip: str,
    headers: Mapping[str, str],
    raw: bytes,
) -> Envelope:
    """The envelope for a request body (validator, local runner, tests)."""
    return Envelope(
        provider=provider,
        received_at=int(received_at),
        request_id=request_id,
        source_ip=source_ip,
        headers={k.lower(): v for k, v in headers.items()},
        body_b64=base64.b64encode(raw).decode("ascii"),
    )


def parse_envelope(text: str | bytes) -> Envelope:
    """SQS message body -> :class:`Envelope`; anything off raises ``Rejected("malformed_envelope")``."""
    try:
        data = fastdecode.loads_few_values(text)  # json.loads' value and errors
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected("malformed_envelope") from exc
    if type(data) is not dict or data.get("v") != VERSION:
        raise Rejected("malformed_envelope")
    # JSON gives exact dict/list/str/int/float/bool/None: `type(x) is int` is isinstance without bool
    for name, kind in _FIELD_KINDS:
        if type(data.get(name)) is not kind:
            raise Rejected("malformed_envelope")
    headers = {}
    for key, value in data["headers"].items():  # JSON object keys are str
        if type(value) is not str:
            raise Rejected("malformed_envelope")
        if value != "":
            headers[key.lower()] = value
    # Envelope(...) without the frozen dataclass's seven object.__setattr__ calls (~1 us a message):
    # every field is set here (test_envelope_round_trips compares them all).
    envelope = object.__new__(Envelope)
    envelope.__dict__.update(
        provider=data["provider"],
        received_at=data["received_at"],
        request_id=data["request_id"],
        source_ip=data["source_ip"],
        headers=headers,
        body_b64=data["body_b64"],
        v=VERSION,
    )
    try:
        envelope.raw  # noqa: B018  (the one decode of this message; kept for verify, json.loads and the ledger)
    except (binascii.Error, ValueError) as exc:
        raise Rejected("malformed_envelope") from exc
    return envelope


def message_size(envelope: Envelope) -> int:
    """Bytes SQS counts for this message body (UTF-8 of the JSON)."""
    return len(envelope.to_json().encode("utf-8"))
