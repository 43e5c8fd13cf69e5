"""The providers' events APIs, one page at a time, over the egress guard (:mod:`paycore.egress`).

* Stripe: ``GET /v1/events`` through the official ``stripe`` library (``created[gte]``/``[lt]``,
  ``types[]`` = the types the stripe provider records, ``limit`` 100, ``starting_after``), with a
  restricted key allowed to read events only. Stripe keeps events 30 days ("List all events ...
  for events going back 30 days", Stripe API reference, Events).
* PayPal: ``POST /v1/oauth2/token`` (client credentials), then ``GET
  /v1/notifications/webhooks-events`` with ``start_time``/``end_time`` and ``page_size``, following
  the page's ``links`` ``rel: next`` (PayPal Webhooks Management API v1, "List event
  notifications"). How long PayPal keeps them is not stated in its API reference or the Webhooks
  Events dashboard page (searched); the reconciler asks only for its own window plus the lookback,
  and a manual backfill further back finds what PayPal still lists.

Both lists are newest first; a page is ``(events, cursor of the next page or None)``. A failed call
raises :class:`SourceError` with the HTTP status (0: no answer) and the ``Retry-After`` seconds.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from paycore import egress

#: Bytes of one API answer read at most (a Stripe page of 100 events is a few hundred KB).
MAX_ANSWER_BYTES = 16 * 1024 * 1024
STRIPE_PAGE = 100
PAYPAL_PAGE = 300  # PayPal's page_size maximum
#: Days back an events API lists (None: not documented by the provider).
RETENTION_DAYS: dict[str, int | None] = {"stripe": 30, "paypal": None}


class SourceError(Exception):
    """A call to the provider's API failed: ``status`` (0: no answer), ``retry_after`` seconds
    (None: not given). 429, 5xx and no answer are transient; anything else (401, 403...) is not."""

    def __init__(self, status: int, retry_after: float | None = None, detail: str = ""):
        super().__init__(f"provider API answered {status or 'nothing'}{': ' + detail if detail else ''}")
        self.status, self.retry_after = status, retry_after

    @property
    def transient(self) -> bool:
        return self.status in (0, 429) or self.status >= 500

    @property
    def reason(self) -> str:
        return {0: "unreachable", 401: "unauthorized", 403: "forbidden", 429: "rate_limited"}.get(
            self.status, "server_error" if self.status >= 500 else "rejected")


class Page(NamedTuple):
    events: list[tuple[str, bytes]]  # (event id, the event's JSON as the webhook body)
    cursor: str | None  # the next page, None: the last


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def call(method: str, url: str, headers: Mapping[str, str], body: bytes | None = None, *, allow_loopback_http: bool,
         timeout_seconds: float = 20.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP call to a public address (loopback http only in the local environment): status,
    headers, body. :class:`SourceError` (status 0) when it cannot be made or answered."""
    try:
        scheme, host, port, address, path = egress.check_target(url, allow_loopback_http=allow_loopback_http)
    except egress.RefusedTarget as refused:
        raise SourceError(0, detail=f"refused target: {refused}") from None
    # one deadline for connect, TLS, send and the whole answer (paycore.egress)
    connection = egress._PinnedConnection(address, port, server_hostname=host if scheme == "https" else None,
                                          deadline=egress.Deadline(timeout_seconds), context=ssl.create_default_context())
    deadline = time.monotonic() + timeout_seconds
    try:
        connection.putrequest(method.upper(), path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if port in (80, 443) else f"{host}:{port}")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body or b"")
        response = connection.getresponse()
        chunks, size = [], 0
        while (chunk := response.read(65_536)):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                raise SourceError(0, detail="answer too large or too slow")
            chunks.append(chunk)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, b"".join(chunks)
    except (OSError, http.client.HTTPException, socket.timeout) as failed:
        raise SourceError(0, detail=type(failed).__name__) from None
    finally:
        connection.close()


