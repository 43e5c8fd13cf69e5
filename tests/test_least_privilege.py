"""Least privilege measured on the synthesized policies (issue 11): every role's allowed actions,
read back from the synthesized JSON, must equal its allow-list below, so a new permission is a
reviewed diff of this file. Plus the resource scoping no action list shows (who may write the
ledger, which secrets a function reads) and the stack-side contract of the runtime (reserved
environment names, the cursor key secret)."""

import json

import pytest

from constructs.app.environments import load_settings
from constructs.app.settings import ApiSettings, SettingsError
from constructs.configuration import Configuration
from iam_actions import role_permissions
from infra_synth import resources, small_stack, synth

ENI = {"ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
       "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"}
# every function: logs, X-Ray, the async failure queue, environment decryption, ENIs in the VPC
FUNCTION_BASE = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
                 "sqs:SendMessage", "kms:Decrypt", "kms:GenerateDataKey"} | ENI  # the failure queue is KMS-encrypted
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
STREAM = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

# role name (with "{env}") -> (allowed actions, attached managed policies)
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "payment-authorizer-{env}-role": (FUNCTION_BASE | {"secretsmanager:GetSecretValue"}, set()),
    # signs with the internal envelope key; binds Idempotency-Keys (reads the ledger, writes its own table)
    "payment-validator-{env}-role": (FUNCTION_BASE | {"kms:GenerateDataKey", "secretsmanager:GetSecretValue",
                                                      "dynamodb:Query", "dynamodb:PutItem"}, set()),
    "payment-processor-{env}-role": (FUNCTION_BASE | CONSUME | {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "s3:PutObject",
        "secretsmanager:GetSecretValue", "kms:GenerateDataKey"}, set()),
    "payment-archiver-{env}-role": (FUNCTION_BASE | {"s3:PutObject", "kms:GenerateDataKey"}, set()),
    "payment-notifier-{env}-role": (FUNCTION_BASE | CONSUME | {
        "sns:Publish", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "kms:GenerateDataKey"}, set()),
    "payment-reader-{env}-role": (FUNCTION_BASE | {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem",
                                                   "secretsmanager:GetSecretValue"}, set()),
    "payment-status-{env}-role": (FUNCTION_BASE | {"dynamodb:GetItem"}, set()),
    "payment-notify-{env}-role": (FUNCTION_BASE | {"dynamodb:GetItem", "kms:GenerateDataKey"}, set()),
    # reads the ledger's event claims, keeps its checkpoints, signs fetched envelopes (paycore.reconcile)
    "payment-reconciler-{env}-role": (FUNCTION_BASE | {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem",
                                                       "secretsmanager:GetSecretValue"}, set()),
    # EventBridge Scheduler invokes the reconciler; its dead-letter queue (constructs/reconcile)
    "payments-reconcile-scheduler-{env}": ({"lambda:InvokeFunction", "sqs:SendMessage", "kms:GenerateDataKey",
                                            "kms:Decrypt"}, set()),
    "payments-api-{env}-sqs-send": ({"sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"}, set()),
    "payments-api-{env}-cloudwatch": (set(), {
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}),
    "payments-archive-{env}-pipe": (STREAM | {"lambda:InvokeFunction", "sqs:SendMessage", "kms:Decrypt",
                                              "kms:GenerateDataKey"}, set()),
    "payments-status-{env}-pipe": (STREAM | {"events:PutEvents", "sqs:SendMessage", "kms:Decrypt",
                                             "kms:GenerateDataKey"}, set()),
    # vendor delivery (lambda_src/README.md, "Infrastructure contract"; scopes in tests/test_delivery.py)
    "delivery-fanout-{env}-role": (FUNCTION_BASE | {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                                    "ssm:GetParameter"}, set()),
    "delivery-sender-{env}-role": (FUNCTION_BASE | CONSUME | {
        "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "events:PutEvents", "secretsmanager:GetSecretValue", "ssm:GetParameter"}, set()),
    "payments-{env}-flow-logs": ({"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}, set()),
    # the replay and redrive tools (constructs/app/operator.py)
    "payments-operator-{env}": ({"sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
                                 "sqs:DeleteMessage", "sqs:ListDeadLetterSourceQueues", "s3:ListBucket",
                                 "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:PutObject",
                                 "secretsmanager:GetSecretValue", "kms:GenerateDataKey", "kms:Decrypt",
                                 "lambda:InvokeFunction"}, set()),
    "payments-{env}-nat": (set(), {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}),
}


def stack_json(environment: str) -> dict:
    return json.loads(synth(environment))


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_role_allows_exactly_its_reviewed_actions(environment):
    found = role_permissions(stack_json(environment))
    expected = {name.format(env=environment): allowed for name, allowed in ALLOWED.items()}
    assert sorted(found) == sorted(expected), "a role was added or removed: review it and update ALLOWED"
    for name, (actions, managed) in expected.items():
        extra, missing = found[name]["actions"] - actions, actions - found[name]["actions"]
        assert not extra and not missing, f"{name}: not allowed {sorted(extra)}, no longer used {sorted(missing)}"
        assert found[name]["managed"] == managed, name


def statements_of(stack: dict, role_name: str) -> list[dict]:
    """The Allow statements of a role's inline policies (policy documents only)."""
    res = stack["resource"]
    roles = {logical for logical, role in res["aws_iam_role"].items() if role["name"] == role_name}
    documents = stack["data"]["aws_iam_policy_document"]
    found = []
    for policy in res["aws_iam_role_policy"].values():
        # "${aws_iam_role.<id>.id}" and "${data.aws_iam_policy_document.<id>.json}"
        if policy["role"].split(".")[1] in roles and policy["policy"].startswith("${data."):
            found.extend(documents[policy["policy"].split(".")[2]]["statement"])
    return found


def test_only_the_processor_writes_the_ledger_and_the_notifier_never_touches_it():
    stack = stack_json("dev")
    ledger = "${aws_dynamodb_table.ledger_table_BE9C0D06.arn}"
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writers = sorted(name.format(env="dev") for name in ALLOWED
                     if any(writes & set(s["actions"]) and ledger in s["resources"]
                            for s in statements_of(stack, name.format(env="dev"))))
    assert writers == ["payment-processor-dev-role"]
    notifier = statements_of(stack, "payment-notifier-dev-role")
    assert not [s for s in notifier if any(ledger in r for r in s["resources"])]
    [markers] = [s for s in notifier if s.get("sid") == "NotificationMarkers"]
    assert markers["resources"] == ["${aws_dynamodb_table.notification-markers_table_0F3C2569.arn}"]


def test_notification_markers_have_their_own_small_table_with_a_ttl():
    table = resources(synth("dev"), "aws_dynamodb_table")["notification-markers_table_0F3C2569"]
    assert table["name"] == "payment-notification-markers-dev" and table["billing_mode"] == "PAY_PER_REQUEST"
    assert (table["hash_key"], table["range_key"]) == ("transaction_id", "marker")
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"]["enabled"] and table["server_side_encryption"]["enabled"]
    notifier = resources(synth("dev"), "aws_lambda_function")
    [environment] = [f["environment"]["variables"] for f in notifier.values()
                     if f["function_name"] == "payment-notifier-dev"]
    assert environment["NOTIFY_MARKERS_TABLE"] == "${aws_dynamodb_table.notification-markers_table_0F3C2569.name}"
    assert "TABLE_NAME" not in environment


def test_the_reader_reads_only_the_cursor_key_secret_through_secrets_manager():
    stack = stack_json("dev")
    secret = stack["resource"]["aws_secretsmanager_secret"]["configuration_secret-query-cursor-key_555F18E8"]
    assert secret["name"] == "payment-webhooks/dev/query/cursor-key"
    assert secret["recovery_window_in_days"] == 0 and "security_secrets-key" in secret["kms_key_id"]
    assert not resources(synth("dev"), "aws_secretsmanager_secret_version")  # the value stays out of state
    reader = statements_of(stack, "payment-reader-dev-role")
    [read] = [s for s in reader if s.get("sid") == "CursorKeySecret"]
    assert read["actions"] == ["secretsmanager:GetSecretValue"]
    assert read["resources"] == ["${aws_secretsmanager_secret.configuration_secret-query-cursor-key_555F18E8.arn}"]
    [decrypt] = [s for s in reader if s.get("sid") == "SecretKeys"]
    assert decrypt["condition"] == [{"test": "StringEquals", "variable": "kms:ViaService",
                                     "values": ["secretsmanager.${data.aws_region.region.name}.amazonaws.com"]}]
    functions = resources(synth("dev"), "aws_lambda_function")
    [environment] = [f["environment"]["variables"] for f in functions.values()
                     if f["function_name"] == "payment-reader-dev"]
    assert environment["SECRET_PREFIX"] == "payment-webhooks/dev/"


def test_prod_cursor_key_keeps_the_30_day_recovery_window():
    secrets = resources(synth("prod"), "aws_secretsmanager_secret")
    assert secrets["configuration_secret-query-cursor-key_555F18E8"]["recovery_window_in_days"] == 30


def test_no_function_reads_secret_metadata():
    documents = json.loads(synth("dev"))["data"]["aws_iam_policy_document"]
    readers = [name for name, document in documents.items() if "secretsmanager:DescribeSecret" in json.dumps(document)]
    assert len(readers) == 1 and readers[0].startswith("delivery_ops-policy-document")  # people, not functions


def test_processor_gets_the_paypal_replay_window_and_never_a_trust_store():
    functions = resources(synth("dev", paypal_max_transmission_age_seconds=3600), "aws_lambda_function")
    for function in functions.values():
        assert "PAYPAL_TRUST_STORE" not in function["environment"]["variables"]
    [processor] = [f for f in functions.values() if f["function_name"] == "payment-processor-dev"]
    assert processor["environment"]["variables"]["PAYPAL_MAX_TRANSMISSION_AGE_SECONDS"] == "3600"


@pytest.mark.parametrize("environment,mode", [("dev", "sandbox"), ("prod", "live")])
def test_processor_gets_the_environments_paypal_mode(environment, mode):
    functions = resources(synth(environment), "aws_lambda_function")
    [processor] = [f for f in functions.values() if f["function_name"] == f"payment-processor-{environment}"]
    assert processor["environment"]["variables"]["PAYPAL_MODE"] == mode


def test_the_validator_and_the_processor_read_the_internal_envelope_key_and_nobody_else_does():
    stack = stack_json("dev")
    secret = "${aws_secretsmanager_secret.configuration_secret-internal-envelope-key_3546D25D.arn}"
    assert stack["resource"]["aws_secretsmanager_secret"]["configuration_secret-internal-envelope-key_3546D25D"][
        "name"] == "payment-webhooks/dev/internal/envelope-key"
    readers = sorted(name.format(env="dev") for name in ALLOWED
                     if any(secret in s["resources"] for s in statements_of(stack, name.format(env="dev"))))
    # the reconciler signs the fetched envelopes it enqueues (paycore.fetched)
    assert readers == ["payment-processor-dev-role", "payment-reconciler-dev-role", "payment-validator-dev-role",
                       "payments-operator-dev"]


def test_fails_when_the_stack_would_set_the_paypal_trust_store():
    with pytest.raises(ValueError, match=r"values must not set \['PAYPAL_TRUST_STORE'\]"):
        Configuration(small_stack(), "configuration", environment="dev", parameter_prefix="/payments/dev/",
                      secret_prefix="payment-webhooks/dev/", providers=["stripe"],
                      values={"TABLE_NAME": "t", "PAYPAL_TRUST_STORE": "/tmp/ca.pem"},
                      secrets_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/x")


def test_api_gateway_cloudwatch_role_trusts_only_this_account():
    roles = resources(synth("dev"), "aws_iam_role")
    [role] = [r for r in roles.values() if r["name"] == "payments-api-dev-cloudwatch"]
    [statement] = json.loads(role["assume_role_policy"])["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.caller.account_id}"}}


def test_api_gateway_account_logging_is_opt_in():
    # the schema's default is off; cdktf.json turns it on where the stack owns the account's logging
    assert ApiSettings().manage_account_logging is False
    assert resources(synth("dev"), "aws_api_gateway_account")
    off = synth("dev", api={"manage_account_logging": False})
    assert not resources(off, "aws_api_gateway_account")
    assert not [r for r in resources(off, "aws_iam_role").values() if r["name"].endswith("-cloudwatch")]


@pytest.mark.parametrize("overrides, message", [
    ({"paypal_max_transmission_age_seconds": 10}, r"paypal_max_transmission_age_seconds: must be 300\.\.2592000"),
    ({"kms_admin_principal_arns": ["admins"]}, r"kms_admin_principal_arns\[0\]: must be an IAM principal ARN"),
    ({"archive": {"object_lock_mode": "LEGAL"}}, "archive.object_lock_mode: must be one of GOVERNANCE, COMPLIANCE"),
    ({"archive": {"object_lock_retention_days": 9999}}, r"archive.object_lock_retention_days: must be 0"),
])
def test_fails_when_an_issue_11_setting_is_out_of_range(overrides, message):
    with pytest.raises(SettingsError, match=message):
        load_settings("dev", overrides, environ={})


def test_the_reconciler_reads_claims_writes_only_its_checkpoints_and_sends_only_to_the_ingest_queue():
    stack = stack_json("dev")
    statements = {s.get("sid"): s for s in statements_of(stack, "payment-reconciler-dev-role")}
    assert statements["LedgerClaims"]["actions"] == ["dynamodb:BatchGetItem"]
    assert statements["LedgerClaims"]["resources"] == ["${aws_dynamodb_table.ledger_table_BE9C0D06.arn}"]
    assert statements["Checkpoints"]["resources"] == ["${aws_dynamodb_table.reconcile_checkpoints_4404F0CB.arn}"]
    [ingest] = statements["SendFetched"]["resources"]
    assert ingest.startswith("${aws_sqs_queue.ingest_") and statements["SendFetched"]["actions"] == ["sqs:SendMessage"]
    trust = json.loads(resources(synth("dev"), "aws_iam_role")["reconcile_scheduler-role_62B1C8F8"]["assume_role_policy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}
    group = statement["Condition"]["ArnLike"]["aws:SourceArn"][0]
    assert group.endswith(":schedule-group/payments-reconcile-dev")
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == [group, f"{group}/*"]
