"""prod data survives mistakes (issue 11, item 4): Terraform refuses to destroy the ledger, the
archive bucket and the KMS keys; DynamoDB deletion protection; S3 Object Lock on the archive; log
groups kept on destroy. dev and local stay fully destroyable."""

import json

import pytest

from constructs.storage import ArchiveBucket
from infra_synth import resources, small_stack, synth

KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def protected(environment: str, **overrides) -> dict[str, set[str]]:
    """resource type -> logical ids with lifecycle.prevent_destroy."""
    found: dict[str, set[str]] = {}
    for type_, items in json.loads(synth(environment, **overrides))["resource"].items():
        for logical, resource in items.items():
            if resource.get("lifecycle", {}).get("prevent_destroy"):
                found.setdefault(type_, set()).add(logical)
    return found


def test_prod_refuses_to_destroy_the_ledger_the_archive_and_every_key():
    found = protected("prod")
    assert found == {
        "aws_dynamodb_table": {"ledger_table_BE9C0D06"},
        "aws_s3_bucket": {"archive_bucket_B42367AB"},
        "aws_kms_key": set(resources(synth("prod"), "aws_kms_key")),
    }
    assert len(found["aws_kms_key"]) == 8


@pytest.mark.parametrize("environment", ["dev", "local"])
def test_dev_and_local_stay_fully_destroyable(environment):
    out = synth(environment)
    assert protected(environment) == {}
    assert not any(t.get("deletion_protection_enabled") for t in resources(out, "aws_dynamodb_table").values())
    assert not resources(out, "aws_s3_bucket_object_lock_configuration")
    assert all(b["force_destroy"] and not b.get("object_lock_enabled") for b in resources(out, "aws_s3_bucket").values())
    assert not any(g.get("skip_destroy") for g in resources(out, "aws_cloudwatch_log_group").values())


def test_prod_tables_have_deletion_protection():
    tables = resources(synth("prod"), "aws_dynamodb_table")
    assert tables and all(t["deletion_protection_enabled"] for t in tables.values())


def test_prod_archive_has_object_lock_for_the_archive_retention_by_default():
    out = synth("prod")
    bucket = resources(out, "aws_s3_bucket")["archive_bucket_B42367AB"]
    assert bucket["object_lock_enabled"] is True and bucket["force_destroy"] is False
    [lock] = resources(out, "aws_s3_bucket_object_lock_configuration").values()
    assert lock["rule"]["default_retention"] == {"mode": "GOVERNANCE", "days": 2557}
    assert lock["bucket"] == "${aws_s3_bucket.archive_bucket_B42367AB.id}"


def test_object_lock_mode_and_retention_are_settings():
    out = synth("prod", archive={"object_lock_mode": "COMPLIANCE", "object_lock_retention_days": 400})
    [lock] = resources(out, "aws_s3_bucket_object_lock_configuration").values()
    assert lock["rule"]["default_retention"] == {"mode": "COMPLIANCE", "days": 400}


def test_prod_log_groups_are_kept_on_destroy():
    groups = resources(synth("prod"), "aws_cloudwatch_log_group")
    assert len(groups) > 10 and all(g["skip_destroy"] for g in groups.values())


def test_fails_when_object_lock_mode_is_unknown():
    with pytest.raises(ValueError, match=r"object_lock_mode must be GOVERNANCE or COMPLIANCE \(or None\), got 'LEGAL'"):
        ArchiveBucket(small_stack(), "archive", bucket_name="archive-test", kms_key_arn=KMS,
                      account_id="123456789012", object_lock_mode="LEGAL", object_lock_retention_days=30)


def test_prod_guards_come_off_only_through_the_data_protection_setting():
    assert protected("prod", data_protection=False) == {}
    out = synth("prod", data_protection=False)
    assert not any(t["deletion_protection_enabled"] for t in resources(out, "aws_dynamodb_table").values())
    assert not any(g.get("skip_destroy") for g in resources(out, "aws_cloudwatch_log_group").values())
    assert resources(out, "aws_s3_bucket_object_lock_configuration")  # Object Lock belongs to the bucket
