"""Every non-API-Gateway trigger of the stack, against AWS's samples (tests/aws_samples/): the
inventory of the synthesized stack's triggers, the transcribed samples against Powertools' models,
and the events the local runner and the emulator produce for each trigger, driven over the stack's
own queues, table, pipes, bus, rules and subscriptions in the emulator (tests/stack_triggers.py)."""

from __future__ import annotations

import gzip
import hashlib
import json

import boto3
import pytest

import aws_shapes
from scripts.local.runner import event_sources
from stack_triggers import ACCOUNT, deploy, local_stack

#: The trigger kinds the runner drives and these tests compare with a sample; a new kind (a rule
#: invoking a function, an SNS subscription of a function, an input transformer...) needs its sample.
KNOWN_KINDS = {
    "sqs-fifo-esm": "sqs/SqsFifo.json",
    "sqs-standard-esm": "sqs/Sqs.json",
    "pipe-stream-to-lambda": "dynamodb/DynamoDBUpdate.json (as a JSON array)",
    "pipe-stream-to-bus": "eventbridge/EventBridgeEvent.json (what the bus's rules deliver)",
    "rule-to-sqs": "eventbridge/EventBridgeEvent.json (the SQS message body)",
    "rule-to-sns": "eventbridge/EventBridgeEvent.json (the SNS message)",
    "sns-to-sqs": "sns/SnsSqsNotification.json (the SQS message body)",
    "sns-to-email": "- (delivered outside AWS)",
    "async-failure-destination": "- (no trigger of the stack invokes a function asynchronously)",
    "schedule-to-lambda": "scheduler/ScheduleInput.json (the schedule's Input as the event; dev and prod only)",
}
SYNCHRONOUS = {"sqs-fifo-esm", "sqs-standard-esm", "pipe-stream-to-lambda"}


@pytest.fixture(scope="module")
def stack():
    return local_stack()


def test_every_trigger_of_the_stack_is_a_kind_with_a_sample(stack):
    triggers = stack.triggers()
    unknown = [t for t in triggers if t.kind not in KNOWN_KINDS]
    assert not unknown, f"triggers without a sample-backed test: {unknown}"
    kinds = {t.kind for t in triggers}
    assert {"sqs-fifo-esm", "sqs-standard-esm", "pipe-stream-to-lambda", "pipe-stream-to-bus", "rule-to-sqs",
            "sns-to-sqs"} <= kinds
    invoked = {(t.kind, t.function, t.source) for t in triggers if t.kind in SYNCHRONOUS}
    assert invoked == {
        ("sqs-fifo-esm", "processor", "webhooks-local.fifo"), ("sqs-fifo-esm", "delivery_sender", "deliveries-local.fifo"),
        ("sqs-standard-esm", "notifier", "payment-notifications-local"),
        ("sqs-standard-esm", "delivery_fanout", "delivery-events-local"),
        ("pipe-stream-to-lambda", "archiver", "payment-transactions-local")}


def test_no_trigger_invokes_a_function_asynchronously_so_the_failure_destinations_stay_empty(stack):
    """Every function has an on-failure destination for asynchronous invocations, but no trigger of
    the stack invokes one asynchronously (queues and pipes invoke synchronously; rules and topics
    deliver to queues and topics), so the invocation records AWS would put there never occur."""
    triggers = stack.triggers()
    destinations = {t.function for t in triggers if t.kind == "async-failure-destination"}
    assert destinations and all(t.target == "payment-lambda-failures-local" for t in triggers
                                if t.kind == "async-failure-destination")
    assert not [t for t in triggers if t.kind not in SYNCHRONOUS and t.function is not None
                and t.kind != "async-failure-destination"]
    pipes = stack.resources["aws_pipes_pipe"].values()
    assert {p.get("target_parameters", {}).get("lambda_function_parameters", {}).get("invocation_type")
            for p in pipes if "lambda_function_parameters" in p.get("target_parameters", {})} == {"REQUEST_RESPONSE"}


# --------------------------------------------------------------------------- the samples themselves

