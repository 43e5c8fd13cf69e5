"""The one stack module (C14): configures the provider and the state backend once, then builds the
platform from the reusable constructs and does the cross-construct wiring. Only the app layer
(this package) reads the settings or imports the Lambda runtime package (`paycore`); the
constructs receive plain, typed arguments and never configure providers, regions or credentials."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cdktf import AssetType, LocalBackend, S3Backend, TerraformAsset, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from constructs.app.functions import (
    FUNCTION_ENVIRONMENT,
    PROCESSOR_ALIAS,
    ROOT,
    delivery_function_specs,
    function_specs,
    lambda_artifacts,
)
from constructs.app.settings import Settings

#: The shared-config profile through which the `local` stack's provider reaches the emulator.
EMULATOR_PROFILE = "emulator"
_PROFILE_DIR = ROOT / "build" / "emulator-profile"


def emulator_profile(endpoint_url: str) -> Path:
    """An AWS shared config file whose profile sends every AWS API call to `endpoint_url`, for the
    provider of an emulator stack (synth copies it into the stack's assets). The provider's
    `endpoints` block would do the same per service, but the AWS provider (5.100) spends ~4 s
    validating that block at each of the 3-5 times a Terraform command configures it; the SDK's
    `endpoint_url` costs nothing and also covers a service nobody listed. Named by its content:
    synths of different emulators at once never write the same file."""
    text = (f"# written by synth for an emulator stack: every AWS API call goes to {endpoint_url}\n"
            f"[profile {EMULATOR_PROFILE}]\nendpoint_url = {endpoint_url}\n")
    path = _PROFILE_DIR / hashlib.sha256(text.encode()).hexdigest()[:16] / "aws-config"
    if not path.is_file():  # named by its content: an existing one is this text
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".aws-config.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    return path


# Attributes the local emulator (moto 5.2) does not read back as written, so a plan after a clean
# apply would show them as changes forever. Only the `local` stack ignores them; on AWS they are
# managed like every other attribute.
EMULATOR_ROUND_TRIP_GAPS = {
    "lambda function kms_key_arn": "moto 5.2 neither stores nor returns a function's KMSKeyArn",
    "event source mapping function_name": "moto 5.2 answers the alias's version ARN instead of the alias ARN",
    "NAT instance vpc_security_group_ids": "moto 5.2 does not report a launched instance's security groups back",
}


# A FIFO queue holds at most 120,000 messages in flight; alarm well before it stops taking receives.
DELIVERIES_IN_FLIGHT_ALARM = 100_000


class PaymentPlatformStack(TerraformStack):
    """One environment of the platform. `settings` must already be validated."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings):
        super().__init__(scope, id_)
        self.settings = settings
        self._configure_backend()
        self.provider = self._configure_provider()
        # Build order follows the dependencies; each step exposes its resources as attributes
        # (see each construct's docstring) and the wiring between them happens here.
        self.vpc = self._build_vpc()                      # VPC, subnets, NAT instances, endpoints
        self.security = self._build_security()            # KMS keys per data class
        self.storage = self._build_storage()              # ledger table, archive bucket
        self.queueing = self._build_queueing()            # ingest FIFO + DLQ, notifications + DLQ
        self.configuration = self._build_configuration()  # SSM parameters, Secrets Manager secrets
        self.webhook_routes = self._declare_webhook_routes()  # data: the API and its authorizer read it
        self.processing = self._build_processing()        # layer, functions, roles, event sources
        self.ingress = self._build_ingress()              # REST API, authorizer, WAF, domain
        self.notification = self._build_notification()    # pipes, bus, rule, vendor topic
        self.delivery = self._build_delivery()            # vendor webhooks: queues, table, functions, rules
        self.observability = self._build_observability()  # alarms, dashboard, sampling rule
        self._build_outputs()
        self._allow_platform_key_use()
        if settings.protects_data:
            self._protect_production_data()
        if settings.local is not None:
            self._accept_emulator_round_trip_gaps()

    def _configure_backend(self) -> None:
        s = self.settings
        if s.backend.kind == "local":
            LocalBackend(self, path=s.backend.path)
            return
        options: dict[str, Any] = dict(bucket=s.backend.bucket, key=s.backend.key, region=s.backend.region,
                                       encrypt=True)
        if s.backend.kms_key_id:
            options["kms_key_id"] = s.backend.kms_key_id
        S3Backend(self, **options)
        if s.backend.use_lockfile:
            # S3-native state locking (Terraform >= 1.10); the binding predates the option.
            self.add_override("terraform.backend.s3.use_lockfile", True)

    def _configure_provider(self) -> AwsProvider:
        s = self.settings
        options: dict[str, Any] = dict(region=s.region, default_tags=[AwsProviderDefaultTags(tags=s.tags)])
        if s.local is not None:
            profile = TerraformAsset(self, "emulator-profile", path=str(emulator_profile(s.local.endpoint_url)),
                                     type=AssetType.FILE)
            options.update(
                access_key="test",
                secret_key="test",
                skip_credentials_validation=True,
                skip_requesting_account_id=True,
                skip_metadata_api_check="true",
                skip_region_validation=True,
                s3_use_path_style=True,
                max_retries=s.local.max_retries,
                # the profile's endpoint_url; nothing from ~/.aws (or AWS_PROFILE) takes part
                profile=EMULATOR_PROFILE,
                shared_config_files=[profile.path],
                shared_credentials_files=[profile.path],
            )
        return AwsProvider(self, "aws", **options)

    def _accept_emulator_round_trip_gaps(self) -> None:
        """See EMULATOR_ROUND_TRIP_GAPS: lifecycle.ignore_changes on exactly those attributes."""
        if self.processing is not None:
            for function in self.processing.functions.values():
                function.function.add_override("lifecycle.ignore_changes", ["kms_key_arn"])
            for mapping in self.processing.event_source_mappings.values():
                mapping.add_override("lifecycle.ignore_changes", ["function_name"])
        if self.vpc is not None:
            for instance in self.vpc.nat_instances:
                instance.add_override("lifecycle.ignore_changes", ["vpc_security_group_ids"])

    def _allow_platform_key_use(self) -> None:
        """The key policies name the roles that use keys (functions, the API's queue role, the
        pipes; not the NAT, flow-log or API Gateway CloudWatch roles) and every log group of this
        stack (see constructs.security)."""
        from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup

        roles = [fn.role for fn in self.processing.functions.values()] if self.processing is not None else []
        if self.ingress is not None and self.ingress.api_role is not None:
            roles.append(self.ingress.api_role)
        if self.notification is not None:
            roles += [r for r in (self.notification.archive_pipe_role, self.notification.status_pipe_role) if r]
        groups = [c.name_input for c in self.node.find_all() if isinstance(c, CloudwatchLogGroup)]
        self.security.allow_platform(role_arns=[role.arn for role in roles], log_group_names=groups)

    def _protect_production_data(self) -> None:
        """prod only (setting data_protection; dev and local stay fully destroyable): Terraform refuses to destroy the ledger,
        the archive bucket and the KMS keys (lifecycle.prevent_destroy), and a destroy leaves the
        log groups in place (skip_destroy). README, "Tearing down prod on purpose", undoes it."""
        from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup

        kept: list[Any] = [self.storage.table, self.storage.bucket, *self.security.keys.values()]
        for resource in kept:
            resource.add_override("lifecycle.prevent_destroy", True)
        for construct in self.node.find_all():
            if isinstance(construct, CloudwatchLogGroup):
                construct.skip_destroy = True

    # ----- infrastructure I (security, storage, queueing, configuration, ingress) -----------------
    def _build_security(self):
        from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
        from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
        from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion

        from constructs.security import Security

        s = self.settings
        # Account and partition are looked up at plan time (STS answers in `local` too: the
        # emulator's endpoint), so no account id is hard-coded anywhere.
        self.account_id = DataAwsCallerIdentity(self, "caller").account_id
        self.partition = DataAwsPartition(self, "partition").partition
        self.region_name = DataAwsRegion(self, "region").name
        return Security(
            self, "security", environment=s.suffix, account_id=self.account_id, partition=self.partition,
            region=self.region_name, deletion_window_in_days=s.kms_deletion_window_days,
            admin_principal_arns=s.kms_admin_principal_arns,
        )

    def _build_storage(self):
        from paycore.query import PUBLIC_STATE_FIELDS

        from constructs.storage import LEDGER_GSIS, ArchiveBucket, LedgerTable, MarkerTable

        s = self.settings
        keys = self.security.keys
        index_keys = {"transaction_id", "timestamp"} | {k for pair in LEDGER_GSIS.values() for k in pair}
        ledger = LedgerTable(
            self, "ledger", table_name=s.name("payment-transactions"), kms_key_arn=keys["dynamodb"].arn,
            deletion_protection_enabled=s.protects_data, index_projection_type=s.ledger_index_projection,
            index_non_key_attributes=[f for f in PUBLIC_STATE_FIELDS if f not in index_keys]
            if s.ledger_index_projection == "INCLUDE" else (),
        )
        # Bucket names are global: account and region make the name unique and still deterministic
        # (the same name on every plan), and a second region of the same environment can coexist.
        archive = ArchiveBucket(
            self, "archive", bucket_name=f"payment-archive-{s.suffix}-{self.account_id}-{self.region_name}",
            kms_key_arn=keys["s3"].arn, account_id=self.account_id,
            transition_days=s.archive.transition_days, storage_class=s.archive.storage_class,
            expiration_days=s.archive.expiration_days,
            noncurrent_expiration_days=s.archive.noncurrent_expiration_days,
            force_destroy=not s.production, deny_statements=s.enabled("bucket_policy_denies"),
            object_lock_mode=s.archive.object_lock_mode if s.production else None,
            object_lock_retention_days=s.archive.lock_days if s.production else None,
        )
        # The notifier's at-most-once claims: their own small table, so only the processor writes the ledger.
        markers = MarkerTable(
            self, "notification-markers", table_name=s.name("payment-notification-markers"),
            kms_key_arn=keys["dynamodb"].arn, deletion_protection_enabled=s.protects_data,
        )
        return SimpleNamespace(ledger=ledger, table=ledger.table, archive=archive, bucket=archive.bucket,
                               markers=markers.table)

    def _build_queueing(self):
        from constructs.queueing import FailureQueue, WebhookQueue

        s = self.settings
        key = self.security.keys["sqs"].arn
        allow = s.enabled("sqs_redrive_allow_policy")
        ingest = WebhookQueue(
            self, "ingest", name=f"{s.name('webhooks')}.fifo", fifo=True, kms_key_arn=key,
            consumer_timeout_seconds=s.function("processor").timeout_seconds, dlq_redrive_allow_policy=allow,
            dlq_max_receive_count=s.ingest_max_receive_count,
        )
        # The completed-payment rule (built later by the fan-out) delivers here; its ARN is fixed
        # by its name, so the queue policy can name it now.
        notifications = WebhookQueue(
            self, "notifications", name=s.name("payment-notifications"), kms_key_arn=key,
            consumer_timeout_seconds=s.function("notifier").timeout_seconds,
            service_senders={"events.amazonaws.com": self.completed_rule_arn}, dlq_redrive_allow_policy=allow,
        )
        failures = FailureQueue(self, "lambda-failures", name=self.lambda_failures_name, kms_key_arn=key)
        return SimpleNamespace(ingest=ingest, notifications=notifications, lambda_failures=failures)

    # Names the fan-out creates later; fixed here so earlier constructs can reference their ARNs.
    @property
    def event_bus_name(self) -> str:
        return self.settings.name("payments")

    @property
    def completed_rule_name(self) -> str:
        return self.settings.name("payment-completed")

    @property
    def vendor_topic_name(self) -> str:
        return self.settings.name("payment-vendor-notifications")

    @property
    def alerts_topic_name(self) -> str:
        return self.settings.name("payment-alerts")

    @property
    def alerts_topic_arn(self) -> str:
        """Observability builds the topic after the delivery rule that targets it (it watches the
        delivery functions); the ARN is fixed by the name."""
        return f"arn:{self.partition}:sns:{self.region_name}:{self.account_id}:{self.alerts_topic_name}"

    @property
    def completed_rule_arn(self) -> str:
        return (f"arn:{self.partition}:events:{self.region_name}:{self.account_id}:rule/"
                f"{self.event_bus_name}/{self.completed_rule_name}")

    @property
    def lambda_failures_name(self) -> str:
        return self.settings.name("payment-lambda-failures")

    @property
    def lambda_failures_arn(self) -> str:
        """The functions' roles name the async-failure queue by this ARN, fixed by the queue's name:
        no function waits for the queue's creation (its ~25 s provider wait)."""
        return f"arn:{self.partition}:sqs:{self.region_name}:{self.account_id}:{self.lambda_failures_name}"

    @property
    def vendor_topic_arn(self) -> str:
        return f"arn:{self.partition}:sns:{self.region_name}:{self.account_id}:{self.vendor_topic_name}"

    def _build_configuration(self):
        from constructs.configuration import Configuration

        s = self.settings
        q = self.queueing
        values = {
            "TABLE_NAME": self.storage.table.name,
            "TABLE_ARN": self.storage.table.arn,
            "NOTIFY_MARKERS_TABLE": self.storage.markers.name,
            "INGEST_QUEUE_URL": q.ingest.queue.url,
            "INGEST_QUEUE_ARN": q.ingest.queue.arn,
            "NOTIFICATIONS_QUEUE_URL": q.notifications.queue.url,
            "NOTIFICATIONS_QUEUE_ARN": q.notifications.queue.arn,
            "ARCHIVE_BUCKET": self.storage.bucket.bucket,
            "VENDOR_TOPIC_ARN": self.vendor_topic_arn,
            "EVENT_BUS_NAME": self.event_bus_name,
        }
        return Configuration(
            self, "configuration", environment=s.suffix, values=values, providers=s.providers,
            secrets_kms_key_arn=self.security.keys["secrets"].arn,
            recovery_window_in_days=30 if s.production else 0,
            endpoint_url=s.local.endpoint_url if s.local is not None else None, log_level=s.log_level,
        )

    def _declare_webhook_routes(self):
        """One webhook route per provider when the authorizer that gates them is deployed."""
        from constructs.app.webhook_routes import webhook_routes

        return webhook_routes(self.settings.providers if "authorizer" in self.settings.functions else ())

    def _build_ingress(self):
        s = self.settings
        if self.queueing is None or self.security is None or self.processing is None:
            return None  # every route needs a function (the authorizer gates the webhooks)
        from constructs.app.request_models import REQUEST_MODELS
        from constructs.ingress import LambdaRoute, LambdaTarget, WebhookIngress

        # one target per function: each token read is a new string, and the ingress grants one
        # invoke permission per distinct function name
        targets = {name: LambdaTarget(fn.function.function_name, fn.function.invoke_arn)
                   for name, fn in self.processing.functions.items()}
        target = targets.get

        authorizer = target("authorizer")
        path_id = {"method.request.path.id": True}
        candidates: list[tuple[str, str, LambdaTarget | None, str | None, dict[str, bool]]] = [
            ("POST", "/payments", target("validator"), "PaymentRequest", {"method.request.header.Idempotency-Key": True}),
            ("GET", "/transactions", target("reader"), None, {}),
            ("GET", "/transactions/{id}", target("reader"), None, path_id),
            ("GET", "/status/{id}", target("status"), None, path_id),
            ("POST", "/transactions/{id}/notify", target("notify"), "NotifyRequest", path_id),
        ]
        routes = [LambdaRoute(method=verb, path=path, target=fn, authorization="AWS_IAM", request_model=model,
                              request_parameters=params)
                  for verb, path, fn, model, params in candidates if fn is not None]
        domain = s.custom_domain if s.enabled("custom_domain") else None
        base_path = domain.base_path if domain is not None else ""
        stripping = {targets[n] for n in targets if "API_BASE_PATH" in FUNCTION_ENVIRONMENT.get(n, ())}
        shadowed = [f"{verb} {path}" for verb, path, fn, *_ in candidates
                    if base_path and fn in stripping and path.split("/")[1] == base_path]
        if shadowed:
            raise ValueError(f"custom_domain.base_path {base_path!r} is the first part of {shadowed}: the "
                             "functions strip it from request paths (API_BASE_PATH), so on the execute-api "
                             "endpoint those routes would lose it; choose another base path")
        keys = self.security.keys
        name = s.name("payments-api")
        return WebhookIngress(
            self, "ingress", name=name, region=s.region, description="Payment webhooks and payments API",
            deployment_description="payments API", waf_description="Payments API: managed rules, rate, body size",
            sqs_routes=self.webhook_routes, queue_arn=self.queueing.ingest.queue.arn, queue_kms_key_arn=keys["sqs"].arn,
            request_authorizer=authorizer, request_authorizer_name=f"{name}-webhook-key",
            lambda_routes=routes, request_models=REQUEST_MODELS,
            logs_kms_key_arn=keys["logs"].arn, log_retention_in_days=s.log_retention_days,
            throttle_rate_limit_rps=s.api.throttle_rate_limit, throttle_burst_limit=s.api.throttle_burst_limit,
            cors_allow_origin=s.api.cors_allow_origin, stage_variables=dict(s.api.stage_variables),
            waf=s.enabled("waf"), waf_rate_limit_per_5min=s.api.waf_rate_limit,
            max_body_bytes=s.api.max_webhook_body_bytes, waf_log_group_name=f"aws-waf-logs-{s.name('payments')}",
            waf_log_actions=s.api.waf_log_actions, access_log_class=s.api.access_log_class,
            custom_domain_name=domain.domain_name if domain else None,
            certificate_arn=domain.certificate_arn if domain else None,
            base_path=domain.base_path if domain else "",
            api_logging_account=s.api.manage_account_logging, account_id=self.account_id,
        )

    # ----- infrastructure II (network, compute, fan-out, observability, outputs) -----------------
    def _build_vpc(self):
        s = self.settings
        if not s.enabled("vpc"):
            return None
        from constructs.vpc import Network

        endpoints = s.network.interface_endpoints if s.enabled("interface_endpoints") else ()
        return Network(
            self, "network", name=s.name("payments"), region=s.region, cidr=s.network.cidr,
            az_count=s.network.az_count, nat_mode=s.network.nat_mode,
            nat_instance_type=s.network.nat_instance_type, interface_endpoints=endpoints,
            nat_instances=s.enabled("nat_instances"), availability_zones=s.network.availability_zones,
            detailed_monitoring=s.enabled("instance_monitoring"),
        )

    def _build_processing(self):
        from constructs.app.webhook_routes import ROUTES_VARIABLE, authorizer_routes
        from constructs.processing import FunctionGroup, ProvisionedConcurrencyAutoscaling
        from constructs.queueing import MAX_MESSAGE_SIZE_BYTES

        s = self.settings
        keys = self.security.keys
        q = self.queueing
        environment = dict(self.configuration.lambda_environment)
        environment.update(
            ARCHIVE_KMS_KEY_ARN=keys["s3"].arn,
            INGEST_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_SIZE_BYTES),
            PAYPAL_MAX_TRANSMISSION_AGE_SECONDS=str(s.paypal_max_transmission_age_seconds),
            PROCESSOR_PARALLEL_GROUPS=str(s.processor_parallel_groups),
        )
        environment[ROUTES_VARIABLE] = authorizer_routes(self.webhook_routes)
        domain = s.custom_domain if s.enabled("custom_domain") else None
        if domain is not None and domain.base_path:
            # on the custom domain API Gateway's `path` starts with the base path mapping
            environment["API_BASE_PATH"] = f"/{domain.base_path}"
        vendors = ",".join(sorted({v.vendor_id for v in s.vendor_subscriptions}))
        if vendors:
            environment["KNOWN_VENDORS"] = vendors
        vpc: dict[str, Any] = {}
        if self.vpc is not None and getattr(self.vpc, "private_subnet_ids", None) is not None:
            vpc = dict(subnet_ids=self.vpc.private_subnet_ids,
                       security_group_ids=[self.vpc.lambda_security_group_id])
        artifacts = lambda_artifacts()
        # construct id "compute": the group's resource addresses predate the "processing" name
        group = FunctionGroup(
            self, "compute", functions=function_specs(s, artifacts, environment),
            layer_name=s.name("payment-shared"), layer_zip_path=artifacts["layer"]["path"],
            layer_source_code_hash=artifacts["layer"]["source_code_hash"],
            layer_description="paycore and its pinned dependencies",
            lambda_kms_key_arn=keys["lambda"].arn, logs_kms_key_arn=keys["logs"].arn,
            account_id=self.account_id, partition=self.partition,
            region=self.region_name, log_retention_in_days=s.log_retention_days,
            async_failure_queue_arn=q.lambda_failures.queue.arn, async_failure_queue_arn_by_name=self.lambda_failures_arn,
            async_failure_queue_kms_key_arn=keys["sqs"].arn,
            async_max_retry_attempts=s.lambda_async_max_retry_attempts,
            system_log_level=s.lambda_system_log_level if s.enabled("lambda_logging_config") else None,
            **vpc,
        )
        scaling = s.processor_scaling
        provisioned = scaling.provisioned_concurrency if s.enabled("provisioned_concurrency") else 0
        # the add-on's resources sit beside the functions (ids "processor-alias", ...)
        self.processor_scaling = ProvisionedConcurrencyAutoscaling(
            group, "processor", function=group.functions["processor"], alias_name=PROCESSOR_ALIAS,
            alias_description="what the ingest queue invokes",
            provisioned_concurrent_executions=provisioned, autoscaling=s.enabled("autoscaling"),
            min_capacity=scaling.min_capacity, max_capacity=scaling.max_capacity,
            target_utilization=scaling.target_utilization, backlog_queue_name=q.ingest.queue.name,
            backlog_messages_per_instance=scaling.backlog_per_instance,
        )
        consume = s.enabled("event_source_mappings")
        group.add_queue_event_source(
            "notifier", queue_arn=q.notifications.queue.arn, queue_kms_key_arn=keys["sqs"].arn, enabled=consume)
        group.add_queue_event_source(
            "processor", queue_arn=q.ingest.queue.arn, queue_kms_key_arn=keys["sqs"].arn, enabled=consume,
            target_arn=self.processor_scaling.alias.arn, maximum_concurrency=scaling.event_source_max_concurrency)
        self._grant_functions(group)
        return group

    def _grant_functions(self, group) -> None:
        """Least privilege per function (F6, C10): each grant names the exact actions and ARNs."""
        s = self.settings
        keys = {name: key.arn for name, key in self.security.keys.items()}
        table = self.storage.table.arn
        bucket = self.storage.bucket.arn
        q = self.queueing
        secrets = self.configuration
        fn = group.functions
        read_secrets = ["secretsmanager:GetSecretValue"]
        produce = ["kms:GenerateDataKey", "kms:Decrypt"]
        # secrets are read through Secrets Manager only
        via_secrets = [("StringEquals", "kms:ViaService", [f"secretsmanager.{self.region_name}.amazonaws.com"])]
        fn["processor"].grant("ledger-and-quarantine", [
            {"sid": "LedgerWrites", "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"],
             "resources": [table]},
            {"sid": "SigningSecrets", "actions": read_secrets, "resources": secrets.secret_arns("signing")},
            {"sid": "Quarantine", "actions": ["s3:PutObject"], "resources": [f"{bucket}/quarantine/*"]},
            {"sid": "DataKeys", "actions": produce, "resources": [keys["dynamodb"], keys["s3"]]},
            {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]], "conditions": via_secrets},
        ])
        fn["validator"].grant("enqueue", [
            {"sid": "SendToIngest", "actions": ["sqs:SendMessage"], "resources": [q.ingest.queue.arn]},
            {"sid": "QueueKey", "actions": produce, "resources": [keys["sqs"]]},
        ])
        fn["authorizer"].grant("gate-keys", [
            {"sid": "GateKeySecrets", "actions": read_secrets, "resources": secrets.secret_arns("gate_key")},
            {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]], "conditions": via_secrets},
        ])
        fn["archiver"].grant("archive", [
            {"sid": "WriteRaw", "actions": ["s3:PutObject"], "resources": [f"{bucket}/raw/*"]},
            {"sid": "ArchiveKey", "actions": produce, "resources": [keys["s3"]]},
        ])
        fn["notifier"].grant("publish-and-markers", [
            {"sid": "PublishToVendors", "actions": ["sns:Publish"], "resources": [self.vendor_topic_arn]},
            {"sid": "NotificationMarkers", "actions": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
                                                       "dynamodb:DeleteItem"], "resources": [self.storage.markers.arn]},
            {"sid": "DataKeys", "actions": produce, "resources": [keys["sns"], keys["dynamodb"]]},
        ])
        fn["reader"].grant("read-ledger", [
            # the reader fetches the listed state rows when the indexes project keys only
            {"sid": "QueryLedger", "actions": ["dynamodb:GetItem", "dynamodb:Query"]
             + (["dynamodb:BatchGetItem"] if s.ledger_index_projection == "KEYS_ONLY" else []),
             "resources": [table, f"{table}/index/*"]},
            {"sid": "LedgerKey", "actions": ["kms:Decrypt"], "resources": [keys["dynamodb"]]},
        ])
        fn["reader"].grant("cursor-key", [
            {"sid": "CursorKeySecret", "actions": read_secrets, "resources": [secrets.cursor_key_secret.arn]},
            {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]],
             "conditions": via_secrets},
        ])
        fn["status"].grant("read-ledger", [
            {"sid": "QueryLedger", "actions": ["dynamodb:GetItem"], "resources": [table]},
            {"sid": "LedgerKey", "actions": ["kms:Decrypt"], "resources": [keys["dynamodb"]]},
        ])
        fn["notify"].grant("renotify", [
            {"sid": "ReadState", "actions": ["dynamodb:GetItem"], "resources": [table]},
            {"sid": "SendToNotifications", "actions": ["sqs:SendMessage"], "resources": [q.notifications.queue.arn]},
            {"sid": "DataKeys", "actions": produce, "resources": [keys["sqs"], keys["dynamodb"]]},
        ])

    def _build_notification(self):
        s = self.settings
        if self.security is None or self.queueing is None:
            return None
        from paycore import events as domain_events

        from constructs.notification import EventFanout, FilteredSubscription

        keys = self.security.keys
        archiver = self.processing.functions.get("archiver") if self.processing is not None else None
        subscriptions = [FilteredSubscription(id_=f"vendor-{v.vendor_id}-{index}", protocol=v.protocol,
                                              endpoint=v.endpoint, filter_value=v.vendor_id)
                         for index, v in enumerate(s.vendor_subscriptions)]
        # construct id "fanout": the resource addresses predate the "notification" name
        return EventFanout(
            self, "fanout", bus_name=self.event_bus_name, rule_name=self.completed_rule_name,
            topic_name=self.vendor_topic_name, archive_pipe_name=s.name("payments-archive"),
            status_pipe_name=s.name("payments-status"), dlq_name=s.name("payments-fanout-dlq"),
            bus_dlq_name=s.name("payments-bus-dlq"),
            account_id=self.account_id, events_kms_key_arn=keys["events"].arn, sqs_kms_key_arn=keys["sqs"].arn,
            sns_kms_key_arn=keys["sns"].arn, dynamodb_kms_key_arn=keys["dynamodb"].arn,
            rule_pattern=domain_events.COMPLETED_PAYMENT_RULE_PATTERN,
            rule_target_queue_arn=self.queueing.notifications.queue.arn,
            table_stream_arn=self.storage.table.stream_arn if self.storage is not None else None,
            archive_function_arn=archiver.function.arn if archiver is not None else None,
            archive_filter_pattern=domain_events.PIPE_A_FILTER_PATTERN,
            # what the rules route: the completed-payment rule's and the vendor endpoints' statuses
            status_filter_pattern=domain_events.pipe_b_filter_pattern(s.routed_statuses),
            status_input_template=domain_events.PIPE_B_INPUT_TEMPLATE,
            status_detail_type=domain_events.DOMAIN_EVENT_DETAIL_TYPE,
            status_event_source=domain_events.DOMAIN_EVENT_SOURCE,
            pipes=s.enabled("pipes"), batch_size=s.pipes.batch_size,
            maximum_retry_attempts=s.pipes.maximum_retry_attempts,
            maximum_record_age_seconds=s.pipes.maximum_record_age_seconds,
            archive_batch_size=s.pipes.archive_batch_size,
            archive_batching_window_seconds=s.pipes.archive_batching_window_seconds,
            alert_email=s.alert_email, alert_email_filter_values=s.alert_email_vendor_ids,
            subscriptions=subscriptions, filter_attribute="vendor_id",
            email_subscriptions=s.enabled("email_subscriptions"),
            descriptions={
                "bus": "Payment domain events (TransactionStatusChanged)",
                "rule": "Completed payments -> notifications queue",
                "archive_pipe": "Ledger event rows -> archiver",
                "status_pipe": "Ledger state rows -> TransactionStatusChanged on the bus",
            },
        )

    def _build_delivery(self):
        """Vendor webhooks (lambda_src/README.md, "Vendor delivery"): the functions join the
        processing group (its layer, keys, logs and VPC); the sender gets its own egress group."""
        s = self.settings
        if self.processing is None or self.notification is None:
            return None
        import json

        from paycore import delivery as runtime

        from constructs.delivery import VendorDelivery

        names, keys, group = s.delivery_names, self.security.keys, self.processing
        endpoints = s.delivery.endpoints(allow_loopback_http=s.emulator)  # validated with the settings
        specs = delivery_function_specs(s, lambda_artifacts(), self.configuration.lambda_environment)
        return VendorDelivery(
            self, "delivery", events_queue_name=names.events_queue,
            events_dead_letter_queue_name=names.events_dead_letter_queue, queue_name=names.queue,
            dead_letter_queue_name=names.dead_letter_queue, table_name=names.table,
            endpoints_parameter_name=names.endpoints_parameter,
            endpoints_document=json.dumps(s.delivery.document(), sort_keys=True, separators=(",", ":")),
            signing_secret_names={e: runtime.secret_name(names.secret_prefix, e) for e in sorted(endpoints)},
            signing_secret_prefix=f"{names.secret_prefix}vendors/",
            event_bus_name=self.notification.bus.name, event_bus_arn=self.notification.bus.arn,
            rule_name=names.rule, rule_pattern=runtime.DELIVERY_RULE_PATTERN,
            alerts_rule_name=names.alerts_rule, alerts_rule_pattern={"source": [runtime.EVENT_SOURCE]},
            alert_topic_arn=self.alerts_topic_arn,
            sqs_kms_key_arn=keys["sqs"].arn, dynamodb_kms_key_arn=keys["dynamodb"].arn,
            secrets_kms_key_arn=keys["secrets"].arn, events_kms_key_arn=keys["events"].arn,
            account_id=self.account_id, partition=self.partition, region=self.region_name,
            fanout_function=specs["fanout"], sender_function=specs["sender"],
            function_builder=lambda id_, spec, groups: group.add_function(id_, spec, security_group_ids=groups),
            vpc_id=self.vpc.vpc.id if self.vpc is not None else None,
            vpc_cidr=s.network.cidr if self.vpc is not None else None,
            sender_maximum_concurrency=s.delivery.sender_max_concurrency,
            event_source_mappings_enabled=s.enabled("event_source_mappings"),
            secret_recovery_window_in_days=30 if s.production else 0,
            deletion_protection_enabled=s.protects_data,
            dlq_redrive_allow_policy=s.enabled("sqs_redrive_allow_policy"),
            ops_policy_name=s.name("delivery-ops"),
        )

    def _build_observability(self):
        s = self.settings
        if self.security is None:
            return None
        from constructs.observability import Observability, WatchedFunction

        keys = self.security.keys
        if self.vpc is not None and s.enabled("flow_logs"):
            # here, not in _build_vpc: the flow log group needs the logs key, built after the VPC
            self.vpc.add_flow_logs(logs_kms_key_arn=keys["logs"].arn,
                                       retention_in_days=s.network.flow_log_retention_days)
        functions = {}
        if self.processing is not None:
            functions = {name: WatchedFunction(fn.function.function_name, fn.log_group.name)
                         for name, fn in self.processing.functions.items()}
        dlqs = {}
        if self.queueing is not None:
            q = self.queueing
            dlqs = {"ingest-dlq": q.ingest.dead_letter_queue.name,
                    "notifications-dlq": q.notifications.dead_letter_queue.name}
            failures = getattr(q, "lambda_failures", None)
            if failures is not None:
                dlqs["lambda-failures"] = failures.queue.name
        if self.delivery is not None:
            dlqs["delivery-events-dlq"] = self.delivery.events_queue.dead_letter_queue.name
        pipes, bus, rule = [], None, None
        if self.notification is not None:
            dlqs["fanout-dlq"] = self.notification.dead_letter_queue.name
            dlqs["bus-dlq"] = self.notification.bus_dead_letter_queue.name
            # literal names: they key the alarms' construct ids
            pipes = [name for name, pipe in ((s.name("payments-archive"), self.notification.archive_pipe),
                                             (s.name("payments-status"), self.notification.status_pipe)) if pipe is not None]
            bus, rule = self.notification.bus.name, self.notification.rule.name
        a = s.alarms
        return Observability(
            self, "observability", alerts_topic_name=self.alerts_topic_name, dashboard_name=s.name("payments"),
            name_prefix=s.name("payments"), region=s.region, sns_kms_key_arn=keys["sns"].arn,
            alert_email=s.alert_email, email_subscriptions=s.enabled("email_subscriptions"),
            functions=functions,
            ingest_queue_name=self.queueing.ingest.queue.name if self.queueing is not None else None,
            dead_letter_queue_names=dlqs,
            api_name=self.ingress.rest_api.name if self.ingress is not None else None,
            api_stage_name=self.ingress.stage.stage_name if self.ingress is not None else None,
            table_name=self.storage.table.name if self.storage is not None else None,
            pipe_names=pipes, event_bus_name=bus, rule_name=rule,
            api_latency_p99_ms=a.api_latency_p99_ms, ingest_oldest_message_seconds=a.ingest_oldest_message_seconds,
            authorizer_denies_per_5min=a.authorizer_denies_per_5min, period_seconds=a.period_seconds,
            business_alarms=(self._business_alarms(a) if self.processing is not None else ())
            + self._delivery_alarms(),
            delivery_vendor_ids=sorted({e.vendor_id for e in s.delivery.endpoints(allow_loopback_http=s.emulator).values()})
            if self.delivery is not None else (),
            alert_rule_arns=[self.delivery.alerts_rule.arn] if self.delivery is not None else (),
            account_id=self.account_id,
            alarms=s.enabled("alarms"), dashboard=s.enabled("dashboard"),
            xray_sampling_rule=s.enabled("xray_sampling_rule"), xray_sampling_rate=s.xray_sampling_rate,
        )

    def _business_alarms(self, a: Any) -> tuple[Any, ...]:
        """Alarms on the processor's own metrics (paycore.obs names them)."""
        from constructs.configuration import SERVICE_NAME
        from constructs.observability import MetricAlarm

        service = {"service": SERVICE_NAME}
        return (
            MetricAlarm("signature-mismatches", "WebhookRejected", a.signature_mismatches_per_5min,
                        "Webhooks rejected as signature_mismatch: a forgery wave, or a signing secret rotated at the "
                        "provider but not here (fix it, then scripts/ops.py replay-quarantine)",
                        {**service, "reason": "signature_mismatch"}),
            MetricAlarm("signing-secret-unusable", "SigningSecretUnusable", 1,
                        "A signing secret of ours is empty or malformed: webhooks are retried, then dead-lettered "
                        "(fix it with scripts/ops.py secrets, then redrive)", service),
            MetricAlarm("unroutable-vendor", "UnroutableEvent", 1,
                        "Verified events recorded with a vendor id that cannot be routed: no vendor was notified "
                        "(ledger rows keep vendor_id_raw; GET /transactions?vendor_id=unknown)",
                        {**service, "reason": "unsafe_vendor_id"}),
        )

    def _delivery_alarms(self) -> tuple[Any, ...]:
        """Alarms of the vendor delivery (lambda_src/README.md, "Infrastructure contract"); the
        functions' Errors and the delivery-events DLQ are watched like every other one."""
        if self.delivery is None:
            return ()
        from constructs.configuration import SERVICE_NAME
        from constructs.observability import MetricAlarm

        service = {"service": SERVICE_NAME}
        return (
            MetricAlarm("delivery-exhausted", "DeliveryExhausted", 1,
                        "Vendor webhooks exhausted their retry schedule: the vendor got nothing for a day "
                        "(scripts/ops.py deliveries list/recover once it is back)", service),
            MetricAlarm("delivery-endpoint-disabled", "DeliveryEndpointDisabled", 1,
                        "A vendor endpoint was disabled (410 Gone or failing too long); its messages wait for "
                        "scripts/ops.py deliveries enable + recover", service),
            MetricAlarm("delivery-parked", "DeliveryParked", 1,
                        "Vendor webhooks parked in the deliveries table before the queue's 14-day retention ran out "
                        "(an endpoint paused or failing for ~13 days): scripts/ops.py deliveries resume|enable|release",
                        service),
            MetricAlarm("delivery-malformed-messages", "DeliveryMalformedMessages", 1,
                        "Delivery queue messages the sender could not read (dropped to the delivery DLQ)", service),
            MetricAlarm("deliveries-in-flight", "ApproximateNumberOfMessagesNotVisible", DELIVERIES_IN_FLIGHT_ALARM,
                        f"{self.settings.delivery_names.queue}: held deliveries near the FIFO limit of 120,000 in flight "
                        "(a large vendor failing or paused; auto-disable bounds it)",
                        {"QueueName": self.settings.delivery_names.queue}, namespace="AWS/SQS", period_seconds=300,
                        statistic="Maximum", comparison="GreaterThanThreshold"),
        )

    def _build_outputs(self) -> None:
        """Stack outputs (C17): endpoints, names and ARNs an operator or a script needs."""
        from cdktf import Fn, TerraformOutput

        out: dict[str, tuple[object, str]] = {}
        if self.ingress is not None:
            out["api_url"] = (self.ingress.invoke_url, "REST API stage URL")
            for route in sorted(self.webhook_routes, key=lambda r: r.route_id):
                out[f"webhook_url_{route.route_id}"] = (self.ingress.route_urls[route.path],
                                                        f"{route.route_id} webhook endpoint (append ?key=<gate key>)")
            if self.ingress.domain_name is not None:
                out["custom_domain_target"] = (self.ingress.domain_name.regional_domain_name,
                                               "DNS target (CNAME/alias) of the custom domain")
        if self.storage is not None:
            out["table_name"] = (self.storage.table.name, "ledger table")
            out["archive_bucket"] = (self.storage.bucket.bucket, "archive bucket")
        if self.queueing is not None:
            out["ingest_queue_url"] = (self.queueing.ingest.queue.url, "ingest FIFO queue")
            out["ingest_dlq_url"] = (self.queueing.ingest.dead_letter_queue.url, "ingest dead-letter queue")
            out["notifications_queue_url"] = (self.queueing.notifications.queue.url, "notifications queue")
            out["notifications_dlq_url"] = (self.queueing.notifications.dead_letter_queue.url,
                                            "notifications dead-letter queue")
        if self.notification is not None:
            out["vendor_topic_arn"] = (self.notification.topic.arn, "vendor notifications topic")
            out["event_bus_name"] = (self.notification.bus.name, "domain event bus")
            out["fanout_dlq_url"] = (self.notification.dead_letter_queue.url, "pipes/rule dead-letter queue")
            out["bus_dlq_url"] = (self.notification.bus_dead_letter_queue.url,
                                  "event bus dead-letter queue (events it could not encrypt or decrypt)")
        if self.observability is not None:
            out["alerts_topic_arn"] = (self.observability.alerts_topic.arn, "alarms topic")
        if self.processing is not None:
            for name, fn in sorted(self.processing.functions.items()):
                out[f"function_arn_{name}"] = (fn.function.arn, f"{name} function")
        if self.vpc is not None:
            out["vpc_id"] = (self.vpc.vpc.id, "VPC")
            out["private_subnet_ids"] = (self.vpc.private_subnet_ids, "private subnets (Lambdas)")
            out["public_subnet_ids"] = (self.vpc.public_subnet_ids, "public subnets (NAT instances)")
            if self.delivery is not None and self.vpc.nat_public_ips:
                out["delivery_egress_ips"] = (self.vpc.nat_public_ips,
                                              "NAT Elastic IPs: vendor webhooks come from these (vendors allow-list them)")
        for key, (value, description) in out.items():
            if isinstance(value, list):
                value = Fn.tolist(value)
            TerraformOutput(self, key, value=value, description=description)
