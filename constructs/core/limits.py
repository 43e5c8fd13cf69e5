"""AWS's own limits and value sets, each written once: the constructs check their arguments
against them and the settings schema (constructs/app/settings/) bounds its fields with them.
Plain Python (no cdktf), so the schema can import it without loading the provider."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """An inclusive range AWS accepts; `value in LIMIT` checks it, `str(LIMIT)` reads `low..high`."""

    low: int | float
    high: int | float

    def __contains__(self, value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low}..{self.high}"


#: CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)
#: Services the VPC construct can reach through an interface endpoint.
INTERFACE_ENDPOINT_SERVICES = (
    "sqs", "sns", "secretsmanager", "ssm", "kms", "events", "xray", "lambda", "logs",
)
#: Actions a WAF logging filter can keep (ActionCondition).
WAF_LOG_ACTIONS = ("ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT")
#: WAF's rate-based rule limit (requests per 5 minutes per IP).
WAF_RATE_LIMIT = Limit(100, 2_000_000_000)
#: How much of an API Gateway request body WAF can inspect (association_config steps, KB); the
#: body-size limit the WAF rule is built with (at least 1 KB, at most the largest step).
WAF_BODY_INSPECTION_STEPS_KB = (16, 32, 48, 64)
WAF_BODY_BYTES = Limit(1_024, WAF_BODY_INSPECTION_STEPS_KB[-1] * 1_024)

#: Lambda: MemorySize (MB), Timeout (s), asynchronous MaximumRetryAttempts, LoggingConfig's
#: SystemLogLevel.
LAMBDA_MEMORY_MB = Limit(128, 10_240)
LAMBDA_TIMEOUT_SECONDS = Limit(1, 900)
LAMBDA_ASYNC_RETRY_ATTEMPTS = Limit(0, 2)
LAMBDA_SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
#: An SQS event source mapping's ScalingConfig.MaximumConcurrency.
SQS_EVENT_SOURCE_MAX_CONCURRENCY = Limit(2, 1_000)
#: An SQS redrive policy's maxReceiveCount.
SQS_MAX_RECEIVE_COUNT = Limit(1, 1_000)
#: Application Auto Scaling target tracking on provisioned concurrency utilization.
AUTOSCALING_TARGET_UTILIZATION = Limit(0.1, 0.9)

#: API Gateway stage throttling (requests per second, burst) the ingress accepts; an integration
#: answers within 29 s.
API_THROTTLE = Limit(1, 100_000)
API_LATENCY_MS = Limit(1, 29_000)
#: API Gateway access log group classes.
ACCESS_LOG_CLASSES = ("STANDARD", "INFREQUENT_ACCESS")

#: EventBridge Pipes with a DynamoDB stream source: BatchSize, MaximumBatchingWindowInSeconds,
#: MaximumRetryAttempts and MaximumRecordAgeInSeconds (the last two also take -1: forever).
PIPES_BATCH_SIZE = Limit(1, 10_000)
PIPES_BATCHING_WINDOW_SECONDS = Limit(0, 300)
PIPES_RETRY_ATTEMPTS = Limit(0, 10_000)
PIPES_RECORD_AGE_SECONDS = Limit(60, 604_800)

#: KMS ScheduleKeyDeletion's PendingWindowInDays; Secrets Manager's RecoveryWindowInDays (or 0:
#: ForceDeleteWithoutRecovery).
KMS_DELETION_WINDOW_DAYS = Limit(7, 30)
SECRETS_RECOVERY_WINDOW_DAYS = Limit(7, 30)

#: CloudWatch alarm periods of standard-resolution metrics: whole minutes.
ALARM_PERIOD_STEP_SECONDS = 60
#: X-Ray sampling rule FixedRate.
XRAY_SAMPLING_RATE = Limit(0, 1)

#: S3 lifecycle transition classes; STANDARD_IA takes objects 30 days old at the earliest.
#: Object Lock retention modes.
S3_TRANSITION_CLASSES = ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA", "INTELLIGENT_TIERING")
S3_STANDARD_IA_MIN_DAYS = 30
S3_OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
#: DynamoDB global secondary index projection types.
DYNAMODB_PROJECTION_TYPES = ("ALL", "INCLUDE", "KEYS_ONLY")

#: The VPC construct's address block (/16../20: 16 subnets of it) and zone count.
VPC_PREFIX_LENGTH = Limit(16, 20)
VPC_AZ_COUNT = Limit(1, 6)
NAT_MODES = ("single", "per_az")
