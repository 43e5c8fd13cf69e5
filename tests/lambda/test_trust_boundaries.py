"""Trust boundaries of the inbound path (issue 25): what someone outside can do with a captured
PayPal delivery, the gate key, `sqs:SendMessage` on the ingest queue or write access to the
quarantine and the parked messages. Each attack runs against the real processor and ops tools
(moto), with real cryptography: a real CRC32 collision, the test CA's real signatures.

* a PayPal transmission carries one body: a forged body whose CRC32 collides with a genuine
  delivery's verifies as PayPal's signature, and is refused as ``transmission_replayed``;
* a direct payment needs the validator's internal envelope signature, on the queue and on replay;
* an unverified PayPal message can hold its message group for one short retry at most.
"""
from __future__ import annotations

import base64
import json
import uuid
import zlib

import boto3
import moto.sqs.models
import pytest
from conftest import TRANSMISSION_TIME, direct_envelope
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from delivery_fixtures import patch_moto_visibility
from handler_constants import INTERNAL_KEY, INTERNAL_KEY_PREVIOUS, NOW_MS, PAYPAL_WEBHOOK_ID, REGION, SECRET_PREFIX
from sqs_event_source import EventSourceStandIn

import processor_handler
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from paycore.envelope import build_envelope, parse_envelope
from paycore.ledger import Ledger
from paycore.model import MisconfiguredSecret, Rejected
from paycore.providers import direct, paypal
from paycore.secrets import SecretStore
from scripts.local import sample_webhooks
from scripts.ops import replay_quarantine


def run(event, lambda_context):
    return processor_handler.handler(event, lambda_context)


def quarantined(aws) -> dict[str, dict]:
    listing = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/")
    return {o["Key"]: json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=o["Key"])["Body"].read())
            for o in listing.get("Contents", [])}


