"""The vendors' side of the delivery scenario and of the end-to-end run: their webhook receivers,
with the signing secrets the ops tool creates, and what they had to receive."""
from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from scripts.local.runner import LocalPlatform
from scripts.local.runner.vendors import Vendors
from scripts.local.scenarios.context import fresh_tool


def delivery_ops(platform: LocalPlatform, *argv: str) -> dict:
    """``python -m scripts.ops.delivery_ops --env local ARGV`` against the emulator, as an operator runs it
    (AWS_ENDPOINT_URL and fake credentials from the sender's environment); its JSON answer."""
    out = io.StringIO()
    with platform.env_for("delivery_sender"), contextlib.redirect_stdout(out):
        status = fresh_tool("delivery_ops").main(["--env", "local", *argv])
    if status != 0:
        raise RuntimeError(f"delivery_ops {' '.join(argv)} exited {status}")
    return json.loads(out.getvalue())


def start_vendors(platform: LocalPlatform) -> Vendors:
    """The vendors of the deployed endpoint configuration, each listening on the port its URL
    names, verifying with the secret ``delivery_ops secret create`` made for its endpoint."""
    vendors = Vendors({endpoint_id: e["url"] for endpoint_id, e in platform.wiring.vendor_endpoints().items()})
    with tempfile.TemporaryDirectory() as folder:
        for endpoint in vendors:
            out = Path(folder) / f"{endpoint.endpoint_id}.secret"
            delivery_ops(platform, "secret", "create", "--endpoint", endpoint.endpoint_id, "--out", str(out))
            endpoint.secret = out.read_text().strip()
    return vendors.start()


def expected_deliveries(platform: LocalPlatform, state_rows: list[dict]) -> dict[str, set[tuple[str, str, int]]]:
    """Per endpoint, the (transaction, event type, sequence) it must receive: every announcement of
    a payment (its state row keeps the last ones: paycore.lifecycle.WINDOW) of a kind the vendor's
    endpoint subscribes to, when the pipe puts that kind on the bus."""
    from paycore.ledger import deserialize

    routed = platform.wiring.routed_statuses()
    endpoints = platform.wiring.vendor_endpoints()
    expected: dict[str, set[tuple[str, str, int]]] = {endpoint_id: set() for endpoint_id in endpoints}
    for row in state_rows:
        state = deserialize(row)
        vendor = state.get("vendor_id", "")
        for announcement in state.get("announcements") or []:
            kind, seq = announcement["kind"], int(announcement["seq"])
            if routed is not None and kind not in routed:
                continue
            for endpoint_id, endpoint in endpoints.items():
                if endpoint["vendor_id"] == vendor and f"payment.{kind}" in endpoint["event_types"]:
                    expected[endpoint_id].add((state["transaction_id"], f"payment.{kind}", seq))
    return expected


def out_of_order(vendors: Vendors) -> int:
    """Deliveries that reached a vendor after a later announcement of the same payment (a lower
    sequence than one it already had)."""
    late = 0
    for endpoint in vendors:
        highest: dict[str, int] = {}
        for received in endpoint.delivered():
            late += received.sequence < highest.get(received.transaction_id, 0)
            highest[received.transaction_id] = max(received.sequence, highest.get(received.transaction_id, 0))
    return late
