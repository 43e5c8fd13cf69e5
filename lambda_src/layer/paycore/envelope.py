"""The ingest envelope: the SQS message body that API Gateway (or the validator) puts on the FIFO queue.

One definition, :data:`FIELDS`, drives three things so they cannot drift apart:

* :func:`render_request_template` - the API Gateway request mapping template (VTL) of the
  ``SendMessage`` AWS integration behind ``POST /webhooks/{provider}``;
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
from typing import Any, Mapping

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


@dataclass(frozen=True)
class Envelope:
    provider: str
    received_at: int  # epoch ms, API Gateway $context.requestTimeEpoch
    request_id: str
    source_ip: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body_b64: str = ""
    v: int = VERSION

    @property
    def raw(self) -> bytes:
        """The request body, byte for byte: decoded once per envelope (verify, parse and the
        ledger all read it), then kept (not a field: it is ``body_b64`` decoded)."""
        cached = self.__dict__.get("_raw")
        if cached is None:
            cached = base64.b64decode(self.body_b64, validate=True)
            object.__setattr__(self, "_raw", cached)
        return cached

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
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected("malformed_envelope") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise Rejected("malformed_envelope")
    for f in FIELDS:
        value = data.get(f.name)
        if not isinstance(value, f.kind) or isinstance(value, bool):
            raise Rejected("malformed_envelope")
    headers = data["headers"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise Rejected("malformed_envelope")
    envelope = Envelope(
        provider=data["provider"],
        received_at=data["received_at"],
        request_id=data["request_id"],
        source_ip=data["source_ip"],
        headers={k.lower(): v for k, v in headers.items() if v != ""},
        body_b64=data["body_b64"],
    )
    try:
        envelope.raw  # the one decode of this message; kept for verify, json.loads and the ledger
    except (binascii.Error, ValueError) as exc:
        raise Rejected("malformed_envelope") from exc
    return envelope


def message_size(envelope: Envelope) -> int:
    """Bytes SQS counts for this message body (UTF-8 of the JSON)."""
    return len(envelope.to_json().encode("utf-8"))


# --------------------------------------------------------------------------- VTL


def render_request_template(provider: str) -> str:
    """API Gateway ``application/json`` request template for the SQS ``SendMessage`` integration.

    The output is one line (no stray whitespace can leak into the form values)::

        Action=SendMessage&MessageBody=<urlencoded envelope>&MessageGroupId=...&MessageDeduplicationId=...

    VTL facts used: identifiers start with a letter (``$envelopeP0``, never ``$_x``); text
    right after ``#end`` starts with ``#`` or ``$``; ``$util.escapeJavaScript`` on header values (a value containing ``'`` becomes
    ``\\'``, which is not valid JSON: such a message - never sent by Stripe or PayPal - is
    quarantined as ``malformed_envelope``); header names are matched case-insensitively by
    looping over ``$input.params().header``; literal JSON pieces sit in single-quoted VTL strings
    (no interpolation, no escaping); ``$input.path`` reads the ids for the FIFO message ids.
    """
    from paycore import providers

    spec = providers.get(provider)
    if not spec.event_id_path:
        raise ValueError(f"provider {provider!r} is not a webhook provider (no request template)")

    out: list[str] = ["#set($h = $input.params().header)"]
    header_json = []
    for i, name in enumerate(spec.signature_headers):
        out.append(f'#set($h{i} = "")')
        header_json.append(f'"{name}":"$util.escapeJavaScript($h{i})"')
    out.append("#foreach($k in $h.keySet())#set($lk = $k.toLowerCase())")
    for i, name in enumerate(spec.signature_headers):
        out.append(f'#if($lk == "{name}")#set($h{i} = $h.get($k))#end')
    out.append("#end")
    out.append("#set($body_b64 = $util.base64Encode($input.body))")

    # Literal JSON text goes into single-quoted VTL strings; dynamic parts are interpolated.
    pieces: list[str] = []
    for index, f in enumerate(FIELDS):
        value = f.vtl.replace("{provider}", spec.name).replace("{headers}", "{" + ",".join(header_json) + "}")
        pieces.append(("{" if index == 0 else ",") + f'"{f.name}":' + value)
    pieces.append("}")
    json_text = "".join(pieces)
    out.append(_vtl_concat("envelope", json_text))

    # The dedup id is never read from the (unverified) body: a forged copy carrying a genuine
    # event id would otherwise claim that id for SQS's 5-minute window and the genuine delivery
    # would be dropped. Idempotency is the ledger's conditional write.
    out.append("#set($dedup = $context.requestId)")
    out.append(f"#set($group = \"$!input.path('{spec.group_id_path}')\")")
    out.append('#if($group == "")#set($group = $dedup)#end')
    out.append(
        '#set($form = "Action=SendMessage'
        "&MessageBody=$util.urlEncode($envelope)"
        "&MessageGroupId=$util.urlEncode($group)"
        '&MessageDeduplicationId=$util.urlEncode($dedup)")'
    )
    # Output only at the very end, after a reference: "#end" directly followed by letters would
    # read as another directive name in Velocity.
    out.append("$form")
    return "".join(out)


def _vtl_concat(var: str, text: str) -> str:
    """``#set($var = ...)`` building ``text``: runs of literal characters become single-quoted
    VTL strings, VTL expressions (``$...``) stay live; joined by interpolation."""
    parts: list[str] = []  # VTL set statements
    names: list[str] = []
    i, n, literal = 0, len(text), []

    def flush_literal() -> None:
        if literal:
            name = f"{var}P{len(names)}"
            chunk = "".join(literal)
            assert "'" not in chunk, "literal JSON text must not contain a single quote"
            parts.append(f"#set(${name} = '{chunk}')")
            names.append("${" + name + "}")
            literal.clear()

    while i < n:
        if text[i] == "$":
            flush_literal()
            j = _end_of_reference(text, i)
            expr = text[i:j]
            name = f"{var}P{len(names)}"
            parts.append(f"#set(${name} = {_as_value(expr)})")
            names.append("${" + name + "}")
            i = j
        else:
            literal.append(text[i])
            i += 1
    flush_literal()
    parts.append(f'#set(${var} = "{"".join(names)}")')
    return "".join(parts)


def _as_value(expr: str) -> str:
    """A VTL reference as the right-hand side of #set: formal ``${a.b}`` -> ``$a.b``."""
    if expr.startswith("${") and expr.endswith("}"):
        return "$" + expr[2:-1]
    return expr


def _end_of_reference(text: str, start: int) -> int:
    """End index of the VTL reference starting at ``text[start] == "$"`` (formal ``${...}`` or
    ``$name.name(...)`` with balanced parentheses)."""
    if text.startswith("${", start):
        return text.index("}", start) + 1
    i, depth = start + 1, 0
    while i < len(text):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0 and not (c.isalnum() or c in "._"):
            return i
        i += 1
    return i
