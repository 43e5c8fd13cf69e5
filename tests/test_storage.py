"""The ledger table and the archive bucket: keys, indexes, encryption, recovery, retention, and the
bucket's TLS-only / right-key-only policy."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.dynamodb_table import DynamodbTable
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA

from constructs.storage import ArchiveBucket, LedgerTable
from infra_synth import by, data_sources, named, resources, small_stack, synth

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def test_ledger_table_matches_the_data_contract():
    out = synth("dev")
    assert Testing.to_have_resource_with_properties(out, DynamodbTable.TF_RESOURCE_TYPE, {
        "name": "payment-transactions-dev", "billing_mode": "PAY_PER_REQUEST",
        "hash_key": "transaction_id", "range_key": "timestamp",
        "point_in_time_recovery": {"enabled": True},
        "server_side_encryption": {"enabled": True},
        "stream_enabled": True, "stream_view_type": "NEW_IMAGE",
        "ttl": {"attribute_name": "expires_at", "enabled": True},
        "deletion_protection_enabled": False,
    })
    table = by(out, DynamodbTable.TF_RESOURCE_TYPE, name="payment-transactions-dev")
    assert "aws_kms_key.security_dynamodb-key" in table["server_side_encryption"]["kms_key_arn"]
    indexes = {i["name"]: (i["hash_key"], i["range_key"], i["projection_type"]) for i in table["global_secondary_index"]}
    assert indexes == {"by-vendor": ("vendor_key", "created_at", "KEYS_ONLY"),
                       "by-customer": ("customer_key", "created_at", "KEYS_ONLY")}
    assert {a["name"]: a["type"] for a in table["attribute"]} == {
        "transaction_id": "S", "timestamp": "S", "vendor_key": "S", "customer_key": "S", "created_at": "S"}


def test_ledger_indexes_project_keys_only_unless_the_settings_say_otherwise():
    for environment in ("dev", "prod", "local"):
        table = by(synth(environment), DynamodbTable.TF_RESOURCE_TYPE, name=f"payment-transactions-{environment}")
        assert {i["projection_type"] for i in table["global_secondary_index"]} == {"KEYS_ONLY"}
        assert all("non_key_attributes" not in i for i in table["global_secondary_index"])
    include = by(synth("dev", ledger_index_projection="INCLUDE"), DynamodbTable.TF_RESOURCE_TYPE,
                 name="payment-transactions-dev")
    for index in include["global_secondary_index"]:
        assert index["projection_type"] == "INCLUDE"
        assert index["non_key_attributes"] == [
            "status", "previous_status", "amount", "currency", "vendor_id", "customer_id", "provider", "updated_at",
            "last_event_id", "payment_status", "captured_amount", "refunded_amount", "reversed_amount",
            "disputed_amount", "dispute_lost_amount", "net_amount", "refunds", "disputes", "version", "refund_totals"]


def test_fails_when_the_index_projection_is_unknown_or_include_has_no_attributes():
    with pytest.raises(ValueError) as error:
        LedgerTable(small_stack(), "ledger", table_name="t-1", kms_key_arn=KEY, index_projection_type="SOME")
    assert "index_projection_type must be ALL, INCLUDE or KEYS_ONLY, got 'SOME'" in str(error.value)
    with pytest.raises(ValueError, match="index_non_key_attributes: 1..100 names with INCLUDE"):
        LedgerTable(small_stack(), "ledger", table_name="t-1", kms_key_arn=KEY, index_projection_type="INCLUDE")


def test_ledger_table_is_deletion_protected_only_in_prod():
    assert Testing.to_have_resource_with_properties(synth("prod"), DynamodbTable.TF_RESOURCE_TYPE, {
        "name": "payment-transactions-prod", "deletion_protection_enabled": True})
    assert not Testing.to_have_resource_with_properties(synth("local"), DynamodbTable.TF_RESOURCE_TYPE, {
        "deletion_protection_enabled": True})


def test_archive_bucket_name_is_unique_per_account_and_region_and_deterministic():
    bucket = by(synth("dev"), S3Bucket.TF_RESOURCE_TYPE, force_destroy=True,
                bucket="payment-archive-dev-${data.aws_caller_identity.caller.account_id}-${data.aws_region.region.name}")
    assert bucket is not None


def test_archive_bucket_is_kms_encrypted_with_a_bucket_key_and_locked_down():
    out = synth("dev")
    archive, _ = named(out, S3Bucket.TF_RESOURCE_TYPE,
                       bucket="payment-archive-dev-${data.aws_caller_identity.caller.account_id}-"
                              "${data.aws_region.region.name}")
    encryption = by(out, S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE,
                    bucket=f"${{aws_s3_bucket.{archive}.id}}")
    rule = encryption["rule"][0]
    assert rule["bucket_key_enabled"] is True
    assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    assert "security_s3-key" in rule["apply_server_side_encryption_by_default"]["kms_master_key_id"]
    for resource_type, expected in [
        (S3BucketVersioningA.TF_RESOURCE_TYPE, {"versioning_configuration": {"status": "Enabled"}}),
        (S3BucketPublicAccessBlock.TF_RESOURCE_TYPE, {"block_public_acls": True, "block_public_policy": True,
                                                      "ignore_public_acls": True, "restrict_public_buckets": True}),
        (S3BucketOwnershipControls.TF_RESOURCE_TYPE, {"rule": {"object_ownership": "BucketOwnerEnforced"}}),
    ]:
        assert Testing.to_have_resource_with_properties(out, resource_type,
                                                        {"bucket": f"${{aws_s3_bucket.{archive}.id}}", **expected})
    assert not Testing.to_have_resource_with_properties(out, S3BucketOwnershipControls.TF_RESOURCE_TYPE,
                                                        {"rule": {"object_ownership": "ObjectWriter"}})


def test_archive_bucket_policy_denies_plain_http_and_other_keys():
    documents = data_sources(synth("dev"), "aws_iam_policy_document")
    archive = next(d for key, d in documents.items() if key.startswith("archive_archive-policy-document"))
    statements = {s["sid"]: s for s in archive["statement"]}
    tls = statements["DenyInsecureTransport"]
    assert tls["effect"] == "Deny" and tls["condition"] == [
        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    # deny only a put that *asks* for another encryption or key (Null false = the header is there);
    # a put without headers gets the bucket default, the s3 key
    other = {c["test"]: c for c in statements["DenyOtherEncryption"]["condition"]}
    assert other["StringNotEquals"]["values"] == ["aws:kms"] and other["Null"]["values"] == ["false"]
    key = {c["test"]: c for c in statements["DenyOtherKmsKey"]["condition"]}
    assert key["StringNotEquals"]["variable"] == key["Null"]["variable"] == "s3:x-amz-server-side-encryption-aws-kms-key-id"
    assert "security_s3-key" in key["StringNotEquals"]["values"][0]
    assert not any(c["test"].endswith("IfExists") for s in statements.values() for c in s.get("condition", []))


def test_local_archive_bucket_drops_the_denies_the_emulator_cannot_evaluate():
    documents = data_sources(synth("local"), "aws_iam_policy_document")
    assert not any(key.startswith("archive_archive-policy-document") for key in documents)
    log = next(d for key, d in documents.items() if key.startswith("archive_log-policy-document"))
    assert [s["sid"] for s in log["statement"]] == ["S3ServerAccessLogsDelivery"]


def test_archive_lifecycle_follows_the_settings_and_access_logs_go_to_the_log_bucket():
    out = synth("dev")
    lifecycle = json.dumps(resources(out, S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE))
    assert Testing.to_have_resource_with_properties(out, S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE, {
        "rule": [{"id": "archive-retention", "status": "Enabled",
                  "transition": [{"days": 30, "storage_class": "GLACIER_IR"}],
                  "expiration": [{"days": 365}], "noncurrent_version_expiration": [{"noncurrent_days": 30}],
                  "abort_incomplete_multipart_upload": [{"days_after_initiation": 7}],
                  "filter": [{"prefix": ""}]}],
    })
    assert '"days": 2557' not in lifecycle  # dev keeps 1 year, not prod's 7
    assert Testing.to_have_resource_with_properties(out, S3BucketLoggingA.TF_RESOURCE_TYPE, {"target_prefix": "archive/"})
    assert '"days": 2557' in json.dumps(resources(synth("prod"), S3BucketLifecycleConfiguration.TF_RESOURCE_TYPE))


def test_buckets_are_force_destroyable_outside_prod_only():
    assert not Testing.to_have_resource_with_properties(synth("dev"), S3Bucket.TF_RESOURCE_TYPE, {"force_destroy": False})
    assert not Testing.to_have_resource_with_properties(synth("prod"), S3Bucket.TF_RESOURCE_TYPE, {"force_destroy": True})


def test_both_buckets_use_sse_kms_with_the_s3_key_including_the_access_log_bucket():
    out = synth("dev")
    rules = [c["rule"] for c in resources(out, S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE).values()]
    assert len(rules) == 2
    for [rule] in rules:
        assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
        assert "security_s3-key" in rule["apply_server_side_encryption_by_default"]["kms_master_key_id"]
        assert rule["bucket_key_enabled"] is True
    assert "AES256" not in out


def make_bucket(**overrides):
    args = dict(bucket_name="payment-archive-test", kms_key_arn=KEY, account_id="123456789012")
    args.update(overrides)
    return ArchiveBucket(small_stack(), "archive", **args)


def test_fails_when_table_name_is_invalid():
    with pytest.raises(ValueError, match=r"table_name must be 3\.\.255 characters .*got 'payment transactions'"):
        LedgerTable(small_stack(), "ledger", table_name="payment transactions", kms_key_arn=KEY)


def test_fails_when_table_key_is_not_an_arn():
    with pytest.raises(ValueError, match=r"kms_key_arn must be a KMS key ARN .*got 'alias/x'"):
        LedgerTable(small_stack(), "ledger", table_name="t-dev", kms_key_arn="alias/x")


def test_fails_when_bucket_name_is_invalid():
    with pytest.raises(ValueError, match=r"bucket_name must be an S3 bucket name .*got 'Payment_Archive'"):
        make_bucket(bucket_name="Payment_Archive")


def test_fails_when_expiration_is_not_after_transition_and_reports_every_problem():
    with pytest.raises(ValueError) as error:
        make_bucket(transition_days=90, expiration_days=60, storage_class="TAPE")
    assert "expiration_days must be > transition_days (90), got 60" in str(error.value)
    assert "storage_class must be one of" in str(error.value) and "'TAPE'" in str(error.value)


def test_fails_when_standard_ia_transition_is_before_30_days():
    with pytest.raises(ValueError, match=r"transition_days must be >= 1 \(>= 30 for STANDARD_IA\), got 10"):
        make_bucket(transition_days=10, storage_class="STANDARD_IA")


def test_fails_when_noncurrent_or_log_expiration_is_below_1_day():
    with pytest.raises(ValueError, match="noncurrent_expiration_days must be >= 1, got 0.*log_expiration_days"):
        make_bucket(noncurrent_expiration_days=0, log_expiration_days=0)