def _stripe_http_client(allow_loopback_http: bool) -> Any:
    import stripe

    class GuardedClient(stripe.HTTPClient):
        """The stripe library's transport, through the egress guard."""

        name = "paycore.egress"

        def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                    *, _usage: Any = None) -> tuple[str, int, Mapping[str, str]]:
            data = post_data.encode() if isinstance(post_data, str) else post_data
            status, answer_headers, body = call(method, url, dict(headers or {}), data,
                                                allow_loopback_http=allow_loopback_http)
            return body.decode("utf-8", "replace"), status, answer_headers

        def close(self) -> None:
            pass

    return GuardedClient()


class StripeSource:
    provider = "stripe"

    def __init__(self, api_key: str, *, types: Sequence[str], api_base: str | None = None,
                 allow_loopback_http: bool = False, only_undelivered: bool = False):
        import stripe

        self.types = list(types)
        # delivery_success=false: only events "still pending or [that] have failed all delivery
        # attempts to a webhook endpoint" (Stripe API reference, List all events) - what a
        # scheduled run looks for, a sliver of the traffic instead of all of it
        self.only_undelivered = only_undelivered
        self.client = stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else None,
                                          http_client=_stripe_http_client(allow_loopback_http), max_network_retries=0)

    def page(self, *, start: int, end: int, cursor: str | None) -> Page:
        import stripe

        params: dict[str, Any] = {"created": {"gte": start, "lt": end}, "types": self.types, "limit": STRIPE_PAGE}
        if cursor:
            params["starting_after"] = cursor
        if self.only_undelivered:
            params["delivery_success"] = False
        try:
            listed = self.client.v1.events.list(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as failed:
            raise SourceError(failed.http_status or 0, retry_after(failed.headers), type(failed).__name__) from None
        answer = json.loads(listed.last_response.body if listed.last_response else "{}")  # as Stripe sent them
        events = [(str(item["id"]), json.dumps(item, separators=(",", ":")).encode()) for item in answer["data"]]
        return Page(events, events[-1][0] if answer.get("has_more") and events else None)


class PayPalSource:
    provider = "paypal"

    def __init__(self, client_id: str, client_secret: str, *, api_base: str, allow_loopback_http: bool = False):
        self.api_base = api_base.rstrip("/")
        self.credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self.loopback = allow_loopback_http
        self.token: str | None = None

    def _get(self, url: str) -> Any:
        if not url.startswith(self.api_base + "/"):  # a next link elsewhere is not followed
            raise SourceError(0, detail="next link off the API host")
        if self.token is None:
            status, headers, body = call("POST", f"{self.api_base}/v1/oauth2/token", {
                "Authorization": f"Basic {self.credentials}", "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json"}, b"grant_type=client_credentials", allow_loopback_http=self.loopback)
            if status != 200:
                raise SourceError(status, retry_after(headers), "oauth2 token")
            self.token = str(json.loads(body)["access_token"])
        status, headers, body = call("GET", url, {"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
                                     allow_loopback_http=self.loopback)
        if status == 401:
            self.token = None  # expired: the next attempt asks for another
        if status != 200:
            raise SourceError(status, retry_after(headers), "webhooks-events")
        return json.loads(body)

    def page(self, *, start: int, end: int, cursor: str | None) -> Page:
        query = urllib.parse.urlencode({"page_size": PAYPAL_PAGE, "start_time": _iso(start), "end_time": _iso(end)})
        answer = self._get(cursor or f"{self.api_base}/v1/notifications/webhooks-events?{query}")
        events = [(str(item["id"]), json.dumps(item, separators=(",", ":")).encode()) for item in answer.get("events", [])]
        nexts = [link.get("href") for link in answer.get("links", []) if link.get("rel") == "next"]
        return Page(events, str(nexts[0]) if nexts and events else None)


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def stripe_types() -> list[str]:
    """The Stripe event types the stripe provider records (what ``types[]`` asks for)."""
    from paycore.providers import stripe as module

    return sorted(set(module.EVENT_STATUS) | set(getattr(module, "LIFECYCLE_OBJECT", {})))
