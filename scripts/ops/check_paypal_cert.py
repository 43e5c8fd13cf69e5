"""Check a live PayPal certificate URL the way the processor will: download it (HTTPS, no
redirects), verify the chain against the layer's trust store (``PAYPAL_TRUST_STORE``, default the
pinned certifi bundle) at the current time, and print what verified. Run it before deploying a
certifi or cryptography bump, and whenever PayPal renews its message-verification certificate:
a failure here means the processor would quarantine genuine PayPal webhooks as
``untrusted_certificate``.

    .venv/bin/python -m scripts.ops.check_paypal_cert https://api.paypal.com/v1/notifications/certs/CERT-...

Take the URL from the ``PAYPAL-CERT-URL`` header of a recent webhook (ledger row
``signature_headers``). Exit status 0 when trusted, 1 when not, 2 when the URL is not usable.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Callable

from paycore.model import Rejected
from paycore.providers import paypal


def check(url: str, *, fetch: Callable[[str], bytes] = paypal.download_certificate,
          at: datetime | None = None) -> tuple[int, str]:
    # the mode the URL's host belongs to: a live URL is checked as a live environment checks it
    mode = paypal.SANDBOX if any(f"//{host}" in url for host in paypal.SANDBOX_CERT_HOSTS) else paypal.LIVE
    try:
        paypal.check_cert_url(url, mode)
        pem = fetch(url)
        verified = paypal.verify_certificate_chain(pem, at or datetime.now(timezone.utc), paypal.trust_store(), url,
                                                   mode)
    except Rejected as rejected:
        return 1, f"NOT TRUSTED: {rejected.reason} ({url})"
    except paypal.CertificateUnavailable as exc:
        return 2, f"UNAVAILABLE: {exc} ({url})"
    return 0, (f"trusted: {url} (chain valid {verified.valid_from:%Y-%m-%d} .. {verified.valid_until:%Y-%m-%d}, "
               f"trust store {paypal.trust_store().name})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ops.check_paypal_cert",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="a PAYPAL-CERT-URL value")
    args = parser.parse_args(argv)
    status, text = check(args.url)
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
