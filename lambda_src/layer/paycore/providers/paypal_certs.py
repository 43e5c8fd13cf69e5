"""PayPal's message-verification certificates: the certificate URL's checks (hosts per PayPal
mode), the download (no redirects), the trust store, the chain checks and the cache of verified
chains. :mod:`paycore.providers.paypal` verifies signatures with them (and re-exports them)."""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from paycore.model import Rejected
from paycore.obs import logger
from paycore.providers.base import VerificationUnavailable

#: PayPal's API hosts that serve message-verification certificates, per PayPal mode, and the
#: subject (CN) of the certificate each mode signs with.
LIVE_CERT_HOSTS = frozenset({"api.paypal.com", "api-m.paypal.com"})
SANDBOX_CERT_HOSTS = frozenset({"api.sandbox.paypal.com", "api-m.sandbox.paypal.com"})
ALLOWED_CERT_HOSTS = LIVE_CERT_HOSTS | SANDBOX_CERT_HOSTS  # every PayPal certificate host, any mode
MODE_ENV = "PAYPAL_MODE"
LIVE, SANDBOX = "live", "sandbox"
MODES = (LIVE, SANDBOX)
#: What an URL may hold (RFC 3986's characters): no control character (CR/LF), space or non-ASCII.
_URL_TEXT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
#: (mode, URL) that passed :func:`check_cert_url` (a pure function of both; every message of an
#: environment names the same few), so the next message skips the parse. Bounded.
_accepted_cert_urls: set[tuple[str, str]] = set()
MAX_CERT_BYTES = 64 * 1024
#: The leaf's subject CN. PayPal's Java SDK accepts ``CN=messageverificationcerts*.paypal.com``
#: (SSLUtil.java line 208, see :func:`verify_certificate_chain`); these are the live and sandbox names.
MESSAGE_VERIFICATION_SUBJECTS = frozenset(
    {"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}
)
MODE_HOSTS = {LIVE: LIVE_CERT_HOSTS, SANDBOX: SANDBOX_CERT_HOSTS}
MODE_SUBJECTS = {LIVE: "messageverificationcerts.paypal.com", SANDBOX: "messageverificationcerts.sandbox.paypal.com"}
MAX_CHAIN_DEPTH = 4  # intermediates between the leaf and a root
VERIFIED_TTL_SECONDS = 24 * 3600  # a verified chain is fetched and checked again after a day
TRUST_STORE_ENV = "PAYPAL_TRUST_STORE"
BUNDLED = "bundled"
CERTIFICATE_UNAVAILABLE = "certificate_unavailable"
DOWNLOAD_TIMEOUT_SECONDS = 5


class CertificateUnavailable(VerificationUnavailable):
    """The certificate could not be obtained now: the download timed out or failed, the host
    answered 5xx, or the bytes at the URL are not PEM certificates (an error page, a truncated
    answer). Nothing is verified yet: the processor retries the message once, soon, then
    quarantines it as ``certificate_unavailable`` (replayable), never as untrusted."""

    reason = CERTIFICATE_UNAVAILABLE


class TrustStoreRefused(RuntimeError):
    """``PAYPAL_TRUST_STORE`` names a custom CA file where only the bundled roots may be used (on
    the AWS Lambda runtime), or the file holds no certificate. A configuration error: every PayPal
    message fails (retried, then dead-lettered, alarmed) instead of being trusted or rejected."""


def paypal_mode(environ: Mapping[str, str] | None = None) -> str:
    """``PAYPAL_MODE``: ``live`` (unset: the safe default) or ``sandbox`` (the setting ``paypal_mode``;
    prod is live). Another value is a configuration error (``ValueError``: retried, never trusted)."""
    environ = os.environ if environ is None else environ
    mode = environ.get(MODE_ENV, "").strip() or LIVE
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}")
    return mode


