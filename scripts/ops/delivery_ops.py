"""Vendor delivery operations: list deliveries, resend, recover since T, pause/resume/disable/enable
an endpoint, release its parked messages, create/rotate its signing secret. Every change has
``--dry-run`` (checks everything the change checks, prints what it would do, writes nothing) and
prints counts as JSON; nothing prints a payload, and a new secret is written only to ``--out``
(mode 600). A mistake is one line on stderr and exit code 2; an AWS failure one line and exit 1.

    python -m scripts.ops --env dev deliveries list --transaction pi_123
    python -m scripts.ops --env dev deliveries list --vendor vendor-1 --since 2026-11-28T00:00:00Z
    python -m scripts.ops --env dev deliveries attempts msg_...
    python -m scripts.ops --env dev deliveries resend msg_... [--dry-run]
    python -m scripts.ops --env dev deliveries recover --endpoint ep-v1-main --since 2026-11-28T00:00:00Z [--dry-run]
    python -m scripts.ops --env dev deliveries pause|resume|disable|enable|release --endpoint ep-v1-main [--dry-run]
    python -m scripts.ops --env dev deliveries secret create|rotate --endpoint ep-v1-main --out secret.txt [--grace-hours 24]

Names come from ``constructs/app/names.py`` (what the stack deploys): table ``deliveries-{env}``,
queue ``deliveries-{env}.fifo``, secrets ``payment-webhooks/{env}/vendors/{endpoint}/signing``;
the endpoint configuration comes from ``--endpoints-file``, else ``DELIVERY_ENDPOINTS``, else the
SSM parameter ``/payments/{env}/delivery-endpoints``. Both ``python -m scripts.ops --env ENV
deliveries`` and ``python -m scripts.ops.delivery_ops --env ENV`` use the environment's region and,
for an emulator environment, its endpoint (``AWS_ENDPOINT_URL`` overrides it here).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import boto3
import botocore.exceptions

from paycore import delivery
from paycore.delivery_ops import DeliveryOps, OpsError, normalize_since
from paycore.delivery_store import DeliveryStore

DRY_RUN = "check everything the change checks and print what it would do; change nothing"
STATE_COMMANDS = {
    "pause": "hold the endpoint's messages in the queue, no attempt counted; past ~13 days (a day before "
             "the queue's 14-day retention) they are parked in the deliveries table instead",
    "resume": "end a pause; the messages parked meanwhile are released, oldest first",
    "disable": "stop delivering to the endpoint: its messages fail (endpoint_disabled) as they come, "
               "`recover` re-sends them after `enable`",
    "enable": "deliver again after a disable; the messages parked meanwhile are released, oldest first "
              "(`recover` re-sends the failed ones)",
    "release": "re-send the endpoint's parked messages (taken out of the queue before its retention ran "
               "out), oldest first, into their payments' groups; only while the endpoint can deliver "
               "(otherwise it says why and sends nothing). New messages of the endpoint wait behind them",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        raise OpsError(f"{message} (see --help)")


def one_line(problem: BaseException) -> str:
    """A problem's message on one line (a settings or endpoint error lists several)."""
    head, *rest = [part.strip().removeprefix("- ") for part in str(problem).splitlines() if part.strip()] or [""]
    return f"{head} {'; '.join(rest)}" if head.endswith(":") and rest else "; ".join([head, *rest])


def _since(text: str) -> str:
    try:
        return normalize_since(text)
    except OpsError:
        raise argparse.ArgumentTypeError(f"must be an ISO-8601 date or time (e.g. 2026-11-28T00:00:00Z), "
                                         f"got {text!r}") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of hours >= 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The deliveries options and commands, on ``parser`` (this module's own or the ops CLI's
    ``deliveries`` command); the command is ``args.operation``."""
    parser.add_argument("--endpoints-file", help="the endpoint configuration as JSON (default: DELIVERY_ENDPOINTS, "
                                                 "else the environment's SSM parameter)")
    sub = parser.add_subparsers(dest="operation", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    listing = command("list", "messages of a payment, vendor or endpoint: counts by state and a "
                                          "summary of each (never a payload)")
    which = listing.add_mutually_exclusive_group(required=True)
    which.add_argument("--transaction", metavar="ID", help="a payment's transaction id")
    which.add_argument("--vendor", metavar="ID", help="every endpoint of a vendor")
    which.add_argument("--endpoint", metavar="ID", help="one endpoint")
    listing.add_argument("--since", type=_since, metavar="T",
                         help="only messages created at or after T (ISO-8601, e.g. 2026-11-28T00:00:00Z)")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="at most N messages")

    attempts = command("attempts", "the attempts of one message: time, status code, latency, outcome")
    attempts.add_argument("message_id", help="the message (webhook) id, msg_...")

    resend = command("resend", "send a delivered, exhausted or failed message again: the same "
                                           "webhook-id and body, a fresh retry schedule (a pending message is "
                                           "the queue's; a parked one is sent by release, in order)")
    resend.add_argument("message_id", help="the message (webhook) id, msg_...")
    resend.add_argument("--dry-run", action="store_true", help=DRY_RUN)

    recover = command("recover", "re-send every exhausted or failed message of an endpoint created "
                                             "since T, and release all its parked messages, oldest first (the "
                                             "order per payment holds)")
    recover.add_argument("--endpoint", required=True, metavar="ID", help="the endpoint")
    recover.add_argument("--since", required=True, type=_since, metavar="T",
                         help="ISO-8601 UTC, e.g. 2026-11-28T00:00:00Z")
    recover.add_argument("--dry-run", action="store_true", help=DRY_RUN)

    for action, text in STATE_COMMANDS.items():
        state = command(action, text)
        state.add_argument("--endpoint", required=True, metavar="ID", help="the endpoint")
        state.add_argument("--dry-run", action="store_true", help=DRY_RUN)

    secret = command("secret", "an endpoint's signing secret: create the first one, or rotate it (the "
                                           "old one stays valid for --grace-hours; the sender signs with both)")
    secret.add_argument("action", choices=["create", "rotate"], help="create | rotate")
    secret.add_argument("--endpoint", required=True, metavar="ID", help="the endpoint")
    secret.add_argument("--out", metavar="FILE", help="file that receives the new secret (mode 600; never printed); "
                                                      "required, with --dry-run too")
    secret.add_argument("--grace-hours", type=_hours, default=24.0, metavar="H",
                        help="hours the replaced secret stays valid (rotate; default 24)")
    secret.add_argument("--dry-run", action="store_true", help=DRY_RUN)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m scripts.ops.delivery_ops", description=__doc__.split("\n\n")[0],
                epilog="`COMMAND --help` describes each command.")
    p.add_argument("--env", required=True, help="an environment of cdktf.json (dev, prod, local, ...)")
    add_arguments(p)
    return p


def check(args: argparse.Namespace) -> None:
    """What the arguments alone decide, before anything is read or written: the secret's file."""
    if args.operation != "secret":
        return
    if not args.out:
        raise OpsError("--out FILE is required: the new secret is written there, never printed")
    out = Path(args.out)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK) or (
            out.exists() and not os.access(out, os.W_OK)):
        raise OpsError(f"--out {args.out}: cannot write this file (a missing or read-only folder, or a folder)")


