"""KMS keys per data class: rotation, deletion window, aliases, and key policies that separate
administration (the admin principals, default the account root) from use (the platform's roles,
the account only through the data class's service, and exactly the services that need a key)."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey

from constructs.security import ADMIN_ACTIONS, DATA_CLASSES, USE_ACTIONS, Security
from infra_synth import resources, small_stack, synth

ROLES = ["arn:aws:iam::123456789012:role/payment-processor-dev-role"]
GROUPS = ["/aws/lambda/payment-processor-dev", "aws-waf-logs-payments-dev"]


def make_security(**overrides) -> Security:
    args = dict(environment="dev", account_id="123456789012", partition="aws", region="us-east-1",
                deletion_window_in_days=7)
    args.update(overrides)
    security = Security(small_stack(), "security", **args)
    security.allow_platform(role_arns=ROLES, log_group_names=GROUPS)
    return security


def by_sid(policy: dict, sid: str) -> dict:
    [found] = [s for s in policy["Statement"] if s["Sid"] == sid]
    return found


def service_principals(policy: dict) -> set[str]:
    found = set()
    for statement in policy["Statement"]:
        services = statement["Principal"].get("Service", [])
        found.update([services] if isinstance(services, str) else services)
    return found


def test_every_data_class_has_a_rotating_key_with_its_alias():
    out = synth("dev")
    for data_class in DATA_CLASSES:
        assert Testing.to_have_resource_with_properties(out, KmsKey.TF_RESOURCE_TYPE, {
            "description": f"payments {data_class} data (dev)", "enable_key_rotation": True,
            "deletion_window_in_days": 7,
        })
        assert Testing.to_have_resource_with_properties(out, KmsAlias.TF_RESOURCE_TYPE,
                                                        {"name": f"alias/payments-{data_class}-dev"})
    assert len(resources(out, KmsKey.TF_RESOURCE_TYPE)) == len(DATA_CLASSES)
    assert not Testing.to_have_resource_with_properties(out, KmsKey.TF_RESOURCE_TYPE, {"enable_key_rotation": False})


def test_prod_keys_wait_30_days_before_deletion():
    out = synth("prod")
    assert Testing.to_have_resource_with_properties(out, KmsKey.TF_RESOURCE_TYPE, {"deletion_window_in_days": 30})
    assert not Testing.to_have_resource_with_properties(out, KmsKey.TF_RESOURCE_TYPE, {"deletion_window_in_days": 7})


def test_account_and_partition_come_from_data_sources_not_literals():
    out = synth("dev")
    assert Testing.to_have_data_source_with_properties(out, "aws_caller_identity", {})
    assert Testing.to_have_data_source_with_properties(out, "aws_partition", {})
    policies = [key["policy"] for key in resources(out, KmsKey.TF_RESOURCE_TYPE).values()]
    assert all("data.aws_caller_identity" in p and "data.aws_partition" in p for p in policies)
    assert "123456789012" not in json.dumps(policies)


def test_admins_administer_every_key_but_cannot_use_it():
    security = make_security()
    for data_class in DATA_CLASSES:
        policy = security.key_policy(data_class)
        admin = by_sid(policy, "KeyAdministration")
        assert admin["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]} and admin["Action"] == ADMIN_ACTIONS
        assert not {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"} & set(admin["Action"])
        assert all(s["Action"] != "kms:*" and "kms:*" not in s["Action"] for s in policy["Statement"])


def test_admin_principals_are_a_setting():
    admins = ["arn:aws:iam::123456789012:role/key-admins"]
    policy = make_security(admin_principal_arns=admins).key_policy("s3")
    assert by_sid(policy, "KeyAdministration")["Principal"] == {"AWS": admins}
    out = synth("dev", kms_admin_principal_arns=admins)
    assert all("role/key-admins" in key["policy"] for key in resources(out, KmsKey.TF_RESOURCE_TYPE).values())


def test_key_use_is_for_the_platforms_roles_and_the_account_only_through_the_service():
    policy = make_security().key_policy("secrets")
    roles = by_sid(policy, "PlatformRolesUseKey")
    assert roles["Action"] == USE_ACTIONS and roles["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ROLES}}
    via = by_sid(policy, "AccountUsesKeyThroughService")
    assert via["Condition"] == {"StringEquals": {"kms:CallerAccount": "123456789012",
                                                 "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    # every statement that lets the account root's principals use the key carries a condition
    uses = [s for s in policy["Statement"] if set(s["Action"]) & set(USE_ACTIONS)]
    assert uses and all("Condition" in s for s in uses)


def test_the_stack_names_the_roles_that_use_keys_in_the_key_policies_and_no_other():
    out = synth("dev")
    roles = resources(out, "aws_iam_role")
    users = {logical for logical, role in roles.items()
             if role["name"].endswith(("-role", "-pipe", "-sqs-send", "-operator-dev", "-reconcile-scheduler-dev"))}
    # 9 functions, 2 delivery functions, 2 pipes, the API's queue role, the operators', the reconciler's scheduler
    # (its dead-letter queue's key)
    assert len(users) == 16
    assert {"operator-role", "reconcile_scheduler-role_62B1C8F8"} <= users
    for key in resources(out, KmsKey.TF_RESOURCE_TYPE).values():
        named = {logical for logical in roles if f"aws_iam_role.{logical}.arn" in key["policy"]}
        assert named == users  # not the NAT, flow-log or API Gateway CloudWatch roles


def test_logs_key_admits_only_the_regional_logs_service_for_the_platforms_own_log_groups():
    policy = make_security().key_policy("logs")
    assert service_principals(policy) == {"logs.us-east-1.amazonaws.com"}
    condition = by_sid(policy, "CloudWatchLogsEncryptsPlatformLogGroups")["Condition"]
    assert condition == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/payment-processor-dev",
        "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-payments-dev"]}}
    assert "log-group:*" not in json.dumps(policy)


def test_the_logs_key_names_every_log_group_of_the_stack():
    out = synth("dev")
    [logs_key] = [k for k in resources(out, KmsKey.TF_RESOURCE_TYPE).values() if k["description"].startswith("payments logs")]
    groups = resources(out, "aws_cloudwatch_log_group").values()
    assert len(groups) > 10
    for group in groups:
        assert f"log-group:{group['name']}\"" in logs_key["policy"], group["name"]
    assert "log-group:*" not in logs_key["policy"]


ACCOUNT = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
# data class -> {Sid: (service principal, actions, condition)}: one statement per service principal,
# in the form the service's own documentation gives (the page is cited in constructs/security).
SERVICE_STATEMENTS = {
    "sqs": {"EventBridgeSendsToQueues": ("events.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey"], ACCOUNT),
            "SnsSendsToQueues": ("sns.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey"], ACCOUNT)},
    "sns": {"CloudWatchAlarmsPublishToTopics": ("cloudwatch.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey*"],
                                                ACCOUNT),
            # SNS: source condition keys "not supported for EventBridge-to-encrypted topics"
            "EventBridgePublishesToTopics": ("events.amazonaws.com", ["kms:Decrypt", "kms:GenerateDataKey*"], None)},
    "events": {"EventBridgeEncryptsBusEvents": ("events.amazonaws.com",
                                                ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], ACCOUNT)},
    "dynamodb": {"DynamoDbDescribesKey": ("dynamodb.amazonaws.com", ["kms:DescribeKey"], None)},
    "s3": {"S3ServerAccessLogsEncrypt": ("logging.s3.amazonaws.com", ["kms:GenerateDataKey*"], ACCOUNT)},
    "logs": {"CloudWatchLogsEncryptsPlatformLogGroups": (
        "logs.us-east-1.amazonaws.com",
        ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/payment-processor-dev",
            "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-payments-dev"]}})},
    "lambda": {}, "secrets": {},
}


@pytest.mark.parametrize("data_class", DATA_CLASSES)
def test_each_service_principal_has_one_statement_in_its_documented_form(data_class):
    policy = make_security().key_policy(data_class)
    found = {s["Sid"]: (s["Principal"]["Service"], s["Action"], s.get("Condition"))
             for s in policy["Statement"] if "Service" in s["Principal"]}
    assert found == SERVICE_STATEMENTS[data_class]
    assert all(s["Principal"] != "*" and s["Principal"].get("AWS") != "*" for s in policy["Statement"])
    assert ("AccountUsesKeyThroughService" in {s["Sid"] for s in policy["Statement"]}) == (data_class != "logs")


def test_eventbridge_publishing_to_encrypted_topics_carries_no_source_condition():
    # SNS Developer Guide: aws:SourceAccount / aws:SourceArn / aws:SourceOrgID in a KMS policy are
    # "not supported for EventBridge-to-encrypted topics": with one, every rule delivery fails.
    policy = make_security().key_policy("sns")
    events = [s for s in policy["Statement"] if s["Principal"].get("Service") == "events.amazonaws.com"]
    assert events and all("Condition" not in s for s in events)


def test_no_key_admits_the_pipes_service_principal():
    # no pipe sets a key of its own: the pipe roles use the keys through IAM (PlatformRolesUseKey)
    security = make_security()
    assert all("pipes.amazonaws.com" not in json.dumps(security.key_policy(c)) for c in DATA_CLASSES)


def test_fails_when_deletion_window_is_outside_7_30():
    with pytest.raises(ValueError, match=r"deletion_window_in_days must be 7\.\.30 \(KMS limit\), got 3"):
        make_security(deletion_window_in_days=3)


def test_fails_when_a_data_class_is_unknown():
    with pytest.raises(ValueError, match=r"unknown classes \['tape'\]"):
        make_security(data_classes=("s3", "tape"))


def test_fails_when_no_data_class_is_given():
    with pytest.raises(ValueError, match="at least one data class"):
        make_security(data_classes=())
