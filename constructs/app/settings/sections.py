"""The parts of the settings schema (constructs/app/settings/schema.py): each a frozen pydantic
model of one nested object of cdktf.json's environments, with its defaults, ranges and value sets,
and the field constraints they are built from. AWS's figures come from `constructs.core.limits`,
the runtime's from `paycore`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from constructs.app.settings.errors import suggestion
from constructs.core import limits
from paycore import delivery, events
from paycore.model import SAFE_ID

#: Vendor ids, wherever the settings name one: the runtime's rule (what a recorded event carries).
VENDOR_ID = SAFE_ID
ENVIRONMENT_NAME = r"^[a-z][a-z0-9-]{1,15}$"
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](-?[a-z0-9])*\.)+[a-z]{2,}$")
ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
GRAVITON_INSTANCE_TYPE = re.compile(r"^[a-z]+\d+g[a-z0-9-]*\.[a-z0-9]+$")
SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$")
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$")
LOOPBACK_URL = re.compile(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$")


# ----- field constraints -----------------------------------------------------------------------

def within(limit: limits.Limit, default: Any, why: str | None = None) -> Any:
    """A field bounded by one of AWS's limits (`why` names it in the error)."""
    return Field(default, ge=limit.low, le=limit.high, description=why)


def one_of(allowed: Iterable[str]) -> AfterValidator:
    """A string from a set defined elsewhere (AWS's, the runtime's); a typo gets the nearest."""
    values = tuple(allowed)

    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}{suggestion(value, values)}")
        return value

    return AfterValidator(check)


def matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    """A string of a shape; the error says what it must be."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def some_distinct(value: tuple[str, ...]) -> tuple[str, ...]:
    """At least one entry, none twice."""
    if not value:
        raise ValueError("must name at least one")
    if len(set(value)) != len(value):
        raise ValueError("must not repeat an entry")
    return value


def forever_or(limit: limits.Limit) -> AfterValidator:
    """-1 (forever) or a value within one of AWS's limits."""

    def check(value: int) -> int:
        if value != -1 and value not in limit:
            raise ValueError(f"must be -1 (forever) or {limit}")
        return value

    return AfterValidator(check)


def known_key(allowed: Iterable[str]) -> AfterValidator:
    """A map's key from a fixed set (function names, features); a typo gets the nearest."""
    values = tuple(allowed)

    def check(value: str) -> str:
        if value not in values:
            raise ValueError("unknown key" + (suggestion(value, values) or f"; known: {', '.join(values)}"))
        return value

    return AfterValidator(check)


def has_reason(value: str) -> str:
    """A reason (why a feature is off) is not blank."""
    if not value.strip():
        raise ValueError("needs a reason")
    return value


def _retention(days: int) -> int:
    if days not in limits.LOG_RETENTION_DAYS:
        raise ValueError(f"must be a CloudWatch Logs retention ({', '.join(map(str, limits.LOG_RETENTION_DAYS))})")
    return days


VendorId = Annotated[str, matches(VENDOR_ID, f"a vendor id ({VENDOR_ID.pattern})")]
Email = Annotated[str, matches(EMAIL, "an e-mail address")]
LogRetention = Annotated[int, AfterValidator(_retention)]


class Section(BaseModel):
    """A part of the settings: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ----- sections ------------------------------------------------------------------------------

class FunctionSettings(Section):
    """Sizing of one Lambda function: memory 512 MB or more, up to Lambda's limit;
    reserved_concurrency null (unreserved) or >= 1."""

    memory_mb: int = Field(default=512, ge=512, le=limits.LAMBDA_MEMORY_MB.high)
    timeout_seconds: int = within(limits.LAMBDA_TIMEOUT_SECONDS, 30)
    reserved_concurrency: Annotated[int, Field(ge=1)] | None = 10


def _at_time(value: str) -> str:
    """An Application Auto Scaling `at()` time: UTC, to the second."""
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ValueError("must be a UTC date and time such as 2026-11-27T00:00:00") from None
    return value


AtTime = Annotated[str, AfterValidator(_at_time)]


class ScheduledPeak(Section):
    """A known peak (Black Friday): from `start` to `end` (UTC, `2026-11-27T00:00:00`) the
    processor's provisioned concurrency keeps at least min_capacity (scheduled actions on its
    scaling target; utilization scaling still works above it)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    start: AtTime
    end: AtTime
    min_capacity: int = Field(ge=1)


