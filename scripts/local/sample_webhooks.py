"""Sample webhooks, signed the way the providers sign them.

- Stripe `payment_intent.*` events, header `Stripe-Signature: t={unix},v1={hex HMAC-SHA256 of
  "{t}.{raw body}" with the endpoint secret}`.
- PayPal `PAYMENT.CAPTURE.*` events, headers `PAYPAL-TRANSMISSION-ID/-TIME/-SIG/-CERT-URL/
  -AUTH-ALGO`, SHA256withRSA over "{transmission id}|{time}|{webhook id}|{crc32(body)}" with a
  locally generated key whose certificate, issued by a per-run test CA (root -> intermediate ->
  leaf), the local runner serves for the cert URL; the processor trusts that root through
  `PAYPAL_TRUST_STORE` (honoured off the Lambda runtime only).

`scenario(...)` builds the end-to-end mix: payment lifecycles per vendor, duplicates, reordered
pairs, bad signatures, malformed bodies and an oversized body, each request labelled with what
should happen to it (`Expect`), so a run can account for every request.

    .venv/bin/python -m scripts.local.sample_webhooks --count 20 --secret whsec_... > requests.jsonl
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import shutil
import sys
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

PAYPAL_CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-local-e2e-0001"
PAYPAL_SUBJECT = "messageverificationcerts.paypal.com"  # the CN PayPal's certificate names


@dataclass
class Expect:
    """What should happen to one request. kind: valid | duplicate | bad_signature | malformed |
    oversized | unauthorized."""

    kind: str
    transaction_id: str = ""
    event_id: str = ""
    status: str = ""
    vendor_id: str = ""
    amount: int = 0
    currency: str = ""


@dataclass
class WebhookRequest:
    provider: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    expect: Expect
    received_at_ms: int = 0  # when the (simulated) gateway receives it

    def to_json(self) -> str:
        data = asdict(self)
        data["body"] = self.body.decode("utf-8", "replace")
        return json.dumps(data, sort_keys=True)


# ----- signing ------------------------------------------------------------------------------------

def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class TestCertificateAuthority:
    """A throwaway CA for tests and the local platform: root -> intermediate, issuing leaves shaped
    like PayPal's message-verification certificate (subject CN, SAN, RSA key). The root is what
    ``PAYPAL_TRUST_STORE`` points at (honoured off the Lambda runtime only); the URL serves the
    leaf followed by the intermediate, as PayPal serves its chain."""

    def __init__(self, *, name: str = "Payments Test", valid_from: dt.datetime | None = None,
                 valid_days: int = 3650) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.valid_from = valid_from or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        self.valid_until = self.valid_from + dt.timedelta(days=valid_days)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        self._intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca_certificate(f"{name} Root CA", self._root_key, None, self._root_key, path_length=None)
        self.intermediate = self._ca_certificate(f"{name} Intermediate CA", self._intermediate_key, self.root,
                                                 self._root_key, path_length=0)

    @staticmethod
    def _name(common_name: str):
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Payments Test"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def _ca_certificate(self, common_name, key, issuer, issuer_key, *, path_length):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        subject = self._name(common_name)
        return (
            x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer.subject if issuer is not None else subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(self.valid_from).not_valid_after(self.valid_until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )

    def issue_leaf(self, key, *, common_name: str = PAYPAL_SUBJECT, not_before: dt.datetime | None = None,
                   not_after: dt.datetime | None = None, self_signed: bool = False):
        """A leaf certificate for ``key`` (an RSA private key), issued by the intermediate (or by
        ``key`` itself when ``self_signed``)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID

        subject = self._name(common_name)
        issuer_name, issuer_key = (subject, key) if self_signed else (self.intermediate.subject, self._intermediate_key)
        return (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.valid_from)
            .not_valid_after(not_after or self.valid_from + dt.timedelta(days=397))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )

    def chain_pem(self, leaf, *, with_intermediate: bool = True) -> bytes:
        """What the certificate URL serves: the leaf, then the intermediate."""
        from cryptography.hazmat.primitives import serialization

        certificates = [leaf, self.intermediate] if with_intermediate else [leaf]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)

    @property
    def root_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.root.public_bytes(serialization.Encoding.PEM)

    def write_trust_store(self, path) -> str:
        """Write the root (the trust store ``PAYPAL_TRUST_STORE`` names) to ``path``."""
        with open(path, "wb") as handle:
            handle.write(self.root_pem)
        return str(path)


