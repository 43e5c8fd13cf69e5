"""Outbound HTTP to vendor endpoints, guarded against SSRF.

* Only ``https://`` to public addresses; ``http(s)://`` to loopback only when the caller passes
  ``allow_loopback_http`` (the ``local`` environment). Every resolved address is checked
  (loopback, private, link-local, CGNAT, multicast, reserved are refused), and so is every IPv4
  address an IPv6 address carries (:func:`embedded_ipv4`): ``2002:a9fe:a9fe::`` is the metadata
  service behind a 6to4 relay.
* The connection goes to the address that was checked (no second DNS lookup: no rebinding),
  with SNI, certificate verification and ``Host`` for the name.
* Redirects are never followed: a 3xx is a failed attempt.
* One deadline for the whole attempt: every blocking step (connect, TLS handshake, each send,
  each receive of the status line, headers and body) waits at most for what is left of it, so a
  peer trickling one byte at a time cannot stretch an attempt. The response body is read up to
  64 KB and dropped.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 65_536
Resolver = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: IPv6 prefixes that carry an IPv4 address in their last 32 bits and whose packets go to it
#: (a translator or relay, not the IPv6 network): IPv4-compatible (RFC 4291 2.5.5.1, deprecated),
#: IPv4-translated (RFC 2765) and the NAT64 well-known prefix (RFC 6052).
_TRANSLATED = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0:0/96"),
               ipaddress.IPv6Network("64:ff9b::/96"))
#: NAT64 local-use prefix (RFC 8215): the operator picks the prefix length, hence where the IPv4
#: address sits (RFC 6052 2.2), so it cannot be decoded; and it is never globally reachable.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
#: ISATAP interface identifier (RFC 5214 6.1): 0000:5efe or 0200:5efe, then the IPv4 address.
_ISATAP_ID, _ISATAP_MASK = 0x0000_5EFE, 0xFDFF_FFFF


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


def embedded_ipv4(address: Address) -> tuple[list[ipaddress.IPv4Address], bool]:
    """The IPv4 addresses an IPv6 address carries, and whether packets to it go to them (a
    translation) rather than to the IPv6 network: IPv4-mapped, IPv4-compatible, IPv4-translated,
    NAT64 well-known prefix, Teredo (server and client, the client un-XORed) - translations -,
    6to4 and ISATAP - tunnels inside an IPv6 prefix that must itself be public."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [], False
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped], True
    if address.teredo is not None:
        return list(address.teredo), True
    last32 = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if any(address in network for network in _TRANSLATED):
        return [last32], True
    found = [address.sixtofour] if address.sixtofour is not None else []
    if (int(address) >> 32) & _ISATAP_MASK == _ISATAP_ID:
        found.append(last32)
    return found, False


def _public(address: Address) -> bool:
    return bool(address.is_global) and not address.is_multicast and not address.is_reserved


def is_public_address(address: Address) -> bool:
    """True when ``address`` and every IPv4 address it carries are public (not loopback, private,
    link-local such as 169.254.169.254, CGNAT, multicast or reserved)."""
    if address.version == 6 and address in _NAT64_LOCAL_USE:
        return False
    embedded, translated = embedded_ipv4(address)
    if not all(_public(v4) for v4 in embedded):
        return False
    return translated or _public(address)


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


class Deadline:
    """One monotonic deadline; :meth:`left` is the time that remains, TimeoutError once none does."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("attempt deadline passed")
        return remaining


class _DeadlineReader(io.RawIOBase):
    """The socket's read side for http.client's buffered reader: each receive waits at most until
    the deadline (a socket timeout alone restarts with every byte that arrives)."""

    def __init__(self, owner: "_DeadlineSocket"):
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock = self._owner.sock
        sock.settimeout(self._owner.deadline.left())
        return sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._owner.release()
        super().close()


class _DeadlineSocket:
    """What http.client uses of a socket (``sendall``, ``makefile``, ``close``), each send and
    receive bounded by the attempt's deadline. Like a socket, it stays open while a reader made by
    ``makefile`` is open (http.client closes the connection of a ``Connection: close`` answer
    before reading its body)."""

    def __init__(self, sock: socket.socket, deadline: Deadline):
        self.sock, self.deadline = sock, deadline
        self._readers, self._closed = 0, False

    def sendall(self, data: bytes) -> None:
        with memoryview(data) as whole, whole.cast("B") as view:
            sent = 0
            while sent < len(view):
                self.sock.settimeout(self.deadline.left())
                sent += self.sock.send(view[sent:])

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release(self) -> None:
        self._readers -= 1
        self._close_when_unused()

    def close(self) -> None:
        self._closed = True
        self._close_when_unused()

    def _close_when_unused(self) -> None:
        if self._closed and self._readers <= 0:
            self.sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to a fixed address: TLS with SNI and certificate checks for ``server_hostname``
    (None: plain HTTP), every step bounded by ``deadline``."""

    def __init__(self, address: str, port: int, *, server_hostname: str | None, deadline: Deadline,
                 context: ssl.SSLContext):
        super().__init__(address, port)
        self._server_hostname, self._context, self._deadline = server_hostname, context, deadline

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self._deadline.left())
        try:
            if self._server_hostname is not None:
                sock.settimeout(self._deadline.left())  # the handshake as a whole (CPython's ssl module)
                sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(sock, self._deadline)


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
    """POST ``body`` once, all of it (name lookup, connect, TLS, request, status, headers, body)
    within ``timeout_seconds``; never raises for a vendor-side problem."""
    started = time.monotonic()
    deadline = Deadline(timeout_seconds)

    def result(outcome: str, status: int = 0) -> AttemptResult:
        return AttemptResult(outcome, status, int((time.monotonic() - started) * 1000))

    try:
        scheme, host, port, address, path = check_target(url, allow_loopback_http=allow_loopback_http, resolver=resolver)
    except RefusedTarget:
        return result("refused_target")
    connection = _PinnedConnection(address, port, server_hostname=host if scheme == "https" else None,
                                   deadline=deadline, context=tls_context or _TLS)
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    status, response = 0, None
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host_header)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        status = response.status
        remaining = MAX_RESPONSE_BYTES
        while remaining > 0:
            chunk = response.read(min(8192, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except TimeoutError:  # socket.timeout is TimeoutError, so is Deadline.left()
        return result("timeout", status)
    except ssl.SSLError:
        return result("tls_error")
    except (OSError, http.client.HTTPException):
        return result("connection_error")
    finally:
        if response is not None:
            response.close()
        connection.close()
    if 200 <= status < 300:
        return result("success", status)
    if status == 410:
        return result("gone", status)
    if 300 <= status < 400:
        return result("redirect", status)
    return result("http_error", status)
