"""Opaque pagination cursors: base64url(HMAC-SHA256 tag || canonical JSON of LastEvaluatedKey).

The tag covers a *context* string (the index, the key value and the time bounds of the query), so
a cursor is valid only for the query that produced it: tampering with the key, or replaying a
cursor against another vendor's listing, is rejected with :class:`InvalidCursor` (HTTP 400).

Key: the Secrets Manager secret ``{SECRET_PREFIX}query/cursor-key``, JSON ``{"current": "...",
"previous": "..."}`` (set by ``python -m scripts.ops.set_secrets --generate-cursor-key``), read through the
platform's secrets cache (:class:`paycore.secrets.SecretStore`, 300 s). New cursors are signed with
``current``; ``current`` and ``previous`` are accepted, so a rotation does not break paging. There
is no fallback: without a usable key (no ``SECRET_PREFIX``, secret missing, unreadable, not JSON,
``current`` shorter than :data:`MIN_KEY_CHARS`) :class:`CursorKeyUnavailable` fails the listing
closed - a first page must sign its ``next_cursor`` too.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

_TAG_BYTES = 32
MAX_CURSOR_CHARS = 2048
CURSOR_KEY_SECRET = "query/cursor-key"  # after SECRET_PREFIX
MIN_KEY_CHARS = 32


class InvalidCursor(ValueError):
    """The cursor is malformed, forged or belongs to another query."""


class CursorKeyUnavailable(RuntimeError):
    """No usable cursor key: listings fail closed (HTTP 500). The text names the cause, never a value."""


@dataclass(frozen=True)
class CursorKeys:
    signing: bytes
    accepted: tuple[bytes, ...]


def cursor_keys_from(value: Mapping[str, Any]) -> CursorKeys:
    """``{"current": ..., "previous": ...}`` -> keys; ``CursorKeyUnavailable`` unless ``current``
    has at least :data:`MIN_KEY_CHARS` characters (a short ``previous`` is ignored)."""
    current = value.get("current")
    if not isinstance(current, str) or len(current.strip()) < MIN_KEY_CHARS:
        raise CursorKeyUnavailable(f"cursor key secret has no current key of >= {MIN_KEY_CHARS} characters")
    previous = value.get("previous")
    accepted = [current.encode("utf-8")]
    if isinstance(previous, str) and len(previous.strip()) >= MIN_KEY_CHARS:
        accepted.append(previous.encode("utf-8"))
    return CursorKeys(signing=accepted[0], accepted=tuple(accepted))


def load_cursor_keys(store: Any) -> CursorKeys:
    """The keys from ``{store.prefix}query/cursor-key`` (a :class:`paycore.secrets.SecretStore`)."""
    if not store.prefix:
        raise CursorKeyUnavailable("SECRET_PREFIX is not set: the cursor key secret cannot be named")
    try:
        value = store.get_json(f"{store.prefix}{CURSOR_KEY_SECRET}")
    except Exception as exc:  # noqa: BLE001 - missing, access denied, KMS, not JSON: all fail closed
        raise CursorKeyUnavailable(f"cursor key secret unreadable ({type(exc).__name__})") from exc
    return cursor_keys_from(value)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tag(secret: bytes, context: str, payload: bytes) -> bytes:
    return hmac.new(secret, context.encode("utf-8") + b"\x00" + payload, hashlib.sha256).digest()


def encode_cursor(last_key: Mapping[str, Any], *, secret: bytes, context: str) -> str:
    payload = json.dumps(dict(last_key), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _b64url(_tag(secret, context, payload) + payload)


def decode_cursor(token: str, *, secret: bytes | Sequence[bytes], context: str) -> dict[str, Any]:
    """The start key a cursor carries, if one of ``secret`` (a key, or the accepted keys) signed
    it for ``context``; ``InvalidCursor`` otherwise."""
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not base64url") from exc
    tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    if len(tag) != _TAG_BYTES or not any(hmac.compare_digest(tag, _tag(k, context, payload)) for k in secrets):
        raise InvalidCursor("cursor signature does not match")
    try:
        key = json.loads(payload)
    except ValueError as exc:  # only reachable with the right key: a bug, still a 400
        raise InvalidCursor("cursor payload is not JSON") from exc
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidCursor("cursor payload has the wrong shape")
    return key