class ProcessorScaling(Section):
    """Processor alias: provisioned concurrency (0 disables it) within the Application Auto
    Scaling range min..max (max <= the processor's reserved concurrency); target_utilization of
    provisioned concurrency; backlog_per_instance: queue messages per execution before scaling
    out; event_source_max_concurrency caps the SQS event source (<= reserved concurrency);
    scheduled_peaks raise the minimum for known peaks (min_capacity < peak <= max_capacity)."""

    provisioned_concurrency: int = Field(default=2, ge=0)
    min_capacity: int = Field(default=2, ge=1)
    max_capacity: int = Field(default=10, ge=1)
    target_utilization: float = within(limits.AUTOSCALING_TARGET_UTILIZATION, 0.7)
    backlog_per_instance: int = Field(default=100, ge=1)
    event_source_max_concurrency: int = within(limits.SQS_EVENT_SOURCE_MAX_CONCURRENCY, 10, "SQS event source limit")
    scheduled_peaks: tuple[ScheduledPeak, ...] = ()


def _https_origin(value: str) -> str:
    if value != "*" and not value.startswith("https://"):
        raise ValueError("must be '*' or an https:// origin")
    return value


class ApiSettings(Section):
    """API Gateway stage: throttling (10,000 rps by default), CORS origin ('*' or https), WAF rate limit
    per IP per 5 minutes, the largest webhook body (WAF inspects at most 64 KB; the base64
    envelope of 64 KB fits one SQS message), extra stage variables."""

    throttle_rate_limit: int = within(limits.API_THROTTLE, 10_000)
    throttle_burst_limit: int = within(limits.API_THROTTLE, 5_000)
    cors_allow_origin: Annotated[str, AfterValidator(_https_origin)] = "*"
    waf_rate_limit: int = within(limits.WAF_RATE_LIMIT, 100_000, "requests per 5 min")
    max_webhook_body_bytes: int = within(limits.WAF_BODY_BYTES, 65_536, "what WAF inspects of an API Gateway body")
    stage_variables: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")], str] = {}
    # API Gateway's CloudWatch role is one setting per account and region (aws_api_gateway_account):
    # only the one stack that owns the account's API Gateway logging sets it (README, "API Gateway
    # account logging").
    manage_account_logging: bool = False
    # WAF logs only the requests it applied one of these actions to (empty: every request, about
    # 1.5 KB of logs per webhook). COUNT would log nearly every webhook: the anonymous-IP group's
    # HostingProviderIPList rule is overridden to count, and Stripe and PayPal send from hosting ranges.
    waf_log_actions: tuple[Annotated[str, one_of(limits.WAF_LOG_ACTIONS)], ...] = ("BLOCK",)
    # The access log group's class: INFREQUENT_ACCESS halves its ingestion price (nothing reads the
    # group with a metric filter or subscription); changing it replaces the group and its logs.
    access_log_class: Annotated[str, one_of(limits.ACCESS_LOG_CLASSES)] = "STANDARD"


class CustomDomain(Section):
    """Optional custom domain: a regional ACM certificate in the stack's region."""

    domain_name: Annotated[str, matches(DOMAIN, "a DNS name such as pay.example.com")]
    certificate_arn: Annotated[str, matches(ACM_ARN, "an ACM certificate ARN")]
    base_path: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")


def _ipv4_block(value: str) -> str:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("must be an IPv4 CIDR such as 10.40.0.0/16") from None
    if network.version != 4 or network.prefixlen not in limits.VPC_PREFIX_LENGTH:
        raise ValueError(f"must be an IPv4 block /{limits.VPC_PREFIX_LENGTH.low}../{limits.VPC_PREFIX_LENGTH.high} "
                         "(16 subnets of it)")
    return value