def metric(text: str, name: str, **dims) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            names = [m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
            if name in names and all(blob.get(k) == v for k, v in dims.items()):
                value = blob[name]
                total += sum(value) if isinstance(value, list) else value
    return total


# ================================================================ item 1: one transmission, one body

def collide(genuine: bytes, forged_event: dict) -> bytes:
    """A body saying ``forged_event`` with ``genuine``'s CRC32 (a real 4-byte patch, see
    scripts/local/sample_webhooks.py ``crc32_collision``)."""
    return sample_webhooks.crc32_collision(genuine, forged_event)


@pytest.fixture
def paypal_delivery(paypal_keys):
    """``paypal_delivery(raw, transmission_id=None, request_id=None, received_at=NOW_MS, headers=None)``
    -> (envelope text, headers): a PayPal delivery of ``raw`` signed by the test CA's key, as API
    Gateway enqueues it; ``headers`` reuses a captured delivery's headers for another body."""
    def build(raw: bytes, *, transmission_id: str | None = None, request_id: str | None = None,
              received_at: int = NOW_MS, headers: dict | None = None) -> tuple[str, dict]:
        if headers is None:
            transmission_id = transmission_id or str(uuid.uuid4())
            signature = paypal_keys.key.sign(
                paypal.signed_message(transmission_id, TRANSMISSION_TIME, PAYPAL_WEBHOOK_ID, raw),
                padding.PKCS1v15(), hashes.SHA256())
            headers = {"paypal-transmission-id": transmission_id, "paypal-transmission-time": TRANSMISSION_TIME,
                       "paypal-transmission-sig": base64.b64encode(signature).decode(),
                       "paypal-cert-url": paypal_keys.url, "paypal-auth-algo": "SHA256withRSA"}
        envelope = build_envelope(provider="paypal", received_at=received_at, request_id=request_id or str(uuid.uuid4()),
                                  source_ip="173.0.82.126", headers=headers, raw=raw)
        return envelope.to_json(), headers
    return build


def compact(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def refunded(paypal_event, event_id: str, refund_id: str, capture_id: str, value: str) -> dict:
    event = paypal_event(event_id=event_id, event_type="PAYMENT.CAPTURE.REFUNDED", capture_id=refund_id, value=value)
    event["resource"]["links"] = [
        {"href": f"https://api.paypal.com/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
        {"href": f"https://api.paypal.com/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"}]
    return event


def test_the_crc32_collision_is_real_and_passes_paypals_signature_check(paypal_event, paypal_delivery):
    # what the processor's binding is for: PayPal's signature alone cannot tell the bodies apart
    genuine = compact(paypal_event(event_id="WH-GENUINE-1", capture_id="CAPGENUINE1"))
    forged = collide(genuine, paypal_event(event_id="WH-FORGED-1", capture_id="CAPFORGED1", custom_id="vendor-evil",
                                           value="999.00"))
    assert forged != genuine and zlib.crc32(forged) == zlib.crc32(genuine)
    assert json.loads(forged)["resource"]["custom_id"] == "vendor-evil"
    _, headers = paypal_delivery(genuine)
    forged_body, _ = paypal_delivery(forged, headers=headers)
    paypal.PROVIDER.verify(parse_envelope(forged_body), {"webhook_id": PAYPAL_WEBHOOK_ID})  # no exception


def test_a_forged_completed_with_a_colliding_crc32_is_rejected_and_the_genuine_one_recorded(
        aws, lambda_context, paypal_event, paypal_delivery, sqs_event, capsys):
    genuine = compact(paypal_event(event_id="WH-GENUINE-1", capture_id="CAPGENUINE1", value="10.50"))
    genuine_body, headers = paypal_delivery(genuine)
    forged = collide(genuine, paypal_event(event_id="WH-FORGED-1", capture_id="CAPFORGED1", custom_id="vendor-evil",
                                           value="999.00"))
    forged_body, _ = paypal_delivery(forged, headers=headers)  # the genuine delivery's headers, another body
    assert run(sqs_event([genuine_body], group_ids=["CAPGENUINE1"]), lambda_context) == {"batchItemFailures": []}
    assert run(sqs_event([forged_body], group_ids=["CAPFORGED1"], start=2), lambda_context) == {"batchItemFailures": []}

    ledger = Ledger(aws.dynamodb, aws.table)
    assert [e["event_id"] for e in ledger.get_events("CAPGENUINE1")] == ["WH-GENUINE-1"]
    assert ledger.get_events("CAPFORGED1") == [] and ledger.get_state("CAPFORGED1") is None
    [document] = quarantined(aws).values()
    assert (document["reason"], document["message_body"]) == ("transmission_replayed", forged_body)
    out = capsys.readouterr().out
    assert metric(out, "WebhookRejected", reason="transmission_replayed") == 1
    assert metric(out, "SuccessfulTransactions") == 1  # the genuine sale only


def test_a_forged_refund_with_a_colliding_crc32_does_not_touch_the_victims_capture(
        aws, lambda_context, paypal_event, paypal_delivery, sqs_event):
    # the victim's sale, and a genuine refund of another capture whose delivery someone captured
    sale, _ = paypal_delivery(compact(paypal_event(event_id="WH-SALE-V", capture_id="CAPVICTIM", value="80.00")))
    other_refund = compact(refunded(paypal_event, "WH-REFUND-O", "REFOTHER", "CAPOTHER", "5.00"))
    other_body, headers = paypal_delivery(other_refund)
    forged = collide(other_refund, refunded(paypal_event, "WH-REFUND-F", "REFFORGED", "CAPVICTIM", "80.00"))
    forged_body, _ = paypal_delivery(forged, headers=headers)
    bodies = [sale, other_body, forged_body]
    assert run(sqs_event(bodies, group_ids=["CAPVICTIM", "REFOTHER", "REFFORGED"]), lambda_context) == {
        "batchItemFailures": []}

    ledger = Ledger(aws.dynamodb, aws.table)
    assert [e["event_id"] for e in ledger.get_events("CAPVICTIM")] == ["WH-SALE-V"]  # no refund recorded on it
    assert ledger.get_state("CAPVICTIM")["status"] == "succeeded"
    assert [e["event_id"] for e in ledger.get_events("CAPOTHER")] == ["WH-REFUND-O"]  # the genuine refund is
    assert [d["reason"] for d in quarantined(aws).values()] == ["transmission_replayed"]


def test_a_paypal_retry_under_the_same_transmission_id_is_a_duplicate_not_a_replay(
        aws, lambda_context, paypal_event, paypal_delivery, sqs_event, capsys):
    # if PayPal retries with the transmission it first sent (same id, same bytes): acknowledged
    raw = compact(paypal_event(event_id="WH-RETRY-1", capture_id="CAPRETRY1"))
    first, headers = paypal_delivery(raw)
    retry, _ = paypal_delivery(raw, headers=headers, received_at=NOW_MS + 3_600_000)  # another API Gateway request
    assert run(sqs_event([first]), lambda_context) == {"batchItemFailures": []}
    assert run(sqs_event([retry], start=2), lambda_context) == {"batchItemFailures": []}
    assert quarantined(aws) == {}
    assert len(Ledger(aws.dynamodb, aws.table).get_events("CAPRETRY1")) == 1
    out = capsys.readouterr().out
    assert metric(out, "DuplicateWebhook") == 1 and metric(out, "WebhookRejected") == 0


def test_a_paypal_retry_under_a_new_transmission_id_is_a_duplicate_too(
        aws, lambda_context, paypal_event, paypal_delivery, sqs_event, capsys):
    # if PayPal signs each retry (or a dashboard resend) as a transmission of its own: bound anew
    raw = compact(paypal_event(event_id="WH-RESEND-1", capture_id="CAPRESEND1"))
    assert run(sqs_event([paypal_delivery(raw)[0]]), lambda_context) == {"batchItemFailures": []}
    assert run(sqs_event([paypal_delivery(raw)[0]], start=2), lambda_context) == {"batchItemFailures": []}
    assert quarantined(aws) == {} and len(Ledger(aws.dynamodb, aws.table).get_events("CAPRESEND1")) == 1
    assert metric(capsys.readouterr().out, "DuplicateWebhook") == 1


def test_a_crash_after_the_binding_is_recorded_on_redelivery(aws, lambda_context, paypal_event, paypal_delivery,
                                                              sqs_event, monkeypatch):
    body, _ = paypal_delivery(compact(paypal_event(event_id="WH-CRASH-1", capture_id="CAPCRASH1")))
    # the handler's own ledger (another module's monkeypatch may have left a bound method on it)
    real = processor_handler.ledger.record
    monkeypatch.setattr(processor_handler.ledger, "record", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(Exception):  # noqa: B017 - every record failed: an invocation error
        run(sqs_event([body]), lambda_context)
    monkeypatch.setattr(processor_handler.ledger, "record", real)
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}  # the same body: bound, recorded
    assert [e["event_id"] for e in Ledger(aws.dynamodb, aws.table).get_events("CAPCRASH1")] == ["WH-CRASH-1"]


def test_the_transmission_binding_is_kept_for_good(aws):
    ledger = Ledger(aws.dynamodb, aws.table)
    assert paypal.PROVIDER.transmission_ttl_seconds() is None
    assert ledger.bind_transmission("paypal", "tx-1", "a" * 64, ttl_seconds=None)
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"transaction_id": {"S": "transmission#paypal#tx-1"},
                                                           "timestamp": {"S": "MARKER"}})["Item"]
    assert "expires_at" not in item and item["body_sha256"] == {"S": "a" * 64}
    assert ledger.bind_transmission("paypal", "tx-1", "a" * 64, ttl_seconds=None)
    assert not ledger.bind_transmission("paypal", "tx-1", "b" * 64, ttl_seconds=None)


# ================================================================ item 2: the internal envelope key

GOOD_REQUEST = {"amount": 700, "currency": "EUR", "vendor_id": "v1", "customer_id": "c1"}


def test_a_direct_payment_without_the_validators_signature_is_rejected(aws, lambda_context, sqs_event, capsys):
    # anyone with sqs:SendMessage on the queue (the queue's policy now refuses them too: tests/test_hops.py)
    forged = direct_envelope("order-forged-0001", sign=False)
    assert run(sqs_event([forged]), lambda_context) == {"batchItemFailures": []}
    assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for("order-forged-0001")) is None
    assert [d["reason"] for d in quarantined(aws).values()] == ["internal_signature_mismatch"]
    assert metric(capsys.readouterr().out, "WebhookRejected", reason="internal_signature_mismatch") == 1