def endpoints_document(args: argparse.Namespace, ssm: Any, parameter_name: str) -> str:
    if args.endpoints_file:
        try:
            return Path(args.endpoints_file).read_text()
        except OSError as problem:
            raise OpsError(f"--endpoints-file {args.endpoints_file}: {problem.strerror}") from None
    if os.environ.get("DELIVERY_ENDPOINTS"):
        return os.environ["DELIVERY_ENDPOINTS"]
    try:
        return ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise OpsError(f"SSM parameter {parameter_name} does not exist (is the stack deployed? "
                       "or give --endpoints-file)") from None


def environment_settings(env: str) -> Any:
    """The environment's settings (cdktf.json): the deployed names and whether loopback is allowed."""
    from constructs.app.environments import environment_names, load_settings
    from constructs.app.settings import SettingsError

    if env not in environment_names():
        raise OpsError(f"unknown environment {env!r}; cdktf.json defines: {', '.join(environment_names())}")
    try:
        return load_settings(env)
    except SettingsError as exc:
        raise OpsError(str(exc)) from None


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def build(args: argparse.Namespace, client: Callable[[str], Any] | None = None) -> DeliveryOps:
    """`client(service)`: a boto3 client factory (the ops CLI passes its own); by default one in the
    environment's region, at ``AWS_ENDPOINT_URL`` or else the environment's emulator if it has one."""
    settings = environment_settings(args.env)
    names = settings.names
    if client is None:
        local = getattr(settings, "local", None)
        endpoint_url = os.environ.get("AWS_ENDPOINT_URL") or (local.endpoint_url if local else None)

        def client(service: str) -> Any:
            return boto3.client(service, region_name=settings.region, endpoint_url=endpoint_url)
    sqs, ssm = client("sqs"), client("ssm")
    raw = endpoints_document(args, ssm, names.delivery_endpoints_parameter)
    try:
        document = json.loads(raw)
    except ValueError as problem:
        raise OpsError(f"the endpoint configuration is not JSON: {problem}") from None
    endpoints = delivery.parse_endpoints(document, allow_loopback_http=settings.emulator)
    try:
        queue_url = sqs.get_queue_url(QueueName=names.deliveries_queue)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise OpsError(f"queue {names.deliveries_queue} does not exist (is the {args.env} stack deployed?)") from None
    return DeliveryOps(
        store=DeliveryStore(client("dynamodb"), names.deliveries_table),
        sqs=sqs,
        queue_url=queue_url,
        endpoints=endpoints,
        secrets=client("secretsmanager"),
        secret_prefix=names.secret_prefix,
        kms_key_id=os.environ.get("DELIVERY_SECRETS_KMS_KEY_ID") or None,
        progress=_progress,
    )


def run(args: argparse.Namespace, ops: DeliveryOps) -> dict[str, Any]:
    command = args.operation
    if command == "list":
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
    if command == "attempts":
        return {"attempts": ops.attempts(args.message_id)}
    if command == "resend":
        return ops.resend(args.message_id, dry_run=args.dry_run)
    if command == "recover":
        return ops.recover(args.endpoint, args.since, dry_run=args.dry_run)
    if command == "release":
        return ops.release(args.endpoint, dry_run=args.dry_run)
    if command in STATE_COMMANDS:
        return ops.set_state(args.endpoint, command, dry_run=args.dry_run)
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
    elif args.dry_run and not result.get("exists"):
        result["would_write_to"] = args.out
    return result


def main(argv: list[str] | None = None, ops: DeliveryOps | None = None,
         client: Callable[[str], Any] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        check(args)
        result = run(args, ops or build(args, client))
    except (OpsError, delivery.ConfigError) as mistake:
        print(f"deliveries: {one_line(mistake)}", file=sys.stderr)
        return 2
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as failure:
        print(f"deliveries: AWS call failed: {one_line(failure)}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
