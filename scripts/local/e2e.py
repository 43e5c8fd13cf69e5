"""The platform, end to end, on this machine: start a local AWS emulator (moto server, loopback),
deploy the `local` stack with Terraform, set the provider secrets, start the vendors' webhook
receivers (HTTP servers on 127.0.0.1, the ports of the deployed endpoint configuration), send
signed Stripe and PayPal webhooks (with duplicates, reordered pairs, bad signatures, malformed and
oversized bodies) through the deployed wiring with the real handlers (scripts/local/runner/), run
the zero-loss scenarios, check that a new plan shows no changes, destroy, and end with a short
table of the run; every figure is in the report file it names (build/e2e/summary.json).

    .venv/bin/python -m scripts.local.e2e [--count 240] [--port 4566] [--keep] [--report PATH]

(from the repository root, or anywhere after `source scripts/env.sh`; run_local.sh runs it).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import boto3

from scripts.cost import capture as cost_capture
from scripts.local import deploy as local_deploy
from scripts.local import sample_webhooks, scenarios
from scripts.local.readback import archived_event_ids, count_prefix, drain_queue, event_id_of, ledger_rows
from scripts.local.runner import LocalPlatform
from scripts.ops import set_secrets as secrets_tool

ROOT = Path(__file__).resolve().parents[2]
#: The run's figures (the end-to-end test writes the same document): generated output, build/ is ignored.
REPORT = ROOT / "build" / "e2e" / "summary.json"

STRIPE_SECRET = "whsec_local_e2e_0123456789abcdef"
GATE_KEYS = {"stripe": "local-stripe-gate-key-9f8e7d", "paypal": "local-paypal-gate-key-1a2b3c"}
CURSOR_KEY = "local-e2e-query-cursor-key-0123456789abcdef"  # >= 32 characters
INTERNAL_KEY = "local-e2e-internal-envelope-key-0123456789"  # >= 32 characters


def vendor_ids() -> list[str]:
    from constructs.app.settings import LOCAL_VENDORS

    return list(LOCAL_VENDORS)


def create_capture_queues(endpoint_url: str) -> dict[str, str]:
    """The vendors' side: one queue per vendor, which the deployed SNS subscriptions deliver to."""
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    return {v: sqs.create_queue(QueueName=f"vendor-capture-{v}-local")["QueueUrl"] for v in vendor_ids()}


def set_secrets(platform: LocalPlatform, signer: sample_webhooks.PayPalSigner,
                signing: dict[str, str] | None = None) -> None:
    """The providers' signing secrets (default: the ones the samples are signed with) and gate keys,
    the query cursor key and the internal envelope key."""
    signing = signing or {"stripe": STRIPE_SECRET, "paypal": signer.webhook_id}
    sm = boto3.client("secretsmanager", endpoint_url=platform.endpoint_url, region_name="us-east-1")
    prefix = platform.environment("processor").get("SECRET_PREFIX", "payment-webhooks/local/")
    for provider in ("stripe", "paypal"):
        secrets_tool.set_provider_secrets(sm, prefix=prefix, provider=provider, signing=signing[provider],
                                  gate_key=GATE_KEYS[provider])
    # the reader's pagination key (the stack creates the secret; its value never passes through Terraform)
    secrets_tool.set_cursor_key(sm, prefix=prefix, key=CURSOR_KEY)
    # the key the validator signs direct payments with (a run sets it again: kept as current and previous)
    secrets_tool.set_internal_key(sm, prefix=prefix, key=INTERNAL_KEY, rotate=True)


def start_vendors(platform: LocalPlatform):
    """The vendors' webhook receivers, with the signing secrets the ops tool made (None when no
    vendor endpoint is deployed)."""
    return scenarios.start_vendors(platform) if platform.wiring.vendor_endpoints() else None


def zero_loss(platform: LocalPlatform, signer: sample_webhooks.PayPalSigner, vendors=None) -> dict:
    """The zero-loss scenarios (scripts/local/scenarios/) after the main run; with `vendors`
    (start_vendors) the vendor delivery scenario too."""
    context = scenarios.ScenarioContext(
        platform, stripe_secret=STRIPE_SECRET, paypal=signer, gate_keys=GATE_KEYS, vendors=vendor_ids(),
        set_secrets=lambda signing: set_secrets(platform, signer, signing), vendor_endpoints=vendors)
    return scenarios.run_all(context, correct_secrets={"stripe": STRIPE_SECRET, "paypal": signer.webhook_id})


def headline(summary: dict, zero: dict) -> dict:
    """The four figures of the zero-loss promise, for the whole run."""
    return {"lost": summary["lost"] + zero["lost"], "doubled": zero["doubled"],
            "innocent_in_dlq": zero["innocent_in_dlq"], "recovered_by_replay": zero["recovered_by_replay"],
            "recovered_by_reconciliation": zero["recovered_by_reconciliation"]}


