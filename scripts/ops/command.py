"""What every command of the ops CLI (scripts/ops/cli.py) is made of: its parser, which reports a
mistake in one line; the environment it acts on (`Targets`: region, emulator endpoint and
credentials, names); and the checks the commands share, so a dry run fails exactly where the real
run would. A command is a `Command`: its arguments, each with help text, and a `run` that checks
everything first (files, values, the deployed queues, buckets and secrets, read-only) and writes
only when not a dry run.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NoReturn
from urllib.parse import urlsplit

import boto3
import botocore.exceptions

PROG = "python -m scripts.ops"


class UsageError(Exception):
    """A mistake in the command as given (an option, a value, a file, a target that does not exist):
    one line on stderr, exit code 2, nothing written."""


class Unreachable(Exception):
    """AWS or the emulator cannot be reached or refuses the credentials: one line, exit code 1."""


def one_line(problem: BaseException) -> str:
    """A problem's message on one line: a settings or endpoint configuration error lists one problem
    a line (`header:` then `- ...` items), read as `header: a; b`."""
    head, *rest = [part.strip().removeprefix("- ") for part in str(problem).splitlines() if part.strip()] or [""]
    return f"{head} {'; '.join(rest)}" if head.endswith(":") and rest else "; ".join([head, *rest])


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean X?` for the nearest candidate, or nothing."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


class OpsParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (`ops: error: ... (see `PROG --help`)`), not usage + message,
    with the nearest option or choice when one was mistyped. Options are never abbreviated: a prefix
    (`--endpoint`) would be ambiguous with a command's options (`--endpoint-url`) before the
    subcommand that has it sees it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}{self._nearest(message)} (see `{self.prog} --help`)")

    def _nearest(self, message: str) -> str:
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown and unknown.group(1).startswith("-"):
            options = [o for action in self._actions for o in action.option_strings]
            return did_you_mean(unknown.group(1).split("=", 1)[0], options)
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            return did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        return ""


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's options and positionals (its --help excluded)."""
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


@dataclass(frozen=True)
class Command:
    """One command of the CLI: `name` (`python -m scripts.ops --env ENV NAME ...`), `help` (its line in
    `--help`), `add_arguments(parser)` (every option with help text) and `run(targets, args)`, which
    returns the JSON-able result; `description` is the paragraph atop its own --help."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[["Targets", argparse.Namespace], Any]
    description: str = ""


# ----- the environment a command acts on ------------------------------------------------------------

#: What an emulator environment's calls carry: the emulator accepts any key, and these are the
#: `local` stack's provider keys (constructs/app/local.py), so both see the same account.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@dataclass
class Targets:
    """What the commands act on, for one environment: its region, its emulator (emulator
    environments: endpoint and fake credentials, supplied here), its names
    (constructs/app/names.py); `credentials`: a role's session the commands act as (`as_operator`),
    None: the caller's own."""

    env: str
    region: str
    endpoint_url: str | None
    names: Any  # constructs.app.names.Names
    emulator: bool = False
    settings: Any = None  # constructs.app.settings.Settings
    factory: Callable[[str], Any] | None = None  # client(service) of a caller's own (else boto3 as above)
    verification_environment: Mapping[str, str] = field(default_factory=dict)  # the processor's PAYPAL_* settings
    credentials: Mapping[str, str] | None = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)

    @property
    def secret_prefix(self) -> str:
        return str(self.names.secret_prefix)

    def client(self, service: str) -> Any:
        if self.factory is not None:
            return self.factory(service)
        if self.emulator and not self._checked:
            self.check_emulator()
        credentials = EMULATOR_CREDENTIALS if self.emulator else {}
        if self.credentials:
            credentials = {"aws_access_key_id": self.credentials["AccessKeyId"],
                           "aws_secret_access_key": self.credentials["SecretAccessKey"],
                           "aws_session_token": self.credentials["SessionToken"]}
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url, **credentials)

    def check_emulator(self) -> None:
        """Unreachable, saying how to start one, when nothing listens at the emulator's address."""
        url = urlsplit(self.endpoint_url or "")
        try:
            socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=2).close()
        except OSError:
            raise Unreachable(no_emulator(self)) from None
        self._checked = True


def no_emulator(targets: Targets) -> str:
    port = urlsplit(targets.endpoint_url or "").port
    start = "python -m scripts.local.emulator start" + (f" --port {port}" if port and port != 4566 else "")
    return (f"no emulator answers at {targets.endpoint_url} (environment {targets.env}); start one with "
            f"`{start}` (after `source scripts/env.sh`), or name another with --endpoint-url")