def test_transcribed_samples_have_the_fields_of_powertools_models():
    """The transcribed samples against an independent reading of the same AWS events (the pinned
    Powertools parser models): every key a model field, every required field there."""
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SnsNotificationModel, SqsModel
    from aws_lambda_powertools.utilities.parser.models.sqs import SqsAttributesModel, SqsMsgAttributeModel

    fifo = aws_shapes.load("sqs/SqsFifo.json", message_id="m", receipt_handle="r", body="b", sent_timestamp="1",
                           sequence_number="2", message_group_id="g", sender_id="s", message_deduplication_id="d",
                           first_receive_timestamp="3", md5_of_body="x", partition="aws", region="us-east-1",
                           account_id=ACCOUNT, queue_name="q.fifo")
    SqsModel.model_validate(fifo)
    assert set(fifo["Records"][0]["attributes"]) <= set(SqsAttributesModel.model_fields)
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= set(fifo["Records"][0]["attributes"])
    attribute = aws_shapes.load("sqs/SqsMessageAttribute.json", value="1", data_type="Number")
    assert set(attribute) <= set(SqsMsgAttributeModel.model_fields)
    SqsMsgAttributeModel.model_validate(attribute)

    event = aws_shapes.load("eventbridge/EventBridgeEvent.json", id="i", detail_type="T", source="s", account_id=ACCOUNT,
                            time="2026-12-07T00:00:00Z", region="us-east-1")
    EventBridgeModel.model_validate(event)
    required = {f.alias or name for name, f in EventBridgeModel.model_fields.items() if f.is_required()}
    assert set(event) == required
    scheduled = aws_shapes.load("eventbridge/ScheduledEvent.json", account_id=ACCOUNT, region="us-east-1",
                                partition="aws", rule="r")
    assert set(event) - set(scheduled) == {"version"} and set(scheduled) <= set(event)  # SAM's older sample

    notification = aws_shapes.load("sns/SnsSqsNotification.json", message_id="m", partition="aws", region="us-east-1",
                                   account_id=ACCOUNT, topic="t", subject="s", message="{}", timestamp="2026-12-07T00:00:00.000Z",
                                   signature_version="1", signature="x", signing_cert_url="https://sns.us-east-1.amazonaws.com/c.pem",
                                   unsubscribe_url="https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                                   attribute_name="vendor_id", attribute_value="v")
    SnsNotificationModel.model_validate(notification)
    lambda_form = aws_shapes.load("sns/Sns.json", partition="aws", region="us-east-1", accountId=ACCOUNT, account_id=ACCOUNT,
                                  topic="t", subject="s", message="m")["Records"][0]["Sns"]
    assert {k.replace("URL", "Url") for k in notification} == set(lambda_form)


def test_comparison_names_extra_absent_and_retyped_fields():
    sample = {"a": {}, "b": None, "c": "x", "d": [1]}
    assert aws_shapes.differences({"a": {}, "b": None, "c": "y", "d": [2, 3]}, sample) == []
    assert sorted(aws_shapes.differences({"a": None, "c": 1, "d": ["2"], "e": 0}, sample)) == [
        "$.a: null, AWS sends object", "$.b: absent, AWS sends it", "$.c: number, AWS sends string",
        "$.d[]: string, AWS sends number", "$.e: not sent by AWS"]
    assert aws_shapes.differences({"when": b"x"}, {"when": "x"}) == ["$.when: not JSON (bytes), AWS sends string"]
    assert aws_shapes.attribute_values({"k": {"B": "AA=="}, "m": {"M": {"n": {"N": 5}}}}, "$.i") == [
        "$.i.m.M.n.N: number, AWS sends string"]


# --------------------------------------------------------------------------- the runner over the stack's triggers

@pytest.fixture(scope="module")
def emulator():
    from scripts.local import deploy as local_deploy

    with local_deploy.LocalEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def deployed(stack, emulator):
    return deploy(stack, emulator.endpoint_url)


@pytest.fixture
def platform(deployed, emulator, monkeypatch):
    """The runner over the deployed triggers; each function's handler records its events."""
    from scripts.local.runner.platform import LocalPlatform

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    running = LocalPlatform(deployed, emulator.endpoint_url)
    running.received = {code: [] for code in running.wiring.functions}
    for code in running.wiring.functions:
        running.functions._handlers[code] = lambda event, context, code=code: running.received[code].append(event)
    yield running
    for source in running.wiring.event_sources:  # leave the queues empty for the next test
        running.sqs.purge_queue(QueueUrl=source.queue.url)


def client(service, emulator):
    return boto3.client(service, endpoint_url=emulator.endpoint_url, region_name="us-east-1")


def source_of(platform, function):
    [source] = [s for s in platform.wiring.event_sources if s.function == function]
    return source


def sqs_sample(source):
    return aws_shapes.sqs_sample(source.queue.name, source.queue.fifo)


def stream_sample(platform):
    return aws_shapes.stream_sample(platform.wiring.table_name)


def eventbridge_sample():
    return aws_shapes.eventbridge_sample()


@pytest.mark.parametrize("function", ["processor", "delivery_sender", "notifier", "delivery_fanout"])
def test_each_queue_mapping_invokes_its_function_with_the_sqs_event_aws_sends(platform, emulator, function):
    """A batch of a FIFO or a standard queue, with and without message attributes (the DLQ redrive
    adds `redrive_count`), is the sample's: attributes per queue type, Lambda's attribute form."""
    source = source_of(platform, function)
    sqs = client("sqs", emulator)
    fifo = {"MessageGroupId": "g-1", "MessageDeduplicationId": "d-1"} if source.queue.fifo else {}
    sqs.send_message(QueueUrl=source.queue.url, MessageBody='{"plain": true}', **fifo)
    sqs.send_message(QueueUrl=source.queue.url, MessageBody='{"redriven": true}',
                     MessageAttributes={"redrive_count": {"DataType": "Number", "StringValue": "1"}},
                     **({"MessageGroupId": "g-1", "MessageDeduplicationId": "d-2"} if fifo else {}))
    polled = 0
    while count := event_sources.poll(platform.sqs, platform.functions, source):
        polled += count
    assert polled == 2
    records = [r for event in platform.received[function] for r in event["Records"]]
    assert len(records) == 2
    sample = sqs_sample(source)
    for event in platform.received[function]:
        assert aws_shapes.differences(event, sample, maps=aws_shapes.sqs_maps()) == []
    redriven = next(r for r in records if "redriven" in r["body"])
    assert redriven["messageAttributes"] == {"redrive_count": {
        "stringValue": "1", "stringListValues": [], "binaryListValues": [], "dataType": "Number"}}
    if source.queue.fifo:
        assert {r["attributes"]["MessageGroupId"] for r in records} == {"g-1"}
        assert [r["attributes"]["MessageDeduplicationId"] for r in records] == ["d-1", "d-2"]


def put_ledger_rows(platform, emulator, transaction_id):
    """A ledger event row (raw payload as binary) and the transaction's state row, as the processor writes them."""
    table = boto3.resource("dynamodb", endpoint_url=emulator.endpoint_url, region_name="us-east-1").Table(
        platform.wiring.table_name)
    raw = json.dumps({"id": f"evt_{transaction_id}", "type": "payment_intent.succeeded"}).encode()
    table.put_item(Item={"transaction_id": transaction_id, "timestamp": f"2026-12-07T00:00:00Z#evt_{transaction_id}",
                         "row_type": "event", "provider": "stripe", "event_id": f"evt_{transaction_id}",
                         "received_at": 1796601600000, "raw_gzip": gzip.compress(raw, mtime=0),
                         "raw_sha256": hashlib.sha256(raw).hexdigest(), "signature_headers": {"stripe-signature": "t=1,v1=0"}})
    table.put_item(Item=sale_state_row(transaction_id))


def sale_state_row(transaction_id: str) -> dict:
    """The state row the processor writes when a payment's processing event is followed by its sale."""
    from paycore import lifecycle
    from paycore.model import Transaction

    payment, applied = lifecycle.Payment(transaction_id), None
    for n, (status, when) in enumerate((("processing", "2026-12-07T00:00:00.000Z"), ("succeeded", "2026-12-07T00:00:01.000Z"))):
        applied = lifecycle.apply(payment, Transaction(transaction_id, "stripe", f"evt_{transaction_id}_{n}",
                                                       f"payment_intent.{status}", status, 1999, "USD", "vendor-a",
                                                       "cus-1", when, 1796601600000))
        assert applied is not None
        payment = applied.payment
    item = lifecycle.to_item(payment, bus_kinds=applied.bus_kinds, announced_from=applied.announced_from)
    return {k: v for k, v in item.items() if v is not None}


def test_pipe_a_hands_the_archiver_a_json_array_of_the_stream_records_its_filter_passes(platform, emulator):
    put_ledger_rows(platform, emulator, "pi_pipe_a")
    platform.pipes.run()
    [batch] = platform.received["archiver"]  # the stream is read from its start: every row written so far
    assert isinstance(batch, list)
    [record] = [r for r in batch if r["dynamodb"]["Keys"]["transaction_id"] == {"S": "pi_pipe_a"}]
    assert all(r["dynamodb"]["NewImage"]["row_type"] == {"S": "event"} for r in batch)  # the state row is filtered out
    assert record["dynamodb"]["NewImage"]["row_type"] == {"S": "event"}
    assert aws_shapes.differences(batch, stream_sample(platform), maps=aws_shapes.stream_maps("$[]")) == []
    assert record["eventSourceARN"] == platform.wiring.stream_arn


def test_pipe_b_puts_the_state_row_on_the_bus_and_the_rules_deliver_the_whole_event(platform, emulator):
    """Pipe B's input template makes the detail; the rule targets (no input transformer) get the
    whole EventBridge event as the SQS body, and their functions the standard-queue event."""
    from paycore.events import DETAIL_FIELDS, DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE, announcements_of

    put_ledger_rows(platform, emulator, "pi_pipe_b")
    platform.pipes.run()
    for function in ("notifier", "delivery_fanout"):
        source = source_of(platform, function)
        while event_sources.poll(platform.sqs, platform.functions, source):
            pass
        records = []
        for event in platform.received[function]:
            assert aws_shapes.differences(event, sqs_sample(source), maps=aws_shapes.sqs_maps()) == []
            records += event["Records"]
        [body] = [b for b in map(json.loads, (r["body"] for r in records)) if b["detail"]["transaction_id"] == "pi_pipe_b"]
        assert aws_shapes.differences(body, eventbridge_sample(), maps={"$.detail": None}) == []
        assert (body["source"], body["detail-type"], body["account"]) == (DOMAIN_EVENT_SOURCE, DOMAIN_EVENT_DETAIL_TYPE, ACCOUNT)
        detail = body["detail"]
        assert list(detail) == list(DETAIL_FIELDS)
        assert {k: detail[k] for k in ("transaction_id", "vendor_id", "customer_id", "old_status", "new_status",
                                       "amount", "currency", "occurred_at", "net_amount", "seq", "bus_kinds")} == {
            "transaction_id": "pi_pipe_b", "vendor_id": "vendor-a", "customer_id": "cus-1", "old_status": "processing",
            "new_status": "succeeded", "amount": "1999", "currency": "USD", "occurred_at": "2026-12-07T00:00:01.000Z",
            "net_amount": "1999", "seq": "1", "bus_kinds": ["succeeded"]}
        [sale] = announcements_of(detail)  # the list, as DynamoDB JSON (an unquoted placeholder)
        assert (sale["kind"], sale["seq"], sale["amount"], sale["captured_amount"]) == ("succeeded", 1, 1999, 1999)
    archived = [r["dynamodb"]["Keys"]["transaction_id"]["S"] for batch in platform.received["archiver"] for r in batch]
    assert "pi_pipe_b" in archived


def test_the_vendor_topic_delivers_the_notification_json_to_the_subscribed_vendor_s_queue_only(platform, emulator, stack):
    """SNS -> SQS without raw delivery: the body is the notification JSON; the subscription's filter
    policy on `vendor_id` keeps the other vendors' queues empty."""
    sns, sqs = client("sns", emulator), client("sqs", emulator)
    topic = next(t for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":payment-vendor-notifications-local"))
    sns.publish(TopicArn=topic["TopicArn"], Message='{"type": "payment.status_changed"}', Subject="Payment succeeded: pi_1",
                MessageAttributes={"vendor_id": {"DataType": "String", "StringValue": "vendor-a"}})
    sns.publish(TopicArn=topic["TopicArn"], Message='{"no": "vendor"}')
    received = {}
    for vendor in ("vendor-a", "vendor-b", "vendor-c"):
        url = sqs.get_queue_url(QueueName=f"vendor-capture-{vendor}-local")["QueueUrl"]
        received[vendor] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [len(received[v]) for v in ("vendor-a", "vendor-b", "vendor-c")] == [1, 0, 0]
    body = json.loads(received["vendor-a"][0]["Body"])
    sample = aws_shapes.load(
        "sns/SnsSqsNotification.json", message_id="m", partition="aws", region="us-east-1", account_id=ACCOUNT, topic="t",
        subject="s", message="{}", timestamp="t", signature_version="1", signature="x", signing_cert_url="u",
        unsubscribe_url="u", attribute_name="vendor_id", attribute_value="v")
    assert aws_shapes.differences(body, sample, maps={"$.MessageAttributes": sample["MessageAttributes"]["vendor_id"]}) == []
    assert body["MessageAttributes"] == {"vendor_id": {"Type": "String", "Value": "vendor-a"}}