def delivery_figures(platform: LocalPlatform, vendors, rows: list[dict]) -> dict:
    """What the vendors received against what they had to (every announcement of a kind an
    endpoint subscribes to, once: the ledger's state rows), duplicates they dropped by
    webhook-id, and order per payment."""
    expected = scenarios.expected_deliveries(platform, [r for r in rows if r.get("row_type", {}).get("S") == "state"])
    received = {e.endpoint_id: [(r.transaction_id, r.event_type, r.sequence) for r in e.delivered()] for e in vendors}
    return {
        "expected": {k: len(v) for k, v in expected.items()},
        "delivered": {k: len(v) for k, v in received.items()},
        "missing": {k: len(expected[k] - set(v)) for k, v in received.items()},
        "unexpected": {k: len(set(v) - expected[k]) for k, v in received.items()},
        "duplicates_seen_by_vendors": sum(e.duplicates() for e in vendors),
        "unverified": sum(e.unverified() for e in vendors),
        "out_of_order": scenarios.out_of_order(vendors),
    }


def run_scenario(platform: LocalPlatform, requests: list, capture_urls: dict[str, str], on_drained=None,
                 vendors=None) -> dict:
    """Send every request, drain the platform, and account for every request. The emulator's
    FIFO deduplication window is AWS's (5 minutes): duplicates and forged copies reach the
    processor because the queue deduplicates on the API Gateway request id, never the body.
    With `vendors` (start_vendors), also what each vendor endpoint received."""
    from moto.sqs import models

    assert models.DEDUPLICATION_TIME_IN_SECONDS == 300, "the FIFO dedup window must be AWS's 5 minutes"
    started = time.perf_counter()
    statuses: collections.Counter[int] = collections.Counter()
    outcome = collections.defaultdict(list)
    for request in requests:
        result = platform.http("POST", request.path, headers=request.headers, query=request.query,
                               body=request.body, received_at_ms=request.received_at_ms)
        statuses[result.status] += 1
        outcome[result.status].append(request)
    platform.drain()
    elapsed = time.perf_counter() - started
    if on_drained is not None:
        on_drained()
    w = platform.wiring
    sqs = boto3.client("sqs", endpoint_url=platform.endpoint_url, region_name="us-east-1")
    rows = ledger_rows(platform.endpoint_url, w.table_name)
    events = [r for r in rows if r.get("row_type", {}).get("S") == "event"]
    states = {r["transaction_id"]["S"]: r for r in rows if r.get("row_type", {}).get("S") == "state"}
    event_ids = [event_id_of(r) for r in events]
    archived = archived_event_ids(platform.endpoint_url, w.bucket) if w.bucket else []
    notifications = {}
    for vendor, url in capture_urls.items():
        notifications[vendor] = [json.loads(m["Body"]) for m in drain_queue(sqs, url)]
    expected_valid = {r.expect.event_id: r for r in requests if r.expect.kind == "valid"}
    lost = sorted(set(expected_valid) - set(event_ids))
    deliveries = delivery_figures(platform, vendors, rows) if vendors is not None else {}
    return {
        "sent": len(requests),
        "http_status": dict(sorted(statuses.items())),
        "accepted": statuses.get(200, 0),
        "rejected_by_reason": {k.split("=", 1)[1].rstrip("]"): v for k, v in platform.metrics.items()
                               if k.startswith("WebhookRejected[")},
        "waf_blocked": sum(v for k, v in platform.metrics.items() if k.startswith("WafBlocked")),
        "duplicates": sum(v for k, v in platform.metrics.items() if k.startswith("DuplicateWebhook")),
        "successful_transactions": sum(v for k, v in platform.metrics.items() if k.startswith("SuccessfulTransactions")),
        "ledger_event_rows": len(events),
        "ledger_state_rows": len(states),
        "doubled": len(event_ids) - len(set(event_ids)),
        "archived_payloads": len(archived),
        "quarantined": count_prefix(platform.endpoint_url, w.bucket, "quarantine/") if w.bucket else 0,
        "notifications": {v: len(n) for v, n in notifications.items()},
        "vendor_deliveries": deliveries,
        "api_calls_per_delivery": api_calls_per_delivery(platform, sum(deliveries.get("delivered", {}).values())),
        "dlq_depths": platform.dead_letter_depths(),
        "lost": len(lost),
        "lost_event_ids": lost[:10],
        "seconds": round(elapsed, 2),
        "webhooks_per_second": round(len(requests) / elapsed, 1) if elapsed else 0.0,
        "_states": states,
        "_notifications": notifications,
        "_archived": archived,
        "_event_ids": event_ids,
        "_outcome": outcome,
    }


