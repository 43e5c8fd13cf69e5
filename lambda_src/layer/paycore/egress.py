"""Outbound HTTP to vendor endpoints, guarded against SSRF.

* Only ``https://`` to public addresses; ``http(s)://`` to loopback only when the caller passes
  ``allow_loopback_http`` (the ``local`` environment). Every resolved address is checked
  (loopback, private, link-local, CGNAT, multicast, reserved, IPv4-mapped forms are refused).
* The connection goes to the address that was checked (no second DNS lookup: no rebinding),
  with SNI, certificate verification and ``Host`` for the name.
* Redirects are never followed: a 3xx is a failed attempt.
* One deadline for connect + send + response; the response body is read up to 64 KB and dropped.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import urlsplit

from paycore.delivery import is_public_address

MAX_RESPONSE_BYTES = 65_536
Resolver = Callable[[str, int], list[str]]


class RefusedTarget(ValueError):
    """The URL or its resolved address is not allowed (never attempted)."""


@dataclass(frozen=True)
class AttemptResult:
    outcome: str  # success | http_error | redirect | gone | timeout | connection_error | tls_error | refused_target
    status_code: int = 0
    latency_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_target(url: str, *, allow_loopback_http: bool, resolver: Resolver = resolve) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, address to connect to, path+query) or :class:`RefusedTarget`."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget("bad port") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise RefusedTarget("not an https URL")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise RefusedTarget("host does not resolve") from exc
    if not addresses:
        raise RefusedTarget("host does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if is_public_address(address):
            if parts.scheme != "https":
                raise RefusedTarget("plain http is only allowed to loopback in the local environment")
            continue
        if allow_loopback_http and address.is_loopback:
            continue
        raise RefusedTarget("address is not public")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, addresses[0], path


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for ``server_hostname``."""

    def __init__(self, address: str, port: int, server_hostname: str, timeout: float, context: ssl.SSLContext):
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)


_TLS = ssl.create_default_context()


def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_seconds: float,
    allow_loopback_http: bool = False,
    resolver: Resolver = resolve,
    tls_context: ssl.SSLContext | None = None,
) -> AttemptResult:
    """POST ``body`` once; never raises for a vendor-side problem."""
    started = time.monotonic()

    def result(outcome: str, status: int = 0) -> AttemptResult:
        return AttemptResult(outcome, status, int((time.monotonic() - started) * 1000))

    try:
        scheme, host, port, address, path = check_target(url, allow_loopback_http=allow_loopback_http, resolver=resolver)
    except RefusedTarget:
        return result("refused_target")
    deadline = started + timeout_seconds
    if scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(address, port, host, timeout_seconds, tls_context or _TLS)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout_seconds)
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host_header)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        remaining = MAX_RESPONSE_BYTES
        while remaining > 0:
            if time.monotonic() > deadline:
                return result("timeout", response.status)
            chunk = response.read(min(8192, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
        status = response.status
    except (socket.timeout, TimeoutError):
        return result("timeout")
    except ssl.SSLError:
        return result("tls_error")
    except (OSError, http.client.HTTPException):
        return result("connection_error")
    finally:
        connection.close()
    if time.monotonic() > deadline:
        return result("timeout", status)
    if 200 <= status < 300:
        return result("success", status)
    if status == 410:
        return result("gone", status)
    if 300 <= status < 400:
        return result("redirect", status)
    return result("http_error", status)
