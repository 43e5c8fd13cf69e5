"""Vendor endpoints for the local runs: one HTTP server on 127.0.0.1 per configured endpoint, on the
port its deployed URL names, playing a vendor that receives the platform's signed webhooks.

Each request is verified with the official ``standardwebhooks`` library (never the platform's own
signing code) against the endpoint's secret, answered as the endpoint's behaviour says (200, 500
for the first N requests, 410, slow), and recorded: webhook-id, webhook-timestamp, arrival order
and time, the verification result, the status answered, the payload's type, transaction, sequence
and amounts.
``delivered()`` is what the vendor's application keeps (verified, answered 2xx, de-duplicated by
webhook-id, as Standard Webhooks asks); ``duplicates()`` counts the copies it threw away. A vendor
that is down is a server that is not listening (the sender sees ``connection_error``).
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Behaviour = Callable[[int], tuple[int, float]]  # request number since set (1-based) -> (status, seconds to wait)


def answer(status: int = 200) -> Behaviour:
    """Always `status`."""
    return lambda number: (status, 0.0)


def failing_first(count: int, status: int = 500) -> Behaviour:
    """`status` for the first `count` requests, then 200 (a vendor that is broken for a while)."""
    return lambda number: (status if number <= count else 200, 0.0)


def slow(seconds: float, status: int = 200) -> Behaviour:
    """`status` after `seconds` (longer than the sender's timeout: a vendor that hangs)."""
    return lambda number: (status, seconds)


@dataclass
class Received:
    """One request as the vendor saw it (never the body or the signature)."""

    number: int
    webhook_id: str
    webhook_timestamp: int
    arrived_at: float
    verified: bool
    status: int
    event_type: str
    transaction_id: str
    sequence: int = 0  # the announcement's number in its payment's story (0: none)
    amounts: tuple[tuple[str, int], ...] = ()  # its own amount and the payment's running totals


class VendorEndpoint:
    """The vendor behind one endpoint: a server on (host, port) that can be stopped and started
    again on the same port (down, then back)."""

    def __init__(self, endpoint_id: str, url: str, *, secret: str = "", behaviour: Behaviour | None = None):
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            raise ValueError(f"endpoint {endpoint_id}: a local vendor needs an http://127.0.0.1:<port> URL, got {url!r}")
        self.endpoint_id = endpoint_id
        self.url = url
        self.address = ("127.0.0.1", parts.port)
        self.path = parts.path or "/"
        self.secret = secret
        self.behaviour = behaviour or answer(200)
        self.requests: list[Received] = []
        self._behaviour_since = 0  # requests before the behaviour was set
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def behave(self, behaviour: Behaviour) -> None:
        """From now on answer as `behaviour` says (its request numbers start again at 1)."""
        with self._lock:
            self.behaviour, self._behaviour_since = behaviour, len(self.requests)

    # -- what the vendor kept --
    def delivered(self) -> list[Received]:
        """Verified, answered 2xx, first copy of each webhook-id, in arrival order."""
        seen: set[str] = set()
        kept = []
        for request in self.requests:
            if request.verified and request.status // 100 == 2 and request.webhook_id not in seen:
                seen.add(request.webhook_id)
                kept.append(request)
        return kept

    def duplicates(self) -> int:
        """Verified 2xx requests whose webhook-id the vendor had already accepted (dropped by it)."""
        return sum(1 for r in self.requests if r.verified and r.status // 100 == 2) - len(self.delivered())

    def unverified(self) -> int:
        return sum(1 for r in self.requests if not r.verified)

    def per_second(self, requests: list[Received] | None = None) -> collections.Counter[int]:
        """Requests (default: all) by webhook-timestamp: the second of the attempt on the sender's
        clock, the window a per-second rate limit counts in."""
        return collections.Counter(r.webhook_timestamp for r in (self.requests if requests is None else requests))

    def accepted_since(self, index: int) -> set[str]:
        """Webhook-ids first accepted (verified, 2xx) after the first `index` requests."""
        before = {r.webhook_id for r in self.delivered() if r.number <= index}
        return {r.webhook_id for r in self.delivered() if r.number > index} - before

    # -- lifecycle --
    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> VendorEndpoint:
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(self.address, self._handler_class())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"vendor-{self.endpoint_id}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port no longer accepts connections."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        try:
            payload = Webhook(self.secret).verify(body, headers) if self.secret else None
            verified = payload is not None
        except (WebhookVerificationError, ValueError):
            payload, verified = None, False
        if payload is None:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
        if not isinstance(payload, dict):
            payload = {}
        data = payload["data"] if isinstance(payload.get("data"), dict) else {}
        try:
            timestamp = int(headers.get("webhook-timestamp", "0"))
        except ValueError:
            timestamp = 0
        with self._lock:
            number = len(self.requests) + 1
            if not verified:
                status, wait = 401, 0.0
            elif path != self.path:
                status, wait = 404, 0.0
            else:
                status, wait = self.behaviour(number - self._behaviour_since)
            self.requests.append(Received(
                number=number, webhook_id=headers.get("webhook-id", ""), webhook_timestamp=timestamp,
                arrived_at=time.time(), verified=verified, status=status,
                event_type=str(payload.get("type", "")),
                transaction_id=str(data.get("transaction_id", "")),
                sequence=data["sequence"] if isinstance(data.get("sequence"), int) else 0,
                amounts=tuple((k, v) for k, v in sorted(data.items()) if k == "amount" or k.endswith("_amount")
                              if isinstance(v, int))))
        return status, wait

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, wait = vendor._receive(self.path, headers, body)
                if wait:
                    time.sleep(wait)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting (timeout) and closed the connection
                    pass

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        return Handler


class Vendors:
    """The vendor endpoints of a deployment (endpoint id -> URL, as the deployed configuration says)."""

    def __init__(self, urls: dict[str, str]):
        self.endpoints = {endpoint_id: VendorEndpoint(endpoint_id, url) for endpoint_id, url in sorted(urls.items())}

    def __getitem__(self, endpoint_id: str) -> VendorEndpoint:
        return self.endpoints[endpoint_id]

    def __iter__(self):
        return iter(self.endpoints.values())

    def start(self) -> Vendors:
        for endpoint in self.endpoints.values():
            endpoint.start()
        return self

    def stop(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.stop()

    def __enter__(self) -> Vendors:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def figures(self) -> dict[str, dict[str, int]]:
        """Per endpoint: requests, delivered (kept), duplicates (dropped by webhook-id), unverified."""
        return {e.endpoint_id: {"requests": len(e.requests), "delivered": len(e.delivered()),
                                "duplicates": e.duplicates(), "unverified": e.unverified()} for e in self}