def api_calls_per_delivery(platform: LocalPlatform, deliveries: int) -> dict:
    """AWS calls of the delivery functions and their event sources so far, per delivery."""
    if not deliveries:
        return {}
    totals: collections.Counter[str] = collections.Counter()
    for counter in (platform.handler_calls, platform.platform_calls):
        for function in ("delivery_fanout", "delivery_sender"):
            totals.update(counter.by_caller.get(function, {}))
    return {k: round(v / deliveries, 2) for k, v in sorted(totals.items())}


def api_calls_per_webhook(platform: LocalPlatform, webhooks: int) -> dict:
    per = lambda counts: {k: round(v / webhooks, 2) for k, v in counts.items()}  # noqa: E731
    return {"handlers": per(platform.handler_calls.by_service()), "platform": per(platform.platform_calls.by_service())}


def report(summary: dict, zero: dict, **more: object) -> dict:
    """Every figure of a run, as JSON: the main run, the zero-loss scenarios, their headline, and `more`
    (API calls per webhook, the plan after the deploy, the stages' seconds)."""
    return {"summary": {k: v for k, v in summary.items() if not k.startswith("_")}, "zero_loss": zero,
            "headline": headline(summary, zero), **more}


def save_report(document: dict, path: Path = REPORT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def duration(seconds: float) -> str:
    """`31.5 s` under a minute, else whole seconds: `1 min 37 s`."""
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def summary_table(summary: dict, zero: dict, stages: dict[str, float]) -> str:
    """The run for a person: requests, recorded, duplicates, quarantined, notified, delivered, lost,
    doubled and time, each with what it counts; `stages` are the seconds of deploy, webhooks, ..."""
    figures = headline(summary, zero)
    lifecycle = zero["lifecycle"]
    statuses = summary["http_status"]
    refused = sum(v for k, v in statuses.items() if int(k) != 200)
    deliveries = summary.get("vendor_deliveries") or {}
    delivered = sum(deliveries.get("delivered", {}).values())
    missing = sum(deliveries.get("missing", {}).values()) + sum(deliveries.get("unexpected", {}).values())
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejected_by_reason"].items())) or "none"
    valid = summary["ledger_event_rows"] + summary["lost"]
    rows = [
        ("requests", summary["sent"], f"{statuses.get(200, statuses.get('200', 0))} answered 200, {refused} refused "
                                      f"(the WAF's body limit: {summary['waf_blocked']})"),
        ("recorded", summary["ledger_event_rows"], f"ledger events, of {valid} valid webhooks; archived "
                                                   f"{summary['archived_payloads']}"),
        ("duplicates", summary["duplicates"], "acknowledged, not recorded again"),
        ("quarantined", summary["quarantined"], reasons),
        ("notified", sum(summary["notifications"].values()), "SNS notifications in the vendors' capture queues"),
        ("delivered", delivered, f"signed vendor webhooks; missing or unexpected {missing}, out of order "
                                 f"{deliveries.get('out_of_order', 0)}" if deliveries else "no vendor endpoint deployed"),
        ("lost", figures["lost"], f"main run {summary['lost']}, zero-loss scenarios {zero['lost']}"),
        ("doubled", summary["doubled"] + figures["doubled"], f"main run {summary['doubled']}, "
                                                             f"zero-loss scenarios {figures['doubled']}"),
        ("forged", zero["forged_recorded"], "forged or tampered inbound messages recorded (the inbound scenario)"),
        ("lifecycle", lifecycle["payments"], f"payments refunded and disputed ({lifecycle['out_of_order']} refund first): "
                                             f"wrong totals {lifecycle['wrong_totals']}, vendor order violations "
                                             f"{lifecycle['vendor_order_violations']}"),
        ("time", duration(sum(stages.values())), ", ".join(f"{name} {duration(s)}" for name, s in stages.items())),
    ]
    width = max(len(str(value)) for _, value, _ in rows)
    lines = [f"  {name:<12} {str(value):>{width}}   {note}" for name, value, note in rows]
    scenarios = ", ".join(name for name, value in zero.items() if isinstance(value, dict))
    poison = zero.get("poison", {})
    lines.append(f"  zero-loss scenarios ({scenarios}): innocent messages in a DLQ {figures['innocent_in_dlq']}, "
                 f"recovered by the quarantine replay {figures['recovered_by_replay']}, recovered by "
                 f"reconciliation {figures['recovered_by_reconciliation']}, parked by redrive "
                 f"{poison.get('parked', 0)} (recovered {poison.get('recovered_from_parked', 0)})")
    return "\n".join(lines)


def failed(summary: dict, zero: dict) -> bool:
    """Whether the run broke the promise: anything lost, doubled, innocent in a DLQ, undelivered, a
    forged message recorded, a payment with wrong totals or told to its vendor out of order."""
    figures = headline(summary, zero)
    deliveries = summary.get("vendor_deliveries") or {}
    undelivered = sum(deliveries.get("missing", {}).values()) + sum(deliveries.get("unexpected", {}).values())
    lifecycle = zero["lifecycle"]
    return bool(figures["lost"] or figures["doubled"] or summary["doubled"] or figures["innocent_in_dlq"] or undelivered
                or zero["forged_recorded"] or lifecycle["wrong_totals"] or lifecycle["vendor_order_violations"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.local.e2e",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=240, help="signed webhooks of the main run (default: 240)")
    parser.add_argument("--port", type=int, default=4566, help="the emulator's port on 127.0.0.1 (default: 4566)")
    parser.add_argument("--keep", action="store_true", help="leave the stack deployed and the emulator running")
    parser.add_argument("--cost-json", default=str(cost_capture.DEFAULT_PATH),
                        help="where to save the calls and sizes of the main run (python -m scripts.cost reads it)")
    parser.add_argument("--report", type=Path, default=REPORT,
                        help=f"where to write every figure of the run as JSON (default: {REPORT.relative_to(ROOT)})")
    options = parser.parse_args()
    stages: dict[str, float] = {}
    with local_deploy.LocalEmulator(options.port) as emulator, tempfile.TemporaryDirectory() as scratch:
        # --keep deploys into cdktf.out, where `cdktf diff/output/destroy local` find the stack and its state
        work = ROOT / "cdktf.out" if options.keep else Path(scratch)
        capture_urls: dict[str, str] = {}
        started = time.perf_counter()
        deployment = local_deploy.deploy(
            emulator.endpoint_url, work,
            prepare=lambda: capture_urls.update(create_capture_queues(emulator.endpoint_url)))
        stages["deploy"] = time.perf_counter() - started
        print(f"deployed {len(deployment.resources())} resources to {emulator.endpoint_url} "
              f"in {deployment.apply_seconds:.1f} s")
        signer = sample_webhooks.PayPalSigner()
        platform = LocalPlatform(deployment.state, emulator.endpoint_url, paypal_fetch=signer.fetch,
                                 paypal_trust_store=signer.trust_store_path)
        set_secrets(platform, signer)
        vendors = start_vendors(platform)
        requests = sample_webhooks.scenario(count=options.count, stripe_secret=STRIPE_SECRET, paypal=signer,
                                            gate_keys=GATE_KEYS, vendors=vendor_ids())
        capture = cost_capture.CostCapture(platform)
        local_deploy.stage(f"{len(requests)} signed webhooks through the deployed platform")
        summary = run_scenario(platform, requests, capture_urls, on_drained=capture.stop, vendors=vendors)
        stages["webhooks"] = summary["seconds"]
        capture.finish(emulator.endpoint_url, platform.wiring.table_name)
        print(f"calls and sizes of the main run saved to {capture.save(len(requests), Path(options.cost_json))}")
        local_deploy.stage("zero-loss scenarios (scripts/local/scenarios/)")
        started = time.perf_counter()
        zero = zero_loss(platform, signer, vendors)
        stages["scenarios"] = time.perf_counter() - started
        started = time.perf_counter()
        changes = deployment.plan_changes()
        stages["plan"] = time.perf_counter() - started
        print(f"plan after deploy: {'no changes' if not changes else changes}")
        document = report(summary, zero, api_calls_per_webhook=api_calls_per_webhook(platform, len(requests)),
                          plan_after_deploy=changes, stages=stages)
        if options.keep:
            print(summary_table(summary, zero, stages))
            print(f"every figure: {save_report(document, options.report)}")
            print(f"kept: emulator at {emulator.endpoint_url}, state in {deployment.workdir.relative_to(ROOT)}; "
                  f"in another shell: source scripts/env.sh && export PAYMENTS_LOCAL_ENDPOINT={emulator.endpoint_url} "
                  f"&& cdktf diff local (ops: python -m scripts.ops --env local ...); Ctrl-C to stop")
            while True:
                time.sleep(3600)
        if vendors is not None:
            vendors.stop()
        started = time.perf_counter()
        deployment.destroy()
        stages["destroy"] = time.perf_counter() - started
        print("destroyed")
        print(summary_table(summary, zero, stages))
        print(f"every figure: {save_report(document | {'stages': stages}, options.report)}")
        if failed(summary, zero):
            sys.exit(1)


if __name__ == "__main__":
    main()
