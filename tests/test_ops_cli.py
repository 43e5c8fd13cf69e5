"""scripts/ops (python -m scripts.ops): one CLI, targets from the environment's settings. Every command's --help
lists every option with help text; every mistake is one line on stderr (`ops: error: ...`) and exit code 2 with
nothing written, the same with --dry-run as without; an emulator environment works with no AWS credentials and
says how to start an emulator when none answers."""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from constructs.app.environments import environment_names, load_settings
from scripts.ops import cli as ops
from scripts.ops import command
from support import ROOT

ACCOUNT, REGION = "123456789012", "us-east-1"
NAMES = load_settings("dev", environ={}).names
BUCKET = NAMES.archive_bucket(ACCOUNT, REGION)
STRIPE_SECRET = "whsec_5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
PROVIDER_SECRETS = [f"{NAMES.secret_prefix}{p}/{kind}" for p in ("stripe", "paypal") for kind in ("signing", "gate-key")]
CURSOR_SECRET = f"{NAMES.secret_prefix}query/cursor-key"
INTERNAL_SECRET = NAMES.internal_key_secret


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "PAYMENTS_REGION",
                 "DELIVERY_ENDPOINTS", "PAYMENTS_LOCAL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # the region must come from the settings
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield


@pytest.fixture
def deployed(aws):
    """What the dev stack deploys that the commands use: queues, archive bucket, the secrets (without values),
    the deliveries table, queue and endpoint configuration."""
    sqs = boto3.client("sqs", region_name=REGION)
    urls = {name: sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if name.endswith(".fifo") else {})
            ["QueueUrl"] for name in (NAMES.ingest_queue, NAMES.ingest_dead_letter_queue, NAMES.notifications_queue,
                                      NAMES.notifications_dead_letter_queue, NAMES.deliveries_queue,
                                      NAMES.delivery_events_queue, NAMES.delivery_events_dead_letter_queue)}
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    sm = boto3.client("secretsmanager", region_name=REGION)
    for name in (*PROVIDER_SECRETS, CURSOR_SECRET, INTERNAL_SECRET):
        sm.create_secret(Name=name)
    ddb = boto3.client("dynamodb", region_name=REGION)
    keys = ("pk", "sk", "endpoint_key", "txn_key", "sort_key")
    ddb.create_table(TableName=NAMES.deliveries_table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=[
                         {"IndexName": index, "Projection": {"ProjectionType": "KEYS_ONLY"},
                          "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"},
                                        {"AttributeName": "sort_key", "KeyType": "RANGE"}]}
                         for index, pk in (("by-endpoint", "endpoint_key"), ("by-transaction", "txn_key"))])
    document = json.dumps(load_settings("dev", environ={}).delivery.document())
    boto3.client("ssm", region_name=REGION).put_parameter(Name=NAMES.delivery_endpoints_parameter, Value=document,
                                                          Type="String")
    return urls


