"""PayPal: offline webhook signature verification and ``PAYMENT.CAPTURE.*`` normalization.

Verification (PayPal "Verify webhook signatures", self-verification):

* headers ``paypal-transmission-id``, ``paypal-transmission-time``, ``paypal-transmission-sig``
  (base64), ``paypal-cert-url``, ``paypal-auth-algo`` (``SHA256withRSA`` is the one accepted);
* signed message ``"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(raw body)}"`` with
  the CRC32 as an unsigned decimal; RSA PKCS#1 v1.5 + SHA-256 with the public key of the
  certificate at ``paypal-cert-url``;
* the certificate URL must be ``https`` on a PayPal API host (:data:`ALLOWED_CERT_HOSTS`), default
  port, no user info; redirects are not followed; the certificate must be valid at
  ``received_at``. Certificates are cached per URL (PayPal reuses one for a long time);
* ``webhook_id`` comes from the ``{SECRET_PREFIX}paypal/signing`` secret:
  ``{"webhook_id": "...", "previous_webhook_id": "..."}`` (the previous one is tried too, for a
  webhook re-registration).

The certificate fetcher is injectable (:func:`set_certificate_fetcher`): tests and the local
runner serve their own certificate. A failed download is a transient error (the message is
retried), not a rejection. ``cryptography`` is imported on first use (processor cold start).
"""
from __future__ import annotations

import base64
import binascii
import threading
import urllib.request
import zlib
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from paycore.envelope import Envelope
from paycore.model import Ignored, Rejected, Transaction, iso_from_text, route_fields, to_minor_units

