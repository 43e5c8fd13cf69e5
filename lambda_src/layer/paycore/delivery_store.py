"""The delivery table (``deliveries-{env}``; pk ``pk`` S, sk ``sk`` S, TTL ``expires_at``).

Rows (lambda_src/README.md, "Vendor delivery"):

* message ``pk = MSG#{webhook_id}``, ``sk = MSG``: endpoint, vendor, transaction, event type,
  ``payload`` (the exact JSON body, so a retry or resend sends the same bytes), ``state``
  (pending | delivered | exhausted | failed), ``failure_reason``, ``cycle_attempts`` (attempts in
  the current retry cycle), ``total_attempts``, ``last_status_code``, ``next_attempt_at``; sparse
  GSI keys ``endpoint_key``/``txn_key`` + ``sort_key = {created_at}#{webhook_id}`` for the GSIs
  ``by-endpoint`` and ``by-transaction`` (KEYS_ONLY: updates do not write the indexes).
* attempt ``pk = MSG#{webhook_id}``, ``sk = ATT#{n:04d}``: attempted_at, status_code, latency_ms,
  outcome. Never the body, headers or secret.
* endpoint state ``pk = EP#{endpoint_id}``, ``sk = STATE`` (no TTL): ``admin_state`` (active |
  paused | disabled), ``reason``, ``changed_at``, ``failing_since``, ``last_success_at``.
* rate window ``pk = EP#{endpoint_id}``, ``sk = RATE#{window_start}``: counter ``n`` (TTL).
* parked ``pk = PARK#{endpoint_id}``, ``sk = {created_at}#{status rank:02d}#{webhook_id}`` (no
  TTL): a message taken out of the queue before its retention ran out, in the order to re-send;
  its message row is ``parked`` (no TTL either) and the endpoint state counts them (``parked``)
  and says what the sender does meanwhile (``park_mode``: parking | releasing).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from paycore.ledger import deserialize, serialize

BY_ENDPOINT, BY_TRANSACTION = "by-endpoint", "by-transaction"
ACTIVE, PAUSED, DISABLED = "active", "paused", "disabled"
PENDING, DELIVERED, EXHAUSTED, FAILED, PARKED = "pending", "delivered", "exhausted", "failed", "parked"
#: park_mode of an endpoint: new messages are parked behind the parked ones / parked ones are re-sent
PARKING, RELEASING = "parking", "releasing"


def message_key(message_id: str) -> dict[str, Any]:
    return serialize({"pk": f"MSG#{message_id}", "sk": "MSG"})


def endpoint_key(endpoint_id: str) -> dict[str, Any]:
    return serialize({"pk": f"EP#{endpoint_id}", "sk": "STATE"})


def park_sort_key(row: Mapping[str, Any], rank: int) -> str:
    """Where a parked message sorts among its endpoint's: as :func:`paycore.delivery.order_key` -
    when it was created, then the payment's announcement sequence, then the status order (a sale
    before its refund created in the same millisecond) - then its id; fixed widths keep the text
    order the same as the numbers'."""
    return f"{row['created_at']}#{int(row.get('seq') or 0):012d}#{rank:03d}#{row['message_id']}"


