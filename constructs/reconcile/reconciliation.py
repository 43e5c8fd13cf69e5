"""What runs the reconciler (paycore.reconcile) every interval: one EventBridge Scheduler schedule
per provider in a schedule group of its own, the role Scheduler assumes to invoke the function, a
dead-letter queue for the invocations Scheduler could not make after its retries, the checkpoint
table (one row per provider) and the providers' events-API secrets (values set by an operator).

Scheduler invokes a Lambda target asynchronously with the schedule's ``Input`` as the event
(AWS EventBridge Scheduler User Guide, "Templated targets": Lambda ``Invoke``); the function's own
async retries are the platform's (``lambda_async_max_retry_attempts``). Its trust policy names the
schedule group in ``aws:SourceArn`` and the account in ``aws:SourceAccount`` (Scheduler User
Guide, "Setting up": the execution role, confused-deputy conditions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.scheduler_schedule import (
    SchedulerSchedule,
    SchedulerScheduleFlexibleTimeWindow,
    SchedulerScheduleTarget,
    SchedulerScheduleTargetDeadLetterConfig,
    SchedulerScheduleTargetRetryPolicy,
)
from cdktf_cdktf_provider_aws.scheduler_schedule_group import SchedulerScheduleGroup
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from constructs.core.policy import document
from constructs.queueing.failure import FailureQueue
from constructs.storage.table import encrypted_table

#: The checkpoint table's sort key value (paycore.reconcile.aws.CHECKPOINT_ROW).
CHECKPOINT_ROW = "CHECKPOINT"


@dataclass(frozen=True)
class ReconcileOptions:
    """Names and settings of one environment's reconciliation."""

    providers: Sequence[str]
    interval_minutes: int
    table_name: str
    schedule_group_name: str
    schedule_names: dict[str, str]
    scheduler_role_name: str
    dead_letter_queue_name: str
    api_secret_names: dict[str, str]
    enabled: bool = True  # False: no schedules (the local runner invokes the function as a schedule would)


class Reconciliation(Construct):
    """`self.table`, `self.dead_letter_queue`, `self.scheduler_role` (None without schedules),
    `self.secrets` (provider -> secret)."""

    def __init__(self, scope: Construct, id_: str, *, options: ReconcileOptions, function_arn: str,
                 account_id: str, partition: str, region: str, dynamodb_key_arn: str, sqs_key_arn: str,
                 secrets_key_arn: str, protects_data: bool, recovery_window_in_days: int):
        super().__init__(scope, id_)
        problems = []
        if not options.providers:
            problems.append("providers must name at least one provider")
        if not 1 <= options.interval_minutes <= 1440:
            problems.append(f"interval_minutes must be 1..1440, got {options.interval_minutes}")
        missing = sorted(set(options.providers) - set(options.schedule_names) | set(options.providers) - set(options.api_secret_names))
        if missing:
            problems.append(f"schedule and secret names are missing for {missing}")
        if problems:
            raise ValueError("Reconciliation: " + "; ".join(problems))
        o = options
        self.table = encrypted_table(self, "checkpoints", name=o.table_name, hash_key="provider", range_key="row",
                                     kms_key_arn=dynamodb_key_arn, attribute_order="keys",
                                     deletion_protection_enabled=protects_data)
        self.secrets = {
            provider: SecretsmanagerSecret(
                self, f"api-secret-{provider}", name=o.api_secret_names[provider], kms_key_id=secrets_key_arn,
                recovery_window_in_days=recovery_window_in_days,
                description=f"{provider} events API credentials for the reconciler (read-only); set by an operator")
            for provider in o.providers}
        self.dead_letter_queue = FailureQueue(self, "schedule-dlq", name=o.dead_letter_queue_name, kms_key_arn=sqs_key_arn)
        self.scheduler_role: IamRole | None = None
        if not o.enabled:
            return
        group = SchedulerScheduleGroup(self, "group", name=o.schedule_group_name)
        group_arn = f"arn:{partition}:scheduler:{region}:{account_id}:schedule-group/{o.schedule_group_name}"
        self.scheduler_role = IamRole(self, "scheduler-role", name=o.scheduler_role_name,
                                      description="EventBridge Scheduler invokes the reconciler",
                                      assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                                          "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                                          "Action": "sts:AssumeRole", "Condition": {
                                              "StringEquals": {"aws:SourceAccount": account_id},
                                              # Scheduler names the schedule group (Setting up EventBridge
                                              # Scheduler, "Set up the execution role"); a schedule of it too
                                              "ArnLike": {"aws:SourceArn": [group_arn, f"{group_arn}/*"]}}}]}))
        policy = document(self, "scheduler-document", [
            {"sid": "InvokeReconciler", "actions": ["lambda:InvokeFunction"], "resources": [function_arn]},
            {"sid": "DeadLetters", "actions": ["sqs:SendMessage"], "resources": [self.dead_letter_queue.queue.arn]},
            {"sid": "QueueKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"], "resources": [sqs_key_arn]},
        ])
        IamRolePolicy(self, "scheduler-policy", name="invoke-reconciler", role=self.scheduler_role.id, policy=policy.json)
        for provider in o.providers:
            SchedulerSchedule(
                self, f"schedule-{provider}", name=o.schedule_names[provider], group_name=group.name,
                description=f"reconcile {provider}'s events with the ledger", state="ENABLED",
                # the payload at rest under a key of ours (Scheduler User Guide, "Encryption at rest"); the
                # role it assumes already uses that key for the dead-letter queue
                kms_key_arn=sqs_key_arn,
                schedule_expression=f"rate({o.interval_minutes} minute{'s' if o.interval_minutes > 1 else ''})",
                flexible_time_window=SchedulerScheduleFlexibleTimeWindow(mode="OFF"),
                target=SchedulerScheduleTarget(
                    arn=function_arn, role_arn=self.scheduler_role.arn, input=json.dumps({"provider": provider}),
                    # a missed run is caught up by the next one (its window starts at the checkpoint)
                    retry_policy=SchedulerScheduleTargetRetryPolicy(
                        maximum_retry_attempts=2, maximum_event_age_in_seconds=max(60, o.interval_minutes * 60)),
                    dead_letter_config=SchedulerScheduleTargetDeadLetterConfig(arn=self.dead_letter_queue.queue.arn)),
            )
