"""The ledger table (P10, F3, C7, M8), the notification marker table and the archive bucket (M9, M10),
with their secure defaults."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from cdktf import Token
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_object_lock_configuration import (
    S3BucketObjectLockConfigurationA,
    S3BucketObjectLockConfigurationRuleA,
    S3BucketObjectLockConfigurationRuleDefaultRetentionA,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from constructs.core.limits import (
    DYNAMODB_PROJECTION_TYPES,
    S3_OBJECT_LOCK_MODES,
    S3_STANDARD_IA_MIN_DAYS,
    S3_TRANSITION_CLASSES,
)
from constructs.core.policy import deny_insecure_transport, document

# The ledger's global secondary indexes (lambda_src/README.md): name -> (hash key, range key).
# Sparse: only state rows carry vendor_key / customer_key.
LEDGER_GSIS = {"by-vendor": ("vendor_key", "created_at"), "by-customer": ("customer_key", "created_at")}
TTL_ATTRIBUTE = "expires_at"
TRANSITION_CLASSES = S3_TRANSITION_CLASSES
ABORT_INCOMPLETE_UPLOADS_DAYS = 7
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def encrypted_table(
    scope: Construct,
    id_: str,
    *,
    name: str,
    hash_key: str,
    range_key: str,
    kms_key_arn: str,
    indexes: Mapping[str, tuple[str, str]] | None = None,
    index_projection_type: str = "KEYS_ONLY",
    index_non_key_attributes: Sequence[str] = (),
    attribute_order: str = "sorted",
    stream_view_type: str | None = None,
    point_in_time_recovery_enabled: bool = True,
    deletion_protection_enabled: bool = False,
) -> DynamodbTable:
    """The project's table defaults in one place: on demand, string keys, SSE with the given
    customer-managed key, point-in-time recovery, TTL on ``expires_at``; ``indexes`` (name ->
    (hash key, range key)) with one projection; a stream only with ``stream_view_type``.
    ``attribute_order`` "sorted" lists the key attributes sorted, "keys" as hash, range (the
    order is part of the synthesized JSON, so each table keeps the one it was deployed with)."""
    indexes = dict(indexes or {})
    names = [hash_key, range_key] + [k for pair in indexes.values() for k in pair]
    attributes = sorted(set(names)) if attribute_order == "sorted" else list(dict.fromkeys(names))
    return DynamodbTable(
        scope,
        id_,
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=hash_key,
        range_key=range_key,
        attribute=[DynamodbTableAttribute(name=attribute, type="S") for attribute in attributes],
        global_secondary_index=[
            DynamodbTableGlobalSecondaryIndex(name=index, hash_key=index_hash, range_key=index_range,
                                              projection_type=index_projection_type,
                                              non_key_attributes=list(index_non_key_attributes) or None)
            for index, (index_hash, index_range) in indexes.items()
        ] or None,
        point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=point_in_time_recovery_enabled),
        server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms_key_arn),
        stream_enabled=True if stream_view_type else None,
        stream_view_type=stream_view_type,
        ttl=DynamodbTableTtl(attribute_name=TTL_ATTRIBUTE, enabled=True),
        deletion_protection_enabled=deletion_protection_enabled,
    )


class LedgerTable(Construct):
    """The payment ledger: `self.table` (DynamodbTable).

    pk `transaction_id` (S), sk `timestamp` (S); on demand; point-in-time recovery; SSE with the
    given customer-managed key; stream NEW_IMAGE (the pipes read it); TTL on `expires_at` (marker
    rows); GSIs `by-vendor` and `by-customer` (range key `created_at`).

    GSI projection (`index_projection_type`): the indexes are sparse (only the one state row per
    transaction carries `vendor_key`/`customer_key`). ALL and INCLUDE rewrite both index entries on
    every status change; KEYS_ONLY writes them once (the keys never change) and the reader fetches
    the listed state rows (BatchGetItem).

    Args:
      table_name: 3..255 characters of [A-Za-z0-9_.-]; required.
      kms_key_arn: the dynamodb data-class key; required.
      deletion_protection_enabled: default False (everything destroyable outside prod); True in prod.
      point_in_time_recovery_enabled: default True; keep it on (audit ledger).
      index_projection_type: ALL (default), INCLUDE or KEYS_ONLY; index_non_key_attributes: the
        attributes INCLUDE projects (required with INCLUDE, at most 100).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table_name: str,
        kms_key_arn: str,
        deletion_protection_enabled: bool = False,
        point_in_time_recovery_enabled: bool = True,
        index_projection_type: str = "ALL",
        index_non_key_attributes: Sequence[str] = (),
    ):
        super().__init__(scope, id_)
        problems = []
        if index_projection_type not in DYNAMODB_PROJECTION_TYPES:
            problems.append(f"index_projection_type must be {', '.join(DYNAMODB_PROJECTION_TYPES[:-1])} or "
                            f"{DYNAMODB_PROJECTION_TYPES[-1]}, got {index_projection_type!r}")
        if (index_projection_type == "INCLUDE") != bool(index_non_key_attributes) or len(index_non_key_attributes) > 100:
            problems.append(f"index_non_key_attributes: 1..100 names with INCLUDE, none otherwise; got "
                            f"{list(index_non_key_attributes)} with {index_projection_type}")
        if not Token.is_unresolved(table_name) and not _TABLE_NAME.match(table_name):
            problems.append(f"table_name must be 3..255 characters of [A-Za-z0-9_.-], got {table_name!r}")
        if not Token.is_unresolved(kms_key_arn) and not str(kms_key_arn).startswith("arn:"):
            problems.append(f"kms_key_arn must be a KMS key ARN (the dynamodb key), got {kms_key_arn!r}")
        if problems:
            raise ValueError("LedgerTable: " + "; ".join(problems))

        self.table = encrypted_table(
            self, "table", name=table_name, hash_key="transaction_id", range_key="timestamp",
            kms_key_arn=kms_key_arn, indexes=LEDGER_GSIS, index_projection_type=index_projection_type,
            index_non_key_attributes=index_non_key_attributes, stream_view_type="NEW_IMAGE",
            point_in_time_recovery_enabled=point_in_time_recovery_enabled,
            deletion_protection_enabled=deletion_protection_enabled,
        )