def run(argv, capsys):
    code = ops.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def written_secrets() -> dict[str, str]:
    """Every secret that has a value: {name: value}."""
    sm = boto3.client("secretsmanager", region_name=REGION)
    found = {}
    for listed in sm.list_secrets()["SecretList"]:
        try:
            found[listed["Name"]] = sm.get_secret_value(SecretId=listed["Name"])["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            pass  # created by the stack, no value yet
    return found


def queued() -> dict[str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            ["Attributes"]["ApproximateNumberOfMessages"] for url in sqs.list_queues().get("QueueUrls", [])}


# ----- --help ---------------------------------------------------------------------------------------

def every_parser():
    return {parser.prog: parser for parser in ops.parsers(ops.build_parser())}


@pytest.mark.parametrize("prog", sorted(every_parser()))
def test_help_lists_every_option_and_subcommand_with_help_text(prog):
    parser = every_parser()[prog]
    text = parser.format_help()
    for action in command.options_of(parser):
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{prog}: subcommand {choice.dest} has no help text"
                assert re.search(rf"^\s+{re.escape(choice.dest)}\s", text, re.M), f"{prog}: {choice.dest} not listed"
            continue
        name = action.option_strings[0] if action.option_strings else action.metavar or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{prog}: {name} has no help text"
        assert name in text, f"{prog}: {name} missing from --help"


def test_every_command_has_target_options_before_or_after_it():
    for prog, parser in every_parser().items():
        options = {o for action in parser._actions for o in action.option_strings}
        assert {"--env", "--region", "--endpoint-url"} <= options, prog


def test_help_exits_0_and_shows_the_deliveries_actions(capsys):
    with pytest.raises(SystemExit) as done:
        ops.main(["deliveries", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for action in ("list", "attempts", "resend", "recover", "pause", "resume", "disable", "enable", "secret"):
        assert re.search(rf"^\s+{action}\s+\w", text, re.M), action


# ----- mistakes: one line, exit 2, nothing written ----------------------------------------------------

MISTAKES = [
    # (argv, part of the message); the files are made by the test: absent, empty, a sk_live key, not JSON
    ([], "the following arguments are required: COMMAND"),
    (["redrive"], "the following arguments are required: --env (one of dev, prod, local"),
    (["--env", "no-such-env", "redrive"], "unknown environment 'no-such-env' (cdktf.json defines:"),
    (["--env", "dve", "redrive"], "did you mean dev?"),
    (["--envv", "dev", "redrive"], "unrecognized arguments: --envv; did you mean --env? (see `python -m scripts.ops redrive"),
    (["--env", "dev", "reconcile", "--provider", "stripe"], "the following arguments are required: --since"),
    (["--env", "dev", "reconcile", "--provider", "stripe", "--since", "2026-11-28", "--chunk-minutes", "0"],
     "--chunk-minutes"),
    (["--env", "dev", "rdrive"], "invalid choice: 'rdrive'"),
    # secrets
    (["--env", "dev", "secrets"], "nothing to set: name --provider"),
    (["--env", "dev", "secrets", "--provider", "stripe"], "--provider stripe: give --signing-secret-file"),
    (["--env", "dev", "secrets", "--generate-gate-key"], "need --provider"),
    (["--env", "dev", "secrets", "--provider", "strpe", "--generate-gate-key"], "unknown provider 'strpe'"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-file", "x"],
     "unrecognized arguments: --signing-file; did you mean --signing-secret-file? (see `python -m scripts.ops secrets"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", "{absent}"],
     "--signing-secret-file: no such file"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", "{empty}"], "is empty"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", "{api_key}"],
     "the stripe signing secret must be a Stripe endpoint signing secret (whsec_"),
    (["--env", "dev", "secrets", "--provider", "paypal", "--signing-secret-file", "{api_key}"],
     "the paypal signing secret must be a PayPal webhook id"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--gate-key-file", "{short}"],
     "the gate key must be 20 to 256 URL-safe characters"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--gate-key-file", "{short}", "--generate-gate-key"],
     "not allowed with argument --gate-key-file"),
    (["--env", "dev", "secrets", "--cursor-key", "{short}"], "--cursor-key: the key must have at least 32 characters"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", "-", "--gate-key-file", "-"],
     "only one value can come from stdin"),
    (["--env", "prod", "secrets", "--cursor-key", "generate"],
     "secret payment-webhooks/prod/query/cursor-key does not exist in us-east-1 (is the prod stack deployed?)"),
    # redrive
    (["--env", "dev", "redrive", "--queue", "ingset"], "invalid choice: 'ingset' (choose from 'ingest', 'notifications', "
                                                       "'delivery-events'); did you mean ingest?"),
    (["--env", "dev", "redrive", "--max", "0"], "argument --max: must be a whole number >= 1, got '0'"),
    (["--env", "dev", "redrive", "--park"], "unrecognized arguments: --park"),
    (["--env", "prod", "redrive"], "queue webhooks-prod.fifo does not exist in us-east-1 (is the prod stack deployed?)"),
    # replay-archive
    (["--env", "dev", "replay-archive", "--from", "2026-11-28", "--to", "2026-11-29"],
     "the following arguments are required: --provider"),
    (["--env", "dev", "replay-archive", "--provider", "stripe", "--to", "2026-11-29"],
     "the following arguments are required: --from"),
    (["--env", "dev", "replay-archive", "--provider", "paypall", "--from", "2026-11-28", "--to", "2026-11-29"],
     "unknown provider 'paypall' (known: stripe, paypal); did you mean paypal?"),
    (["--env", "dev", "replay-archive", "--provider", "stripe", "--from", "yesterday", "--to", "2026-11-29"],
     "--from must be an ISO-8601 date or date-time"),
    (["--env", "dev", "replay-archive", "--provider", "stripe", "--from", "2026-11-29", "--to", "2026-11-28"],
     "--to (2026-11-28) is before --from (2026-11-29)"),
    (["--env", "prod", "replay-archive", "--provider", "stripe", "--from", "2026-11-28", "--to", "2026-11-29"],
     "does not exist in us-east-1 (is the prod stack deployed?)"),
    # replay-quarantine
    (["--env", "dev", "replay-quarantine", "--since", "last week"], "--since must be an ISO-8601"),
    (["--env", "dev", "replay-quarantine", "--provider", "adyen"], "unknown provider 'adyen'"),
    (["--env", "dev", "replay-quarantine", "--park"], "unrecognized arguments: --park; did you mean --parked?"),
    # deliveries
    (["--env", "dev", "deliveries"], "the following arguments are required: ACTION"),
    (["--env", "dev", "deliveries", "lst"], "invalid choice: 'lst'"),
    (["--env", "dev", "deliveries", "list"], "one of the arguments --transaction --vendor --endpoint is required"),
    (["--env", "dev", "deliveries", "list", "--vendor", "vendor-dmo"],
     "unknown vendor 'vendor-dmo' (known: vendor-demo); did you mean vendor-demo?"),
    (["--env", "dev", "deliveries", "list", "--endpoint", "ep-demo-main", "--since", "monday"],
     "--since must be an ISO-8601"),
    (["--env", "dev", "deliveries", "list", "--transaction", "pi_1", "--limit", "0"], "argument --limit"),
    (["--env", "dev", "deliveries", "attempts"], "the following arguments are required: MESSAGE_ID"),
    (["--env", "dev", "deliveries", "pause"], "the following arguments are required: --endpoint"),
    (["--env", "dev", "deliveries", "release"], "the following arguments are required: --endpoint"),
    (["--env", "dev", "deliveries", "release", "--endpoint", "ep-nope"], "unknown endpoint 'ep-nope' (known: ep-demo-main)"),
    (["--env", "dev", "deliveries", "pause", "--endpoint", "ep-nope"], "unknown endpoint 'ep-nope' (known: ep-demo-main)"),
    (["--env", "dev", "deliveries", "recover", "--endpoint", "ep-demo-main"], "required: --since"),
    (["--env", "dev", "deliveries", "recover", "--endpoint", "ep-demo-main", "--since", "yesterday"],
     "--since must be an ISO-8601"),
    (["--env", "dev", "deliveries", "secret", "create", "--endpoint", "ep-demo-main"], "required: --out"),
    (["--env", "dev", "deliveries", "secret", "create", "--endpoint", "ep-demo-main", "--out", "{absent}/secret.txt"],
     "--out: the folder"),
    (["--env", "dev", "deliveries", "secret", "rotate", "--endpoint", "ep-demo-main", "--out", "{folder}/s.txt"],
     "endpoint ep-demo-main has no signing secret yet"),
    (["--env", "dev", "deliveries", "secret", "rotate", "--endpoint", "ep-demo-main", "--out", "{folder}/s.txt",
      "--grace-hours", "-1"], "argument --grace-hours: must be a number of hours >= 0"),
    (["--env", "dev", "deliveries", "--endpoints-file", "{absent}", "list", "--vendor", "vendor-demo"],
     "--endpoints-file: no such file"),
    (["--env", "dev", "deliveries", "--endpoints-file", "{api_key}", "list", "--vendor", "vendor-demo"], "not JSON"),
    (["--env", "dev", "deliveries", "--endpoints-file", "{bad_endpoints}", "list", "--vendor", "vendor-demo"],
     "--endpoints-file"),
    (["--env", "prod", "deliveries", "release", "--endpoint", "ep-demo-main"],
     "parameter /payments/prod/delivery-endpoints does not exist in us-east-1 (is the prod stack deployed?)"),
    (["--env", "prod", "deliveries", "list", "--vendor", "vendor-demo"],
     "parameter /payments/prod/delivery-endpoints does not exist in us-east-1 (is the prod stack deployed?)"),
]


def with_files(argv, tmp_path):
    files = {"absent": tmp_path / "absent", "empty": tmp_path / "empty", "api_key": tmp_path / "api_key",
             "short": tmp_path / "short", "folder": tmp_path, "bad_endpoints": tmp_path / "endpoints.json"}
    files["empty"].write_text("\n")
    files["api_key"].write_text("sk_live_51Habcdefghijklmnop\n")
    files["short"].write_text("short\n")
    files["bad_endpoints"].write_text(json.dumps({"vendors": {"v": {"endpoints": [{"id": "e", "url": "http://x"}]}}}))
    return [part.format(**files) for part in argv]


def has_dry_run(argv) -> bool:
    """Whether the (sub)command the arguments name has --dry-run (then its mistake is made with it too)."""
    named = ops.named_parser(ops.build_parser(), argv)
    return any("--dry-run" in action.option_strings for action in named._actions)


@pytest.mark.parametrize("argv,message", MISTAKES, ids=[" ".join(a) or "nothing" for a, _ in MISTAKES])
def test_every_mistake_is_one_line_exit_2_and_writes_nothing_with_or_without_dry_run(
        deployed, capsys, tmp_path, monkeypatch, argv, message):
    argv = with_files(argv, tmp_path)
    before = (written_secrets(), queued())
    runs = [argv] + ([argv + ["--dry-run"]] if has_dry_run(argv) and "--dry-run" not in argv else [])
    errors = []
    for each in runs:
        monkeypatch.setattr("sys.stdin", open(os.devnull))
        code, out, err = run(each, capsys)
        assert code == 2, (each, err)
        assert err.startswith("ops: error: ") and err.count("\n") == 1 and out == "", err
        assert message in err, err
        errors.append(err)
    assert len(set(errors)) == 1, f"the dry run reports differently: {errors}"
    assert (written_secrets(), queued()) == before
    assert not (tmp_path / "s.txt").exists()


def test_the_mistakes_cover_every_command():
    named = {argv[2] for argv, _ in MISTAKES if len(argv) > 2 and argv[0] == "--env"}
    assert named >= {c.name for c in ops.COMMANDS}


def test_a_dry_run_with_a_missing_file_fails_like_the_real_run(deployed, capsys, tmp_path):
    argv = ["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", str(tmp_path / "whsec.txt")]
    real, dry = run(argv, capsys), run(argv + ["--dry-run"], capsys)
    assert real[0] == dry[0] == 2 and real[2] == dry[2] == f"ops: error: --signing-secret-file: no such file '{argv[-1]}'\n"


# ----- what the commands do -----------------------------------------------------------------------------

def test_secrets_dry_run_checks_and_names_what_it_would_write_and_writes_nothing(deployed, capsys, tmp_path):
    key_file = tmp_path / "signing"
    key_file.write_text(STRIPE_SECRET + "\n")
    code, out, _ = run(["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", str(key_file),
                        "--generate-gate-key", "--dry-run"], capsys)
    assert code == 0
    assert json.loads(out)["would_write"] == ["payment-webhooks/dev/stripe/signing", "payment-webhooks/dev/stripe/gate-key"]
    assert written_secrets() == {}


def test_secrets_are_written_under_the_environments_prefix_and_never_printed(deployed, capsys, tmp_path, monkeypatch):
    key_file = tmp_path / "signing"
    key_file.write_text(STRIPE_SECRET + "\n")
    monkeypatch.setattr("sys.stdin", open(key_file))
    code, out, err = run(["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", "-",
                          "--generate-gate-key", "--cursor-key", "generate"], capsys)
    assert code == 0, err
    values = written_secrets()
    assert sorted(values) == ["payment-webhooks/dev/query/cursor-key", "payment-webhooks/dev/stripe/gate-key",
                              "payment-webhooks/dev/stripe/signing"]
    assert json.loads(values["payment-webhooks/dev/stripe/signing"]) == {"current": STRIPE_SECRET}
    assert json.loads(out)["written"] == {name: "updated" for name in values}
    for value in values.values():
        assert json.loads(value)["current"] not in out + err  # values are never printed


def test_redrive_finds_the_queues_and_dry_run_moves_nothing(deployed, capsys):
    sqs = boto3.client("sqs", region_name=REGION)
    dlq, source = deployed[NAMES.ingest_dead_letter_queue], deployed[NAMES.ingest_queue]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d")
    code, out, _ = run(["--env", "dev", "redrive", "--dry-run"], capsys)
    assert code == 0
    report = json.loads(out)
    assert (report["dlq"], report["target"], report["waiting"], report["moved"]) == (dlq, source, 1, 0)
    code, out, _ = run(["--env", "dev", "redrive", "--no-park"], capsys)
    assert json.loads(out)["moved"] == 1


@pytest.mark.parametrize("queue", ["notifications", "delivery-events"])
def test_redrive_gives_a_domain_event_queue_back_its_events_and_parks_none(deployed, capsys, queue):
    """A vendor notification the notifier or the fan-out could not take goes back to its queue; one
    that failed again after a redrive goes back too (a standard queue: it holds no other back),
    never to the archive's parked/, which replay-quarantine reads as webhook envelopes."""
    sqs, s3 = boto3.client("sqs", region_name=REGION), boto3.client("s3", region_name=REGION)
    source_name, dlq_name = NAMES.redrivable_queues[queue]
    dlq, source = deployed[dlq_name], deployed[source_name]
    event = json.dumps({"detail-type": "TransactionStatusChanged", "detail": {"transaction_id": "pi_1"}})
    sqs.send_message(QueueUrl=dlq, MessageBody=event)
    sqs.send_message(QueueUrl=dlq, MessageBody=event, MessageAttributes={
        "redrive_count": {"DataType": "Number", "StringValue": "1"}})  # failed again after a redrive
    code, out, _ = run(["--env", "dev", "redrive", "--queue", queue], capsys)
    assert code == 0
    report = json.loads(out)
    assert (report["dlq"], report["target"], report["moved"], report["parked"]) == (dlq, source, 2, 0)
    moved = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert sorted(m["MessageAttributes"]["redrive_count"]["StringValue"] for m in moved) == ["1", "2"]
    assert {m["Body"] for m in moved} == {event}
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="parked/").get("KeyCount", 0) == 0


def test_replay_archive_derives_the_bucket_and_queue(deployed, capsys):
    code, out, _ = run(["--env", "dev", "replay-archive", "--provider", "stripe", "--from", "2026-11-28T00:00:00Z",
                        "--to", "2026-11-28T06:00:00Z", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"provider": "stripe", "found": 0, "sent": 0, "dry_run": True}


def test_options_after_the_command_work_as_before_it(deployed, capsys):
    before = run(["--env", "dev", "replay-quarantine", "--dry-run"], capsys)
    after = run(["replay-quarantine", "--dry-run", "--env", "dev"], capsys)
    assert before == after and before[0] == 0


def test_deliveries_act_on_the_names_the_stack_deploys(deployed, capsys, tmp_path):
    code, out, err = run(["--env", "dev", "deliveries", "list", "--vendor", "vendor-demo"], capsys)
    assert code == 0, err
    assert json.loads(out)["count"] == 0
    code, out, err = run(["--env", "dev", "deliveries", "pause", "--endpoint", "ep-demo-main", "--dry-run"], capsys)
    assert code == 0 and json.loads(out)["dry_run"] is True, out + err
    code, out, err = run(["--env", "dev", "deliveries", "release", "--endpoint", "ep-demo-main", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"endpoint_id": "ep-demo-main", "parked": 0, "released": 0, "dry_run": True,
                                             "endpoint_state": "active", "would_release": 0}, out + err
    code, out, err = run(["--env", "dev", "deliveries", "secret", "create", "--endpoint", "ep-demo-main",
                          "--out", str(tmp_path / "s.txt")], capsys)
    assert code == 0, err
    assert (tmp_path / "s.txt").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "s.txt").read_text().strip() not in out + err


def test_an_aws_failure_is_one_line_exit_1(capsys):
    def refused():
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "User: arn:aws:iam::1:user/x is not authorized\n"
                       "to perform: secretsmanager:PutSecretValue"}}, "PutSecretValue")

    assert command.outcome("ops", refused) == 1
    err = capsys.readouterr().err
    assert err.startswith("ops: error: AWS call failed (AWS): An error occurred (AccessDeniedException)")
    assert err.count("\n") == 1


