"""KMS keys per data class: rotation, deletion window, aliases, and key policies that let the
account root administer and exactly the services that need a key use it."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey

from constructs.security import DATA_CLASSES, Security
from infra_synth import resources, small_stack, synth


def make_security(**overrides) -> Security:
    args = dict(environment="dev", account_id="123456789012", partition="aws", region="us-east-1",
                deletion_window_in_days=7)
    args.update(overrides)
    return Security(small_stack(), "security", **args)


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


def test_every_key_policy_lets_the_account_root_administer():
    security = make_security()
    for data_class in DATA_CLASSES:
        first = security.key_policy(data_class)["Statement"][0]
        assert first["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and first["Action"] == "kms:*"


def test_logs_key_admits_only_the_regional_logs_service_for_this_accounts_log_groups():
    policy = make_security().key_policy("logs")
    assert service_principals(policy) == {"logs.us-east-1.amazonaws.com"}
    condition = policy["Statement"][1]["Condition"]
    assert condition == {"ArnLike": {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}


def test_sqs_key_lets_sns_and_eventbridge_deliver_to_encrypted_queues_from_this_account():
    policy = make_security().key_policy("sqs")
    assert service_principals(policy) == {"sns.amazonaws.com", "events.amazonaws.com"}
    statement = policy["Statement"][1]
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


@pytest.mark.parametrize("data_class, services", [
    ("sns", {"cloudwatch.amazonaws.com", "events.amazonaws.com"}),
    ("events", {"events.amazonaws.com", "pipes.amazonaws.com"}),
    ("dynamodb", {"dynamodb.amazonaws.com"}),
    ("s3", set()), ("lambda", set()), ("secrets", set()),
])
def test_only_the_services_that_need_a_key_may_use_it(data_class, services):
    policy = make_security().key_policy(data_class)
    assert service_principals(policy) == services
    assert all(s["Principal"] != "*" and s["Principal"].get("AWS") != "*" for s in policy["Statement"])


def test_fails_when_deletion_window_is_outside_7_30():
    with pytest.raises(ValueError, match=r"deletion_window_in_days must be 7\.\.30 \(KMS limit\), got 3"):
        make_security(deletion_window_in_days=3)


def test_fails_when_a_data_class_is_unknown():
    with pytest.raises(ValueError, match=r"unknown classes \['tape'\]"):
        make_security(data_classes=("s3", "tape"))


def test_fails_when_no_data_class_is_given():
    with pytest.raises(ValueError, match="at least one data class"):
        make_security(data_classes=())