def test_every_event_the_runner_built_is_json(platform, emulator):
    """Lambda hands a function JSON: the runner's invoke refuses what JSON cannot carry."""
    with pytest.raises(TypeError):
        platform.functions.invoke("archiver", [{"dynamodb": {"NewImage": {"raw": {"B": b"\x00"}}}}])
    assert platform.received["archiver"] == []  # refused before the handler


# --------------------------------------------------------------------------- what the emulator and the runner decide

def test_the_ingest_queue_drops_a_duplicate_within_the_dedup_window_and_keeps_each_group_in_order(platform, emulator):
    """SQS FIFO (Amazon SQS developer guide, "Using the message deduplication ID" and "Using the
    message group ID"): a second message with the same deduplication ID within 5 minutes is
    accepted and not delivered; a group's messages come in order, none while one is in flight."""
    source = source_of(platform, "processor")
    sqs = client("sqs", emulator)
    for body, group, dedup in (("a1", "g-a", "d-a1"), ("a1-copy", "g-a", "d-a1"), ("a2", "g-a", "d-a2"), ("b1", "g-b", "d-b1")):
        sqs.send_message(QueueUrl=source.queue.url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup)
    first = sqs.receive_message(QueueUrl=source.queue.url, MaxNumberOfMessages=1, VisibilityTimeout=30)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    others = sqs.receive_message(QueueUrl=source.queue.url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert [m["Body"] for m in others] == ["b1"]  # a2 waits behind a1, in flight
    sqs.delete_message(QueueUrl=source.queue.url, ReceiptHandle=first[0]["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=source.queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["a2"]  # the copy of a1 was never delivered


@pytest.mark.parametrize(("response", "failed"), [
    (None, set()), ({}, set()), ({"batchItemFailures": []}, set()), ({"batchItemFailures": None}, set()),
    ({"batchItemFailures": [{"itemIdentifier": "second"}]}, {"second"}),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"first", "second"}),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, {"first", "second"}),
    ({"batchItemFailures": [{"id": "second"}]}, {"first", "second"}),
    ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, {"first", "second"}),
])
def test_a_partial_batch_response_is_read_as_lambda_reads_it(response, failed):
    """Lambda developer guide, "Handling errors for an SQS event source in Lambda": success for no
    response or no failures; a malformed or unknown itemIdentifier fails the whole batch."""
    assert event_sources.failed_ids(response, ["first", "second"]) == failed


