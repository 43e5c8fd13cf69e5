"""No payload, signature, key or secret in any log line: run the bad-input paths of every handler
and search everything they wrote (the Powertools JSON handler, stdout/stderr, the logging tree)."""
from __future__ import annotations

import base64
import io
import json

import pytest
from apigateway_events import IamCaller, authorizer_event, proxy_event, synthesized_api
from handler_constants import GATE_KEY, NOW_S, PAYPAL_WEBHOOK_ID, STRIPE_PREVIOUS_SECRET, STRIPE_SECRET

import authorizer_handler
import processor_handler
import validator_handler
from paycore import obs
from paycore.providers import stripe

BODY_MARKER = "CARDHOLDER-Jane-Q-Public-4242"
API = synthesized_api("dev")


@pytest.fixture
def captured(capsys, caplog):
    """Everything logged while the test runs, as one string."""
    handler = obs.logger.registered_handler
    buffer = io.StringIO()
    original = handler.setStream(buffer)
    caplog.set_level("DEBUG")

    def text() -> str:
        out = capsys.readouterr()
        return buffer.getvalue() + out.out + out.err + caplog.text

    yield text
    handler.setStream(original)


def forbidden(*extra: str) -> list[str]:
    return [STRIPE_SECRET, STRIPE_PREVIOUS_SECRET, PAYPAL_WEBHOOK_ID, GATE_KEY, BODY_MARKER, *extra]


def assert_clean(logs: str, *extra: str) -> None:
    assert logs.strip(), "nothing was logged: the test would prove nothing"
    for value in forbidden(*extra):
        assert value not in logs


def payment_request(body: str) -> dict:
    return proxy_event(API, "POST", "/payments", headers={"Idempotency-Key": "key-12345678"}, body=body, caller=IamCaller())


def event_with_marker(stripe_event) -> dict:
    event = stripe_event()
    event["data"]["object"]["description"] = BODY_MARKER
    return event


def test_processor_rejections_log_no_content(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, captured):
    event = event_with_marker(stripe_event)
    raw = json.dumps(event, indent=2).encode()
    wrong = stripe.sign("whsec_attacker_guess_000", NOW_S, raw)
    good_sig = stripe.sign(STRIPE_SECRET, NOW_S, raw).split("v1=")[1]
    bodies = [
        stripe_envelope(event, header=wrong),  # wrong secret
        stripe_envelope(event, header=f"t={NOW_S},v0={good_sig}"),  # v0 only
        stripe_envelope(event, timestamp=NOW_S - 4000),  # expired
        stripe_envelope(f"not json {BODY_MARKER}".encode()),  # non-JSON body
        f"garbage envelope {BODY_MARKER}",  # unreadable envelope
    ]
    response = processor_handler.handler(sqs_event(bodies, group_ids=["a", "b", "c", "d", "e"]), lambda_context)
    assert response == {"batchItemFailures": []}
    logs = captured()
    assert logs.count("webhook rejected") >= 5
    b64_body = base64.b64encode(raw).decode()
    assert_clean(logs, wrong.split("v1=")[1], good_sig, b64_body[:40])


def test_processor_failure_traceback_logs_no_content(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, captured):
    aws.secretsmanager.delete_secret(SecretId="payment-webhooks/test/stripe/signing", ForceDeleteWithoutRecovery=True)
    body = stripe_envelope(event_with_marker(stripe_event))
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):
        processor_handler.handler(sqs_event([body]), lambda_context)
    assert_clean(captured(), json.loads(body)["headers"]["stripe-signature"])


def test_authorizer_logs_no_key(aws, lambda_context, captured):
    attempts = [
        authorizer_event(API, "/webhooks/stripe", headers={"X-Webhook-Key": "gk_WRONG_attacker_key_123"}),
        authorizer_event(API, "/webhooks/stripe", query={"key": GATE_KEY}),
        authorizer_event(API, "/webhooks/stripe", headers={}),
    ]
    for event in attempts:
        try:
            authorizer_handler.handler(event, lambda_context)
        except Exception:  # noqa: BLE001 - the 401 path
            pass
    logs = captured()
    assert "webhook gate" in logs
    assert_clean(logs, "gk_WRONG_attacker_key_123")


def test_validator_logs_no_payload(aws, lambda_context, captured):
    for body in ({"amount": -1, "currency": BODY_MARKER}, {"amount": 5, "currency": "EUR", "vendor_id": "v", "customer_id": "c", "note": BODY_MARKER}):
        event = payment_request(json.dumps(body))
        assert validator_handler.handler(event, lambda_context)["statusCode"] == 400
    logs = captured()
    assert "payment request rejected" in logs
    assert_clean(logs, "key-12345678")


