"""Who may call what (lambda_src/README.md, "Who may call what: the hops"), checked on the synthesized
dev and prod stacks: every hop between two parts is derived from the stack (tests/hops.py), and for
each the caller's role (or the service principal) has the action on the resource, the resource's
own policy admits it where one is needed, and the KMS key lets that principal use it with what the
service documents it sends to KMS. moto checks none of these policies; this does. Broken copies of
the stack show that each kind of grant, taken away, fails its hop."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from hops import KMS_CONTEXT, Stack, hcl_object_to_json, hops, problems
from infra_synth import synth

ENVIRONMENTS = ["dev", "prod"]


def stack_json(environment: str) -> dict:
    return json.loads(synth(environment))


def failures(stack: Stack) -> dict[str, list[str]]:
    return {hop.name: found for hop in hops(stack) if (found := problems(stack, hop))}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_hop_of_the_stack_is_granted(environment):
    stack = Stack(stack_json(environment))
    assert failures(stack) == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_hops_cover_every_wiring_of_the_stack(environment):
    raw = stack_json(environment)
    found = Counter(hop.name.split()[0] for hop in hops(Stack(raw)))
    resources = raw["resource"]
    assert found["event"] == len(resources["aws_lambda_event_source_mapping"])
    assert found["pipe"] == 3 * len(resources["aws_pipes_pipe"])  # source, target, dead letters
    with_dlq = [t for t in resources["aws_cloudwatch_event_target"].values() if t.get("dead_letter_config")]
    assert found["rule"] == len(resources["aws_cloudwatch_event_target"]) + len(with_dlq)
    assert found["bus"] == 2  # its key, its dead-letter queue
    assert found["schedule"] == 2 * len(resources.get("aws_scheduler_schedule", {}))  # invoke, dead letters
    integrations = [i for i in resources["aws_api_gateway_integration"].values() if i["type"] != "MOCK"]
    assert found["API"] == len(integrations) + len(resources["aws_api_gateway_authorizer"])
    assert found["log"] == len(resources["aws_cloudwatch_log_group"])
    assert found["table"] == len(resources["aws_dynamodb_table"])
    assert found["access"] == len(resources["aws_s3_bucket_logging"])
    assert found["alarm"] >= 1 and found["role"] > 40
    assert sum(1 for h in hops(Stack(raw)) if "async" in h.name) == len(resources["aws_lambda_function_event_invoke_config"])


#: service statements no hop of dev or prod uses, each with the reason it stays
UNUSED_SERVICE_GRANTS = {
    ("sqs", "sns.amazonaws.com"): "SNS subscriptions of protocol sqs to the platform's own queues (settings "
                                  "vendor_subscriptions); dev and prod subscribe e-mail only",
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_service_statement_of_a_key_policy_serves_a_hop(environment):
    stack = Stack(stack_json(environment))
    used = set()
    for hop in hops(stack):
        if hop.principal.startswith("arn:"):
            continue
        key = hop.resource if ":kms:" in hop.resource else (stack.key_of(hop.resource) or ("",))[0]
        if key:
            used.add((stack.resolve(stack.resources["aws_kms_key"][key.rsplit("/", 1)[1]]["description"]).split()[1],
                      hop.principal))
    granted = set()
    for key in stack.resources["aws_kms_key"].values():
        data_class = key["description"].split()[1]
        for statement in stack.policy(key["policy"]):
            granted.update((data_class, service) for service in (statement.principals or {}).get("Service", []))
    assert granted - used == set(UNUSED_SERVICE_GRANTS)
    documented = {(data_class, service) for service, data_class in KMS_CONTEXT}
    assert granted <= documented, "a service uses a key: document what it sends to KMS (tests/hops.py)"


# ----- broken copies: each grant taken away fails its hop ----------------------------------------
def _key(raw: dict, data_class: str) -> dict:
    [key] = [k for k in raw["resource"]["aws_kms_key"].values() if k["description"].startswith(f"payments {data_class} ")]
    return key


def edit_key_policy(data_class: str, edit):
    def apply(raw: dict) -> None:
        key = _key(raw, data_class)
        policy = hcl_object_to_json(key["policy"][len("${jsonencode("):-2])
        edit(policy["Statement"])
        key["policy"] = "${jsonencode(" + json.dumps(policy) + ")}"
    return apply


def by_sid(sid: str):
    return lambda statements: next(s for s in statements if s["Sid"] == sid)


def drop_statement(sid: str):
    return lambda statements: statements.remove(by_sid(sid)(statements))


def edit_resource_policy(kind: str, logical_id: str, sid: str):
    """Drop statement `sid` from the policy document of resource policy `kind.logical_id`."""
    def apply(raw: dict) -> None:
        document = raw["resource"][kind][logical_id]["policy"].split(".")[2]
        statements = raw["data"]["aws_iam_policy_document"][document]["statement"]
        statements.remove(next(s for s in statements if s.get("sid") == sid))
    return apply


def drop_resource(kind: str, logical_id: str):
    return lambda raw: raw["resource"][kind].pop(logical_id)


def add_source_account_to_events_on_topics(statements):
    # the form before issue 23: SNS documents these keys as unsupported for EventBridge
    by_sid("EventBridgePublishesToTopics")(statements)["Condition"] = {
        "StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.caller.account_id}"}}


def add_source_account_to_the_api_queue_role(raw: dict) -> None:
    # what issue 25 asked for (item 5): API Gateway sends no source keys when it assumes an
    # integration's credentials role (tests/hops.py ASSUME_ROLE_CONTEXT), so every webhook would 500
    role = raw["resource"]["aws_iam_role"]["ingress_sqs-role_7FB439BD"]
    trust = json.loads(role["assume_role_policy"])
    trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": "${data.aws_caller_identity.caller.account_id}"}}
    role["assume_role_policy"] = json.dumps(trust)


def drop_ingest_sender(role_name: str):
    """The ingest queue's deny names the senders: take one off the list."""
    def apply(raw: dict) -> None:
        statements = raw["data"]["aws_iam_policy_document"]["ingest_policy-document_743B6278"]["statement"]
        [deny] = [s for s in statements if s.get("sid") == "DenySendersNotListed"]
        [condition] = deny["condition"]
        condition["values"] = [v for v in condition["values"] if not v.endswith(f":role/{role_name}")]
    return apply