class NetworkSettings(Section):
    """VPC: az_count zones (3 by default; availability_zones names them where letters skip),
    NAT instances per zone or single, an arm64 (Graviton) NAT instance type for the arm64 image,
    interface endpoints, flow log retention."""

    cidr: Annotated[str, AfterValidator(_ipv4_block)] = "10.40.0.0/16"
    az_count: int = within(limits.VPC_AZ_COUNT, 3)
    nat_mode: Annotated[str, one_of(limits.NAT_MODES)] = "single"
    nat_instance_type: Annotated[str, matches(GRAVITON_INSTANCE_TYPE, "an arm64 (Graviton, e.g. t4g.nano) type")] = \
        "t4g.nano"
    # The services a function in the VPC calls (tests/test_interface_endpoints.py derives them from
    # lambda_src); Lambda sends the functions' logs and traces itself, and the services do their KMS calls.
    interface_endpoints: tuple[Annotated[str, one_of(limits.INTERFACE_ENDPOINT_SERVICES)], ...] = \
        ("sqs", "sns", "secretsmanager", "ssm", "events")
    flow_log_retention_days: LogRetention = 30
    availability_zones: tuple[str, ...] = ()


class VendorSubscription(Section):
    """One vendor's notification endpoint; the SNS filter policy admits only its vendor_id.
    protocol email, https, or sqs (endpoint = the vendor's queue ARN; the local environment uses
    capture queues this way, so no delivery leaves the machine)."""

    vendor_id: VendorId
    protocol: Literal["email", "https", "sqs"]
    endpoint: str


class ArchiveSettings(Section):
    """Archive bucket lifecycle: to storage_class after transition_days, expired after
    expiration_days (> transition_days; prod >= 365, PCI DSS 10.5.1). prod only: S3 Object Lock
    default retention (0 days = expiration_days)."""

    transition_days: int = Field(default=90, ge=1)
    storage_class: Annotated[str, one_of(limits.S3_TRANSITION_CLASSES)] = "GLACIER_IR"
    expiration_days: int = 2557
    noncurrent_expiration_days: int = Field(default=30, ge=1)
    object_lock_mode: Annotated[str, one_of(limits.S3_OBJECT_LOCK_MODES)] = "GOVERNANCE"
    object_lock_retention_days: int = Field(default=0, ge=0)

    @property
    def lock_days(self) -> int:
        return self.object_lock_retention_days or self.expiration_days


class BackendSettings(Section):
    """Terraform state: kind s3 (encrypted, S3-native locking) or local (path, emulator only)."""

    kind: Literal["s3", "local"] = "s3"
    bucket: str = ""
    key: str = ""
    region: str = ""
    kms_key_id: str = ""
    use_lockfile: bool = True
    path: str = ""


class LocalEmulator(Section):
    """Where an emulator environment's provider sends its calls (loopback only), and its attempts
    per call (max_retries): under load the emulator answers 500 to a call its threads raced on, and
    the provider's Go SDK loses a response on a connection closed under it (aws-sdk-go-v2 issue
    2737); five attempts ride out what two did not in CI."""

    endpoint_url: str = "http://127.0.0.1:4566"
    max_retries: int = Field(default=5, ge=0)


def _routes_completed(statuses: tuple[str, ...]) -> tuple[str, ...]:
    if statuses and events.COMPLETED_STATUS not in statuses:
        raise ValueError(f"must include {events.COMPLETED_STATUS!r} (the vendor-notification rule routes it to "
                         "the vendor notifications), or be empty (every announcement)")
    return statuses


