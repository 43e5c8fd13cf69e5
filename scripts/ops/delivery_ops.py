"""`deliveries`: vendor delivery operations: list deliveries, their attempts, resend one, recover an
endpoint's failed ones since T, pause/resume/disable/enable an endpoint, release its parked
messages, create/rotate its signing secret. Every change has ``--dry-run`` (checks everything the
change checks, prints what it would do, changes nothing) and prints counts as JSON; nothing prints
a payload, and a new secret is written only to ``--out`` (mode 600).

    python -m scripts.ops --env dev deliveries list --transaction pi_123
    python -m scripts.ops --env dev deliveries list --vendor vendor-1 --since 2026-11-28T00:00:00Z
    python -m scripts.ops --env dev deliveries attempts msg_...
    python -m scripts.ops --env dev deliveries resend msg_... [--dry-run]
    python -m scripts.ops --env dev deliveries recover --endpoint ep-v1-main --since 2026-11-28T00:00:00Z [--dry-run]
    python -m scripts.ops --env dev deliveries pause|resume|disable|enable|release --endpoint ep-v1-main [--dry-run]
    python -m scripts.ops --env dev deliveries secret create|rotate --endpoint ep-v1-main --out secret.txt [--grace-hours 24]

Names come from ``constructs/app/names.py`` (what the stack deploys): table ``deliveries-{env}``,
queue ``deliveries-{env}.fifo``, secrets ``payment-webhooks/{env}/vendors/{endpoint}/signing``; the
endpoint configuration from ``--endpoints-file``, else ``DELIVERY_ENDPOINTS``, else the SSM
parameter ``/payments/{env}/delivery-endpoints``. ``python -m scripts.ops.delivery_ops --env ENV
ACTION ...`` is the same command on the caller's AWS settings (``AWS_ENDPOINT_URL``, credentials):
the local scenarios run it as the delivery sender's environment does.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

import boto3

from paycore import delivery
from paycore.delivery_ops import DeliveryOps, OpsError
from paycore.delivery_store import DeliveryStore
from scripts.ops.command import (
    Command, OpsParser, Targets, UsageError, choice, not_deployed, one_line, outcome, positive, progress,
    read_text, time_ms, writable_file,
)

#: The commands on an endpoint's state, and `release`: (their line in --help, their description).
STATE_COMMANDS = {
    "pause": ("hold an endpoint's deliveries (they wait, nothing is lost)",
              "hold the endpoint's messages in the queue, no attempt counted; past ~13 days (a day before "
              "the queue's 14-day retention) they are parked in the deliveries table instead"),
    "resume": ("deliver again to a paused endpoint",
               "end a pause; the messages parked meanwhile are released, oldest first"),
    "disable": ("stop delivering to an endpoint (what comes meanwhile fails; recover later)",
                "stop delivering to the endpoint: its messages fail (endpoint_disabled) as they come, "
                "`recover` re-sends them after `enable`"),
    "enable": ("deliver again to a disabled endpoint",
               "deliver again after a disable; the messages parked meanwhile are released, oldest first "
               "(`recover` re-sends the failed ones)"),
    "release": ("re-send an endpoint's parked messages, oldest first",
                "re-send the endpoint's parked messages (taken out of the queue before its retention ran "
                "out), oldest first, into their payments' groups; only while the endpoint can deliver "
                "(otherwise it says why and sends nothing). New messages of the endpoint wait behind them"),
}


def endpoints_document(endpoints_file: str | None, targets: Targets) -> tuple[str, str]:
    """(the endpoint configuration's JSON text, where it came from)."""
    if endpoints_file:
        return read_text(endpoints_file, "--endpoints-file"), f"--endpoints-file {endpoints_file}"
    if os.environ.get("DELIVERY_ENDPOINTS"):
        return os.environ["DELIVERY_ENDPOINTS"], "DELIVERY_ENDPOINTS"
    name = targets.names.delivery_endpoints_parameter
    ssm = targets.client("ssm")
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"], f"parameter {name}"
    except ssm.exceptions.ParameterNotFound:
        raise not_deployed(targets, f"parameter {name}") from None


def build(targets: Targets, endpoints_file: str | None = None) -> DeliveryOps:
    """The delivery operations on the environment's table, queue, secrets and endpoint configuration
    (each checked, read-only)."""
    names = targets.names
    text, source = endpoints_document(endpoints_file, targets)
    try:
        endpoints = delivery.parse_endpoints(json.loads(text), allow_loopback_http=bool(targets.settings.emulator))
    except json.JSONDecodeError as problem:
        raise UsageError(f"{source}: not JSON ({problem})") from None
    except delivery.ConfigError as problem:
        raise UsageError(f"{source}: {one_line(problem)}") from None
    sqs, ddb = targets.client("sqs"), targets.client("dynamodb")
    try:
        ddb.describe_table(TableName=names.deliveries_table)
    except ddb.exceptions.ResourceNotFoundException:
        raise not_deployed(targets, f"table {names.deliveries_table}") from None
    try:
        queue = sqs.get_queue_url(QueueName=names.deliveries_queue)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise not_deployed(targets, f"queue {names.deliveries_queue}") from None
    return DeliveryOps(
        store=DeliveryStore(ddb, names.deliveries_table), sqs=sqs, queue_url=queue, endpoints=endpoints,
        secrets=targets.client("secretsmanager"), secret_prefix=names.secret_prefix,
        kms_key_id=os.environ.get("DELIVERY_SECRETS_KMS_KEY_ID") or None, progress=progress,
    )


def grace_hours(text: str) -> float:
    """argparse type: hours >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of hours >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of hours >= 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoints-file", metavar="FILE",
                        help="the vendor endpoint configuration (JSON) to use instead of the deployed one "
                             "(default: DELIVERY_ENDPOINTS, else the SSM parameter /payments/{env}/delivery-endpoints)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True, title="actions")
    endpoint_help = "the vendor endpoint's id (the endpoint configuration's endpoints[].id)"
    dry_run_help = "check everything the change checks and print what it would do; change nothing"

    listing = actions.add_parser("list", help="list deliveries of a transaction, a vendor or an endpoint, with counts",
                                 description="List deliveries (no payloads), with the count per state.")
    which = listing.add_mutually_exclusive_group(required=True)
    which.add_argument("--transaction", metavar="ID", help="the deliveries of this transaction (payment) id")
    which.add_argument("--vendor", metavar="ID", help="the deliveries to every endpoint of this vendor")
    which.add_argument("--endpoint", metavar="ID", help=f"the deliveries to this endpoint: {endpoint_help}")
    listing.add_argument("--since", metavar="TIME",
                         help="only deliveries created at or after TIME (ISO-8601, UTC without an offset)")
    listing.add_argument("--limit", type=positive, metavar="N", help="at most N deliveries")

    attempts = actions.add_parser("attempts", help="the attempts of one delivery (time, status code, latency)",
                                  description="The delivery attempts of one message, oldest first.")
    attempts.add_argument("message_id", metavar="MESSAGE_ID", help="the delivery's message id (msg_..., from list)")

    resend = actions.add_parser("resend", help="send one delivery again (same webhook-id and body, fresh retries)",
                                description="Send a delivered, exhausted or failed message again with its "
                                            "webhook-id and body and a fresh retry schedule (a pending message is "
                                            "the queue's; a parked one is sent by release, in order).")
    resend.add_argument("message_id", metavar="MESSAGE_ID", help="the delivery's message id (msg_..., from list)")
    resend.add_argument("--dry-run", action="store_true", help=dry_run_help)

    recover = actions.add_parser("recover", help="resend an endpoint's exhausted and failed deliveries since a time, "
                                                 "and release its parked ones",
                                 description="Resend every exhausted or failed delivery of an endpoint created since "
                                             "TIME, and release all its parked messages, oldest first, in order per "
                                             "payment.")
    recover.add_argument("--endpoint", required=True, metavar="ID", help=endpoint_help)
    recover.add_argument("--since", required=True, metavar="TIME",
                         help="deliveries created at or after TIME (ISO-8601, UTC without an offset)")
    recover.add_argument("--dry-run", action="store_true", help=dry_run_help)

    for action, (summary, text) in STATE_COMMANDS.items():
        state = actions.add_parser(action, help=summary, description=text[0].upper() + text[1:] + ".")
        state.add_argument("--endpoint", required=True, metavar="ID", help=endpoint_help)
        state.add_argument("--dry-run", action="store_true", help=dry_run_help)

    secret = actions.add_parser("secret", help="create or rotate an endpoint's signing secret (written to --out only)",
                                description="Create an endpoint's signing secret, or rotate it (the old one keeps "
                                            "signing beside the new one for --grace-hours). The new value is "
                                            "written to --out (mode 600) and never printed.")
    secret.add_argument("what", choices=("create", "rotate"), metavar="create|rotate",
                        help="create: a first secret for an endpoint that has none; rotate: replace the current one")
    secret.add_argument("--endpoint", required=True, metavar="ID", help=endpoint_help)
    secret.add_argument("--out", required=True, metavar="FILE",
                        help="the file that receives the new secret (created with mode 600), to hand to the vendor")
    secret.add_argument("--grace-hours", type=grace_hours, default=24.0, metavar="HOURS",
                        help="rotate: how long the old secret keeps signing beside the new one (default: %(default)s)")
    secret.add_argument("--dry-run", action="store_true", help=dry_run_help)


def check(args: argparse.Namespace, ops: DeliveryOps) -> None:
    """Every mistake of the command line, before anything is read or changed."""
    if getattr(args, "since", None):
        time_ms(args.since, "--since")
    if getattr(args, "endpoint", None):
        choice(args.endpoint, sorted(ops.endpoints), "endpoint")
    if getattr(args, "vendor", None):
        choice(args.vendor, sorted({e.vendor_id for e in ops.endpoints.values()}), "vendor")
    if args.action == "secret":
        writable_file(args.out, "--out")
        name = delivery.secret_name(ops.secret_prefix, args.endpoint)
        if args.what == "rotate" and not _has_value(ops.secrets, name):
            raise UsageError(f"endpoint {args.endpoint} has no signing secret yet ({name} has no value to rotate); "
                             f"create one with `deliveries secret create --endpoint {args.endpoint} --out FILE`")


def _has_value(secrets: Any, name: str) -> bool:
    try:
        secrets.get_secret_value(SecretId=name)
        return True
    except secrets.exceptions.ResourceNotFoundException:
        return False


def act(args: argparse.Namespace, ops: DeliveryOps) -> dict[str, Any]:
    """Check the command line against the endpoints, then do what it asks."""
    check(args, ops)
    try:
        return _act(args, ops)
    except OpsError as problem:
        raise UsageError(str(problem)) from None


def _act(args: argparse.Namespace, ops: DeliveryOps) -> dict[str, Any]:
    if args.action == "list":
        if args.transaction:
            items = ops.list_transaction(args.transaction)
        elif args.vendor:
            items = ops.list_vendor(args.vendor, args.since or "", args.limit)
        else:
            items = ops.list_endpoint(args.endpoint, args.since or "", args.limit)
        by_state: dict[str, int] = {}
        for item in items:
            by_state[item.get("state", "?")] = by_state.get(item.get("state", "?"), 0) + 1
        return {"count": len(items), "by_state": by_state, "items": items}
    if args.action == "attempts":
        return {"attempts": ops.attempts(args.message_id)}
    if args.action == "resend":
        return ops.resend(args.message_id, dry_run=args.dry_run)
    if args.action == "recover":
        return ops.recover(args.endpoint, args.since, dry_run=args.dry_run)
    if args.action == "release":
        return ops.release(args.endpoint, dry_run=args.dry_run)
    if args.action in STATE_COMMANDS:
        return ops.set_state(args.endpoint, args.action, dry_run=args.dry_run)
    if args.what == "create":
        result = ops.create_secret(args.endpoint, dry_run=args.dry_run)
    else:
        result = ops.rotate_secret(args.endpoint, grace_seconds=int(args.grace_hours * 3600), dry_run=args.dry_run)
    value = result.pop("secret", None)
    if value:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        result["written_to"] = args.out
    elif args.dry_run and not result.get("exists"):
        result["would_write_to"] = args.out
    return result


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    return act(args, build(targets, args.endpoints_file))


COMMAND = Command(
    name="deliveries", add_arguments=add_arguments, run=run,
    help="vendor webhook deliveries: list, attempts, resend, recover, pause/resume/disable/enable, release "
         "(parked messages), secret",
    description="Vendor webhook deliveries of the environment (its deliveries table and queue, its endpoint "
                "configuration): listings without payloads, resends, recovery, endpoint state and signing secrets.",
)


def main(argv: list[str] | None = None, ops: DeliveryOps | None = None,
         client: Callable[..., Any] = boto3.client) -> int:
    """`python -m scripts.ops.delivery_ops --env ENV ACTION ...`: the `deliveries` command with the
    caller's AWS settings (`client(service)`), or on `ops` (tests)."""
    parser = OpsParser(prog="python -m scripts.ops.delivery_ops", description=COMMAND.description)
    parser.add_argument("--env", required=True, metavar="ENV", help="an environment of cdktf.json (dev, prod, local, ...)")
    add_arguments(parser)

    def attempt() -> dict[str, Any]:
        args = parser.parse_args(argv)
        if ops is not None:
            return act(args, ops)
        from scripts.ops.command import resolve

        settings = resolve(args.env).settings
        targets = Targets(env=args.env, region=settings.region, endpoint_url=None, names=settings.names,
                          settings=settings, factory=client)
        return run(targets, args)

    return outcome("delivery_ops", attempt)


if __name__ == "__main__":
    sys.exit(main())
