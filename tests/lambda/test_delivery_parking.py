"""Vendor delivery past the queue's 14-day retention: a message held (paused endpoint, retries,
rate limit) until it would come back within a day of its expiry is parked in the table instead
(durable, no TTL), its endpoint parks everything after it, an event and a metric say so, and
resume / enable / recover / release send them again once, in order per payment. The controllable
clock runs the 15 days; moto drops expired messages as SQS does (delivery_fixtures)."""
from __future__ import annotations

import json

from delivery_fixtures import (  # noqa: F401  (fixtures)
    Esm,
    FakeContext,
    aws_env,
    clock,
    delivery_env,
    fanout,
    moto_visibility_as_sent,
    sender,
    sqs_event,
    status_change,
)

from paycore import delivery
from paycore.delivery_ops import DeliveryOps
from paycore.delivery_store import DeliveryStore
from paycore.ledger import deserialize

DAY = 86_400
RETENTION_SECONDS = 14 * DAY


def publish(fanout, *bodies: str) -> None:
    assert fanout.handler(sqs_event(list(bodies)), FakeContext()) == {"batchItemFailures": []}


def store(env) -> DeliveryStore:
    return DeliveryStore(env.ddb, "deliveries-test")


def ops(env) -> DeliveryOps:
    return DeliveryOps(store(env), env.sqs, env.queue_url, env.endpoints(), env.sm, "payment-webhooks/test/")


def seq(vendor) -> list[tuple[str, str]]:
    return [(r["payload"]["data"]["transaction_id"], r["payload"]["type"]) for r in vendor.received()]


def per_payment(vendor) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for transaction_id, event_type in seq(vendor):
        out.setdefault(transaction_id, []).append(event_type)
    return out


def emf_total(capsys, name: str) -> float:
    """Sum of a metric emitted with the (service) dimension only (what the alarm watches)."""
    total = 0.0
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' in line and name in line:
            blob = json.loads(line)
            if "vendor_id" not in blob:
                value = blob[name]
                total += sum(value) if isinstance(value, list) else value
    return total


