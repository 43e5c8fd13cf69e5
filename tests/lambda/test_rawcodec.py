"""The event row's compressed raw body (paycore.rawcodec) and the row's size: one write unit."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from paycore import ledger, rawcodec
from paycore.envelope import build_envelope
from paycore.providers import paypal, stripe

DATA = Path(__file__).resolve().parents[2] / "scripts" / "data"
STRIPE_RAW = (DATA / "stripe_payment_intent_succeeded.json").read_bytes()
PAYPAL_RAW = (DATA / "paypal_capture_completed.json").read_bytes()
KB = 1024


def item_size(item: dict) -> int:
    """DynamoDB item size of the row as written (None left out): attribute names + values."""
    from scripts.cost import capture as cost_capture

    return cost_capture.item_size(ledger.serialize(item))


def stripe_row() -> dict:
    envelope = build_envelope(provider="stripe", received_at=1_732_240_000_123, request_id="0" * 36,
                              source_ip="54.187.174.169",
                              headers={"stripe-signature": stripe.sign("whsec_" + "0" * 32, 1_732_240_000, STRIPE_RAW)},
                              raw=STRIPE_RAW)
    txn = stripe.PROVIDER.normalize(envelope, json.loads(STRIPE_RAW))
    return ledger.event_item(txn, STRIPE_RAW, request_id=envelope.request_id, signature_headers=envelope.headers)


def paypal_row() -> dict:
    headers = {"paypal-transmission-id": "8ac5e2f0-a8e5-11ef-8a1f-6f0b4c3d2e1a",
               "paypal-transmission-time": "2024-11-22T01:46:36Z",
               "paypal-transmission-sig": "A" * 344,  # base64 of a 2048-bit RSA signature
               "paypal-cert-url": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-b6d7b3a4",
               "paypal-auth-algo": "SHA256withRSA"}
    envelope = build_envelope(provider="paypal", received_at=1_732_240_000_123, request_id="0" * 36,
                              source_ip="173.0.82.126", headers=headers, raw=PAYPAL_RAW)
    txn = paypal.PROVIDER.normalize(envelope, json.loads(PAYPAL_RAW))
    return ledger.event_item(txn, PAYPAL_RAW, request_id=envelope.request_id, signature_headers=envelope.headers)


@pytest.mark.parametrize("raw", [STRIPE_RAW, PAYPAL_RAW, b"", b"{}", bytes(range(256)) * 8], ids=["stripe", "paypal", "empty", "tiny", "binary"])
def test_zd1_round_trips_byte_exact_and_deterministic(raw):
    packed = rawcodec.pack(raw)
    assert list(packed) == ["raw_zd1"]
    assert rawcodec.unpack(packed) == raw
    assert rawcodec.pack(raw) == packed  # the same body gives the same bytes


def test_rows_written_with_gzip_still_read():
    assert rawcodec.unpack({"raw_gzip": gzip.compress(STRIPE_RAW, mtime=0)}) == STRIPE_RAW


def test_zd1_dictionary_is_frozen():
    """Rows written with zd1 decode only with these exact bytes: a new dictionary is a new version."""
    assert hashlib.sha256(rawcodec.ZD1_DICTIONARY).hexdigest() == ZD1_SHA256


ZD1_SHA256 = "7f051dbfad1ff447a933b36733a146510be9bc3301d8a0423aeffb42ed05b224"


def test_zd1_compresses_the_realistic_events_far_below_gzip():
    for raw in (STRIPE_RAW, PAYPAL_RAW):
        zd1 = len(rawcodec.pack(raw)["raw_zd1"])
        print(f"{len(raw)} B -> zd1 {zd1} B, gzip {len(gzip.compress(raw, mtime=0))} B")
        assert zd1 < 0.6 * len(gzip.compress(raw, mtime=0))


@pytest.mark.parametrize(("bad", "error"), [({"raw_zd1": b"\xff\xff\xff"}, ValueError), ({"raw_zd1": b""}, ValueError),
                                            ({"raw_gzip": b"plain"}, ValueError), ({}, KeyError)])
def test_unreadable_or_missing_payload_raises(bad, error):
    with pytest.raises(error):
        rawcodec.unpack(bad)


def test_truncated_zd1_stream_is_refused():
    packed = rawcodec.pack(STRIPE_RAW)["raw_zd1"]
    with pytest.raises(ValueError):
        rawcodec.unpack({"raw_zd1": packed[:-5]})


def test_realistic_stripe_event_row_is_one_write_unit():
    """The 2,997-byte Stripe payment_intent.succeeded as the processor stores it: <= 1 KB."""
    row = stripe_row()
    size = item_size(row)
    print(f"stripe event row: {size} B (raw_zd1 {len(row['raw_zd1'])} B)")
    assert size <= KB
    assert rawcodec.unpack(row) == STRIPE_RAW
    assert ledger.event_key_fields(row)["event_id"] == "evt_3QNq2pLkdIwHu7ix0Zl9ZmJc"


def test_realistic_paypal_event_row_stays_within_two_write_units():
    """PayPal's five signature headers (a 344-character RSA signature, the certificate URL) are
    ~620 B of the row on their own, so a PayPal event row cannot fit one unit; it must not
    grow past two."""
    row = paypal_row()
    size = item_size(row)
    headers = item_size({"signature_headers": row["signature_headers"]})
    print(f"paypal event row: {size} B (raw_zd1 {len(row['raw_zd1'])} B, signature headers {headers} B)")
    assert headers > 550 and size - headers <= KB
    assert size <= 2 * KB