class PipeSettings(Section):
    """EventBridge Pipes on the ledger stream: Pipe B's batch_size (no batching window: vendors
    should not wait); Pipe A's archive_batch_size and archive_batching_window_seconds (one archive
    object per batch and provider); status_routed_statuses: the announcement kinds (and
    `awaiting_sale`, the notifier's watch of a refund held for its sale) whose state writes Pipe B
    puts on the bus (default and empty: all of them); maximum_retry_attempts and
    maximum_record_age_seconds (-1: forever) before a record goes to the fan-out dead-letter
    queue."""

    batch_size: int = within(limits.PIPES_BATCH_SIZE, 10)
    archive_batch_size: int = within(limits.PIPES_BATCH_SIZE, 100)
    archive_batching_window_seconds: int = within(limits.PIPES_BATCHING_WINDOW_SECONDS, 60)
    status_routed_statuses: Annotated[tuple[Annotated[str, one_of(sorted(events.PIPE_B_ROUTED_KINDS))], ...],
                                      AfterValidator(_routes_completed)] = events.PIPE_B_ROUTED_KINDS
    maximum_retry_attempts: Annotated[int, forever_or(limits.PIPES_RETRY_ATTEMPTS)] = 3
    maximum_record_age_seconds: Annotated[int, forever_or(limits.PIPES_RECORD_AGE_SECONDS)] = 86_400


class AlarmSettings(Section):
    """Alarm thresholds: API p99 latency (500 ms by default); the ingest queue's oldest message (lag: a
    capacity signal, signatures are checked against received_at); rejected gate keys and
    signature mismatches (a secret rotated at the provider but not here; `python -m scripts.ops
    replay-quarantine` recovers them) per 5 minutes; the period, whole minutes."""

    api_latency_p99_ms: int = within(limits.API_LATENCY_MS, 500, "API Gateway timeout")
    ingest_oldest_message_seconds: int = Field(default=300, ge=60)
    authorizer_denies_per_5min: int = Field(default=50, ge=1)
    signature_mismatches_per_5min: int = Field(default=5, ge=1)
    period_seconds: int = Field(default=60, ge=limits.ALARM_PERIOD_STEP_SECONDS, multiple_of=limits.ALARM_PERIOD_STEP_SECONDS)


class ReconcileSettings(Section):
    """Provider reconciliation (paycore.reconcile): a run per provider every interval_minutes
    (EventBridge Scheduler), listing from its checkpoint minus lookback_minutes (events that show
    up late in the provider's list); the checkpoint-age alarm fires after
    checkpoint_age_alarm_intervals intervals without a completed run."""

    providers: tuple[Literal["stripe", "paypal"], ...] = ("stripe", "paypal")
    interval_minutes: int = Field(default=15, ge=1, le=1440)
    lookback_minutes: int = Field(default=60, ge=0, le=1440)
    checkpoint_age_alarm_intervals: int = Field(default=4, ge=2, le=96)


