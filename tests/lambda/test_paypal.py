"""PayPal offline verification: signature, certificate trust (a per-session test CA, root ->
intermediate -> leaf, trusted through ``PAYPAL_TRUST_STORE``), the transmission-time window, and
what is transient versus rejected (the download is stubbed by ``paypal_keys``: no network)."""
from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import TRANSMISSION_TIME
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from handler_constants import NOW_MS, PAYPAL_WEBHOOK_ID

from paycore.envelope import parse_envelope
from paycore.model import Rejected
from paycore.providers import paypal
from scripts.local import sample_webhooks

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


LIVE_HOSTS, SANDBOX_HOSTS = ("api.paypal.com", "api-m.paypal.com"), ("api.sandbox.paypal.com", "api-m.sandbox.paypal.com")


@pytest.mark.parametrize("mode,hosts,others", [("live", LIVE_HOSTS, SANDBOX_HOSTS), ("sandbox", SANDBOX_HOSTS, LIVE_HOSTS)])
def test_each_paypal_mode_accepts_its_own_certificate_hosts_only(mode, hosts, others):
    for host in sorted(hosts):
        assert paypal.check_cert_url(f"https://{host}/v1/notifications/certs/CERT-1", mode)
    for host in sorted(others):
        with pytest.raises(Rejected) as caught:
            paypal.check_cert_url(f"https://{host}/v1/notifications/certs/CERT-1", mode)
        assert caught.value.reason == "bad_cert_url"


def test_paypal_mode_is_live_unless_the_environment_says_sandbox():
    assert paypal.paypal_mode({}) == "live" and paypal.paypal_mode({"PAYPAL_MODE": "sandbox"}) == "sandbox"
    with pytest.raises(ValueError, match="PAYPAL_MODE must be one of live, sandbox"):
        paypal.paypal_mode({"PAYPAL_MODE": "test"})  # a configuration error: retried, never trusted


@pytest.mark.parametrize("url", [
    "https://api.paypal.com/v1/notifications/certs/CERT-1\r\nHost: evil.example",
    "https://api.paypal.com/v1/notifications/certs/CERT-1\n",
    "https://api.paypal.com/v1/notifications/certs/CERT 1",
    "https://api.paypal.com/v1/notifications/certs/CERT-1\t",
    "https://api.paypal.com/v1/notifications/certs/CERT-\u00e9",
])
def test_certificate_url_with_control_characters_or_spaces_is_rejected_before_any_download(
        paypal_envelope, paypal_event, paypal_keys, url):
    # urlsplit strips CR/LF and tabs, so the host check alone passes them; urllib then refuses the
    # URL with a ValueError that was retried as if transient
    paypal_keys.fetched.clear()
    with pytest.raises(Rejected) as caught:
        verify(paypal_envelope(paypal_event(), cert_url=url))
    assert caught.value.reason == "bad_cert_url" and paypal_keys.fetched == []


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


