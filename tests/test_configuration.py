"""SSM parameters, Secrets Manager secrets (no values in Terraform), and the Lambda environment
carrying the same values as the parameters."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter

from constructs.configuration import Configuration
from infra_synth import resources, small_stack, stack, synth

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
PARAMETERS = ("table-name", "table-arn", "ingest-queue-url", "ingest-queue-arn", "notifications-queue-url",
              "notifications-queue-arn", "archive-bucket", "vendor-topic-arn", "event-bus-name", "secret-prefix",
              "enabled-providers")


def test_platform_configuration_is_in_parameter_store():
    out = synth("dev")
    for name in PARAMETERS:
        assert Testing.to_have_resource_with_properties(out, SsmParameter.TF_RESOURCE_TYPE, {
            "name": f"/payments/dev/{name}", "type": "String"})
    assert Testing.to_have_resource_with_properties(out, SsmParameter.TF_RESOURCE_TYPE, {
        "name": "/payments/dev/enabled-providers", "value": "stripe,paypal"})
    assert Testing.to_have_resource_with_properties(out, SsmParameter.TF_RESOURCE_TYPE, {
        "name": "/payments/dev/vendor-topic-arn",
        "value": "arn:${data.aws_partition.partition.partition}:sns:${data.aws_region.region.name}:"
                 "${data.aws_caller_identity.caller.account_id}:payment-vendor-notifications-dev"})
    assert not Testing.to_have_resource_with_properties(out, SsmParameter.TF_RESOURCE_TYPE, {"type": "SecureString"})


def test_one_signing_secret_and_one_gate_key_per_enabled_provider_without_values():
    out = synth("dev")
    for provider in ("stripe", "paypal"):
        for kind in ("signing", "gate-key"):
            assert Testing.to_have_resource_with_properties(out, SecretsmanagerSecret.TF_RESOURCE_TYPE, {
                "name": f"payment-webhooks/dev/{provider}/{kind}", "recovery_window_in_days": 0})
    assert all("security_secrets-key" in s["kms_key_id"]
               for s in resources(out, SecretsmanagerSecret.TF_RESOURCE_TYPE).values())
    assert not resources(out, "aws_secretsmanager_secret_version")  # values come from scripts/ops/set_secrets.py


def test_prod_secrets_keep_a_30_day_recovery_window():
    out = synth("prod")
    assert Testing.to_have_resource_with_properties(out, SecretsmanagerSecret.TF_RESOURCE_TYPE, {
        "name": "payment-webhooks/prod/stripe/signing", "recovery_window_in_days": 30})
    assert not Testing.to_have_resource_with_properties(out, SecretsmanagerSecret.TF_RESOURCE_TYPE, {
        "recovery_window_in_days": 0})


def test_only_enabled_providers_get_secrets():
    out = synth("dev", providers=["stripe"])
    assert Testing.to_have_resource_with_properties(out, SecretsmanagerSecret.TF_RESOURCE_TYPE, {
        "name": "payment-webhooks/dev/stripe/gate-key"})
    assert not Testing.to_have_resource_with_properties(out, SecretsmanagerSecret.TF_RESOURCE_TYPE, {
        "name": "payment-webhooks/dev/paypal/gate-key"})


def test_lambda_environment_carries_the_same_values_as_the_parameters():
    configuration = stack("dev").configuration
    assert set(configuration.parameters) <= set(configuration.lambda_environment)
    for name, parameter in configuration.parameters.items():
        assert configuration.lambda_environment[name] is parameter.value_input or \
            configuration.lambda_environment[name] == parameter.value_input, name
    assert configuration.lambda_environment["SECRET_PREFIX"] == "payment-webhooks/dev/"
    assert "AWS_ENDPOINT_URL" not in configuration.lambda_environment
    assert "AWS_ENDPOINT_URL" not in stack("dev").lambda_environment
    # the local layer (constructs/app/local.py) adds the emulator's endpoint, not the construct
    assert "AWS_ENDPOINT_URL" not in stack("local").configuration.lambda_environment
    assert stack("local").lambda_environment["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def make(**overrides) -> Configuration:
    args = dict(environment="dev", parameter_prefix="/payments/dev/", secret_prefix="payment-webhooks/dev/",
                values={"TABLE_NAME": "t"}, providers=("stripe",), secrets_kms_key_arn=KEY, recovery_window_in_days=0)
    args.update(overrides)
    return Configuration(small_stack(), "configuration", **args)


def test_fails_when_recovery_window_is_between_1_and_6_days():
    with pytest.raises(ValueError, match=r"recovery_window_in_days must be 0 \(delete at once\) or 7\.\.30, got 5"):
        make(recovery_window_in_days=5)


def test_fails_when_no_provider_or_a_malformed_provider_is_given():
    with pytest.raises(ValueError, match="at least one webhook provider"):
        make(providers=())
    with pytest.raises(ValueError, match=r"a provider id must match .*got 'Stripe Inc'"):
        make(providers=("Stripe Inc",))


def test_fails_when_a_prefix_does_not_end_with_a_slash():
    with pytest.raises(ValueError, match=r"parameter_prefix must end with '/', got '/payments/dev'"):
        make(parameter_prefix="/payments/dev")
    with pytest.raises(ValueError, match=r"secret_prefix must end with '/', got 'payment-webhooks/dev'"):
        make(secret_prefix="payment-webhooks/dev")


def test_fails_when_a_value_name_is_not_an_environment_variable_or_is_derived():
    with pytest.raises(ValueError) as error:
        make(values={"table-name": "t", "SECRET_PREFIX": "x/"})
    assert "UPPER_SNAKE_CASE environment variables, got 'table-name'" in str(error.value)
    assert "must not set ['SECRET_PREFIX']" in str(error.value)
