"""Vendor delivery building blocks without AWS: endpoint configuration, settings, signing (checked
with the official ``standardwebhooks`` library), the SSRF guard of the outbound client."""
from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import handler_constants  # noqa: F401  (sys.path)
from lifecycle_events import domain_event
from paycore import delivery, egress


def config(**endpoint):
    base = {"id": "ep-a-main", "url": "https://hooks.vendor.example/payments", "event_types": ["payment.succeeded"]}
    return {"vendors": {"vendor-a": {"endpoints": [{**base, **endpoint}]}}}


def test_a_valid_configuration_parses_to_endpoints():
    endpoints = delivery.parse_endpoints(config(rate_limit_per_second=0.5, paused=True))
    endpoint = endpoints["ep-a-main"]
    assert endpoint.vendor_id == "vendor-a" and endpoint.rate_limit_per_second == 0.5 and endpoint.paused
    assert endpoint.wants("payment.succeeded") and not endpoint.wants("payment.refunded")


def test_fails_with_one_error_listing_every_problem():
    document = {"vendors": {
        "vendor-a": {"endpoints": [
            {"id": "A!", "url": "http://hooks.vendor.example/x", "event_types": ["payment.won"], "rate_limit_per_second": 0, "paused": "no"},
            {"id": "ep-dup", "url": "https://10.0.0.5/x", "event_types": ["payment.failed"], "extra": 1},
            {"id": "ep-dup", "url": "https://user:pw@hooks.vendor.example/x", "event_types": ["payment.failed"]},
        ]},
        "vendor-b": {"endpoints": []},
    }}
    with pytest.raises(delivery.ConfigError) as error:
        delivery.parse_endpoints(document)
    text = str(error.value)
    for expected in ("vendors.vendor-a.endpoints[0].id", "must use https://", "payment.won", "rate_limit_per_second: 0",
                     "paused: 'no'", "unknown key(s) ['extra']", "address 10.0.0.5 is not public", "credentials",
                     "vendors.vendor-b: 'endpoints' must be a non-empty list"):
        assert expected in text, expected
    assert "used twice" not in text  # the second ep-dup is invalid itself (credentials), reported as such


def test_fails_when_an_endpoint_id_is_used_twice():
    document = config()
    document["vendors"]["vendor-b"] = config()["vendors"]["vendor-a"]
    with pytest.raises(delivery.ConfigError, match="used twice"):
        delivery.parse_endpoints(document)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://localhost:9/h"])
def test_loopback_http_is_only_allowed_when_the_environment_says_so(url):
    with pytest.raises(delivery.ConfigError, match="http://127.0.0.1 only in the local environment"):
        delivery.parse_endpoints(config(url=url))
    assert delivery.parse_endpoints(config(url=url), allow_loopback_http=True)


def test_settings_from_the_environment_and_their_errors():
    settings = delivery.Settings.from_env({"DELIVERY_RETRY_SCHEDULE": "0,1,2", "DELIVERY_TIMEOUT_SECONDS": "3"})
    assert settings.schedule == (0, 1, 2) and settings.timeout_seconds == 3
    assert delivery.Settings.from_env({}).schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    with pytest.raises(delivery.ConfigError) as error:
        delivery.Settings.from_env({"DELIVERY_RETRY_SCHEDULE": "0,50000", "DELIVERY_TIMEOUT_SECONDS": "0"})
    assert "DELIVERY_RETRY_SCHEDULE" in str(error.value) and "DELIVERY_TIMEOUT_SECONDS" in str(error.value)