class MarkerTable(Construct):
    """A small table of short-lived claim markers (at-most-once side effects): `self.table`.

    pk `partition_key_name` (S), sk `sort_key_name` (S); on demand; point-in-time recovery; SSE
    with the given customer-managed key; TTL on `expires_at`; no stream, no indexes.

    Args:
      table_name: 3..255 characters of [A-Za-z0-9_.-]; required.
      kms_key_arn: the dynamodb data-class key; required.
      partition_key_name / sort_key_name: default `transaction_id` / `marker`.
      deletion_protection_enabled: default False (everything destroyable outside prod).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table_name: str,
        kms_key_arn: str,
        partition_key_name: str = "transaction_id",
        sort_key_name: str = "marker",
        deletion_protection_enabled: bool = False,
    ):
        super().__init__(scope, id_)
        problems = []
        if not Token.is_unresolved(table_name) and not _TABLE_NAME.match(table_name):
            problems.append(f"table_name must be 3..255 characters of [A-Za-z0-9_.-], got {table_name!r}")
        if not Token.is_unresolved(kms_key_arn) and not str(kms_key_arn).startswith("arn:"):
            problems.append(f"kms_key_arn must be a KMS key ARN (the dynamodb key), got {kms_key_arn!r}")
        if partition_key_name == sort_key_name:
            problems.append(f"sort_key_name must differ from partition_key_name, both are {sort_key_name!r}")
        if problems:
            raise ValueError("MarkerTable: " + "; ".join(problems))
        self.table = encrypted_table(
            self, "table", name=table_name, hash_key=partition_key_name, range_key=sort_key_name,
            kms_key_arn=kms_key_arn, attribute_order="keys", deletion_protection_enabled=deletion_protection_enabled,
        )


class ArchiveBucket(Construct):
    """The raw-payload archive: `self.bucket`, plus `self.log_bucket` (server access logs).

    Archive bucket: SSE-KMS with the given key and an S3 bucket key (fewer KMS calls), versioning,
    all public access blocked, BucketOwnerEnforced (no ACLs), a policy denying non-TLS requests and
    puts that ask for another encryption or another key, lifecycle (transition, expiry,
    non-current expiry, abort incomplete uploads), access logs to the log bucket.
    Log bucket: the same (SSE-KMS with the same key: S3 server access logging delivers to SSE-KMS
    buckets when the key policy admits logging.s3.amazonaws.com, see constructs.security), except
    that its policy admits the logging service instead of the encryption denies, and its own logs
    are not logged again (that would loop).

    Args:
      bucket_name: the archive bucket's name, 3..63 characters; required. The log bucket is
        named `{bucket_name}-logs` when that fits in 63 characters (else give log_bucket_name).
      log_bucket_name: default `{bucket_name}-logs`.
      kms_key_arn: the s3 data-class key; required.
      account_id: the owning account (only S3 log delivery for this account may write logs); required.
      transition_days: >= 1 (>= 30 for STANDARD_IA); default 90.
      storage_class: one of TRANSITION_CLASSES; default GLACIER_IR.
      expiration_days: > transition_days; default 2557 (7 years).
      noncurrent_expiration_days: >= 1; default 30.
      log_expiration_days: >= 1; default 365 (access logs are audit evidence too).
      force_destroy: default False; True outside prod so the stack is destroyable.
      object_lock_mode / object_lock_retention_days: S3 Object Lock default retention for the
        archive (not the log bucket): mode GOVERNANCE or COMPLIANCE, days >= 1; default None (no
        Object Lock). Object Lock is fixed when the bucket is created: turning it on replaces a
        bucket. GOVERNANCE can be lifted by a principal with s3:BypassGovernanceRetention.
      deny_statements: default True: the bucket policies deny plain HTTP and puts that ask for
        another encryption or key. False only for an emulator that cannot evaluate their
        conditions (the `local` environment, feature `bucket_policy_denies`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket_name: str,
        kms_key_arn: str,
        account_id: str,
        log_bucket_name: str | None = None,
        transition_days: int = 90,
        storage_class: str = "GLACIER_IR",
        expiration_days: int = 2557,
        noncurrent_expiration_days: int = 30,
        log_expiration_days: int = 365,
        force_destroy: bool = False,
        deny_statements: bool = True,
        object_lock_mode: str | None = None,
        object_lock_retention_days: int | None = None,
    ):
        super().__init__(scope, id_)
        self._deny_statements = deny_statements
        log_bucket_name = log_bucket_name or f"{bucket_name}-logs"
        problems = []
        for label, name in (("bucket_name", bucket_name), ("log_bucket_name", log_bucket_name)):
            if not Token.is_unresolved(name) and not _BUCKET_NAME.match(name):
                problems.append(f"{label} must be an S3 bucket name (3..63 of [a-z0-9.-]), got {name!r}")
        if storage_class not in TRANSITION_CLASSES:
            problems.append(f"storage_class must be one of {', '.join(TRANSITION_CLASSES)}, got {storage_class!r}")
        if transition_days < 1 or (storage_class == "STANDARD_IA" and transition_days < S3_STANDARD_IA_MIN_DAYS):
            problems.append(f"transition_days must be >= 1 (>= {S3_STANDARD_IA_MIN_DAYS} for STANDARD_IA), "
                            f"got {transition_days}")
        if expiration_days <= transition_days:
            problems.append(f"expiration_days must be > transition_days ({transition_days}), got {expiration_days}")
        if noncurrent_expiration_days < 1:
            problems.append(f"noncurrent_expiration_days must be >= 1, got {noncurrent_expiration_days}")
        if log_expiration_days < 1:
            problems.append(f"log_expiration_days must be >= 1, got {log_expiration_days}")
        if object_lock_mode is not None and object_lock_mode not in S3_OBJECT_LOCK_MODES:
            problems.append(f"object_lock_mode must be {' or '.join(S3_OBJECT_LOCK_MODES)} (or None), "
                            f"got {object_lock_mode!r}")
        if object_lock_mode is not None and (object_lock_retention_days or 0) < 1:
            problems.append(f"object_lock_retention_days must be >= 1 with object_lock_mode, got {object_lock_retention_days}")
        if problems:
            raise ValueError("ArchiveBucket: " + "; ".join(problems))

        self._account_id = account_id
        locked = object_lock_mode is not None
        self.bucket = S3Bucket(self, "bucket", bucket=bucket_name, force_destroy=force_destroy,
                               object_lock_enabled=True if locked else None)
        self.log_bucket = S3Bucket(self, "log-bucket", bucket=log_bucket_name, force_destroy=force_destroy)
        log_policy = self._secure(self.log_bucket, "log", kms_key_arn=kms_key_arn, log_delivery=True)
        self._lifecycle(self.log_bucket, "log", transition=None, expiration_days=log_expiration_days,
                        noncurrent_expiration_days=noncurrent_expiration_days)
        self._secure(self.bucket, "archive", kms_key_arn=kms_key_arn)
        self._lifecycle(self.bucket, "archive", transition=(transition_days, storage_class),
                        expiration_days=expiration_days, noncurrent_expiration_days=noncurrent_expiration_days)
        self.object_lock = None
        if locked:
            self.object_lock = S3BucketObjectLockConfigurationA(
                self, "archive-object-lock", bucket=self.bucket.id,
                rule=S3BucketObjectLockConfigurationRuleA(default_retention=S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                    mode=object_lock_mode, days=object_lock_retention_days)),
            )
        self.logging = S3BucketLoggingA(
            self, "archive-logging", bucket=self.bucket.id, target_bucket=self.log_bucket.id,
            target_prefix="archive/",
            depends_on=[log_policy],  # the log bucket must admit the logging service first
        )

    def _secure(self, bucket: S3Bucket, prefix: str, *, kms_key_arn: str | None,
                log_delivery: bool = False) -> S3BucketPolicy | None:
        S3BucketPublicAccessBlock(
            self, f"{prefix}-public-access-block", bucket=bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self, f"{prefix}-ownership", bucket=bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketVersioningA(
            self, f"{prefix}-versioning", bucket=bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        by_default: dict[str, Any] = (
            dict(sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn) if kms_key_arn else dict(sse_algorithm="AES256")
        )
        S3BucketServerSideEncryptionConfigurationA(
            self, f"{prefix}-encryption", bucket=bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(**by_default)
                ),
                bucket_key_enabled=bool(kms_key_arn),
            )],
        )
        objects = f"{bucket.arn}/*"
        statements = [deny_insecure_transport([bucket.arn, objects], ["s3:*"])] if self._deny_statements else []
        if kms_key_arn and not log_delivery:
            # A put without encryption headers gets the bucket default (this key); a put that asks
            # for another algorithm or another key is refused. The Null test is what makes "asks"
            # explicit: a bare StringNotEqualsIfExists is true when the header is absent, and
            # would deny every put that relies on the bucket default.
            statements += [] if not self._deny_statements else [
                {
                    "sid": "DenyOtherEncryption",
                    "effect": "Deny",
                    "principals": {"*": ["*"]},
                    "actions": ["s3:PutObject"],
                    "resources": [objects],
                    "conditions": [("StringNotEquals", "s3:x-amz-server-side-encryption", ["aws:kms"]),
                                   ("Null", "s3:x-amz-server-side-encryption", ["false"])],
                },
                {
                    "sid": "DenyOtherKmsKey",
                    "effect": "Deny",
                    "principals": {"*": ["*"]},
                    "actions": ["s3:PutObject"],
                    "resources": [objects],
                    "conditions": [("StringNotEquals", "s3:x-amz-server-side-encryption-aws-kms-key-id",
                                    [kms_key_arn]),
                                   ("Null", "s3:x-amz-server-side-encryption-aws-kms-key-id", ["false"])],
                },
            ]
        else:
            # first: S3 server access logs arrive through the logging service principal (moto's
            # PutBucketLogging check also reads the statements in order and stops at a "*" principal)
            statements.insert(0, {
                "sid": "S3ServerAccessLogsDelivery",
                "effect": "Allow",
                "principals": {"Service": ["logging.s3.amazonaws.com"]},
                "actions": ["s3:PutObject"],
                "resources": [objects],
                "conditions": [
                    ("StringEquals", "aws:SourceAccount", [self._account_id]),
                    ("ArnLike", "aws:SourceArn", [self.bucket.arn]),
                ],
            })
        if not statements:
            return None
        policy = document(self, f"{prefix}-policy-document", statements)
        return S3BucketPolicy(self, f"{prefix}-policy", bucket=bucket.id, policy=policy.json)

    def _lifecycle(self, bucket: S3Bucket, prefix: str, *, transition: tuple[int, str] | None,
                   expiration_days: int, noncurrent_expiration_days: int) -> None:
        rule = dict(
            id=f"{prefix}-retention",
            status="Enabled",
            filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expiration_days)],
            noncurrent_version_expiration=[
                S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_expiration_days)
            ],
            abort_incomplete_multipart_upload=[
                S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS)
            ],
        )
        if transition is not None:
            days, storage_class = transition
            rule["transition"] = [S3BucketLifecycleConfigurationRuleTransition(days=days, storage_class=storage_class)]
        S3BucketLifecycleConfiguration(
            self, f"{prefix}-lifecycle", bucket=bucket.id, rule=[S3BucketLifecycleConfigurationRule(**rule)],
        )
