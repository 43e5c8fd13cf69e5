"""`ArchiveBucket`: the raw-payload archive and its access-log bucket, with their secure defaults."""

from __future__ import annotations

import re
from typing import Any

from cdktf import Token
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import DataAwsIamPolicyDocument
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

from constructs.core.limits import S3_OBJECT_LOCK_MODES, S3_STANDARD_IA_MIN_DAYS, S3_TRANSITION_CLASSES
from constructs.core.policy import deny_insecure_transport, document

TRANSITION_CLASSES = S3_TRANSITION_CLASSES
ABORT_INCOMPLETE_UPLOADS_DAYS = 7
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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

    Attributes: bucket, log_bucket, policy / policy_document and log_policy / log_policy_document
      (S3BucketPolicy and its DataAwsIamPolicyDocument), object_lock (None without), logging.
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
        object_lock_mode: str | None = None,
        object_lock_retention_days: int | None = None,
    ):
        super().__init__(scope, id_)
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
        self.log_policy, self.log_policy_document = self._secure(self.log_bucket, "log", kms_key_arn=kms_key_arn,
                                                                 log_delivery=True)
        self._lifecycle(self.log_bucket, "log", transition=None, expiration_days=log_expiration_days,
                        noncurrent_expiration_days=noncurrent_expiration_days)
        self.policy, self.policy_document = self._secure(self.bucket, "archive", kms_key_arn=kms_key_arn)
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
            depends_on=[self.log_policy],  # the log bucket must admit the logging service first
        )

    def _secure(self, bucket: S3Bucket, prefix: str, *, kms_key_arn: str | None,
                log_delivery: bool = False) -> tuple[S3BucketPolicy, DataAwsIamPolicyDocument]:
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
        statements = [deny_insecure_transport([bucket.arn, objects], ["s3:*"])]
        if kms_key_arn and not log_delivery:
            # A put without encryption headers gets the bucket default (this key); a put that asks
            # for another algorithm or another key is refused. The Null test is what makes "asks"
            # explicit: a bare StringNotEqualsIfExists is true when the header is absent, and
            # would deny every put that relies on the bucket default.
            statements += [
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
        policy_document = document(self, f"{prefix}-policy-document", statements)
        return S3BucketPolicy(self, f"{prefix}-policy", bucket=bucket.id, policy=policy_document.json), policy_document

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
