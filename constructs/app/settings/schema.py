"""The settings of one environment (`Settings`): cdktf.json's `context.environments.<env>` as a
frozen pydantic model. Each field carries its default, range or value set (sections.py); every
rule between fields is in `Settings._rules`; unknown keys are errors. `Settings.load` validates
an environment's values strictly, as JSON (no string for a number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from constructs.app.names import Names
from constructs.app.settings.errors import RULES, SettingsError, describe, shown, suggestion
from constructs.app.settings.sections import (
    BUCKET,
    EMAIL,
    ENVIRONMENT_NAME,
    IAM_PRINCIPAL_ARN,
    LOOPBACK_URL,
    REGION,
    SQS_ARN,
    ApiSettings,
    AlarmSettings,
    ArchiveSettings,
    BackendSettings,
    CustomDomain,
    DeliverySettings,
    ReconcileSettings,
    Email,
    FunctionSettings,
    LocalEmulator,
    LogRetention,
    NetworkSettings,
    PipeSettings,
    ProcessorScaling,
    QuotaSettings,
    Section,
    VendorId,
    VendorSubscription,
    has_reason,
    known_key,
    matches,
    one_of,
    some_distinct,
    within,
)
from constructs.core import limits
from paycore import delivery, events
from paycore import providers as provider_registry
from paycore.providers import paypal

FUNCTION_NAMES = ("authorizer", "validator", "processor", "archiver", "notifier", "reader", "status", "notify",
                  "reconciler")
# Features the local emulator cannot run are switched off by name, each with its reason.
FEATURES = (
    "waf", "custom_domain", "vpc", "nat_instances", "interface_endpoints", "flow_logs",
    "provisioned_concurrency", "autoscaling", "xray_sampling_rule",
    "email_subscriptions", "dashboard", "alarms", "pipes", "event_source_mappings",
    "sqs_redrive_allow_policy", "instance_monitoring", "bucket_policy_denies", "lambda_logging_config",
    "reconcile_schedules",
)
# moto's default account and the vendors of the local end-to-end run
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_VENDORS = ("vendor-a", "vendor-b", "vendor-c")
#: The delivery functions' variables (paycore.delivery.Settings.from_env) and the keys that set them.
_RUNTIME_KEYS = {"DELIVERY_RETRY_SCHEDULE": "retry_schedule_seconds", "DELIVERY_TIMEOUT_SECONDS": "timeout_seconds",
                 "DELIVERY_AUTO_DISABLE_AFTER_SECONDS": "auto_disable_after_seconds",
                 "DELIVERY_PAUSE_RECHECK_SECONDS": "pause_recheck_seconds", "DELIVERY_LOG_TTL_DAYS": "log_ttl_days"}


#: Sizing that differs from FunctionSettings' defaults: a reconciler run lists pages for minutes,
#: one run per provider at a time.
FUNCTION_DEFAULTS: dict[str, dict[str, int]] = {"reconciler": {"timeout_seconds": 300, "reserved_concurrency": 2}}


def _every_function(value: Any) -> Any:
    """cdktf.json sizes only what differs: every function gets the defaults first."""
    if isinstance(value, Mapping):
        return {**{name: dict(FUNCTION_DEFAULTS.get(name, {})) for name in FUNCTION_NAMES}, **value}
    return value


def _webhook_provider(name: str) -> str:
    """A provider of the registry that sends webhooks (direct payments have no route): registered,
    or a module ``paycore.providers.{name}`` of the Lambda layer (loaded and registered here)."""
    try:
        webhook = provider_registry.get(name).webhook
    except provider_registry.UnknownProvider:
        webhook = None
    known = provider_registry.webhook_names()
    if webhook is None:
        raise ValueError(f"must be a webhook provider of paycore.providers ({', '.join(known)}; another is its "
                         f"module paycore.providers.<name> or providers.register()){suggestion(name, known)}")
    if not webhook:
        raise ValueError(f"must be a webhook provider of paycore.providers ({', '.join(known)}; {name} has no "
                         "webhook route)")
    return name


class Settings(Section):
    """One environment. cdktf.json holds only what differs from these defaults."""

    environment: str = Field(pattern=ENVIRONMENT_NAME)
    region: Annotated[str, matches(REGION, "an AWS region such as us-east-1")] = "us-east-1"
    project: str = "payment-processing"
    cost_center: str = "engineering"
    extra_tags: dict[str, str] = {}
    log_retention_days: LogRetention = 30
    functions: Annotated[dict[Annotated[str, known_key(FUNCTION_NAMES)], FunctionSettings],
                         BeforeValidator(_every_function)] = Field(
        default_factory=lambda: {name: FunctionSettings(**FUNCTION_DEFAULTS.get(name, {})) for name in FUNCTION_NAMES})
    processor_scaling: ProcessorScaling = ProcessorScaling()
    # The peak rate the environment must carry (prod: over 10,000 a minute at Black Friday);
    # synth fails when a hop's quota or setting cannot carry it (constructs/app/capacity/, checked
    # by environments.load_settings).
    webhooks_per_minute: int = Field(default=1_000, ge=1)
    quotas: QuotaSettings = QuotaSettings()
    api: ApiSettings = ApiSettings()
    custom_domain: CustomDomain | None = None
    network: NetworkSettings = NetworkSettings()
    providers: Annotated[tuple[Annotated[str, AfterValidator(_webhook_provider)], ...],
                         AfterValidator(some_distinct)] = Field(default_factory=provider_registry.webhook_names)
    alert_email: Email = "admin@example.com"
    # vendor_id values the alert e-mail receives on the vendor topic: by default the notifications
    # no vendor subscription takes (unroutable vendor); empty: every sale ($2 per 100,000 e-mails).
    alert_email_vendor_ids: tuple[VendorId, ...] = (events.UNROUTABLE_VENDOR_ID,)
    vendor_subscriptions: tuple[VendorSubscription, ...] = ()
    archive: ArchiveSettings = ArchiveSettings()
    backend: BackendSettings = BackendSettings()
    local: LocalEmulator | None = None
    xray_sampling_rate: float = within(limits.XRAY_SAMPLING_RATE, 0.1)
    pipes: PipeSettings = PipeSettings()
    alarms: AlarmSettings = AlarmSettings()
    delivery: DeliverySettings = DeliverySettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    # KMS keys wait this long between "delete" and deletion; prod keeps the maximum.
    kms_deletion_window_days: int = within(limits.KMS_DELETION_WINDOW_DAYS, 7, "KMS limit")
    # Lambda asynchronous invocations: retries before the on-failure destination (the "3 tries" of
    # a webhook live in the SQS redrive below).
    lambda_async_max_retry_attempts: int = within(limits.LAMBDA_ASYNC_RETRY_ATTEMPTS, 2, "Lambda async limit")
    # Lambda platform log level (JSON log format): WARN drops the START, END and REPORT lines of
    # every invocation (~330 B); duration and memory stay in the Lambda metrics.
    lambda_system_log_level: Annotated[str, one_of(limits.LAMBDA_SYSTEM_LOG_LEVELS)] = "WARN"
    # The functions' own log level (POWERTOOLS_LOG_LEVEL). The success path logs at DEBUG only, so
    # at INFO no line is written per webhook (metrics count them); WARNING also drops the
    # per-anomaly INFO lines (duplicates, ignored events, batch summaries).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Message groups (payments) of one SQS batch the processor works on at once, on threads (a
    # FIFO batch holds at most 10 records; each group's records stay in order). 1: one after the other.
    processor_parallel_groups: int = Field(default=1, ge=1, le=10, description="an SQS batch holds at most 10 records")
    # The ledger GSIs' projection: KEYS_ONLY writes each index entry once and the reader fetches
    # the listed state rows (BatchGetItem); INCLUDE projects paycore.query.PUBLIC_STATE_FIELDS.
    ledger_index_projection: Annotated[str, one_of(limits.DYNAMODB_PROJECTION_TYPES)] = "KEYS_ONLY"
    # Receives of a message before SQS moves it to the dead-letter queue: a transient fault
    # (throttling, a dependency down for a minute) must not dead-letter healthy events.
    ingest_max_receive_count: int = within(limits.SQS_MAX_RECEIVE_COUNT, 5, "SQS maxReceiveCount")
    notifications_max_receive_count: int = within(limits.SQS_MAX_RECEIVE_COUNT, 3, "SQS maxReceiveCount")
    # IAM principals (ARNs) that administer the KMS keys; empty = the account root. Key use is
    # granted separately, to the platform's roles and services only.
    kms_admin_principal_arns: tuple[Annotated[str, matches(
        IAM_PRINCIPAL_ARN, "an IAM principal ARN such as arn:aws:iam::123456789012:role/admin")], ...] = ()
    # Guards against destroying data (prevent_destroy on the ledger, archive bucket and KMS keys,
    # table deletion protection, log groups kept on destroy); null = on in prod only.
    data_protection: bool | None = None
    # PayPal: the oldest paypal-transmission-time the processor accepts (its replay window).
    paypal_max_transmission_age_seconds: int = Field(
        default=paypal.DEFAULT_MAX_TRANSMISSION_AGE_SECONDS, ge=paypal.MIN_TRANSMISSION_AGE_SECONDS,
        le=paypal.MAX_TRANSMISSION_AGE_LIMIT_SECONDS, description="the processor's range")
    # PayPal: whose webhooks the environment takes - live (PayPal's live certificate hosts and
    # subject only) or sandbox (the sandbox ones only). prod is live.
    paypal_mode: Annotated[str, one_of(paypal.MODES)] = paypal.LIVE
    # IAM principals (ARNs) that may assume the operator role the replay tools act as (the only
    # people who may send to the ingest queue); empty = the account root (any principal of the
    # account whose own policy allows sts:AssumeRole on it).
    operator_principal_arns: tuple[Annotated[str, matches(
        IAM_PRINCIPAL_ARN, "an IAM principal ARN such as arn:aws:iam::123456789012:role/oncall")], ...] = ()
    disabled_features: dict[Annotated[str, known_key(FEATURES)], Annotated[str, AfterValidator(has_reason)]] = {}
    # prod-only rules (no disabled features, 3 GB processor, a year of archive, ...)
    production: bool = False
    # the environment runs against a local emulator: local backend, `local` endpoint, fake keys
    emulator: bool = False

    # ----- derived values -------------------------------------------------------------------
    @property
    def suffix(self) -> str:
        """The environment suffix of every physical name: `{resource}-{suffix}`."""
        return self.environment

    @property
    def names(self) -> Names:
        return Names(self.environment)

    def name(self, resource: str) -> str:
        return self.names.name(resource)

    @property
    def secret_prefix(self) -> str:
        return self.names.secret_prefix

    @property
    def routed_statuses(self) -> tuple[str, ...]:
        """What Pipe B puts on the bus: `pipes.status_routed_statuses` plus every status a vendor
        endpoint subscribes to (the vendor-delivery rule routes them); empty: every change."""
        configured = self.pipes.status_routed_statuses
        if not configured:
            return ()
        return configured + tuple(s for s in self.delivery.routed_statuses if s not in configured)

    @property
    def known_vendor_ids(self) -> tuple[str, ...]:
        """The vendors the platform notifies, by a topic subscription or by signed webhooks (the
        notifier's KNOWN_VENDORS: a sale of any other vendor is counted as unknown)."""
        return tuple(sorted({sub.vendor_id for sub in self.vendor_subscriptions} | set(self.delivery.vendors)))

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
        return {"Environment": self.suffix, "Project": self.project, "CostCenter": self.cost_center,
                "ManagedBy": "cdktf", **self.extra_tags}

    # ----- rules between fields ------------------------------------------------------------------
    @model_validator(mode="after")
    def _rules(self) -> "Settings":
        """Every rule that relates two or more fields, each problem with its key path. (Whether the
        stack fits the account's quotas and carries the design rate is constructs/app/capacity/'s,
        checked by `environments.load_settings` once these hold.)"""
        problems: list[tuple[str, str]] = []

        def fail(path: str, message: str) -> None:
            problems.append((path, message))

        self._sizing_rules(fail)
        self._archive_rules(fail)
        self._network_rules(fail)
        self._delivery_rules(fail)
        self._environment_rules(fail)
        if problems:
            raise PydanticCustomError(RULES, "{count} rule(s) broken",
                                      {"count": len(problems), "problems": tuple(problems)})
        return self

    def _sizing_rules(self, fail: Callable[[str, str], None]) -> None:
        processor, s = self.function("processor"), self.processor_scaling
        if self.production and processor.memory_mb < 3008:
            fail("functions.processor.memory_mb", f"must be >= 3008 in prod (the processor's 3 GB), got {processor.memory_mb}")
        if s.min_capacity > s.max_capacity:
            fail("processor_scaling.min_capacity", f"must be <= max_capacity ({s.max_capacity}), got {s.min_capacity}")
        elif s.provisioned_concurrency and not s.min_capacity <= s.provisioned_concurrency <= s.max_capacity:
            fail("processor_scaling.provisioned_concurrency", f"must lie within min..max capacity "
                 f"({s.min_capacity}..{s.max_capacity}) or be 0, got {s.provisioned_concurrency}")
        self._peak_rules(fail)
        reserved = processor.reserved_concurrency
        if reserved is not None:
            for key in ("max_capacity", "event_source_max_concurrency"):
                if getattr(s, key) > reserved:
                    fail(f"processor_scaling.{key}", f"must be <= the processor's reserved concurrency ({reserved}) "
                         f"or messages are throttled back to the queue, got {getattr(s, key)}")

    def _peak_rules(self, fail: Callable[[str, str], None]) -> None:
        s = self.processor_scaling
        if s.scheduled_peaks and not (s.provisioned_concurrency and self.enabled("provisioned_concurrency")
                                      and self.enabled("autoscaling")):
            fail("processor_scaling.scheduled_peaks", "need provisioned concurrency with autoscaling (a peak raises its scaling minimum): set "
                 "processor_scaling.provisioned_concurrency > 0 and keep the provisioned_concurrency and autoscaling "
                 "features enabled")
        names = [peak.name for peak in s.scheduled_peaks]
        for name in sorted({n for n in names if names.count(n) > 1}):
            fail("processor_scaling.scheduled_peaks", f"name {name!r} is used twice; each peak needs its own name")
        for index, peak in enumerate(s.scheduled_peaks):
            if peak.end <= peak.start:  # the same fixed-width format sorts as time
                fail(f"processor_scaling.scheduled_peaks[{index}].end", f"must be after start ({peak.start}), got {peak.end!r}")
            if not s.min_capacity < peak.min_capacity <= s.max_capacity:
                fail(f"processor_scaling.scheduled_peaks[{index}].min_capacity", f"must be above min_capacity ({s.min_capacity}) and at most "
                     f"max_capacity ({s.max_capacity}), got {peak.min_capacity}")
        ordered = sorted(s.scheduled_peaks, key=lambda peak: peak.start)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.start < before.end:
                fail("processor_scaling.scheduled_peaks", f"{after.name!r} starts ({after.start}) before {before.name!r} ends ({before.end}); "
                     "peaks must not overlap")

    def _archive_rules(self, fail: Callable[[str, str], None]) -> None:
        a = self.archive
        if a.storage_class == "STANDARD_IA" and a.transition_days < limits.S3_STANDARD_IA_MIN_DAYS:
            fail("archive.transition_days", f"must be >= {limits.S3_STANDARD_IA_MIN_DAYS} for STANDARD_IA, "
                 f"got {a.transition_days}")
        if a.expiration_days <= a.transition_days:
            fail("archive.expiration_days", f"must be greater than transition_days ({a.transition_days}), "
                 f"got {a.expiration_days}")
        if self.production and a.expiration_days < 365:
            fail("archive.expiration_days", f"must be >= 365 in prod (PCI DSS 10.5.1), got {a.expiration_days}")
        if a.object_lock_retention_days > a.expiration_days:
            fail("archive.object_lock_retention_days", f"must be 0 (= expiration_days) .. expiration_days "
                 f"({a.expiration_days}), got {a.object_lock_retention_days}")

    def _network_rules(self, fail: Callable[[str, str], None]) -> None:
        n, region = self.network, self.region
        zones = n.availability_zones
        if zones and (len(set(zones)) != n.az_count or len(zones) != n.az_count
                      or not all(re.match(rf"^{re.escape(region)}[a-z]$", z) for z in zones)):
            fail("network.availability_zones", f"must name az_count ({n.az_count}) distinct zones of {region} "
                 f"such as {region}a, got {list(zones)}")
        d = self.custom_domain
        if d is not None and f":acm:{region}:" not in d.certificate_arn:
            fail("custom_domain.certificate_arn", f"must be in the stack's region {region} (regional endpoint), "
                 f"got {d.certificate_arn!r}")
        for index, sub in enumerate(self.vendor_subscriptions):
            where = f"vendor_subscriptions[{index}]"
            if sub.vendor_id == events.UNROUTABLE_VENDOR_ID:
                fail(f"{where}.vendor_id", f"{events.UNROUTABLE_VENDOR_ID!r} is reserved for events whose vendor "
                     "cannot be identified (they notify no vendor); choose another id")
            shape = {"email": (EMAIL, "an e-mail address"), "https": (re.compile(r"^https://"), "an https:// URL"),
                     "sqs": (SQS_ARN, "an SQS queue ARN")}[sub.protocol]
            if not shape[0].match(sub.endpoint):
                fail(f"{where}.endpoint", f"must be {shape[1]} for protocol {sub.protocol}, got {sub.endpoint!r}")

    def _delivery_rules(self, fail: Callable[[str, str], None]) -> None:
        d = self.delivery
        try:
            d.endpoints(allow_loopback_http=self.emulator)
        except delivery.ConfigError as exc:
            for line in str(exc).splitlines()[1:] or [str(exc)]:
                path, _, message = line.removeprefix("- ").partition(": ")
                fail(f"delivery.{path}" if path.startswith("vendors") else "delivery.vendors", message or path)
        try:
            delivery.Settings.from_env(d.runtime_environment(allow_loopback_http=self.emulator))
        except delivery.ConfigError as exc:  # "- DELIVERY_X 'value': rule" lines, in the functions' terms
            for line in str(exc).splitlines()[1:]:
                variable, _, rule = line.removeprefix("- ").partition(": ")
                variable = variable.split(" ")[0]
                key = _RUNTIME_KEYS.get(variable, variable)
                rule = rule if rule.startswith("must") else f"must be a {rule}"
                fail(f"delivery.{key}", f"{rule} ({variable}), got {shown(getattr(d, key, None))}")
        floor = delivery.sender_timeout_floor(d.timeout_seconds)
        if d.sender_timeout_seconds < floor:
            fail("delivery.sender_timeout_seconds", f"must be >= {floor} (paycore.delivery.sender_timeout_floor: the "
                 f"10 records of one message group in a row, each timeout_seconds + 1 s, + 10 s), "
                 f"got {d.sender_timeout_seconds}")
        if d.sender_reserved_concurrency is not None and d.sender_max_concurrency > d.sender_reserved_concurrency:
            fail("delivery.sender_max_concurrency", f"must be <= sender_reserved_concurrency "
                 f"({d.sender_reserved_concurrency}) or deliveries are throttled back to the queue, "
                 f"got {d.sender_max_concurrency}")

    def _environment_rules(self, fail: Callable[[str, str], None]) -> None:
        b, env = self.backend, self.environment
        if self.production and self.disabled_features:
            fail("disabled_features", f"prod must not disable features, got {', '.join(sorted(self.disabled_features))}")
        if self.production and self.paypal_mode != paypal.LIVE:
            fail("paypal_mode", f"must be {paypal.LIVE!r} in prod (sandbox webhooks are test money: prod must not take "
                 f"them), got {self.paypal_mode!r}")
        if self.production and self.kms_deletion_window_days < limits.KMS_DELETION_WINDOW_DAYS.high:
            fail("kms_deletion_window_days", f"must be {limits.KMS_DELETION_WINDOW_DAYS.high} in prod (time to "
                 f"notice a mistaken key deletion), got {self.kms_deletion_window_days}")
        if b.kind == "s3":
            if not b.bucket:
                fail("backend.bucket", f"is not configured: name the state bucket in cdktf.json "
                     f"(context.environments.{env}.backend.bucket) or set PAYMENTS_STATE_BUCKET")
            elif not BUCKET.match(b.bucket):
                fail("backend.bucket", f"must be an S3 bucket name (set PAYMENTS_STATE_BUCKET), got {b.bucket!r}")
            if not b.key.endswith(".tfstate"):
                fail("backend.key", f"must end with .tfstate, got {b.key!r}")
            if not REGION.match(b.region):
                fail("backend.region", f"must be an AWS region (set PAYMENTS_STATE_REGION), got {b.region!r}")
            if self.emulator:
                fail("backend.kind", "must be 'local' in an emulator environment (its state never leaves the "
                     "machine), got 's3'")
        else:
            if not self.emulator:
                fail("backend.kind", "must be 's3' (only an emulator environment keeps its state locally), got 'local'")
            if not b.path:
                fail("backend.path", "must name the local state file")
        if self.emulator:
            if self.local is None:
                fail("local", "an emulator environment needs its endpoint (local.endpoint_url)")
            elif not LOOPBACK_URL.match(self.local.endpoint_url):
                fail("local.endpoint_url", f"must be a loopback URL such as http://127.0.0.1:4566, "
                     f"got {self.local.endpoint_url!r}")
        elif self.local is not None:
            fail("local", f"only an emulator environment (emulator: true) may point at an emulator, "
                 f"got {self.local.endpoint_url!r}")

    # ----- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, environment: str, values: Mapping[str, Any]) -> "Settings":
        """Validate one environment's values (cdktf.json's shape) as JSON, strictly: no string
        for a number, no number for a string. Raises SettingsError."""
        if "environment" in values:
            raise SettingsError([f"{environment}: environment: is the environment's name in cdktf.json, "
                                 "not a setting"])
        try:
            return cls.model_validate_json(json.dumps({**values, "environment": environment}), strict=True)
        except ValidationError as error:
            raise SettingsError([f"{environment}: {line}" for line in describe(error, cls)]) from None