@pytest.mark.parametrize("forge", ["another key", "tampered amount", "tampered key", "signature of another envelope"])
def test_a_direct_payment_with_a_signature_that_does_not_cover_it_is_rejected(aws, lambda_context, sqs_event, forge):
    envelope = json.loads(direct_envelope("order-forged-0002"))
    if forge == "another key":
        envelope = json.loads(direct_envelope("order-forged-0002", internal_key="k" * 40))
    elif forge == "tampered amount":
        raw = json.loads(base64.b64decode(envelope["body_b64"]))
        raw["amount"] = 99_999
        envelope["body_b64"] = base64.b64encode(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).decode()
    elif forge == "tampered key":  # the same body under another idempotency key (a second payment)
        envelope["headers"]["idempotency-key"] = "order-forged-0003"
    else:
        other = json.loads(direct_envelope("order-other-00001"))
        envelope["headers"]["internal-signature"] = other["headers"]["internal-signature"]
    assert run(sqs_event([json.dumps(envelope)]), lambda_context) == {"batchItemFailures": []}
    assert [d["reason"] for d in quarantined(aws).values()] == ["internal_signature_mismatch"]
    for key in ("order-forged-0002", "order-forged-0003"):
        assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for(key)) is None


def test_a_direct_signature_does_not_verify_as_another_kind():
    from paycore import internal_envelope

    envelope = parse_envelope(direct_envelope("order-kind-00001"))
    secret = {"current": INTERNAL_KEY}
    internal_envelope.verify(envelope, "direct", secret)
    with pytest.raises(Rejected) as caught:
        internal_envelope.verify(envelope, "fetched", secret)  # a reconciler's kind
    assert caught.value.reason == "internal_signature_mismatch"


