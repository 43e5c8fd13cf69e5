"""The processor against moto: verify -> normalize -> ledger, quarantine, FIFO partial failures."""
from __future__ import annotations

import hashlib
import json
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import botocore.endpoint
import pytest
from conftest import direct_envelope
from handler_constants import NOW_MS, NOW_S
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend

import processor_handler
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from paycore.providers import direct
from paycore import rawcodec
from paycore.ledger import Ledger
from paycore.model import iso_from_epoch_ms


def run(event, lambda_context):
    return processor_handler.handler(event, lambda_context)


def failed_ids(response) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def ledger(aws) -> Ledger:
    return Ledger(aws.dynamodb, aws.table)


def emf_blobs(text: str) -> list[dict]:
    blobs = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_total(text: str, name: str, **dims) -> float:
    total = 0.0
    for blob in emf_blobs(text):
        names = [m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        if name in names and all(blob.get(k) == v for k, v in dims.items()):
            value = blob[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def quarantined(aws) -> dict[str, dict]:
    listing = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/")
    return {
        o["Key"]: json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=o["Key"])["Body"].read())
        for o in listing.get("Contents", [])
    }


# ---------------------------------------------------------------- happy path


def test_signed_stripe_event_is_recorded_with_event_and_state_rows(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    body = stripe_envelope(stripe_event())
    response = run(sqs_event([body]), lambda_context)
    assert response == {"batchItemFailures": []}

    events = ledger(aws).get_events("pi_1")
    assert len(events) == 1
    row = events[0]
    assert row["timestamp"] == f"{iso_from_epoch_ms((NOW_S - 2) * 1000)}#evt_1"
    assert (row["row_type"], row["status"], row["amount"], row["currency"], row["received_at"]) == ("event", "succeeded", 1999, "EUR", NOW_MS)
    assert "raw_gzip" not in row and row["raw_zd1"]  # compressed with the zd1 dictionary
    raw = rawcodec.unpack(row)
    assert hashlib.sha256(raw).hexdigest() == row["raw_sha256"]
    assert (row["event_id"], row["occurred_at"]) == ("evt_1", iso_from_epoch_ms((NOW_S - 2) * 1000))  # from the sort key
    assert json.loads(raw)["id"] == "evt_1"
    assert row["signature_headers"]["stripe-signature"].startswith(f"t={NOW_S},v1=")
    assert "expires_at" not in row  # the ledger keeps every event: redelivery is a duplicate at any age

    state = ledger(aws).get_state("pi_1")
    assert (state["status"], state["vendor_key"], state["customer_key"], state["amount"]) == ("succeeded", "vendor_1", "cus_1", 1999)
    assert "previous_status" not in state  # first state of the transaction
    assert metric_total(capsys.readouterr().out, "SuccessfulTransactions") == 1


def test_paypal_event_is_recorded(aws, lambda_context, paypal_event, paypal_envelope, sqs_event):
    response = run(sqs_event([paypal_envelope(paypal_event(value="10.50"))]), lambda_context)
    assert response == {"batchItemFailures": []}
    state = ledger(aws).get_state("CAP1")
    assert (state["status"], state["amount"], state["currency"]) == ("succeeded", 1050, "USD")


def test_vendor_gsi_finds_the_state_row_only(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    run(sqs_event([stripe_envelope(stripe_event())]), lambda_context)
    items = aws.dynamodb.query(
        TableName=aws.table,
        IndexName="by-vendor",
        KeyConditionExpression="vendor_key = :v",
        ExpressionAttributeValues={":v": {"S": "vendor_1"}},
    )["Items"]
    assert [i["timestamp"]["S"] for i in items] == ["STATE"]


# ---------------------------------------------------------------- duplicates, order


def test_duplicate_delivery_within_one_batch_writes_one_ledger_row(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    body = stripe_envelope(stripe_event())
    response = run(sqs_event([body, body]), lambda_context)
    assert response == {"batchItemFailures": []}
    assert len(ledger(aws).get_events("pi_1")) == 1
    out = capsys.readouterr().out
    assert metric_total(out, "DuplicateWebhook") == 1
    assert metric_total(out, "SuccessfulTransactions") == 1


def test_duplicate_delivery_across_batches_is_acknowledged_not_rewritten(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    first = stripe_envelope(stripe_event())
    # Stripe's retry days later: same event, new signature timestamp, new API Gateway request.
    retry = stripe_envelope(stripe_event(), timestamp=NOW_S + 3 * 86400, received_at=NOW_MS + 3 * 86_400_000)
    assert run(sqs_event([first]), lambda_context) == {"batchItemFailures": []}
    before = ledger(aws).get_events("pi_1")
    capsys.readouterr()
    assert run(sqs_event([retry], start=2), lambda_context) == {"batchItemFailures": []}
    assert ledger(aws).get_events("pi_1") == before
    out = capsys.readouterr().out
    assert metric_total(out, "DuplicateWebhook") == 1
    assert metric_total(out, "SuccessfulTransactions") == 0


def test_reordered_events_never_move_the_state_backwards(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    succeeded = stripe_envelope(stripe_event(event_id="evt_s", type="payment_intent.succeeded", created=NOW_S - 1))
    processing = stripe_envelope(stripe_event(event_id="evt_p", type="payment_intent.processing", created=NOW_S - 5))
    assert run(sqs_event([succeeded, processing]), lambda_context) == {"batchItemFailures": []}
    assert ledger(aws).get_state("pi_1")["status"] == "succeeded"
    assert [e["status"] for e in ledger(aws).get_events("pi_1")] == ["processing", "succeeded"]  # both kept, by time


def test_state_moves_forward_and_records_previous_status(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    bodies = [
        stripe_envelope(stripe_event(event_id="evt_c", type="payment_intent.created", created=NOW_S - 9)),
        stripe_envelope(stripe_event(event_id="evt_p", type="payment_intent.processing", created=NOW_S - 5)),
        stripe_envelope(stripe_event(event_id="evt_s", type="payment_intent.succeeded", created=NOW_S - 1)),
    ]
    assert run(sqs_event(bodies), lambda_context) == {"batchItemFailures": []}
    state = ledger(aws).get_state("pi_1")
    assert (state["status"], state["previous_status"], state["last_event_id"]) == ("succeeded", "processing", "evt_s")
    assert state["created_at"] == iso_from_epoch_ms((NOW_S - 9) * 1000)
    assert state["updated_at"] == iso_from_epoch_ms((NOW_S - 1) * 1000)


def test_unknown_event_type_is_recorded_as_ignored_once(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    body = stripe_envelope(stripe_event(type="customer.created"))
    assert run(sqs_event([body, body]), lambda_context) == {"batchItemFailures": []}
    marker = aws.dynamodb.get_item(TableName=aws.table, Key={"transaction_id": {"S": "ignored#stripe#evt_1"}, "timestamp": {"S": "MARKER"}})["Item"]
    assert marker["event_type"]["S"] == "customer.created" and int(marker["expires_at"]["N"]) > NOW_S + 7 * 86400
    assert ledger(aws).get_state("pi_1") is None
    out = capsys.readouterr().out
    assert metric_total(out, "WebhookIgnored") == 1 and metric_total(out, "DuplicateWebhook") == 1


# ---------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "make_body,reason",
    [
        (lambda env, ev: env(ev(), header=""), "missing_signature"),
        (lambda env, ev: env(ev(), header="t=oops"), "malformed_signature"),
        (lambda env, ev: env(ev(), header=f"t={NOW_S},v0={'0' * 64}"), "no_v1_signature"),
        (lambda env, ev: env(ev(), secret="whsec_wrong"), "signature_mismatch"),
        (lambda env, ev: env(ev(), timestamp=NOW_S - 3600), "stale_timestamp"),
        (lambda env, ev: env(ev(), timestamp=NOW_S + 3600), "future_timestamp"),
        (lambda env, ev: env(b"<html>not json</html>"), "malformed_body"),
        (lambda env, ev: env({k: v for k, v in ev().items() if k != "id"}), "missing_event_id"),
    ],
)
def test_rejected_message_is_quarantined_counted_and_acknowledged(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys, make_body, reason):
    body = make_body(stripe_envelope, stripe_event)
    response = run(sqs_event([body]), lambda_context)
    assert response == {"batchItemFailures": []}  # acknowledged: never retried forever
    assert ledger(aws).get_events("pi_1") == []
    docs = quarantined(aws)
    assert len(docs) == 1
    (key, doc), = docs.items()
    request_id = json.loads(body)["request_id"]
    assert key == f"quarantine/stripe/2024/11/22/{request_id}.json"
    assert doc["reason"] == reason and doc["message_body"] == body  # kept exactly: not lost
    assert metric_total(capsys.readouterr().out, "WebhookRejected", reason=reason) == 1


def test_unreadable_envelope_is_quarantined_under_unknown(aws, lambda_context, sqs_event, capsys):
    response = run(sqs_event(["this is not an envelope"]), lambda_context)
    assert response == {"batchItemFailures": []}
    (key, doc), = quarantined(aws).items()
    assert key.startswith("quarantine/unknown/2024/11/22/m1") and doc["reason"] == "malformed_envelope"
    assert metric_total(capsys.readouterr().out, "WebhookRejected", reason="malformed_envelope") == 1


def test_envelope_of_a_disabled_provider_is_rejected(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch):
    monkeypatch.setattr(processor_handler, "ENABLED_PROVIDERS", frozenset({"paypal"}))
    run(sqs_event([stripe_envelope(stripe_event())]), lambda_context)
    assert [d["reason"] for d in quarantined(aws).values()] == ["unknown_provider"]


def test_hostile_request_id_cannot_escape_the_quarantine_prefix(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    run(sqs_event([stripe_envelope(stripe_event(), header="", request_id="../../raw/x")]), lambda_context)
    (key,) = quarantined(aws)
    assert key.startswith("quarantine/stripe/2024/11/22/") and ".." not in key


# ---------------------------------------------------------------- failures and retries


@pytest.fixture(params=[1, 4], ids=["one_by_one", "groups_in_parallel"])
def group_threads(request, monkeypatch):
    """The processor as PROCESSOR_PARALLEL_GROUPS=1 (one group after the other) and =4 deploy it."""
    pool = ThreadPoolExecutor(request.param) if request.param > 1 else None
    monkeypatch.setattr(processor_handler, "_pool", pool)
    yield request.param
    if pool is not None:
        pool.shutdown()


def test_a_failing_record_fails_only_its_own_message_group(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch, group_threads):
    # Ten payments, one group each: record 3 fails; the nine others are recorded, so after
    # maxReceiveCount only record 3 reaches the DLQ (no innocent message with it).
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_{i}", pi=f"pi_{i}")) for i in range(1, 11)]
    real_record = processor_handler.ledger.record

    def record(txn, raw, **kwargs):
        if txn.event_id == "evt_3":
            raise RuntimeError("simulated outage")
        return real_record(txn, raw, **kwargs)

    monkeypatch.setattr(processor_handler.ledger, "record", record)
    response = run(sqs_event(bodies, group_ids=[f"pi_{i}" for i in range(1, 11)]), lambda_context)
    assert failed_ids(response) == ["m3"]
    recorded = [i for i in range(1, 11) if ledger(aws).get_state(f"pi_{i}")]
    assert recorded == [1, 2, 4, 5, 6, 7, 8, 9, 10]


def test_records_after_a_failure_in_the_same_group_wait_for_it(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch, group_threads):
    # Order within one payment is kept: the group's later records fail with it; other groups go on.
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_{i}", pi=pi)) for i, pi in enumerate(["pi_a", "pi_a", "pi_b", "pi_a"], 1)]
    real_record = processor_handler.ledger.record

    def record(txn, raw, **kwargs):
        if txn.event_id == "evt_2":
            raise RuntimeError("simulated outage")
        return real_record(txn, raw, **kwargs)

    monkeypatch.setattr(processor_handler.ledger, "record", record)
    response = run(sqs_event(bodies, group_ids=["pi_a", "pi_a", "pi_b", "pi_a"]), lambda_context)
    assert failed_ids(response) == ["m2", "m4"]
    assert [e["event_id"] for e in ledger(aws).get_events("pi_a")] == ["evt_1"]
    assert [e["event_id"] for e in ledger(aws).get_events("pi_b")] == ["evt_3"]


def test_message_groups_are_in_flight_together_and_each_keeps_its_order(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch):
    pool = ThreadPoolExecutor(4)
    monkeypatch.setattr(processor_handler, "_pool", pool)
    groups = ["pi_a", "pi_b", "pi_a", "pi_b", "pi_a"]
    types_ = ["processing", "processing", "succeeded", "succeeded", "canceled"]
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_{i}", pi=pi, type=f"payment_intent.{kind}")) for i, (pi, kind) in
              enumerate(zip(groups, types_, strict=True), 1)]
    b_started, order = threading.Event(), []
    real_record = processor_handler.ledger.record

    def record(txn, raw, **kwargs):
        order.append(txn.event_id)
        if txn.transaction_id == "pi_b":
            b_started.set()
        elif not b_started.wait(timeout=30):  # pi_a's first record waits until pi_b's group runs too
            raise AssertionError("the groups did not run at the same time")
        return real_record(txn, raw, **kwargs)

    monkeypatch.setattr(processor_handler.ledger, "record", record)
    response = run(sqs_event(bodies, group_ids=groups), lambda_context)
    pool.shutdown()
    assert response == {"batchItemFailures": []}
    assert [e for e in order if e in ("evt_1", "evt_3", "evt_5")] == ["evt_1", "evt_3", "evt_5"]
    assert [e for e in order if e in ("evt_2", "evt_4")] == ["evt_2", "evt_4"]
    assert (ledger(aws).get_state("pi_a")["status"], ledger(aws).get_state("pi_b")["status"]) == ("succeeded", "succeeded")
    assert [e["event_id"] for e in ledger(aws).get_events("pi_a")] == ["evt_1", "evt_3", "evt_5"]


def test_a_batch_where_every_record_fails_is_an_invocation_error_with_groups_in_parallel(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    monkeypatch.setattr(processor_handler, "_pool", ThreadPoolExecutor(2))
    monkeypatch.setattr(processor_handler.ledger, "record", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("outage")))
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_{i}", pi=f"pi_{i}")) for i in (1, 2)]
    with pytest.raises(BatchProcessingError):
        run(sqs_event(bodies, group_ids=["pi_1", "pi_2"]), lambda_context)


class _Throttled(DynamodbException):
    """What DynamoDB answers when a partition is over its throughput (HTTP 400)."""

    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
            message="The level of configured provisioned throughput for the table was exceeded.",
        )


@pytest.fixture
def dynamodb_throttle(monkeypatch):
    """``throttle(times)``: the next ``times`` PutItem calls that reach (moto's) DynamoDB answer
    ProvisionedThroughputExceededException; botocore's retry sleeps are recorded, not slept."""
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleeps.append))
    state = {"left": 0, "calls": 0}
    real_put_item = DynamoDBBackend.put_item

    def put_item(self, *args, **kwargs):
        state["calls"] += 1
        if state["left"] > 0:
            state["left"] -= 1
            raise _Throttled()
        return real_put_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)

    def throttle(times: int):
        state["left"] = times
        return state

    return throttle, sleeps


def test_one_throttled_write_is_retried_by_botocore_and_nothing_is_lost(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, dynamodb_throttle):
    throttle, sleeps = dynamodb_throttle
    state = throttle(1)
    response = run(sqs_event([stripe_envelope(stripe_event())]), lambda_context)
    assert response == {"batchItemFailures": []}
    assert len(ledger(aws).get_events("pi_1")) == 1
    assert ledger(aws).get_state("pi_1")["status"] == "succeeded"
    assert state["left"] == 0 and len(sleeps) == 1  # throttled once, retried once after a backoff


def test_throttling_beyond_retries_fails_the_record_and_redelivery_records_it(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, dynamodb_throttle):
    throttle, sleeps = dynamodb_throttle
    bodies = [stripe_envelope(stripe_event(event_id=f"evt_{i}", pi=f"pi_{i}")) for i in range(1, 4)]
    event = sqs_event(bodies, group_ids=["pi_1", "pi_2", "pi_3"])
    throttle(5)  # every attempt for the first record: 1 + 4 retries (BOTO_CONFIG max_attempts=4)
    # Record 1 fails; records 2 and 3 are other payments (other groups) and are recorded.
    assert failed_ids(run(event, lambda_context)) == ["m1"]
    assert len(sleeps) == 4 and ledger(aws).get_state("pi_1") is None
    assert all(ledger(aws).get_state(f"pi_{i}") for i in (2, 3))
    # Redelivery (SQS redelivers the whole batch here) once the table has capacity: nothing lost.
    assert run(event, lambda_context) == {"batchItemFailures": []}
    assert all(ledger(aws).get_state(f"pi_{i}")["status"] == "succeeded" for i in range(1, 4))


def test_secret_store_failure_fails_the_record_instead_of_rejecting(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    aws.secretsmanager.delete_secret(SecretId="payment-webhooks/test/stripe/signing", ForceDeleteWithoutRecovery=True)
    good_direct = _direct_envelope("order-0000001", NOW_MS)
    response = run(sqs_event([good_direct, stripe_envelope(stripe_event())]), lambda_context)
    assert failed_ids(response) == ["m2"]  # retried (then DLQ), not quarantined as a bad signature
    assert quarantined(aws) == {}


def test_crash_between_event_row_and_state_row_heals_on_redelivery(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch):
    body = stripe_envelope(stripe_event())
    real = Ledger._put_state
    monkeypatch.setattr(Ledger, "_put_state", lambda self, *args: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(BatchProcessingError):
        run(sqs_event([body]), lambda_context)
    assert len(ledger(aws).get_events("pi_1")) == 1 and ledger(aws).get_state("pi_1") is None
    monkeypatch.setattr(Ledger, "_put_state", real)
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert ledger(aws).get_state("pi_1")["status"] == "succeeded"


def _direct_envelope(key: str, received_at: int) -> str:
    return direct_envelope(key, received_at)


def test_direct_payment_retried_after_the_dedup_window_is_recorded_once(aws, lambda_context, sqs_event):
    first, retry = _direct_envelope("order-0000042", NOW_MS), _direct_envelope("order-0000042", NOW_MS + 600_000)
    assert run(sqs_event([first]), lambda_context) == {"batchItemFailures": []}
    assert run(sqs_event([retry], start=2), lambda_context) == {"batchItemFailures": []}
    txn_id = direct.transaction_id_for("order-0000042")
    assert len(ledger(aws).get_events(txn_id)) == 1
    assert ledger(aws).get_state(txn_id)["status"] == "succeeded"


# ---------------------------------------------------------------- zero loss after a 200


def test_verified_event_with_an_unsafe_vendor_id_is_recorded_not_quarantined(aws, lambda_context, paypal_event, paypal_envelope, sqs_event, capsys):
    body = paypal_envelope(paypal_event(custom_id="order 123"))
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    state = ledger(aws).get_state("CAP1")
    assert (state["status"], state["vendor_id"], state["vendor_id_raw"]) == ("succeeded", "unknown", "order 123")
    event = ledger(aws).get_events("CAP1")[0]
    assert (event["vendor_id"], event["vendor_id_raw"], event["unroutable"]) == ("unknown", "order 123", ["unsafe_vendor_id"])
    assert quarantined(aws) == {}
    out = capsys.readouterr().out
    assert metric_total(out, "UnroutableEvent", reason="unsafe_vendor_id") == 1
    assert metric_total(out, "WebhookRejected") == 0


def test_verified_event_with_an_unknown_currency_is_recorded_and_counted(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    assert run(sqs_event([stripe_envelope(stripe_event(currency="zzz"))]), lambda_context) == {"batchItemFailures": []}
    state = ledger(aws).get_state("pi_1")
    assert (state["currency"], state["currency_raw"], state["amount"]) == ("XXX", "ZZZ", 1999)
    assert metric_total(capsys.readouterr().out, "UnroutableEvent", reason="unknown_currency") == 1
    # a redelivery is a duplicate and is not counted again
    assert run(sqs_event([stripe_envelope(stripe_event(currency="zzz"))]), lambda_context) == {"batchItemFailures": []}
    assert metric_total(capsys.readouterr().out, "UnroutableEvent") == 0


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_signed_body_is_quarantined_not_retried(aws, lambda_context, stripe_envelope, sqs_event, depth):
    raw = (b"[" * depth) + (b"]" * depth)
    assert run(sqs_event([stripe_envelope(raw)]), lambda_context) == {"batchItemFailures": []}
    assert [d["reason"] for d in quarantined(aws).values()] == ["malformed_body"]


def test_stripe_amount_over_the_cap_is_quarantined_not_retried(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    assert run(sqs_event([stripe_envelope(stripe_event(amount=10**40))]), lambda_context) == {"batchItemFailures": []}
    assert [d["reason"] for d in quarantined(aws).values()] == ["malformed_event"]
    assert ledger(aws).get_state("pi_1") is None


@pytest.mark.parametrize("provider,value", [
    ("stripe", {}),
    ("stripe", {"current": "", "previous": ""}),
    ("stripe", {"secret": "whsec_wrong_key_name"}),
    ("paypal", {"webhook_id": ""}),
    ("paypal", {"current": "WH-under-the-wrong-key"}),
])
def test_unusable_signing_secret_is_retried_never_a_signature_mismatch(aws, lambda_context, stripe_event, stripe_envelope, paypal_event, paypal_envelope, sqs_event, capsys, provider, value):
    aws.secretsmanager.put_secret_value(SecretId=f"payment-webhooks/test/{provider}/signing", SecretString=json.dumps(value))
    body = stripe_envelope(stripe_event()) if provider == "stripe" else paypal_envelope(paypal_event())
    assert failed_ids(run(sqs_event([body, _direct_envelope("order-0000002", NOW_MS)], group_ids=["a", "b"]), lambda_context)) == ["m1"]
    assert quarantined(aws) == {}
    out = capsys.readouterr().out
    assert metric_total(out, "SigningSecretUnusable") == 1 and metric_total(out, "WebhookRejected") == 0


@pytest.mark.parametrize("text", ["whsec_pasted_without_json", '["whsec_in_a_list"]'])
def test_signing_secret_that_is_not_a_json_object_is_retried(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys, text):
    aws.secretsmanager.put_secret_value(SecretId="payment-webhooks/test/stripe/signing", SecretString=text)
    body = stripe_envelope(stripe_event())
    assert failed_ids(run(sqs_event([body, _direct_envelope("order-0000003", NOW_MS)], group_ids=["a", "b"]), lambda_context)) == ["m1"]
    assert quarantined(aws) == {}
    out = capsys.readouterr().out
    assert metric_total(out, "SigningSecretUnusable") == 1
    assert "whsec_" not in out  # the value is never logged


def test_stripe_event_signed_with_the_current_or_the_previous_secret_is_recorded(aws, lambda_context, stripe_event, stripe_envelope, sqs_event):
    from handler_constants import STRIPE_PREVIOUS_SECRET, STRIPE_SECRET

    bodies = [stripe_envelope(stripe_event(event_id="evt_cur", pi="pi_cur"), secret=STRIPE_SECRET),
              stripe_envelope(stripe_event(event_id="evt_prev", pi="pi_prev"), secret=STRIPE_PREVIOUS_SECRET),
              stripe_envelope(stripe_event(event_id="evt_old", pi="pi_old"), secret="whsec_retired_long_ago")]
    assert run(sqs_event(bodies, group_ids=["a", "b", "c"]), lambda_context) == {"batchItemFailures": []}
    assert ledger(aws).get_state("pi_cur") and ledger(aws).get_state("pi_prev")
    assert [d["reason"] for d in quarantined(aws).values()] == ["signature_mismatch"]


def test_paypal_event_signed_for_the_current_or_the_previous_webhook_id_is_recorded(aws, lambda_context, paypal_event, paypal_envelope, sqs_event):
    from handler_constants import PAYPAL_WEBHOOK_ID

    aws.secretsmanager.put_secret_value(SecretId="payment-webhooks/test/paypal/signing", SecretString=json.dumps(
        {"webhook_id": "WH-NEW-REGISTRATION", "previous_webhook_id": PAYPAL_WEBHOOK_ID}))
    bodies = [paypal_envelope(paypal_event(event_id="WH-cur", capture_id="CAPCUR"), webhook_id="WH-NEW-REGISTRATION"),
              paypal_envelope(paypal_event(event_id="WH-prev", capture_id="CAPPREV"), webhook_id=PAYPAL_WEBHOOK_ID),
              paypal_envelope(paypal_event(event_id="WH-other", capture_id="CAPOTHER"), webhook_id="WH-SOMEONE-ELSE")]
    assert run(sqs_event(bodies, group_ids=["a", "b", "c"]), lambda_context) == {"batchItemFailures": []}
    assert ledger(aws).get_state("CAPCUR") and ledger(aws).get_state("CAPPREV")
    assert [d["reason"] for d in quarantined(aws).values()] == ["signature_mismatch"]


def test_idempotency_is_the_provider_event_id_alone(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, capsys):
    first = stripe_envelope(stripe_event(created=NOW_S - 2))
    again = stripe_envelope(stripe_event(created=NOW_S - 100))  # same event id, another `created`
    assert run(sqs_event([first]), lambda_context) == {"batchItemFailures": []}
    assert run(sqs_event([again]), lambda_context) == {"batchItemFailures": []}
    assert [e["event_id"] for e in ledger(aws).get_events("pi_1")] == ["evt_1"]
    assert metric_total(capsys.readouterr().out, "DuplicateWebhook") == 1


def test_crash_between_the_idempotency_claim_and_the_event_row_heals(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch):
    body = stripe_envelope(stripe_event())
    real = Ledger._claim_event

    def claim_then_crash(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("crash")

    monkeypatch.setattr(Ledger, "_claim_event", claim_then_crash)
    with pytest.raises(BatchProcessingError):
        run(sqs_event([body]), lambda_context)
    assert ledger(aws).get_events("pi_1") == []
    monkeypatch.setattr(Ledger, "_claim_event", real)
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert [e["event_id"] for e in ledger(aws).get_events("pi_1")] == ["evt_1"]
    assert ledger(aws).get_state("pi_1")["status"] == "succeeded"


def test_success_is_counted_once_when_a_redelivery_completes_the_state(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, monkeypatch, capsys):
    body = stripe_envelope(stripe_event())
    real = Ledger._put_state
    monkeypatch.setattr(Ledger, "_put_state", lambda self, *args: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(BatchProcessingError):
        run(sqs_event([body]), lambda_context)
    monkeypatch.setattr(Ledger, "_put_state", real)
    capsys.readouterr()
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}  # event row exists: a duplicate
    assert metric_total(capsys.readouterr().out, "SuccessfulTransactions") == 1
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert metric_total(capsys.readouterr().out, "SuccessfulTransactions") == 0


# ---- the state row: read, folded with the event, written back under its version ------------------

def _txn(event_id: str, status: str, *, occurred_at: str = "2024-11-22T01:00:00.000Z", customer_id: str | None = "cus_1"):
    from paycore.model import Transaction

    return Transaction(transaction_id="pi_state", provider="stripe", event_id=event_id,
                       event_type=f"payment_intent.{status}", status=status, amount=1999, currency="EUR",
                       vendor_id="vendor_1", customer_id=customer_id, occurred_at=occurred_at, received_at=NOW_MS)


class _CountingClient:
    """The moto client, counting the write calls and the failed ones (both are billed)."""

    def __init__(self, client):
        self._client, self.calls, self.failed = client, [], []
        self.exceptions = client.exceptions

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(**kwargs):
            self.calls.append(name)
            try:
                return method(**kwargs)
            except self._client.exceptions.ConditionalCheckFailedException:
                self.failed.append(name)
                raise
        return call


def test_first_event_creates_the_state_row_in_one_write_without_previous_status(aws):
    client = _CountingClient(aws.dynamodb)
    result = Ledger(client, aws.table).record(_txn("evt_a", "processing"), b'{"id":"evt_a"}')
    assert (result.event_written, result.state_changed, result.previous_status) == (True, True, None)
    # claim, event row, the state read (consistent) and its conditional write
    assert client.calls == ["put_item", "put_item", "get_item", "put_item"] and client.failed == []
    state = ledger(aws).get_state("pi_state")
    assert (state["status"], state["payment_status"], state["version"], state["created_at"], state["vendor_key"]) == (
        "processing", "processing", 1, "2024-11-22T01:00:00.000Z", "vendor_1")
    assert "previous_status" not in state and "bus_kinds" not in state  # nothing announced: not on the bus


def test_higher_rank_advances_the_state_and_returns_the_previous_status(aws):
    ledger(aws).record(_txn("evt_a", "processing"), b"a")
    client = _CountingClient(aws.dynamodb)
    result = Ledger(client, aws.table).record(_txn("evt_b", "succeeded", occurred_at="2024-11-22T01:00:05.000Z", customer_id="cus_2"), b"b")
    assert (result.state_changed, result.previous_status) == (True, "processing")
    assert client.calls == ["put_item", "put_item", "get_item", "put_item"] and client.failed == []
    state = ledger(aws).get_state("pi_state")
    assert (state["status"], state["previous_status"], state["updated_at"], state["last_event_id"]) == (
        "succeeded", "processing", "2024-11-22T01:00:05.000Z", "evt_b")
    assert (state["created_at"], state["customer_id"]) == ("2024-11-22T01:00:00.000Z", "cus_1")  # set once
    assert (state["captured_amount"], state["net_amount"], state["bus_kinds"], state["announced_from"]) == (
        1999, 1999, {"succeeded"}, 1)


def test_lower_or_equal_rank_leaves_the_state_as_it_is(aws):
    ledger(aws).record(_txn("evt_b", "succeeded"), b"b")
    for event_id, status in (("evt_a", "processing"), ("evt_c", "succeeded")):
        result = ledger(aws).record(_txn(event_id, status, occurred_at="2024-11-22T00:59:00.000Z"), event_id.encode())
        assert (result.event_written, result.state_changed, result.previous_status) == (True, False, "succeeded")
    state = ledger(aws).get_state("pi_state")
    assert (state["status"], state["last_event_id"]) == ("succeeded", "evt_b") and "previous_status" not in state


def test_duplicate_delivery_reads_and_writes_nothing(aws):
    ledger(aws).record(_txn("evt_a", "processing"), b"a")
    client = _CountingClient(aws.dynamodb)
    result = Ledger(client, aws.table).record(_txn("evt_a", "processing"), b"a")
    assert (result.duplicate, result.state_changed, result.previous_status) == (True, False, "processing")
    # the failed marker claim, then two reads instead of two failed conditional writes
    assert client.calls == ["put_item", "get_item", "get_item"] and client.failed == ["put_item"]


def test_the_processor_starts_without_powertools_batch_and_data_classes_packages():
    """Both weigh on a cold start: the processor imports the batch package only to raise its error,
    and reads the four fields of an SQS record itself."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys, processor_handler; "
            "print(sorted(m for m in sys.modules if m.startswith(('aws_lambda_powertools.utilities.batch', "
            "'aws_lambda_powertools.utilities.data_classes'))))")
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(root / "lambda_src" / "processor")}
    for groups in ("1", "10"):
        done = subprocess.run([sys.executable, "-c", code], env={**env, "PROCESSOR_PARALLEL_GROUPS": groups},
                              capture_output=True, text=True, timeout=120, check=True)
        assert done.stdout.strip() == "[]", done.stdout


def test_quarantine_client_is_made_at_the_first_rejection_once(aws):
    """The processor's S3 client (~40 ms of a cold start) is made when a message is first rejected,
    and once, however many group threads reject at that moment."""
    from paycore.quarantine import Quarantine

    assert processor_handler.quarantine._new_client is not None  # the processor's: made on demand
    made = []

    def new_client():
        made.append(threading.get_ident())
        return aws.s3

    store = Quarantine(bucket=aws.bucket, new_client=new_client)
    assert made == []
    put = dict(reason="signature_mismatch", provider="stripe", received_at=NOW_MS, sqs_message_id="m", message_body="{}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda i: store.put(request_id=f"r{i}", **put), range(8)))
    assert len(made) == 1 and sorted(quarantined(aws)) == sorted(keys)
    for both_or_neither in ({"s3_client": aws.s3, "new_client": new_client}, {}):
        with pytest.raises(ValueError, match="one of s3_client and new_client"):
            Quarantine(bucket=aws.bucket, **both_or_neither)