class DeliverySettings(Section):
    """Vendor webhook delivery (lambda_src/README.md, "Vendor delivery").

    vendors: vendor_id -> {"endpoints": [{id, url, event_types, rate_limit_per_second?, paused?}]},
    checked by `paycore.delivery.parse_endpoints` (https on public hosts; `http://127.0.0.1:<port>`
    only in an emulator environment). The runtime settings (retry_schedule_seconds,
    timeout_seconds, auto_disable_after_seconds, pause_recheck_seconds, log_ttl_days) go to the
    functions as DELIVERY_* variables, checked by `paycore.delivery.Settings.from_env`, the
    functions' own parser. The sender's timeout covers one group's 10 records in a row, each with
    its attempt deadline and AWS calls (>= `paycore.delivery.sender_timeout_floor`); its event
    source cap must fit its reserved concurrency.
    """

    vendors: dict[str, Any] = {}
    retry_schedule_seconds: tuple[int, ...] = Field(default=delivery.DEFAULT_SCHEDULE, min_length=1)
    timeout_seconds: float = delivery.DEFAULT_TIMEOUT_SECONDS
    auto_disable_after_seconds: int = delivery.DEFAULT_AUTO_DISABLE_AFTER_SECONDS
    pause_recheck_seconds: int = delivery.DEFAULT_PAUSE_RECHECK_SECONDS
    log_ttl_days: int = delivery.DEFAULT_LOG_TTL_DAYS
    sender_max_concurrency: int = within(limits.SQS_EVENT_SOURCE_MAX_CONCURRENCY, 20, "SQS event source limit")
    sender_timeout_seconds: int = within(limits.LAMBDA_TIMEOUT_SECONDS, 180)
    fanout_timeout_seconds: int = within(limits.LAMBDA_TIMEOUT_SECONDS, 30)
    memory_mb: int = Field(default=512, ge=512, le=limits.LAMBDA_MEMORY_MB.high)
    fanout_reserved_concurrency: Annotated[int, Field(ge=1)] | None = 5
    sender_reserved_concurrency: Annotated[int, Field(ge=1)] | None = 20
    # Receives of a delivery event before SQS moves it to the delivery-events dead-letter queue.
    events_max_receive_count: int = within(limits.SQS_MAX_RECEIVE_COUNT, 5, "SQS maxReceiveCount")

    def document(self) -> dict[str, Any]:
        """The endpoint configuration as `parse_endpoints` reads it (the SSM parameter's value)."""
        return {"vendors": dict(self.vendors)}

    def runtime_environment(self, *, allow_loopback_http: bool) -> dict[str, str]:
        """The DELIVERY_* variables of both delivery functions."""
        environment = {
            "DELIVERY_RETRY_SCHEDULE": ",".join(str(s) for s in self.retry_schedule_seconds),
            "DELIVERY_TIMEOUT_SECONDS": f"{self.timeout_seconds:g}",
            "DELIVERY_AUTO_DISABLE_AFTER_SECONDS": str(self.auto_disable_after_seconds),
            "DELIVERY_PAUSE_RECHECK_SECONDS": str(self.pause_recheck_seconds),
            "DELIVERY_LOG_TTL_DAYS": str(self.log_ttl_days),
        }
        if allow_loopback_http:
            environment["DELIVERY_ALLOW_LOOPBACK_HTTP"] = "true"
        return environment

    def endpoints(self, *, allow_loopback_http: bool) -> dict[str, delivery.Endpoint]:
        """The parsed endpoints by id (raises paycore.delivery.ConfigError)."""
        return delivery.parse_endpoints(self.document(), allow_loopback_http=allow_loopback_http) if self.vendors else {}

    @property
    def routed_statuses(self) -> tuple[str, ...]:
        """The announcement kinds some configured endpoint subscribes to (what Pipe B must put on the bus)."""
        wanted = {t for vendor in self.vendors.values() if isinstance(vendor, Mapping)
                  for e in vendor.get("endpoints") or () if isinstance(e, Mapping)
                  for t in e.get("event_types") or () if isinstance(t, str)}
        return tuple(s for s in delivery.DELIVERABLE_STATUSES if delivery.event_type_of(s) in wanted)


class QuotaSettings(Section):
    """The account's quotas in the stack's region that the platform leans on; null: AWS's default
    for the region (constructs/app/capacity/quotas.py lists each with its Service Quotas code and source).
    Set the value the account has once an increase is granted; the hard limits can only be lower."""

    lambda_concurrent_executions: Annotated[int, Field(ge=1)] | None = None
    lambda_unreserved_minimum: Annotated[int, Field(ge=0)] | None = None
    api_gateway_requests_per_second: Annotated[int, Field(ge=1)] | None = None
    api_gateway_burst_requests: Annotated[int, Field(ge=1)] | None = None
    eventbridge_put_events_per_second: Annotated[int, Field(ge=1)] | None = None
    eventbridge_invocations_per_second: Annotated[int, Field(ge=1)] | None = None
    sns_publish_per_second: Annotated[int, Field(ge=1)] | None = None
    sns_email_per_subscription_per_second: Annotated[int, Field(ge=1, le=10)] | None = Field(
        default=None, description="an SNS hard limit")
    dynamodb_table_write_units_per_second: Annotated[int, Field(ge=1)] | None = None
    dynamodb_partition_write_units_per_second: Annotated[int, Field(ge=1, le=1_000)] | None = Field(
        default=None, description="a DynamoDB hard limit")
    sqs_fifo_requests_per_second: Annotated[int, Field(ge=1)] | None = None
    sqs_fifo_in_flight_messages: Annotated[int, Field(ge=1)] | None = None
    pipes_concurrent_executions: Annotated[int, Field(ge=1)] | None = None