def test_the_previous_internal_key_still_verifies_during_a_rotation(aws, lambda_context, sqs_event):
    aws.secretsmanager.put_secret_value(SecretId=f"{SECRET_PREFIX}internal/envelope-key", SecretString=json.dumps(
        {"current": INTERNAL_KEY_PREVIOUS, "previous": INTERNAL_KEY}))
    body = direct_envelope("order-rotate-0001", internal_key=INTERNAL_KEY)  # signed before the rotation
    assert run(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for("order-rotate-0001"))


@pytest.mark.parametrize("value", [{}, {"current": "short"}, {"previous": INTERNAL_KEY}])
def test_an_internal_key_the_validator_cannot_sign_with_is_ours_to_fix(value):
    from paycore import internal_envelope

    envelope = build_envelope(provider="direct", received_at=NOW_MS, request_id="r", source_ip="10.0.0.1",
                              headers={"idempotency-key": "order-key-000001"}, raw=b"{}")
    with pytest.raises(MisconfiguredSecret):
        internal_envelope.sign(envelope, "direct", value)


def test_an_unusable_internal_key_retries_direct_payments_instead_of_rejecting_them(aws, lambda_context, sqs_event,
                                                                                    capsys):
    aws.secretsmanager.put_secret_value(SecretId=f"{SECRET_PREFIX}internal/envelope-key", SecretString="{}")
    with pytest.raises(BatchProcessingError):  # every record failed: retried, never quarantined
        run(sqs_event([direct_envelope("order-retry-00001")]), lambda_context)
    assert quarantined(aws) == {}
    assert metric(capsys.readouterr().out, "SigningSecretUnusable") == 1


