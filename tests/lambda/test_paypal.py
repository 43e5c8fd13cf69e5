"""PayPal offline verification with a locally generated key and self-signed certificate (the
download is stubbed by the ``paypal_keys`` fixture: no network)."""
from __future__ import annotations

import base64
import json
import zlib

import pytest
from handler_constants import NOW_MS, PAYPAL_WEBHOOK_ID

from paycore.envelope import parse_envelope
from paycore.model import Rejected
from paycore.providers import paypal

SECRET = {"webhook_id": PAYPAL_WEBHOOK_ID}


def verify(body: str, secret=SECRET):
    paypal.PROVIDER.verify(parse_envelope(body), secret)


def test_signed_message_uses_unsigned_decimal_crc32():
    raw = b'{"id":"WH-1"}'
    crc = zlib.crc32(raw)
    assert paypal.crc32_decimal(raw) == str(crc)
    # A body whose CRC32 has the top bit set (negative as a signed int32, e.g. in Java's int).
    raw_high = next(b"x" * n for n in range(1, 50) if zlib.crc32(b"x" * n) >= 2**31)
    assert int(paypal.crc32_decimal(raw_high)) >= 2**31
    assert paypal.signed_message("tid", "2024-01-01T00:00:00Z", "WH-9", raw) == f"tid|2024-01-01T00:00:00Z|WH-9|{crc}".encode()


def test_valid_signature_passes(paypal_envelope, paypal_event):
    verify(paypal_envelope(paypal_event()))


def test_certificate_is_downloaded_once_and_cached(paypal_envelope, paypal_event, paypal_keys):
    fetched = paypal_keys[3]
    fetched.clear()
    verify(paypal_envelope(paypal_event(event_id="WH-a")))
    verify(paypal_envelope(paypal_event(event_id="WH-b")))
    assert fetched == [paypal_keys[2]]


def test_one_tampered_byte_is_rejected(paypal_envelope, paypal_event):
    envelope = json.loads(paypal_envelope(paypal_event()))
    raw = bytearray(base64.b64decode(envelope["body_b64"]))
    raw[10] ^= 0x01
    envelope["body_b64"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(Rejected) as caught:
        verify(json.dumps(envelope))
    assert caught.value.reason == "signature_mismatch"


def test_wrong_webhook_id_is_rejected(paypal_envelope, paypal_event):
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), webhook_id="WH-SOMEONE-ELSE"))
    assert caught.value.reason == "signature_mismatch"


def test_previous_webhook_id_is_accepted(paypal_envelope, paypal_event):
    body = paypal_envelope(paypal_event(), webhook_id="WH-OLD")
    verify(body, secret={"webhook_id": PAYPAL_WEBHOOK_ID, "previous_webhook_id": "WH-OLD"})


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/certs/CERT-1",
        "https://api.paypal.com@evil.example/certs/CERT-1",
        "https://api.paypal.com:8443/certs/CERT-1",
        "ftp://api.paypal.com/certs/CERT-1",
        "//api.paypal.com/certs/CERT-1",
    ],
)
def test_certificate_url_off_paypal_https_hosts_is_rejected(paypal_envelope, paypal_event, paypal_keys, url):
    fetched = paypal_keys[3]
    fetched.clear()
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), cert_url=url))
    assert caught.value.reason == "bad_cert_url"
    assert fetched == []  # never downloaded


@pytest.mark.parametrize("host", sorted(paypal.ALLOWED_CERT_HOSTS))
def test_all_paypal_api_hosts_are_allowed(host):
    assert paypal.check_cert_url(f"https://{host}/v1/notifications/certs/CERT-1")


@pytest.mark.parametrize("header", ["paypal-transmission-sig", "paypal-transmission-id", "paypal-cert-url"])
def test_missing_transmission_header_is_rejected(paypal_envelope, paypal_event, header):
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), headers_override={header: None}))
    assert caught.value.reason == "missing_signature"


def test_other_auth_algorithm_is_rejected(paypal_envelope, paypal_event):
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), headers_override={"paypal-auth-algo": "SHA1withRSA"}))
    assert caught.value.reason == "unsupported_algorithm"


def test_garbled_signature_is_rejected(paypal_envelope, paypal_event):
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), headers_override={"paypal-transmission-sig": "not base64!"}))
    assert caught.value.reason == "malformed_signature"


def test_certificate_not_valid_at_received_time_is_rejected(paypal_envelope, paypal_event):
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), received_at=NOW_MS - 400 * 86_400_000))
    assert caught.value.reason == "bad_certificate"


def test_certificate_download_failure_is_transient_not_a_rejection(paypal_envelope, paypal_event, paypal_keys):
    original = paypal._cache.fetch

    def failing(url):
        raise paypal.CertificateUnavailable("timeout")

    paypal.set_certificate_fetcher(failing)
    try:
        with pytest.raises(paypal.CertificateUnavailable):
            verify(paypal_envelope(paypal_event()))
    finally:
        paypal.set_certificate_fetcher(original)


def test_default_fetcher_refuses_redirects():
    import urllib.request

    handler = paypal._NoRedirect()
    request = urllib.request.Request("https://api.paypal.com/x")
    assert handler.redirect_request(request, None, 302, "Found", {}, "https://evil.example/") is None
