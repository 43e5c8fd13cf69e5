"""scripts/ops (python -m scripts.ops): one CLI, targets from the environment's settings; every user mistake is one line
on stderr and exit code 2 with nothing written; writes have --dry-run."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from constructs.app.environments import environment_names
from scripts.ops import cli as ops

ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET = f"payment-archive-dev-{ACCOUNT}-{REGION}"


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "PAYMENTS_REGION"):
        monkeypatch.delenv(name, raising=False)  # the region must come from the settings
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield


def deployed_queues():
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="webhooks-dev-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    source = sqs.create_queue(QueueName="webhooks-dev.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    return sqs, source, dlq


def run(argv, capsys):
    code = ops.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def secrets_written():
    return boto3.client("secretsmanager", region_name=REGION).list_secrets()["SecretList"]


@pytest.mark.parametrize("argv,message", [
    (["--env", "no-such-env", "redrive"],
     f"unknown environment 'no-such-env'; cdktf.json defines: {', '.join(environment_names())}"),
    (["--env", "dev", "secrets", "--provider", "strpe", "--generate-gate-key"], "unknown provider 'strpe'"),
    (["--env", "dev", "secrets", "--provider", "stripe", "--signing-file", "-"], "unrecognized arguments: --signing-file"),
    (["--env", "dev", "replay-archive", "--provider", "paypall", "--from", "2026-11-28", "--to", "2026-11-29"],
     "unknown provider 'paypall'"),
    (["--env", "dev", "replay-archive", "--provider", "stripe", "--from", "yesterday", "--to", "2026-11-29"],
     "--from must be an ISO-8601 date or date-time"),
    (["--env", "dev", "replay-quarantine", "--since", "last week"], "--since must be an ISO-8601"),
    (["--env", "dev", "replay-quarantine", "--provider", "adyen"], "unknown provider 'adyen'"),
    (["--env", "dev", "redrive"], "queue webhooks-dev.fifo does not exist in us-east-1"),
    (["--env", "dev", "redrive", "--queue", "ingset"], "argument --queue: invalid choice: 'ingset'"),
    (["--env", "dev"], "the following arguments are required: command"),
    (["--env", "dev", "deliveries"], "the following arguments are required: COMMAND"),
    (["--env", "dev", "deliveries", "release"], "the following arguments are required: --endpoint"),
    (["--env", "dev", "deliveries", "release", "--endpoint", "ep-demo-main", "--dry-run"],
     "SSM parameter /payments/dev/delivery-endpoints does not exist (is the stack deployed? or give --endpoints-file)"),
    (["--env", "dev", "deliveries", "recover", "--endpoint", "ep-demo-main", "--since", "last week"],
     "argument --since: must be an ISO-8601 date or time"),
])
def test_user_mistakes_are_one_line_exit_2_and_write_nothing(aws, capsys, argv, message):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    assert secrets_written() == []


def test_secrets_dry_run_names_what_it_would_write_and_writes_nothing(aws, capsys, tmp_path):
    key_file = tmp_path / "signing"
    key_file.write_text("whsec_from_the_stripe_dashboard_0001\n")
    code, out, _ = run(["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", str(key_file),
                        "--generate-gate-key", "--dry-run"], capsys)
    assert code == 0
    assert json.loads(out)["would_write"] == ["payment-webhooks/dev/stripe/signing", "payment-webhooks/dev/stripe/gate-key"]
    assert secrets_written() == []


def test_secrets_are_written_under_the_environments_prefix_in_its_region(aws, capsys, tmp_path):
    key_file = tmp_path / "signing"
    key_file.write_text("whsec_from_the_stripe_dashboard_0001\n")
    code, out, _ = run(["--env", "dev", "secrets", "--provider", "stripe", "--signing-secret-file", str(key_file),
                        "--generate-gate-key"], capsys)
    assert code == 0
    assert sorted(s["Name"] for s in secrets_written()) == ["payment-webhooks/dev/stripe/gate-key",
                                                            "payment-webhooks/dev/stripe/signing"]
    assert "whsec_from_the_stripe_dashboard_0001" not in out  # values are never printed


def test_redrive_finds_the_queues_and_dry_run_moves_nothing(aws, capsys):
    sqs, source, dlq = deployed_queues()
    sqs.send_message(QueueUrl=dlq, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d")
    code, out, _ = run(["--env", "dev", "redrive", "--no-park", "--dry-run"], capsys)
    assert code == 0
    report = json.loads(out)
    assert (report["dlq"], report["target"], report["waiting"], report["moved"]) == (dlq, source, 1, 0)
    code, out, _ = run(["--env", "dev", "redrive", "--no-park"], capsys)
    assert json.loads(out)["moved"] == 1


def test_replay_archive_derives_the_bucket_and_queue(aws, capsys):
    deployed_queues()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    code, out, _ = run(["--env", "dev", "replay-archive", "--provider", "stripe", "--from", "2026-11-28T00:00:00Z",
                        "--to", "2026-11-28T06:00:00Z", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"provider": "stripe", "found": 0, "sent": 0, "dry_run": True}


def test_an_aws_failure_is_one_line_exit_1(aws, capsys):
    deployed_queues()  # but no bucket: the stack is half there
    code, out, err = run(["--env", "dev", "replay-quarantine", "--dry-run"], capsys)
    assert code == 1 and "ops: AWS call failed" in err and "NoSuchBucket" in err and err.count("\n") == 1


def test_deliveries_act_on_the_names_the_stack_deploys(aws, capsys):
    from constructs.app.environments import load_settings

    names = load_settings("dev", environ={}).names
    ddb = boto3.client("dynamodb", region_name=REGION)
    keys = ("pk", "sk", "endpoint_key", "txn_key", "sort_key")
    ddb.create_table(TableName=names.deliveries_table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=[
                         {"IndexName": index, "Projection": {"ProjectionType": "KEYS_ONLY"},
                          "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"},
                                        {"AttributeName": "sort_key", "KeyType": "RANGE"}]}
                         for index, pk in (("by-endpoint", "endpoint_key"), ("by-transaction", "txn_key"))])
    boto3.client("sqs", region_name=REGION).create_queue(QueueName=names.deliveries_queue, Attributes={"FifoQueue": "true"})
    document = json.dumps(load_settings("dev", environ={}).delivery.document())
    boto3.client("ssm", region_name=REGION).put_parameter(Name=names.delivery_endpoints_parameter, Value=document,
                                                          Type="String")
    code, out, err = run(["--env", "dev", "deliveries", "list", "--vendor", "vendor-demo"], capsys)
    assert code == 0, err
    assert json.loads(out)["count"] == 0
    code, out, err = run(["--env", "dev", "deliveries", "pause", "--endpoint", "ep-demo-main", "--dry-run"], capsys)
    assert code == 0 and json.loads(out)["dry_run"] is True, out + err


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
    from constructs.app.environments import load_settings

    assert ops.resolve("local").endpoint_url == load_settings("local").local.endpoint_url
    assert ops.resolve("local", endpoint_url="http://127.0.0.1:4999").endpoint_url == "http://127.0.0.1:4999"
    assert ops.resolve("prod").endpoint_url is None


# ----- the internal envelope key and the operator role (issue 25, item 2) ------------------------
def internal_key() -> dict:
    sm = boto3.client("secretsmanager", region_name=REGION)
    return json.loads(sm.get_secret_value(SecretId="payment-webhooks/dev/internal/envelope-key")["SecretString"])


def test_the_internal_key_is_generated_once_and_rotated_keeping_the_previous(aws, capsys):
    from paycore import internal_envelope

    assert run(["--env", "dev", "secrets", "--internal-key", "generate"], capsys)[0] == 0
    first = internal_key()
    assert set(first) == {"current"} and internal_envelope.usable_keys(first) == [first["current"]]
    # generating again would drop the key the queued direct payments were signed with: refused
    code, _, err = run(["--env", "dev", "secrets", "--internal-key", "generate"], capsys)
    assert code != 0 and "already holds a key" in err and internal_key() == first
    code, out, _ = run(["--env", "dev", "secrets", "--internal-key", "rotate"], capsys)
    rotated = internal_key()
    assert code == 0 and rotated["previous"] == first["current"] != rotated["current"]
    assert first["current"] not in out and rotated["current"] not in out  # never printed


def test_the_internal_key_dry_run_writes_nothing_and_it_is_set_on_its_own(aws, capsys):
    code, out, _ = run(["--env", "dev", "secrets", "--internal-key", "rotate", "--dry-run"], capsys)
    assert code == 0 and json.loads(out) == {"would_write": ["payment-webhooks/dev/internal/envelope-key"],
                                             "rotate": True, "dry_run": True}
    code, _, err = run(["--env", "dev", "secrets", "--internal-key", "rotate", "--cursor-key", "generate"], capsys)
    assert code == 2 and "set --internal-key on its own" in err
    assert secrets_written() == []


def test_the_replay_tools_act_as_the_operator_role_on_aws_and_as_the_caller_on_the_emulator(aws, monkeypatch):
    asked = []
    real = boto3.client

    def client(service, *args, **kwargs):
        made = real(service, *args, **kwargs)
        if service == "sts":
            assume = made.assume_role
            made.assume_role = lambda **kw: asked.append(kw["RoleArn"]) or assume(**kw)
        return made

    monkeypatch.setattr(boto3, "client", client)
    operator = ops.as_operator(ops.resolve("dev"))
    assert asked == [f"arn:aws:iam::{ACCOUNT}:role/payments-operator-dev"]
    assert operator.credentials and operator.credentials["AccessKeyId"] != "test"
    local = ops.resolve("local")
    assert ops.as_operator(local) is local and len(asked) == 1


def test_replay_quarantine_verifies_with_the_environments_paypal_settings(aws):
    import os

    dev, prod = ops.resolve("dev"), ops.resolve("prod")
    assert dev.verification_environment["PAYPAL_MODE"] == "sandbox" and prod.verification_environment["PAYPAL_MODE"] == "live"
    with ops.verifying_as_the_processor(dev):
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
