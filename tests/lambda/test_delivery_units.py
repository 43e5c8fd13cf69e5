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


def test_a_message_is_parked_a_day_before_the_queue_would_drop_it():
    assert delivery.Settings.from_env({}).park_after_seconds == 14 * 86400 - 86400
    short = delivery.Settings.from_env({"DELIVERY_QUEUE_RETENTION_SECONDS": "3600"})
    assert short.park_after_seconds == 2700  # a quarter of a short retention
    with pytest.raises(delivery.ConfigError, match="DELIVERY_QUEUE_RETENTION_SECONDS '2000000'"):
        delivery.Settings.from_env({"DELIVERY_QUEUE_RETENTION_SECONDS": "2000000"})


def test_the_sender_timeout_fits_a_batch_of_one_group_attempted_in_a_row():
    assert delivery.sender_timeout_floor(15) == 10 * (15 + 1) + 10 == 170
    assert delivery.sender_timeout_floor(5) == 70 and delivery.sender_timeout_floor(0.5) == 25


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


# --------------------------------------------------------------------------- IPv6 forms that carry an IPv4 address

def _teredo(v4: str, server: str = "65.54.227.120") -> str:
    """Teredo (RFC 4380): 2001:0::/32, server, flags, port and client both XORed with ones."""
    bits = (0x2001_0000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48) | (0x63BF << 32)
    return str(ipaddress.IPv6Address(bits | (int(ipaddress.IPv4Address(v4)) ^ 0xFFFF_FFFF)))


def _in_last_32_bits(prefix: str):
    return lambda v4: str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | int(ipaddress.IPv4Address(v4))))


IPV6_FORMS = {
    "ipv4-mapped": lambda v4: f"::ffff:{v4}",
    "ipv4-compatible": lambda v4: f"::{v4}",
    "ipv4-translated": _in_last_32_bits("::ffff:0:0:0"),
    "6to4": lambda v4: str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80))),
    "teredo-client": _teredo,
    "teredo-server": lambda v4: _teredo("93.184.215.14", server=v4),
    "nat64-well-known": _in_last_32_bits("64:ff9b::"),
    "isatap": _in_last_32_bits("2600:1f18:0:0:0:5efe::"),
    "isatap-global-id": _in_last_32_bits("2600:1f18:0:0:200:5efe::"),
}
NOT_PUBLIC_IPV4 = ["169.254.169.254", "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0"]
PUBLIC_IPV4 = "93.184.215.14"


def test_each_ipv6_form_decodes_to_the_ipv4_address_it_carries():
    for form, build in IPV6_FORMS.items():
        embedded, _ = egress.embedded_ipv4(ipaddress.ip_address(build("169.254.169.254")))
        assert ipaddress.IPv4Address("169.254.169.254") in embedded, form
    assert egress.embedded_ipv4(ipaddress.ip_address("2600:1f18::1")) == ([], False)
    assert egress.embedded_ipv4(ipaddress.ip_address("93.184.215.14")) == ([], False)


@pytest.mark.parametrize("v4", NOT_PUBLIC_IPV4)
@pytest.mark.parametrize("form", sorted(IPV6_FORMS))
def test_an_ipv6_address_carrying_a_non_public_ipv4_is_refused(form, v4):
    address = IPV6_FORMS[form](v4)
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False, resolver=resolver_to(address))
    with pytest.raises(egress.RefusedTarget):  # not even where loopback is allowed: it is not loopback itself
        egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=True, resolver=resolver_to(address))
    assert "not public" in delivery.url_problem_of(f"https://[{address}]/hooks")


@pytest.mark.parametrize("form", sorted(IPV6_FORMS))
def test_an_ipv6_address_carrying_a_public_ipv4_passes(form):
    address = IPV6_FORMS[form](PUBLIC_IPV4)
    assert egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False,
                               resolver=resolver_to(address))[3] == address
    assert delivery.url_problem_of(f"https://[{address}]/hooks") is None


@pytest.mark.parametrize("v4", [*NOT_PUBLIC_IPV4, PUBLIC_IPV4])
def test_the_nat64_local_use_prefix_is_refused_whatever_it_carries(v4):
    """64:ff9b:1::/48 (RFC 8215) is never globally reachable, and where the IPv4 address sits depends
    on a prefix length only its operator knows: refused, even around a public address."""
    address = _in_last_32_bits("64:ff9b:1::")(v4)
    with pytest.raises(egress.RefusedTarget):
        egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False, resolver=resolver_to(address))


def test_a_tunnel_form_inside_a_non_public_ipv6_prefix_is_refused():
    """6to4 and ISATAP are tunnels: the IPv6 prefix around the IPv4 address must be public too."""
    for address in ("fe80::5efe:5db8:d70e", "fd00::200:5efe:5db8:d70e", "2001:db8::5efe:5db8:d70e"):
        with pytest.raises(egress.RefusedTarget):
            egress.check_target("https://hooks.vendor.example/x", allow_loopback_http=False, resolver=resolver_to(address))


# --------------------------------------------------------------------------- one deadline per attempt