@dataclass
class PayPalSigner:
    """A local RSA key and a certificate chain from a :class:`TestCertificateAuthority`, standing in
    for PayPal's signing certificate. ``trust_store_path``: the CA's root in a temporary file (removed
    at exit), for ``PAYPAL_TRUST_STORE`` in the local processor's environment."""

    webhook_id: str = "WH-LOCAL-E2E-0001"
    cert_url: str = PAYPAL_CERT_URL
    _key: Any = field(default=None, repr=False)
    certificate_pem: bytes = b""
    authority: object = field(default=None, repr=False)
    trust_store_path: str = ""

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.authority = TestCertificateAuthority(name="Payments Local")
        self.certificate_pem = self.authority.chain_pem(self.authority.issue_leaf(self._key))
        folder = tempfile.mkdtemp(prefix="paypal-test-ca-")
        atexit.register(shutil.rmtree, folder, True)
        self.trust_store_path = self.authority.write_trust_store(os.path.join(folder, "root.pem"))

    def headers(self, body: bytes, transmission_id: str, when: dt.datetime) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        time_text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{transmission_id}|{time_text}|{self.webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}".encode()
        signature = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": time_text,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }

    def fetch(self, url: str) -> bytes:
        """Certificate fetcher for the processor (paycore.providers.paypal.set_certificate_fetcher)."""
        if url != self.cert_url:
            raise OSError(f"no certificate at {url}")
        return self.certificate_pem