ALLOWED_CERT_HOSTS = frozenset(
    {"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}
)
AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
MAX_CERT_BYTES = 64 * 1024

EVENT_STATUS = {
    "PAYMENT.CAPTURE.PENDING": "pending",
    "PAYMENT.CAPTURE.COMPLETED": "succeeded",
    "PAYMENT.CAPTURE.DENIED": "failed",
    "PAYMENT.CAPTURE.DECLINED": "failed",
    "PAYMENT.CAPTURE.REFUNDED": "refunded",
    "PAYMENT.CAPTURE.REVERSED": "reversed",
}


class CertificateUnavailable(Exception):
    """The certificate could not be downloaded: transient, the message is retried."""


def check_cert_url(url: str | None) -> str:
    """The URL if it is an https URL on a PayPal API host; ``Rejected("bad_cert_url")`` otherwise."""
    if not url or len(url) > 2048:
        raise Rejected("bad_cert_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Rejected("bad_cert_url") from exc
    if (
        parts.scheme != "https"
        or parts.hostname not in ALLOWED_CERT_HOSTS
        or parts.netloc.lower() not in ALLOWED_CERT_HOSTS | {f"{h}:443" for h in ALLOWED_CERT_HOSTS}
        or port not in (None, 443)
        or parts.username is not None
    ):
        raise Rejected("bad_cert_url")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib hook
        return None  # a redirect could leave the PayPal hosts: refuse it


_opener = urllib.request.build_opener(_NoRedirect)


def download_certificate(url: str) -> bytes:
    """Default fetcher: HTTPS GET with certificate verification, 5 s timeout, no redirects."""
    try:
        with _opener.open(url, timeout=5) as response:
            if response.status != 200:
                raise CertificateUnavailable(f"HTTP {response.status}")
            return response.read(MAX_CERT_BYTES)
    except OSError as exc:  # URLError, timeouts, TLS errors
        raise CertificateUnavailable(type(exc).__name__) from exc


class CertificateCache:
    """URL -> public key of a parsed certificate, LRU-bounded, thread-safe."""

    def __init__(self, fetch: Callable[[str], bytes], max_entries: int = 16):
        self.fetch = fetch
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def certificate(self, url: str):
        with self._lock:
            cert = self._entries.get(url)
            if cert is not None:
                self._entries.move_to_end(url)
                return cert
        from cryptography import x509

        pem = self.fetch(url)
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise Rejected("bad_certificate") from exc
        with self._lock:
            self._entries[url] = cert
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return cert


_cache = CertificateCache(download_certificate)


def set_certificate_fetcher(fetch: Callable[[str], bytes]) -> None:
    """Replace the certificate download (tests, local runner); clears the cache."""
    _cache.fetch = fetch
    _cache.clear()


def clear_certificate_cache() -> None:
    _cache.clear()


def crc32_decimal(raw: bytes) -> str:
    return str(zlib.crc32(raw) & 0xFFFFFFFF)


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, raw: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32_decimal(raw)}".encode("utf-8")


def verify_signature(
    raw: bytes,
    headers: Mapping[str, str],
    webhook_ids: Sequence[str],
    *,
    received_at_ms: int,
    cache: CertificateCache | None = None,
) -> None:
    """Raise ``Rejected`` unless the PayPal transmission headers sign ``raw`` for one of
    ``webhook_ids``; ``CertificateUnavailable`` when the certificate cannot be fetched."""
    cache = cache or _cache
    transmission_id, transmission_time, sig_b64, cert_url, algo = (headers.get(h) for h in HEADERS)
    if not (transmission_id and transmission_time and sig_b64 and cert_url):
        raise Rejected("missing_signature")
    if algo != AUTH_ALGO:
        raise Rejected("unsupported_algorithm")
    check_cert_url(cert_url)
    try:
        signature = base64.b64decode(sig_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected("malformed_signature") from exc
    if not webhook_ids:
        raise Rejected("signature_mismatch")

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    cert = cache.certificate(cert_url)
    received = datetime.fromtimestamp(received_at_ms / 1000, tz=timezone.utc)
    if not cert.not_valid_before_utc <= received <= cert.not_valid_after_utc:
        raise Rejected("bad_certificate")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Rejected("bad_certificate")
    for webhook_id in webhook_ids:
        try:
            public_key.verify(
                signature,
                signed_message(transmission_id, transmission_time, webhook_id, raw),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return
        except InvalidSignature:
            continue
    raise Rejected("signature_mismatch")


def webhook_ids_from(secret: Mapping[str, Any] | None) -> list[str]:
    if not secret:
        return []
    return [s for s in (secret.get("webhook_id"), secret.get("previous_webhook_id")) if isinstance(s, str) and s]


class PayPalProvider:
    name = "paypal"
    usable_secrets = staticmethod(webhook_ids_from)
    signature_headers: tuple[str, ...] = HEADERS
    event_id_path = "$.id"
    group_id_path = "$.resource.id"
    secret_required = True

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        verify_signature(
            envelope.raw, envelope.headers, webhook_ids_from(secret), received_at_ms=envelope.received_at
        )

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        event_id = payload.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise Rejected("missing_event_id")
        event_type = payload.get("event_type")
        if not isinstance(event_type, str):
            raise Rejected("malformed_event")
        status = EVENT_STATUS.get(event_type)
        if status is None:
            return Ignored(self.name, event_id, event_type[:100], envelope.received_at)
        resource = payload.get("resource")
        if not isinstance(resource, Mapping):
            raise Rejected("malformed_event")
        amount = resource.get("amount") if isinstance(resource.get("amount"), Mapping) else {}
        payee = resource.get("payee") if isinstance(resource.get("payee"), Mapping) else {}
        payer = resource.get("payer") if isinstance(resource.get("payer"), Mapping) else {}
        fields = route_fields(
            vendor_id=resource.get("custom_id") or payee.get("merchant_id"),
            customer_id=payer.get("payer_id"),
            currency=amount.get("currency_code"),
        )
        value = amount.get("value")
        return Transaction(
            transaction_id=capture_id(resource, refund=status in ("refunded", "reversed")),
            provider=self.name,
            event_id=event_id,
            event_type=event_type,
            status=status,
            amount=to_minor_units(value, fields.currency),
            amount_raw=value if fields.currency_raw is not None and isinstance(value, str) else None,
            occurred_at=iso_from_text(payload.get("create_time") or resource.get("create_time")),
            received_at=envelope.received_at,
            **fields.as_kwargs(),
        )


def capture_id(resource: Mapping[str, Any], *, refund: bool) -> str:
    """The capture a resource is about: its own id, or for a refund the capture its ``up`` link
    points to (``.../v2/payments/captures/{id}``)."""
    if refund:
        for link in resource.get("links") or ():
            if isinstance(link, Mapping) and link.get("rel") == "up" and isinstance(link.get("href"), str):
                path = urlsplit(link["href"]).path.rstrip("/")
                if "/captures/" in path:
                    return path.rsplit("/", 1)[-1]
    value = resource.get("id")
    return value if isinstance(value, str) else ""


PROVIDER = PayPalProvider()
