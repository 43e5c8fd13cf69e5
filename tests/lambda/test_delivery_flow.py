"""Vendor delivery end to end at the handler level: fan-out -> deliveries FIFO (moto) -> sender ->
vendor HTTP servers on 127.0.0.1, verified with the official ``standardwebhooks`` library; a
controllable clock drives the 27-hour schedule (moto's SQS visibility runs on the same clock)."""
from __future__ import annotations

import json
import threading

import pytest
from sqs_event_source import EventSourceStandIn

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

SCHEDULE_SECONDS = sum(delivery.DEFAULT_SCHEDULE)


def publish(fanout, *bodies: str) -> None:
    assert fanout.handler(sqs_event(list(bodies)), FakeContext()) == {"batchItemFailures": []}


def store(env) -> DeliveryStore:
    return DeliveryStore(env.ddb, "deliveries-test")


def ops(env) -> DeliveryOps:
    return DeliveryOps(store(env), env.sqs, env.queue_url, env.endpoints(), env.sm, "payment-webhooks/test/")


def seq(vendor) -> list[tuple[str, str]]:
    return [(r["payload"]["data"]["transaction_id"], r["payload"]["type"]) for r in vendor.received()]


def test_every_notification_arrives_once_per_endpoint_in_order_and_verifies(delivery_env, fanout, sender):
    a1 = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    a2 = delivery_env.add_endpoint("vendor-a", "ep-a-audit", event_types=["payment.refunded"])
    b = delivery_env.add_endpoint("vendor-b", "ep-b-main")
    publish(fanout,
            status_change("pi_1", "succeeded", "processing"),
            status_change("pi_2", "succeeded", "processing", vendor_id="vendor-b"),
            status_change("pi_1", "refunded", "succeeded"),
            status_change("pi_1", "succeeded", "processing"))  # a duplicate domain event
    Esm(delivery_env, sender.handler).run()
    assert seq(a1) == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert seq(a2) == [("pi_1", "payment.refunded")]
    assert seq(b) == [("pi_2", "payment.succeeded")]
    for vendor in (a1, a2, b):
        assert len(vendor.requests) == len(vendor.received())  # no second request at all
        assert all(r["verified"] for r in vendor.requests)
    body = a1.received()[0]["payload"]
    assert body == {"type": "payment.succeeded", "timestamp": "2025-11-29T01:33:00.000Z",
                    "data": {"transaction_id": "pi_1", "vendor_id": "vendor-a", "sequence": 1, "status": "succeeded",
                             "amount": 1999, "currency": "USD", "occurred_at": "2025-11-29T01:33:00.000Z",
                             "object_id": "pi_1", "captured_amount": 1999, "refunded_amount": 0, "reversed_amount": 0,
                             "disputed_amount": 0, "dispute_lost_amount": 0, "net_amount": 1999}}
    refund = a1.received()[1]["payload"]["data"]
    assert (refund["sequence"], refund["status"], refund["amount"], refund["refunded_amount"], refund["net_amount"]) == (
        2, "refunded", 1999, 1999, 0)
    assert a1.received()[0]["id"] == delivery.webhook_id("ep-a-main", "pi_1", delivery.announcement_label(1))


def test_a_request_signed_with_another_secret_does_not_verify(delivery_env, fanout, sender):
    """The vendor-side check can fail: the same request with a wrong secret is refused by the library."""
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    vendor.secret = delivery.generate_secret()
    publish(fanout, status_change("pi_1", "succeeded"))
    Esm(delivery_env, sender.handler).run(until=delivery_env.clock() + 1)
    assert vendor.requests and not any(r["verified"] for r in vendor.requests)