def crc32_patch(data: bytes, offset: int, target: int) -> bytes:
    """``data`` with its 4 bytes at ``offset`` replaced so that its CRC32 is ``target``. CRC32 is
    affine over GF(2): flipping one bit of the patch flips a fixed set of bits of the checksum, so
    the 32 patch bits that give the wanted difference solve one linear system (an XOR basis)."""
    size = len(data)
    zeros = zlib.crc32(bytes(size))

    def effect(bit: int) -> int:
        flipped = bytearray(size)
        flipped[offset + bit // 8] = 1 << (bit % 8)
        return zlib.crc32(bytes(flipped)) ^ zeros

    base = bytearray(data)
    base[offset:offset + 4] = bytes(4)
    wanted = zlib.crc32(bytes(base)) ^ target
    basis: list[tuple[int, int]] = []  # (checksum effect, patch bits): distinct leading bits, descending
    for bit in range(32):
        vector, combination = effect(bit), 1 << bit
        for pivot, pivot_bits in basis:
            if vector ^ pivot < vector:
                vector, combination = vector ^ pivot, combination ^ pivot_bits
        if vector:
            basis = sorted([*basis, (vector, combination)], reverse=True)
    patch = 0
    for pivot, pivot_bits in basis:
        if wanted ^ pivot < wanted:
            wanted, patch = wanted ^ pivot, patch ^ pivot_bits
    if wanted:
        raise ValueError("no 4-byte patch reaches that checksum")  # CRC32's 32 patch bits reach every one
    base[offset:offset + 4] = patch.to_bytes(4, "little")
    return bytes(base)


_JSON_TEXT = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


def crc32_collision(genuine: bytes, forged_event: dict[str, Any]) -> bytes:
    """What someone holding one genuine PayPal delivery can send under its headers: a JSON body that
    says ``forged_event`` with ``genuine``'s CRC32 (PayPal signs the CRC32, not the bytes). The 4
    patch bytes sit at the end of its ``summary`` text, after a counter that is tried until they are
    printable JSON characters (1 try in ~60)."""
    target = zlib.crc32(genuine)
    for attempt in range(100_000):
        event = {**forged_event, "summary": f"{forged_event.get('summary', '')} {attempt:05d}@@@@"}
        text = json.dumps(event, separators=(",", ":")).encode()
        offset = text.index(b"@@@@")
        forged = crc32_patch(text, offset, target)
        if all(b in _JSON_TEXT for b in forged[offset:offset + 4]):
            return forged
    raise ValueError("no printable patch found")


# ----- payloads -----------------------------------------------------------------------------------

STRIPE_STATUS = {
    "payment_intent.created": "requires_payment_method",
    "payment_intent.processing": "processing",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.canceled": "canceled",
}
PAYPAL_STATUS = {
    "PAYMENT.CAPTURE.PENDING": "PENDING",
    "PAYMENT.CAPTURE.COMPLETED": "COMPLETED",
    "PAYMENT.CAPTURE.DENIED": "DECLINED",
}


def stripe_event(event_id: str, event_type: str, intent_id: str, amount: int, currency: str, vendor_id: str,
                 customer_id: str, created: int) -> bytes:
    payload = {
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": created,
        "type": event_type, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received":
            amount if event_type == "payment_intent.succeeded" else 0, "currency": currency.lower(),
            "customer": customer_id, "status": STRIPE_STATUS[event_type], "created": created - 5,
            "metadata": {"vendor_id": vendor_id, "order_id": f"ord_{intent_id[3:]}"},
        }},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def paypal_event(event_id: str, event_type: str, capture_id: str, amount: int, currency: str, vendor_id: str,
                 payer_id: str, when: dt.datetime) -> bytes:
    value = f"{amount // 100}.{amount % 100:02d}"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "id": event_id, "event_version": "1.0", "create_time": stamp, "resource_type": "capture",
        "resource_version": "2.0", "event_type": event_type, "summary": f"Payment {event_type.split('.')[-1].lower()}",
        "resource": {
            "id": capture_id, "status": PAYPAL_STATUS[event_type], "amount": {"currency_code": currency, "value": value},
            "custom_id": vendor_id, "payer": {"payer_id": payer_id}, "final_capture": True,
            "supplementary_data": {"related_ids": {"order_id": f"ORDER-{capture_id[4:]}"}},
            "create_time": stamp, "update_time": stamp,
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


# ----- the end-to-end scenario --------------------------------------------------------------------

def scenario(*, count: int, stripe_secret: str, paypal: PayPalSigner, gate_keys: dict[str, str],
             vendors: list[str], now: dt.datetime | None = None, seed: int = 7,
             duplicate_ratio: float = 0.10, bad_signature_ratio: float = 0.05, malformed: int = 4,
             oversized: int = 1, reordered_pairs: int = 10, id_prefix: str = "e2e",
             forged_first: int = 4) -> list[WebhookRequest]:
    """About `count` requests: lifecycles of (processing|pending) -> succeeded|failed payments for
    Stripe and PayPal, then duplicates, bad signatures, malformed and oversized bodies mixed in.
    `reordered_pairs` lifecycles send their completion before their first event. `forged_first`
    genuine events (half Stripe, half PayPal) are each preceded by a forged copy carrying the same
    event id and payment id (a tampered amount, the genuine signature): the forgery must not
    keep the genuine event out of the ledger."""
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    base_ms = int(now.timestamp() * 1000)
    valid: list[WebhookRequest] = []
    lifecycles: list[list[WebhookRequest]] = []
    serial = 0
    while len(valid) < count * (1 - duplicate_ratio - bad_signature_ratio) - malformed - oversized:
        serial += 1
        provider = "stripe" if serial % 3 else "paypal"
        vendor = vendors[serial % len(vendors)]
        amount = rng.randint(100, 250_000)
        customer = f"cus_{id_prefix}{serial:06d}"
        completes = rng.random() < 0.8
        steps: list[WebhookRequest] = []
        if provider == "stripe":
            intent = f"pi_{id_prefix}{serial:06d}"
            types = ["payment_intent.processing",
                     "payment_intent.succeeded" if completes else "payment_intent.payment_failed"]
            for step, event_type in enumerate(types):
                created = int(now.timestamp()) - 60 + step
                event_id = f"evt_{id_prefix}{serial:06d}{step}"
                body = stripe_event(event_id, event_type, intent, amount, "USD", vendor, customer, created)
                headers = {"Content-Type": "application/json",
                           "Stripe-Signature": stripe_signature(stripe_secret, created, body)}
                status = {"payment_intent.processing": "processing", "payment_intent.succeeded": "succeeded",
                          "payment_intent.payment_failed": "failed"}[event_type]
                steps.append(WebhookRequest("stripe", "/webhooks/stripe", headers, {"key": gate_keys["stripe"]}, body,
                                            Expect("valid", intent, event_id, status, vendor, amount, "USD")))
        else:
            capture = f"CAP-{id_prefix.upper()}{serial:06d}"
            types = ["PAYMENT.CAPTURE.PENDING", "PAYMENT.CAPTURE.COMPLETED" if completes else "PAYMENT.CAPTURE.DENIED"]
            for step, event_type in enumerate(types):
                when = now - dt.timedelta(seconds=60 - step)
                event_id = f"WH-{id_prefix.upper()}{serial:06d}{step}"
                body = paypal_event(event_id, event_type, capture, amount, "USD", vendor, f"PAYER{serial}", when)
                headers = {"Content-Type": "application/json",
                           **paypal.headers(body, f"tx-{id_prefix}-{serial:06d}-{step}", when)}
                status = {"PAYMENT.CAPTURE.PENDING": "pending", "PAYMENT.CAPTURE.COMPLETED": "succeeded",
                          "PAYMENT.CAPTURE.DENIED": "failed"}[event_type]
                steps.append(WebhookRequest("paypal", "/webhooks/paypal", {**headers, "X-Webhook-Key": gate_keys["paypal"]},
                                            {}, body, Expect("valid", capture, event_id, status, vendor, amount, "USD")))
        lifecycles.append(steps)
        valid.extend(steps)
    for steps in lifecycles[:reordered_pairs]:
        steps.reverse()  # the completion arrives before the first event (Stripe does not guarantee order)
    ordered = [request for steps in lifecycles for request in steps]

    extra: list[WebhookRequest] = []
    for original in rng.sample(ordered, int(count * duplicate_ratio)):
        extra.append(WebhookRequest(original.provider, original.path, dict(original.headers), dict(original.query),
                                    original.body, Expect("duplicate", original.expect.transaction_id,
                                                          original.expect.event_id, original.expect.status,
                                                          original.expect.vendor_id)))
    for n in range(int(count * bad_signature_ratio)):
        original = rng.choice(ordered)
        body = original.body.replace(b'"livemode":false', b'"livemode":true') if original.provider == "stripe" \
            else original.body.replace(b'"final_capture":true', b'"final_capture":false')
        bad_event = f"evt_bad{n:04d}" if original.provider == "stripe" else f"WH-BAD{n:04d}"
        body = body.replace(original.expect.event_id.encode(), bad_event.encode())
        extra.append(WebhookRequest(original.provider, original.path, dict(original.headers), dict(original.query),
                                    body, Expect("bad_signature", event_id=bad_event)))
    for n in range(malformed):
        timestamp = int(now.timestamp())
        body = b'{"id": "evt_malformed' + str(n).encode() + b'", "type": "payment_intent.succeeded", "data": '  # cut off
        if n % 2:
            body = b"<xml>not json</xml>"
        extra.append(WebhookRequest("stripe", "/webhooks/stripe",
                                    {"Content-Type": "application/json",
                                     "Stripe-Signature": stripe_signature(stripe_secret, timestamp, body)},
                                    {"key": gate_keys["stripe"]}, body, Expect("malformed")))
    for n in range(oversized):
        created = int(now.timestamp())
        body = stripe_event(f"evt_big{n}", "payment_intent.succeeded", f"pi_big{n}", 100, "USD", vendors[0], "cus_big",
                            created)
        padded = json.loads(body)
        padded["data"]["object"]["metadata"]["blob"] = "x" * 300_000
        body = json.dumps(padded, separators=(",", ":")).encode()
        extra.append(WebhookRequest("stripe", "/webhooks/stripe",
                                    {"Content-Type": "application/json",
                                     "Stripe-Signature": stripe_signature(stripe_secret, created, body)},
                                    {"key": gate_keys["stripe"]}, body, Expect("oversized", event_id=f"evt_big{n}")))
    requests = ordered + extra
    # keep each lifecycle's order (that is what reordering tests), mix the rest in at random places
    mixed = list(ordered)
    for request in extra:
        mixed.insert(rng.randint(0, len(mixed)), request)
    forged = 0
    for provider in ("stripe", "paypal"):
        targets = [r for r in mixed if r.provider == provider and r.expect.kind == "valid"][: (forged_first + 1) // 2]
        for original in targets[: forged_first - forged]:
            tampered = original.body.replace(b'"amount":', b'"amount":1', 1) if provider == "stripe" \
                else original.body.replace(b'"value":"', b'"value":"1', 1)
            assert tampered != original.body
            copy = WebhookRequest(original.provider, original.path, dict(original.headers), dict(original.query),
                                  tampered, Expect("bad_signature", original.expect.transaction_id,
                                                   original.expect.event_id))
            mixed.insert(mixed.index(original), copy)
            forged += 1
    for index, request in enumerate(mixed):
        request.received_at_ms = base_ms + index
    assert len(mixed) == len(requests) + forged
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.local.sample_webhooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--secret", required=True, help="Stripe endpoint secret (whsec_...)")
    parser.add_argument("--stripe-key", default="local-stripe-gate-key")
    parser.add_argument("--paypal-key", default="local-paypal-gate-key")
    options = parser.parse_args()
    signer = PayPalSigner()
    for request in scenario(count=options.count, stripe_secret=options.secret, paypal=signer,
                            gate_keys={"stripe": options.stripe_key, "paypal": options.paypal_key},
                            vendors=["vendor-a", "vendor-b"]):
        sys.stdout.write(request.to_json() + "\n")


if __name__ == "__main__":
    main()
