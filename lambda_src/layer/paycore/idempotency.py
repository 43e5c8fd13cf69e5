"""Direct payments' Idempotency-Key, decided while the caller waits (``POST /payments``).

The key fixes the transaction id (``pay_`` + SHA-256 of the key), so a key stays bound to the first
request that used it: the same key with the same body is the same payment (the first answer
again: 202 and the same transaction id), the same key with another body is refused (422
``idempotency_key_reused``, as Stripe does), never accepted and then dropped as a duplicate.

The validator answers before the processor records anything, so it looks in two places, each with
the SHA-256 of the request's canonical body (the bytes the envelope carries and the ledger keeps,
``paycore.providers.direct.canonical_body``):

1. the ledger: a recorded request's event row holds ``raw_sha256`` (every age);
2. the request table (``payment-idempotency-{env}``): a row per key, ``transaction_id`` +
   ``marker = "REQUEST"`` -> ``body_sha256``, put with ``attribute_not_exists`` before the
   envelope is enqueued, kept :data:`REQUEST_TTL_SECONDS` (longer than the ingest queue keeps a
   message, 14 days, so a request still queued or dead-lettered always has its row; once the
   processor recorded it, the ledger answers). Two requests racing with one key: the conditional
   put lets one through.
"""
from __future__ import annotations

import time
from typing import Any

from paycore.ledger import Ledger, deserialize, serialize

REQUEST_MARKER = "REQUEST"
REQUEST_TTL_SECONDS = 15 * 24 * 3600
NEW, PENDING, RECORDED, REUSED = "new", "pending", "recorded", "reused"


class DirectRequests:
    """``claim(transaction_id, body_sha256) -> NEW | PENDING | RECORDED | REUSED``:

    * NEW - first use of the key: enqueue;
    * PENDING - the same request was accepted before and is not recorded yet: enqueue again
      (the queue's deduplication or the ledger make it harmless; it recovers a lost send);
    * RECORDED - the same request is in the ledger: answer as the first time, enqueue nothing;
    * REUSED - the key was used with another body: 422."""

    def __init__(self, client: Any, *, ledger_table: str, requests_table: str,
                 ttl_seconds: int = REQUEST_TTL_SECONDS):
        self.client = client
        self.ledger = Ledger(client, ledger_table)
        self.requests_table = requests_table
        self.ttl_seconds = ttl_seconds

    def claim(self, transaction_id: str, body_sha256: str, *, request_id: str = "", now: float | None = None) -> str:
        recorded = self.ledger.event_body_hashes(transaction_id)
        if recorded:
            return RECORDED if body_sha256 in recorded else REUSED
        now = time.time() if now is None else now
        item = {"transaction_id": transaction_id, "marker": REQUEST_MARKER, "body_sha256": body_sha256,
                "request_id": request_id or None, "created_at": int(now), "expires_at": int(now) + self.ttl_seconds}
        try:
            self.client.put_item(TableName=self.requests_table, Item=serialize(item),
                                 ConditionExpression="attribute_not_exists(transaction_id)",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return NEW
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            first = deserialize(exc.response.get("Item") or {}).get("body_sha256")
            return PENDING if first == body_sha256 else REUSED
