"""`FunctionGroup`: functions described as data (`FunctionSpec`) that share a layer, keys, log
settings, VPC placement and async failure handling, plus their SQS event sources.

Code is a local zip per function (and one for the layer), referenced as cdktf file assets: the
synthesized JSON names `assets/<id>/<content hash>/<file>` relative to the stack directory (no
absolute path, no timestamp), so two synths and a clean checkout give the same bytes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingScalingConfig,
)
from cdktf_cdktf_provider_aws.lambda_layer_version import LambdaLayerVersion
from constructs import Construct

from constructs.core.limits import SQS_EVENT_SOURCE_MAX_CONCURRENCY
from constructs.core.tokens import is_literal
from constructs.processing.function import ARCHITECTURE, RUNTIME, ServerlessFunction
from constructs.processing.options import DEFAULT_ASYNC_INVOKE, AsyncInvokeOptions, FunctionSpec, LayerOptions, VpcPlacement

SQS_CONSUME_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                       "sqs:GetQueueAttributes"]
SQS_BATCH_SIZE = 10  # FIFO event sources take at most 10


class FunctionGroup(Construct):
    """Functions that share a layer, keys, log settings, VPC placement and async failure handling.

    Keyword arguments:
      functions: id -> FunctionSpec; each becomes a `ServerlessFunction` with that construct id
        (and its zip an asset `{id}-asset`); at least one (required).
      lambda_kms_key_arn: environment encryption key; logs_kms_key_arn: the log groups' key (required).
      account_id, partition, region: for ARNs in the roles' policies (required).
      layer: LayerOptions of a layer every function gets; default None (no layer).
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      vpc: VpcPlacement of every function; default None (no VPC).
      async_invoke: AsyncInvokeOptions of every function (see ServerlessFunction); default its defaults.
      system_log_level: every function's platform log level (see ServerlessFunction); default None.

    Attributes: `layer` (LambdaLayerVersion or None), `functions` (id -> ServerlessFunction),
      `event_source_mappings` (id -> LambdaEventSourceMapping, see `add_queue_event_source`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        functions: Mapping[str, FunctionSpec],
        lambda_kms_key_arn: str,
        logs_kms_key_arn: str,
        account_id: str,
        partition: str,
        region: str,
        layer: LayerOptions | None = None,
        log_retention_in_days: int = 30,
        vpc: VpcPlacement | None = None,
        async_invoke: AsyncInvokeOptions = DEFAULT_ASYNC_INVOKE,
        system_log_level: str | None = None,
    ):
        super().__init__(scope, id_)
        if not functions:
            raise ValueError("FunctionGroup: functions must name at least one function, got none")

        self.layer: LambdaLayerVersion | None = None
        if layer is not None:
            layer_asset = TerraformAsset(self, "layer-asset", path=layer.zip_path, type=AssetType.FILE)
            self.layer = LambdaLayerVersion(
                self, "layer", layer_name=layer.name, filename=layer_asset.path,
                source_code_hash=layer.source_code_hash, compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE], description=layer.description,
            )
        self._shared: dict[str, Any] = dict(
            kms_key_arn=lambda_kms_key_arn, log_kms_key_arn=logs_kms_key_arn,
            account_id=account_id, partition=partition, region=region,
            layer_arns=[self.layer.arn] if self.layer is not None else [],
            log_retention_in_days=log_retention_in_days, async_invoke=async_invoke,
            system_log_level=system_log_level,
        )
        self._vpc = vpc
        self.functions: dict[str, ServerlessFunction] = {}
        for name, spec in functions.items():
            self.add_function(name, spec)
        self.event_source_mappings: dict[str, LambdaEventSourceMapping] = {}

    def add_function(self, name: str, spec: FunctionSpec, *,
                     security_group_ids: Sequence[str] | None = None) -> ServerlessFunction:
        """One more function of the group (construct id `name`, its zip the asset `{name}-asset`)
        with the group's layer, keys, logs, VPC placement and async failure handling.
        `security_group_ids`: instead of the group's (same subnets); default the group's."""
        if name in self.functions:
            raise ValueError(f"FunctionGroup.add_function: {name!r} is already a function of the group")
        if security_group_ids is not None and self._vpc is None:
            raise ValueError(f"FunctionGroup.add_function {name}: security_group_ids needs the group's VPC "
                             "placement (vpc), got none")
        vpc = self._vpc
        if vpc is not None and security_group_ids is not None:
            vpc = replace(vpc, security_group_ids=security_group_ids)
        asset = TerraformAsset(self, f"{name}-asset", path=spec.code_path, type=AssetType.FILE)
        self.functions[name] = ServerlessFunction(
            self, name, spec=replace(spec, code_path=asset.path), vpc=vpc, **self._shared)
        return self.functions[name]

    def add_queue_event_source(
        self,
        name: str,
        *,
        queue_arn: str,
        queue_kms_key_arn: str,
        target_arn: str | None = None,
        maximum_concurrency: int | None = None,
        enabled: bool = True,
    ) -> LambdaEventSourceMapping:
        """Let function `name` consume an SQS queue: batch 10 (the FIFO maximum),
        ReportBatchItemFailures, its role granted exactly the consume actions on that queue and
        Decrypt on its key. `target_arn`: what the mapping invokes (an alias ARN; default the
        function). `maximum_concurrency`: 2..1000 or None (unbounded). `enabled=False` deploys the
        mapping disabled. The queue's visibility timeout must be >= 6 x the function timeout
        (`constructs.queueing.WebhookQueue` checks it). Construct id: `{name}-event-source`."""
        problems = []
        if name not in self.functions:
            problems.append(f"name must be one of the group's functions {sorted(self.functions)}, got {name!r}")
        if maximum_concurrency is not None and is_literal(maximum_concurrency) \
                and maximum_concurrency not in SQS_EVENT_SOURCE_MAX_CONCURRENCY:
            problems.append(f"maximum_concurrency must be {SQS_EVENT_SOURCE_MAX_CONCURRENCY} (SQS event source limit), "
                            f"got {maximum_concurrency}")
        if problems:
            raise ValueError("FunctionGroup.add_queue_event_source: " + "; ".join(problems))
        fn = self.functions[name]
        consume = fn.grant("consume-queue", [
            {"sid": "ConsumeQueue", "actions": SQS_CONSUME_ACTIONS, "resources": [queue_arn]},
            {"sid": "DecryptQueue", "actions": ["kms:Decrypt"], "resources": [queue_kms_key_arn]},
        ])
        options: dict = {}
        if maximum_concurrency is not None:
            options["scaling_config"] = LambdaEventSourceMappingScalingConfig(maximum_concurrency=maximum_concurrency)
        mapping = LambdaEventSourceMapping(
            self, f"{name}-event-source", event_source_arn=queue_arn, function_name=target_arn or fn.function.arn,
            batch_size=SQS_BATCH_SIZE, function_response_types=["ReportBatchItemFailures"],
            enabled=enabled, depends_on=[consume], **options,
        )
        self.event_source_mappings[name] = mapping
        return mapping
