"""A provider in the batch shape (tests/plugins/batchpay.py: several items per request, each
HMAC-signed, answered `[accepted]`), registered only here and driven through the real request
template and the processor against moto: each item is recorded once by its own event id, a forged
item is quarantined without losing the good ones, and a failure mid-request loses or doubles nothing."""
from __future__ import annotations

import json
import urllib.parse
import uuid

from scripts.local.runner import apigw_vtl  # API Gateway's $input/$util/$context stand-ins
import processor_handler
import pytest
from handler_constants import NOW_MS, SECRET_PREFIX
from plugins import batchpay
from test_processor import metric_total, quarantined

from constructs.app.request_templates import render_request_template
from paycore import providers
from paycore.envelope import build_envelope
from paycore.ledger import Ledger

OTHER_KEY = "ab" * 32  # a hex key the platform does not hold


@pytest.fixture
def batch(aws, monkeypatch):
    """batchpay registered and enabled, its signing secret in Secrets Manager; forgotten after."""
    providers.register(batchpay.PROVIDER)
    monkeypatch.setattr(processor_handler, "ENABLED_PROVIDERS", processor_handler.ENABLED_PROVIDERS | {"batchpay"})
    aws.secretsmanager.create_secret(Name=f"{SECRET_PREFIX}batchpay/signing",
                                     SecretString=json.dumps({"current": batchpay.TEST_HMAC_KEY}))
    yield aws
    providers.unregister("batchpay")


def item(event_id: str, payment_id: str, *, code: str = "AUTHORISATION", amount: int = 1999, key: str = batchpay.TEST_HMAC_KEY,
         vendor_id: str = "vendor_1") -> dict:
    fields = {"id": event_id, "code": code, "success": "true", "payment_id": payment_id, "amount": amount,
              "currency": "EUR", "vendor_id": vendor_id, "customer_id": "cus_1", "created_at": "2024-11-22T01:46:39Z"}
    return {**fields, "hmac": batchpay.sign_item(fields, key)}


def envelope(*items: dict, request_id: str | None = None) -> str:
    raw = json.dumps({"live": "false", "items": list(items)}).encode()
    return build_envelope(provider="batchpay", received_at=NOW_MS, request_id=request_id or str(uuid.uuid4()),
                          source_ip="198.51.100.7", headers={}, raw=raw).to_json()


def events(aws, payment_id: str) -> list[str]:
    return [row["event_id"] for row in Ledger(aws.dynamodb, aws.table).get_events(payment_id)]


def test_every_item_of_a_request_is_recorded_once_even_when_the_request_comes_twice(
        batch, lambda_context, sqs_event, capsys):
    body = envelope(item("bp_evt_1", "bp_pay_1"), item("bp_evt_2", "bp_pay_2"),
                    item("bp_evt_3", "bp_pay_1", code="REFUND"))
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}  # a resend

    assert sorted(events(batch, "bp_pay_1")) == ["bp_evt_1", "bp_evt_3"]
    assert events(batch, "bp_pay_2") == ["bp_evt_2"]
    ledger = Ledger(batch.dynamodb, batch.table)
    assert (ledger.get_state("bp_pay_1")["status"], ledger.get_state("bp_pay_2")["status"]) == ("refunded", "succeeded")
    logs = capsys.readouterr().out
    assert metric_total(logs, "WebhookRecorded") == 3
    assert metric_total(logs, "DuplicateWebhook") == 3
    assert quarantined(batch) == {}


def test_a_forged_item_is_quarantined_and_the_good_items_of_its_request_are_recorded(
        batch, lambda_context, sqs_event, capsys):
    forged = item("bp_evt_9", "bp_pay_9", amount=1)
    forged["amount"] = 10**9  # changed after signing
    body = envelope(item("bp_evt_1", "bp_pay_1"), forged, item("bp_evt_2", "bp_pay_2", key=OTHER_KEY),
                    item("bp_evt_3", "bp_pay_3"), request_id="req-batch-1")
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}

    assert (events(batch, "bp_pay_1"), events(batch, "bp_pay_3")) == (["bp_evt_1"], ["bp_evt_3"])
    assert events(batch, "bp_pay_9") == events(batch, "bp_pay_2") == []
    ((key, document),) = quarantined(batch).items()
    assert key.startswith("quarantine/batchpay/") and key.endswith("/req-batch-1.json")
    assert document["items"] == [{"index": 1, "reason": "signature_mismatch"}, {"index": 2, "reason": "signature_mismatch"}]
    assert (document["reason"], document["message_body"]) == ("signature_mismatch", body)  # the whole request, replayable
    logs = capsys.readouterr().out
    assert metric_total(logs, "WebhookRecorded") == 2
    assert metric_total(logs, "WebhookRejected", reason="signature_mismatch") == 2
    assert "10000000" not in logs  # no item content in a log line