@pytest.fixture
def certificate_host():
    """A real HTTP server on 127.0.0.1 answering ``/{status}`` with that status (``/slow``: nothing,
    for a while); the default fetcher is asked for its URLs directly (the https/PayPal-host check is
    ``check_cert_url``'s, before any download)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/slow":
                release.wait(10)
                return
            status = int(self.path.strip("/"))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "https://evil.example/cert.pem")
            self.end_headers()
            self.wfile.write(b"<html>no certificate here</html>")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [301, 302, 400, 403, 404, 410])
def test_a_certificate_url_answering_3xx_or_4xx_is_permanently_unavailable(certificate_host, status):
    with pytest.raises(Rejected) as caught:
        paypal.download_certificate(f"{certificate_host}/{status}")
    assert caught.value.reason == "certificate_unavailable"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_certificate_url_answering_5xx_may_pass(certificate_host, status):
    with pytest.raises(paypal.CertificateUnavailable) as caught:
        paypal.download_certificate(f"{certificate_host}/{status}")
    assert caught.value.reason == "certificate_unavailable"


def test_a_certificate_url_that_does_not_answer_in_time_may_pass(certificate_host):
    with pytest.raises(paypal.CertificateUnavailable):
        paypal.download_certificate(f"{certificate_host}/slow", timeout_seconds=0.2)


def test_a_fetcher_that_fails_like_urllib_is_not_a_decision(paypal_envelope, paypal_event, serve):
    # the local runner's fetcher raises OSError for a URL it does not serve
    url = serve(ConnectionResetError("peer reset"))
    with pytest.raises(paypal.CertificateUnavailable):
        verify(paypal_envelope(paypal_event(), cert_url=url))


# ----------------------------------------------------------------------------- certificate trust

NOW = datetime.fromtimestamp(NOW_MS / 1000, tz=timezone.utc)
SENT = datetime.fromisoformat(TRANSMISSION_TIME.replace("Z", "+00:00"))
OTHER_URL = "https://api.paypal.com/v1/notifications/certs/CERT-other"


@pytest.fixture
def serve(paypal_keys):
    """``serve(pem) -> url``: the fetcher answers ``pem`` at a fresh PayPal URL (removed after)."""
    added = []

    def add(pem: bytes, url: str = OTHER_URL) -> str:
        paypal_keys.served[url] = pem
        added.append(url)
        return url

    yield add
    for url in added:
        paypal_keys.served.pop(url, None)


def rejection(body: str) -> str:
    with pytest.raises(Rejected) as caught:
        verify(body)
    return caught.value.reason


def test_genuine_chain_of_leaf_and_intermediate_passes(paypal_envelope, paypal_event, paypal_keys):
    served = x509.load_pem_x509_certificates(paypal_keys.pem)
    assert [c.subject for c in served] == [served[0].subject, paypal_keys.authority.intermediate.subject]
    verify(paypal_envelope(paypal_event()))


def test_self_signed_certificate_with_the_paypal_subject_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, self_signed=True)
    url = serve(paypal_keys.authority.chain_pem(leaf, with_intermediate=False))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


def test_certificate_naming_another_subject_is_rejected_even_from_a_trusted_ca(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, common_name="attacker.evil.example")
    url = serve(paypal_keys.authority.chain_pem(leaf))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


SANDBOX_SUBJECT = "messageverificationcerts.sandbox.paypal.com"
SANDBOX_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-sb"


def test_sandbox_certificate_is_accepted_where_the_paypal_mode_is_sandbox(paypal_envelope, paypal_event, paypal_keys,
                                                                          serve, monkeypatch):
    monkeypatch.setenv("PAYPAL_MODE", "sandbox")
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, common_name=SANDBOX_SUBJECT)
    url = serve(paypal_keys.authority.chain_pem(leaf), SANDBOX_URL)
    verify(paypal_envelope(paypal_event(), cert_url=url))
    # ... and a live one is not: sandbox mode takes sandbox webhooks only
    assert rejection(paypal_envelope(paypal_event())) == "bad_cert_url"


@pytest.mark.parametrize("mode", [None, "live"])
def test_sandbox_certificate_is_rejected_where_the_paypal_mode_is_live(paypal_envelope, paypal_event, paypal_keys,
                                                                       serve, monkeypatch, mode):
    if mode:
        monkeypatch.setenv("PAYPAL_MODE", mode)
    else:
        monkeypatch.delenv("PAYPAL_MODE", raising=False)  # unset: live
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, common_name=SANDBOX_SUBJECT)
    paypal_keys.fetched.clear()
    # the sandbox host: refused from the URL alone
    assert rejection(paypal_envelope(paypal_event(), cert_url=serve(paypal_keys.authority.chain_pem(leaf),
                                                                    SANDBOX_URL))) == "bad_cert_url"
    assert paypal_keys.fetched == []
    # a sandbox certificate served from a live host: refused by its subject
    live_url = serve(paypal_keys.authority.chain_pem(leaf), "https://api.paypal.com/v1/notifications/certs/CERT-sbleaf")
    assert rejection(paypal_envelope(paypal_event(), cert_url=live_url)) == "untrusted_certificate"
    verify(paypal_envelope(paypal_event()))  # the live certificate still verifies


def test_certificate_expired_at_the_transmission_time_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, not_before=SENT - timedelta(days=400),
                                            not_after=SENT - timedelta(days=1))
    url = serve(paypal_keys.authority.chain_pem(leaf))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


def test_certificate_not_yet_valid_at_the_transmission_time_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, not_before=SENT + timedelta(hours=1))
    url = serve(paypal_keys.authority.chain_pem(leaf))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


def test_validity_is_judged_at_the_transmission_time_not_at_receipt(paypal_envelope, paypal_event, paypal_keys, serve):
    # The leaf expires 1 s after the transmission, the gateway receives it 1 h later (a retry):
    # what PayPal signed while its certificate was valid still verifies.
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, not_after=SENT + timedelta(seconds=1))
    url = serve(paypal_keys.authority.chain_pem(leaf))
    verify(paypal_envelope(paypal_event(), cert_url=url, received_at=NOW_MS + 3_600_000))


def test_chain_to_a_root_outside_the_trust_store_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    stranger = sample_webhooks.TestCertificateAuthority(name="Stranger", valid_from=SENT - timedelta(days=30))
    url = serve(stranger.chain_pem(stranger.issue_leaf(paypal_keys.key)))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


def test_leaf_served_without_its_intermediate_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = x509.load_pem_x509_certificates(paypal_keys.pem)[0]
    url = serve(paypal_keys.authority.chain_pem(leaf, with_intermediate=False))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"


def test_leaf_with_a_small_rsa_key_is_rejected(paypal_envelope, paypal_event, paypal_keys, serve):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    url = serve(paypal_keys.authority.chain_pem(paypal_keys.authority.issue_leaf(small)))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url, signing_key=small)) == "untrusted_certificate"


def test_bundled_trust_store_does_not_trust_the_test_ca(paypal_envelope, paypal_event, monkeypatch):
    monkeypatch.delenv(paypal.TRUST_STORE_ENV)
    paypal.clear_certificate_cache()
    assert rejection(paypal_envelope(paypal_event())) == "untrusted_certificate"


def test_bundled_trust_store_is_the_pinned_certifi_bundle_with_paypals_digicert_roots():
    import certifi

    store = paypal.trust_store({})
    assert store.name == "bundled"
    roots = paypal._load_roots(open(certifi.where(), "rb").read())
    names = {r.subject.rfc4514_string() for r in roots}
    assert "CN=DigiCert Global Root G2,OU=www.digicert.com,O=DigiCert Inc,C=US" in names
    assert paypal.trust_store({paypal.TRUST_STORE_ENV: "bundled"}) is store


@pytest.mark.parametrize("runtime", [{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"},
                                     {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"}])
def test_custom_trust_store_is_refused_on_the_lambda_runtime(paypal_keys, runtime):
    environ = {paypal.TRUST_STORE_ENV: paypal_keys.trust_store_path, **runtime}
    paypal.clear_certificate_cache()
    assert not paypal.custom_trust_store_allowed(environ)
    with pytest.raises(paypal.TrustStoreRefused):
        paypal.trust_store(environ)
    assert paypal.custom_trust_store_allowed({paypal.TRUST_STORE_ENV: paypal_keys.trust_store_path})


def test_refused_trust_store_fails_the_message_instead_of_trusting_or_rejecting(paypal_envelope, paypal_event, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    paypal.clear_certificate_cache()
    with pytest.raises(paypal.TrustStoreRefused):
        verify(paypal_envelope(paypal_event()))


def test_unreadable_trust_store_file_is_a_configuration_error(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificates here\n")
    for path in (empty, tmp_path / "missing.pem"):
        with pytest.raises(paypal.TrustStoreRefused):
            paypal.trust_store({paypal.TRUST_STORE_ENV: str(path)})


@pytest.mark.parametrize("answer", [b"<html><body>503 Service Unavailable</body></html>", b"",
                                    b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"])
def test_non_pem_answer_at_the_certificate_url_is_transient(paypal_envelope, paypal_event, serve, answer):
    url = serve(answer)
    with pytest.raises(paypal.CertificateUnavailable):
        verify(paypal_envelope(paypal_event(), cert_url=url))


def test_failed_verification_is_not_cached(paypal_envelope, paypal_event, paypal_keys, serve):
    fetched = paypal_keys.fetched
    fetched.clear()
    url = serve(b"<html>maintenance</html>")
    with pytest.raises(paypal.CertificateUnavailable):
        verify(paypal_envelope(paypal_event(), cert_url=url))
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, self_signed=True)
    serve(paypal_keys.authority.chain_pem(leaf, with_intermediate=False))
    assert rejection(paypal_envelope(paypal_event(), cert_url=url)) == "untrusted_certificate"
    serve(paypal_keys.pem)
    verify(paypal_envelope(paypal_event(), cert_url=url))
    assert fetched == [url, url, url]


def test_verified_certificate_is_fetched_and_checked_again_after_its_ttl(paypal_envelope, paypal_event, paypal_keys):
    cache = paypal.CertificateCache(paypal._cache.fetch, ttl_seconds=0)
    paypal_keys.fetched.clear()
    for _ in range(2):
        envelope = parse_envelope(paypal_envelope(paypal_event()))
        paypal.verify_signature(envelope.raw, envelope.headers, [PAYPAL_WEBHOOK_ID],
                                received_at_ms=envelope.received_at, cache=cache)
    assert paypal_keys.fetched == [paypal_keys.url, paypal_keys.url]


def test_cached_certificate_is_checked_against_each_transmission_time(paypal_envelope, paypal_event, paypal_keys, serve):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, not_after=SENT + timedelta(days=1))
    url = serve(paypal_keys.authority.chain_pem(leaf))
    verify(paypal_envelope(paypal_event(), cert_url=url))  # verified and cached
    later = SENT + timedelta(days=2)
    body = paypal_envelope(paypal_event(), cert_url=url, transmission_time=later.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           received_at=int(later.timestamp() * 1000) + 1000)
    assert rejection(body) == "untrusted_certificate"


def test_trust_failure_names_the_failed_check_and_host_in_the_log(paypal_envelope, paypal_event, paypal_keys, serve, caplog):
    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, common_name="attacker.evil.example")
    url = serve(paypal_keys.authority.chain_pem(leaf))
    rejection(paypal_envelope(paypal_event(), cert_url=url))
    (record,) = [r for r in caplog.records if r.getMessage() == "paypal certificate not trusted"]
    assert (record.check, record.cert_host) == ("subject", "api.paypal.com")


# ----------------------------------------------------------------------------- transmission time

def sent_before_receipt(seconds: float) -> dict:
    sent = NOW - timedelta(seconds=seconds)
    return {"transmission_time": sent.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_default_window_is_a_little_over_paypals_three_day_retry_period():
    assert 3 * 86_400 < paypal.DEFAULT_MAX_TRANSMISSION_AGE_SECONDS <= 4 * 86_400
    assert paypal.max_transmission_age_seconds() == paypal.DEFAULT_MAX_TRANSMISSION_AGE_SECONDS


def test_paypal_retry_three_days_after_transmission_is_accepted(paypal_envelope, paypal_event):
    verify(paypal_envelope(paypal_event(), **sent_before_receipt(3 * 86_400 + 60)))


def test_two_year_old_transmission_is_rejected_as_stale(paypal_envelope, paypal_event, paypal_keys):
    paypal_keys.fetched.clear()
    assert rejection(paypal_envelope(paypal_event(), **sent_before_receipt(2 * 365 * 86_400))) == "stale_timestamp"
    assert paypal_keys.fetched == []  # decided before any download


def test_transmission_just_past_the_window_is_rejected(paypal_envelope, paypal_event):
    age = paypal.DEFAULT_MAX_TRANSMISSION_AGE_SECONDS + 2
    assert rejection(paypal_envelope(paypal_event(), **sent_before_receipt(age))) == "stale_timestamp"


def test_transmission_slightly_ahead_of_the_gateway_clock_is_accepted(paypal_envelope, paypal_event):
    verify(paypal_envelope(paypal_event(), **sent_before_receipt(-240)))


def test_transmission_in_the_future_beyond_the_skew_is_rejected(paypal_envelope, paypal_event):
    assert rejection(paypal_envelope(paypal_event(), **sent_before_receipt(-360))) == "future_timestamp"


def test_window_is_a_setting(paypal_envelope, paypal_event, monkeypatch):
    monkeypatch.setenv(paypal.MAX_AGE_ENV, "3600")
    assert rejection(paypal_envelope(paypal_event(), **sent_before_receipt(7200))) == "stale_timestamp"
    verify(paypal_envelope(paypal_event(), **sent_before_receipt(1800)))


@pytest.mark.parametrize("value", ["3 days", "-1", "0", "99999999999"])
def test_bad_window_setting_is_a_configuration_error_not_a_rejection(paypal_envelope, paypal_event, monkeypatch, value):
    monkeypatch.setenv(paypal.MAX_AGE_ENV, value)
    with pytest.raises(ValueError, match=paypal.MAX_AGE_ENV):
        verify(paypal_envelope(paypal_event()))


@pytest.mark.parametrize("text", ["yesterday", "2024-11-22 01:46:39", "2024-11-22T01:46:39", "9" * 80])
def test_unparseable_transmission_time_is_rejected_as_malformed(paypal_envelope, paypal_event, text):
    assert rejection(paypal_envelope(paypal_event(), transmission_time=text)) == "malformed_signature"


# ----------------------------------------------------------------------------- through the processor

def test_processor_quarantines_an_untrusted_certificate(aws, lambda_context, paypal_envelope, paypal_event, paypal_keys, serve, sqs_event):
    import processor_handler

    leaf = paypal_keys.authority.issue_leaf(paypal_keys.key, self_signed=True)
    url = serve(paypal_keys.authority.chain_pem(leaf, with_intermediate=False))
    response = processor_handler.handler(sqs_event([paypal_envelope(paypal_event(), cert_url=url)]), lambda_context)
    assert response == {"batchItemFailures": []}
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/").get("Contents", [])]
    assert len(keys) == 1
    doc = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=keys[0])["Body"].read())
    assert doc["reason"] == "untrusted_certificate"


def test_processor_retries_a_non_pem_certificate_answer_instead_of_quarantining(aws, lambda_context, paypal_envelope, paypal_event, serve, sqs_event, stripe_envelope, stripe_event):
    import processor_handler

    url = serve(b"<html>502 Bad Gateway</html>")
    bodies = [stripe_envelope(stripe_event()), paypal_envelope(paypal_event(), cert_url=url)]
    response = processor_handler.handler(sqs_event(bodies, group_ids=["a", "b"]), lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="quarantine/").get("KeyCount", 0) == 0


# ----------------------------------------------------------------------------- a real PayPal chain

DATA = Path(__file__).parent / "data"


def test_real_paypal_certificate_chain_verifies_against_its_digicert_root():
    # PayPal's sandbox message-verification certificate (2017-2019) from PayPal's Java SDK test
    # resources (rest-api-sdk/src/test/resources/testClientCert.crt) + its intermediate
    # (src/main/resources/DigiCertSHA2ExtendedValidationServerCA.crt), and the DigiCert root
    # that issued it: real CA certificates pass the web PKI CA profile used here.
    from cryptography.x509.verification import Store

    pem = (DATA / "paypal_sandbox_2017_chain.pem").read_bytes()
    root = x509.load_pem_x509_certificate((DATA / "digicert_high_assurance_ev_root_ca.pem").read_bytes())
    store = paypal.TrustStore("digicert-ev", Store([root]))
    verified = paypal.verify_certificate_chain(pem, datetime(2018, 6, 1, tzinfo=timezone.utc), store)
    assert verified.public_key.key_size == 2048
    with pytest.raises(Rejected):  # after its expiry
        paypal.verify_certificate_chain(pem, datetime(2019, 6, 1, tzinfo=timezone.utc), store)
    with pytest.raises(Rejected):  # Mozilla (so certifi 2026.10.18) no longer carries that 2006 root
        paypal.verify_certificate_chain(pem, datetime(2018, 6, 1, tzinfo=timezone.utc), paypal.trust_store({}))
