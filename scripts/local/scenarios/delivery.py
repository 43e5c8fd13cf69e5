"""Vendor delivery, when vendor endpoints are deployed: signed webhooks to the vendors' HTTP servers
on 127.0.0.1 through the deployed bus rule, queues and functions, in three rounds: first tries
(the AWS calls per delivery); a dead vendor exhausts its schedule (the `local` environment's short
one) and gets everything through ``delivery_ops recover``, while a rate-limited vendor receives at
its limit and a healthy one is not delayed; a vendor answering 500 for a while receives everything,
in order per payment, and a 410 disables the endpoint (event on the bus)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from typing import Callable, Iterator

import boto3

from scripts.local import sample_webhooks
from scripts.local.runner.vendors import answer, failing_first
from scripts.local.scenarios.context import REGION, ScenarioContext
from scripts.local.scenarios.vendors import delivery_ops, out_of_order

DELIVERY_FUNCTIONS = ("delivery_fanout", "delivery_sender")  # function folders of the delivery path


@contextlib.contextmanager
def delivery_alerts(ctx: ScenarioContext) -> Iterator[Callable[[], list[dict]]]:
    """Subscribe a queue of ours to the topic the deployed delivery-alerts rule targets; yields a
    reader of the bus events that reached it (removed again on exit: not part of the stack)."""
    from paycore.delivery import EVENT_SOURCE

    sns = boto3.client("sns", endpoint_url=ctx.platform.endpoint_url, region_name=REGION)
    [rule] = [r for r in ctx.platform.wiring.bus_rules if r.pattern.get("source") == [EVENT_SOURCE]]
    [topic] = [arn for arn in rule.target_arns if ":sns:" in arn]
    url = ctx.sqs.create_queue(QueueName="delivery-alerts-capture-local")["QueueUrl"]
    arn = ctx.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    seen: list[dict] = []

    def events() -> list[dict]:
        while True:
            got = ctx.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return seen
            for message in got:
                seen.append(json.loads(json.loads(message["Body"])["Message"]))
                ctx.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    try:
        yield events
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        ctx.sqs.delete_queue(QueueUrl=url)


def calls_of_delivery(ctx: ScenarioContext) -> dict[str, int]:
    """AWS calls so far of the delivery functions and of their event sources, by operation."""
    total: dict[str, int] = {}
    for counter in (ctx.platform.handler_calls, ctx.platform.platform_calls):
        for function in DELIVERY_FUNCTIONS:
            for key, value in counter.by_caller.get(function, {}).items():
                total[key] = total.get(key, 0) + value
    return total


def run(ctx: ScenarioContext) -> dict:
    """Vendor delivery through the deployed wiring, in three rounds (see the module docstring)."""
    assert ctx.vendor_endpoints is not None, "start_vendors() first"
    vendors, endpoints = ctx.vendor_endpoints, ctx.platform.wiring.vendor_endpoints()
    ctx.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    limited = next(i for i, e in sorted(endpoints.items()) if e.get("rate_limit_per_second"))
    others = [i for i, e in sorted(endpoints.items()) if e["vendor_id"] != endpoints[limited]["vendor_id"]]
    steady, faulty = others[0], next(i for i in others if endpoints[i]["vendor_id"] != endpoints[others[0]]["vendor_id"])
    vendor_of = {i: endpoints[i]["vendor_id"] for i in (limited, steady, faulty)}
    requests: list[sample_webhooks.WebhookRequest] = []

    def sales(tag: str, endpoint_id: str, count: int) -> list[sample_webhooks.WebhookRequest]:
        batch = [ctx.stripe(f"{tag}{n}", vendor=vendor_of[endpoint_id]) for n in range(count)]
        requests.extend(batch)
        return batch

    def iso_now() -> str:
        return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def figure(prefix: str) -> int:
        return ctx.metric(prefix)

    before = {name: figure(name) for name in ("DeliveryAttempts[", "DeliveryExhausted[vendor_id=",
                                               "DeliveryRateLimited[", "DeliveryEndpointDisabled[vendor_id=")}
    requests_before = {e.endpoint_id: len(e.requests) for e in vendors}
    with delivery_alerts(ctx) as bus_events:
        # 1. first-try deliveries to two vendors: the AWS calls per delivery, as measured here
        calls_before = calls_of_delivery(ctx)
        first_try = sales("dlv_base", steady, 3) + sales("dlv_base_c", faulty, 3)
        ctx.send(first_try)
        ctx.platform.drain()
        calls = {k: v - calls_before.get(k, 0) for k, v in calls_of_delivery(ctx).items() if v - calls_before.get(k, 0)}
        first_try_deliveries = sum(len(e.accepted_since(requests_before[e.endpoint_id])) for e in vendors)

        # 2. a dead vendor, a rate-limited one and a healthy one at the same time
        down_since = iso_now()
        vendors[faulty].stop()
        rate = float(endpoints[limited]["rate_limit_per_second"])
        limited_count = max(6, min(30, math.ceil(3 * rate)))
        mark = {e.endpoint_id: len(e.requests) for e in vendors}
        to_limited, to_steady, to_dead = sales("dlv_rate", limited, limited_count), sales("dlv_ok", steady, 3), \
            sales("dlv_dead", faulty, 3)
        ctx.send(to_limited + to_steady + to_dead)
        ctx.platform.drain()  # waits out the dead vendor's whole schedule
        limited_seen = vendors[limited].requests[mark[limited]:]
        steady_seen = vendors[steady].requests[mark[steady]:]
        exhausted_events = [e for e in bus_events() if e["detail-type"] == "DeliveryExhausted"]
        vendors[faulty].start()  # back: everything since it went down, through the ops tool
        recovered = delivery_ops(ctx.platform, "recover", "--endpoint", faulty, "--since", down_since)
        ctx.platform.drain()
        dead_seen = vendors[faulty].requests[mark[faulty]:]

        # 3. a vendor answering 500 for a while (sales, then their refunds behind them), and a 410
        vendors[steady].behave(failing_first(3))
        vendors[faulty].behave(answer(410))
        gone_since = iso_now()
        mark = {e.endpoint_id: len(e.requests) for e in vendors}
        captures = [ctx.paypal_request(f"dlv_ord{n}", custom_id=vendor_of[steady]) for n in range(2)]
        gone = sales("dlv_gone", faulty, 2)
        requests.extend(captures)
        ctx.send(captures + gone)
        ctx.platform.drain(wait_seconds=0)  # the sales are in flight (held after a 500) when the refunds come
        refunds = [ctx.paypal_refund(f"dlv_ref{n}", c.expect.transaction_id, vendor=vendor_of[steady])
                   for n, c in enumerate(captures)]
        requests.extend(refunds)
        ctx.send(refunds)
        ctx.platform.drain()
        flaky_seen = vendors[steady].requests[mark[steady]:]
        gone_seen = vendors[faulty].requests[mark[faulty]:]
        disabled_events = [e for e in bus_events() if e["detail-type"] == "DeliveryEndpointDisabled"]
        gone_listing = delivery_ops(ctx.platform, "list", "--endpoint", faulty, "--since", down_since)
        vendors[steady].behave(answer(200))
        vendors[faulty].behave(answer(200))
        enabled = delivery_ops(ctx.platform, "enable", "--endpoint", faulty)  # the vendor fixed its URL
        after_enable = delivery_ops(ctx.platform, "recover", "--endpoint", faulty, "--since", gone_since)
        ctx.platform.drain()
    after = {name: figure(name) - value for name, value in before.items()}
    order = {c.expect.transaction_id: [r.event_type for r in vendors[steady].delivered()
                                       if r.transaction_id == c.expect.transaction_id] for c in captures}
    return {
        "endpoints": {"rate_limited": limited, "healthy_then_500": steady, "dead_then_410": faulty},
        "sent": len(requests),
        "deliveries": sum(len(e.accepted_since(requests_before[e.endpoint_id])) for e in vendors),
        "attempts": after["DeliveryAttempts["],
        "duplicates_seen_by_vendors": sum(e.duplicates() for e in vendors),
        "unverified_at_vendors": sum(e.unverified() for e in vendors),
        "exhausted": after["DeliveryExhausted[vendor_id="],
        "exhausted_events": len(exhausted_events),
        "recovered": recovered["resent"] + after_enable["resent"],
        "dead_vendor": {"sent": len(to_dead), "received_after_recover": len({r.webhook_id for r in dead_seen
                                                                               if r.status == 200}),
                        "requests": len(dead_seen)},
        "rate_limit": {"per_second": rate, "sent": len(to_limited),
                       "received": len({r.webhook_id for r in limited_seen if r.status == 200}),
                       "most_in_one_second": max(vendors[limited].per_second(limited_seen).values(), default=0),
                       "held_back": after["DeliveryRateLimited["]},
        "healthy_vendor": {"sent": len(to_steady), "received": len({r.webhook_id for r in steady_seen if r.status == 200}),
                           "requests": len(steady_seen),
                           "done_before_rate_limited_vendor": bool(steady_seen and limited_seen and
                                                                   max(r.arrived_at for r in steady_seen)
                                                                   < max(r.arrived_at for r in limited_seen))},
        "failing_vendor": {"answered_500": sum(r.status == 500 for r in flaky_seen),
                           "received": len({r.webhook_id for r in flaky_seen if r.status == 200}),
                           "order_per_payment": order},
        "gone_endpoint": {"requests": len(gone_seen), "answered_410": sum(r.status == 410 for r in gone_seen),
                          "disabled_events": [e["detail"].get("reason") for e in disabled_events
                                              if e["detail"].get("endpoint_id") == faulty],
                          "disabled_metric": after["DeliveryEndpointDisabled[vendor_id="],
                          "not_attempted": sum(1 for i in gone_listing["items"]
                                               if i.get("failure_reason") == "endpoint_disabled"),
                          "enabled_again": enabled["changed"], "recovered_after_enable": after_enable["resent"]},
        "api_calls_per_first_try_delivery": {k: round(v / first_try_deliveries, 2) for k, v in sorted(calls.items())}
        if first_try_deliveries else {},
        "first_try_deliveries": first_try_deliveries,
        "out_of_order": out_of_order(vendors),
        "expected": [r.expect.event_id for r in requests],
    }
