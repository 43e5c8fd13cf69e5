"""`Security`: KMS customer-managed keys, one per data class.

Each key policy separates administration from use:
- the admin principals (default: the account root, i.e. IAM-delegated) may administer the key but
  not encrypt or decrypt with it;
- the platform's roles may use it (their IAM policies then say which role uses which key);
- principals of the account may use it only through the data class's own service
  (kms:ViaService: operators' scripts and the deployer work through Secrets Manager, SQS, ...);
- the AWS services that use a key on the platform's behalf, one statement per service principal in
  the form that service documents (cited beside each): limited to this account where the service
  sends the source keys to KMS, to the platform's own log groups for CloudWatch Logs, and without a
  condition for EventBridge publishing to encrypted topics (SNS documents the keys as unsupported).
The roles and log groups exist only after the keys (they are encrypted with them), so the stack
names them once everything is built: `Security.allow_platform(role_arns, log_group_names)`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktf import Fn, Token
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from constructs.core.limits import KMS_DELETION_WINDOW_DAYS

DATA_CLASSES = ("dynamodb", "sqs", "sns", "s3", "logs", "lambda", "secrets", "events")

# Secure defaults for every key, in one place.
KEY_DEFAULTS: dict[str, Any] = dict(
    enable_key_rotation=True,  # yearly (the AWS default period; not set: moto 5.2 does not echo it back)
    key_usage="ENCRYPT_DECRYPT",
    customer_master_key_spec="SYMMETRIC_DEFAULT",
    is_enabled=True,
    multi_region=False,
)
_USE_QUEUE = ["kms:Decrypt", "kms:GenerateDataKey"]  # as the SQS Developer Guide lists them
_USE_TOPIC = ["kms:Decrypt", "kms:GenerateDataKey*"]  # as the SNS Developer Guide lists them
_USE_FULL = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
#: key administration without key use (no Encrypt/Decrypt/ReEncrypt/GenerateDataKey)
ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
#: the service each data class's data is used through (kms:ViaService prefix); logs: service principal
VIA_SERVICE = {"dynamodb": "dynamodb", "sqs": "sqs", "sns": "sns", "s3": "s3", "lambda": "lambda",
               "secrets": "secretsmanager", "events": "events"}


class Security(Construct):
    """The platform's KMS keys: `self.keys[data_class]` (KmsKey), `self.aliases[data_class]`
    (KmsAlias `alias/payments-{data_class}-{environment}`), plus `self.key_arn(data_class)`.

    Args:
      environment: the name suffix (`dev`, `prod`, ...); required.
      account_id, partition, region: the deploying account/partition/region, usually tokens
        from DataAwsCallerIdentity / DataAwsPartition / DataAwsRegion; required.
      deletion_window_in_days: waiting period before a deleted key is gone, 7..30 (KMS range);
        default 30 (settings: 7 outside prod, 30 in prod).
      data_classes: which keys to create, a subset of DATA_CLASSES; default all of them.
      admin_principal_arns: IAM principals that administer the keys (admin actions only, no key
        use); default the account root (IAM-delegated administration, as AWS's default policy).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        account_id: str,
        partition: str,
        region: str,
        deletion_window_in_days: int = 30,
        data_classes: Sequence[str] = DATA_CLASSES,
        admin_principal_arns: Sequence[str] = (),
    ):
        super().__init__(scope, id_)
        problems = []
        if not Token.is_unresolved(deletion_window_in_days) and deletion_window_in_days not in KMS_DELETION_WINDOW_DAYS:
            problems.append(
                f"deletion_window_in_days must be {KMS_DELETION_WINDOW_DAYS} (KMS limit), got {deletion_window_in_days}"
            )
        unknown = [c for c in data_classes if c not in DATA_CLASSES]
        if unknown:
            problems.append(f"data_classes has unknown classes {unknown}; known: {', '.join(DATA_CLASSES)}")
        if not data_classes:
            problems.append("data_classes must name at least one data class, got none")
        if problems:
            raise ValueError("Security: " + "; ".join(problems))

        self._account_id, self._partition, self._region = account_id, partition, region
        self._admins = list(admin_principal_arns) or [f"arn:{partition}:iam::{account_id}:root"]
        self._role_arns: list[str] = []
        self._log_group_names: list[str] = []
        self.keys: dict[str, KmsKey] = {}
        self.aliases: dict[str, KmsAlias] = {}
        for data_class in data_classes:
            key = KmsKey(
                self,
                f"{data_class}-key",
                description=f"payments {data_class} data ({environment})",
                deletion_window_in_days=deletion_window_in_days,
                policy=Fn.jsonencode(self.key_policy(data_class)),
                **KEY_DEFAULTS,
            )
            self.keys[data_class] = key
            self.aliases[data_class] = KmsAlias(
                self, f"{data_class}-alias", name=f"alias/payments-{data_class}-{environment}", target_key_id=key.key_id
            )

    def key_arn(self, data_class: str) -> str:
        return self.keys[data_class].arn

    def allow_platform(self, *, role_arns: Sequence[str], log_group_names: Sequence[str]) -> None:
        """Name the platform's roles (key use) and log groups (the logs key) in every key policy."""
        self._role_arns = list(role_arns)
        self._log_group_names = sorted(set(log_group_names))
        for data_class, key in self.keys.items():
            key.policy = Fn.jsonencode(self.key_policy(data_class))

    # ----- key policies ----------------------------------------------------------------------
    def key_policy(self, data_class: str) -> dict[str, Any]:
        """Admins administer; the platform's roles use; the account uses only through the data
        class's service; the services in `_service_statements` use it for this account."""
        root = f"arn:{self._partition}:iam::{self._account_id}:root"
        statements: list[dict[str, Any]] = [
            {
                "Sid": "KeyAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": self._admins},
                "Action": ADMIN_ACTIONS,
                "Resource": "*",
            }
        ]
        if self._role_arns:
            # IAM-delegated (each role's own policy names the keys it uses), only to the platform's roles
            statements.append({
                "Sid": "PlatformRolesUseKey",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": USE_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": self._role_arns}},
            })
        if data_class in VIA_SERVICE:
            statements.append({
                "Sid": "AccountUsesKeyThroughService",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": USE_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": self._account_id,
                    "kms:ViaService": f"{VIA_SERVICE[data_class]}.{self._region}.amazonaws.com",
                }},
            })
        statements.extend(self._service_statements(data_class))
        return {"Version": "2012-10-17", "Statement": statements}

    def _service_statements(self, data_class: str) -> list[dict[str, Any]]:
        """One statement per AWS service principal that uses a key on the platform's behalf, in the
        form (actions, conditions) that service's documentation gives for it; the page is named
        beside each statement. lambda and secrets: the service uses the caller's own permissions."""
        p, r, a = self._partition, self._region, self._account_id
        same_account = {"StringEquals": {"aws:SourceAccount": a}}

        def service(sid: str, principal: str, actions: list[str], condition: Mapping) -> dict:
            return {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": principal},
                "Action": actions,
                "Resource": "*",
                **({"Condition": condition} if condition else {}),
            }

        if data_class == "logs":
            # CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS": the
            # regional logs principal, limited by kms:EncryptionContext:aws:logs:arn to the
            # platform's own log groups (none named yet: no statement).
            if not self._log_group_names:
                return []
            arns = [f"arn:{p}:logs:{r}:{a}:log-group:{name}" for name in self._log_group_names]
            return [service(
                "CloudWatchLogsEncryptsPlatformLogGroups", f"logs.{r}.amazonaws.com", _USE_FULL,
                {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arns}},
            )]
        if data_class == "sqs":
            return [
                # EventBridge rules, their dead-letter queues and the bus's dead-letter queue send to
                # encrypted queues. EventBridge User Guide, "Event bus targets" (Permissions) and SQS
                # Developer Guide, "Configure KMS permissions for AWS services": this statement;
                # the latter's "confused deputy protection" lists CloudWatch Events among the
                # services that support the source condition keys for encrypted queues.
                service("EventBridgeSendsToQueues", "events.amazonaws.com", _USE_QUEUE, same_account),
                # SNS subscriptions deliver to encrypted queues (same SQS Developer Guide sections).
                service("SnsSendsToQueues", "sns.amazonaws.com", _USE_QUEUE, same_account),
            ]
        if data_class == "sns":
            return [
                # SNS Developer Guide, "Enable compatibility between event sources from AWS services
                # and encrypted topics": alarms publish to the encrypted alerts topic; the source
                # condition keys protect against the confused deputy.
                service("CloudWatchAlarmsPublishToTopics", "cloudwatch.amazonaws.com", _USE_TOPIC, same_account),
                # Same page: "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a
                # AWS KMS policy is not supported for EventBridge-to-encrypted topics": no condition
                # here (with one every rule delivery fails); the topic policy names the rules.
                service("EventBridgePublishesToTopics", "events.amazonaws.com", _USE_TOPIC, {}),
            ]
        if data_class == "events":
            # EventBridge User Guide, "Authorizing EventBridge to use a customer managed key": the
            # bus encrypts and matches events with this key (DescribeKey, GenerateDataKey, Decrypt),
            # limited to this account. No pipe sets a key of its own (the pipe roles use this one
            # through IAM), so pipes.amazonaws.com has no statement.
            return [service("EventBridgeEncryptsBusEvents", "events.amazonaws.com",
                            ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], same_account)]
        if data_class == "dynamodb":
            # AWS KMS Developer Guide, "How Amazon DynamoDB uses AWS KMS" (key policy): DynamoDB reads
            # the key's metadata, a statement without conditions; table users get key use through
            # IAM and kms:ViaService.
            return [service("DynamoDbDescribesKey", "dynamodb.amazonaws.com", ["kms:DescribeKey"], {})]
        if data_class == "s3":
            # S3 User Guide, "Enabling Amazon S3 server access logging": log delivery writes the
            # access-log bucket (SSE-KMS with this key) as logging.s3.amazonaws.com for this account.
            return [service("S3ServerAccessLogsEncrypt", "logging.s3.amazonaws.com", ["kms:GenerateDataKey*"],
                            same_account)]
        return []