def test_signature_verifies_with_the_official_library_and_fails_when_tampered():
    secret = delivery.generate_secret()
    body = delivery.payload({"transaction_id": "pi_1", "vendor_id": "v", "currency": "EUR"},
                            {"seq": 1, "kind": "succeeded", "amount": 100, "occurred_at": "2025-11-29T01:33:00.000Z"})
    now = int(time.time())
    headers = delivery.headers("msg_1", now, body, [secret])
    assert Webhook(secret).verify(body, headers)["data"]["amount"] == 100
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("100", "999"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(delivery.generate_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = delivery.generate_secret(), delivery.generate_secret()
    value = {"current": new, "previous": old, "previous_expires_at": 2000}
    assert delivery.active_secrets(value, now=1999) == [new, old]
    assert delivery.active_secrets(value, now=2000) == [new]
    now = int(time.time())
    headers = delivery.headers("msg_1", now, "{}", delivery.active_secrets(value, now=1999))
    assert headers["webhook-signature"].count("v1,") == 2
    assert Webhook(old).verify("{}", headers) == {} and Webhook(new).verify("{}", headers) == {}


def test_webhook_ids_are_stable_and_distinct():
    assert delivery.webhook_id("ep", "pi_1", "succeeded") == delivery.webhook_id("ep", "pi_1", "succeeded")
    assert len({delivery.webhook_id(e, t, s) for e in ("ep", "ep2") for t in ("pi_1", "pi_2") for s in ("succeeded", "refunded")}) == 8


def test_rate_windows():
    assert delivery.rate_window(5, 100.7) == (100, 1, 5)
    assert delivery.rate_window(0.5, 101.2) == (100, 2, 1)
    assert delivery.rate_window(1 / 60, 130) == (120, 60, 1)


# --------------------------------------------------------------------------- SSRF guard


def resolver_to(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
])
def test_non_public_addresses_are_refused(address):
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False, resolver=resolver_to(address))


def test_one_bad_address_among_good_ones_is_refused():
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False,
                            resolver=resolver_to("93.184.215.14", "10.0.0.7"))


def test_a_public_https_target_connects_to_the_checked_address():
    scheme, host, port, address, path = egress.check_target(
        "https://hooks.vendor.example:8443/p?a=1", allow_loopback_http=False, resolver=resolver_to("93.184.215.14"))
    assert (scheme, host, port, address, path) == ("https", "hooks.vendor.example", 8443, "93.184.215.14", "/p?a=1")
    assert ipaddress.ip_address(address).is_global


def test_plain_http_to_a_public_address_is_refused_even_in_local():
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("http://hooks.vendor.example/x", allow_loopback_http=True, resolver=resolver_to("93.184.215.14"))


def test_loopback_is_allowed_only_when_asked():
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("http://127.0.0.1:9/x", allow_loopback_http=False)
    assert egress.check_target("http://127.0.0.1:9/x", allow_loopback_http=True)[3] == "127.0.0.1"
    with pytest.raises(egress.RefusedTarget):  # local may reach loopback, not the private network
        egress.check_target("http://10.0.0.5/x", allow_loopback_http=True)


