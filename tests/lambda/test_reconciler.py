"""The reconciler: pages and checkpoints, overlap, fetched envelopes through the processor, forged
fetched envelopes, and a provider API answering 401/429/5xx. The providers' APIs are the loopback
fakes of the local platform (scripts/local/fake_provider_apis.py), the real ``stripe`` library
talking to the Stripe one."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from pathlib import Path
from handler_constants import INTERNAL_KEY, NOW_MS, REGION, SECRET_PREFIX

import processor_handler
from paycore import fetched, internal_envelope
from paycore.envelope import parse_envelope
from paycore.ledger import Ledger
from paycore.reconcile import aws as reconcile_aws
from paycore.reconcile import sources
from paycore.reconcile.run import reconcile
from scripts.local import sample_webhooks
from scripts.local.fake_provider_apis import FakeProviderApis

CHECKPOINTS = "reconciler-checkpoints-test"
KEY = {"current": INTERNAL_KEY}
NOW = NOW_MS // 1000


LIFECYCLE = Path(__file__).parent / "data" / "lifecycle"


@pytest.fixture
def apis():
    with FakeProviderApis() as fake:
        yield fake


@pytest.fixture
def table(aws):
    aws.dynamodb.create_table(TableName=CHECKPOINTS, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "provider", "AttributeType": "S"},
                                               {"AttributeName": "row", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "provider", "KeyType": "HASH"},
                                    {"AttributeName": "row", "KeyType": "RANGE"}])
    return reconcile_aws.CheckpointTable(aws.dynamodb, CHECKPOINTS)


def stripe_events(apis, count: int, *, start: int = NOW - 1800, kind: str = "payment_intent.succeeded") -> list[str]:
    ids = []
    for n in range(count):
        event_id = f"evt_rec{n:05d}"
        apis.add("stripe", sample_webhooks.stripe_event(event_id, kind, f"pi_rec{n:05d}", 1000 + n, "EUR", "v1",
                                                        "c1", start + n))
        ids.append(event_id)
    return ids


def stripe_source(apis) -> sources.StripeSource:
    return sources.StripeSource(apis.stripe_key, types=sources.stripe_types(), api_base=apis.base,
                                allow_loopback_http=True)


def run_once(aws, apis, table, **kwargs):
    options = dict(checkpoints=table, recorded=reconcile_aws.LedgerClaims(aws.dynamodb, aws.table),
                   enqueue=reconcile_aws.Queue(aws.sqs, aws.queue_url), internal_key=KEY, now=NOW,
                   interval_seconds=900, lookback_seconds=3600, sleep=lambda s: None)
    source = kwargs.pop("source", None) or stripe_source(apis)
    options.update(kwargs)
    return reconcile(source, **options)


def drain(aws) -> list[dict]:
    messages = []
    while batch := aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", []):
        for message in batch:
            messages.append(message)
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def process(messages, sqs_event, lambda_context) -> None:
    for first in range(0, len(messages), 10):
        chunk = messages[first:first + 10]
        processor_handler.handler(sqs_event([m["Body"] for m in chunk],
                                            [m["Attributes"]["MessageGroupId"] for m in chunk]), lambda_context)


def event_rows(aws) -> list[dict]:
    items = aws.dynamodb.scan(TableName=aws.table)["Items"]
    return [i for i in items if i.get("row_type", {}).get("S") == "event"]


def test_every_page_is_listed_and_each_missing_event_recorded_once_as_fetched(aws, apis, table, sqs_event, lambda_context):
    ids = stripe_events(apis, 230)  # three pages of 100
    report = run_once(aws, apis, table)
    assert (report.pages, report.listed, report.recovered, report.completed) == (3, 230, 230, True)
    messages = drain(aws)
    assert len(messages) == 230 and {m["Attributes"]["MessageGroupId"] for m in messages} == {f"pi_rec{n:05d}" for n in range(230)}
    process(messages, sqs_event, lambda_context)
    rows = event_rows(aws)
    assert sorted(r["timestamp"]["S"].split("#")[1] for r in rows) == sorted(ids)
    headers = rows[0]["signature_headers"]["M"]  # provenance on the ledger row (and so in the archive)
    assert headers[fetched.RUN_HEADER]["S"] == report.run_id and headers[fetched.AT_HEADER]["S"].startswith("20")
    assert table.get("stripe")["checkpoint"] == NOW and table.get("stripe")["cursor"] == ""


def test_a_run_that_crashes_mid_page_resumes_at_that_page_without_advancing_the_checkpoint(aws, apis, table):
    stripe_events(apis, 230)
    queue = reconcile_aws.Queue(aws.sqs, aws.queue_url)
    sent = []

    def crash_on_second_page(entries):
        if len(sent) >= 100:
            raise RuntimeError("the function was stopped")
        sent.extend(entries)
        queue(entries)

    with pytest.raises(RuntimeError):
        run_once(aws, apis, table, enqueue=crash_on_second_page)
    row = table.get("stripe")
    assert row["cursor"] and row["checkpoint"] == 0 and row["window_end"] == NOW  # page 1 done, checkpoint not moved
    resumed = run_once(aws, apis, table, now=NOW + 900)  # the next scheduled run: the same window, at page 2
    assert (resumed.window_end, resumed.pages, resumed.recovered, resumed.completed) == (NOW, 2, 130, True)
    assert len({m["MessageId"] for m in drain(aws)}) == 230
    assert table.get("stripe")["checkpoint"] == NOW


def test_overlapping_windows_and_runs_write_nothing_twice(aws, apis, table, sqs_event, lambda_context):
    stripe_events(apis, 40)
    first = run_once(aws, apis, table)
    again_before_processing = run_once(aws, apis, table, checkpoints=None, since=NOW - 7200, until=NOW)
    assert (first.recovered, again_before_processing.recovered) == (40, 40)
    process(drain(aws), sqs_event, lambda_context)  # SQS deduplicated the second copies (same dedup id)
    assert len(event_rows(aws)) == 40
    later = run_once(aws, apis, table, now=NOW + 900)  # overlaps the first window by the lookback
    assert (later.window_start, later.listed, later.already_recorded, later.recovered) == (NOW - 3600, 40, 40, 0)
    assert drain(aws) == []


def test_a_fetched_event_enqueued_twice_is_recorded_once(aws, apis, table, sqs_event, lambda_context):
    stripe_events(apis, 3)
    run_once(aws, apis, table)
    messages = drain(aws)
    process(messages, sqs_event, lambda_context)
    process(messages, sqs_event, lambda_context)  # a second delivery, past SQS's deduplication window
    assert len(event_rows(aws)) == 3


def test_a_fetched_sale_after_the_refund_is_recorded_and_the_state_stays_refunded(
        aws, apis, table, paypal_envelope, paypal_event, sqs_event, lambda_context):
    when = dt.datetime.fromtimestamp(NOW - 600, dt.timezone.utc)
    refund = paypal_event(event_type="PAYMENT.CAPTURE.REFUNDED", event_id="WH-REFUND-1", capture_id="CAP-R1",
                          value="10.00", currency="EUR")
    processor_handler.handler(sqs_event([paypal_envelope(refund)], ["CAP-R1"]), lambda_context)
    assert Ledger(aws.dynamodb, aws.table).get_state("CAP-R1")["status"] == "awaiting_sale"  # a refund before its sale
    apis.add("paypal", sample_webhooks.paypal_event("WH-SALE-1", "PAYMENT.CAPTURE.COMPLETED", "CAP-R1", 1000, "EUR",
                                                    "v1", "P1", when - dt.timedelta(minutes=5)))
    source = sources.PayPalSource(*apis.paypal_client, api_base=apis.base, allow_loopback_http=True)
    report = run_once(aws, apis, table, source=source)
    assert report.recovered == 1
    process(drain(aws), sqs_event, lambda_context)
    assert {r["timestamp"]["S"].split("#")[1] for r in event_rows(aws)} == {"WH-REFUND-1", "WH-SALE-1"}
    state = Ledger(aws.dynamodb, aws.table).get_state("CAP-R1")
    assert state["status"] == "refunded", state  # the fetched sale completes the story; never back to succeeded


def test_a_fetched_paypal_refund_joins_its_capture_s_fifo_group_as_its_webhook_would(aws, apis, table):
    """The webhook route's template puts a refund in the group of the capture its `up` link names
    (the provider's group rules, paycore.providers.group_id_of); the reconciler enqueues a fetched
    refund in that group too, not in one of the refund's own id."""
    refund = json.loads((LIFECYCLE / "paypal" / "PAYMENT.CAPTURE.REFUNDED.json").read_text())
    refund["create_time"] = dt.datetime.fromtimestamp(NOW - 600, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    apis.add("paypal", json.dumps(refund).encode())
    source = sources.PayPalSource(*apis.paypal_client, api_base=apis.base, allow_loopback_http=True)
    assert run_once(aws, apis, table, source=source).recovered == 1
    [message] = drain(aws)
    assert refund["resource"]["id"] == "1JU08902781691411"
    assert message["Attributes"]["MessageGroupId"] == "3C679366HH908993F"  # the capture of its `up` link


def test_paypal_pages_follow_the_next_links_with_an_oauth2_token(aws, apis, table):
    for n in range(650):
        apis.add("paypal", sample_webhooks.paypal_event(f"WH-{n:05d}", "PAYMENT.CAPTURE.COMPLETED", f"CAP-{n:05d}",
                                                        100, "USD", "v1", "P1",
                                                        dt.datetime.fromtimestamp(NOW - 900 - n, dt.timezone.utc)))
    source = sources.PayPalSource(*apis.paypal_client, api_base=apis.base, allow_loopback_http=True)
    report = run_once(aws, apis, table, source=source)
    assert (report.pages, report.listed, report.recovered) == (3, 650, 650)
    assert len(drain(aws)) == 650


@pytest.mark.parametrize("forge", ["unsigned", "direct_kind", "other_key", "body_changed"])
def test_a_forged_fetched_envelope_is_rejected_quarantined_and_counted(aws, sqs_event, lambda_context, capsys, forge):
    raw = sample_webhooks.stripe_event("evt_forged", "payment_intent.succeeded", "pi_victim", 999_999, "EUR", "v9",
                                       "c9", NOW)
    unsigned = fetched.envelope(provider="stripe", event_id="evt_forged", raw=raw, run_id="r1", fetched_at_ms=NOW_MS)
    envelope = {
        "unsigned": unsigned,
        "direct_kind": internal_envelope.sign(unsigned, "direct", KEY),
        "other_key": fetched.sign(unsigned, {"current": "x" * 40}),
        "body_changed": fetched.sign(fetched.envelope(provider="stripe", event_id="evt_forged", raw=raw.replace(b"999999", b"1000"),
                                                      run_id="r1", fetched_at_ms=NOW_MS), KEY),
    }[forge]
    body = envelope.to_json()
    if forge == "body_changed":  # the signature of one body on another
        signed_other = parse_envelope(body)
        body = json.dumps({**json.loads(unsigned.to_json()), "headers": dict(signed_other.headers)})
    processor_handler.handler(sqs_event([body], ["pi_victim"]), lambda_context)
    assert event_rows(aws) == []
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/").get("Contents", [])]
    assert len(keys) == 1
    document = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=keys[0])["Body"].read())
    assert document["reason"] == "internal_signature_mismatch"
    assert '"reason":"internal_signature_mismatch"' in capsys.readouterr().out.replace(" ", "")