def check_cert_url(url: str | None, mode: str | None = None) -> str:
    """The URL if it is an https URL on a PayPal API host of ``mode`` (default: ``PAYPAL_MODE``),
    made of URL characters only; ``Rejected("bad_cert_url")`` otherwise (decided from the text, no
    download: a URL with CR/LF or on the other mode's host names no certificate we would trust)."""
    mode = paypal_mode() if mode is None else mode
    if (mode, url) in _accepted_cert_urls:
        return url  # type: ignore[return-value]  # only str URLs are ever added
    if not url or len(url) > 2048 or not _URL_TEXT.fullmatch(url):
        raise Rejected("bad_cert_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Rejected("bad_cert_url") from exc
    hosts = MODE_HOSTS[mode]
    if (
        parts.scheme != "https"
        or parts.hostname not in hosts
        or parts.netloc.lower() not in hosts | {f"{h}:443" for h in hosts}
        or port not in (None, 443)
        or parts.username is not None
    ):
        raise Rejected("bad_cert_url")
    if len(_accepted_cert_urls) >= 64:
        _accepted_cert_urls.clear()
    _accepted_cert_urls.add((mode, url))
    return url


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


def verify_certificate_chain(pem: bytes, at: datetime, store: TrustStore, cert_url: str = "",
                             mode: str | None = None) -> VerifiedCertificate:
    """Check what a PayPal certificate URL served, as PayPal's SDKs do (Java SDK,
    ``rest-api-sdk/src/main/java/com/paypal/base/SSLUtil.java`` ``validateCertificateChain``,
    lines 162-224 at paypal/PayPal-Java-SDK 2a34212: PKIX chain to the trusted roots, validity,
    and a subject ``CN=messageverificationcerts...paypal.com``):

    * ``pem`` is the leaf followed by the intermediates PayPal sends with it; bytes that are not
      PEM certificates -> :class:`CertificateUnavailable` (transient);
    * the leaf's subject common name is PayPal's message-verification subject of ``mode`` (one of
      :data:`MESSAGE_VERIFICATION_SUBJECTS`; ``None``: either, for a chain checked outside a
      deployment, such as ``scripts.ops.check_paypal_cert``);
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
    subjects = MESSAGE_VERIFICATION_SUBJECTS if mode is None else {MODE_SUBJECTS[mode]}
    if len(names) != 1 or names[0] not in subjects:
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


def download_certificate(url: str, timeout_seconds: float = DOWNLOAD_TIMEOUT_SECONDS) -> bytes:
    """Default fetcher: HTTPS GET with certificate verification, a timeout, no redirects.

    A 3xx or 4xx answer (or a URL urllib refuses) names no certificate of PayPal's:
    ``Rejected("certificate_unavailable")``, at once. A 5xx, a timeout, a connection or TLS failure
    may pass: :class:`CertificateUnavailable`."""
    try:
        with _opener.open(url, timeout=timeout_seconds) as response:
            if response.status != 200:
                raise _refused_or_unavailable(response.status)
            return response.read(MAX_CERT_BYTES)
    except urllib.error.HTTPError as exc:  # before OSError: HTTPError is a URLError
        raise _refused_or_unavailable(exc.code) from exc
    except OSError as exc:  # URLError, timeouts, TLS errors
        raise CertificateUnavailable(type(exc).__name__) from exc
    except ValueError as exc:  # http.client.InvalidURL: control characters and the like
        raise Rejected(CERTIFICATE_UNAVAILABLE) from exc


def _refused_or_unavailable(status: int) -> Exception:
    if 300 <= status < 500:
        return Rejected(CERTIFICATE_UNAVAILABLE)
    return CertificateUnavailable(f"HTTP {status}")


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

    def verified(self, url: str, at: datetime, store: TrustStore, mode: str | None = None) -> VerifiedCertificate:
        """The verified certificate at ``url``, valid at ``at``; raises ``Rejected``,
        :class:`CertificateUnavailable`."""
        key = (f"{store.name}|{mode or ''}", url)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.verified_at > self.ttl_seconds:
                del self._entries[key]
                entry = None
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            try:
                pem = self.fetch(url)
            except OSError as exc:  # a fetcher of its own that fails like urllib does: not decided yet
                raise CertificateUnavailable(type(exc).__name__) from exc
            entry = verify_certificate_chain(pem, at, store, url, mode)
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