def test_the_name_is_resolved_once_and_the_checked_address_is_used(monkeypatch):
    """DNS rebinding: a second lookup would answer 169.254.169.254; the client never asks again."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups = []

    def rebinding(host, port):
        lookups.append(host)
        return next(answers)

    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["host"] = self.headers["Host"]
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        real = socket.getaddrinfo

        def no_name_lookup(host, *args, **kwargs):
            assert host != "vendor.test", "a second DNS lookup of the name"
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", no_name_lookup)
        result = egress.send(f"http://vendor.test:{port}/h", b"{}", {}, timeout_seconds=5,
                             allow_loopback_http=True, resolver=rebinding)
    finally:
        server.shutdown()
        server.server_close()
    assert result.outcome == "success" and result.status_code == 204
    assert lookups == ["vendor.test"] and seen["host"] == f"vendor.test:{port}"


def test_a_refused_target_is_never_contacted_and_is_an_attempt_outcome():
    result = egress.send("https://hooks.vendor.example/x", b"{}", {}, timeout_seconds=1, resolver=resolver_to("10.0.0.1"))
    assert result.outcome == "refused_target" and result.status_code == 0


def test_a_silent_endpoint_is_a_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        result = egress.send(f"http://127.0.0.1:{listener.getsockname()[1]}/h", b"{}", {}, timeout_seconds=0.3,
                             allow_loopback_http=True)
    finally:
        listener.close()
    assert result.outcome == "timeout"


def test_a_closed_port_is_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = egress.send(f"http://127.0.0.1:{port}/h", b"{}", {}, timeout_seconds=1, allow_loopback_http=True)
    assert result.outcome == "connection_error"


def test_the_payload_is_one_announcement_with_its_own_amount_and_the_running_totals():
    announcement = {"seq": 3, "kind": "refunded", "amount": 200, "currency": "USD", "occurred_at": "2025-11-29T02:00:00.000Z",
                    "object_id": "re_1", "status": "partially_refunded", "captured_amount": 1050, "refunded_amount": 500,
                    "reversed_amount": 0, "disputed_amount": 0, "dispute_lost_amount": 0, "net_amount": 550}
    body = json.loads(delivery.payload({"transaction_id": "pi_1", "vendor_id": "", "currency": "USD"}, announcement))
    assert body == {"type": "payment.refunded", "timestamp": "2025-11-29T02:00:00.000Z",
                    "data": {"transaction_id": "pi_1", "vendor_id": None, "sequence": 3, "status": "partially_refunded",
                             "amount": 200, "currency": "USD", "occurred_at": "2025-11-29T02:00:00.000Z",
                             "object_id": "re_1", "captured_amount": 1050, "refunded_amount": 500, "reversed_amount": 0,
                             "disputed_amount": 0, "dispute_lost_amount": 0, "net_amount": 550}}


def test_fanout_messages_follow_subscriptions_and_put_the_earlier_announcements_first():
    import delivery_fanout_handler as fanout

    endpoints = delivery.parse_endpoints({"vendors": {
        "vendor-a": {"endpoints": [
            {"id": "ep-sales", "url": "https://a.example/h", "event_types": ["payment.succeeded"]},
            {"id": "ep-all", "url": "https://a.example/all", "event_types": ["payment.succeeded", "payment.refunded"]},
        ]},
        "vendor-b": {"endpoints": [{"id": "ep-b", "url": "https://b.example/h", "event_types": ["payment.refunded"]}]},
    }})
    detail = domain_event("pi_1", ["succeeded", "refunded"], vendor_id="vendor-a", amount=100, currency="EUR")["detail"]
    entries = fanout.messages_for(detail, endpoints, 1_764_380_000)
    bodies = [json.loads(e["MessageBody"]) for e in entries]
    assert [(b["endpoint_id"], b["status"], b["seq"]) for b in bodies] == [
        ("ep-all", "succeeded", 1), ("ep-all", "refunded", 2), ("ep-sales", "succeeded", 1)]
    assert {e["MessageGroupId"] for e in entries} == {"ep-all#pi_1", "ep-sales#pi_1"}
    assert [e["MessageDeduplicationId"] for e in entries] == [b["message_id"] for b in bodies]
    assert len({b["message_id"] for b in bodies}) == 3  # one per endpoint and announcement
    assert fanout.messages_for({**detail, "vendor_id": ""}, endpoints, 0) == []
    held = domain_event("pi_1", ["refunded"], vendor_id="vendor-a")["detail"]  # a refund before its sale: held
    assert (held["bus_kinds"], fanout.messages_for(held, endpoints, 0)) == (["awaiting_sale"], [])
    with pytest.raises(fanout.InvalidEvent):
        fanout.messages_for({**detail, "transaction_id": "bad id!"}, endpoints, 0)


@pytest.fixture(scope="module")
def tls_vendor(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 with a certificate for ``hooks.vendor.test`` from a test CA."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("hooks.vendor.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.vendor.test")]), False)
            .sign(ca_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append({"host": self.headers["Host"], "sni": getattr(self.connection, "sni", None)})
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")

    def remember_sni(sock, server_name, _context):
        sock.sni = server_name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    yield server.server_address[1], client, seen
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_with_sni_and_host_of_the_name(tls_vendor):
    port, client_context, seen = tls_vendor
    result = egress.send(f"https://hooks.vendor.test:{port}/h", b"{}", {}, timeout_seconds=5, allow_loopback_http=True,
                         resolver=resolver_to("127.0.0.1"), tls_context=client_context)
    assert result.outcome == "success"
    assert seen[-1] == {"host": f"hooks.vendor.test:{port}", "sni": "hooks.vendor.test"}


def test_https_to_a_name_the_certificate_does_not_cover_fails(tls_vendor):
    port, client_context, _ = tls_vendor
    result = egress.send(f"https://other.vendor.test:{port}/h", b"{}", {}, timeout_seconds=5, allow_loopback_http=True,
                         resolver=resolver_to("127.0.0.1"), tls_context=client_context)
    assert result.outcome == "tls_error"