def test_a_genuine_fetched_envelope_is_recorded_like_its_webhook(aws, sqs_event, lambda_context, stripe_envelope):
    raw = sample_webhooks.stripe_event("evt_same", "payment_intent.succeeded", "pi_same", 1234, "EUR", "v1", "c1", NOW)
    envelope = fetched.sign(fetched.envelope(provider="stripe", event_id="evt_same", raw=raw, run_id="r1",
                                             fetched_at_ms=NOW_MS), KEY)
    processor_handler.handler(sqs_event([envelope.to_json()], ["pi_same"]), lambda_context)
    state = Ledger(aws.dynamodb, aws.table).get_state("pi_same")
    assert (state["status"], int(state["amount"]), state["currency"], state["vendor_id"]) == ("succeeded", 1234, "EUR", "v1")


def test_an_api_answering_429_then_5xx_is_retried_honouring_retry_after(aws, apis, table):
    stripe_events(apis, 5)
    apis.faults = [(429, 7), (503, None)]
    slept = []
    report = run_once(aws, apis, table, sleep=slept.append)
    assert slept == [7.0, 2.0] and report.recovered == 5 and report.completed


@pytest.mark.parametrize("faults,reason", [([(401, None)], "unauthorized"), ([(500, None)] * 4, "server_error"),
                                           ([(429, 5)] * 4, "rate_limited")])
