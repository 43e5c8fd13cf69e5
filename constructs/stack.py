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
        return None

    def _build_storage(self):
        return None

    def _build_queueing(self):
        return None

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