DEADLINE = 1.0
EPSILON = 0.5  # scheduling slack on a shared machine; the old client needed 34 s against a 1-s limit


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``serve(connection, stop)`` per connection (its own thread)."""

    def __init__(self, serve, *, wrap=None):
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._serve, self._wrap = serve, wrap
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection):
        try:
            if self._wrap is not None:
                connection = self._wrap(connection)
            self._serve(connection, self.stop)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self):
        self.stop.set()
        self.listener.close()


def _read_request(connection) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += connection.recv(4096)


def _trickle(connection, stop, first: bytes, byte: bytes) -> None:
    connection.sendall(first)
    while not stop.wait(0.1):
        connection.sendall(byte)


def trickle_body(connection, stop):
    _read_request(connection)
    _trickle(connection, stop, b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", b"x")


def trickle_headers(connection, stop):
    _read_request(connection)
    _trickle(connection, stop, b"HTTP/1.1 200 OK\r\nX-Slow: ", b"x")


def trickle_until_close(connection, stop):
    """HTTP/1.0 without a length: the body ends when the server closes (http.client hands the
    connection to the response)."""
    _read_request(connection)
    _trickle(connection, stop, b"HTTP/1.0 200 OK\r\n\r\n", b"x")


def never_answer(connection, stop):
    _read_request(connection)
    stop.wait(60)


def bounded_send(url: str, **kwargs) -> egress.AttemptResult:
    """egress.send in a thread: the test itself ends within the deadline + a few seconds either way."""
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=egress.send(url, b"{}", {}, timeout_seconds=DEADLINE, **kwargs)),
                              daemon=True)
    worker.start()
    worker.join(DEADLINE + 5)
    assert not worker.is_alive(), f"the attempt still runs {DEADLINE + 5:g} s into a {DEADLINE:g}-s deadline"
    return box["result"]


@pytest.mark.parametrize("serve", [trickle_body, trickle_headers, trickle_until_close, never_answer],
                         ids=lambda f: f.__name__)
def test_a_trickling_or_silent_endpoint_times_out_at_the_deadline(serve):
    server = RawServer(serve)
    try:
        result = bounded_send(f"http://127.0.0.1:{server.port}/h", allow_loopback_http=True)
    finally:
        server.close()
    assert result.outcome == "timeout"
    assert result.latency_ms <= (DEADLINE + EPSILON) * 1000


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory):
    """A certificate for ``hooks.vendor.test`` from a test CA: (server context, client context)."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("hooks.vendor.test")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.vendor.test")]), False)
            .sign(ca_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls-slow")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())


def test_a_tls_endpoint_trickling_its_answer_times_out_at_the_deadline(tls_material):
    server_context, client_context = tls_material
    server = RawServer(trickle_body, wrap=lambda c: server_context.wrap_socket(c, server_side=True))
    try:
        result = bounded_send(f"https://hooks.vendor.test:{server.port}/h", allow_loopback_http=True,
                              resolver=resolver_to("127.0.0.1"), tls_context=client_context)
    finally:
        server.close()
    assert result.outcome == "timeout"
    assert result.latency_ms <= (DEADLINE + EPSILON) * 1000


def test_a_tls_handshake_trickled_byte_by_byte_times_out_at_the_deadline(tls_material):
    """A relay in front of a TLS server passes the client's bytes at once and the server's one per 100 ms."""
    server_context, client_context = tls_material
    backend = RawServer(lambda c, stop: (_read_request(c), c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")),
                        wrap=lambda c: server_context.wrap_socket(c, server_side=True))

    def relay(client, stop):
        upstream = socket.create_connection(("127.0.0.1", backend.port))
        try:
            def forward():
                try:
                    while data := client.recv(4096):
                        upstream.sendall(data)
                except OSError:
                    pass
            threading.Thread(target=forward, daemon=True).start()
            while not stop.is_set() and (byte := upstream.recv(1)):
                client.sendall(byte)
                stop.wait(0.1)
        finally:
            upstream.close()

    server = RawServer(relay)
    try:
        result = bounded_send(f"https://hooks.vendor.test:{server.port}/h", allow_loopback_http=True,
                              resolver=resolver_to("127.0.0.1"), tls_context=client_context)
    finally:
        server.close()
        backend.close()
    assert result.outcome == "timeout"
    assert result.latency_ms <= (DEADLINE + EPSILON) * 1000


def test_a_prompt_tls_endpoint_still_succeeds_through_the_deadline_socket(tls_material):
    server_context, client_context = tls_material
    server = RawServer(lambda c, stop: (_read_request(c), c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")),
                       wrap=lambda c: server_context.wrap_socket(c, server_side=True))
    try:
        result = bounded_send(f"https://hooks.vendor.test:{server.port}/h", allow_loopback_http=True,
                              resolver=resolver_to("127.0.0.1"), tls_context=client_context)
    finally:
        server.close()
    assert (result.outcome, result.status_code) == ("success", 200)


@pytest.mark.parametrize("answer", [b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", b"HTTP/1.0 200 OK\r\n\r\nok",
                                    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
                         ids=["http10-length", "http10-until-close", "connection-close", "chunked"])
def test_a_prompt_answer_is_read_whole_however_it_is_framed(answer):
    def serve(connection, stop):
        _read_request(connection)
        connection.sendall(answer)

    server = RawServer(serve)
    try:
        result = bounded_send(f"http://127.0.0.1:{server.port}/h", allow_loopback_http=True)
    finally:
        server.close()
    assert (result.outcome, result.status_code) == ("success", 200)