def test_the_mapping_deletes_what_succeeded_and_returns_the_failures_to_the_queue(platform, emulator):
    source = source_of(platform, "notifier")
    sqs = client("sqs", emulator)
    for body in ("ok", "fails"):
        sqs.send_message(QueueUrl=source.queue.url, MessageBody=body)
    platform.functions._handlers["notifier"] = lambda event, context: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "fails"]}
    assert event_sources.poll(platform.sqs, platform.functions, source) == 2
    left = sqs.receive_message(QueueUrl=source.queue.url, MaxNumberOfMessages=10,
                               AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in left] == [("fails", "2")]


def stream_records_for(platform, emulator, items):
    table = boto3.resource("dynamodb", endpoint_url=emulator.endpoint_url, region_name="us-east-1").Table(
        platform.wiring.table_name)
    for item in items:
        table.put_item(Item=item)
    return platform.pipes._stream_records()


def test_the_pipes_filters_agree_with_an_independent_event_pattern_engine(platform, emulator):
    """Pipes filter DynamoDB stream records with event patterns (EventBridge user guide, "Event
    filtering in Amazon EventBridge Pipes"): the runner applies the deployed patterns with
    paycore's matcher; moto's EventBridge pattern engine, written apart from it, agrees record by record."""
    from moto.events.models import EventPattern

    from scripts.local.runner.eventbridge import matches_pattern

    records = stream_records_for(platform, emulator, [
        {"transaction_id": "pi_f1", "timestamp": "STATE", "row_type": "state", "status": status, **extra}
        for status, extra in (("succeeded", {}), ("processing", {}), ("refunded", {"previous_status": "succeeded"}),
                              ("failed", {"vendor_id": "unknown"}))
    ] + [{"transaction_id": "pi_f2", "timestamp": "t#evt", "row_type": "event"},
         {"transaction_id": "pi_f3", "timestamp": "t#mark", "row_type": "marker"}])
    assert len(records) >= 6
    checked = 0
    for pipe in platform.wiring.pipes:
        for pattern in pipe.patterns:
            engine = EventPattern.load(json.dumps(pattern))
            for record in records:
                assert matches_pattern(pattern, record) == engine.matches_event(record), (pipe.name, record["dynamodb"])
                checked += 1
    assert checked >= 12


