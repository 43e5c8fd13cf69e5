"""Opaque pagination cursors: base64url(HMAC-SHA256 tag || canonical JSON of LastEvaluatedKey).

The tag covers a *context* string (the index, the key value and the time bounds of the query), so
a cursor is valid only for the query that produced it: tampering with the key, or replaying a
cursor against another vendor's listing, is rejected with :class:`InvalidCursor` (HTTP 400).

Key: env ``CURSOR_SECRET`` (set it in every shared environment, e.g. from Secrets Manager).
Without it the key is derived from the table name - caveat: anyone who knows the table name can
then mint cursors; they still only choose a start key inside a query they were already
authorized (IAM) to run, and the decoded key is shape-checked, so this degrades to "skip ahead in
my own listing", never to reading other rows. Local/dev convenience, not a secret.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any, Mapping

_TAG_BYTES = 32
MAX_CURSOR_CHARS = 2048


class InvalidCursor(ValueError):
    """The cursor is malformed, forged or belongs to another query."""


def cursor_secret(table_name: str | None = None) -> bytes:
    explicit = os.environ.get("CURSOR_SECRET")
    if explicit:
        return explicit.encode("utf-8")
    table = table_name or os.environ.get("TABLE_NAME", "")
    return hashlib.sha256(f"paycore-cursor-v1:{table}".encode("utf-8")).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tag(secret: bytes, context: str, payload: bytes) -> bytes:
    return hmac.new(secret, context.encode("utf-8") + b"\x00" + payload, hashlib.sha256).digest()


def encode_cursor(last_key: Mapping[str, Any], *, secret: bytes, context: str) -> str:
    payload = json.dumps(dict(last_key), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return _b64url(_tag(secret, context, payload) + payload)


def decode_cursor(token: str, *, secret: bytes, context: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not base64url") from exc
    tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, _tag(secret, context, payload)):
        raise InvalidCursor("cursor signature does not match")
    try:
        key = json.loads(payload)
    except ValueError as exc:  # only reachable with the right key: a bug, still a 400
        raise InvalidCursor("cursor payload is not JSON") from exc
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidCursor("cursor payload has the wrong shape")
    return key