def test_a_vendor_answering_500_for_a_while_then_200_receives_everything(delivery_env, fanout, sender):
    failures = {"left": 3}

    def flaky(vendor, headers, body):
        if failures["left"]:
            failures["left"] -= 1
            return 500
        return 200

    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=flaky)
    publish(fanout, status_change("pi_1", "succeeded"))
    start = delivery_env.clock()
    Esm(delivery_env, sender.handler).run()
    assert seq(vendor) == [("pi_1", "payment.succeeded")]
    ids = {r["id"] for r in vendor.requests}
    assert len(vendor.requests) == 4 and len(ids) == 1  # the same webhook-id on every retry
    timestamps = [int(r["timestamp"]) for r in vendor.requests]
    assert [t - timestamps[0] for t in timestamps] == [0, 5, 305, 2105]  # immediately, 5 s, 5 min, 30 min
    assert timestamps[0] - int(start) <= 1
    message_id = vendor.requests[0]["id"]
    attempts = ops(delivery_env).attempts(message_id)
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    assert [a["outcome"] for a in attempts] == ["http_error"] * 3 + ["success"]
    raw = store(delivery_env).get_attempts(message_id)
    assert all(set(a) <= {"pk", "sk", "row_type", "attempted_at", "status_code", "latency_ms", "outcome", "expires_at"} for a in raw)
    [row] = ops(delivery_env).list_transaction("pi_1")
    assert row["state"] == "delivered" and row["total_attempts"] == 4


def test_a_later_status_never_overtakes_an_earlier_one_in_retry(delivery_env, fanout, sender):
    def fail_first_succeeded(vendor, headers, body):
        sale = json.loads(body)["type"] == "payment.succeeded"
        return 503 if sale and sum(1 for r in vendor.requests if r["payload"]["type"] == "payment.succeeded") <= 2 else 200

    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=fail_first_succeeded)
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_2", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run(until=delivery_env.clock() + 1)  # first attempts: pi_1's sale failed, pi_2's failed
    publish(fanout, status_change("pi_1", "refunded", "succeeded"))
    esm.run()
    order = [(r["payload"]["data"]["transaction_id"], r["payload"]["type"]) for r in vendor.requests if r["answered"] == 200]
    assert order.index(("pi_1", "payment.succeeded")) < order.index(("pi_1", "payment.refunded"))
    refund_requests = [r for r in vendor.requests if r["payload"]["type"] == "payment.refunded"]
    assert len(refund_requests) == 1  # it waited (no attempt) instead of being tried early


def test_bus_reordering_is_repaired_by_enqueueing_the_previous_status_first(delivery_env, fanout, sender):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    publish(fanout, status_change("pi_1", "refunded", "succeeded"))  # the refund's event arrives first
    publish(fanout, status_change("pi_1", "succeeded", "processing"))
    Esm(delivery_env, sender.handler).run()
    assert seq(vendor) == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert len(vendor.requests) == 2


def test_a_vendor_down_past_the_schedule_is_exhausted_then_recovered_since_t(delivery_env, fanout, sender, capsys):
    state = {"up": False}
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 200 if state["up"] else 502)
    since = delivery.iso(delivery_env.clock())
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_2", "succeeded"), status_change("pi_1", "refunded", "succeeded"))
    start = delivery_env.clock()
    Esm(delivery_env, sender.handler).run()
    assert vendor.received() == []
    pi_1 = [(r["payload"]["type"], int(r["timestamp"])) for r in vendor.requests if r["payload"]["data"]["transaction_id"] == "pi_1"]
    assert [t for t, _ in pi_1] == ["payment.succeeded"] * 8 + ["payment.refunded"] * 8  # never interleaved
    assert delivery_env.clock() - start >= 2 * SCHEDULE_SECONDS  # pi_1's refund ran its own schedule after the sale's
    assert len(vendor.requests) == 3 * len(delivery.DEFAULT_SCHEDULE)
    rows = {r["message_id"]: r for r in ops(delivery_env).list_endpoint("ep-a-main")}
    assert {r["state"] for r in rows.values()} == {"exhausted"}
    dead = delivery_env.dlq_messages()
    assert sorted(m["message_id"] for m in dead) == sorted(rows)
    exhausted = [e for e in delivery_env.bus_events() if e["detail-type"] == "DeliveryExhausted"]
    assert sorted(e["detail"]["message_id"] for e in exhausted) == sorted(rows)
    assert all(e["detail"]["attempts"] == 8 and e["detail"]["last_status_code"] == 502 for e in exhausted)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    totals = [m for m in emf if "DeliveryExhausted" in m and "vendor_id" not in m]
    assert sum(m["DeliveryExhausted"][0] if isinstance(m["DeliveryExhausted"], list) else m["DeliveryExhausted"] for m in totals) == 3

    state["up"] = True
    dry = ops(delivery_env).recover("ep-a-main", since, dry_run=True)
    assert (dry["matched"], dry["resent"], dry["would_resend"]) == (3, 0, 3)
    done = ops(delivery_env).recover("ep-a-main", since)
    assert done | {"dry_run": True, "would_resend": 3, "would_release": 0} == {**dry, "resent": 3}
    Esm(delivery_env, sender.handler).run()
    assert sorted(seq(vendor)) == [("pi_1", "payment.refunded"), ("pi_1", "payment.succeeded"), ("pi_2", "payment.succeeded")]
    assert [t for t in seq(vendor) if t[0] == "pi_1"] == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert {r["id"] for r in vendor.received()} == set(rows)  # the same webhook-ids as before
    assert ops(delivery_env).recover("ep-a-main", since)["matched"] == 0


