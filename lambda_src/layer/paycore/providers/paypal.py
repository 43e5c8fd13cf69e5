"""PayPal: offline webhook signature verification (normalization: paycore.providers.paypal_events).

Verification (PayPal "Verify webhook signatures", self-verification):

* headers ``paypal-transmission-id``, ``paypal-transmission-time``, ``paypal-transmission-sig``
  (base64), ``paypal-cert-url``, ``paypal-auth-algo`` (``SHA256withRSA`` is the one accepted);
* signed message ``"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(raw body)}"`` with
  the CRC32 as an unsigned decimal; RSA PKCS#1 v1.5 + SHA-256 with the public key of the
  certificate at ``paypal-cert-url``;
* the certificate URL must be ``https`` on a PayPal API host (:data:`ALLOWED_CERT_HOSTS`), default
  port, no user info; redirects are not followed;
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
runner serve their own certificate chain. A failed download, or bytes that are not PEM
certificates, is a transient error (the message is retried), not a rejection; a well-formed
certificate that fails a trust check is a rejection (``untrusted_certificate``). ``cryptography``
is imported on first use (processor cold start).
"""
from __future__ import annotations

import base64
import binascii
import os
import threading
import time
import urllib.request
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from paycore.envelope import Envelope
from paycore.model import Ignored, Rejected, Transaction
from paycore.obs import logger
from paycore.providers import paypal_events
from paycore.providers.base import GATE_KEY, GroupRule, Provider, SecretSpec

