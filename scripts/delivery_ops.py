#!/usr/bin/env python3
"""Vendor delivery operations: list deliveries, resend, recover since T, pause/resume/disable/enable
an endpoint, release its parked messages, create/rotate its signing secret. Every change has ``--dry-run`` and prints counts as
JSON; nothing prints a payload, and a new secret is written only to ``--out`` (mode 600).

    python scripts/delivery_ops.py --env dev list --transaction pi_123
    python scripts/delivery_ops.py --env dev list --vendor vendor-1 --since 2026-11-28T00:00:00Z
    python scripts/delivery_ops.py --env dev attempts msg_...
    python scripts/delivery_ops.py --env dev resend msg_... [--dry-run]
    python scripts/delivery_ops.py --env dev recover --endpoint ep-v1-main --since 2026-11-28T00:00:00Z [--dry-run]
    python scripts/delivery_ops.py --env dev pause|resume|disable|enable|release --endpoint ep-v1-main [--dry-run]
    python scripts/delivery_ops.py --env dev secret create|rotate --endpoint ep-v1-main --out secret.txt [--grace-hours 24]

Names come from the environment's settings (``Settings.delivery_names``, what the stack deploys):
table ``deliveries-{env}``, queue ``deliveries-{env}.fifo``, secrets
``payment-webhooks/{env}/vendors/{endpoint}/signing``; the endpoint configuration comes from
``--endpoints-file``, else ``DELIVERY_ENDPOINTS``, else the SSM parameter
``/payments/{env}/delivery-endpoints``. ``AWS_ENDPOINT_URL`` points it at the emulator; ``scripts/ops.py
deliveries ...`` runs it with the environment's region and emulator endpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]

import boto3  # noqa: E402

from paycore import delivery  # noqa: E402
from paycore.delivery_ops import DeliveryOps, OpsError  # noqa: E402
from paycore.delivery_store import DeliveryStore  # noqa: E402


def endpoints_document(args: argparse.Namespace, ssm: Any, parameter_name: str) -> str:
    if args.endpoints_file:
        return Path(args.endpoints_file).read_text()
    if os.environ.get("DELIVERY_ENDPOINTS"):
        return os.environ["DELIVERY_ENDPOINTS"]
    return ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]


def environment_settings(env: str) -> Any:
    """The environment's settings (cdktf.json): the deployed names and whether loopback is allowed."""
    from constructs.app.environments import load_settings
    from constructs.app.settings import SettingsError

    try:
        return load_settings(env)
    except SettingsError as exc:
        raise OpsError(str(exc)) from None


def build(args: argparse.Namespace, client: Callable[[str], Any] = boto3.client) -> DeliveryOps:
    """`client(service)`: a boto3 client factory (ops.py passes one bound to the environment's region)."""
    settings = environment_settings(args.env)
    names = settings.delivery_names
    sqs, ssm = client("sqs"), client("ssm")
    raw = endpoints_document(args, ssm, names.endpoints_parameter)
    endpoints = delivery.parse_endpoints(json.loads(raw), allow_loopback_http=settings.emulator)
    return DeliveryOps(
        store=DeliveryStore(client("dynamodb"), names.table),
        sqs=sqs,
        queue_url=sqs.get_queue_url(QueueName=names.queue)["QueueUrl"],
        endpoints=endpoints,
        secrets=client("secretsmanager"),
        secret_prefix=names.secret_prefix,
        kms_key_id=os.environ.get("DELIVERY_SECRETS_KMS_KEY_ID") or None,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True)
    p.add_argument("--endpoints-file")
    sub = p.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list")
    which = listing.add_mutually_exclusive_group(required=True)
    which.add_argument("--transaction")
    which.add_argument("--vendor")
    which.add_argument("--endpoint")
    listing.add_argument("--since", default="")
    listing.add_argument("--limit", type=int)
    sub.add_parser("attempts").add_argument("message_id")
    resend = sub.add_parser("resend")
    resend.add_argument("message_id")
    resend.add_argument("--dry-run", action="store_true")
    recover = sub.add_parser("recover")
    recover.add_argument("--endpoint", required=True)
    recover.add_argument("--since", required=True, help="ISO-8601 UTC, e.g. 2026-11-28T00:00:00Z")
    recover.add_argument("--dry-run", action="store_true")
    for action in ("pause", "resume", "disable", "enable", "release"):
        state = sub.add_parser(action)
        state.add_argument("--endpoint", required=True)
        state.add_argument("--dry-run", action="store_true")
    secret = sub.add_parser("secret")
    secret.add_argument("action", choices=["create", "rotate"])
    secret.add_argument("--endpoint", required=True)
    secret.add_argument("--out", help="file that receives the new secret (created with mode 600)")
    secret.add_argument("--grace-hours", type=float, default=24.0)
    secret.add_argument("--dry-run", action="store_true")
    return p


def run(args: argparse.Namespace, ops: DeliveryOps) -> dict[str, Any]:
    if args.command == "list":
        if args.transaction:
            items = ops.list_transaction(args.transaction)
        elif args.vendor:
            items = ops.list_vendor(args.vendor, args.since, args.limit)
        else:
            items = ops.list_endpoint(args.endpoint, args.since, args.limit)
        by_state: dict[str, int] = {}
        for item in items:
            by_state[item.get("state", "?")] = by_state.get(item.get("state", "?"), 0) + 1
        return {"count": len(items), "by_state": by_state, "items": items}
    if args.command == "attempts":
        return {"attempts": ops.attempts(args.message_id)}
    if args.command == "resend":
        return ops.resend(args.message_id, dry_run=args.dry_run)
    if args.command == "recover":
        return ops.recover(args.endpoint, args.since, dry_run=args.dry_run)
    if args.command == "release":
        return ops.release(args.endpoint, dry_run=args.dry_run)
    if args.command in ("pause", "resume", "disable", "enable"):
        return ops.set_state(args.endpoint, args.command, dry_run=args.dry_run)
    if not args.dry_run and not args.out:
        raise OpsError("--out FILE is required: the new secret is written there, never printed")
    if args.action == "create":
        result = ops.create_secret(args.endpoint, dry_run=args.dry_run)
    else:
        result = ops.rotate_secret(args.endpoint, grace_seconds=int(args.grace_hours * 3600), dry_run=args.dry_run)
    value = result.pop("secret", None)
    if value:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        result["written_to"] = args.out
    return result


def main(argv: list[str] | None = None, ops: DeliveryOps | None = None,
         client: Callable[[str], Any] = boto3.client) -> int:
    args = parser().parse_args(argv)
    try:
        result = run(args, ops or build(args, client))
    except (OpsError, delivery.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