def _document(envelope_text: str, *, reason: str, request_id: str) -> bytes:
    return json.dumps({"v": 1, "reason": reason, "provider": "direct", "request_id": request_id,
                       "received_at": NOW_MS, "quarantined_at": NOW_MS, "sqs_message_id": "m-x",
                       "message_body": envelope_text}).encode()


def _replay(aws, *, parked: bool):
    store = SecretStore(aws.secretsmanager, prefix=SECRET_PREFIX, max_age=0)
    return replay_quarantine.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url,
                                    signing_secret=store.signing, internal_key=store.internal_key,
                                    parked=parked, now_ms=NOW_MS + 60_000)


def _drain(aws, lambda_context) -> int:
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"]).get("Messages", [])
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:q",
                "awsRegion": REGION} for m in messages]
    if records:
        run({"Records": records}, lambda_context)
    return len(records)


PREFIXES = {"quarantine": "quarantine/direct/2024/11/22", "parked": "parked/webhooks-test-dlq.fifo/2024/11/22"}


@pytest.mark.parametrize("where", ["quarantine", "parked"])
def test_a_forged_direct_payment_written_to_the_archive_never_becomes_a_payment(aws, lambda_context, where):
    # someone with s3:PutObject under quarantine/ or parked/ writes a payment of their own
    forged = direct_envelope("order-planted-001", sign=False)
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{PREFIXES[where]}/forged.json",
                      Body=_document(forged, reason="failed_after_redrive", request_id="forged"))
    report = _replay(aws, parked=where == "parked")
    assert (report.requeued, dict(report.still_rejected)) == (0, {"internal_signature_mismatch": 1})
    _drain(aws, lambda_context)
    assert Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for("order-planted-001")) is None


@pytest.mark.parametrize("where", ["quarantine", "parked"])
def test_a_genuine_direct_payment_in_the_archive_is_replayed_with_its_signature(aws, lambda_context, where):
    genuine = direct_envelope("order-parked-0001")  # signed by the validator, parked after a failure
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{PREFIXES[where]}/genuine.json",
                      Body=_document(genuine, reason="failed_after_redrive", request_id="genuine"))
    report = _replay(aws, parked=where == "parked")
    assert (report.requeued, dict(report.still_rejected)) == (1, {})
    [message] = aws.sqs.receive_message(QueueUrl=aws.queue_url, AttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    assert message["Attributes"]["MessageGroupId"] == direct.transaction_id_for("order-parked-0001")  # the validator's
    assert _drain(aws, lambda_context) == 1
    state = Ledger(aws.dynamodb, aws.table).get_state(direct.transaction_id_for("order-parked-0001"))
    assert state["status"] == "succeeded"


# ================================================================ item 3: an unverified message's group

POISON_URL = "https://api.paypal.com/v1/notifications/certs/CERT-does-not-exist"


@pytest.fixture
def ingest_with_dlq(aws, monkeypatch):
    """The ingest queue as deployed: FIFO, visibility 180 s, maxReceiveCount 5 into a FIFO DLQ; moto's
    clock under the test's control (and moto's FIFO group lock as SQS's: tests/lambda/delivery_fixtures.py)."""
    now = {"t": NOW_MS / 1000}
    monkeypatch.setattr(moto.sqs.models, "unix_time", lambda *a: now["t"])
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *a: now["t"] * 1000)
    patch_moto_visibility(monkeypatch, limit_from_sent=False)
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="webhooks-g-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="webhooks-g.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "180",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})})["QueueUrl"]

    def advance(seconds: float) -> None:
        now["t"] += seconds

    return sqs, url, dlq, advance


def _send(sqs, url: str, body: str, group: str) -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                     MessageDeduplicationId=json.loads(body)["request_id"])


def _depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


#: how soon "soon" is: a retry within this many seconds
SHORT = 15