class DeliveryStore:
    def __init__(self, client: Any, table_name: str):
        self.client = client
        self.table = table_name

    def _conditional(self, **kwargs: Any) -> bool:
        try:
            self.client.update_item(TableName=self.table, **kwargs) if "UpdateExpression" in kwargs else \
                self.client.put_item(TableName=self.table, **kwargs)
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def _transaction(self, items: list[dict[str, Any]]) -> bool:
        """All or nothing; False when a condition did not hold."""
        try:
            self.client.transact_write_items(TransactItems=[
                {kind: {"TableName": self.table, **body}} for entry in items for kind, body in entry.items()])
            return True
        except self.client.exceptions.TransactionCanceledException:
            return False

    # ------------------------------------------------------------------ messages

    def create_message(self, item: Mapping[str, Any]) -> bool:
        """Conditional put of a new message row; False when the webhook id already exists."""
        return self._conditional(Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key=message_key(message_id), ConsistentRead=True).get("Item")
        return deserialize(item) if item else None

    def get_messages(self, message_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(message_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 100):
            keys = [message_key(i) for i in ids[start:start + 100]]
            request: dict[str, Any] | None = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    row = deserialize(item)
                    found[row["message_id"]] = row
                request = response.get("UnprocessedKeys") or None
        return [found[i] for i in ids if i in found]

    def record_attempt(self, message: Mapping[str, Any], *, number: int, attempted_at: str, status_code: int,
                       latency_ms: int, outcome: str, expires_at: int) -> None:
        self.client.put_item(TableName=self.table, Item=serialize({
            "pk": f"MSG#{message['message_id']}", "sk": f"ATT#{number:04d}", "row_type": "attempt",
            "attempted_at": attempted_at, "status_code": status_code, "latency_ms": latency_ms,
            "outcome": outcome, "expires_at": expires_at,
        }))

    def get_attempts(self, message_id: str) -> list[dict[str, Any]]:
        response = self.client.query(
            TableName=self.table, KeyConditionExpression="pk = :pk AND begins_with(sk, :att)",
            ExpressionAttributeValues=serialize({":pk": f"MSG#{message_id}", ":att": "ATT#"}), ConsistentRead=True)
        return [deserialize(i) for i in response.get("Items", [])]

    def update_message(self, message_id: str, values: Mapping[str, Any], *, remove: Iterable[str] = (),
                       add_attempt: bool = False, expected_state: str | None = None) -> bool:
        names = {f"#{k}": k for k in values}
        sets = [f"#{k} = :{k}" for k in values]
        expression = "SET " + ", ".join(sets)
        if add_attempt:
            expression += " ADD cycle_attempts :one, total_attempts :one"
        removes = list(remove)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        attr_values = {f":{k}": v for k, v in values.items()}
        if add_attempt:
            attr_values[":one"] = 1
        kwargs: dict[str, Any] = {"Key": message_key(message_id), "UpdateExpression": expression,
                                  "ExpressionAttributeNames": names}
        condition = "attribute_exists(pk)"
        if expected_state is not None:
            condition += " AND #state = :expected"
            names["#state"] = "state"
            attr_values[":expected"] = expected_state
        kwargs["ConditionExpression"] = condition
        kwargs["ExpressionAttributeValues"] = serialize(attr_values)
        return self._conditional(**kwargs)

    def query_index(self, index: str, key: str, since: str = "", limit: int | None = None) -> list[str]:
        """Webhook ids on ``by-endpoint``/``by-transaction`` for ``key``, oldest first, from ``since``."""
        key_attr = "endpoint_key" if index == BY_ENDPOINT else "txn_key"
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": index,
            "KeyConditionExpression": f"{key_attr} = :k" + (" AND sort_key >= :since" if since else ""),
            "ExpressionAttributeValues": serialize({":k": key, **({":since": since} if since else {})}),
        }
        ids: list[str] = []
        while True:
            page = self.client.query(**kwargs)
            ids.extend(deserialize(i)["pk"][4:] for i in page.get("Items", []))
            if limit and len(ids) >= limit:
                return ids[:limit]
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ endpoints

    def get_endpoint_state(self, endpoint_id: str) -> dict[str, Any]:
        item = self.client.get_item(TableName=self.table, Key=endpoint_key(endpoint_id), ConsistentRead=True).get("Item")
        state = deserialize(item) if item else {}
        state.setdefault("admin_state", ACTIVE)
        return state

    def set_admin_state(self, endpoint_id: str, state: str, *, reason: str, now: str,
                        only_from: Iterable[str] | None = None) -> bool:
        """Set the endpoint's admin state; with ``only_from``, only when the current state is one
        of them (so exactly one caller wins an automatic disable). Clears ``failing_since``."""
        values = {":state": state, ":reason": reason, ":now": now}
        condition = None
        if only_from is not None:
            allowed = list(only_from)
            placeholders = [f":from{i}" for i in range(len(allowed))]
            values.update({p: s for p, s in zip(placeholders, allowed, strict=True)})
            condition = f"attribute_not_exists(admin_state) OR admin_state IN ({', '.join(placeholders)})"
        kwargs: dict[str, Any] = {
            "Key": endpoint_key(endpoint_id),
            "UpdateExpression": "SET admin_state = :state, reason = :reason, changed_at = :now REMOVE failing_since",
            "ExpressionAttributeValues": serialize(values),
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        return self._conditional(**kwargs)

    def mark_failing(self, endpoint_id: str, since: float) -> None:
        """Start the continuous-failure clock unless it runs already."""
        self.client.update_item(
            TableName=self.table, Key=endpoint_key(endpoint_id),
            UpdateExpression="SET failing_since = if_not_exists(failing_since, :since)",
            ExpressionAttributeValues=serialize({":since": int(since)}))

    def mark_healthy(self, endpoint_id: str, now: float) -> None:
        self.client.update_item(
            TableName=self.table, Key=endpoint_key(endpoint_id),
            UpdateExpression="SET last_success_at = :now REMOVE failing_since",
            ExpressionAttributeValues=serialize({":now": int(now)}))

    def take_rate_slot(self, endpoint_id: str, window_start: int, allowed: int, expires_at: int) -> bool:
        """One send in this fixed window, if the window still has room (one conditional update)."""
        return self._conditional(
            Key=serialize({"pk": f"EP#{endpoint_id}", "sk": f"RATE#{window_start}"}),
            UpdateExpression="ADD n :one SET expires_at = :exp",
            ConditionExpression="attribute_not_exists(n) OR n < :allowed",
            ExpressionAttributeValues=serialize({":one": 1, ":allowed": allowed, ":exp": expires_at}))

    # ------------------------------------------------------------------ parked messages

    def start_parking(self, endpoint_id: str, now: str) -> bool:
        """Put the endpoint in ``parking`` mode; True for the one call that switched it (it says so)."""
        return self._conditional(
            Key=endpoint_key(endpoint_id),
            UpdateExpression="SET park_mode = :parking, parked_since = :now",
            ConditionExpression="attribute_not_exists(park_mode) OR park_mode <> :parking",
            ExpressionAttributeValues=serialize({":parking": PARKING, ":now": now}))

    def park(self, row: Mapping[str, Any], *, sort_key: str, reason: str, now: str) -> bool:
        """Pending message -> parked, in one transaction: its parked item (no TTL), its row (state
        ``parked``, TTL and schedule removed) and the endpoint's count. False when the row was not
        pending (parked already)."""
        message_id, endpoint_id = row["message_id"], row["endpoint_id"]
        return self._transaction([
            {"Put": {"Item": serialize({"pk": f"PARK#{endpoint_id}", "sk": sort_key, "row_type": "parked",
                                        "message_id": message_id, "transaction_id": row["transaction_id"],
                                        "reason": reason, "parked_at": now}),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"Key": message_key(message_id),
                        "UpdateExpression": "SET #state = :parked, park_sort = :sort, parked_at = :now, updated_at = :now "
                                            "REMOVE expires_at, next_attempt_at, next_attempt_ts",
                        "ConditionExpression": "#state = :pending", "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": serialize({":parked": PARKED, ":pending": PENDING, ":sort": sort_key,
                                                                ":now": now})}},
            {"Update": {"Key": endpoint_key(endpoint_id), "UpdateExpression": "ADD parked :one SET park_mode = :parking",
                        "ExpressionAttributeValues": serialize({":one": 1, ":parking": PARKING})}},
        ])

    def unpark(self, row: Mapping[str, Any], *, now: str, expires_at: int) -> bool:
        """Parked message -> pending with a fresh schedule and its TTL back, its parked item gone, the
        endpoint's count down; the endpoint leaves park mode with its last parked message."""
        message_id, endpoint_id, sort_key = row["message_id"], row["endpoint_id"], row["park_sort"]
        done = self._transaction([
            {"Delete": {"Key": serialize({"pk": f"PARK#{endpoint_id}", "sk": sort_key}),
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"Key": message_key(message_id),
                        "UpdateExpression": "SET #state = :pending, cycle_attempts = :zero, expires_at = :exp, "
                                            "updated_at = :now REMOVE park_sort, parked_at",
                        "ConditionExpression": "#state = :parked AND park_sort = :sort",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": serialize({":pending": PENDING, ":parked": PARKED, ":zero": 0,
                                                                ":exp": expires_at, ":now": now, ":sort": sort_key})}},
            {"Update": {"Key": endpoint_key(endpoint_id), "UpdateExpression": "ADD parked :minus",
                        "ExpressionAttributeValues": serialize({":minus": -1})}},
        ])
        if done:
            self._conditional(
                Key=endpoint_key(endpoint_id), UpdateExpression="REMOVE park_mode, parked_since, release_requested_at",
                ConditionExpression="parked <= :zero AND park_mode = :releasing",
                ExpressionAttributeValues=serialize({":zero": 0, ":releasing": RELEASING}))
        return done

    def parked_items(self, endpoint_id: str) -> list[dict[str, Any]]:
        """The endpoint's parked messages in the order to re-send them."""
        kwargs: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk", "ConsistentRead": True,
            "ExpressionAttributeValues": serialize({":pk": f"PARK#{endpoint_id}"}),
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**kwargs)
            items.extend(deserialize(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def start_releasing(self, endpoint_id: str, now: str) -> None:
        """``releasing`` mode: the sender re-sends what ops releases and puts newcomers behind it."""
        self.client.update_item(
            TableName=self.table, Key=endpoint_key(endpoint_id),
            UpdateExpression="SET park_mode = :releasing, release_requested_at = :now",
            ExpressionAttributeValues=serialize({":releasing": RELEASING, ":now": now}))