def test_processor_unroutable_and_misconfigured_paths_log_no_content(aws, lambda_context, stripe_event, stripe_envelope, sqs_event, captured):
    """A recorded event with unsafe business fields names the reasons, never the raw values; an
    unusable signing secret is named by its problem, never its value."""
    unsafe_vendor, unsafe_customer = f"vendor {BODY_MARKER}", f"customer/{BODY_MARKER}"
    event = event_with_marker(stripe_event)
    event["data"]["object"].update(currency="zzq", customer=unsafe_customer, metadata={"vendor_id": unsafe_vendor})
    assert processor_handler.handler(sqs_event([stripe_envelope(event)]), lambda_context) == {"batchItemFailures": []}
    aws.secretsmanager.put_secret_value(SecretId="payment-webhooks/test/stripe/signing",
                                        SecretString=json.dumps({"curent": STRIPE_SECRET}))  # misspelled key
    from paycore.secrets import clear_all_caches
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    clear_all_caches()
    with pytest.raises(BatchProcessingError):
        processor_handler.handler(sqs_event([stripe_envelope(stripe_event(event_id="evt_2"))]), lambda_context)
    logs = captured()
    assert "routed to no vendor" in logs and "signing secret unusable" in logs
    assert_clean(logs, unsafe_vendor, unsafe_customer, "zzq", "ZZQ")


def test_validator_and_processor_survive_nested_bodies_without_logging_them(aws, lambda_context, stripe_envelope, sqs_event, captured):
    nested = "[" * 5_000 + f'"{BODY_MARKER}"' + "]" * 5_000
    event = payment_request(nested)
    assert validator_handler.handler(event, lambda_context)["statusCode"] == 400
    assert processor_handler.handler(sqs_event([stripe_envelope(nested.encode())]), lambda_context) == {"batchItemFailures": []}
    assert_clean(captured())


def test_processor_paypal_certificate_failures_log_no_certificate_or_signature(aws, lambda_context, paypal_event, paypal_envelope, paypal_keys, sqs_event, captured):
    from paycore.providers import paypal

    authority = paypal_keys.authority
    impostor = authority.chain_pem(authority.issue_leaf(paypal_keys.key, common_name="attacker.evil.example"))
    self_signed = authority.chain_pem(authority.issue_leaf(paypal_keys.key, self_signed=True), with_intermediate=False)
    urls = {f"https://api.paypal.com/v1/notifications/certs/CERT-hygiene-{n}": pem
            for n, pem in enumerate([impostor, self_signed, f"<html>{BODY_MARKER}</html>".encode()])}
    paypal_keys.served.update(urls)
    event = paypal_event()
    event["resource"]["note"] = BODY_MARKER
    stale = paypal_envelope(event, transmission_time="2022-11-22T01:46:39Z")
    bodies = [paypal_envelope(event, cert_url=url) for url in urls]
    bodies.insert(2, stale)  # the non-PEM answer last: FIFO fails every record after a failure
    try:
        response = processor_handler.handler(sqs_event(bodies, group_ids=["a", "b", "c", "d"]), lambda_context)
    finally:
        for url in urls:
            paypal_keys.served.pop(url)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m4"}]}  # the non-PEM answer: retried
    logs = captured()
    assert logs.count("paypal certificate not trusted") >= 2
    signatures = [json.loads(b)["headers"]["paypal-transmission-sig"] for b in bodies]
    pem_lines = [line for pem in (impostor, self_signed) for line in pem.decode().splitlines()[1:-1]]
    assert_clean(logs, "attacker.evil.example", paypal.CertificateUnavailable.__name__ + ": <html>",
                 *signatures, *[line for line in pem_lines if len(line) > 20])


# --------------------------------------------------------------------------- vendor delivery

from delivery_fixtures import (  # noqa: E402,F401  (fixtures)
    Esm,
    FakeContext,
    clock,
    delivery_env,
    fanout,
    moto_visibility_as_sent,
    sender,
    sqs_event as delivery_sqs_event,
    status_change,
)
from downstream_fixtures import aws_env  # noqa: E402,F401


def test_delivery_logs_no_payload_signature_secret_or_url(delivery_env, fanout, sender, captured, monkeypatch):
    monkeypatch.setenv("DELIVERY_RETRY_SCHEDULE", "0,5")
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", respond=lambda v, h, b: 500)
    other = delivery_env.add_endpoint("vendor-a", "ep-a-gone", respond=lambda v, h, b: 410)
    body = status_change("pi_1", "succeeded")
    body = body.replace('"currency": {"S": "USD"}', f'"currency": {{"S": "{BODY_MARKER}"}}')
    assert BODY_MARKER in body
    assert fanout.handler(delivery_sqs_event([body, "not json " + BODY_MARKER]), FakeContext())["batchItemFailures"] == [
        {"itemIdentifier": "e1"}]
    Esm(delivery_env, sender.handler).run()
    assert len(vendor.requests) == 2 and len(other.requests) == 1
    logs = captured()
    assert "webhook delivery exhausted" in logs and "delivery endpoint disabled" in logs
    signatures = [r["signature"].split(",", 1)[1] for r in vendor.requests + other.requests]
    assert_clean(logs, vendor.secret, vendor.secret[6:], other.secret, *signatures, vendor.url, "/hooks/", "127.0.0.1:")