def trust_lambda_instead_of_pipes(raw: dict) -> None:
    role = raw["resource"]["aws_iam_role"]["fanout_status-pipe-role_8BB947A9"]
    role["assume_role_policy"] = role["assume_role_policy"].replace("pipes.amazonaws.com", "lambda.amazonaws.com")


def scheduler_role_for_another_group(raw: dict) -> None:
    role = raw["resource"]["aws_iam_role"]["reconcile_scheduler-role_62B1C8F8"]
    role["assume_role_policy"] = role["assume_role_policy"].replace("schedule-group/payments-reconcile-dev",
                                                                    "schedule-group/someone-else")


BREAKAGES = {
    "sqs key without EventBridge": (
        edit_key_policy("sqs", drop_statement("EventBridgeSendsToQueues")),
        "rule payment-completed-dev -> payment-notifications-dev", "sqs key policy does not let events.amazonaws.com"),
    "sns key with a source condition for EventBridge": (
        edit_key_policy("sns", add_source_account_to_events_on_topics),
        "rule delivery-alerts-dev -> payment-alerts-dev", "sns key policy does not let events.amazonaws.com"),
    "notifications queue policy without the rule": (
        edit_resource_policy("aws_sqs_queue_policy", "notifications_policy_299A342F", "AllowEventsSend"),
        "rule payment-completed-dev -> payment-notifications-dev", "resource policy"),
    "bus DLQ policy without the bus": (
        edit_resource_policy("aws_sqs_queue_policy", "fanout_bus-dlq-policy_0C08A0C3", "AllowBusDeadLetters"),
        "bus payments-dev: dead-letter", "resource policy"),
    "events key without EventBridge": (
        edit_key_policy("events", drop_statement("EventBridgeEncryptsBusEvents")),
        "bus payments-dev: encrypt its events", "key policy does not let events.amazonaws.com"),
    "processor role without its queue policy": (
        drop_resource("aws_iam_role_policy", "compute_processor_consume-queue-policy_4CAF70B6"),
        "event source mapping webhooks-dev.fifo -> payment-processor-dev", "does not allow sqs:ReceiveMessage"),
    "authorizer without its invoke permission": (
        drop_resource("aws_lambda_permission", "ingress_invoke-authorizer_7F49F962"),
        "API authorizer payments-api-dev-webhook-key", "has no resource policy"),
    "archiver role without the archive key": (
        edit_resource_policy("aws_iam_role_policy", "compute_archiver_archive-policy_52DDB377", "ArchiveKey"),
        "role payment-archiver-dev-role: s3:PutObject", "does not allow kms:GenerateDataKey on the s3 key"),
    "sqs key that admits the account only through another service": (
        edit_key_policy("sqs", lambda statements: [statements.remove(by_sid("PlatformRolesUseKey")(statements)),
                                                   by_sid("AccountUsesKeyThroughService")(statements)["Condition"][
                                                       "StringEquals"].update({"kms:ViaService": "sns.us-east-1.amazonaws.com"})]),
        "event source mapping webhooks-dev.fifo -> payment-processor-dev", "sqs key policy does not let the role"),
    "log bucket policy without log delivery": (
        edit_resource_policy("aws_s3_bucket_policy", "archive_log-policy_41BF805F", "S3ServerAccessLogsDelivery"),
        "access logs payment-archive-dev-123456789012-us-east-1 -> payment-archive-dev-123456789012-us-east-1-logs",
        "resource policy"),
    "logs key without CloudWatch Logs": (
        edit_key_policy("logs", drop_statement("CloudWatchLogsEncryptsPlatformLogGroups")),
        "log group /aws/lambda/payment-processor-dev", "key policy does not let logs.us-east-1.amazonaws.com"),
    "status pipe role trusting the wrong service": (
        trust_lambda_instead_of_pipes, "pipe payments-status-dev: put events on the bus",
        "does not trust pipes.amazonaws.com"),
    "API queue role with source conditions API Gateway does not send": (
        add_source_account_to_the_api_queue_role, "API sqs-stripe -> webhooks-dev.fifo",
        "does not trust apigateway.amazonaws.com"),
    "ingest queue policy without the validator": (
        drop_ingest_sender("payment-validator-dev-role"), "role payment-validator-dev-role: sqs:SendMessage",
        "does not admit arn:aws:iam::123456789012:role/payment-validator-dev-role sqs:SendMessage (deny)"),
    "scheduler role trusting another schedule group": (
        scheduler_role_for_another_group, "schedule reconcile-stripe-dev -> payment-reconciler-dev",
        "does not trust scheduler.amazonaws.com"),
    "ingest queue policy without the reconciler": (
        drop_ingest_sender("payment-reconciler-dev-role"), "role payment-reconciler-dev-role: sqs:SendMessage",
        "(deny)"),
    "ingest queue policy without the operators": (
        drop_ingest_sender("payments-operator-dev"), "role payments-operator-dev: sqs:SendMessage",
        "(deny)"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_without_a_grant_fails_its_hop(breakage):
    edit, hop_name, problem = BREAKAGES[breakage]
    raw = stack_json("dev")
    assert hop_name not in failures(Stack(raw))
    copied = json.loads(json.dumps(raw))
    edit(copied)
    found = failures(Stack(copied))
    assert hop_name in found, f"{breakage}: the hop still passes; failing hops: {sorted(found)}"
    assert any(problem in p for p in found[hop_name]), found[hop_name]


# ----- who may send to the ingest queue ----------------------------------------------------------
INGEST_SENDERS = {"payments-api-{env}-sqs-send", "payment-validator-{env}-role", "payments-operator-{env}",
                  "payment-reconciler-{env}-role"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_api_the_validator_and_the_operators_may_send_to_the_ingest_queue(environment):
    from hops import ACCOUNT, decision

    stack = Stack(stack_json(environment))
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:webhooks-{environment}.fifo"
    policy = stack.resource_policy(queue)

    def verdict(role: str, action: str = "sqs:SendMessage") -> str:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        return decision(policy, arn, action, queue, {"aws:SecureTransport": "true", "aws:PrincipalArn": arn})

    senders = {name.format(env=environment) for name in INGEST_SENDERS}
    assert {role: verdict(role) for role in senders} == {role: "implicit" for role in senders}  # their own policies allow
    # every other principal of the account is refused, even one whose own policy allows sqs:SendMessage
    for other in (f"payment-processor-{environment}-role", f"payment-notify-{environment}-role", "Admin",
                  "OrganizationAccountAccessRole"):
        assert verdict(other) == "deny", other
    # ... while whoever administers the account still manages the queue
    for action in ("sqs:SetQueueAttributes", "sqs:GetQueueAttributes", "sqs:PurgeQueue", "sqs:DeleteQueue",
                   "sqs:ReceiveMessage"):
        assert verdict("Admin", action) == "implicit", action
    # and each sender's hop (its grant, the queue's policy, the key) is granted
    names = {hop.name for hop in hops(stack) if hop.resource == queue and "sqs:SendMessage" in hop.actions
             and not problems(stack, hop)}
    assert {f"role {role}: sqs:SendMessage" for role in senders - {f"payments-api-{environment}-sqs-send"}} <= names
    assert {f"API sqs-{provider} -> webhooks-{environment}.fifo" for provider in ("stripe", "paypal")} <= names


def test_the_api_queue_role_trusts_api_gateway_without_source_conditions_it_cannot_meet():
    roles = json.loads(synth("dev"))["resource"]["aws_iam_role"]
    [statement] = json.loads(roles["ingress_sqs-role_7FB439BD"]["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"} and "Condition" not in statement