def test_replaying_a_quarantined_request_after_the_key_is_fixed_records_only_the_missing_item(
        batch, lambda_context, sqs_event):
    body = envelope(item("bp_evt_1", "bp_pay_1"), item("bp_evt_2", "bp_pay_2", key=OTHER_KEY))
    processor_handler.handler(sqs_event([body]), lambda_context)
    ((_, document),) = quarantined(batch).items()
    batch.secretsmanager.put_secret_value(SecretId=f"{SECRET_PREFIX}batchpay/signing", SecretString=json.dumps(
        {"current": OTHER_KEY, "previous": batchpay.TEST_HMAC_KEY}))  # the key the sender signs with now
    processor_handler.secrets.clear()

    outcome = processor_handler.process_message(document["message_body"], message_id="m-replay", sent_at_ms=NOW_MS,
                                                deps=processor_handler.default_deps())
    assert [(o.kind, o.event_id) for o in outcome.items] == [("duplicate", "bp_evt_1"), ("recorded", "bp_evt_2")]
    assert events(batch, "bp_pay_2") == ["bp_evt_2"]


def test_a_failure_mid_request_retries_the_message_and_loses_or_doubles_no_item(
        batch, lambda_context, sqs_event, monkeypatch, capsys):
    body = envelope(item("bp_evt_1", "bp_pay_1"), item("bp_evt_2", "bp_pay_2"), item("bp_evt_3", "bp_pay_3"))
    real_record, calls = processor_handler.ledger.record, []

    def throttled_once(txn, *args, **kwargs):
        calls.append(txn.event_id)
        if txn.event_id == "bp_evt_2" and calls.count("bp_evt_2") == 1:
            raise ConnectionError("DynamoDB throttled after botocore's retries")
        return real_record(txn, *args, **kwargs)

    monkeypatch.setattr(processor_handler.ledger, "record", throttled_once)
    with pytest.raises(Exception, match="All records failed"):
        processor_handler.handler(sqs_event([body]), lambda_context)  # the only record failed: SQS redelivers it
    assert events(batch, "bp_pay_1") == ["bp_evt_1"] and events(batch, "bp_pay_3") == []

    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}  # the redelivery
    assert [events(batch, p) for p in ("bp_pay_1", "bp_pay_2", "bp_pay_3")] == [["bp_evt_1"], ["bp_evt_2"], ["bp_evt_3"]]
    logs = capsys.readouterr().out
    # each item counted recorded once (bp_evt_1 by the failed attempt) and each payment succeeded once
    assert (metric_total(logs, "WebhookRecorded"), metric_total(logs, "DuplicateWebhook")) == (3, 1)
    assert metric_total(logs, "SuccessfulTransactions") == 3


@pytest.mark.parametrize("payload", [{"live": "false"}, {"items": []}, {"items": "x"}, {"items": [{}] * 101}])
def test_a_request_without_items_is_quarantined_whole(batch, lambda_context, sqs_event, payload):
    body = build_envelope(provider="batchpay", received_at=NOW_MS, request_id="req-empty", source_ip="198.51.100.7",
                          headers={}, raw=json.dumps(payload).encode()).to_json()
    assert processor_handler.handler(sqs_event([body]), lambda_context) == {"batchItemFailures": []}
    ((_, document),) = quarantined(batch).items()
    assert document["reason"] == "malformed_body" and "items" not in document


def test_an_item_without_a_signature_or_an_id_is_rejected_alone(batch, lambda_context, sqs_event):
    unsigned = {k: v for k, v in item("bp_evt_5", "bp_pay_5").items() if k != "hmac"}
    no_id = item("", "bp_pay_6")
    body = envelope(unsigned, no_id, item("bp_evt_7", "bp_pay_7"))
    processor_handler.handler(sqs_event([body]), lambda_context)
    ((_, document),) = quarantined(batch).items()
    assert document["items"] == [{"index": 0, "reason": "missing_signature"}, {"index": 1, "reason": "missing_event_id"}]
    assert events(batch, "bp_pay_7") == ["bp_evt_7"]


def test_the_provider_is_unknown_to_the_processor_unless_enabled(aws, lambda_context, sqs_event):
    providers.register(batchpay.PROVIDER)
    try:
        body = envelope(item("bp_evt_1", "bp_pay_1"))
        processor_handler.handler(sqs_event([body]), lambda_context)
    finally:
        providers.unregister("batchpay")
    ((_, document),) = quarantined(aws).items()
    assert document["reason"] == "unknown_provider" and events(aws, "bp_pay_1") == []


def test_the_rendered_request_template_groups_the_message_by_the_first_items_payment(batch, lambda_context, sqs_event):
    raw = json.dumps({"live": "false", "items": [item("bp_evt_1", "bp_pay_1"), item("bp_evt_2", "bp_pay_2")]})
    output = apigw_vtl.render(render_request_template("batchpay"), body=raw.encode(), headers={"User-Agent": "BatchPay"},
                              request_id="req-vtl-b", request_time_ms=NOW_MS, source_ip="198.51.100.7")
    form = {k: v[0] for k, v in urllib.parse.parse_qs(output, keep_blank_values=True, strict_parsing=True).items()}
    assert (form["MessageGroupId"], form["MessageDeduplicationId"]) == ("bp_pay_1", "req-vtl-b")
    message = json.loads(form["MessageBody"])
    assert (message["provider"], message["headers"]) == ("batchpay", {})
    assert processor_handler.handler(sqs_event([form["MessageBody"]]), lambda_context) == {"batchItemFailures": []}
    assert events(batch, "bp_pay_2") == ["bp_evt_2"]
