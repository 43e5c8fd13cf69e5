"""The ops CLI for an environment of the platform: secrets, DLQ redrive, archive replay, quarantine
replay and vendor deliveries. Region and emulator come from the environment's settings
(cdktf.json), names from constructs/app/names.py (what the stack deploys), providers from
paycore.providers, the bucket's account from STS; nothing needs to be typed twice.

    source scripts/env.sh
    python -m scripts.ops --env dev secrets --provider stripe --signing-secret-file - --rotate
    python -m scripts.ops --env dev secrets --cursor-key generate
    python -m scripts.ops --env dev secrets --internal-key generate|rotate
    python -m scripts.ops --env dev redrive [--queue ingest|notifications|delivery-events] [--dry-run]
    python -m scripts.ops --env dev replay-archive --provider stripe --from 2026-11-28T00:00Z --to 2026-11-28T06:00Z
    python -m scripts.ops --env dev replay-quarantine [--provider stripe] [--since 2026-11-28] [--parked]
    python -m scripts.ops --env dev reconcile --provider stripe --since 2026-11-28T00:00Z [--until ...] [--dry-run]
    python -m scripts.ops --env dev deliveries list --vendor vendor-acme
    python -m scripts.ops --env dev deliveries release --endpoint ep-acme-main [--dry-run]
    python -m scripts.ops --env local ...      # right after `python -m scripts.local.emulator start`

Every command checks everything first (files, values, the deployed queues, buckets and secrets,
with read-only calls) and writes only after; `--dry-run` runs those checks and writes nothing. A
mistake is one line on stderr and exit code 2; an AWS or emulator failure one line and exit code 1.
An emulator environment needs no AWS credentials: the CLI supplies the emulator's.

The replay and redrive commands act as the environment's operator role (`command.as_operator`; on
an emulator, as the caller). A command is a `Command` (scripts/ops/command.py) in the module of its
tool, listed in `COMMANDS`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from scripts.ops import (
    delivery_ops, reconcile_backfill, redrive_dlq, replay_archive, replay_quarantine, set_secrets,
)
from scripts.ops.command import (
    PROG, Command, OpsParser, Targets, UsageError, did_you_mean, environment_names, outcome, resolve,
)

COMMANDS: tuple[Command, ...] = (
    set_secrets.COMMAND, redrive_dlq.COMMAND, replay_archive.COMMAND, replay_quarantine.COMMAND,
    reconcile_backfill.COMMAND, delivery_ops.COMMAND,
)


def add_target_options(parser: argparse.ArgumentParser, *, on_command: bool) -> None:
    """--env, --region, --endpoint-url: before the command, or after it (`on_command`)."""
    default = argparse.SUPPRESS if on_command else None
    parser.add_argument("--env", metavar="ENV", default=default,
                        help="the environment to act on, one of cdktf.json's (dev, prod, local, ...); required")
    parser.add_argument("--region", metavar="REGION", default=default,
                        help="the AWS region, instead of the environment's (settings region / PAYMENTS_REGION)")
    parser.add_argument("--endpoint-url", metavar="URL", default=default,
                        help="the emulator's URL, instead of the environment's (local.endpoint_url / "
                             "PAYMENTS_LOCAL_ENDPOINT)")


def parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and every parser of its subcommands, depth first."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += parsers(child)
    return found


def named_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The deepest (sub)command parser whose command words all appear in `argv`."""
    def words(each: argparse.ArgumentParser) -> list[str]:
        return each.prog.split()[len(PROG.split()):]

    return max((p for p in parsers(parser) if all(word in argv for word in words(p))), key=lambda p: len(words(p)))


def unknown_option(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An option no command has is reported as such (argparse would take its value for the command)."""
    known = {o for each in parsers(parser) for action in each._actions for o in action.option_strings}
    for word in argv:
        if word == "--":
            return
        if word.startswith("--") and word.split("=", 1)[0] not in known:
            named = named_parser(parser, argv)
            raise UsageError(f"unrecognized arguments: {word}{did_you_mean(word.split('=', 1)[0], known)} "
                             f"(see `{named.prog} --help`)")


def build_parser() -> OpsParser:
    parser = OpsParser(prog=PROG, description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target_options(parser, on_command=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, title="commands",
                                     parser_class=OpsParser)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
        for each in parsers(sub):  # `ops secrets --env dev ...` and `ops deliveries list ... --env dev` too
            add_target_options(each, on_command=True)
    for each in parsers(parser):  # a mistake is reported with the --help of the parser it concerns
        each.set_defaults(_parser=each)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    resolved: dict[str, Targets] = {}

    def attempt() -> Any:
        unknown_option(parser, sys.argv[1:] if argv is None else argv)
        args, extra = parser.parse_known_args(argv)
        if extra:
            args._parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if not args.env:
            args._parser.error(f"the following arguments are required: --env (one of {', '.join(environment_names())})")
        targets = resolved["targets"] = resolve(args.env, region=args.region, endpoint_url=args.endpoint_url)
        return args._run(targets, args)

    return outcome("ops", attempt, lambda: resolved.get("targets"))


if __name__ == "__main__":
    raise SystemExit(main())
