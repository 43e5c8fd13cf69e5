"""The one stack module (C14): configures the provider and the state backend once, then builds the
platform's constructs and does the cross-construct wiring. Constructs receive settings explicitly
and never configure providers, regions or credentials themselves."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from constructs import Construct

from constructs.settings import Settings

# Every service the stack or its Lambdas call; in `local` each points at the emulator.
LOCAL_ENDPOINT_SERVICES = (
    "acm", "apigateway", "applicationautoscaling", "cloudwatch", "cloudwatchlogs", "dynamodb", "ec2",
    "events", "iam", "kms", "lambda_", "pipes", "s3", "secretsmanager", "sns", "sqs", "ssm", "sts",
    "wafv2", "xray",
)


class PaymentPlatformStack(TerraformStack):
    """One environment of the platform. `settings` must already be validated."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings):
        super().__init__(scope, id_)
        self.settings = settings
        self._configure_backend()
        self.provider = self._configure_provider()
        # Build order follows the dependencies; each step exposes its resources as attributes
        # (see each construct's docstring) and the wiring between them happens here.
        self.network = self._build_network()              # VPC, subnets, NAT instances, endpoints
        self.security = self._build_security()            # KMS keys per data class
        self.storage = self._build_storage()              # ledger table, archive bucket
        self.queueing = self._build_queueing()            # ingest FIFO + DLQ, notifications + DLQ
        self.configuration = self._build_configuration()  # SSM parameters, Secrets Manager secrets
        self.compute = self._build_compute()              # layer, functions, roles, event sources
        self.ingress = self._build_ingress()              # REST API, authorizer, WAF, domain
        self.fanout = self._build_fanout()                # pipes, bus, rule, vendor topic
        self.observability = self._build_observability()  # alarms, dashboard, sampling rule
        self._build_outputs()

    def _configure_backend(self) -> None:
        s = self.settings
        if s.backend.kind == "local":
            LocalBackend(self, path=s.backend.path)
            return
        options = dict(bucket=s.backend.bucket, key=s.backend.key, region=s.backend.region, encrypt=True)
        if s.backend.kms_key_id:
            options["kms_key_id"] = s.backend.kms_key_id
        S3Backend(self, **options)
        if s.backend.use_lockfile:
            # S3-native state locking (Terraform >= 1.10); the binding predates the option.
            self.add_override("terraform.backend.s3.use_lockfile", True)

    def _configure_provider(self) -> AwsProvider:
        s = self.settings
        options = dict(region=s.region, default_tags=[AwsProviderDefaultTags(tags=s.tags)])
        if s.local is not None:
            url = s.local.endpoint_url
            options.update(
                access_key="test",
                secret_key="test",
                skip_credentials_validation=True,
                skip_requesting_account_id=True,
                skip_metadata_api_check="true",
                skip_region_validation=True,
                s3_use_path_style=True,
                max_retries=s.local.max_retries,
                endpoints=[AwsProviderEndpoints(**{service: url for service in LOCAL_ENDPOINT_SERVICES})],
            )
        return AwsProvider(self, "aws", **options)

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
        )

    def _build_storage(self):
        from types import SimpleNamespace

        from constructs.storage import ArchiveBucket, LedgerTable

        s = self.settings
        keys = self.security.keys
        ledger = LedgerTable(
            self, "ledger", table_name=s.name("payment-transactions"), kms_key_arn=keys["dynamodb"].arn,
            deletion_protection_enabled=s.production,
        )
        # Bucket names are global: account and region make the name unique and still deterministic
        # (the same name on every plan), and a second region of the same environment can coexist.
        archive = ArchiveBucket(
            self, "archive", bucket_name=f"payment-archive-{s.suffix}-{self.account_id}-{self.region_name}",
            kms_key_arn=keys["s3"].arn, account_id=self.account_id,
            transition_days=s.archive.transition_days, storage_class=s.archive.storage_class,
            expiration_days=s.archive.expiration_days,
            noncurrent_expiration_days=s.archive.noncurrent_expiration_days,
            force_destroy=not s.production,
        )
        return SimpleNamespace(ledger=ledger, table=ledger.table, archive=archive, bucket=archive.bucket)

    def _build_queueing(self):
        from types import SimpleNamespace

        from constructs.queueing import FailureQueue, WebhookQueue

        s = self.settings
        key = self.security.keys["sqs"].arn
        ingest = WebhookQueue(
            self, "ingest", name=f"{s.name('webhooks')}.fifo", fifo=True, kms_key_arn=key,
            consumer_timeout_seconds=s.function("processor").timeout_seconds,
        )
        # The completed-payment rule (built later by the fan-out) delivers here; its ARN is fixed
        # by its name, so the queue policy can name it now.
        notifications = WebhookQueue(
            self, "notifications", name=s.name("payment-notifications"), kms_key_arn=key,
            consumer_timeout_seconds=s.function("notifier").timeout_seconds,
            service_senders={"events.amazonaws.com": self.completed_rule_arn},
        )
        failures = FailureQueue(self, "lambda-failures", name=s.name("payment-lambda-failures"), kms_key_arn=key)
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
    def completed_rule_arn(self) -> str:
        return (f"arn:{self.partition}:events:{self.region_name}:{self.account_id}:rule/"
                f"{self.event_bus_name}/{self.completed_rule_name}")

    @property
    def vendor_topic_arn(self) -> str:
        return f"arn:{self.partition}:sns:{self.region_name}:{self.account_id}:{self.vendor_topic_name}"

    def _build_configuration(self):
        return None

    def _build_ingress(self):
        return None

    # ----- infrastructure II (network, compute, fan-out, observability, outputs) -----------------
    def _build_network(self):
        s = self.settings
        if not s.enabled("vpc"):
            return None
        from constructs.network import Network

        endpoints = s.network.interface_endpoints if s.enabled("interface_endpoints") else ()
        return Network(
            self, "network", name=s.name("payments"), region=s.region, cidr=s.network.cidr,
            az_count=s.network.az_count, nat_mode=s.network.nat_mode,
            nat_instance_type=s.network.nat_instance_type, interface_endpoints=endpoints,
            nat_instances=s.enabled("nat_instances"),
        )

    def _build_compute(self):
        return None

    def _build_fanout(self):
        return None

    def _build_observability(self):
        return None

    def _build_outputs(self) -> None:
        return None
