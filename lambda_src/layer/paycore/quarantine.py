"""Quarantine for rejected messages: S3, in the archive bucket, never in a log.

Layout: ``s3://{ARCHIVE_BUCKET}/quarantine/{provider}/{yyyy}/{mm}/{dd}/{request_id}.json``
(date = UTC day of ``received_at``). One JSON document per rejected message::

    {"v": 1, "reason": "signature_mismatch", "provider": "stripe", "request_id": "...",
     "received_at": 1732240000123, "quarantined_at": 1732240000456,
     "sqs_message_id": "...", "message_body": "<the SQS message body, unchanged>"}

A batch request (several events, each with its own signature) whose items fail their own
check is quarantined once, whole, with ``"items": [{"index": 2, "reason": "signature_mismatch"},
...]`` naming them (``reason`` is the first one's); its good items are in the ledger, so a replay
records only what was missing.

``message_body`` is the envelope text exactly as it arrived (raw body still base64 inside), so an
operator can inspect it or re-enqueue it after fixing the cause (a rotated secret, say). When the
envelope itself is unreadable, ``provider`` is ``unknown`` and ``request_id`` the SQS message id.
Path segments are restricted to ``[A-Za-z0-9_.-]`` (anything else is replaced by its SHA-256), so
a hostile request id cannot escape the prefix. The same key for the same message: a redelivered
rejection overwrites the same object. Encryption is the bucket default (KMS key, bucket key); the
upload carries its SHA-256 (:func:`paycore.archive.put_checksum`: prod's Object Lock requires one).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

PREFIX = "quarantine/"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _segment(value: str) -> str:
    if _SEGMENT.match(value or "") and value not in (".", ".."):
        return value
    return hashlib.sha256((value or "").encode("utf-8", "replace")).hexdigest()


def quarantine_key(provider: str, received_at_ms: int, request_id: str) -> str:
    day = datetime.fromtimestamp(received_at_ms / 1000, tz=timezone.utc)
    return f"{PREFIX}{_segment(provider)}/{day:%Y/%m/%d}/{_segment(request_id)}.json"


def quarantine_document(
    *,
    reason: str,
    provider: str,
    request_id: str,
    received_at: int,
    sqs_message_id: str,
    message_body: str,
    now_ms: int | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    document = {
        "v": 1,
        "reason": reason,
        "provider": provider,
        "request_id": request_id,
        "received_at": received_at,
        "quarantined_at": int(time.time() * 1000) if now_ms is None else now_ms,
        "sqs_message_id": sqs_message_id,
        "message_body": message_body,
    }
    if items:
        document["items"] = [dict(item) for item in items]
    return document


class Quarantine:
    """Puts rejected messages in ``bucket``, with ``s3_client``, or with the client ``new_client()``
    makes at the first put (the processor's: a rejection is rare, and an S3 client is ~40 ms of
    its cold start, more than the rest of the processor's own start-up)."""

    def __init__(self, s3_client: Any = None, bucket: str = "", *, new_client: Callable[[], Any] | None = None):
        if (s3_client is None) == (new_client is None):
            raise ValueError("Quarantine takes one of s3_client and new_client")
        self._s3 = s3_client
        self._new_client = new_client
        self._lock = threading.Lock()  # the processor's group threads may reject at once
        self.bucket = bucket

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            with self._lock:  # one client: boto3's default session is not safe to create clients from at once
                if self._s3 is None:
                    assert self._new_client is not None  # __init__ takes one of the two
                    self._s3 = self._new_client()
        return self._s3

    def put(
        self,
        *,
        reason: str,
        provider: str,
        request_id: str,
        received_at: int,
        sqs_message_id: str,
        message_body: str,
        items: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        """Store one rejected message (``items``: its rejected items, a batch); returns its key."""
        key = quarantine_key(provider, received_at, request_id)
        document = quarantine_document(
            reason=reason,
            provider=provider,
            request_id=request_id,
            received_at=received_at,
            sqs_message_id=sqs_message_id,
            message_body=message_body,
            items=items,
        )
        from paycore.archive import put_checksum  # here: a rejection is rare, the archive module ~2 ms of cold start

        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
                           **put_checksum(body))
        return key