def test_the_rules_route_the_domain_events_as_their_patterns_say(platform, emulator):
    """The deployed rules, evaluated by the emulator (EventBridge user guide, "Amazon EventBridge
    event patterns": anything-but, value lists, a list value matching by intersection): every
    domain event of a routable vendor and currency reaches the notifications queue (a watch of a
    refund held for its sale too); an unroutable vendor or currency does not; every event that
    announces a deliverable kind reaches the delivery-events queue."""
    from paycore.events import DOMAIN_EVENT_DETAIL_TYPE, DOMAIN_EVENT_SOURCE
    from scripts.local.runner.eventbridge import matches_pattern

    events, sqs = client("events", emulator), client("sqs", emulator)
    bus = next(p.target_bus for p in platform.wiring.pipes if p.target_bus)
    details = {"ok": {"bus_kinds": ["succeeded"], "vendor_id": "vendor-a", "currency": "USD"},
               "unknown-vendor": {"bus_kinds": ["succeeded"], "vendor_id": "unknown", "currency": "USD"},
               "no-currency": {"bus_kinds": ["succeeded"], "vendor_id": "vendor-a", "currency": "XXX"},
               "refund": {"bus_kinds": ["succeeded", "refunded"], "vendor_id": "vendor-a", "currency": "USD"},
               "watch": {"bus_kinds": ["awaiting_sale"], "vendor_id": "", "currency": ""}}
    events.put_events(Entries=[{"Source": DOMAIN_EVENT_SOURCE, "DetailType": DOMAIN_EVENT_DETAIL_TYPE, "EventBusName": bus,
                                "Detail": json.dumps({"transaction_id": tag, **detail})} for tag, detail in details.items()])
    reached = {}
    for function in ("notifier", "delivery_fanout"):
        url = source_of(platform, function).queue.url
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        reached[function] = sorted(b["detail"]["transaction_id"] for b in bodies)
        [rule] = [r for r in platform.wiring.bus_rules if any(t.endswith(":" + url.rsplit("/", 1)[-1]) for t in r.target_arns)]
        assert reached[function] == sorted(b["detail"]["transaction_id"] for b in bodies
                                           if matches_pattern(rule.pattern, b))
    assert reached == {"notifier": ["ok", "refund", "watch"],
                       "delivery_fanout": ["no-currency", "ok", "refund", "unknown-vendor"]}


