"""PayPal: offline webhook signature verification (normalization: paycore.providers.paypal_events).

Verification (PayPal "Verify webhook signatures", self-verification):

* headers ``paypal-transmission-id``, ``paypal-transmission-time``, ``paypal-transmission-sig``
  (base64), ``paypal-cert-url``, ``paypal-auth-algo`` (``SHA256withRSA`` is the one accepted);
* signed message ``"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(raw body)}"`` with
  the CRC32 as an unsigned decimal; RSA PKCS#1 v1.5 + SHA-256 with the public key of the
  certificate at ``paypal-cert-url``;
* the certificate URL must be ``https`` on a PayPal API host of the environment's PayPal mode
  (``PAYPAL_MODE``: ``live`` -> :data:`LIVE_CERT_HOSTS`, ``sandbox`` -> :data:`SANDBOX_CERT_HOSTS`),
  default port, no user info, nothing but URL characters (no CR/LF, no space); redirects are not
  followed;
* the certificate it serves (leaf + intermediates) must chain to a root of the trust store (the
  pinned ``certifi`` bundle shipped in the layer; ``PAYPAL_TRUST_STORE`` names a test CA file, off
  the Lambda runtime only), be valid at the transmission time and name PayPal's
  message-verification subject (:func:`verify_certificate_chain`). Verified chains are cached per
  URL for a day; failures are not cached;
* ``paypal-transmission-time`` must lie within ``PAYPAL_MAX_TRANSMISSION_AGE_SECONDS`` (default
  3 days + 6 hours: PayPal retries for 3 days) before ``received_at`` (when API Gateway received
  the request) and at most 5 minutes after it;
* ``webhook_id`` comes from the ``{SECRET_PREFIX}paypal/signing`` secret:
  ``{"webhook_id": "...", "previous_webhook_id": "..."}`` (the previous one is tried too, for a
  webhook re-registration).

The certificate fetcher is injectable (:func:`set_certificate_fetcher`): tests and the local
runner serve their own certificate chain. What the certificate URL answers decides, before any
signature can be checked:

* a timeout, a connection or TLS failure, a 5xx, or bytes that are not PEM certificates:
  :class:`CertificateUnavailable` (a :class:`~paycore.providers.base.VerificationUnavailable`): the
  processor retries the message once, soon, then quarantines it as ``certificate_unavailable``;
* a 3xx (redirects are refused) or a 4xx: ``Rejected("certificate_unavailable")`` at once - PayPal
  serves its certificates; a URL on its host that answers 404 names no certificate of PayPal's;
* a well-formed certificate that fails a trust check: ``Rejected("untrusted_certificate")``.

Once a signature verifies, the transmission id is bound to the body's SHA-256 by the processor
(``transmission_id_header``): PayPal signs the body's CRC32, which anyone can make collide with a
4-byte patch, so a transmission carries one body only (``Rejected("transmission_replayed")``).
``cryptography`` is imported on first use (processor cold start).
"""
from __future__ import annotations

import base64
import binascii
import os
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from paycore.envelope import Envelope
from paycore.model import Ignored, Rejected, Transaction
from paycore.providers import paypal_events
from paycore.providers.base import GATE_KEY, GroupRule, Provider, SecretSpec
from paycore.providers.paypal_certs import (  # the certificate handling, as paypal.X too
    ALLOWED_CERT_HOSTS as ALLOWED_CERT_HOSTS,
    BUNDLED as BUNDLED,
    _cache as _cache,
    CERTIFICATE_UNAVAILABLE as CERTIFICATE_UNAVAILABLE,
    CertificateCache as CertificateCache,
    CertificateUnavailable as CertificateUnavailable,
    check_cert_url as check_cert_url,
    clear_certificate_cache as clear_certificate_cache,
    custom_trust_store_allowed as custom_trust_store_allowed,
    download_certificate as download_certificate,
    DOWNLOAD_TIMEOUT_SECONDS as DOWNLOAD_TIMEOUT_SECONDS,
    LIVE as LIVE,
    LIVE_CERT_HOSTS as LIVE_CERT_HOSTS,
    _load_roots as _load_roots,
    MAX_CERT_BYTES as MAX_CERT_BYTES,
    MAX_CHAIN_DEPTH as MAX_CHAIN_DEPTH,
    MESSAGE_VERIFICATION_SUBJECTS as MESSAGE_VERIFICATION_SUBJECTS,
    MODE_ENV as MODE_ENV,
    MODE_HOSTS as MODE_HOSTS,
    MODE_SUBJECTS as MODE_SUBJECTS,
    MODES as MODES,
    _NoRedirect as _NoRedirect,
    paypal_mode as paypal_mode,
    SANDBOX as SANDBOX,
    SANDBOX_CERT_HOSTS as SANDBOX_CERT_HOSTS,
    set_certificate_fetcher as set_certificate_fetcher,
    trust_store as trust_store,
    TRUST_STORE_ENV as TRUST_STORE_ENV,
    TrustStore as TrustStore,
    TrustStoreRefused as TrustStoreRefused,
    VERIFIED_TTL_SECONDS as VERIFIED_TTL_SECONDS,
    VerifiedCertificate as VerifiedCertificate,
    verify_certificate_chain as verify_certificate_chain,
)

AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
MAX_AGE_ENV = "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS"
#: PayPal retries a webhook up to 25 times over 3 days; 6 hours more keeps the last retries (and a
#: DLQ redrive the same day) accepted, while a months-old replay is not.
DEFAULT_MAX_TRANSMISSION_AGE_SECONDS = 3 * 86_400 + 6 * 3_600
MIN_TRANSMISSION_AGE_SECONDS = 300
MAX_TRANSMISSION_AGE_LIMIT_SECONDS = 30 * 86_400
MAX_FUTURE_SKEW_SECONDS = 300  # PayPal's clock ahead of API Gateway's
TRANSMISSION_HEADER = "paypal-transmission-id"


# ----------------------------------------------------------------------------- transmission time

def max_transmission_age_seconds() -> int:
    """``PAYPAL_MAX_TRANSMISSION_AGE_SECONDS`` (default 3 days + 6 hours); a bad value is a
    configuration error (``ValueError``: the message is retried, not rejected)."""
    text = os.environ.get(MAX_AGE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_TRANSMISSION_AGE_SECONDS
    if not text.isdigit() or not MIN_TRANSMISSION_AGE_SECONDS <= int(text) <= MAX_TRANSMISSION_AGE_LIMIT_SECONDS:
        raise ValueError(
            f"{MAX_AGE_ENV} must be an integer number of seconds in "
            f"{MIN_TRANSMISSION_AGE_SECONDS}..{MAX_TRANSMISSION_AGE_LIMIT_SECONDS}"
        )
    return int(text)


def transmission_time(text: str, received_at_ms: int, *, max_age_seconds: int | None = None) -> datetime:
    """The ``paypal-transmission-time`` as an aware UTC datetime, if it lies within
    ``[received_at - max_age, received_at + MAX_FUTURE_SKEW_SECONDS]``; ``Rejected`` otherwise
    (``malformed_signature`` unparseable, ``stale_timestamp``, ``future_timestamp``)."""
    max_age = max_transmission_age_seconds() if max_age_seconds is None else max_age_seconds
    if len(text) > 64:
        raise Rejected("malformed_signature")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise Rejected("malformed_signature") from exc
    if moment.tzinfo is None:
        raise Rejected("malformed_signature")
    moment = moment.astimezone(timezone.utc)
    age_seconds = received_at_ms / 1000 - moment.timestamp()
    if age_seconds > max_age:
        raise Rejected("stale_timestamp")
    if age_seconds < -MAX_FUTURE_SKEW_SECONDS:
        raise Rejected("future_timestamp")
    return moment


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
    ``webhook_ids`` with a trusted PayPal certificate, sent within the transmission-time window
    of ``received_at_ms``; ``CertificateUnavailable`` when the certificate cannot be obtained."""
    cache = cache or _cache
    transmission_id, time_text, sig_b64, cert_url, algo = (headers.get(h) for h in HEADERS)
    if not (transmission_id and time_text and sig_b64 and cert_url):
        raise Rejected("missing_signature")
    if algo != AUTH_ALGO:
        raise Rejected("unsupported_algorithm")
    mode = paypal_mode()
    check_cert_url(cert_url, mode)
    try:
        signature = base64.b64decode(sig_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected("malformed_signature") from exc
    sent_at = transmission_time(time_text, received_at_ms)
    if not webhook_ids:
        raise Rejected("signature_mismatch")

    invalid_signature, pkcs1v15, sha256 = _rsa_verify_parameters()
    public_key = cache.verified(cert_url, sent_at, trust_store(), mode).public_key
    for webhook_id in webhook_ids:
        try:
            public_key.verify(signature, signed_message(transmission_id, time_text, webhook_id, raw), pkcs1v15, sha256)
            return
        except invalid_signature:
            continue
    raise Rejected("signature_mismatch")


_rsa_parameters: tuple[type[Exception], Any, Any] | None = None


def _rsa_verify_parameters() -> tuple[type[Exception], Any, Any]:
    """``(InvalidSignature, PKCS1v15(), SHA256())``: imported on the first PayPal message (cold
    start), then reused (both objects are stateless parameters)."""
    global _rsa_parameters
    if _rsa_parameters is None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        _rsa_parameters = (InvalidSignature, padding.PKCS1v15(), hashes.SHA256())
    return _rsa_parameters


def webhook_ids_from(secret: Mapping[str, Any] | None) -> list[str]:
    if not secret:
        return []
    return [s for s in (secret.get("webhook_id"), secret.get("previous_webhook_id")) if isinstance(s, str) and s]


class PayPalProvider(Provider):
    name = "paypal"
    usable_secrets = staticmethod(webhook_ids_from)
    signature_headers = HEADERS
    event_id_path = "$.id"
    group_id_path = "$.resource.id"
    #: a dispute names its capture as its first disputed transaction; a refund or reversal by its
    #: ``up`` link (a capture's own ``up`` link names its order, hence the path filter)
    group_id_rules = (GroupRule("$.resource.disputed_transactions[0].seller_transaction_id"),
                      GroupRule("$.resource.links", link_rel="up", href_contains=paypal_events.CAPTURE_LINK))
    #: the signing secret holds the webhook id PayPal signs with (no key: PayPal signs with its certificate)
    secrets = (SecretSpec("signing", current_key="webhook_id", previous_key="previous_webhook_id"), GATE_KEY)
    #: PayPal signs "{transmission id}|{time}|{webhook id}|{CRC32 of the body}": the CRC32 does not
    #: pin the body's bytes, so the processor binds each verified transmission id to the body's
    #: SHA-256 (one transmission, one body).
    #:
    #: PayPal retries a delivery "up to 25 times over 3 days" (developer.paypal.com/api/rest/webhooks/rest,
    #: "Subscribing a listener URL") and lets an app resend an event (Webhooks Events API,
    #: POST /v1/notifications/webhooks-events/{event_id}/resend); it documents the transmission id
    #: only as "The ID of the HTTP transmission. Contained in the PAYPAL-TRANSMISSION-ID header"
    #: (Webhooks API, verify_webhook_signature) and says nowhere whether a retry or a resend keeps
    #: it. Both work here: a retry under the same id carries the same bytes (bound already: a
    #: duplicate, acknowledged), one under a new id is bound anew (the ledger's event id makes it a
    #: duplicate); only another body under a verified id is refused.
    transmission_id_header = TRANSMISSION_HEADER

    def transmission_ttl_seconds(self) -> int | None:
        """None: the binding is kept for good. A message of a transmission is accepted while its
        ``received_at`` lies within the freshness window, but it can come back at any age after
        that: from the DLQ, the parked messages or the quarantine (``replay-quarantine``, which keeps
        ``received_at``). Only a binding that outlives every replay keeps a forged twin out; one
        row of ~100 bytes per PayPal transmission (the ledger keeps every event row for good too)."""
        return None

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        verify_signature(
            envelope.raw, envelope.headers, webhook_ids_from(secret), received_at_ms=envelope.received_at
        )

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        return paypal_events.normalize(envelope, payload)


PROVIDER = PayPalProvider()
