"""One ops CLI for an environment of the platform: secrets, DLQ redrive, archive replay, quarantine
replay and vendor deliveries. Region and endpoint come from the environment's settings
(cdktf.json), names from constructs/app/names.py (what the stack deploys), providers from
paycore.providers, the bucket's account from STS; nothing needs to be typed twice.

    source scripts/env.sh
    python -m scripts.ops --env dev secrets --provider stripe --signing-secret-file - --rotate
    python -m scripts.ops --env dev secrets --cursor-key generate
    python -m scripts.ops --env dev secrets --internal-key generate|rotate
    python -m scripts.ops --env dev redrive [--queue ingest|notifications] [--dry-run]
    python -m scripts.ops --env dev replay-archive --provider stripe --from 2026-11-28T00:00Z --to 2026-11-28T06:00Z
    python -m scripts.ops --env dev replay-quarantine [--provider stripe] [--since 2026-11-28] [--parked]
    python -m scripts.ops --env dev reconcile --provider stripe --since 2026-11-28T00:00Z [--until ...] [--dry-run]
    python -m scripts.ops --env dev deliveries list --vendor vendor-acme
    python -m scripts.ops --env dev deliveries release --endpoint ep-acme-main [--dry-run]
        (every deliveries command: python -m scripts.ops --env dev deliveries --help)

Every command that writes has ``--dry-run`` (counts, writes nothing). A user mistake (unknown
environment, provider, queue or date) is one line on stderr and exit code 2, before anything is
written; an AWS failure is one line and exit code 1. Long runs print progress to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import contextlib
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, NoReturn

import boto3
import botocore.exceptions


class UsageError(Exception):
    """A user mistake: one line, exit code 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        raise UsageError(f"{message} (see --help)")


@dataclass(frozen=True)
class Targets:
    """What the commands act on, for one environment (`credentials`: a role's session the
    commands act as, see `as_operator`; None: the caller's own)."""

    env: str
    region: str
    endpoint_url: str | None
    names: Any  # constructs.app.names.Names: every physical name of the environment
    verification_environment: Mapping[str, str] = field(default_factory=dict)  # the processor's PAYPAL_* settings
    credentials: Mapping[str, str] | None = None

    @property
    def secret_prefix(self) -> str:
        return str(self.names.secret_prefix)

    def client(self, service: str) -> Any:
        keys = {}
        if self.credentials:
            keys = {"aws_access_key_id": self.credentials["AccessKeyId"],
                    "aws_secret_access_key": self.credentials["SecretAccessKey"],
                    "aws_session_token": self.credentials["SessionToken"]}
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url, **keys)


def as_operator(targets: Targets) -> Targets:
    """The replay and redrive commands act as the environment's operator role (names.operator_role):
    with the API's and the validator's roles the only principals the ingest queue's policy lets send
    (constructs/app/operator.py). An emulator environment has no IAM to enforce: the caller's own
    credentials. Already in the role's session: as it is."""
    if targets.endpoint_url or targets.credentials:
        return targets
    sts = targets.client("sts")
    identity = sts.get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    if f":assumed-role/{targets.names.operator_role}/" in identity["Arn"]:
        return targets
    role = f"arn:{partition}:iam::{identity['Account']}:role/{targets.names.operator_role}"
    try:
        credentials = sts.assume_role(RoleArn=role, RoleSessionName="payments-ops")["Credentials"]
    except botocore.exceptions.ClientError as failure:
        if failure.response.get("Error", {}).get("Code") != "AccessDenied":
            raise
        raise UsageError(f"cannot act as {role}: ask for sts:AssumeRole on it (the stack's setting "
                         "operator_principal_arns names who may)") from None
    return replace(targets, credentials=credentials)