DELIVERY_COMMANDS = ("list", "attempts", "resend", "recover", "pause", "resume", "disable", "enable", "release", "secret")


@pytest.mark.parametrize("command", DELIVERY_COMMANDS)
def test_every_deliveries_command_explains_itself_and_each_option(capsys, command):
    with pytest.raises(SystemExit) as done:
        ops.main(["--env", "dev", "deliveries", command, "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0 and text.startswith(f"usage: python -m scripts.ops deliveries {command} ")
    description, options = text.split("\n\n", 2)[1:3]
    assert len(description.split()) >= 8  # says what the command does
    lines = [line for line in options.splitlines()[1:] if line.strip()]
    undescribed = [line for line in lines if line.lstrip().startswith("-") and len(line.split()) <= 2]
    assert not undescribed, undescribed
    assert ("--dry-run" in text) == (command not in ("list", "attempts"))
    with pytest.raises(SystemExit):
        ops.main(["--env", "dev", "deliveries", "--help"])
    assert f"    {command} " in capsys.readouterr().out  # listed with its summary


def test_the_local_environment_targets_its_emulator_and_the_others_aws(aws):
    assert ops.resolve("local").endpoint_url == load_settings("local").local.endpoint_url
    assert ops.resolve("local", endpoint_url="http://127.0.0.1:4999").endpoint_url == "http://127.0.0.1:4999"
    assert ops.resolve("local").emulator and not ops.resolve("prod").emulator
    assert ops.resolve("prod").endpoint_url is None
    assert environment_names()  # cdktf.json lists environments


# ----- the emulator loop, as the README runs it: no AWS credentials in the shell ---------------------------------

def no_credentials(tmp_path, **extra) -> dict[str, str]:
    """A shell after `source scripts/env.sh` with no AWS credentials or configuration anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PAYMENTS_"))}
    return dict(env, HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
                AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), PYTHONPATH=str(ROOT), **extra)


def shell(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_ops_on_local_works_right_after_emulator_start_and_says_how_to_start_one_when_none_answers(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = no_credentials(tmp_path, PAYMENTS_EMULATOR_DIR=str(tmp_path / "emulator"))
    started = shell(["scripts.local.emulator", "start", "--port", str(port)], env)
    assert started.returncode == 0, started.stderr
    try:
        exports = dict(re.findall(r"^export (\w+)=(\S+)$", started.stdout, re.M))  # what `eval "$(...)"` sets
        looped = dict(env, **exports)
        secrets = ["scripts.ops", "--env", "local", "secrets", "--cursor-key", "generate"]
        missing = shell(secrets, looped)  # the stack is not deployed yet: the emulator answered, no credential error
        assert missing.returncode == 2 and missing.stderr == (
            "ops: error: secret payment-webhooks/local/query/cursor-key does not exist in us-east-1 "
            "(is the local stack deployed to this emulator?)\n")
        boto3.client("secretsmanager", endpoint_url=exports["PAYMENTS_LOCAL_ENDPOINT"], region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test").create_secret(
            Name="payment-webhooks/local/query/cursor-key")  # as `cdktf deploy local` does
        done = shell(secrets, looped)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["written"] == {"payment-webhooks/local/query/cursor-key": "updated"}
    finally:
        stopped = shell(["scripts.local.emulator", "stop"], env)
        assert stopped.returncode == 0, stopped.stderr
    gone = shell(secrets, looped)
    assert gone.returncode == 1 and gone.stderr == (
        f"ops: error: no emulator answers at http://127.0.0.1:{port} (environment local); start one with "
        f"`python -m scripts.local.emulator start --port {port}` (after `source scripts/env.sh`), or name another "
        "with --endpoint-url\n")


def test_no_aws_credentials_for_an_aws_environment_is_one_line_saying_what_to_set(tmp_path):
    run = shell(["scripts.ops", "--env", "dev", "redrive", "--dry-run"], no_credentials(tmp_path))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == ("ops: error: no AWS credentials for environment dev, region us-east-1: set AWS_PROFILE "
                          "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account the stack is deployed in\n")


# ----- the internal envelope key and the operator role (issue 25, item 2) ------------------------
def internal_key() -> dict:
    sm = boto3.client("secretsmanager", region_name=REGION)
    return json.loads(sm.get_secret_value(SecretId=INTERNAL_SECRET)["SecretString"])


def test_the_internal_key_is_generated_once_and_rotated_keeping_the_previous(deployed, capsys):
    from paycore import internal_envelope

    assert run(["--env", "dev", "secrets", "--internal-key", "generate"], capsys)[0] == 0
    first = internal_key()
    assert set(first) == {"current"} and internal_envelope.usable_keys(first) == [first["current"]]
    # generating again would drop the key the queued direct payments were signed with: refused, dry run too
    for dry_run in ([], ["--dry-run"]):
        code, out, err = run(["--env", "dev", "secrets", "--internal-key", "generate", *dry_run], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"ops: error: {INTERNAL_SECRET} already holds a key: `--internal-key rotate`")
        assert internal_key() == first
    code, out, _ = run(["--env", "dev", "secrets", "--internal-key", "rotate"], capsys)
    rotated = internal_key()
    assert code == 0 and rotated["previous"] == first["current"] != rotated["current"]
    assert json.loads(out) == {"written": {INTERNAL_SECRET: "updated"}, "rotate": True, "dry_run": False}
    assert first["current"] not in out and rotated["current"] not in out  # never printed


def test_the_internal_key_dry_run_writes_nothing(deployed, capsys):
    code, out, _ = run(["--env", "dev", "secrets", "--internal-key", "rotate", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"would_write": [INTERNAL_SECRET], "rotate": True, "dry_run": True}
    code, out, _ = run(["--env", "dev", "secrets", "--internal-key", "generate", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"would_write": [INTERNAL_SECRET], "rotate": False, "dry_run": True}
    assert written_secrets() == {}


def assumed_roles(monkeypatch) -> list[str]:
    """The roles the CLI's STS clients assume from now on."""
    asked: list[str] = []
    real = boto3.client

    def client(service, *args, **kwargs):
        made = real(service, *args, **kwargs)
        if service == "sts":
            assume = made.assume_role
            made.assume_role = lambda **kw: asked.append(kw["RoleArn"]) or assume(**kw)
        return made

    monkeypatch.setattr(boto3, "client", client)
    return asked


def test_the_replay_tools_act_as_the_operator_role_on_aws_and_as_the_caller_on_the_emulator(aws, monkeypatch):
    asked = assumed_roles(monkeypatch)
    operator = command.as_operator(ops.resolve("dev"))
    assert asked == [f"arn:aws:iam::{ACCOUNT}:role/payments-operator-dev"]
    assert operator.credentials and operator.credentials["AccessKeyId"] != "test"
    local = ops.resolve("local")
    assert command.as_operator(local) is local and len(asked) == 1


@pytest.mark.parametrize("argv", [
    ["redrive", "--dry-run"], ["replay-quarantine", "--dry-run"],
    ["replay-archive", "--provider", "stripe", "--from", "2026-11-28", "--to", "2026-11-29", "--dry-run"]])
def test_redrive_and_the_replays_assume_the_operator_role_dry_runs_too(deployed, capsys, monkeypatch, argv):
    asked = assumed_roles(monkeypatch)
    code, out, err = run(["--env", "dev", *argv], capsys)
    assert code == 0, err
    assert asked == [f"arn:aws:iam::{ACCOUNT}:role/payments-operator-dev"]


def test_a_refused_operator_role_is_one_line_saying_who_grants_it(deployed, capsys, monkeypatch):
    real = boto3.client

    def client(service, *args, **kwargs):
        made = real(service, *args, **kwargs)
        if service == "sts":
            def refuse(**_):
                raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")
            made.assume_role = refuse
        return made

    monkeypatch.setattr(boto3, "client", client)
    code, out, err = run(["--env", "dev", "redrive", "--dry-run"], capsys)
    assert code == 2 and out == "" and err == (
        f"ops: error: cannot act as arn:aws:iam::{ACCOUNT}:role/payments-operator-dev: ask for sts:AssumeRole on it "
        "(the stack's setting operator_principal_arns names who may)\n")


def test_replay_quarantine_verifies_with_the_environments_paypal_settings(aws):
    dev, prod = ops.resolve("dev"), ops.resolve("prod")
    assert dev.verification_environment["PAYPAL_MODE"] == "sandbox" and prod.verification_environment["PAYPAL_MODE"] == "live"
    with command.verifying_as_the_processor(dev):
        assert os.environ["PAYPAL_MODE"] == "sandbox"
    assert os.environ.get("PAYPAL_MODE") != "sandbox"


@pytest.mark.parametrize("argv,message", [
    (["reconcile", "--provider", "direct", "--since", "2026-11-28"], "no reconciler for provider 'direct'"),
    (["reconcile", "--provider", "stripe", "--since", "yesterday"], "--since must be an ISO-8601"),
    (["reconcile", "--provider", "stripe", "--since", "2026-11-28T02:00:00Z", "--until", "2026-11-28T01:00:00Z"],
     "--until must be after --since"),
    (["reconcile", "--provider", "stripe", "--since", "2001-01-01"], "older than the 30 days stripe lists events for"),
    (["reconcile", "--provider", "stripe", "--since", "2099-01-01T00:00:00Z", "--until", "2099-01-02T00:00:00Z"],
     "--until is in the future"),
])
def test_reconcile_mistakes_are_one_line_exit_2_before_anything_runs(aws, capsys, argv, message):
    code, out, err = run(["--env", "dev", *argv], capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""


def test_reconcile_invokes_the_reconciler_chunk_by_chunk_and_sums_the_counts(capsys, monkeypatch):
    import datetime as dt

    from scripts.ops import reconcile_backfill

    calls = []

    def invoker(client, function_name):
        def invoke(payload):
            calls.append((function_name, payload))
            return {"completed": True, "pages": 1, "listed": 3, "already_recorded": 2, "recovered": 1}
        return invoke

    monkeypatch.setattr(reconcile_backfill, "lambda_invoker", invoker)
    monkeypatch.setattr(ops.Targets, "client", lambda self, service: None)
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:00:00Z")
    code, out, err = run(["--env", "dev", "reconcile", "--provider", "paypal", "--since", since, "--dry-run"], capsys)
    result = json.loads(out)
    assert code == 0 and result["chunks"] == len(calls) >= 3 and result["recovered"] == len(calls)
    assert {name for name, _ in calls} == {"payment-reconciler-dev"}
    assert all(p["provider"] == "paypal" and p["dry_run"] is True and p["until"] - p["since"] <= 3600 for _, p in calls)
    assert [p["since"] for _, p in calls] == sorted(p["since"] for _, p in calls)


def test_a_failed_reconcile_chunk_stops_and_names_where_to_resume(capsys):
    from scripts.ops import reconcile_backfill

    answers = iter([{"completed": True, "recovered": 4}, {"errorMessage": "boom", "errorType": "SourceError"}])
    with pytest.raises(reconcile_backfill.BackfillError) as failed:
        reconcile_backfill.backfill(lambda payload: next(answers), provider="stripe", since_s=0, until_s=7200 * 2,
                                    chunk_minutes=60, dry_run=False)
    assert "resume with --since 3600" in str(failed.value) and '"recovered": 4' in str(failed.value)
