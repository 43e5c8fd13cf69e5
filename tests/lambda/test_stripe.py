"""Stripe-Signature verification, with vectors computed the way Stripe documents it:
expected = hex(HMAC-SHA256(key=endpoint secret, msg=f"{t}." + raw body))."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from handler_constants import NOW_MS, NOW_S, STRIPE_PREVIOUS_SECRET, STRIPE_SECRET

from paycore.model import Rejected
from paycore.providers import stripe

RAW = b'{\n  "id": "evt_1",\n  "type": "payment_intent.succeeded"\n}'
SECRETS = [STRIPE_SECRET, STRIPE_PREVIOUS_SECRET]


def documented_v1(secret: str, t: int, raw: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()


def verify(header, *, raw=RAW, secrets=SECRETS, received_at_ms=NOW_MS):
    return stripe.verify_signature(raw, header, secrets, received_at_ms=received_at_ms)


def test_signature_matches_a_fixed_known_vector():
    # Independent vector: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    expected = "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
    assert stripe.compute_signature("whsec_test", 1700000000, b'{"a":1}') == expected


def test_valid_signature_passes():
    assert verify(f"t={NOW_S},v1={documented_v1(STRIPE_SECRET, NOW_S, RAW)}") == NOW_S


def test_any_matching_v1_passes_among_several():
    good = documented_v1(STRIPE_SECRET, NOW_S, RAW)
    verify(f"t={NOW_S},v1={'0' * 64},v1={good},v0={'1' * 64}")


def test_previous_secret_is_still_accepted_during_rotation():
    verify(f"t={NOW_S},v1={documented_v1(STRIPE_PREVIOUS_SECRET, NOW_S, RAW)}")


def test_wrong_secret_is_rejected():
    with pytest.raises(Rejected) as caught:
        verify(f"t={NOW_S},v1={documented_v1('whsec_someone_else', NOW_S, RAW)}")
    assert caught.value.reason == "signature_mismatch"


def test_secret_retired_from_previous_is_rejected():
    header = f"t={NOW_S},v1={documented_v1(STRIPE_PREVIOUS_SECRET, NOW_S, RAW)}"
    with pytest.raises(Rejected):
        verify(header, secrets=[STRIPE_SECRET])


@pytest.mark.parametrize("index", [0, len(RAW) // 2, len(RAW) - 1])
def test_one_tampered_byte_is_rejected(index):
    header = f"t={NOW_S},v1={documented_v1(STRIPE_SECRET, NOW_S, RAW)}"
    tampered = bytearray(RAW)
    tampered[index] ^= 0x01
    with pytest.raises(Rejected) as caught:
        verify(header, raw=bytes(tampered))
    assert caught.value.reason == "signature_mismatch"


def test_timestamp_is_part_of_the_signed_payload():
    sig = documented_v1(STRIPE_SECRET, NOW_S, RAW)
    with pytest.raises(Rejected) as caught:
        verify(f"t={NOW_S - 1},v1={sig}")
    assert caught.value.reason == "signature_mismatch"


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_rejected(header):
    with pytest.raises(Rejected) as caught:
        verify(header)
    assert caught.value.reason == "missing_signature"


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1,t=2,v1=00", "t=,v1=00", "t=1;v1=00"],
)
def test_garbled_header_is_rejected(header):
    with pytest.raises(Rejected) as caught:
        verify(header)
    assert caught.value.reason == "malformed_signature"


def test_v0_only_header_is_rejected_even_when_v0_is_correct():
    v0 = documented_v1(STRIPE_SECRET, NOW_S, RAW)  # a "v0" that would match as v1
    with pytest.raises(Rejected) as caught:
        verify(f"t={NOW_S},v0={v0}")
    assert caught.value.reason == "no_v1_signature"


def test_non_ascii_signature_is_rejected_not_crashing():
    with pytest.raises(Rejected):
        verify(f"t={NOW_S},v1=é{'0' * 63}")


def test_expired_timestamp_is_rejected():
    t = NOW_S - 301
    with pytest.raises(Rejected) as caught:
        verify(f"t={t},v1={documented_v1(STRIPE_SECRET, t, RAW)}")
    assert caught.value.reason == "stale_timestamp"


def test_far_future_timestamp_is_rejected():
    t = NOW_S + 302
    with pytest.raises(Rejected) as caught:
        verify(f"t={t},v1={documented_v1(STRIPE_SECRET, t, RAW)}")
    assert caught.value.reason == "future_timestamp"


def test_timestamp_within_tolerance_passes_both_ways():
    for t in (NOW_S - 299, NOW_S + 299):
        verify(f"t={t},v1={documented_v1(STRIPE_SECRET, t, RAW)}")


def test_tolerance_is_measured_from_received_at_not_from_now():
    # Signed and received in 2020, processed today (queue lag is not the sender's fault).
    t = 1_600_000_000
    verify(f"t={t},v1={documented_v1(STRIPE_SECRET, t, RAW)}", received_at_ms=t * 1000 + 4_000)


def test_no_configured_secret_rejects():
    with pytest.raises(Rejected):
        verify(f"t={NOW_S},v1={documented_v1(STRIPE_SECRET, NOW_S, RAW)}", secrets=[])


def test_sign_builds_a_header_verify_accepts():
    header = stripe.sign(STRIPE_SECRET, NOW_S, RAW)
    assert header.startswith(f"t={NOW_S},v1=")
    verify(header)


def test_secrets_from_skips_empty_previous():
    assert stripe.secrets_from({"current": "a", "previous": ""}) == ["a"]
    assert stripe.secrets_from(None) == []
