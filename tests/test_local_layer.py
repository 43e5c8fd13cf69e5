"""The local emulator's needs live in one app-layer module (constructs/app/local.py): the reusable
constructs build AWS's behaviour only, and each disabled feature that works around the emulator
adjusts the built stack there."""

import inspect

import pytest
from cdktf_cdktf_provider_aws.instance import Instance
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_allow_policy import SqsQueueRedriveAllowPolicy

import constructs.configuration
import constructs.delivery
import constructs.ingress
import constructs.notification
import constructs.observability
import constructs.processing
import constructs.queueing
import constructs.security
import constructs.storage
import constructs.vpc
from constructs.app.environments import read_environments
from constructs.app.local import EMULATOR_WORKAROUNDS
from constructs.app.settings import FEATURES
from infra_synth import data_sources, resources, synth

#: Arguments the reusable constructs once took only for the emulator.
EMULATOR_SWITCHES = {"dlq_redrive_allow_policy", "deny_statements", "event_source_mappings_enabled", "endpoint_url"}
PACKAGES = (constructs.configuration, constructs.delivery, constructs.ingress, constructs.notification,
            constructs.observability, constructs.processing, constructs.queueing, constructs.security,
            constructs.storage, constructs.vpc)


def test_reusable_constructs_take_no_emulator_switch():
    taken, checked = {}, 0
    for package in PACKAGES:
        for name in getattr(package, "__all__", dir(package)):
            item = getattr(package, name)
            # a construct's signature is its __init__'s (the jsii metaclass hides it from the class)
            callables = [item.__init__, *(m for m in vars(item).values() if inspect.isfunction(m))] \
                if inspect.isclass(item) else [item] if inspect.isfunction(item) else []
            for function in callables:
                parameters = set(inspect.signature(function).parameters)
                checked += len(parameters)
                if parameters & EMULATOR_SWITCHES:
                    taken[f"{package.__name__}.{name}"] = sorted(parameters & EMULATOR_SWITCHES)
    assert taken == {} and checked > 200


def test_every_workaround_is_a_feature_the_local_environment_disables_with_a_reason():
    assert set(EMULATOR_WORKAROUNDS) <= set(FEATURES)
    local = read_environments()["local"]["disabled_features"]
    assert set(EMULATOR_WORKAROUNDS) <= set(local) and all(local[feature].strip() for feature in EMULATOR_WORKAROUNDS)


WORKAROUNDS_OFF = {feature: "test" for feature in EMULATOR_WORKAROUNDS}


@pytest.mark.parametrize("environment", ["dev", "local"])
def test_the_workarounds_follow_the_disabled_features_setting(environment):
    """The settings' switch, not the environment's name, decides: dev with the features disabled gets
    what local gets; the local stack is built by the same constructs."""
    out = synth(environment, disabled_features=WORKAROUNDS_OFF) if environment == "dev" else synth(environment)
    assert not resources(out, SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE)
    policies = resources(out, S3BucketPolicy.TF_RESOURCE_TYPE)
    assert len(policies) == 1  # the log bucket's (log delivery); the archive's held only denies
    statements = [s for d in data_sources(out, "aws_iam_policy_document").values()
                  if "S3ServerAccessLogsDelivery" in [t.get("sid") for t in d["statement"]] for s in d["statement"]]
    assert [s["effect"] for s in statements] == ["Allow"]
    assert all(m["enabled"] is False for m in resources(out, LambdaEventSourceMapping.TF_RESOURCE_TYPE).values())
    assert all("logging_config" not in f for f in resources(out, LambdaFunction.TF_RESOURCE_TYPE).values())
    assert all(i["monitoring"] is False for i in resources(out, Instance.TF_RESOURCE_TYPE).values())


def test_aws_environments_keep_what_the_workarounds_take_away():
    out = synth("dev")
    assert len(resources(out, SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE)) == 3
    denies = {s["sid"] for d in data_sources(out, "aws_iam_policy_document").values() for s in d["statement"]
              if s.get("effect") == "Deny" and s.get("sid") in ("DenyOtherEncryption", "DenyOtherKmsKey")}
    assert denies == {"DenyOtherEncryption", "DenyOtherKmsKey"}
    assert len(resources(out, S3BucketPolicy.TF_RESOURCE_TYPE)) == 2
    assert all(m["enabled"] is True for m in resources(out, LambdaEventSourceMapping.TF_RESOURCE_TYPE).values())
    assert all(f["logging_config"]["log_format"] == "JSON" for f in resources(out, LambdaFunction.TF_RESOURCE_TYPE).values())
    assert all(i["monitoring"] is True for i in resources(out, Instance.TF_RESOURCE_TYPE).values())
    assert not any("lifecycle" in f for f in resources(out, LambdaFunction.TF_RESOURCE_TYPE).values())


def test_only_the_emulator_stack_ignores_the_round_trip_gaps():
    local = resources(synth("local"), LambdaFunction.TF_RESOURCE_TYPE).values()
    assert local and all(f["lifecycle"] == {"ignore_changes": ["kms_key_arn"]} for f in local)
    nat = resources(synth("local"), Instance.TF_RESOURCE_TYPE).values()
    assert nat and all(i["lifecycle"]["ignore_changes"] == ["ami", "vpc_security_group_ids"] for i in nat)
    assert all(i["lifecycle"]["ignore_changes"] == ["ami"]
               for i in resources(synth("dev"), Instance.TF_RESOURCE_TYPE).values())