def _app(module: str) -> Any:
    """A module of constructs/app (the environments, the names)."""
    import importlib

    try:
        return importlib.import_module(f"constructs.app.{module}")
    except ImportError:
        raise UsageError("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None


def environment_names() -> list[str]:
    return list(_app("environments").environment_names())


def resolve(env: str, *, region: str | None = None, endpoint_url: str | None = None) -> Targets:
    """The targets of `env` (cdktf.json): its region (or `region`) and, for an emulator
    environment, its emulator (PAYMENTS_LOCAL_ENDPOINT, or `endpoint_url`)."""
    environments = _app("environments")
    known = environments.environment_names()
    if env not in known:
        raise UsageError(f"unknown environment {env!r} (cdktf.json defines: {', '.join(known)}){did_you_mean(env, known)}")
    try:
        settings = environments.load_settings(env)
    except ValueError as problem:  # SettingsError: one problem per line
        raise UsageError(f"the settings of {env} are invalid: {one_line(problem)}") from None
    local = getattr(settings, "local", None)
    endpoint = endpoint_url or (local.endpoint_url if local else None)
    verification = {"PAYPAL_MODE": str(settings.paypal_mode),
                    "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS": str(settings.paypal_max_transmission_age_seconds)}
    return Targets(env=env, region=region or settings.region, endpoint_url=endpoint, names=settings.names,
                   emulator=bool(settings.emulator), settings=settings, verification_environment=verification)


def as_operator(targets: Targets) -> Targets:
    """The replay and redrive commands act as the environment's operator role (names.operator_role):
    with the API's and the validator's roles the only principals the ingest queue's policy lets send
    (constructs/app/operator.py). An emulator (or a caller's own client factory) has no IAM to
    enforce: as it is; already in the role's session: as it is. A refused AssumeRole is a UsageError."""
    if targets.emulator or targets.endpoint_url or targets.credentials or targets.factory is not None:
        return targets
    sts = targets.client("sts")
    identity = sts.get_caller_identity()
    if f":assumed-role/{targets.names.operator_role}/" in identity["Arn"]:
        return targets
    partition = identity["Arn"].split(":")[1]
    role = f"arn:{partition}:iam::{identity['Account']}:role/{targets.names.operator_role}"
    try:
        credentials = sts.assume_role(RoleArn=role, RoleSessionName="payments-ops")["Credentials"]
    except botocore.exceptions.ClientError as failure:
        if failure.response.get("Error", {}).get("Code") != "AccessDenied":
            raise
        raise UsageError(f"cannot act as {role}: ask for sts:AssumeRole on it (the stack's setting "
                         "operator_principal_arns names who may)") from None
    return replace(targets, credentials=credentials)


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


def explain(failure: BaseException, targets: Targets | None) -> str:
    """One line for an AWS failure, with what to do when it is the connection or the credentials."""
    where = f"environment {targets.env}, region {targets.region}" if targets else "AWS"
    if isinstance(failure, botocore.exceptions.NoCredentialsError):
        return (f"no AWS credentials for {where}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY) for the account the stack is deployed in")
    if isinstance(failure, botocore.exceptions.EndpointConnectionError):
        if targets is not None and targets.emulator:
            return no_emulator(targets)
        return f"cannot reach {getattr(failure, 'kwargs', {}).get('endpoint_url', 'AWS')} ({where}): {failure}"
    return f"AWS call failed ({where}): {' '.join(str(failure).split())}"


def outcome(name: str, attempt: Callable[[], Any], targets: Callable[[], Targets | None] = lambda: None) -> int:
    """Run `attempt` and report as every ops command does: its result as JSON on stdout (exit 0), a
    mistake as one line `NAME: error: ...` (exit 2), an AWS or emulator failure as one line (exit 1)."""
    try:
        result = attempt()
    except UsageError as mistake:
        print(f"{name}: error: {mistake}", file=sys.stderr)
        return 2
    except Unreachable as failure:
        print(f"{name}: error: {failure}", file=sys.stderr)
        return 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as failure:
        print(f"{name}: error: {explain(failure, targets())}", file=sys.stderr)
        return 1
    if isinstance(result, int):
        return result
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


# ----- checks the commands share ----------------------------------------------------------------

def choice(value: str | None, known: Iterable[str], what: str) -> str | None:
    """`value` when it is one of `known` (None passes), else a UsageError naming the known ones."""
    known = list(known)
    if value is not None and value not in known:
        raise UsageError(f"unknown {what} {value!r} (known: {', '.join(known) or 'none'}){did_you_mean(value, known)}")
    return value


def webhook_providers() -> tuple[str, ...]:
    """The providers with signing secrets and webhook routes (paycore.providers; direct has none)."""
    from paycore.providers import webhook_names

    return webhook_names()


def time_ms(text: str, option: str) -> int:
    """An ISO-8601 date or date-time (UTC when it has no offset) as epoch milliseconds."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} must be an ISO-8601 date or date-time (e.g. 2026-11-28T06:00:00Z), "
                         f"got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def positive(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def read_text(path: str, option: str) -> str:
    """The stripped text of `path` (`-`: stdin); a missing, unreadable or empty file is a UsageError."""
    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{option}: no such file {path!r}") from None
        except (OSError, UnicodeDecodeError) as problem:
            raise UsageError(f"{option}: cannot read {path!r}: {getattr(problem, 'strerror', None) or problem}") from None
    value = text.strip()
    if not value:
        raise UsageError(f"{option}: {'stdin' if path == '-' else repr(path)} is empty")
    return value


def writable_file(path: str, option: str) -> Path:
    """A file a command will create: its folder must exist and be writable."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{option}: {path!r} is a folder; name a file")
    if not folder.is_dir():
        raise UsageError(f"{option}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option}: cannot write in {str(folder)!r}")
    return target


def not_deployed(targets: Targets, what: str) -> UsageError:
    return UsageError(f"{what} does not exist in {targets.region} (is the {targets.env} stack deployed"
                      f"{' to this emulator' if targets.emulator else ''}?)")


def queue_url(targets: Targets, name: str) -> str:
    sqs = targets.client("sqs")
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        raise not_deployed(targets, f"queue {name}") from None


def archive_bucket(targets: Targets) -> str:
    """The environment's archive bucket (its name holds the account, from STS); it must exist."""
    account = targets.client("sts").get_caller_identity()["Account"]
    bucket = str(targets.names.archive_bucket(account, targets.region))
    try:
        targets.client("s3").head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as failure:
        if failure.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            raise not_deployed(targets, f"archive bucket {bucket}") from None
        raise
    return bucket


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)
