#!/usr/bin/env python3
"""Processor CPU per webhook for verify + parse + normalize (+ the ledger call) with I/O stubbed.

Goal: <= 1 ms per webhook. Prints figures; asserts nothing about time.

    .venv/bin/python scripts/bench_processor.py [--n 2000]

Measures ``processor_handler.process_message`` (envelope parse, provider lookup, signature check,
JSON parse, normalization) with a ledger/quarantine that do nothing, using ``time.process_time``
(CPU, not wall clock: the machine is shared). Stripe = HMAC-SHA256; PayPal = RSA-2048 PKCS#1 v1.5
verify with the certificate already cached (the first PayPal message of an environment also pays
the ``cryptography`` import and the certificate download).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# paycore is installed; the handler's folder is its zip's import root, as on Lambda
sys.path.insert(0, str(ROOT / "lambda_src" / "processor"))
for name, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "ENABLED_PROVIDERS": "stripe,paypal",
}.items():
    os.environ.setdefault(name, value)

import processor_handler  # noqa: E402
from paycore.envelope import build_envelope  # noqa: E402
from paycore.ledger import RecordResult  # noqa: E402
from paycore.providers import paypal, stripe  # noqa: E402

SECRET = "whsec_bench_secret_000000000000"
WEBHOOK_ID = "WH-BENCH"
NOW_S = 1_732_240_000


class NullLedger:
    def record(self, txn, raw, **kwargs):
        return RecordResult(event_written=True, state_changed=True, previous_status=None)

    def record_ignored(self, ignored):
        return True

    def get_state(self, transaction_id):
        return None


class NullQuarantine:
    def put(self, **kwargs):
        return "quarantine/x"


def stripe_bodies(n: int) -> list[str]:
    out = []
    for i in range(n):
        event = {
            "id": f"evt_{i:08d}", "object": "event", "api_version": "2024-06-20", "created": NOW_S - 1,
            "type": "payment_intent.succeeded", "livemode": True,
            "data": {"object": {
                "id": f"pi_{i:08d}", "object": "payment_intent", "amount": 1999 + i, "currency": "eur",
                "customer": f"cus_{i % 97}", "metadata": {"vendor_id": f"vendor_{i % 13}", "order": str(uuid.uuid4())},
                "status": "succeeded", "payment_method_types": ["card"], "description": "x" * 400,
            }},
        }
        raw = json.dumps(event, indent=2).encode()  # Stripe sends ~2-4 KB pretty-printed JSON
        out.append(build_envelope(provider="stripe", received_at=NOW_S * 1000, request_id=str(uuid.uuid4()),
                                  source_ip="54.187.174.169", headers={"stripe-signature": stripe.sign(SECRET, NOW_S, raw)}, raw=raw).to_json())
    return out


def paypal_bodies(n: int) -> list[str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    start = datetime.fromtimestamp(NOW_S, tz=timezone.utc) - timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + timedelta(days=30)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    url = "https://api.paypal.com/v1/notifications/certs/CERT-bench"
    paypal.set_certificate_fetcher(lambda u: pem)
    out = []
    for i in range(n):
        event = {"id": f"WH-{i:08d}", "event_version": "1.0", "create_time": "2024-11-22T01:46:35Z", "resource_type": "capture",
                 "event_type": "PAYMENT.CAPTURE.COMPLETED",
                 "resource": {"id": f"CAP{i:08d}", "amount": {"currency_code": "USD", "value": "10.50"}, "custom_id": "vendor_1",
                              "status": "COMPLETED", "create_time": "2024-11-22T01:46:30Z"}}
        raw = json.dumps(event).encode()
        tid, ttime = str(uuid.uuid4()), "2024-11-22T01:46:39Z"
        sig = key.sign(paypal.signed_message(tid, ttime, WEBHOOK_ID, raw), padding.PKCS1v15(), hashes.SHA256())
        headers = {"paypal-transmission-id": tid, "paypal-transmission-time": ttime, "paypal-transmission-sig": base64.b64encode(sig).decode(),
                   "paypal-cert-url": url, "paypal-auth-algo": "SHA256withRSA"}
        out.append(build_envelope(provider="paypal", received_at=NOW_S * 1000, request_id=tid, source_ip="173.0.82.126", headers=headers, raw=raw).to_json())
    return out


def measure(bodies: list[str], deps) -> tuple[float, float]:
    """(mean CPU µs per message, p50 of 5 rounds) over all bodies."""
    per_round = []
    for _ in range(5):
        start = time.process_time()
        for i, body in enumerate(bodies):
            outcome = processor_handler.process_message(body, message_id=f"m{i}", sent_at_ms=0, deps=deps)
            if outcome.kind != "recorded":
                raise SystemExit(f"unexpected outcome {outcome}")
        per_round.append((time.process_time() - start) / len(bodies) * 1e6)
    return statistics.mean(per_round), statistics.median(per_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="messages per provider per round")
    args = parser.parse_args()
    deps = processor_handler.Deps(
        ledger=NullLedger(), quarantine=NullQuarantine(),
        signing_secret=lambda p: {"current": SECRET, "previous": "whsec_old"} if p == "stripe" else {"webhook_id": WEBHOOK_ID},
        enabled=frozenset({"stripe", "paypal"}),
    )
    stripe_in = stripe_bodies(args.n)
    paypal_in = paypal_bodies(args.n)
    processor_handler.process_message(paypal_in[0], message_id="warm", sent_at_ms=0, deps=deps)  # import + cert cache
    avg_raw = statistics.mean(len(base64.b64decode(json.loads(b)["body_b64"])) for b in stripe_in)
    print(f"processor CPU per webhook (verify + parse + normalize, I/O stubbed), {args.n} messages x 5 rounds")
    for label, bodies in (("stripe (HMAC-SHA256, ~%d B body)" % avg_raw, stripe_in), ("paypal (RSA-2048 verify, cert cached)", paypal_in)):
        mean, p50 = measure(bodies, deps)
        verdict = "within" if p50 <= 1000 else "OVER"
        print(f"  {label:42s} mean {mean:7.1f} us   median round {p50:7.1f} us   ({verdict} the 1 ms goal)")


if __name__ == "__main__":
    main()
