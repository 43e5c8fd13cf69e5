"""Fake Stripe and PayPal events APIs on loopback, for the reconciler in tests and the local run.

The same endpoints and page shapes as the real APIs, fed with the events the signed-webhook
generator makes (scripts/local/sample_webhooks.py):

* Stripe ``GET /v1/events`` (``Authorization: Bearer <key>``; ``created[gte]``, ``created[lt]``,
  ``types[]``, ``limit``, ``starting_after``; ``delivery_success=false`` keeps the events
  :meth:`FakeProviderApis.delivered` did not mark): ``{"object": "list", "url": "/v1/events",
  "has_more": ..., "data": [event, ...]}``, newest first (Stripe API reference, "List all events").
* PayPal ``POST /v1/oauth2/token`` (HTTP Basic client id and secret, ``grant_type=client_credentials``)
  and ``GET /v1/notifications/webhooks-events`` (``page_size``, ``start_time``, ``end_time``):
  ``{"events": [...], "links": [{"href": ..., "rel": "next", "method": "GET"}]}`` (PayPal Webhooks
  Management API v1, "List event notifications").

``faults`` is a list of ``(status, retry_after or None)`` answered, one per request, before the
real answers resume (401/429/5xx in the tests). ``calls`` counts the list requests.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


def _epoch(iso: str) -> int:
    return int(dt.datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp())


class FakeProviderApis:
    def __init__(self, *, stripe_key: str = "rk_test_reconciler", paypal_client: tuple[str, str] = ("client", "secret")):
        self.stripe_key, self.paypal_client = stripe_key, paypal_client
        self.stripe_events: list[dict[str, Any]] = []
        self.paypal_events: list[dict[str, Any]] = []
        self.faults: list[tuple[int, float | None]] = []
        self.delivered_ids: set[str] = set()  # events whose webhook the platform acknowledged
        self.calls = 0
        self._lock = threading.Lock()
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                apis._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                apis._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeProviderApis":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self, event_id: str) -> None:
        """Mark an event's webhook delivered (answered 2xx): ``delivery_success=false`` leaves it out."""
        with self._lock:
            self.delivered_ids.add(event_id)

    def add(self, provider: str, raw: bytes) -> None:
        with self._lock:
            (self.stripe_events if provider == "stripe" else self.paypal_events).append(json.loads(raw))

    # ----- serving ---------------------------------------------------------------------------

    def _answer(self, request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        length = int(request.headers.get("Content-Length") or 0)
        form = parse_qs(request.rfile.read(length).decode()) if length else {}
        with self._lock:
            fault = self.faults.pop(0) if self.faults and parts.path != "/v1/oauth2/token" else None
            if parts.path != "/v1/oauth2/token":
                self.calls += 1
        if fault:
            status, retry_after = fault
            self._answer(request, status, {"error": {"message": "fault"}},
                         {"Retry-After": str(retry_after)} if retry_after is not None else None)
            return
        auth = request.headers.get("Authorization", "")
        if method == "GET" and parts.path == "/v1/events":
            if auth != f"Bearer {self.stripe_key}":
                return self._answer(request, 401, {"error": {"type": "invalid_request_error", "message": "bad key"}})
            return self._answer(request, 200, self._stripe_page(query))
        if method == "POST" and parts.path == "/v1/oauth2/token":
            expected = "Basic " + base64.b64encode(":".join(self.paypal_client).encode()).decode()
            if auth != expected or form.get("grant_type") != ["client_credentials"]:
                return self._answer(request, 401, {"error": "invalid_client"})
            return self._answer(request, 200, {"access_token": "A21.fake", "token_type": "Bearer", "expires_in": 32400})
        if method == "GET" and parts.path == "/v1/notifications/webhooks-events":
            if auth != "Bearer A21.fake":
                return self._answer(request, 401, {"name": "AUTHENTICATION_FAILURE"})
            return self._answer(request, 200, self._paypal_page(query))
        self._answer(request, 404, {"error": "not found"})

    def _stripe_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        gte = int(query.get("created[gte]", ["0"])[0])
        lt = int(query.get("created[lt]", [str(2**62)])[0])
        types = {v for k, vs in query.items() if k.startswith("types[") for v in vs}  # types[] or types[0]...
        limit = min(int(query.get("limit", ["10"])[0]), 100)
        with self._lock:
            events = sorted((e for e in self.stripe_events if gte <= e["created"] < lt and (not types or e["type"] in types)),
                            key=lambda e: (e["created"], e["id"]), reverse=True)
        if query.get("delivery_success") == ["false"]:
            events = [e for e in events if e["id"] not in self.delivered_ids]
        after = query.get("starting_after", [None])[0]
        if after:
            ids = [e["id"] for e in events]
            events = events[ids.index(after) + 1:] if after in ids else []
        return {"object": "list", "url": "/v1/events", "has_more": len(events) > limit, "data": events[:limit]}

    def _paypal_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        start, end = _epoch(query["start_time"][0]), _epoch(query["end_time"][0])
        size = min(int(query.get("page_size", ["10"])[0]), 300)
        offset = int(query.get("offset", ["0"])[0])
        with self._lock:
            events = sorted((e for e in self.paypal_events if start <= _epoch(e["create_time"]) <= end),
                            key=lambda e: (e["create_time"], e["id"]), reverse=True)
        page = events[offset:offset + size]
        links = []
        if offset + size < len(events):
            following = {**{k: v[0] for k, v in query.items()}, "offset": str(offset + size)}
            links.append({"href": f"{self.base}/v1/notifications/webhooks-events?{urlencode(following)}",
                          "rel": "next", "method": "GET"})
        return {"events": page, "count": len(page), "links": links}