def test_an_api_that_keeps_failing_fails_the_run_without_moving_the_checkpoint(aws, apis, table, capsys, faults, reason):
    stripe_events(apis, 5)
    table.save("stripe", {"checkpoint": NOW - 900, "window_start": 0, "window_end": 0, "cursor": ""})
    apis.faults = list(faults)
    with pytest.raises(sources.SourceError) as failed:
        run_once(aws, apis, table)
    assert failed.value.report.error == reason and table.get("stripe")["checkpoint"] == NOW - 900
    assert drain(aws) == []
    reconcile_aws.report_metrics(failed.value.report, now=NOW, interval_seconds=900)
    out = capsys.readouterr().out
    assert f'"reason":"{reason}"' in out.replace(" ", "") and reconcile_aws.RECONCILE_FAILED in out
    assert reconcile_aws.CHECKPOINT_AGE in out


def test_the_handler_runs_the_provider_the_schedule_names(aws, apis, table, monkeypatch, lambda_context, capsys):
    import importlib

    aws.secretsmanager.create_secret(Name=f"{SECRET_PREFIX}stripe/api", SecretString=json.dumps({"current": apis.stripe_key}))
    monkeypatch.setenv("CHECKPOINT_TABLE", CHECKPOINTS)
    monkeypatch.setenv("STRIPE_API_BASE", apis.base)
    monkeypatch.setenv("ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("AWS_REGION", REGION)
    import reconciler_handler

    handler = importlib.reload(reconciler_handler)
    stripe_events(apis, 2, start=int(dt.datetime.now(dt.timezone.utc).timestamp()) - 60)
    result = handler.handler({"provider": "stripe"}, lambda_context)
    assert result["recovered"] == 2 and result["completed"]
    assert "ReconcileRecovered" in capsys.readouterr().out


def test_a_scheduled_stripe_run_lists_only_what_stripe_could_not_deliver(aws, apis, table):
    ids = stripe_events(apis, 6)
    for event_id in ids[:4]:
        apis.delivered(event_id)  # answered 200 by the platform
    source = sources.StripeSource(apis.stripe_key, types=sources.stripe_types(), api_base=apis.base,
                                  allow_loopback_http=True, only_undelivered=True)
    report = run_once(aws, apis, table, source=source)
    assert (report.listed, report.recovered) == (2, 2)
    assert sorted(json.loads(m["Body"])["request_id"] for m in drain(aws)) == [f"fetched-stripe-{e}" for e in ids[4:]]


def test_a_run_short_of_time_stops_between_pages_and_the_next_resumes(aws, apis, table):
    stripe_events(apis, 250)
    first = run_once(aws, apis, table, time_left=lambda: 10.0)  # less than a page's budget left after page 1
    assert (first.pages, first.recovered, first.completed) == (1, 100, False)
    assert table.get("stripe")["cursor"] and table.get("stripe")["checkpoint"] == 0
    second = run_once(aws, apis, table, now=NOW + 900)
    assert (second.pages, second.recovered, second.completed) == (2, 150, True)
    assert len({json.loads(m["Body"])["request_id"] for m in drain(aws)}) == 250