@pytest.mark.parametrize("answer,receives", [
    (paypal.CertificateUnavailable("HTTP 503"), 2),   # may pass: retried once, soon, then quarantined
    (Rejected("certificate_unavailable"), 1),         # a 404: quarantined at once
])
def test_an_unverified_message_holds_a_genuine_event_of_its_group_for_one_short_retry_at_most(
        aws, lambda_context, paypal_event, paypal_envelope, paypal_keys, ingest_with_dlq, monkeypatch, answer, receives):
    sqs, url, dlq, advance = ingest_with_dlq
    paypal_keys.served[POISON_URL] = answer
    # someone with the gate key names the victim's capture (the group comes from the unverified body)
    poison = paypal_envelope(paypal_event(event_id="WH-POISON-1", capture_id="CAPVICTIM2"), cert_url=POISON_URL)
    genuine = paypal_envelope(paypal_event(event_id="WH-GENUINE-2", capture_id="CAPVICTIM2"))
    _send(sqs, url, poison, "CAPVICTIM2")
    _send(sqs, url, genuine, "CAPVICTIM2")
    visibility = []  # what the function set, as SQS sees it
    real = moto.sqs.models.SQSBackend.change_message_visibility

    def change(backend, queue_name, receipt_handle, visibility_timeout):
        visibility.append(int(visibility_timeout))
        return real(backend, queue_name, receipt_handle, visibility_timeout)

    monkeypatch.setattr(moto.sqs.models.SQSBackend, "change_message_visibility", change)
    def invoke(event, context):
        try:
            return processor_handler.handler(event, context)
        except BatchProcessingError:  # a function error: Lambda leaves every record of the batch in the queue
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    source = EventSourceStandIn(sqs, url, invoke, context=lambda_context)
    waits = 0
    for _ in range(10):  # receive, and when nothing is visible, let a short time pass
        if not source.poll_once():
            if not _depth(sqs, url):
                break
            waits += 1
            advance(SHORT)
    paypal_keys.served.pop(POISON_URL)

    # the first receive, then at most one short wait (moto returns the group's second message in a
    # receive of its own, where SQS would return both: the count of receives is moto's, the waits SQS's)
    assert waits == receives - 1
    assert len(visibility) == 2 * (receives - 1) and all(v < SHORT for v in visibility)  # the poison and the genuine
    assert [e["event_id"] for e in Ledger(aws.dynamodb, aws.table).get_events("CAPVICTIM2")] == ["WH-GENUINE-2"]
    [document] = quarantined(aws).values()
    assert (document["reason"], document["message_body"]) == ("certificate_unavailable", poison)
    assert _depth(sqs, url) == 0 and _depth(sqs, dlq) == 0  # nothing waits, nothing dead-lettered


def test_a_certificate_outage_quarantines_for_replay_and_the_replay_records(
        aws, lambda_context, paypal_event, paypal_envelope, paypal_keys, sqs_event):
    # PayPal's certificate host failing twice in a row: the genuine event is quarantined, not lost
    url = "https://api.paypal.com/v1/notifications/certs/CERT-outage"
    paypal_keys.served[url] = paypal.CertificateUnavailable("timed out")
    body = paypal_envelope(paypal_event(event_id="WH-OUTAGE-1", capture_id="CAPOUTAGE1"), cert_url=url)
    event = sqs_event([body])
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert run(event, lambda_context) == {"batchItemFailures": []}
    assert [d["reason"] for d in quarantined(aws).values()] == ["certificate_unavailable"]
    paypal_keys.served[url] = paypal_keys.pem  # the host answers again
    store = SecretStore(aws.secretsmanager, prefix=SECRET_PREFIX, max_age=0)
    report = replay_quarantine.replay(aws.s3, aws.sqs, bucket=aws.bucket, queue_url=aws.queue_url,
                                      signing_secret=store.signing, now_ms=NOW_MS + 60_000)
    paypal_keys.served.pop(url)
    assert report.requeued == 1 and _drain(aws, lambda_context) == 1
    assert [e["event_id"] for e in Ledger(aws.dynamodb, aws.table).get_events("CAPOUTAGE1")] == ["WH-OUTAGE-1"]
