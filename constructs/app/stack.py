"""The one stack module: configures the provider and the state backend once, then builds the
platform from the reusable constructs and wires them together. The app layer's other modules hold
what the wiring uses: the functions as data (functions.py), the routes (routes.py,
webhook_routes.py), the vendor delivery (vendor_delivery.py), the grants (grants.py), the alarms
(alarms.py), the outputs (outputs.py), the ARNs of late resources (arns.py) and the local emulator's needs (local.py). Only the app layer
reads the settings or imports the Lambda runtime package (`paycore`); the constructs receive
plain, typed arguments and never configure providers, regions or credentials."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cdktf import LocalBackend, S3Backend, TerraformStack
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct
from paycore import events as domain_events
from paycore.query import STATE_READ_FIELDS

from constructs.app import local
from constructs.app.alarms import business_alarms, delivery_alarms, reconcile_alarms, watched_resources
from constructs.app.arns import ArnsByName
from constructs.app.functions import (
    PROCESSOR_ALIAS,
    function_environment,
    function_specs,
    lambda_artifacts,
)
from constructs.app.grants import allow_platform_key_use, grant_functions, grant_reconciler
from constructs.app.operator import operator_role
from constructs.reconcile import Reconciliation, ReconcileOptions
from constructs.app.outputs import stack_outputs
from constructs.app.request_models import REQUEST_MODELS
from constructs.app.routes import api_routes, function_targets
from constructs.app.settings import Settings
from constructs.app.vendor_delivery import vendor_delivery
from constructs.app.webhook_routes import webhook_routes
from constructs.configuration import Configuration
from constructs.ingress import (
    ApiLogOptions,
    CorsOptions,
    CustomDomainOptions,
    QueueRouteOptions,
    StageOptions,
    WafOptions,
    WebhookIngress,
)
from constructs.notification import (
    ArchivePipeOptions,
    BusOptions,
    EventFanout,
    FanoutKeys,
    FilteredSubscription,
    PipeOptions,
    RuleOptions,
    StatusPipeOptions,
    TopicOptions,
)
from constructs.observability import AlarmOptions, AlertOptions, Observability
from constructs.processing import (
    AsyncInvokeOptions,
    FunctionGroup,
    LayerOptions,
    ProvisionedConcurrencyAutoscaling,
    ScheduledMinimum,
    VpcPlacement,
)
from constructs.queueing import FailureQueue, WebhookQueue
from constructs.security import Security
from constructs.storage import LEDGER_GSIS, ArchiveBucket, LedgerTable, MarkerTable
from constructs.vpc import Network


class PaymentPlatformStack(TerraformStack):
    """One environment of the platform. `settings` must already be validated."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings):
        super().__init__(scope, id_)
        self.settings = settings
        self.names = settings.names  # every physical name (constructs/app/names.py)
        self._configure_backend()
        self.provider = self._configure_provider()
        # Build order follows the dependencies; each step exposes its resources as attributes
        # (see each construct's docstring) and the wiring between them happens here.
        self.vpc = self._build_vpc()                      # VPC, subnets, NAT instances, endpoints
        self.security = self._build_security()            # KMS keys per data class
        self.storage = self._build_storage()              # ledger table, archive bucket
        self.queueing = self._build_queueing()            # ingest FIFO + DLQ, notifications + DLQ
        self.configuration = self._build_configuration()  # SSM parameters, Secrets Manager secrets
        # what every function reads: the configuration's values (and, in `local`, the emulator's endpoint)
        self.lambda_environment = {**self.configuration.lambda_environment, **local.function_environment(settings)}
        # data: the API and its authorizer read it; one route per provider when the authorizer is deployed
        self.webhook_routes = webhook_routes(settings.providers if "authorizer" in settings.functions else ())
        self.processing = self._build_processing()        # layer, functions, roles, event sources
        self.ingress = self._build_ingress()              # REST API, authorizer, WAF, domain
        self.notification = self._build_notification()    # pipes, bus, rule, vendor topic
        self.delivery = vendor_delivery(self)              # vendor webhooks: queues, table, functions, rules
        self.reconciliation = self._build_reconciliation()  # schedules, checkpoints, provider API secrets
        self.observability = self._build_observability()  # alarms, dashboard, sampling rule
        self.operator = operator_role(self)               # what the replay tools act as
        stack_outputs(self)
        allow_platform_key_use(self)
        if settings.protects_data:
            self._protect_production_data()
        local.adapt(self, settings)  # the emulator's needs (constructs/app/local.py)

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
            options.update(local.provider_options(self, s.local))
        return AwsProvider(self, "aws", **options)

    def _protect_production_data(self) -> None:
        """Setting data_protection (prod; dev and local stay fully destroyable): Terraform refuses to
        destroy the ledger, the archive bucket and the KMS keys (lifecycle.prevent_destroy), and a
        destroy leaves the log groups in place (skip_destroy). README, "Tearing down prod on purpose",
        undoes it."""
        for resource in (self.storage.table, self.storage.bucket, *self.security.keys.values()):
            resource.add_override("lifecycle.prevent_destroy", True)
        for construct in self.node.find_all():
            if isinstance(construct, CloudwatchLogGroup):
                construct.skip_destroy = True

    # ----- network, keys, data, queues, configuration --------------------------------------------
    def _build_vpc(self) -> Network | None:
        s = self.settings
        if not s.enabled("vpc"):
            return None
        return Network(
            self, "network", name=self.names.network, region=s.region, cidr=s.network.cidr,
            az_count=s.network.az_count, nat_mode=s.network.nat_mode,
            nat_instance_type=s.network.nat_instance_type,
            interface_endpoints=s.network.interface_endpoints if s.enabled("interface_endpoints") else (),
            nat_instances=s.enabled("nat_instances"), availability_zones=s.network.availability_zones,
        )

    def _build_security(self) -> Security:
        s = self.settings
        # Account and partition are looked up at plan time (STS answers in `local` too: the
        # emulator's endpoint), so no account id is hard-coded anywhere.
        self.account_id = DataAwsCallerIdentity(self, "caller").account_id
        self.partition = DataAwsPartition(self, "partition").partition
        self.region_name = DataAwsRegion(self, "region").name
        self.arns = ArnsByName(self.names, self.partition, self.region_name, self.account_id)
        return Security(
            self, "security", environment=s.suffix, account_id=self.account_id, partition=self.partition,
            region=self.region_name, deletion_window_in_days=s.kms_deletion_window_days,
            admin_principal_arns=s.kms_admin_principal_arns,
        )

    def _build_storage(self) -> SimpleNamespace:
        s, names, keys, archive = self.settings, self.names, self.security.keys, self.settings.archive
        index_keys = {"transaction_id", "timestamp"} | {k for pair in LEDGER_GSIS.values() for k in pair}
        ledger = LedgerTable(
            self, "ledger", table_name=names.ledger_table, kms_key_arn=keys["dynamodb"].arn,
            deletion_protection_enabled=s.protects_data, index_projection_type=s.ledger_index_projection,
            index_non_key_attributes=[f for f in STATE_READ_FIELDS if f not in index_keys]
            if s.ledger_index_projection == "INCLUDE" else (),
        )
        # a second region of the same environment can coexist (names.archive_bucket)
        bucket = ArchiveBucket(
            self, "archive", bucket_name=names.archive_bucket(self.account_id, self.region_name),
            kms_key_arn=keys["s3"].arn, account_id=self.account_id, transition_days=archive.transition_days,
            storage_class=archive.storage_class, expiration_days=archive.expiration_days,
            noncurrent_expiration_days=archive.noncurrent_expiration_days, force_destroy=not s.production,
            object_lock_mode=archive.object_lock_mode if s.production else None,
            object_lock_retention_days=archive.lock_days if s.production else None,
        )
        # The notifier's at-most-once claims: their own small table, so only the processor writes the ledger.
        markers = MarkerTable(self, "notification-markers", table_name=names.markers_table,
                              kms_key_arn=keys["dynamodb"].arn, deletion_protection_enabled=s.protects_data)
        # Direct payments' Idempotency-Keys, bound to their request by the validator (paycore.idempotency).
        idempotency = MarkerTable(self, "idempotency", table_name=names.idempotency_table,
                                  kms_key_arn=keys["dynamodb"].arn, deletion_protection_enabled=s.protects_data)
        return SimpleNamespace(ledger=ledger, table=ledger.table, archive=bucket, bucket=bucket.bucket,
                               markers=markers.table, idempotency=idempotency.table)

    def _build_queueing(self) -> SimpleNamespace:
        s, names = self.settings, self.names
        key = self.security.keys["sqs"].arn
        ingest = WebhookQueue(
            self, "ingest", name=names.ingest_queue, dlq_name=names.ingest_dead_letter_queue, fifo=True,
            kms_key_arn=key, consumer_timeout_seconds=s.function("processor").timeout_seconds,
            dlq_max_receive_count=s.ingest_max_receive_count,
            # only API Gateway's queue role, the validator and the operators may send (arns.py)
            sender_principal_arns=self.arns.ingest_senders,
        )
        notifications = WebhookQueue(
            self, "notifications", name=names.notifications_queue, dlq_name=names.notifications_dead_letter_queue,
            kms_key_arn=key, consumer_timeout_seconds=s.function("notifier").timeout_seconds,
            service_senders={"events.amazonaws.com": self.arns.completed_rule},
            dlq_max_receive_count=s.notifications_max_receive_count,
        )
        failures = FailureQueue(self, "lambda-failures", name=names.lambda_failures_queue, kms_key_arn=key)
        return SimpleNamespace(ingest=ingest, notifications=notifications, lambda_failures=failures)

    def _build_configuration(self) -> Configuration:
        from paycore import providers

        s, storage, q = self.settings, self.storage, self.queueing
        values = {
            "TABLE_NAME": storage.table.name, "TABLE_ARN": storage.table.arn,
            "NOTIFY_MARKERS_TABLE": storage.markers.name, "IDEMPOTENCY_TABLE": storage.idempotency.name,
            "INGEST_QUEUE_URL": q.ingest.queue.url, "INGEST_QUEUE_ARN": q.ingest.queue.arn,
            "NOTIFICATIONS_QUEUE_URL": q.notifications.queue.url, "NOTIFICATIONS_QUEUE_ARN": q.notifications.queue.arn,
            "ARCHIVE_BUCKET": storage.bucket.bucket, "VENDOR_TOPIC_ARN": self.arns.vendor_topic,
            "EVENT_BUS_NAME": self.names.event_bus,
        }
        return Configuration(
            self, "configuration", environment=s.suffix, parameter_prefix=self.names.parameter_prefix,
            secret_prefix=self.names.secret_prefix, values=values, providers=s.providers,
            provider_secrets={name: [spec.name for spec in providers.get(name).secrets] for name in s.providers},
            secrets_kms_key_arn=self.security.keys["secrets"].arn,
            recovery_window_in_days=30 if s.production else 0, log_level=s.log_level,
            internal_key_secret_name=self.names.internal_key_secret,
        )

    # ----- functions, API, fan-out, vendor delivery, observability ---------------------------------
    def _build_processing(self) -> FunctionGroup:
        s, keys, q = self.settings, self.security.keys, self.queueing
        environment = function_environment(s, self.lambda_environment, archive_kms_key_arn=keys["s3"].arn,
                                           webhook_routes=self.webhook_routes)
        vpc = None
        if self.vpc is not None:
            vpc = VpcPlacement(subnet_ids=self.vpc.private_subnet_ids,
                               security_group_ids=[self.vpc.lambda_security_group_id])
        artifacts = lambda_artifacts()
        # construct id "compute": the group's resource addresses predate the "processing" name
        group = FunctionGroup(
            self, "compute", functions=function_specs(s, artifacts, environment),
            layer=LayerOptions(name=self.names.layer, zip_path=artifacts["layer"]["path"],
                               source_code_hash=artifacts["layer"]["source_code_hash"],
                               description="paycore and its pinned dependencies"),
            lambda_kms_key_arn=keys["lambda"].arn, logs_kms_key_arn=keys["logs"].arn,
            account_id=self.account_id, partition=self.partition,
            region=self.region_name, log_retention_in_days=s.log_retention_days, vpc=vpc,
            async_invoke=AsyncInvokeOptions(
                max_retry_attempts=s.lambda_async_max_retry_attempts, failure_queue_arn=q.lambda_failures.queue.arn,
                failure_queue_arn_by_name=self.arns.lambda_failures_queue, failure_queue_kms_key_arn=keys["sqs"].arn),
            system_log_level=s.lambda_system_log_level,
        )
        scaling = s.processor_scaling
        # the add-on's resources sit beside the functions (ids "processor-alias", ...)
        self.processor_scaling = ProvisionedConcurrencyAutoscaling(
            group, "processor", function=group.functions["processor"], alias_name=PROCESSOR_ALIAS,
            alias_description="what the ingest queue invokes",
            provisioned_concurrent_executions=scaling.provisioned_concurrency
            if s.enabled("provisioned_concurrency") else 0,
            autoscaling=s.enabled("autoscaling"), min_capacity=scaling.min_capacity,
            max_capacity=scaling.max_capacity, target_utilization=scaling.target_utilization,
            backlog_queue_name=q.ingest.queue.name, backlog_messages_per_instance=scaling.backlog_per_instance,
            scheduled_minimums=[ScheduledMinimum(name=p.name, start=p.start, end=p.end, min_capacity=p.min_capacity)
                                for p in scaling.scheduled_peaks],
        )
        group.add_queue_event_source("notifier", queue_arn=q.notifications.queue.arn, queue_kms_key_arn=keys["sqs"].arn)
        group.add_queue_event_source(
            "processor", queue_arn=q.ingest.queue.arn, queue_kms_key_arn=keys["sqs"].arn,
            target_arn=self.processor_scaling.alias.arn, maximum_concurrency=scaling.event_source_max_concurrency)
        grant_functions(self, group)
        return group

    def _build_ingress(self) -> WebhookIngress:
        s, keys, names, api = self.settings, self.security.keys, self.names, self.settings.api
        targets = function_targets(self.processing.functions)
        domain = s.custom_domain if s.enabled("custom_domain") else None
        queue_routes = None
        if self.webhook_routes:
            queue_routes = QueueRouteOptions(
                routes=self.webhook_routes, queue_arn=self.queueing.ingest.queue.arn, queue_kms_key_arn=keys["sqs"].arn,
                authorizer=targets["authorizer"], authorizer_name=names.api_authorizer)
        return WebhookIngress(
            self, "ingress", name=names.api, region=s.region, description="Payment webhooks and payments API",
            deployment_description="payments API", queue_routes=queue_routes,
            lambda_routes=api_routes(targets, domain.base_path if domain is not None else ""),
            request_models=REQUEST_MODELS,
            logs=ApiLogOptions(kms_key_arn=keys["logs"].arn, retention_in_days=s.log_retention_days,
                               access_log_class=api.access_log_class,
                               manage_account_logging=api.manage_account_logging, account_id=self.account_id),
            stage=StageOptions(variables=dict(api.stage_variables), throttle_rate_limit_rps=api.throttle_rate_limit,
                               throttle_burst_limit=api.throttle_burst_limit),
            cors=CorsOptions(allow_origin=api.cors_allow_origin),
            waf=WafOptions(log_group_name=names.waf_log_group, rate_limit_per_5min=api.waf_rate_limit,
                           max_body_bytes=api.max_webhook_body_bytes, log_actions=api.waf_log_actions,
                           description="Payments API: managed rules, rate, body size") if s.enabled("waf") else None,
            custom_domain=CustomDomainOptions(domain_name=domain.domain_name, certificate_arn=domain.certificate_arn,
                                              base_path=domain.base_path) if domain is not None else None,
        )

    def _build_notification(self) -> EventFanout:
        s, keys, names, p = self.settings, self.security.keys, self.names, self.settings.pipes
        archiver = self.processing.functions.get("archiver")
        pipes = None
        if s.enabled("pipes"):
            pipes = PipeOptions(
                table_stream_arn=self.storage.table.stream_arn, stream_kms_key_arn=keys["dynamodb"].arn,
                # what the rules route: the completed-payment rule's and the vendor endpoints' statuses
                status=StatusPipeOptions(
                    name=names.status_pipe, filter_pattern=domain_events.pipe_b_filter_pattern(s.routed_statuses),
                    input_template=domain_events.PIPE_B_INPUT_TEMPLATE,
                    detail_type=domain_events.DOMAIN_EVENT_DETAIL_TYPE, event_source=domain_events.DOMAIN_EVENT_SOURCE,
                    description="Ledger state rows -> TransactionStatusChanged on the bus"),
                archive=ArchivePipeOptions(
                    name=names.archive_pipe, function_arn=archiver.function.arn,
                    filter_pattern=domain_events.PIPE_A_FILTER_PATTERN, batch_size=p.archive_batch_size,
                    batching_window_seconds=p.archive_batching_window_seconds,
                    description="Ledger event rows -> archiver") if archiver is not None else None,
                batch_size=p.batch_size, maximum_retry_attempts=p.maximum_retry_attempts,
                maximum_record_age_seconds=p.maximum_record_age_seconds,
            )
        subscriptions = [FilteredSubscription(id_=f"vendor-{v.vendor_id}-{index}", protocol=v.protocol,
                                              endpoint=v.endpoint, filter_value=v.vendor_id)
                         for index, v in enumerate(s.vendor_subscriptions)]
        # construct id "fanout": the resource addresses predate the "notification" name
        return EventFanout(
            self, "fanout", account_id=self.account_id,
            keys=FanoutKeys(events=keys["events"].arn, sqs=keys["sqs"].arn, sns=keys["sns"].arn),
            bus=BusOptions(name=names.event_bus, dead_letter_queue_name=names.bus_dead_letter_queue,
                           description="Payment domain events (TransactionStatusChanged)"),
            rule=RuleOptions(name=names.completed_rule, pattern=domain_events.COMPLETED_PAYMENT_RULE_PATTERN,
                             target_queue_arn=self.queueing.notifications.queue.arn,
                             description="Completed payments -> notifications queue"),
            topic=TopicOptions(name=names.vendor_topic, subscriptions=subscriptions, filter_attribute="vendor_id",
                               alert_email=s.alert_email, alert_email_filter_values=s.alert_email_vendor_ids,
                               email_subscriptions=s.enabled("email_subscriptions")),
            dead_letter_queue_name=names.fanout_dead_letter_queue, pipes=pipes,
        )

    def _build_reconciliation(self) -> Reconciliation:
        """The reconciler's schedules and state (paycore.reconcile); its grants follow the table's."""
        s, names, keys, r = self.settings, self.names, self.security.keys, self.settings.reconcile
        reconciliation = Reconciliation(
            self, "reconcile",
            options=ReconcileOptions(
                providers=[p for p in r.providers if p in s.providers], interval_minutes=r.interval_minutes,
                table_name=names.reconcile_checkpoints_table, schedule_group_name=names.reconcile_schedule_group,
                schedule_names={p: names.reconcile_schedule(p) for p in r.providers},
                scheduler_role_name=names.reconcile_scheduler_role,
                dead_letter_queue_name=names.reconcile_dead_letter_queue,
                api_secret_names={p: names.provider_api_secret(p) for p in r.providers},
                enabled=s.enabled("reconcile_schedules")),
            function_arn=self.processing.functions["reconciler"].function.arn, account_id=self.account_id,
            partition=self.partition, region=self.region_name, dynamodb_key_arn=keys["dynamodb"].arn,
            sqs_key_arn=keys["sqs"].arn, secrets_key_arn=keys["secrets"].arn, protects_data=s.protects_data,
            recovery_window_in_days=30 if s.production else 0)
        grant_reconciler(self, self.processing, reconciliation)
        return reconciliation

    def _build_observability(self) -> Observability:
        s, keys, a = self.settings, self.security.keys, self.settings.alarms
        if self.vpc is not None and s.enabled("flow_logs"):
            # here, not in _build_vpc: the flow log group needs the logs key, built after the VPC
            self.vpc.add_flow_logs(logs_kms_key_arn=keys["logs"].arn, retention_in_days=s.network.flow_log_retention_days)
        return Observability(
            self, "observability", name_prefix=self.names.alarm_prefix, region=s.region,
            alerts=AlertOptions(topic_name=self.names.alerts_topic, kms_key_arn=keys["sns"].arn, email=s.alert_email,
                                email_subscriptions=s.enabled("email_subscriptions"), account_id=self.account_id,
                                rule_arns=[self.delivery.alerts_rule.arn]),
            watched=watched_resources(self),
            alarms=AlarmOptions(
                enabled=s.enabled("alarms"), period_seconds=a.period_seconds, api_latency_p99_ms=a.api_latency_p99_ms,
                ingest_oldest_message_seconds=a.ingest_oldest_message_seconds,
                authorizer_denies_per_5min=a.authorizer_denies_per_5min,
                business_alarms=business_alarms(a) + delivery_alarms(self.names)
                + reconcile_alarms(s.reconcile, [p for p in s.reconcile.providers if p in s.providers])),
            dashboard_name=self.names.dashboard if s.enabled("dashboard") else None,
            xray_sampling_rate=s.xray_sampling_rate if s.enabled("xray_sampling_rule") else None,
        )