def raw_row(env, pk: str, sk: str) -> dict:
    return deserialize(env.ddb.get_item(TableName="deliveries-test", Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"])


def label(status: str) -> str:
    """The announcement label of a payment's sale (the first) or its refund (the second)."""
    return delivery.announcement_label({"succeeded": 1, "refunded": 2}[status])


def kept(env, esm) -> set[str]:
    """The webhook ids still held somewhere: a message in the queue or a parked message."""
    in_queue = {json.loads(m.body)["message_id"] for m in esm._queue()._messages}
    parked = env.ddb.query(TableName="deliveries-test", KeyConditionExpression="pk = :pk",
                           ExpressionAttributeValues={":pk": {"S": "PARK#ep-a-main"}})["Items"]
    return in_queue | {item["message_id"]["S"] for item in parked}


def test_a_pause_longer_than_the_queue_retention_loses_nothing_and_resume_delivers_each_once_in_order(
        delivery_env, fanout, sender, monkeypatch, capsys):
    monkeypatch.setenv("DELIVERY_PAUSE_RECHECK_SECONDS", "43200")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    tools, esm, start = ops(delivery_env), Esm(delivery_env, sender.handler), delivery_env.clock()
    assert tools.set_state("ep-a-main", "pause")["changed"] == 1
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_2", "succeeded"), status_change("pi_4", "succeeded"))
    esm.run(until=start + 3 * DAY)
    publish(fanout, status_change("pi_1", "refunded", "succeeded"))
    esm.run(until=start + 8 * DAY)
    publish(fanout, status_change("pi_3", "succeeded"))
    esm.run(until=start + 14 * DAY)  # the first three were parked half a day before they would expire
    publish(fanout, status_change("pi_2", "refunded", "succeeded"))
    esm.run(until=start + 15 * DAY)

    every = {delivery.webhook_id("ep-a-main", t, label(s)) for t, s in (("pi_1", "succeeded"), ("pi_1", "refunded"),
             ("pi_2", "succeeded"), ("pi_2", "refunded"), ("pi_3", "succeeded"), ("pi_4", "succeeded"))}
    assert kept(delivery_env, esm) == every  # nothing expired with the queue's retention
    assert vendor.requests == [] and esm.pending() == 0  # all parked: nothing left in the queue to expire
    rows = tools.list_endpoint("ep-a-main")
    assert len(rows) == 6 and {r["state"] for r in rows} == {"parked"}
    assert all(r["total_attempts"] == 0 for r in rows)
    for row in rows:  # durable: neither the row nor its parked copy expires
        assert "expires_at" not in raw_row(delivery_env, f"MSG#{row['message_id']}", "MSG")
    parked = store(delivery_env).parked_items("ep-a-main")
    assert len(parked) == 6 and all("expires_at" not in item for item in parked)
    events = delivery_env.bus_events()
    assert [e["detail-type"] for e in events] == ["DeliveryParked"]  # once, when the endpoint began parking
    assert events[0]["detail"] | {"message_id": "", "parked_at": ""} == {
        "endpoint_id": "ep-a-main", "vendor_id": "vendor-a", "reason": "retention", "held_for": "paused",
        "message_id": "", "parked_at": ""}
    assert emf_total(capsys, "DeliveryParked") == 6
    state = store(delivery_env).get_endpoint_state("ep-a-main")
    assert (state["park_mode"], state["parked"]) == ("parking", 6)

    resumed = tools.set_state("ep-a-main", "resume")
    assert (resumed["changed"], resumed["parked"], resumed["released"]) == (1, 6, 6)
    esm.run()
    assert len(vendor.requests) == 6 and {r["id"] for r in vendor.received()} == every  # each once
    assert per_payment(vendor) == {"pi_1": ["payment.succeeded", "payment.refunded"], "pi_3": ["payment.succeeded"],
                                   "pi_2": ["payment.succeeded", "payment.refunded"], "pi_4": ["payment.succeeded"]}
    sale = next(r for r in vendor.received() if r["id"] == delivery.webhook_id("ep-a-main", "pi_1", label("succeeded")))
    assert sale["payload"]["data"]["occurred_at"] is not None  # the original message, not the refund's copy
    assert {r["state"] for r in tools.list_endpoint("ep-a-main")} == {"delivered"}
    state = store(delivery_env).get_endpoint_state("ep-a-main")
    assert "park_mode" not in state and state["parked"] == 0 and store(delivery_env).parked_items("ep-a-main") == []
    assert all("expires_at" in raw_row(delivery_env, f"MSG#{r['message_id']}", "MSG") for r in rows)


def test_a_status_enqueued_while_parked_messages_are_released_waits_behind_them(delivery_env, fanout, sender, monkeypatch,
                                                                                 capsys):
    """The refund reaches the queue just before `resume` re-sends the parked sale, so the queue holds
    it first: the sender sends the refund behind the sale instead of delivering it."""
    monkeypatch.setenv("DELIVERY_PAUSE_RECHECK_SECONDS", "43200")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    tools, esm, start = ops(delivery_env), Esm(delivery_env, sender.handler), delivery_env.clock()
    tools.set_state("ep-a-main", "pause")
    publish(fanout, status_change("pi_1", "succeeded"))
    esm.run(until=start + 13 * DAY)
    assert [r["state"] for r in tools.list_endpoint("ep-a-main")] == ["parked"]
    publish(fanout, status_change("pi_1", "refunded", "succeeded"))  # not received yet
    assert tools.set_state("ep-a-main", "resume")["released"] == 1
    esm.run()
    assert seq(vendor) == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert len(vendor.requests) == 2
    assert emf_total(capsys, "DeliveryRequeued") == 1


def test_a_failing_endpoint_parks_before_retention_and_recover_resends_in_order(delivery_env, fanout, sender, monkeypatch):
    """Twenty days of 12-hour retries: the sale is parked instead of a retry that would outlive the
    queue; the refund behind it is parked without an attempt; recover re-sends both, in order."""
    monkeypatch.setenv("DELIVERY_RETRY_SCHEDULE", ",".join(["0"] + ["43200"] * 40))
    monkeypatch.setenv("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", str(30 * DAY))
    up = {"yes": False}
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 200 if up["yes"] else 500)
    tools, esm, start = ops(delivery_env), Esm(delivery_env, sender.handler), delivery_env.clock()
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_1", "refunded", "succeeded"))
    esm.run(until=start + 15 * DAY)
    attempts = len(vendor.requests)
    assert attempts == 26 and {r["payload"]["type"] for r in vendor.requests} == {"payment.succeeded"}
    assert int(vendor.requests[-1]["timestamp"]) - int(start) == 25 * 43200  # 12.5 days: the next would be too late
    rows = {r["event_type"]: r for r in tools.list_endpoint("ep-a-main")}
    assert {t: r["state"] for t, r in rows.items()} == {"payment.succeeded": "parked", "payment.refunded": "parked"}
    assert rows["payment.refunded"]["total_attempts"] == 0
    [event] = delivery_env.bus_events()
    assert (event["detail-type"], event["detail"]["held_for"]) == ("DeliveryParked", "retry")

    up["yes"] = True
    since = "2020-01-01T00:00:00Z"
    assert tools.recover("ep-a-main", since, dry_run=True) == {
        "endpoint_id": "ep-a-main", "since": "2020-01-01T00:00:00.000Z", "scanned": 2, "matched": 0, "resent": 0,
        "delivered": 0, "pending": 0, "parked": 2, "released": 0, "dry_run": True, "endpoint_state": "active",
        "would_resend": 0, "would_release": 2}
    assert kept(delivery_env, esm) == {r["message_id"] for r in rows.values()} and esm.pending() == 0  # dry
    assert tools.recover("ep-a-main", since)["released"] == 2
    esm.run()
    assert seq(vendor) == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert len(vendor.requests) == attempts + 2


def test_release_sends_nothing_while_the_endpoint_cannot_deliver(delivery_env, fanout, sender, monkeypatch):
    """A short retention (the queue's, given to the sender) parks within the hour; `release` on the
    paused endpoint sends nothing and says why; a resend of a parked message is refused."""
    delivery_env.sqs.set_queue_attributes(QueueUrl=delivery_env.queue_url, Attributes={"MessageRetentionPeriod": "3600"})
    monkeypatch.setenv("DELIVERY_QUEUE_RETENTION_SECONDS", "3600")  # parks from 45 minutes of age
    monkeypatch.setenv("DELIVERY_PAUSE_RECHECK_SECONDS", "300")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    tools, esm, start = ops(delivery_env), Esm(delivery_env, sender.handler), delivery_env.clock()
    tools.set_state("ep-a-main", "pause")
    publish(fanout, status_change("pi_1", "succeeded"))
    esm.run(until=start + 7200)
    [row] = tools.list_endpoint("ep-a-main")
    assert row["state"] == "parked"
    assert tools.release("ep-a-main") == {
        "endpoint_id": "ep-a-main", "parked": 1, "released": 0, "dry_run": False, "endpoint_state": "paused",
        "not_released": "the endpoint is paused: `resume` releases them"}
    assert tools.resend(row["message_id"]) == {"matched": 1, "resent": 0, "skipped_parked": 1, "dry_run": False}
    esm.run(until=start + 3 * 3600)
    assert vendor.requests == [] and esm.pending() == 0
    # a dry run of resume judges the release by the state resume would leave
    assert tools.set_state("ep-a-main", "resume", dry_run=True) == {
        "endpoint_id": "ep-a-main", "from": "paused", "to": "active", "changed": 0, "dry_run": True, "parked": 1,
        "released": 0, "would_release": 1}
    assert tools.list_endpoint("ep-a-main")[0]["state"] == "parked" and esm.pending() == 0
    tools.set_state("ep-a-main", "resume")
    esm.run()
    assert seq(vendor) == [("pi_1", "payment.succeeded")]


def test_enable_releases_what_was_parked_before_a_disable(delivery_env, fanout, sender, monkeypatch):
    """Parked while paused, then disabled: release says `enable` is the way; enable's dry run counts
    what it would release, enable releases it and the vendor gets it once."""
    delivery_env.sqs.set_queue_attributes(QueueUrl=delivery_env.queue_url, Attributes={"MessageRetentionPeriod": "3600"})
    monkeypatch.setenv("DELIVERY_QUEUE_RETENTION_SECONDS", "3600")
    monkeypatch.setenv("DELIVERY_PAUSE_RECHECK_SECONDS", "300")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    tools, esm, start = ops(delivery_env), Esm(delivery_env, sender.handler), delivery_env.clock()
    tools.set_state("ep-a-main", "pause")
    publish(fanout, status_change("pi_1", "succeeded"))
    esm.run(until=start + 7200)
    assert tools.set_state("ep-a-main", "disable")["changed"] == 1
    assert tools.release("ep-a-main", dry_run=True) == {
        "endpoint_id": "ep-a-main", "parked": 1, "released": 0, "dry_run": True, "endpoint_state": "disabled",
        "not_released": "the endpoint is disabled: `enable` releases them", "would_release": 0}
    assert tools.set_state("ep-a-main", "enable", dry_run=True)["would_release"] == 1
    assert esm.pending() == 0 and tools.list_endpoint("ep-a-main")[0]["state"] == "parked"
    assert tools.set_state("ep-a-main", "enable")["released"] == 1
    esm.run()
    assert seq(vendor) == [("pi_1", "payment.succeeded")]
    assert tools.list_endpoint("ep-a-main")[0]["state"] == "delivered"
