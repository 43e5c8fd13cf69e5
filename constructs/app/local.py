"""The `local` environment's layer: what the stack changes for a local AWS emulator (moto server),
so the reusable constructs build AWS's behaviour only.

- `provider_options`: the provider reaches the emulator through a shared-config profile, with
  fake keys and few retries (`emulator_profile`).
- `function_environment`: the functions call the emulator (AWS_ENDPOINT_URL).
- `adapt`: after the stack is built, each disabled feature of `EMULATOR_WORKAROUNDS` adjusts the
  resources the constructs expose (the `disabled_features` setting, with its reasons, is the
  switch), and an emulator stack ignores the attributes of `EMULATOR_ROUND_TRIP_GAPS`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.instance import Instance
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from constructs import Construct

from constructs.app.functions import ROOT
from constructs.app.platform import Platform
from constructs.app.settings import LocalEmulator, Settings
from constructs.queueing import WebhookQueue
from constructs.storage import ArchiveBucket

#: The shared-config profile through which the `local` stack's provider reaches the emulator.
EMULATOR_PROFILE = "emulator"
_PROFILE_DIR = ROOT / "build" / "emulator-profile"

# Attributes the local emulator (moto 5.2) does not read back as written, so a plan after a clean
# apply would show them as changes forever. Only the `local` stack ignores them; on AWS they are
# managed like every other attribute.
EMULATOR_ROUND_TRIP_GAPS = {
    "lambda function kms_key_arn": "moto 5.2 neither stores nor returns a function's KMSKeyArn",
    "event source mapping function_name": "moto 5.2 answers the alias's version ARN instead of the alias ARN",
    "NAT instance vpc_security_group_ids": "moto 5.2 does not report a launched instance's security groups back",
}


def emulator_profile(endpoint_url: str) -> Path:
    """An AWS shared config file whose profile sends every AWS API call to `endpoint_url`, for the
    provider of an emulator stack (synth copies it into the stack's assets). The provider's
    `endpoints` block would do the same per service, but the AWS provider (5.100) spends ~4 s
    validating that block at each of the 3-5 times a Terraform command configures it; the SDK's
    `endpoint_url` costs nothing and also covers a service nobody listed. Named by its content:
    synths of different emulators at once never write the same file."""
    text = (f"# written by synth for an emulator stack: every AWS API call goes to {endpoint_url}\n"
            f"[profile {EMULATOR_PROFILE}]\nendpoint_url = {endpoint_url}\n")
    path = _PROFILE_DIR / hashlib.sha256(text.encode()).hexdigest()[:16] / "aws-config"
    if not path.is_file():  # named by its content: an existing one is this text
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".aws-config.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    return path


def provider_options(stack: Construct, local: LocalEmulator) -> dict[str, Any]:
    """The AwsProvider options of an emulator stack: fake keys, no account or region lookups, path
    style S3, `local.max_retries` attempts per call, and the profile's
    endpoint_url; nothing from ~/.aws (or AWS_PROFILE) takes part."""
    profile = TerraformAsset(stack, "emulator-profile", path=str(emulator_profile(local.endpoint_url)),
                             type=AssetType.FILE)
    return dict(
        access_key="test",
        secret_key="test",
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check="true",
        skip_region_validation=True,
        s3_use_path_style=True,
        max_retries=local.max_retries,
        profile=EMULATOR_PROFILE,
        shared_config_files=[profile.path],
        shared_credentials_files=[profile.path],
    )


def function_environment(settings: Settings) -> dict[str, str]:
    """What an emulator stack adds to every function's environment: the SDKs' endpoint."""
    return {"AWS_ENDPOINT_URL": settings.local.endpoint_url} if settings.local is not None else {}


# ----- disabled features that only work around the emulator --------------------------------------
def _found(stack: Platform, kind: type) -> list[Any]:
    return [c for c in stack.node.find_all() if isinstance(c, kind)]


def _without_redrive_allow_policies(stack: Platform) -> None:
    """The dead-letter queues admit any source queue (no RedriveAllowPolicy resource)."""
    for queue in _found(stack, WebhookQueue):
        queue.node.try_remove_child(queue.redrive_allow_policy.node.id)


def _without_bucket_policy_denies(stack: Platform) -> None:
    """The archive buckets' policies keep only their Allow statements; a policy left without any
    is not written at all."""
    for bucket in _found(stack, ArchiveBucket):
        for policy, policy_document in ((bucket.policy, bucket.policy_document),
                                        (bucket.log_policy, bucket.log_policy_document)):
            kept = [s for s in policy_document.statement_input if s.effect != "Deny"]
            if kept:
                policy_document.put_statement(kept)
            else:
                bucket.node.try_remove_child(policy.node.id)
                bucket.node.try_remove_child(policy_document.node.id)


def _event_source_mappings_disabled(stack: Platform) -> None:
    """Every event source mapping is deployed disabled (the local runner polls the queues)."""
    for mapping in _found(stack, LambdaEventSourceMapping):
        mapping.enabled = False


def _without_lambda_logging_config(stack: Platform) -> None:
    """The functions keep Lambda's default text log format (no LoggingConfig)."""
    for function in _found(stack, LambdaFunction):
        function.reset_logging_config()


def _without_detailed_monitoring(stack: Platform) -> None:
    """The NAT instances report 5-minute basic metrics."""
    for instance in _found(stack, Instance):
        instance.monitoring = False


#: feature (settings.FEATURES) -> what disabling it changes in the built stack. The other features
#: are choices a deployment on AWS may make too; the constructs take them as arguments.
EMULATOR_WORKAROUNDS: dict[str, Callable[[Platform], None]] = {
    "sqs_redrive_allow_policy": _without_redrive_allow_policies,
    "bucket_policy_denies": _without_bucket_policy_denies,
    "event_source_mappings": _event_source_mappings_disabled,
    "lambda_logging_config": _without_lambda_logging_config,
    "instance_monitoring": _without_detailed_monitoring,
}


def adapt(stack: Platform, settings: Settings) -> None:
    """Apply the workaround of every disabled feature of EMULATOR_WORKAROUNDS and, in an emulator
    stack, lifecycle.ignore_changes on exactly the attributes of EMULATOR_ROUND_TRIP_GAPS."""
    for feature, workaround in EMULATOR_WORKAROUNDS.items():
        if not settings.enabled(feature):
            workaround(stack)
    if settings.local is None:
        return
    if stack.processing is not None:
        for function in stack.processing.functions.values():
            function.function.add_override("lifecycle.ignore_changes", ["kms_key_arn"])
        for mapping in stack.processing.event_source_mappings.values():
            mapping.add_override("lifecycle.ignore_changes", ["function_name"])
    if stack.vpc is not None:
        for instance in stack.vpc.nat_instances:
            instance.add_override("lifecycle.ignore_changes", ["vpc_security_group_ids"])
