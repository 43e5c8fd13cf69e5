"""Internal envelopes: what the platform itself puts on the ingest queue carries no provider
signature (a direct payment from the validator; later an event a reconciler fetched from a
provider's API), so it carries ours.

The signature is an HMAC-SHA256 with the internal key over the whole envelope and its **kind**:
the kind is part of the signed message, so an envelope signed as one kind never verifies as
another (a direct payment's signature is no good as a ``fetched`` event, and the reverse). It
travels in the envelope header :data:`HEADER`, ``v1=<hex>``, and covers every other field: ``v``,
``provider``, ``received_at``, ``request_id``, ``source_ip``, every other header (the direct
payment's idempotency key) and the SHA-256 of the body. Whoever changes one of them, or writes an
envelope of their own, cannot sign it without the key.

The key lives in Secrets Manager, ``{SECRET_PREFIX}internal/envelope-key`` (:data:`KEY_SECRET`),
JSON ``{"current": "...", "previous": "..."}``, each at least :data:`MIN_KEY_CHARS` characters:
signers use ``current``, verifiers accept ``current`` or ``previous`` (rotation without a gap).
A key secret with no usable value is our misconfiguration (:class:`MisconfiguredSecret`: retried,
alarmed), never a rejection. A missing or wrong signature is ``Rejected("internal_signature_mismatch")``.

Pure functions, no AWS: the validator signs (:func:`sign`), the processor and the replay tools
verify (:func:`verify`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from paycore.envelope import Envelope
from paycore.model import MisconfiguredSecret, Rejected

#: The secret's name after ``SECRET_PREFIX``.
KEY_SECRET = "internal/envelope-key"
#: The envelope header that carries the signature (lower case, as every envelope header).
HEADER = "internal-signature"
#: The kinds of internal envelope: ``direct`` (the validator's payments), ``fetched`` (events a
#: reconciler read from a provider's events API).
KINDS = ("direct", "fetched")
MIN_KEY_CHARS = 32
SCHEME = "v1"
REASON = "internal_signature_mismatch"


def usable_keys(secret: Mapping[str, Any] | None) -> list[str]:
    """The key's usable values, current first: strings of at least :data:`MIN_KEY_CHARS` characters."""
    if not secret:
        return []
    return [v for v in (secret.get("current"), secret.get("previous")) if isinstance(v, str) and len(v) >= MIN_KEY_CHARS]


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"internal envelope kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def message(envelope: Envelope, kind: str) -> bytes:
    """The signed text: the kind and every envelope field but the signature itself, as one JSON
    array (unambiguous: no field can run into the next)."""
    headers = sorted((name, value) for name, value in envelope.headers.items() if name != HEADER)
    fields = [SCHEME, _kind(kind), envelope.v, envelope.provider, envelope.received_at, envelope.request_id,
              envelope.source_ip, headers, hashlib.sha256(envelope.raw).hexdigest()]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def signature(envelope: Envelope, kind: str, key: str) -> str:
    """The header value: ``v1=`` and the hex HMAC-SHA256 of :func:`message` with ``key``."""
    return f"{SCHEME}=" + hmac.new(key.encode("utf-8"), message(envelope, kind), hashlib.sha256).hexdigest()


def sign(envelope: Envelope, kind: str, secret: Mapping[str, Any] | None) -> Envelope:
    """``envelope`` with :data:`HEADER` set, signed with the key's current value;
    :class:`MisconfiguredSecret` when the key has no usable value."""
    keys = usable_keys(secret)
    if not keys or keys[0] != (secret or {}).get("current"):
        raise MisconfiguredSecret(f"the internal envelope key has no usable current value (>= {MIN_KEY_CHARS} characters)")
    headers = {name: value for name, value in envelope.headers.items() if name != HEADER}
    unsigned = dataclasses.replace(envelope, headers=headers)
    return dataclasses.replace(envelope, headers={**headers, HEADER: signature(unsigned, kind, keys[0])})


def verify(envelope: Envelope, kind: str, secret: Mapping[str, Any] | None) -> None:
    """Raise ``Rejected("internal_signature_mismatch")`` unless the envelope carries a signature of
    ``kind`` by the current or the previous key; :class:`MisconfiguredSecret` when neither is usable."""
    keys = usable_keys(secret)
    if not keys:
        raise MisconfiguredSecret(f"the internal envelope key has no usable value (>= {MIN_KEY_CHARS} characters)")
    given = envelope.headers.get(HEADER, "")
    if not given.startswith(f"{SCHEME}="):
        raise Rejected(REASON)
    expected = message(envelope, kind)
    for key in keys:
        mac = f"{SCHEME}=" + hmac.new(key.encode("utf-8"), expected, hashlib.sha256).hexdigest()
        if hmac.compare_digest(mac.encode("ascii"), given.encode("ascii", "replace")):
            return
    raise Rejected(REASON)