def test_a_rate_limited_vendor_receives_at_its_limit_and_another_is_unaffected(delivery_env, fanout, sender):
    slow = delivery_env.add_endpoint("vendor-a", "ep-a-main", rate_limit_per_second=2)
    fast = delivery_env.add_endpoint("vendor-b", "ep-b-main")
    start = delivery_env.clock()
    publish(fanout, *[status_change(f"pi_a{i}", "succeeded") for i in range(10)],
            *[status_change(f"pi_b{i}", "succeeded", vendor_id="vendor-b") for i in range(10)])
    Esm(delivery_env, sender.handler).run()
    assert len(slow.received()) == 10 and len(fast.received()) == 10
    assert len(slow.requests) == 10  # held messages were not attempted
    per_second: dict[int, int] = {}
    for request in slow.requests:
        per_second[int(request["timestamp"])] = per_second.get(int(request["timestamp"]), 0) + 1
    assert max(per_second.values()) == 2 and len(per_second) == 5
    assert {int(r["timestamp"]) for r in fast.requests} == {int(start)}  # all in the first second
    rows = ops(delivery_env).list_endpoint("ep-a-main")
    assert all(r["total_attempts"] == 1 for r in rows)


def test_pausing_keeps_messages_and_resuming_drains_them(delivery_env, fanout, sender, monkeypatch):
    monkeypatch.setenv("DELIVERY_PAUSE_RECHECK_SECONDS", "3600")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", rate_limit_per_second=5)
    tools = ops(delivery_env)
    assert tools.set_state("ep-a-main", "pause", dry_run=True) == {
        "endpoint_id": "ep-a-main", "from": "active", "to": "paused", "changed": 0, "dry_run": True}
    assert tools.set_state("ep-a-main", "pause")["changed"] == 1
    publish(fanout, *[status_change(f"pi_{i}", "succeeded") for i in range(8)])
    esm = Esm(delivery_env, sender.handler)
    esm.run(until=delivery_env.clock() + 3 * 86400)  # three days paused
    assert vendor.requests == [] and esm.pending() == 8
    assert all(r["total_attempts"] == 0 and r["state"] == "pending" for r in tools.list_endpoint("ep-a-main"))
    assert tools.set_state("ep-a-main", "resume")["changed"] == 1
    esm.run()
    assert len(vendor.received()) == 8 and len(vendor.requests) == 8
    per_second: dict[int, int] = {}
    for request in vendor.requests:
        per_second[int(request["timestamp"])] = per_second.get(int(request["timestamp"]), 0) + 1
    assert max(per_second.values()) <= 5


