"""The ingest envelope: built by the validator and the local runner, parsed by the processor.
(The API Gateway request template rendered from the same definition: test_request_template.py.)"""
from __future__ import annotations

import json

import pytest
from handler_constants import NOW_MS, INGEST_MAX_MESSAGE_BYTES
from paycore.envelope import (
    DEFAULT_MAX_MESSAGE_BYTES,
    build_envelope,
    message_size,
    parse_envelope,
)
from paycore.model import Rejected


@pytest.mark.parametrize(
    "text",
    ["", "[]", "{}", '{"v": 2}', json.dumps({"v": 1, "provider": "stripe", "received_at": "1", "request_id": "r", "source_ip": "", "headers": {}, "body_b64": ""}),
     json.dumps({"v": 1, "provider": "stripe", "received_at": 1, "request_id": "r", "source_ip": "", "headers": {}, "body_b64": "***"})],
)
def test_malformed_envelopes_are_rejected(text):
    with pytest.raises(Rejected) as caught:
        parse_envelope(text)
    assert caught.value.reason == "malformed_envelope"


def test_envelope_round_trips():
    envelope = build_envelope(provider="stripe", received_at=NOW_MS, request_id="r", source_ip="1.1.1.1", headers={"Stripe-Signature": "t=1"}, raw=b"\x00\xffbytes")
    assert parse_envelope(envelope.to_json()) == envelope


def test_envelope_bigger_than_the_queue_accepts_is_refused_by_sqs(aws):
    """The code assumes 262,144 bytes per message (DEFAULT_MAX_MESSAGE_BYTES); base64 makes the
    body 4/3 bigger, so a raw webhook body over ~196 KB cannot be enqueued: SQS answers 400
    InvalidParameterValue (see lambda_src/README.md for what the API then answers)."""
    assert DEFAULT_MAX_MESSAGE_BYTES == INGEST_MAX_MESSAGE_BYTES == 262_144
    fits = build_envelope(provider="stripe", received_at=NOW_MS, request_id="r", source_ip="", headers={}, raw=b"x" * 196_000)
    too_big = build_envelope(provider="stripe", received_at=NOW_MS, request_id="r", source_ip="", headers={}, raw=b"x" * 197_000)
    assert message_size(fits) <= DEFAULT_MAX_MESSAGE_BYTES < message_size(too_big)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=fits.to_json(), MessageGroupId="g", MessageDeduplicationId="a")
    with pytest.raises(aws.sqs.exceptions.ClientError) as caught:
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=too_big.to_json(), MessageGroupId="g", MessageDeduplicationId="b")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_a_parsed_envelope_sets_every_field_as_the_constructor_would():
    """parse_envelope fills the instance without Envelope's __init__ (CPU per message): a field
    added to Envelope must be set there too."""
    import dataclasses

    from paycore.envelope import Envelope

    built = build_envelope(provider="stripe", received_at=NOW_MS, request_id="r", source_ip="1.1.1.1", headers={"Stripe-Signature": "t=1"}, raw=b"{}")
    parsed = parse_envelope(built.to_json())
    assert [f.name for f in dataclasses.fields(Envelope)] == [name for name in vars(parsed) if name != "raw"]
    assert dataclasses.asdict(parsed) == dataclasses.asdict(built)