def _app(module: str) -> Any:
    """A module of constructs/app (the settings, the names)."""
    import importlib

    try:
        return importlib.import_module(f"constructs.app.{module}")
    except ImportError:
        raise UsageError("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None


def environments() -> dict[str, Any]:
    loader = _app("environments")
    return {name: loader.load_settings for name in loader.environment_names()}


def resolve(env: str, *, region: str | None = None, endpoint_url: str | None = None) -> Targets:
    loaders = environments()
    if env not in loaders:
        raise UsageError(f"unknown environment {env!r}; cdktf.json defines: {', '.join(loaders)}")
    settings = loaders[env](env)
    local = getattr(settings, "local", None)
    endpoint = endpoint_url or (local.endpoint_url if local else None)
    verification = {"PAYPAL_MODE": str(settings.paypal_mode),
                    "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS": str(settings.paypal_max_transmission_age_seconds)}
    return Targets(env=env, region=region or settings.region, endpoint_url=endpoint, names=settings.names,
                   verification_environment=verification)


@contextlib.contextmanager
def verifying_as_the_processor(targets: Targets) -> Iterator[None]:
    """The environment's verification settings (PayPal mode and window) while replayed envelopes are
    re-verified: the tool must accept exactly what that environment's processor accepts."""
    saved = {name: os.environ.get(name) for name in targets.verification_environment}
    os.environ.update(targets.verification_environment)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def webhook_providers() -> tuple[str, ...]:
    """The providers with signing secrets and webhook routes (paycore.providers; direct has none)."""
    from paycore.providers import webhook_names

    return webhook_names()


def archive_bucket(targets: Targets) -> str:
    """The environment's archive bucket; its name holds the account, from STS."""
    account = targets.client("sts").get_caller_identity()["Account"]
    return str(targets.names.archive_bucket(account, targets.region))


def queue_url(targets: Targets, name: str) -> str:
    sqs = targets.client("sqs")
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise UsageError(f"queue {name} does not exist in {targets.region} (is the {targets.env} stack deployed?)") from None


def parse_time(text: str, option: str) -> int:
    from scripts.ops import replay_archive

    try:
        return replay_archive.epoch_ms(text)
    except ValueError:
        raise UsageError(f"{option} must be an ISO-8601 date or date-time (e.g. 2026-11-28T06:00:00Z), got {text!r}") from None


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


# ----- commands -----------------------------------------------------------------------------------

def cmd_secrets(targets: Targets, args: argparse.Namespace) -> dict | int:
    from scripts.ops import set_secrets

    if args.provider and args.provider not in webhook_providers():
        raise UsageError(f"unknown provider {args.provider!r}; known: {', '.join(webhook_providers())}")
    if not (args.provider or args.cursor_key or args.internal_key):
        raise UsageError("name --provider (signing secret / gate key), --cursor-key or --internal-key")
    if args.internal_key and (args.provider or args.cursor_key):
        raise UsageError("set --internal-key on its own (its rotate would apply to the other secrets too)")
    if args.provider and not (args.signing_secret_file or args.gate_key_file or args.generate_gate_key):
        raise UsageError("give --signing-secret-file and/or --gate-key-file / --generate-gate-key")
    planned = []
    if args.provider:
        if args.signing_secret_file:
            planned.append(set_secrets.secret_name(targets.secret_prefix, args.provider, "signing"))
        if args.gate_key_file or args.generate_gate_key:
            planned.append(set_secrets.secret_name(targets.secret_prefix, args.provider, "gate-key"))
    if args.cursor_key:
        planned.append(f"{targets.secret_prefix}{set_secrets.CURSOR_KEY_SECRET}")
    if args.internal_key:
        planned.append(f"{targets.secret_prefix}{set_secrets.INTERNAL_KEY_SECRET}")
    if args.dry_run:
        return {"would_write": planned, "rotate": args.rotate or args.internal_key == "rotate", "dry_run": True}
    argv = ["--env", targets.env, "--secret-prefix", targets.secret_prefix, "--region", targets.region]
    if targets.endpoint_url:
        argv += ["--endpoint-url", targets.endpoint_url]
    if args.provider:
        argv += ["--provider", args.provider]
    for flag in ("signing_secret_file", "gate_key_file"):
        if getattr(args, flag):
            argv += ["--" + flag.replace("_", "-"), getattr(args, flag)]
    if args.generate_gate_key:
        argv.append("--generate-gate-key")
    if args.cursor_key == "generate":
        argv.append("--generate-cursor-key")
    elif args.cursor_key:
        argv += ["--cursor-key-file", args.cursor_key]
    if args.internal_key:
        argv.append("--generate-internal-key")
    if args.rotate or args.internal_key == "rotate":
        argv.append("--rotate")
    code = set_secrets.main(argv)
    if code:  # set_secrets said why on stderr (an internal key already set, say)
        return code
    return {"written": planned, "exit_code": code}


def cmd_redrive(targets: Targets, args: argparse.Namespace) -> dict:
    from scripts.ops import redrive_dlq

    targets = as_operator(targets)
    source_name, dlq_name = targets.names.redrivable_queues[args.queue]
    source = queue_url(targets, source_name)
    dlq = queue_url(targets, dlq_name)
    sqs = targets.client("sqs")
    bucket = archive_bucket(targets) if args.park else None
    return redrive_dlq.redrive(sqs, dlq, source, dry_run=args.dry_run, max_messages=args.max,
                               s3=targets.client("s3") if bucket else None, park_bucket=bucket)


def cmd_replay_archive(targets: Targets, args: argparse.Namespace) -> dict:
    from scripts.ops import replay_archive

    if args.provider not in webhook_providers():
        raise UsageError(f"unknown provider {args.provider!r}; known: {', '.join(webhook_providers())}")
    start, end = parse_time(args.start, "--from"), parse_time(args.end, "--to")
    if end < start:
        raise UsageError("--to is before --from")
    targets = as_operator(targets)
    return replay_archive.replay(targets.client("s3"), targets.client("sqs"), bucket=archive_bucket(targets),
                                 queue_url=queue_url(targets, targets.names.ingest_queue), provider=args.provider,
                                 start_ms=start, end_ms=end, event_id=args.event_id, dry_run=args.dry_run)


def cmd_replay_quarantine(targets: Targets, args: argparse.Namespace) -> dict:
    from scripts.ops import replay_quarantine
    from paycore.model import MisconfiguredSecret
    from paycore.secrets import SecretStore

    if args.provider and args.provider not in webhook_providers():
        raise UsageError(f"unknown provider {args.provider!r}; known: {', '.join(webhook_providers())}")
    since = parse_time(args.since, "--since")
    targets = as_operator(targets)
    store = SecretStore(targets.client("secretsmanager"), prefix=targets.secret_prefix, max_age=0)
    try:
        with verifying_as_the_processor(targets):
            report = replay_quarantine.replay(
                targets.client("s3"), targets.client("sqs"), bucket=archive_bucket(targets),
                queue_url=queue_url(targets, targets.names.ingest_queue), signing_secret=store.signing,
                internal_key=store.internal_key, provider=args.provider, since_ms=since, parked=args.parked,
                dry_run=args.dry_run, progress=lambda r: progress(f"examined {r.examined}, verified {r.requeued}"))
    except MisconfiguredSecret as problem:
        raise UsageError(f"{problem}: fix it with `python -m scripts.ops secrets` first") from None
    return report.as_dict()


def cmd_reconcile(targets: Targets, args: argparse.Namespace) -> dict | int:
    import time

    from scripts.ops import reconcile_backfill as backfill

    if args.provider not in backfill.RECONCILED:
        raise UsageError(f"no reconciler for provider {args.provider!r}; known: {', '.join(backfill.RECONCILED)}")
    now = int(time.time())
    since = parse_time(args.since, "--since") // 1000
    until = parse_time(args.until, "--until") // 1000 if args.until else now
    if until <= since:
        raise UsageError("--until must be after --since")
    if until > now:
        raise UsageError("--until is in the future")
    retention = backfill.RECONCILED[args.provider]
    if retention and since < now - retention * 86400:
        raise UsageError(f"--since is older than the {retention} days {args.provider} lists events for")
    if not 1 <= args.chunk_minutes <= 1440:
        raise UsageError("--chunk-minutes must be 1..1440")
    invoke = backfill.lambda_invoker(targets.client("lambda"), targets.names.function("reconciler"))
    try:
        return backfill.backfill(invoke, provider=args.provider, since_s=since, until_s=until,
                                 chunk_minutes=args.chunk_minutes, dry_run=args.dry_run)
    except backfill.BackfillError as failed:
        print(f"ops: {failed}", file=sys.stderr)
        return 1


def cmd_deliveries(targets: Targets, args: argparse.Namespace) -> dict:
    from paycore.delivery import ConfigError
    from scripts.ops import delivery_ops

    try:
        delivery_ops.check(args)
        return delivery_ops.run(args, delivery_ops.build(args, targets.client))
    except (delivery_ops.OpsError, ConfigError) as mistake:
        raise UsageError(delivery_ops.one_line(mistake)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m scripts.ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="an environment of cdktf.json (dev, prod, local, ...)")
    parser.add_argument("--region", help="override the environment's region")
    parser.add_argument("--endpoint-url", help="override the emulator URL (local environments)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    secrets = sub.add_parser("secrets", help="provider signing secrets, gate keys, the query cursor key")
    secrets.add_argument("--provider", help=f"one of {', '.join(webhook_providers())}")
    secrets.add_argument("--signing-secret-file", help="file with the signing secret (paypal: webhook id); - = stdin")
    secrets.add_argument("--gate-key-file", help="file with the gate key; - = stdin")
    secrets.add_argument("--generate-gate-key", action="store_true")
    secrets.add_argument("--cursor-key", help="'generate' or a file with the query cursor key")
    secrets.add_argument("--internal-key", choices=("generate", "rotate"),
                         help="the internal envelope key direct payments are signed with: generate the first one, "
                              "or rotate it (the old one stays previous)")
    secrets.add_argument("--rotate", action="store_true", help="keep the replaced values as previous")
    secrets.add_argument("--dry-run", action="store_true")

    redrive = sub.add_parser("redrive", help="move a DLQ back to its queue; park messages that failed again")
    redrive.add_argument("--queue", choices=_app("names").REDRIVABLE_QUEUES, default="ingest")
    redrive.add_argument("--max", type=int)
    redrive.add_argument("--no-park", dest="park", action="store_false", help="never park (default: park repeat failures)")
    redrive.add_argument("--dry-run", action="store_true")

    archive = sub.add_parser("replay-archive", help="re-send archived webhooks of a provider and time range")
    archive.add_argument("--provider", required=True)
    archive.add_argument("--from", dest="start", required=True)
    archive.add_argument("--to", dest="end", required=True)
    archive.add_argument("--event-id")
    archive.add_argument("--dry-run", action="store_true")

    quarantine = sub.add_parser("replay-quarantine", help="re-verify quarantined webhooks, re-enqueue what verifies")
    quarantine.add_argument("--provider")
    quarantine.add_argument("--since", default="1970-01-01")
    quarantine.add_argument("--parked", action="store_true", help="parked/ (redrive) instead of quarantine/")
    quarantine.add_argument("--dry-run", action="store_true")

    reconcile = sub.add_parser("reconcile", help="backfill: fetch a provider's events of a time range, recover the missing")
    reconcile.add_argument("--provider", required=True, help="stripe or paypal (a provider with an events API)")
    reconcile.add_argument("--since", required=True, help="start of the range, ISO-8601 (e.g. 2026-11-28T00:00:00Z)")
    reconcile.add_argument("--until", help="end of the range, ISO-8601 (default: now)")
    reconcile.add_argument("--chunk-minutes", type=int, default=60,
                           help="minutes of events per reconciler invocation (each must list within its timeout)")
    reconcile.add_argument("--dry-run", action="store_true", help="list and count only; enqueue nothing")

    from scripts.ops import delivery_ops

    deliveries = sub.add_parser(
        "deliveries", help="vendor webhook deliveries: list, attempts, resend, recover, pause, resume, disable, "
                           "enable, release (parked messages), secret", description=delivery_ops.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    delivery_ops.add_arguments(deliveries)
    return parser


COMMANDS: dict[str, Callable[[Targets, argparse.Namespace], Any]] = {
    "secrets": cmd_secrets, "redrive": cmd_redrive, "replay-archive": cmd_replay_archive,
    "replay-quarantine": cmd_replay_quarantine, "reconcile": cmd_reconcile, "deliveries": cmd_deliveries,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        targets = resolve(args.env, region=args.region, endpoint_url=args.endpoint_url)
        result = COMMANDS[args.command](targets, args)
    except UsageError as mistake:
        print(f"ops: {mistake}", file=sys.stderr)
        return 2
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as failure:
        print(f"ops: AWS call failed: {failure}", file=sys.stderr)
        return 1
    if isinstance(result, int):
        return result
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