def test_a_410_disables_the_endpoint_and_says_so(delivery_env, fanout, sender):
    gone = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 410)
    publish(fanout, status_change("pi_1", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run()
    publish(fanout, status_change("pi_2", "succeeded"))
    esm.run()
    assert len(gone.requests) == 1  # the later message was not attempted
    assert store(delivery_env).get_endpoint_state("ep-a-main")["admin_state"] == "disabled"
    rows = {r["transaction_id"]: r for r in ops(delivery_env).list_vendor("vendor-a")}
    assert rows["pi_1"]["failure_reason"] == "endpoint_gone"
    assert rows["pi_2"]["failure_reason"] == "endpoint_disabled" and rows["pi_2"]["total_attempts"] == 0
    [event] = delivery_env.bus_events()
    assert event["detail-type"] == "DeliveryEndpointDisabled"
    assert event["detail"] == {**event["detail"], "endpoint_id": "ep-a-main", "reason": "gone"}


def test_an_endpoint_failing_continuously_is_disabled_automatically(delivery_env, fanout, sender, monkeypatch):
    monkeypatch.setenv("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", "3600")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 500)
    publish(fanout, status_change("pi_1", "succeeded"))
    Esm(delivery_env, sender.handler).run()
    # attempts at 0, 5 s, 305 s, 2105 s; the one at 9305 s is past the hour: disabled, not exhausted
    assert len(vendor.requests) == 5
    assert store(delivery_env).get_endpoint_state("ep-a-main")["admin_state"] == "disabled"
    [event] = delivery_env.bus_events()
    assert event["detail-type"] == "DeliveryEndpointDisabled" and event["detail"]["reason"] == "failing"
    assert delivery_env.dlq_messages() == []
    assert ops(delivery_env).set_state("ep-a-main", "enable")["changed"] == 1
    assert store(delivery_env).get_endpoint_state("ep-a-main")["admin_state"] == "active"


def test_a_success_resets_the_continuous_failure_clock(delivery_env, fanout, sender, monkeypatch):
    monkeypatch.setenv("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", "3600")
    answers = iter([500, 500, 500, 200] + [500] * 3 + [200] * 10)
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: next(answers))
    publish(fanout, status_change("pi_1", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run()
    publish(fanout, status_change("pi_2", "succeeded"))
    esm.run()
    assert len(vendor.received()) == 2
    assert store(delivery_env).get_endpoint_state("ep-a-main")["admin_state"] == "active"


def test_one_slow_vendor_does_not_hold_another_vendors_request(delivery_env, fanout, sender):
    """The slow vendor's request is still open when the other vendor's arrives: the slow one waits for
    the other (up to 4 s) before it answers, so a sequential sender would time the slow one out."""
    other_arrived = threading.Event()
    slow = delivery_env.add_endpoint("vendor-a", "ep-a-main",
                                     respond=lambda v, h, b: 200 if other_arrived.wait(4) else 504)

    def other(vendor, headers, body):
        other_arrived.set()
        return 200

    fast = delivery_env.add_endpoint("vendor-b", "ep-b-main", respond=other)
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_2", "succeeded", vendor_id="vendor-b"))
    Esm(delivery_env, sender.handler).run(until=delivery_env.clock() + 1)
    assert [r["answered"] for r in slow.requests] == [200]
    assert len(fast.received()) == 1


def test_a_dead_vendor_never_delays_another(delivery_env, fanout, sender):
    dead = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 500)
    alive = delivery_env.add_endpoint("vendor-b", "ep-b-main")
    start = delivery_env.clock()
    publish(fanout, *[status_change(f"pi_a{i}", "succeeded") for i in range(15)])
    Esm(delivery_env, sender.handler).run(until=start + 3600)
    publish(fanout, *[status_change(f"pi_b{i}", "succeeded", vendor_id="vendor-b") for i in range(5)])
    at = delivery_env.clock()
    Esm(delivery_env, sender.handler).run(until=at + 1)
    assert len(alive.received()) == 5
    assert {int(r["timestamp"]) for r in alive.requests} == {int(at)}
    assert dead.received() == []


def test_resend_sends_the_same_webhook_id_again(delivery_env, fanout, sender):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    publish(fanout, status_change("pi_1", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run()
    message_id = vendor.requests[0]["id"]
    tools = ops(delivery_env)
    assert tools.resend(message_id, dry_run=True) == {"matched": 1, "resent": 0, "dry_run": True}
    assert tools.resend(message_id) == {"matched": 1, "resent": 1, "dry_run": False}
    esm.run()
    assert [r["id"] for r in vendor.requests] == [message_id, message_id]
    assert vendor.requests[0]["payload"] == vendor.requests[1]["payload"]
    assert tools.resend("msg_unknown") == {"matched": 0, "resent": 0, "dry_run": False}


def test_a_redirect_is_a_failure_and_is_not_followed(delivery_env, fanout, sender, monkeypatch):
    monkeypatch.setenv("DELIVERY_RETRY_SCHEDULE", "0,5")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 302)
    publish(fanout, status_change("pi_1", "succeeded"))
    Esm(delivery_env, sender.handler).run()
    assert len(vendor.requests) == 2
    [row] = ops(delivery_env).list_endpoint("ep-a-main")
    assert row["state"] == "exhausted" and row["last_outcome"] == "redirect" and row["last_status_code"] == 302


def test_rotation_signs_with_both_secrets_during_the_grace_period(delivery_env, fanout, sender):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    old = vendor.secret
    tools = ops(delivery_env)
    rotated = tools.rotate_secret("ep-a-main", grace_seconds=3600)
    assert rotated["rotated"] == 1 and rotated["secret"].startswith("whsec_") and rotated["secret"] != old
    sys_secrets = __import__("paycore.secrets", fromlist=["clear_all_caches"])
    sys_secrets.clear_all_caches()
    publish(fanout, status_change("pi_1", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run()  # the vendor still only knows the old secret: verifies
    assert vendor.received() and len(vendor.requests[0]["signature"].split(" ")) == 2
    delivery_env.clock.advance(3601)
    sys_secrets.clear_all_caches()
    publish(fanout, status_change("pi_2", "succeeded"))
    esm.run(until=delivery_env.clock() + 1)
    assert len(vendor.requests[-1]["signature"].split(" ")) == 1
    assert not vendor.requests[-1]["verified"]  # old secret after the grace period: refused
    vendor.secret = rotated["secret"]
    esm.run()
    assert [r["payload"]["data"]["transaction_id"] for r in vendor.received()] == ["pi_1", "pi_2"]


@pytest.mark.parametrize("config_paused", [True])
def test_paused_in_configuration_holds_without_attempts(delivery_env, fanout, sender, config_paused):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", paused=config_paused)
    publish(fanout, status_change("pi_1", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    esm.run(until=delivery_env.clock() + 7200)
    assert vendor.requests == [] and esm.pending() == 1


@pytest.mark.parametrize("moto_visibility_as_sent", [True])
def test_the_schedule_holds_when_sqs_refuses_a_long_visibility(delivery_env, fanout, sender, moto_visibility_as_sent):
    """Under moto's own cap (12 h since sent) the 10-hour holds are refused; the message then wakes up
    early and the row's next attempt time holds it again: same attempts, same times, same order."""
    state = {"up": False}
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 200 if state["up"] else 500)
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_1", "refunded", "succeeded"))
    esm = Esm(delivery_env, sender.handler)
    start = delivery_env.clock()
    esm.run(until=start + 20 * 3600)  # attempts at 0, 5 s, 5 min, 35 min, 2.6 h, 7.6 h, 17.6 h
    state["up"] = True
    esm.run()
    times = [int(r["timestamp"]) - int(start) for r in vendor.requests]
    assert times[:7] == [0, 5, 305, 2105, 9305, 27305, 63305]
    assert times[7] == 99305  # the eighth attempt, 10 h later, succeeds
    assert seq(vendor) == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]


def test_a_crash_after_the_vendors_2xx_resends_the_same_id_and_the_receiver_keeps_one(delivery_env, fanout, sender, monkeypatch):
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    real = DeliveryStore.update_message
    crashes = {"left": 1}

    def crash_once(self, message_id, values, **kwargs):
        if values.get("state") == "delivered" and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("DynamoDB unavailable")
        return real(self, message_id, values, **kwargs)

    monkeypatch.setattr(DeliveryStore, "update_message", crash_once)
    publish(fanout, status_change("pi_1", "succeeded"))
    Esm(delivery_env, sender.handler).run()
    assert len(vendor.requests) == 2 and vendor.requests[0]["id"] == vendor.requests[1]["id"]
    assert len(vendor.received()) == 1
    [row] = ops(delivery_env).list_endpoint("ep-a-main")
    assert row["state"] == "delivered"


def test_a_trickling_vendor_gets_timed_out_attempts_on_schedule_then_is_exhausted(delivery_env, fanout, sender, monkeypatch):
    """The vendor answers 200 and then one byte per 100 ms: each attempt ends at its 1-s deadline as a
    recorded timeout, the schedule runs, the message is exhausted (dead-lettered, event)."""
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DELIVERY_RETRY_SCHEDULE", "0,5,300")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", trickle=True)
    publish(fanout, status_change("pi_1", "succeeded"))
    start = delivery_env.clock()
    Esm(delivery_env, sender.handler).run_bounded(20)
    assert [int(r["timestamp"]) - int(start) for r in vendor.requests] == [0, 5, 305]
    message_id = vendor.requests[0]["id"]
    attempts = ops(delivery_env).attempts(message_id)
    assert [a["outcome"] for a in attempts] == ["timeout"] * 3
    assert all(a["latency_ms"] <= 1500 for a in attempts)
    [row] = ops(delivery_env).list_endpoint("ep-a-main")
    assert row["state"] == "exhausted" and row["total_attempts"] == 3
    assert [m["message_id"] for m in delivery_env.dlq_messages()] == [message_id]
    assert [e["detail-type"] for e in delivery_env.bus_events()] == ["DeliveryExhausted"]


def test_a_trickling_vendor_is_disabled_once_it_has_failed_too_long(delivery_env, fanout, sender, monkeypatch):
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DELIVERY_RETRY_SCHEDULE", "0,5,300,1800")
    monkeypatch.setenv("DELIVERY_AUTO_DISABLE_AFTER_SECONDS", "60")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", trickle=True)
    publish(fanout, status_change("pi_1", "succeeded"))
    Esm(delivery_env, sender.handler).run_bounded(20)
    assert len(vendor.requests) == 3  # at 0 and 5 s; at 305 s it has failed for more than 60 s
    assert store(delivery_env).get_endpoint_state("ep-a-main")["admin_state"] == "disabled"
    [row] = ops(delivery_env).list_endpoint("ep-a-main")
    assert (row["state"], row["failure_reason"], row["last_outcome"]) == ("failed", "endpoint_disabled", "timeout")
    [event] = delivery_env.bus_events()
    assert event["detail-type"] == "DeliveryEndpointDisabled" and event["detail"]["reason"] == "failing"


class _LittleTimeLeft(FakeContext):
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5_500  # the fixture's attempt deadline is 5 s: 5 s + 1 s of AWS calls do not fit


def test_records_the_invocation_has_no_time_for_go_back_to_the_queue_unattempted(delivery_env, fanout, sender):
    """With less time left than one record's budget (attempt deadline + its AWS calls), nothing is
    started: every record is reported failed and visible again at once, and a later invocation
    delivers them, in order."""
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main")
    publish(fanout, status_change("pi_1", "succeeded"), status_change("pi_1", "refunded", "succeeded"),
            status_change("pi_2", "succeeded"))
    late = EventSourceStandIn(delivery_env.sqs, delivery_env.queue_url, sender.handler, context=_LittleTimeLeft())
    assert late.poll_once() == 3
    assert vendor.requests == [] and ops(delivery_env).list_endpoint("ep-a-main") == []
    delivery_env.clock.advance(0.01)  # moto: visible once its clock passes the visibility's end
    assert late.poll_once() == 3  # visible again at once, not after the queue's visibility timeout
    Esm(delivery_env, sender.handler).run()
    assert sorted(seq(vendor)) == [("pi_1", "payment.refunded"), ("pi_1", "payment.succeeded"), ("pi_2", "payment.succeeded")]
    assert [t for t in seq(vendor) if t[0] == "pi_1"] == [("pi_1", "payment.succeeded"), ("pi_1", "payment.refunded")]
    assert len(vendor.requests) == 3