ALLOWED_CERT_HOSTS = frozenset(
    {"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}
)
_ALLOWED_NETLOCS = ALLOWED_CERT_HOSTS | {f"{h}:443" for h in ALLOWED_CERT_HOSTS}
#: URLs that passed :func:`check_cert_url` (a pure function of the text; every message of an
#: environment names the same few), so the next message skips the parse. Bounded.
_accepted_cert_urls: set[str] = set()
AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
MAX_CERT_BYTES = 64 * 1024
#: The leaf's subject CN. PayPal's Java SDK accepts ``CN=messageverificationcerts*.paypal.com``
#: (SSLUtil.java line 208, see :func:`verify_certificate_chain`); these are the live and sandbox names.
MESSAGE_VERIFICATION_SUBJECTS = frozenset(
    {"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}
)
MAX_CHAIN_DEPTH = 4  # intermediates between the leaf and a root
VERIFIED_TTL_SECONDS = 24 * 3600  # a verified chain is fetched and checked again after a day
TRUST_STORE_ENV = "PAYPAL_TRUST_STORE"
BUNDLED = "bundled"
MAX_AGE_ENV = "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS"
#: PayPal retries a webhook up to 25 times over 3 days; 6 hours more keeps the last retries (and a
#: DLQ redrive the same day) accepted, while a months-old replay is not.
DEFAULT_MAX_TRANSMISSION_AGE_SECONDS = 3 * 86_400 + 6 * 3_600
MIN_TRANSMISSION_AGE_SECONDS = 300
MAX_TRANSMISSION_AGE_LIMIT_SECONDS = 30 * 86_400
MAX_FUTURE_SKEW_SECONDS = 300  # PayPal's clock ahead of API Gateway's

class CertificateUnavailable(Exception):
    """The certificate could not be obtained: the download failed, or the bytes at the URL are not
    PEM certificates (an error page, a truncated answer). Transient: the message is retried (and
    dead-lettered after the queue's receive count), never quarantined as untrusted."""


class TrustStoreRefused(RuntimeError):
    """``PAYPAL_TRUST_STORE`` names a custom CA file where only the bundled roots may be used (on
    the AWS Lambda runtime), or the file holds no certificate. A configuration error: every PayPal
    message fails (retried, then dead-lettered, alarmed) instead of being trusted or rejected."""


def check_cert_url(url: str | None) -> str:
    """The URL if it is an https URL on a PayPal API host; ``Rejected("bad_cert_url")`` otherwise."""
    if url in _accepted_cert_urls:
        return url
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
        or parts.netloc.lower() not in _ALLOWED_NETLOCS
        or port not in (None, 443)
        or parts.username is not None
    ):
        raise Rejected("bad_cert_url")
    if len(_accepted_cert_urls) >= 64:
        _accepted_cert_urls.clear()
    _accepted_cert_urls.add(url)
    return url


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


# ----------------------------------------------------------------------------- trust store

def custom_trust_store_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """A custom CA file is honoured only off the AWS Lambda runtime: Lambda itself sets
    ``AWS_LAMBDA_RUNTIME_API`` and ``AWS_EXECUTION_ENV`` (reserved names a function's
    configuration cannot set or remove), so a deployed stack - prod or dev - cannot use it, even
    by mistake. Tests and the local runner (handlers in-process) can."""
    environ = os.environ if environ is None else environ
    return not environ.get("AWS_LAMBDA_RUNTIME_API") and not environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda")


@dataclass(frozen=True)
class TrustStore:
    """Trusted roots: ``name`` is ``bundled`` (certifi's pinned bundle) or the custom file's path."""

    name: str
    store: Any  # cryptography.x509.verification.Store


_trust_stores: dict[str, TrustStore] = {}
_trust_lock = threading.Lock()


def _load_roots(pem: bytes) -> list:
    import warnings

    from cryptography import x509

    with warnings.catch_warnings():
        # certifi carries a root with a non-positive serial; cryptography 46 warns and loads it
        warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificates(pem)


def trust_store(environ: Mapping[str, str] | None = None) -> TrustStore:
    """The roots PayPal certificates must chain to, per ``PAYPAL_TRUST_STORE``: unset, empty or
    ``bundled`` -> the CA bundle of the pinned ``certifi`` shipped in the layer (never the OS
    store); a path to a PEM file -> that file, only where :func:`custom_trust_store_allowed`.
    Loaded once per setting value."""
    environ = os.environ if environ is None else environ
    setting = environ.get(TRUST_STORE_ENV, "").strip() or BUNDLED
    with _trust_lock:
        found = _trust_stores.get(setting)
    if found is not None:
        return found
    if setting == BUNDLED:
        import certifi

        path = certifi.where()
    elif not custom_trust_store_allowed(environ):
        raise TrustStoreRefused(f"{TRUST_STORE_ENV} names a custom CA file: refused on the AWS Lambda runtime")
    else:
        path = setting
    from cryptography.x509.verification import Store

    try:
        with open(path, "rb") as handle:
            roots = _load_roots(handle.read())
    except (OSError, ValueError) as exc:
        raise TrustStoreRefused(f"{TRUST_STORE_ENV}: cannot read certificates from the configured file") from exc
    loaded = TrustStore(setting, Store(roots))
    with _trust_lock:
        _trust_stores[setting] = loaded
    return loaded


# ----------------------------------------------------------------------------- certificate checks

@dataclass(frozen=True)
class VerifiedCertificate:
    """A certificate chain that verified: the leaf's RSA key, and the time span over which every
    certificate of the verified chain is valid (a later message is checked against it)."""

    public_key: Any
    valid_from: datetime
    valid_until: datetime
    verified_at: float  # time.monotonic()


def _untrusted(check: str, cert_url: str) -> Rejected:
    logger.warning(
        "paypal certificate not trusted",
        extra={"check": check, "cert_host": urlsplit(cert_url).hostname or ""},
    )
    return Rejected("untrusted_certificate")


def verify_certificate_chain(pem: bytes, at: datetime, store: TrustStore, cert_url: str = "") -> VerifiedCertificate:
    """Check what a PayPal certificate URL served, as PayPal's SDKs do (Java SDK,
    ``rest-api-sdk/src/main/java/com/paypal/base/SSLUtil.java`` ``validateCertificateChain``,
    lines 162-224 at paypal/PayPal-Java-SDK 2a34212: PKIX chain to the trusted roots, validity,
    and a subject ``CN=messageverificationcerts...paypal.com``):

    * ``pem`` is the leaf followed by the intermediates PayPal sends with it; bytes that are not
      PEM certificates -> :class:`CertificateUnavailable` (transient);
    * the leaf's subject common name is one of :data:`MESSAGE_VERIFICATION_SUBJECTS`;
    * the leaf and the chain are valid at ``at`` (the transmission time);
    * the chain verifies (signatures, CA basic constraints and key usage: the web PKI CA profile)
      up to a root of ``store``; the leaf key is RSA >= 2048 bits and may sign.

    Any trust failure -> ``Rejected("untrusted_certificate")`` (the failed check is logged, never
    the certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, VerificationError

    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise CertificateUnavailable("not a PEM certificate")
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateUnavailable("not a PEM certificate") from exc
    leaf, intermediates = chain[0], chain[1:]
    names = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if len(names) != 1 or names[0] not in MESSAGE_VERIFICATION_SUBJECTS:
        raise _untrusted("subject", cert_url)
    if not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
        raise _untrusted("validity", cert_url)
    public_key = leaf.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < 2048:
        raise _untrusted("key", cert_url)
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise _untrusted("key", cert_url)
    except x509.ExtensionNotFound:
        pass
    verifier = (
        PolicyBuilder()
        .store(store.store)
        .time(at)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        # CAs: the web PKI profile. The leaf: any extended key usage (PayPal's certificate is a
        # public TLS certificate whose EKU set is the CA's choice; Java's checkClientTrusted
        # above wants clientAuth, which CAs are dropping) - its name and key are checked above.
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise _untrusted("chain", cert_url) from exc
    return VerifiedCertificate(
        public_key=public_key,
        valid_from=max(c.not_valid_before_utc for c in verified.chain),
        valid_until=min(c.not_valid_after_utc for c in verified.chain),
        verified_at=time.monotonic(),
    )


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
    """(trust store, URL) -> :class:`VerifiedCertificate`, LRU-bounded, thread-safe.

    Only verified chains are kept, for ``ttl_seconds`` (then fetched and verified again); a
    download failure, non-PEM bytes or a chain that fails the checks is not cached, so the next
    message tries again."""

    def __init__(self, fetch: Callable[[str], bytes], max_entries: int = 16,
                 ttl_seconds: float = VERIFIED_TTL_SECONDS):
        self.fetch = fetch
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[tuple[str, str], VerifiedCertificate] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def verified(self, url: str, at: datetime, store: TrustStore) -> VerifiedCertificate:
        """The verified certificate at ``url``, valid at ``at``; raises ``Rejected``,
        :class:`CertificateUnavailable`."""
        key = (store.name, url)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.verified_at > self.ttl_seconds:
                del self._entries[key]
                entry = None
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            entry = verify_certificate_chain(self.fetch(url), at, store, url)
            with self._lock:
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        elif not entry.valid_from <= at <= entry.valid_until:
            raise _untrusted("validity", url)
        return entry


_cache = CertificateCache(download_certificate)


def set_certificate_fetcher(fetch: Callable[[str], bytes]) -> None:
    """Replace the certificate download (tests, local runner); clears the cache."""
    _cache.fetch = fetch
    _cache.clear()


def clear_certificate_cache() -> None:
    """Forget verified certificates and loaded trust stores (tests; a trust-store change)."""
    _cache.clear()
    with _trust_lock:
        _trust_stores.clear()


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
    check_cert_url(cert_url)
    try:
        signature = base64.b64decode(sig_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected("malformed_signature") from exc
    sent_at = transmission_time(time_text, received_at_ms)
    if not webhook_ids:
        raise Rejected("signature_mismatch")

    invalid_signature, pkcs1v15, sha256 = _rsa_verify_parameters()
    public_key = cache.verified(cert_url, sent_at, trust_store()).public_key
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

    def verify(self, envelope: Envelope, secret: Mapping[str, Any] | None) -> None:
        verify_signature(
            envelope.raw, envelope.headers, webhook_ids_from(secret), received_at_ms=envelope.received_at
        )

    def normalize(self, envelope: Envelope, payload: Mapping[str, Any]) -> Transaction | Ignored:
        return paypal_events.normalize(envelope, payload)


PROVIDER = PayPalProvider()