def test_every_test_the_emulator_table_names_exists():
    """lambda_src/README.md, "Where the emulator and the runner decide what AWS decides": each
    row names tests that exist."""
    import re

    from support import ROOT

    readme = (ROOT / "lambda_src" / "README.md").read_text()
    section = readme[readme.index("## Where the emulator and the runner decide what AWS decides"):]
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", section)
    assert len(named) >= 15
    missing = [f"{path}::{name}" for path, name in named
               if not re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE)]
    assert missing == []


def test_the_reconcilers_schedules_send_the_event_of_the_sample_and_local_runs_none():
    """EventBridge Scheduler invokes the reconciler with each schedule's Input as the event
    (scheduler/SOURCES.md); the local stack has no schedule (disabled feature reconcile_schedules)
    and its runner invokes the reconciler with the same event."""
    from stack_triggers import stack_of

    dev = stack_of("dev")
    schedules = [t for t in dev.triggers() if t.kind == "schedule-to-lambda"]
    assert {(t.function, t.source) for t in schedules} == {("reconciler", "reconcile-stripe-dev"),
                                                           ("reconciler", "reconcile-paypal-dev")}
    for schedule in dev.resources["aws_scheduler_schedule"].values():
        event = json.loads(schedule["target"]["input"])
        sample = aws_shapes.load("scheduler/ScheduleInput.json", provider=event["provider"])
        assert event == sample
    assert not [t for t in local_stack().triggers() if t.kind == "schedule-to-lambda"]
