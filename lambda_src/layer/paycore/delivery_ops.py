"""Operations on vendor delivery (used by ``python -m scripts.ops deliveries``): list, resend, recover,
pause/resume/disable/enable, release, signing secrets. Every mutating call takes ``dry_run``, checks
what the real call checks and returns counts (``would_...``: what the real call would do); listings
never include a payload or a secret.

* resend one message: the same ``webhook-id`` and body, a fresh retry schedule, a new SQS
  deduplication id (``{id}.r{n}``) so the 5-minute FIFO window does not swallow it;
* recover since T: every ``exhausted``/``failed`` message of an endpoint created at or after T,
  oldest first, into its (endpoint, payment) group - so the order per payment holds;
* release: the endpoint's parked messages (taken out of the queue before its retention ran out),
  all of them, oldest first, merged with what a recover re-sends; ``resume`` and ``enable`` release
  too. Meanwhile the sender puts a new message of the endpoint behind them (``releasing``);
* signing secrets ``{prefix}vendors/{endpoint_id}/signing`` = ``{"current", "previous",
  "previous_expires_at"}``; a rotation keeps the old value for a grace period during which the
  sender signs with both.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from paycore import delivery
from paycore.delivery_store import (
    ACTIVE, BY_ENDPOINT, BY_TRANSACTION, DELIVERED, DISABLED, EXHAUSTED, FAILED, PARKED, PAUSED, PENDING, DeliveryStore,
)

SUMMARY_FIELDS = ("message_id", "endpoint_id", "vendor_id", "transaction_id", "event_type", "state",
                  "failure_reason", "total_attempts", "last_status_code", "last_outcome", "created_at",
                  "delivered_at", "next_attempt_at")
ACTIONS = {  # action -> (allowed current states, new state)
    "pause": ({ACTIVE}, PAUSED),
    "resume": ({PAUSED}, ACTIVE),
    "disable": ({ACTIVE, PAUSED}, DISABLED),
    "enable": ({DISABLED}, ACTIVE),
}
RELEASING_ACTIONS = ("resume", "enable")
RECOVERABLE = (EXHAUSTED, FAILED)
PROGRESS_EVERY = 1000
DEFAULT_GRACE_SECONDS = 24 * 3600


class OpsError(ValueError):
    pass


def normalize_since(text: str) -> str:
    """An ISO-8601 time (``2026-11-28``, ``...T10:00Z``, ``...+02:00``) as the rows write it
    (``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTC), so it compares with ``created_at`` as text."""
    from datetime import datetime, timezone

    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise OpsError(f"--since {text!r} is not an ISO-8601 date or time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return delivery.iso(parsed.timestamp())


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in SUMMARY_FIELDS if k in row}


@dataclass
class DeliveryOps:
    store: DeliveryStore
    sqs: Any
    queue_url: str
    endpoints: Mapping[str, delivery.Endpoint]
    secrets: Any = None
    secret_prefix: str = ""
    kms_key_id: str | None = None
    clock: Callable[[], float] = field(default=lambda: delivery.clock())
    #: told how far a long re-send is (every PROGRESS_EVERY messages)
    progress: Callable[[str], None] | None = None

    # ------------------------------------------------------------------ listings

    def list_transaction(self, transaction_id: str) -> list[dict[str, Any]]:
        return [summary(r) for r in self.store.get_messages(self.store.query_index(BY_TRANSACTION, transaction_id))]

    def list_endpoint(self, endpoint_id: str, since: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        ids = self.store.query_index(BY_ENDPOINT, endpoint_id, normalize_since(since) if since else "", limit)
        return [summary(r) for r in self.store.get_messages(ids)]

    def list_vendor(self, vendor_id: str, since: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for endpoint in delivery.endpoints_of_vendor(self.endpoints, vendor_id):
            rows.extend(self.list_endpoint(endpoint.id, since, limit))
        return sorted(rows, key=lambda r: (r.get("created_at", ""), r["message_id"]))[:limit]

    def attempts(self, message_id: str) -> list[dict[str, Any]]:
        keep = ("attempted_at", "status_code", "latency_ms", "outcome")
        return [{k: a[k] for k in keep if k in a} for a in self.store.get_attempts(message_id)]

    # ------------------------------------------------------------------ resend / recover

    @staticmethod
    def _body(row: Mapping[str, Any], **extra: Any) -> str:
        body = {k: row[k] for k in ("message_id", "endpoint_id", "vendor_id", "transaction_id", "event_type",
                                     "status", "created_at", "payload") if k in row}
        # sent by ops in the order they chose: not put behind the endpoint's parked messages again
        return json.dumps({"v": 1, **body, "after_park": True, **extra}, separators=(",", ":"))

    def _enqueue(self, row: Mapping[str, Any], now: float) -> None:
        resends = int(row.get("resend_count", 0)) + 1
        if not self.store.update_message(
            row["message_id"],
            {"state": PENDING, "cycle_attempts": 0, "resend_count": resends, "updated_at": delivery.iso(now)},
            remove=["failure_reason", "next_attempt_at", "next_attempt_ts"], expected_state=row["state"],
        ):
            raise OpsError(f"message {row['message_id']} changed while being resent; run again")
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=self._body(row),
            MessageGroupId=delivery.group_id(row["endpoint_id"], row["transaction_id"]),
            MessageDeduplicationId=f"{row['message_id']}.r{resends}",
        )

    def _release_one(self, row: Mapping[str, Any], item: Mapping[str, Any]) -> None:
        """A parked message back to the queue; the sender un-parks it when it arrives (the same send
        again within SQS's 5-minute window is dropped as a duplicate)."""
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=self._body(row, park_key=item["sk"]),
            MessageGroupId=delivery.group_id(row["endpoint_id"], row["transaction_id"]),
            MessageDeduplicationId=f"{row['message_id']}.p{item['parked_at']}",
        )

    def _parked(self, endpoint_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(message row, parked item) of the endpoint's parked messages, in the order to re-send."""
        items = self.store.parked_items(endpoint_id)
        rows = {r["message_id"]: r for r in self.store.get_messages(i["message_id"] for i in items)}
        return [(rows[i["message_id"]], i) for i in items if rows.get(i["message_id"], {}).get("state") == PARKED]

    def _held_back(self, endpoint_id: str, state: str) -> str | None:
        """Why the sender would keep the endpoint's parked messages parked (None: it can deliver)."""
        endpoint = self.endpoints[endpoint_id]
        if endpoint.paused:
            return "the endpoint is paused in its configuration (delivery.vendors): unpause it there and deploy"
        if state == PAUSED:
            return "the endpoint is paused: `resume` releases them"
        if state == DISABLED:
            return "the endpoint is disabled: `enable` releases them"
        return None

    def _sent(self, count: int, total: int) -> None:
        if self.progress is not None and (count % PROGRESS_EVERY == 0 or count == total):
            self.progress(f"sent {count} of {total}")

    def resend(self, message_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        row = self.store.get_message(message_id)
        if row is None:
            return {"matched": 0, "resent": 0, "dry_run": dry_run}
        if row["state"] in (PENDING, PARKED):  # parked: `release` sends it, in order
            return {"matched": 1, "resent": 0, f"skipped_{row['state']}": 1, "dry_run": dry_run}
        if not dry_run:
            self._enqueue(row, self.clock())
        return {"matched": 1, "resent": 0 if dry_run else 1, "dry_run": dry_run}

    def release(self, endpoint_id: str, *, dry_run: bool = False, state: str | None = None) -> dict[str, Any]:
        """Re-send every parked message of the endpoint, oldest first (only while it can deliver;
        ``state``: the admin state to judge that by, default the stored one)."""
        if endpoint_id not in self.endpoints:
            raise OpsError(f"unknown endpoint {endpoint_id!r}")
        state = state or self.store.get_endpoint_state(endpoint_id).get("admin_state", ACTIVE)
        parked = self._parked(endpoint_id)
        counts: dict[str, Any] = {"endpoint_id": endpoint_id, "parked": len(parked), "released": 0,
                                  "dry_run": dry_run, "endpoint_state": state}
        held_back = self._held_back(endpoint_id, state) if parked else None
        if held_back:
            counts["not_released"] = held_back
            parked = []
        if dry_run:
            return {**counts, "would_release": len(parked)}
        if parked:
            self.store.start_releasing(endpoint_id, delivery.iso(self.clock()))
            for count, (row, item) in enumerate(parked, 1):
                self._release_one(row, item)
                self._sent(count, len(parked))
            counts["released"] = len(parked)
        return counts

    def recover(self, endpoint_id: str, since: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Resend every exhausted/failed message of ``endpoint_id`` created at or after ``since``, and
        release its parked messages (all of them: an earlier parked status of a payment must not stay
        behind a later one), merged oldest first."""
        since = normalize_since(since)
        if endpoint_id not in self.endpoints:
            raise OpsError(f"unknown endpoint {endpoint_id!r}")
        state = self.store.get_endpoint_state(endpoint_id).get("admin_state", ACTIVE)
        rows = self.store.get_messages(self.store.query_index(BY_ENDPOINT, endpoint_id, since))
        parked = self._parked(endpoint_id)
        counts: dict[str, Any] = {"endpoint_id": endpoint_id, "since": since, "scanned": len(rows), "matched": 0,
                                  "resent": 0, "delivered": 0, "pending": 0, "parked": len(parked), "released": 0,
                                  "dry_run": dry_run, "endpoint_state": state}
        held_back = self._held_back(endpoint_id, state) if parked else None
        if held_back:  # the sender would keep them parked: resume or enable releases them
            counts["not_released"] = held_back
            parked = []
        work: list[tuple[dict[str, Any], dict[str, Any] | None]] = list(parked)
        for row in rows:
            if row["state"] in RECOVERABLE:
                counts["matched"] += 1
                work.append((row, None))
            elif row["state"] == DELIVERED:
                counts["delivered"] += 1
            elif row["state"] == PENDING:
                counts["pending"] += 1
        work.sort(key=lambda pair: (*delivery.order_key(pair[0]), pair[0]["message_id"]))
        if dry_run:
            return {**counts, "would_resend": counts["matched"], "would_release": len(parked)}
        if parked:
            self.store.start_releasing(endpoint_id, delivery.iso(self.clock()))
        for count, (row, item) in enumerate(work, 1):
            if item is None:
                self._enqueue(row, self.clock())
                counts["resent"] += 1
            else:
                self._release_one(row, item)
                counts["released"] += 1
            self._sent(count, len(work))
        return counts

    # ------------------------------------------------------------------ endpoint state

    def set_state(self, endpoint_id: str, action: str, *, dry_run: bool = False, reason: str = "ops") -> dict[str, Any]:
        if action not in ACTIONS:
            raise OpsError(f"action must be one of {sorted(ACTIONS)}")
        if endpoint_id not in self.endpoints:
            raise OpsError(f"unknown endpoint {endpoint_id!r}")
        current = self.store.get_endpoint_state(endpoint_id).get("admin_state", ACTIVE)
        allowed, target = ACTIONS[action]
        result = {"endpoint_id": endpoint_id, "from": current, "to": target, "changed": 0, "dry_run": dry_run}
        if current not in allowed:
            result["to"] = current
            return result
        if not dry_run:
            changed = self.store.set_admin_state(endpoint_id, target, reason=reason, now=delivery.iso(self.clock()),
                                                 only_from=[current])
            result["changed"] = int(changed)
        if action in RELEASING_ACTIONS and (result["changed"] or dry_run):
            # what was parked meanwhile goes out again, oldest first (a dry run judges by the new state)
            released = self.release(endpoint_id, dry_run=dry_run, state=target if dry_run else None)
            result.update({k: v for k, v in released.items() if k in ("parked", "released", "would_release",
                                                                          "not_released")})
        return result

    # ------------------------------------------------------------------ signing secrets

    def _secret_name(self, endpoint_id: str) -> str:
        if endpoint_id not in self.endpoints:
            raise OpsError(f"unknown endpoint {endpoint_id!r}")
        return delivery.secret_name(self.secret_prefix, endpoint_id)

    def create_secret(self, endpoint_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        """A new secret for an endpoint that has none; returns it once (``secret``) to hand to the vendor."""
        name = self._secret_name(endpoint_id)
        container = True  # the stack may have created the secret without a value
        try:
            self.secrets.get_secret_value(SecretId=name)
            return {"secret_name": name, "created": 0, "exists": 1, "dry_run": dry_run}
        except self.secrets.exceptions.ResourceNotFoundException:
            try:
                self.secrets.describe_secret(SecretId=name)
            except self.secrets.exceptions.ResourceNotFoundException:
                container = False
        if dry_run:
            return {"secret_name": name, "created": 0, "exists": 0, "dry_run": True}
        value = delivery.generate_secret()
        secret_string = json.dumps({"current": value})
        if container:
            self.secrets.put_secret_value(SecretId=name, SecretString=secret_string)
        else:
            kwargs: dict[str, Any] = {"Name": name, "SecretString": secret_string}
            if self.kms_key_id:
                kwargs["KmsKeyId"] = self.kms_key_id
            self.secrets.create_secret(**kwargs)
        return {"secret_name": name, "created": 1, "exists": 0, "dry_run": False, "secret": value}

    def rotate_secret(self, endpoint_id: str, *, grace_seconds: int = DEFAULT_GRACE_SECONDS,
                      dry_run: bool = False) -> dict[str, Any]:
        """New current secret; the old one stays valid (both signatures sent) for ``grace_seconds``."""
        name = self._secret_name(endpoint_id)
        try:
            old = json.loads(self.secrets.get_secret_value(SecretId=name)["SecretString"])
        except self.secrets.exceptions.ResourceNotFoundException:
            raise OpsError(f"{name} has no value to rotate: `secret create` makes the first one") from None
        except ValueError:
            old = None
        if not isinstance(old, dict) or not isinstance(old.get("current"), str):
            raise OpsError(f"{name} does not hold a signing secret (JSON with \"current\"): fix or recreate it")
        now = self.clock()
        expires = int(now) + int(grace_seconds)
        result = {"secret_name": name, "rotated": 0, "previous_expires_at": delivery.iso(expires), "dry_run": dry_run}
        if dry_run:
            return result
        value = delivery.generate_secret()
        self.secrets.put_secret_value(SecretId=name, SecretString=json.dumps(
            {"current": value, "previous": old["current"], "previous_expires_at": expires}))
        return {**result, "rotated": 1, "secret": value}
