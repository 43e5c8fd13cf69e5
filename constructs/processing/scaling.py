"""`ProvisionedConcurrencyAutoscaling`: the add-on a stack attaches to a latency-critical function:
a published alias, provisioned concurrency and Application Auto Scaling (utilization and,
optionally, the backlog of the queue it consumes; scheduled minimums for known peaks)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration as TargetTracking,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification as CustomMetric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetrics as Metric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStat as Stat,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetric as StatMetric,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetricDimensions as Dimension,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification as Predefined,
)
from cdktf_cdktf_provider_aws.appautoscaling_scheduled_action import (
    AppautoscalingScheduledAction,
    AppautoscalingScheduledActionScalableTargetAction as TargetAction,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.lambda_alias import LambdaAlias
from cdktf_cdktf_provider_aws.lambda_provisioned_concurrency_config import LambdaProvisionedConcurrencyConfig
from constructs import Construct

from constructs.core.limits import AUTOSCALING_TARGET_UTILIZATION
from constructs.processing.function import ServerlessFunction
from constructs.processing.options import ScheduledMinimum

_PEAK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_AT = "%Y-%m-%dT%H:%M:%S"


def _peak_problems(peaks: Sequence[ScheduledMinimum], min_capacity: int, max_capacity: int) -> list[str]:
    problems = []
    names = [peak.name for peak in peaks]
    for peak in peaks:
        if not _PEAK_NAME.match(peak.name) or names.count(peak.name) > 1:
            problems.append(f"scheduled minimum names must be unique, 1..40 of [a-z0-9-], got {peak.name!r}")
        try:
            if datetime.strptime(peak.end, _AT) <= datetime.strptime(peak.start, _AT):
                problems.append(f"scheduled minimum {peak.name!r} must end after it starts, got {peak.start}..{peak.end}")
        except ValueError:
            problems.append(f"scheduled minimum {peak.name!r} needs UTC times such as 2026-11-27T00:00:00, "
                            f"got {peak.start!r}..{peak.end!r}")
        if not min_capacity < peak.min_capacity <= max_capacity:
            problems.append(f"scheduled minimum {peak.name!r} must be above min_capacity ({min_capacity}) and at "
                            f"most max_capacity ({max_capacity}), got {peak.min_capacity}")
    return problems


class ProvisionedConcurrencyAutoscaling:
    """Add-on for one function: an alias on its published version, provisioned concurrency on the
    alias, and Application Auto Scaling of that concurrency (target tracking on utilization and,
    with `backlog_queue_name`, on the queue's visible messages per running instance).

    Not a construct node of its own: the resources are created in `scope` with ids
    `{id_prefix}-alias`, `-provisioned-concurrency`, `-scaling-target`, `-utilization-policy`,
    `-backlog-policy`, so attaching it to an existing function moves no resource address.

    Keyword arguments:
      function: a ServerlessFunction built with publish=True (required).
      alias_name: default "live". alias_description: default none.
      provisioned_concurrent_executions: baseline kept warm; 0 (default) creates only the alias.
      autoscaling: manage the baseline with Application Auto Scaling (default True).
      min_capacity / max_capacity: scaling range, 1 <= min <= provisioned <= max (default 1 / 10).
      target_utilization: 0.1..0.9 of provisioned concurrency (default 0.7).
      backlog_queue_name: the consumed queue's name; default None (utilization tracking only).
      backlog_messages_per_instance: >= 1 (default 100).
      scheduled_minimums: known peaks (`ScheduledMinimum`): at `start` the target's minimum rises to the
        peak's min_capacity, at `end` it returns to min_capacity (two one-time `at()` scheduled actions
        each, ids `{id_prefix}-{name}-start` / `-end`); needs autoscaling. Default none.

    Attributes: alias, provisioned_concurrency, scaling_target (None when not built), scaling_policies,
    scheduled_actions.
    """

    def __init__(
        self,
        scope: Construct,
        id_prefix: str,
        *,
        function: ServerlessFunction,
        alias_name: str = "live",
        alias_description: str | None = None,
        provisioned_concurrent_executions: int = 0,
        autoscaling: bool = True,
        min_capacity: int = 1,
        max_capacity: int = 10,
        target_utilization: float = 0.7,
        backlog_queue_name: str | None = None,
        backlog_messages_per_instance: int = 100,
        scheduled_minimums: Sequence[ScheduledMinimum] = (),
    ):
        problems = []
        if provisioned_concurrent_executions < 0:
            problems.append(f"provisioned_concurrent_executions must be >= 0, got {provisioned_concurrent_executions}")
        if not 1 <= min_capacity <= max_capacity:
            problems.append(f"needs 1 <= min_capacity <= max_capacity, got {min_capacity}..{max_capacity}")
        elif provisioned_concurrent_executions and not min_capacity <= provisioned_concurrent_executions <= max_capacity:
            problems.append(f"provisioned_concurrent_executions must lie within min..max capacity "
                            f"({min_capacity}..{max_capacity}), got {provisioned_concurrent_executions}")
        if target_utilization not in AUTOSCALING_TARGET_UTILIZATION:
            problems.append(f"target_utilization must be {AUTOSCALING_TARGET_UTILIZATION}, got {target_utilization}")
        if backlog_messages_per_instance < 1:
            problems.append(f"backlog_messages_per_instance must be >= 1, got {backlog_messages_per_instance}")
        if scheduled_minimums and not (autoscaling and provisioned_concurrent_executions > 0):
            problems.append("scheduled_minimums need provisioned concurrency with autoscaling")
        problems += _peak_problems(scheduled_minimums, min_capacity, max_capacity)
        if problems:
            raise ValueError(f"ProvisionedConcurrencyAutoscaling {id_prefix}: " + "; ".join(problems))

        fn = function.function
        name = function.function_name
        self.alias = LambdaAlias(
            scope, f"{id_prefix}-alias", name=alias_name, function_name=fn.function_name,
            function_version=fn.version, description=alias_description,
        )
        self.provisioned_concurrency: LambdaProvisionedConcurrencyConfig | None = None
        self.scaling_target: AppautoscalingTarget | None = None
        self.scaling_policies: list[AppautoscalingPolicy] = []
        self.scheduled_actions: list[AppautoscalingScheduledAction] = []
        if provisioned_concurrent_executions <= 0:
            return
        self.provisioned_concurrency = LambdaProvisionedConcurrencyConfig(
            scope, f"{id_prefix}-provisioned-concurrency", function_name=fn.function_name,
            qualifier=self.alias.name,
            provisioned_concurrent_executions=provisioned_concurrent_executions,
            # once Application Auto Scaling manages the alias, its value wins
            lifecycle=TerraformResourceLifecycle(ignore_changes=["provisioned_concurrent_executions"])
            if autoscaling else None,
        )
        if not autoscaling:
            return
        self.scaling_target = target = AppautoscalingTarget(
            scope, f"{id_prefix}-scaling-target", service_namespace="lambda",
            resource_id=f"function:{name}:{alias_name}",
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            min_capacity=min_capacity, max_capacity=max_capacity,
            depends_on=[self.provisioned_concurrency],
        )
        self.scaling_policies.append(AppautoscalingPolicy(
            scope, f"{id_prefix}-utilization-policy", name=f"{name}-utilization",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=target_utilization,
                predefined_metric_specification=Predefined(
                    predefined_metric_type="LambdaProvisionedConcurrencyUtilization"),
            ),
        ))
        if backlog_queue_name is not None:
            self._backlog_policy(scope, id_prefix, target, name, alias_name, backlog_queue_name,
                                 backlog_messages_per_instance)
        self._schedule(scope, id_prefix, target, name, scheduled_minimums, min_capacity, max_capacity)

    def _schedule(self, scope: Construct, id_prefix: str, target: AppautoscalingTarget, name: str,
                  peaks: Sequence[ScheduledMinimum], min_capacity: int, max_capacity: int) -> None:
        """Two one-time actions per peak, created one after the other: Application Auto Scaling
        rejects concurrent updates of one target (ConcurrentUpdateException; see
        hashicorp/terraform-provider-aws#17915), so each waits for the policies and the previous one."""
        previous: list[ITerraformDependable] = list(self.scaling_policies)
        for peak in peaks:
            for edge, at, minimum in (("start", peak.start, peak.min_capacity), ("end", peak.end, min_capacity)):
                action = AppautoscalingScheduledAction(
                    scope, f"{id_prefix}-{peak.name}-{edge}", name=f"{name}-{peak.name}-{edge}",
                    service_namespace=target.service_namespace, resource_id=target.resource_id,
                    scalable_dimension=target.scalable_dimension, schedule=f"at({at})", timezone="Etc/UTC",
                    scalable_target_action=TargetAction(min_capacity=str(minimum), max_capacity=str(max_capacity)),
                    depends_on=previous,
                )
                self.scheduled_actions.append(action)
                previous = [action]

    def _backlog_policy(self, scope: Construct, id_prefix: str, target: AppautoscalingTarget, name: str,
                        alias_name: str, backlog_queue_name: str, backlog_messages_per_instance: int) -> None:
        # Backlog per running instance: visible messages / (concurrent executions of the alias + 1);
        # the +1 keeps the ratio defined when nothing runs yet.
        self.scaling_policies.append(AppautoscalingPolicy(
            scope, f"{id_prefix}-backlog-policy", name=f"{name}-queue-backlog",
            policy_type="TargetTrackingScaling", service_namespace=target.service_namespace,
            resource_id=target.resource_id, scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTracking(
                target_value=backlog_messages_per_instance,
                customized_metric_specification=CustomMetric(metrics=[
                    Metric(id="visible", return_data=False, metric_stat=Stat(stat="Average", metric=StatMetric(
                        namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                        dimensions=[Dimension(name="QueueName", value=backlog_queue_name)]))),
                    Metric(id="running", return_data=False, metric_stat=Stat(stat="Maximum", metric=StatMetric(
                        namespace="AWS/Lambda", metric_name="ConcurrentExecutions",
                        dimensions=[Dimension(name="FunctionName", value=name),
                                    Dimension(name="Resource", value=f"{name}:{alias_name}")]))),
                    Metric(id="backlog_per_instance", expression="visible / (running + 1)",
                           label="queue messages per running processor", return_data=True),
                ]),
            ),
        ))
