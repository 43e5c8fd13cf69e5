"""The API Gateway request template of the webhook routes (constructs/app/request_templates.py),
rendered from the envelope's one definition and run here with the airspeed VTL engine and
scripts/local/runner/apigw_vtl.py's stand-ins for $util / $input / $context: what it produces is an envelope the
processor accepts."""
from __future__ import annotations

import json
import urllib.parse
from dataclasses import fields

from scripts.local.runner import apigw_vtl
import processor_handler
import pytest
from handler_constants import NOW_MS, NOW_S, STRIPE_SECRET
from paycore.envelope import FIELD_NAMES, Envelope, parse_envelope
from paycore.ledger import Ledger
from paycore.model import Rejected
from paycore.providers import stripe

from constructs.app.request_templates import render_request_template


def render(provider: str, body: str, headers: dict[str, str], request_id: str = "req-vtl-1") -> dict[str, str]:
    output = apigw_vtl.render(render_request_template(provider), body=body.encode("utf-8"), headers=headers,
                              path={"provider": provider}, request_id=request_id, request_time_ms=NOW_MS,
                              source_ip="54.187.174.169")
    assert "\n" not in output and " " not in output  # one form-encoded line, nothing stray
    form = urllib.parse.parse_qs(output, keep_blank_values=True, strict_parsing=True)
    return {k: v[0] for k, v in form.items()}


def test_template_and_parser_use_the_one_definition():
    assert FIELD_NAMES == ("v", "provider", "received_at", "request_id", "source_ip", "headers", "body_b64")
    assert {f.name for f in fields(Envelope)} == set(FIELD_NAMES)
    template = render_request_template("stripe")
    for name in FIELD_NAMES:
        assert f'"{name}":' in template


def test_rendered_stripe_request_is_an_envelope_the_processor_accepts(aws, lambda_context, stripe_event, sqs_event):
    raw = json.dumps(stripe_event(), indent=2)
    form = render("stripe", raw, {"Stripe-Signature": stripe.sign(STRIPE_SECRET, NOW_S, raw.encode()), "User-Agent": "Stripe/1.0"})
    assert form["Action"] == "SendMessage"
    assert form["MessageDeduplicationId"] == "req-vtl-1"  # the request id, never the body's $.id
    assert form["MessageGroupId"] == "pi_1"
    envelope = parse_envelope(form["MessageBody"])
    assert envelope.raw == raw.encode()  # exact bytes survive
    assert (envelope.provider, envelope.received_at, envelope.request_id, envelope.source_ip) == ("stripe", NOW_MS, "req-vtl-1", "54.187.174.169")
    assert list(envelope.headers) == ["stripe-signature"]  # only the signature header is kept

    response = processor_handler.handler(sqs_event([form["MessageBody"]]), lambda_context)
    assert response == {"batchItemFailures": []}
    assert Ledger(aws.dynamodb, aws.table).get_state("pi_1")["status"] == "succeeded"


def test_rendered_paypal_request_keeps_all_transmission_headers(paypal_event):
    raw = json.dumps(paypal_event())
    headers = {
        "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "PAYPAL-TRANSMISSION-TIME": "2024-11-22T01:46:39Z",
        "PAYPAL-TRANSMISSION-SIG": "bG9uZyBzaWduYXR1cmU=",
        "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "Content-Type": "application/json",
    }
    form = render("paypal", raw, headers)
    envelope = parse_envelope(form["MessageBody"])
    assert envelope.headers == {k.lower(): v for k, v in headers.items() if k.startswith("PAYPAL")}
    assert (form["MessageDeduplicationId"], form["MessageGroupId"]) == ("req-vtl-1", "CAP1")


def test_a_forged_copy_cannot_claim_the_dedup_id_of_the_genuine_event(stripe_event):
    raw = json.dumps(stripe_event())
    forged = render("stripe", raw, {"Stripe-Signature": "t=1,v1=" + "0" * 64}, request_id="req-forged")
    genuine = render("stripe", raw, {"Stripe-Signature": stripe.sign(STRIPE_SECRET, NOW_S, raw.encode())}, request_id="req-genuine")
    assert forged["MessageDeduplicationId"] != genuine["MessageDeduplicationId"]
    assert "evt_1" not in (forged["MessageDeduplicationId"], genuine["MessageDeduplicationId"])


def test_body_without_ids_falls_back_to_the_request_id(stripe_event):
    form = render("stripe", '{"hello": "world"}', {}, request_id="req-no-ids")
    assert form["MessageDeduplicationId"] == "req-no-ids" and form["MessageGroupId"] == "req-no-ids"
    assert parse_envelope(form["MessageBody"]).headers == {}  # absent header dropped


def test_header_value_with_quotes_and_unicode_stays_valid_json():
    form = render("stripe", '{"id": "evt_q"}', {"stripe-signature": 't=1,v1="x"\\/é'})
    assert parse_envelope(form["MessageBody"]).headers["stripe-signature"] == 't=1,v1="x"\\/é'


def test_header_value_with_a_single_quote_is_a_malformed_envelope():
    # escapeJavaScript turns ' into \' (not JSON); Stripe and PayPal never send one: quarantined.
    form = render("stripe", '{"id": "evt_q"}', {"stripe-signature": "t=1,v1='x'"})
    with pytest.raises(Rejected) as caught:
        parse_envelope(form["MessageBody"])
    assert caught.value.reason == "malformed_envelope"


def test_direct_payments_have_no_webhook_template():
    with pytest.raises(ValueError):
        render_request_template("direct")
