"""Typed settings of the payment webhook platform (the schema), one instance per environment:
frozen dataclasses with their defaults, and `Settings.problems()`, every rule with the value given
and the fix. The values of each environment live in cdktf.json `context.environments`, in the
shape of `Settings` (nested objects for the nested dataclasses), holding only what differs from
the defaults below; `constructs.app.environments.load_settings(name)` reads and validates them.

"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from constructs.core import INTERFACE_ENDPOINT_SERVICES, LOG_RETENTION_DAYS, WAF_LOG_ACTIONS
from paycore import delivery, events
from paycore.model import STATUSES

#: The service name in secret names and logs (`constructs.configuration.SERVICE_NAME`, which the
#: stack deploys; a test keeps the two equal).
SERVICE_NAME = "payment-webhooks"

KNOWN_PROVIDERS = ("stripe", "paypal")
FUNCTION_NAMES = (
    "authorizer", "validator", "processor", "archiver", "notifier", "reader", "status", "notify",
)
# Features the local emulator cannot run are switched off by name, each with its reason.
FEATURES = (
    "waf", "custom_domain", "vpc", "nat_instances", "interface_endpoints", "flow_logs",
    "provisioned_concurrency", "autoscaling", "xray_sampling_rule",
    "email_subscriptions", "dashboard", "alarms", "pipes", "event_source_mappings",
    "sqs_redrive_allow_policy", "instance_monitoring", "bucket_policy_denies", "lambda_logging_config",
)
# moto's default account and the vendors of the local end-to-end run
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_VENDORS = ("vendor-a", "vendor-b", "vendor-c")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
ENV_SUFFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,15}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9](-?[a-z0-9])*\.)+[a-z]{2,}$")
ACM_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
VENDOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$")


class SettingsError(ValueError):
    """Raised with every problem found in a settings object, one per line."""

    def __init__(self, environment: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid settings for environment '{environment}':\n{lines}")


@dataclass(frozen=True)
class FunctionSettings:
    """Sizing of one Lambda function.

    memory_mb: 512..10240 (P9/F2 ask >= 512). timeout_seconds: 1..900.
    reserved_concurrency: None (unreserved) or >= 1.
    """

    memory_mb: int = 512
    timeout_seconds: int = 30
    reserved_concurrency: int | None = 10


@dataclass(frozen=True)
class ProcessorScaling:
    """Processor alias: provisioned concurrency and its Application Auto Scaling range.

    provisioned_concurrency: baseline kept warm (0 disables it). min/max_capacity: the scaling
    range (min <= provisioned <= max <= the function's reserved concurrency).
    target_utilization: 0.1..0.9 of provisioned concurrency. backlog_per_instance: queue messages
    per concurrent execution before scaling out. event_source_max_concurrency: 2..1000, caps the
    SQS event source so it cannot exceed reserved concurrency.
    """

    provisioned_concurrency: int = 2
    min_capacity: int = 2
    max_capacity: int = 10
    target_utilization: float = 0.7
    backlog_per_instance: int = 100
    event_source_max_concurrency: int = 10


@dataclass(frozen=True)
class ApiSettings:
    """API Gateway stage. throttle_rate_limit (rps) default 10,000 (F1); burst >= 1.
    cors_allow_origin: '*' (F1) or an https origin. waf_rate_limit: requests per 5 minutes per IP
    (100..2,000,000,000). stage_variables: extra stage variables (F1 asks for them on prod)."""

    throttle_rate_limit: int = 10_000
    throttle_burst_limit: int = 5_000
    cors_allow_origin: str = "*"
    waf_rate_limit: int = 100_000
    # WAF inspects at most 64 KB of an API Gateway body; the base64 envelope of 64 KB fits one SQS message.
    max_webhook_body_bytes: int = 65_536
    stage_variables: tuple[tuple[str, str], ...] = ()
    # API Gateway's CloudWatch role is one setting per account and region (aws_api_gateway_account):
    # only the one stack that owns the account's API Gateway logging sets it (README, "API Gateway
    # account logging").
    manage_account_logging: bool = False
    # WAF logs only the requests it applied one of these actions to (empty: every request, about
    # 1.5 KB of logs per webhook); blocked and counted requests are the ones to investigate.
    waf_log_actions: tuple[str, ...] = ("BLOCK", "COUNT")
    # The access log group's class: INFREQUENT_ACCESS halves its ingestion price (nothing reads the
    # group with a metric filter or subscription); changing it replaces the group and its logs.
    access_log_class: str = "STANDARD"


@dataclass(frozen=True)
class CustomDomain:
    """Optional custom domain (M1): a regional ACM certificate in the stack's region."""

    domain_name: str
    certificate_arn: str
    base_path: str = ""


@dataclass(frozen=True)
class NetworkSettings:
    """VPC: az_count 1..6 (3 by default, C13); nat_mode 'per_az' or 'single' NAT instances;
    nat_instance_type an arm64 (Graviton) type such as t4g.nano; interface_endpoints a subset of
    INTERFACE_ENDPOINT_SERVICES."""

    cidr: str = "10.40.0.0/16"
    az_count: int = 3
    nat_mode: str = "single"
    nat_instance_type: str = "t4g.nano"
    interface_endpoints: tuple[str, ...] = INTERFACE_ENDPOINT_SERVICES
    flow_log_retention_days: int = 30
    # zone names, az_count of them; empty = {region}a, b, c... (set it where letters skip)
    availability_zones: tuple[str, ...] = ()


@dataclass(frozen=True)
class VendorSubscription:
    """One vendor's notification endpoint; the SNS filter policy admits only its vendor_id.
    protocol: 'email', 'https', or 'sqs' (endpoint = the vendor's queue ARN; the local environment
    uses capture queues this way, so no delivery ever leaves the machine)."""

    vendor_id: str
    protocol: str  # 'email', 'https' or 'sqs'
    endpoint: str


@dataclass(frozen=True)
class ArchiveSettings:
    """Archive bucket lifecycle: to an archive tier after transition_days, expired after
    expiration_days (> transition_days; PCI DSS 10.5.1 wants >= 365 days of audit history)."""

    transition_days: int = 90
    storage_class: str = "GLACIER_IR"
    expiration_days: int = 2557
    noncurrent_expiration_days: int = 30
    # prod only: S3 Object Lock default retention (GOVERNANCE or COMPLIANCE); 0 days = expiration_days
    object_lock_mode: str = "GOVERNANCE"
    object_lock_retention_days: int = 0

    @property
    def lock_days(self) -> int:
        return self.object_lock_retention_days or self.expiration_days


@dataclass(frozen=True)
class BackendSettings:
    """Terraform state. kind 's3' (encrypted, S3-native locking) or 'local' (path)."""

    kind: str = "s3"
    bucket: str = ""
    key: str = ""
    region: str = ""
    kms_key_id: str = ""
    use_lockfile: bool = True
    path: str = ""


@dataclass(frozen=True)
class LocalEmulator:
    """Where the local environment's provider sends its calls (loopback only)."""

    endpoint_url: str = "http://127.0.0.1:4566"
    max_retries: int = 2


@dataclass(frozen=True)
class PipeSettings:
    """EventBridge Pipes reading the ledger stream (Pipe A archive, Pipe B status events).
    batch_size 1..10000 (Pipes DynamoDB stream source): Pipe B's, no batching window (vendors
    should not wait); archive_batch_size 1..10000 and archive_batching_window_seconds 0..300:
    Pipe A's (one archive object per batch and provider: 100 and 60 s write a tenth of the
    objects of 10 without a window; lambda_src/README.md "Archive layout" on the 6 MB payload);
    status_routed_statuses: the statuses Pipe B puts on the bus (what a rule routes; empty: every
    state change); maximum_retry_attempts -1 (forever) or 0..10000; maximum_record_age_seconds -1
    (forever) or 60..604800. A record past either limit goes to the fan-out dead-letter queue."""

    batch_size: int = 10
    archive_batch_size: int = 100
    archive_batching_window_seconds: int = 60
    status_routed_statuses: tuple[str, ...] = events.PIPE_B_ROUTED_STATUSES
    maximum_retry_attempts: int = 3
    maximum_record_age_seconds: int = 86_400


@dataclass(frozen=True)
class DeliverySettings:
    """Vendor webhook delivery (lambda_src/README.md, "Vendor delivery").

    vendors: vendor_id -> {"endpoints": [{id, url, event_types, rate_limit_per_second?, paused?}]},
    checked by `paycore.delivery.parse_endpoints` (https on public hosts; `http://127.0.0.1:<port>`
    only in an emulator environment such as `local`); empty: no vendor endpoints. The runtime
    settings (retry_schedule_seconds, timeout_seconds, auto_disable_after_seconds,
    pause_recheck_seconds, log_ttl_days) go to the functions as DELIVERY_* variables and are
    checked by `paycore.delivery.Settings.from_env`, the parser the functions use.
    sender_max_concurrency: 2..1000, the sender's event source cap (concurrent vendor batches).
    sender_timeout_seconds: >= paycore.delivery.sender_timeout_floor(timeout_seconds) (one group's 10
    records in a row, each with its attempt deadline and AWS calls), <= 900;
    fanout_timeout_seconds: 1..900; memory_mb: 512..10240 (both functions).
    fanout_reserved_concurrency / sender_reserved_concurrency: None (unreserved) or >= 1; the
    sender's must be >= sender_max_concurrency (or its event source is throttled).
    """

    vendors: Mapping[str, Any] = field(default_factory=dict)
    retry_schedule_seconds: tuple[int, ...] = delivery.DEFAULT_SCHEDULE
    timeout_seconds: float = delivery.DEFAULT_TIMEOUT_SECONDS
    auto_disable_after_seconds: int = delivery.DEFAULT_AUTO_DISABLE_AFTER_SECONDS
    pause_recheck_seconds: int = delivery.DEFAULT_PAUSE_RECHECK_SECONDS
    log_ttl_days: int = delivery.DEFAULT_LOG_TTL_DAYS
    sender_max_concurrency: int = 20
    sender_timeout_seconds: int = 180
    fanout_timeout_seconds: int = 30
    memory_mb: int = 512
    fanout_reserved_concurrency: int | None = 5
    sender_reserved_concurrency: int | None = 20

    def document(self) -> dict[str, Any]:
        """The endpoint configuration as `parse_endpoints` reads it (the SSM parameter's value)."""
        return {"vendors": dict(self.vendors)}

    def runtime_environment(self, *, allow_loopback_http: bool) -> dict[str, str]:
        """The DELIVERY_* variables of both delivery functions."""
        environment = {
            "DELIVERY_RETRY_SCHEDULE": ",".join(str(s) for s in self.retry_schedule_seconds),
            "DELIVERY_TIMEOUT_SECONDS": _number(self.timeout_seconds),
            "DELIVERY_AUTO_DISABLE_AFTER_SECONDS": _number(self.auto_disable_after_seconds),
            "DELIVERY_PAUSE_RECHECK_SECONDS": _number(self.pause_recheck_seconds),
            "DELIVERY_LOG_TTL_DAYS": _number(self.log_ttl_days),
        }
        if allow_loopback_http:
            environment["DELIVERY_ALLOW_LOOPBACK_HTTP"] = "true"
        return environment

    def endpoints(self, *, allow_loopback_http: bool) -> dict[str, delivery.Endpoint]:
        """The parsed endpoints by id (raises paycore.delivery.ConfigError)."""
        return delivery.parse_endpoints(self.document(), allow_loopback_http=allow_loopback_http) if self.vendors else {}

    @property
    def routed_statuses(self) -> tuple[str, ...]:
        """The statuses some configured endpoint subscribes to (what Pipe B must put on the bus)."""
        wanted = {t for vendor in self.vendors.values() if isinstance(vendor, Mapping)
                  for e in vendor.get("endpoints") or () if isinstance(e, Mapping)
                  for t in e.get("event_types") or () if isinstance(t, str)}
        return tuple(s for s in delivery.DELIVERABLE_STATUSES if delivery.event_type_of(s) in wanted)

    def problems(self, *, allow_loopback_http: bool) -> list[str]:
        p: list[str] = []
        try:
            self.endpoints(allow_loopback_http=allow_loopback_http)
        except delivery.ConfigError as exc:
            p.append(f"delivery.vendors: {exc}".replace("\n", " "))
        try:
            delivery.Settings.from_env(self.runtime_environment(allow_loopback_http=allow_loopback_http))
        except delivery.ConfigError as exc:
            p.append(f"delivery (retry_schedule_seconds, timeout_seconds, auto_disable_after_seconds, "
                     f"pause_recheck_seconds, log_ttl_days): {exc}".replace("\n", " "))
        if not self.retry_schedule_seconds:
            p.append("delivery.retry_schedule_seconds must list at least one delay (the first attempt), got []")
        if not 2 <= self.sender_max_concurrency <= 1000:
            p.append(f"delivery.sender_max_concurrency must be 2..1000 (SQS event source limit), "
                     f"got {self.sender_max_concurrency}")
        if not 1 <= self.fanout_timeout_seconds <= 900:
            p.append(f"delivery.fanout_timeout_seconds must be 1..900, got {self.fanout_timeout_seconds}")
        floor = delivery.sender_timeout_floor(self.timeout_seconds)
        if not floor <= self.sender_timeout_seconds <= 900:
            p.append(f"delivery.sender_timeout_seconds must be {floor}..900 (paycore.delivery.sender_timeout_floor: "
                     f"10 records of one message group in a row, each timeout_seconds + 1 s, + 10 s), "
                     f"got {self.sender_timeout_seconds}")
        if not 512 <= self.memory_mb <= 10_240:
            p.append(f"delivery.memory_mb must be 512..10240 MB, got {self.memory_mb}")
        for label, reserved in (("fanout", self.fanout_reserved_concurrency), ("sender", self.sender_reserved_concurrency)):
            if reserved is not None and reserved < 1:
                p.append(f"delivery.{label}_reserved_concurrency must be >= 1 or null (unreserved), got {reserved}")
        if self.sender_reserved_concurrency is not None and self.sender_max_concurrency > self.sender_reserved_concurrency:
            p.append(f"delivery.sender_max_concurrency must be <= sender_reserved_concurrency "
                     f"({self.sender_reserved_concurrency}) or deliveries are throttled back to the queue, "
                     f"got {self.sender_max_concurrency}")
        return p


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class DeliveryNames:
    """Physical names of the delivery resources of one environment: the constructs (stack.py) and
    the ops tooling (scripts/ops.py, scripts/delivery_ops.py) read them from here."""

    events_queue: str
    events_dead_letter_queue: str
    queue: str
    dead_letter_queue: str
    table: str
    endpoints_parameter: str
    secret_prefix: str
    fanout_function: str
    sender_function: str
    rule: str
    alerts_rule: str


@dataclass(frozen=True)
class AlarmSettings:
    """Alarm thresholds. api_latency_p99_ms: 1..29000 (P7: 500 ms); ingest_oldest_message_seconds:
    >= 60, the ingest queue's lag (a capacity signal: signatures are checked against received_at,
    so lag does not fail them); authorizer_denies_per_5min: >= 1, a spike of rejected gate keys;
    signature_mismatches_per_5min: >= 1, webhooks rejected as `signature_mismatch` in 5 minutes;
    period_seconds: 60 or a multiple of 60."""

    api_latency_p99_ms: int = 500
    ingest_oldest_message_seconds: int = 300
    authorizer_denies_per_5min: int = 50
    # verified-signature failures: genuine events look forged after a secret rotated at the
    # provider but not here (scripts/replay_quarantine.py recovers them once it is fixed)
    signature_mismatches_per_5min: int = 5
    period_seconds: int = 60


@dataclass(frozen=True)
class Settings:
    environment: str
    region: str = "us-east-1"
    project: str = "payment-processing"
    cost_center: str = "engineering"
    extra_tags: tuple[tuple[str, str], ...] = ()
    log_retention_days: int = 30
    functions: Mapping[str, FunctionSettings] = field(
        default_factory=lambda: {name: FunctionSettings() for name in FUNCTION_NAMES})
    processor_scaling: ProcessorScaling = ProcessorScaling()
    api: ApiSettings = ApiSettings()
    custom_domain: CustomDomain | None = None
    network: NetworkSettings = NetworkSettings()
    providers: tuple[str, ...] = KNOWN_PROVIDERS
    alert_email: str = "admin@example.com"
    # vendor_id values the alert e-mail receives on the vendor topic: by default the notifications
    # no vendor subscription takes (unroutable vendor); empty: every sale ($2 per 100,000 e-mails).
    alert_email_vendor_ids: tuple[str, ...] = (events.UNROUTABLE_VENDOR_ID,)
    vendor_subscriptions: tuple[VendorSubscription, ...] = ()
    archive: ArchiveSettings = ArchiveSettings()
    backend: BackendSettings = BackendSettings()
    local: LocalEmulator | None = None
    xray_sampling_rate: float = 0.1
    pipes: PipeSettings = PipeSettings()
    alarms: AlarmSettings = AlarmSettings()
    delivery: DeliverySettings = DeliverySettings()
    # KMS keys wait this long (7..30 days) between "delete" and deletion; prod keeps the maximum.
    kms_deletion_window_days: int = 7
    # Lambda asynchronous invocations: retries before the on-failure destination (0..2, AWS limit).
    lambda_async_max_retry_attempts: int = 2
    # Lambda platform log level (JSON log format; DEBUG, INFO, WARN): WARN drops the START, END and
    # REPORT lines of every invocation (~330 B); duration and memory stay in the Lambda metrics.
    lambda_system_log_level: str = "WARN"
    # The functions' own log level (POWERTOOLS_LOG_LEVEL: DEBUG, INFO, WARNING, ERROR). The success
    # path (an event recorded, a gate allowed, a notification published) logs at DEBUG only, so at
    # INFO no line is written per webhook (metrics count them); WARNING also drops the per-anomaly
    # INFO lines (duplicates, ignored events, batch summaries).
    log_level: str = "INFO"
    # Message groups (payments) of one SQS batch the processor works on at once, on threads (1..10, a
    # FIFO batch holds at most 10 records;
    # each group's records stay in order): the DynamoDB round trips of different payments overlap,
    # so a batch bills less time. 1: one record after the other.
    processor_parallel_groups: int = 1
    # The ledger GSIs' projection (by-vendor, by-customer): KEYS_ONLY writes each index entry once
    # (a status change rewrites no index) and the reader fetches the listed state rows
    # (BatchGetItem); INCLUDE projects paycore.query.PUBLIC_STATE_FIELDS; ALL the whole row.
    ledger_index_projection: str = "KEYS_ONLY"
    # Receives of an ingest message before SQS moves it to the DLQ (1..1000): a transient fault
    # (throttling, a dependency down for a minute) must not dead-letter healthy events.
    ingest_max_receive_count: int = 5
    # IAM principals (ARNs) that administer the KMS keys; empty = the account root (as before).
    # Key use is granted separately, to the platform's roles and services only.
    kms_admin_principal_arns: tuple[str, ...] = ()
    # Guards against destroying data (prevent_destroy on the ledger, archive bucket and KMS keys, table
    # deletion protection, log groups kept on destroy); None = on in prod only. Switched off in a
    # reviewed change only to tear prod down on purpose (README).
    data_protection: bool | None = None
    # PayPal: the newest paypal-transmission-time accepted (the processor's replay window), seconds.
    paypal_max_transmission_age_seconds: int = 280_800
    disabled_features: Mapping[str, str] = field(default_factory=dict)
    # prod-only rules (no disabled features, 3 GB processor, a year of archive, ...)
    production: bool = False
    # the environment runs against a local emulator: local backend, `local` endpoint, fake keys
    emulator: bool = False

    # ----- derived values -------------------------------------------------------------------
    @property
    def suffix(self) -> str:
        """The environment suffix used in every physical name: `{resource}-{suffix}`."""
        return self.environment

    def name(self, resource: str) -> str:
        return f"{resource}-{self.suffix}"

    @property
    def secret_prefix(self) -> str:
        """Every secret of the environment is named `{secret_prefix}...`, as `constructs.configuration`
        names them (read here without importing it: that starts jsii and the provider, a minute
        for an ops command; tests/test_settings.py checks the two agree)."""
        return f"{SERVICE_NAME}/{self.suffix}/"

    @property
    def delivery_names(self) -> DeliveryNames:
        return DeliveryNames(
            events_queue=self.name("delivery-events"), events_dead_letter_queue=self.name("delivery-events-dlq"),
            queue=f"{self.name('deliveries')}.fifo", dead_letter_queue=f"{self.name('deliveries-dlq')}.fifo",
            table=self.name("deliveries"), endpoints_parameter=f"/payments/{self.suffix}/delivery-endpoints",
            secret_prefix=self.secret_prefix, fanout_function=self.name("delivery-fanout"),
            sender_function=self.name("delivery-sender"), rule=self.name("vendor-delivery"),
            alerts_rule=self.name("delivery-alerts"),
        )

    @property
    def routed_statuses(self) -> tuple[str, ...]:
        """What Pipe B puts on the bus: `pipes.status_routed_statuses` plus every status a vendor
        endpoint subscribes to (the vendor-delivery rule routes them); empty: every change."""
        configured = self.pipes.status_routed_statuses
        if not configured:
            return ()
        return configured + tuple(s for s in self.delivery.routed_statuses if s not in configured)

    @property
    def protects_data(self) -> bool:
        return self.production if self.data_protection is None else self.data_protection

    def function(self, name: str) -> FunctionSettings:
        return self.functions[name]

    def enabled(self, feature: str) -> bool:
        if feature not in FEATURES:
            raise KeyError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        return feature not in self.disabled_features

    @property
    def tags(self) -> dict[str, str]:
        tags = {
            "Environment": self.suffix,
            "Project": self.project,
            "CostCenter": self.cost_center,
            "ManagedBy": "cdktf",
        }
        tags.update(dict(self.extra_tags))
        return tags

    # ----- validation ------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Every problem with these settings, each naming the value given and the fix."""
        p: list[str] = []
        if not ENV_SUFFIX_PATTERN.match(self.suffix):
            p.append(f"environment suffix must match {ENV_SUFFIX_PATTERN.pattern}, got {self.suffix!r}")
        if not REGION_PATTERN.match(self.region):
            p.append(f"region must be an AWS region such as us-east-1, got {self.region!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            p.append(
                f"log_retention_days must be one CloudWatch Logs accepts ({', '.join(map(str, LOG_RETENTION_DAYS))}), "
                f"got {self.log_retention_days}"
            )
        missing = [n for n in FUNCTION_NAMES if n not in self.functions]
        if missing:
            p.append(f"functions must size every function; missing {', '.join(missing)}")
        unknown = sorted(set(self.functions) - set(FUNCTION_NAMES))
        if unknown:
            p.append(f"functions has unknown names {', '.join(unknown)}; known: {', '.join(FUNCTION_NAMES)}")
        for name, fn in sorted(self.functions.items()):
            if not 512 <= fn.memory_mb <= 10_240:
                p.append(f"functions.{name}.memory_mb must be 512..10240 MB, got {fn.memory_mb}")
            if not 1 <= fn.timeout_seconds <= 900:
                p.append(f"functions.{name}.timeout_seconds must be 1..900 s, got {fn.timeout_seconds}")
            if fn.reserved_concurrency is not None and fn.reserved_concurrency < 1:
                p.append(
                    f"functions.{name}.reserved_concurrency must be >= 1 or None (unreserved), "
                    f"got {fn.reserved_concurrency}"
                )
        if "processor" in self.functions:
            p.extend(self._processor_problems(self.functions["processor"]))
        p.extend(self._api_problems())
        p.extend(self._network_problems())
        if not self.providers:
            p.append(f"providers must enable at least one of {', '.join(KNOWN_PROVIDERS)}, got none")
        for provider in self.providers:
            if provider not in KNOWN_PROVIDERS:
                p.append(f"providers: unknown provider {provider!r}; known: {', '.join(KNOWN_PROVIDERS)}")
        if len(set(self.providers)) != len(self.providers):
            p.append(f"providers must not repeat a provider, got {list(self.providers)}")
        if not EMAIL_PATTERN.match(self.alert_email):
            p.append(f"alert_email must be an e-mail address, got {self.alert_email!r}")
        for vendor_id in self.alert_email_vendor_ids:
            if not VENDOR_ID_PATTERN.match(vendor_id):
                p.append(f"alert_email_vendor_ids: each must match {VENDOR_ID_PATTERN.pattern} (a vendor_id value), "
                         f"got {vendor_id!r}")
        for sub in self.vendor_subscriptions:
            if not VENDOR_ID_PATTERN.match(sub.vendor_id):
                p.append(f"vendor_subscriptions: vendor_id must match {VENDOR_ID_PATTERN.pattern}, got {sub.vendor_id!r}")
            elif sub.vendor_id == events.UNROUTABLE_VENDOR_ID:
                p.append(f"vendor_subscriptions: vendor_id {events.UNROUTABLE_VENDOR_ID!r} is reserved for events whose vendor "
                         "cannot be identified (they notify no vendor); choose another id")
            if sub.protocol == "email":
                if not EMAIL_PATTERN.match(sub.endpoint):
                    p.append(f"vendor_subscriptions[{sub.vendor_id}]: e-mail endpoint is not an address, got {sub.endpoint!r}")
            elif sub.protocol == "https":
                if not sub.endpoint.startswith("https://"):
                    p.append(f"vendor_subscriptions[{sub.vendor_id}]: https endpoint must start with https://, got {sub.endpoint!r}")
            elif sub.protocol == "sqs":
                if not re.match(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$", sub.endpoint):
                    p.append(f"vendor_subscriptions[{sub.vendor_id}]: sqs endpoint must be a queue ARN, got {sub.endpoint!r}")
            else:
                p.append(
                    f"vendor_subscriptions[{sub.vendor_id}]: protocol must be 'email', 'https' or 'sqs', got {sub.protocol!r}"
                )
        p.extend(self._archive_problems())
        p.extend(self._domain_problems())
        p.extend(self._backend_problems())
        if not 7 <= self.kms_deletion_window_days <= 30:
            p.append(f"kms_deletion_window_days must be 7..30 (KMS limit), got {self.kms_deletion_window_days}")
        elif self.production and self.kms_deletion_window_days < 30:
            p.append(
                f"kms_deletion_window_days must be 30 in prod (time to notice a mistaken key deletion), "
                f"got {self.kms_deletion_window_days}"
            )
        if not 1 <= self.ingest_max_receive_count <= 1_000:
            p.append(f"ingest_max_receive_count must be 1..1000 (SQS maxReceiveCount), got {self.ingest_max_receive_count}")
        for arn in self.kms_admin_principal_arns:
            if not re.match(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$", arn):
                p.append(f"kms_admin_principal_arns: an IAM principal ARN such as arn:aws:iam::123456789012:role/admin, "
                         f"got {arn!r}")
        if not 300 <= self.paypal_max_transmission_age_seconds <= 2_592_000:
            p.append("paypal_max_transmission_age_seconds must be 300..2592000 (the processor's range; PayPal "
                     f"retries for 3 days), got {self.paypal_max_transmission_age_seconds}")
        if self.ledger_index_projection not in ("ALL", "INCLUDE", "KEYS_ONLY"):
            p.append(f"ledger_index_projection must be ALL, INCLUDE or KEYS_ONLY, got {self.ledger_index_projection!r}")
        if not 1 <= self.processor_parallel_groups <= 10:
            p.append(f"processor_parallel_groups must be 1..10 (an SQS batch holds at most 10 records), "
                     f"got {self.processor_parallel_groups}")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            p.append(f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        if self.lambda_system_log_level not in ("DEBUG", "INFO", "WARN"):
            p.append(f"lambda_system_log_level must be DEBUG, INFO or WARN, got {self.lambda_system_log_level!r}")
        if not 0 <= self.lambda_async_max_retry_attempts <= 2:
            p.append(
                "lambda_async_max_retry_attempts must be 0..2 (Lambda async limit; the '3 tries' live in the "
                f"SQS redrive maxReceiveCount), got {self.lambda_async_max_retry_attempts}"
            )
        p.extend(self._fanout_and_alarm_problems())
        p.extend(self.delivery.problems(allow_loopback_http=self.emulator))
        if not 0.0 <= self.xray_sampling_rate <= 1.0:
            p.append(f"xray_sampling_rate must be within 0..1, got {self.xray_sampling_rate}")
        for feature in sorted(self.disabled_features):
            if feature not in FEATURES:
                p.append(f"disabled_features: unknown feature {feature!r}; known: {', '.join(FEATURES)}")
            elif not str(self.disabled_features[feature]).strip():
                p.append(f"disabled_features.{feature} needs a reason, got an empty one")
        if self.production and self.disabled_features:
            p.append(f"prod must not disable features, got {', '.join(sorted(self.disabled_features))}")
        if self.emulator:
            if self.local is None:
                p.append(f"{self.environment} needs a local emulator endpoint (local.endpoint_url)")
            elif not re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$", self.local.endpoint_url):
                p.append(
                    "local.endpoint_url must be a loopback URL such as http://127.0.0.1:4566, "
                    f"got {self.local.endpoint_url!r}"
                )
        elif self.local is not None:
            p.append(
                f"only an emulator environment (emulator: true, such as local) may point at an emulator; "
                f"{self.environment} has {self.local.endpoint_url!r}"
            )
        return p

    def _processor_problems(self, fn: FunctionSettings) -> list[str]:
        p: list[str] = []
        s = self.processor_scaling
        if self.production and fn.memory_mb < 3008:
            p.append(f"functions.processor.memory_mb must be >= 3008 MB in prod (M5: 3 GB), got {fn.memory_mb}")
        if s.provisioned_concurrency < 0:
            p.append(f"processor_scaling.provisioned_concurrency must be >= 0, got {s.provisioned_concurrency}")
        if not 1 <= s.min_capacity <= s.max_capacity:
            p.append(
                f"processor_scaling needs 1 <= min_capacity <= max_capacity, got {s.min_capacity}..{s.max_capacity}"
            )
        if s.provisioned_concurrency and not s.min_capacity <= s.provisioned_concurrency <= s.max_capacity:
            p.append(
                f"processor_scaling.provisioned_concurrency must lie within min..max capacity "
                f"({s.min_capacity}..{s.max_capacity}), got {s.provisioned_concurrency}"
            )
        if fn.reserved_concurrency is not None and s.max_capacity > fn.reserved_concurrency:
            p.append(
                f"processor_scaling.max_capacity must be <= the processor's reserved concurrency "
                f"({fn.reserved_concurrency}), got {s.max_capacity}"
            )
        if not 0.1 <= s.target_utilization <= 0.9:
            p.append(f"processor_scaling.target_utilization must be 0.1..0.9, got {s.target_utilization}")
        if s.backlog_per_instance < 1:
            p.append(f"processor_scaling.backlog_per_instance must be >= 1, got {s.backlog_per_instance}")
        if not 2 <= s.event_source_max_concurrency <= 1000:
            p.append(
                f"processor_scaling.event_source_max_concurrency must be 2..1000 (SQS event source limit), "
                f"got {s.event_source_max_concurrency}"
            )
        elif fn.reserved_concurrency is not None and s.event_source_max_concurrency > fn.reserved_concurrency:
            p.append(
                f"processor_scaling.event_source_max_concurrency must be <= the processor's reserved concurrency "
                f"({fn.reserved_concurrency}) or messages are throttled back to the queue, got {s.event_source_max_concurrency}"
            )
        return p

    def _api_problems(self) -> list[str]:
        p: list[str] = []
        a = self.api
        if not 1 <= a.throttle_rate_limit <= 100_000:
            p.append(f"api.throttle_rate_limit must be 1..100000 rps, got {a.throttle_rate_limit}")
        if not 1 <= a.throttle_burst_limit <= 100_000:
            p.append(f"api.throttle_burst_limit must be 1..100000, got {a.throttle_burst_limit}")
        if not 100 <= a.waf_rate_limit <= 2_000_000_000:
            p.append(f"api.waf_rate_limit must be 100..2000000000 requests per 5 min, got {a.waf_rate_limit}")
        if a.cors_allow_origin != "*" and not a.cors_allow_origin.startswith("https://"):
            p.append(f"api.cors_allow_origin must be '*' or an https:// origin, got {a.cors_allow_origin!r}")
        if not 1_024 <= a.max_webhook_body_bytes <= 65_536:
            p.append(
                "api.max_webhook_body_bytes must be 1024..65536 (WAF inspects at most 64 KB of an API Gateway "
                f"body, and the base64 envelope must fit one SQS message), got {a.max_webhook_body_bytes}"
            )
        unknown_actions = [action for action in a.waf_log_actions if action not in WAF_LOG_ACTIONS]
        if unknown_actions:
            p.append(f"api.waf_log_actions must be among {', '.join(WAF_LOG_ACTIONS)}, got {list(a.waf_log_actions)}")
        if a.access_log_class not in ("STANDARD", "INFREQUENT_ACCESS"):
            p.append(f"api.access_log_class must be STANDARD or INFREQUENT_ACCESS, got {a.access_log_class!r}")
        for key, _ in a.stage_variables:
            if not re.match(r"^[A-Za-z0-9_]{1,64}$", key):
                p.append(f"api.stage_variables: name must match [A-Za-z0-9_]{{1,64}}, got {key!r}")
        return p

    def _network_problems(self) -> list[str]:
        p: list[str] = []
        n = self.network
        try:
            net = ipaddress.ip_network(n.cidr)
            if net.prefixlen > 20:
                p.append(f"network.cidr must be /20 or larger to hold 2 subnets per AZ, got {n.cidr}")
        except ValueError:
            p.append(f"network.cidr must be an IPv4 CIDR such as 10.40.0.0/16, got {n.cidr!r}")
        if not 1 <= n.az_count <= 6:
            p.append(f"network.az_count must be 1..6, got {n.az_count}")
        if n.availability_zones and (
                len(set(n.availability_zones)) != n.az_count
                or not all(re.match(rf"^{re.escape(self.region)}[a-z]$", z) for z in n.availability_zones)):
            p.append(
                f"network.availability_zones must name az_count ({n.az_count}) distinct zones of {self.region} "
                f"such as {self.region}a, got {list(n.availability_zones)}"
            )
        if n.nat_mode not in ("single", "per_az"):
            p.append(f"network.nat_mode must be 'single' or 'per_az', got {n.nat_mode!r}")
        if not INSTANCE_TYPE_PATTERN.match(n.nat_instance_type) or not re.match(r"^[a-z]+\d+g", n.nat_instance_type):
            p.append(
                f"network.nat_instance_type must be an arm64 (Graviton, e.g. t4g.nano) type for the arm64 image, "
                f"got {n.nat_instance_type!r}"
            )
        for service in n.interface_endpoints:
            if service not in INTERFACE_ENDPOINT_SERVICES:
                p.append(
                    f"network.interface_endpoints: unknown service {service!r}; known: {', '.join(INTERFACE_ENDPOINT_SERVICES)}"
                )
        if n.flow_log_retention_days not in LOG_RETENTION_DAYS:
            p.append(f"network.flow_log_retention_days must be a CloudWatch Logs retention, got {n.flow_log_retention_days}")
        return p

    def _fanout_and_alarm_problems(self) -> list[str]:
        p: list[str] = []
        pipes, alarms = self.pipes, self.alarms
        if not 1 <= pipes.batch_size <= 10_000:
            p.append(f"pipes.batch_size must be 1..10000 (Pipes DynamoDB stream source), got {pipes.batch_size}")
        if not 1 <= pipes.archive_batch_size <= 10_000:
            p.append(f"pipes.archive_batch_size must be 1..10000 (Pipes DynamoDB stream source), got {pipes.archive_batch_size}")
        if not 0 <= pipes.archive_batching_window_seconds <= 300:
            p.append(f"pipes.archive_batching_window_seconds must be 0..300 (Pipes limit), "
                     f"got {pipes.archive_batching_window_seconds}")
        unknown_statuses = sorted(set(pipes.status_routed_statuses) - STATUSES)
        if unknown_statuses:
            p.append(f"pipes.status_routed_statuses: unknown statuses {unknown_statuses}; known: {', '.join(sorted(STATUSES))}")
        if pipes.status_routed_statuses and events.COMPLETED_STATUS not in pipes.status_routed_statuses:
            p.append(f"pipes.status_routed_statuses must include {events.COMPLETED_STATUS!r} (the completed-payment rule "
                     f"routes it to the vendor notifications), got {list(pipes.status_routed_statuses)}")
        if not (pipes.maximum_retry_attempts == -1 or 0 <= pipes.maximum_retry_attempts <= 10_000):
            p.append(f"pipes.maximum_retry_attempts must be -1 or 0..10000, got {pipes.maximum_retry_attempts}")
        if not (pipes.maximum_record_age_seconds == -1 or 60 <= pipes.maximum_record_age_seconds <= 604_800):
            p.append(
                f"pipes.maximum_record_age_seconds must be -1 or 60..604800, got {pipes.maximum_record_age_seconds}"
            )
        if not 1 <= alarms.api_latency_p99_ms <= 29_000:
            p.append(f"alarms.api_latency_p99_ms must be 1..29000 (API Gateway timeout), got {alarms.api_latency_p99_ms}")
        if alarms.ingest_oldest_message_seconds < 60:
            p.append(f"alarms.ingest_oldest_message_seconds must be >= 60, got {alarms.ingest_oldest_message_seconds}")
        if alarms.authorizer_denies_per_5min < 1:
            p.append(f"alarms.authorizer_denies_per_5min must be >= 1, got {alarms.authorizer_denies_per_5min}")
        if alarms.signature_mismatches_per_5min < 1:
            p.append(f"alarms.signature_mismatches_per_5min must be >= 1, got {alarms.signature_mismatches_per_5min}")
        if alarms.period_seconds < 60 or alarms.period_seconds % 60:
            p.append(f"alarms.period_seconds must be 60 or a multiple of 60, got {alarms.period_seconds}")
        return p

    def _archive_problems(self) -> list[str]:
        p: list[str] = []
        a = self.archive
        if a.storage_class not in ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA", "INTELLIGENT_TIERING"):
            p.append(f"archive.storage_class must be an S3 transition class such as GLACIER_IR, got {a.storage_class!r}")
        if a.transition_days < 30 and a.storage_class == "STANDARD_IA":
            p.append(f"archive.transition_days must be >= 30 for STANDARD_IA, got {a.transition_days}")
        if a.transition_days < 1:
            p.append(f"archive.transition_days must be >= 1, got {a.transition_days}")
        if a.expiration_days <= a.transition_days:
            p.append(
                f"archive.expiration_days must be greater than transition_days ({a.transition_days}), got {a.expiration_days}"
            )
        if self.production and a.expiration_days < 365:
            p.append(f"archive.expiration_days must be >= 365 in prod (PCI DSS 10.5.1), got {a.expiration_days}")
        if a.object_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            p.append(f"archive.object_lock_mode must be GOVERNANCE or COMPLIANCE, got {a.object_lock_mode!r}")
        if not 0 <= a.object_lock_retention_days <= a.expiration_days:
            p.append(f"archive.object_lock_retention_days must be 0 (= expiration_days) .. expiration_days "
                     f"({a.expiration_days}), got {a.object_lock_retention_days}")
        if a.noncurrent_expiration_days < 1:
            p.append(f"archive.noncurrent_expiration_days must be >= 1, got {a.noncurrent_expiration_days}")
        return p

    def _domain_problems(self) -> list[str]:
        d = self.custom_domain
        if d is None:
            return []
        p: list[str] = []
        if not DOMAIN_PATTERN.match(d.domain_name):
            p.append(f"custom_domain.domain_name must be a DNS name such as pay.example.com, got {d.domain_name!r}")
        if not ACM_ARN_PATTERN.match(d.certificate_arn):
            p.append(f"custom_domain.certificate_arn must be an ACM certificate ARN, got {d.certificate_arn!r}")
        elif f":acm:{self.region}:" not in d.certificate_arn:
            p.append(
                f"custom_domain.certificate_arn must be in the stack's region {self.region} "
                f"(regional endpoint), got {d.certificate_arn!r}"
            )
        if d.base_path and not re.match(r"^[A-Za-z0-9._-]+$", d.base_path):
            p.append(f"custom_domain.base_path must be empty or one path segment, got {d.base_path!r}")
        return p

    def _backend_problems(self) -> list[str]:
        b = self.backend
        p: list[str] = []
        if b.kind == "s3":
            if not b.bucket:
                p.append(
                    f"backend.bucket is not configured: name the state bucket in cdktf.json "
                    f"(context.environments.{self.environment}.backend.bucket) or set PAYMENTS_STATE_BUCKET"
                )
            elif not BUCKET_PATTERN.match(b.bucket):
                p.append(
                    f"backend.bucket must be an S3 bucket name (set PAYMENTS_STATE_BUCKET), got {b.bucket!r}"
                )
            if not b.key.endswith(".tfstate"):
                p.append(f"backend.key must end with .tfstate, got {b.key!r}")
            if not REGION_PATTERN.match(b.region):
                p.append(f"backend.region must be an AWS region (set PAYMENTS_STATE_REGION), got {b.region!r}")
            if self.emulator:
                p.append(f"the {self.environment} environment must use the local backend (it runs against an "
                         "emulator: its state never leaves the machine)")
        elif b.kind == "local":
            if not self.emulator:
                p.append(f"{self.environment} must keep its state in S3 (backend.kind 's3'), got 'local'")
            if not b.path:
                p.append("backend.path must name the local state file")
        else:
            p.append(f"backend.kind must be 's3' or 'local', got {b.kind!r}")
        return p

    def validate(self) -> "Settings":
        problems = self.problems()
        if problems:
            raise SettingsError(self.environment, problems)
        return self
