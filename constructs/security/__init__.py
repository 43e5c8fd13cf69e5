"""KMS customer-managed keys, one per data class (C11, P4, M10).

A key per data class keeps every key policy short and exact: each names only the AWS services that
must use that key on the platform's behalf. Everything else (the Lambda roles, the pipes' roles)
gets key use through IAM, which the root statement delegates to; the stack grants it per function.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktf import Fn, Token
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

DATA_CLASSES = ("dynamodb", "sqs", "sns", "s3", "logs", "lambda", "secrets", "events")

# Secure defaults for every key, in one place.
KEY_DEFAULTS: dict[str, Any] = dict(
    enable_key_rotation=True,  # yearly (the AWS default period; not set: moto 5.2 does not echo it back)
    key_usage="ENCRYPT_DECRYPT",
    customer_master_key_spec="SYMMETRIC_DEFAULT",
    is_enabled=True,
    multi_region=False,
)
_USE = ["kms:Decrypt", "kms:GenerateDataKey*"]
_USE_FULL = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


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
    ):
        super().__init__(scope, id_)
        problems = []
        if not Token.is_unresolved(deletion_window_in_days) and not 7 <= deletion_window_in_days <= 30:
            problems.append(
                f"deletion_window_in_days must be 7..30 (KMS limit), got {deletion_window_in_days}"
            )
        unknown = [c for c in data_classes if c not in DATA_CLASSES]
        if unknown:
            problems.append(f"data_classes has unknown classes {unknown}; known: {', '.join(DATA_CLASSES)}")
        if not data_classes:
            problems.append("data_classes must name at least one data class, got none")
        if problems:
            raise ValueError("Security: " + "; ".join(problems))

        self._account_id, self._partition, self._region = account_id, partition, region
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

    # ----- key policies ----------------------------------------------------------------------
    def key_policy(self, data_class: str) -> dict[str, Any]:
        """The account root administers (and so delegates use to IAM policies); only the services
        in `_service_statements` may use the key directly, each limited to this account."""
        root = f"arn:{self._partition}:iam::{self._account_id}:root"
        statements = [
            {
                "Sid": "AccountRootAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        statements.extend(self._service_statements(data_class))
        return {"Version": "2012-10-17", "Statement": statements}

    def _service_statements(self, data_class: str) -> list[dict[str, Any]]:
        p, r, a = self._partition, self._region, self._account_id
        same_account = {"StringEquals": {"aws:SourceAccount": a}}

        def service(sid: str, principals: list[str], actions: list[str], condition: Mapping) -> dict:
            return {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": principals if len(principals) > 1 else principals[0]},
                "Action": actions,
                "Resource": "*",
                **({"Condition": condition} if condition else {}),
            }

        if data_class == "logs":
            # CloudWatch Logs encrypts log groups of this account and region only.
            return [service(
                "CloudWatchLogsEncryptsLogGroups", [f"logs.{r}.amazonaws.com"], _USE_FULL,
                {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{p}:logs:{r}:{a}:log-group:*"}},
            )]
        if data_class == "sqs":
            # SNS subscriptions and EventBridge rules deliver to the encrypted queues.
            return [service("SnsAndEventBridgeSendToQueues", ["events.amazonaws.com", "sns.amazonaws.com"], _USE,
                            same_account)]
        if data_class == "sns":
            # EventBridge rules and CloudWatch alarms publish to encrypted topics.
            return [service("EventBridgeAndAlarmsPublishToTopics", ["cloudwatch.amazonaws.com", "events.amazonaws.com"],
                            _USE, same_account)]
        if data_class == "events":
            # The event bus and the pipes encrypt events at rest with this key.
            return [service("EventBridgeAndPipesEncryptEvents", ["events.amazonaws.com", "pipes.amazonaws.com"],
                            _USE + ["kms:DescribeKey"], same_account)]
        if data_class == "dynamodb":
            # DynamoDB reads the key's metadata; table users get key use through IAM (kms:ViaService).
            # (read-only metadata; DynamoDB's documented statement carries no source condition).
            return [service("DynamoDbDescribesKey", ["dynamodb.amazonaws.com"], ["kms:DescribeKey"], {})]
        # s3, lambda, secrets: the service uses the caller's own permissions (IAM), no principal here.
        return []
