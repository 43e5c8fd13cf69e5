"""The operator role: what the replay tools act as (`python -m scripts.ops redrive | replay-quarantine
| replay-archive`). With the API's queue role and the validator's role it is the only principal the
ingest queue's policy lets send (constructs.queueing, `sender_principal_arns`), so a person or
function that merely holds `sqs:SendMessage` in the account cannot put a message on it.

Who may assume it is a setting (`operator_principal_arns`; default the account root: any principal
of the account whose own policy allows `sts:AssumeRole` on it). Its policy grants what the tools
call and nothing else: move the ingest, notifications and delivery-events dead-letter queues back
(and park the ingest queue's repeat failures under `parked/`), read and tag the quarantine and the
parked messages, read the archive, re-enqueue on the ingest queue, and read the secrets replayed
envelopes are verified with (the providers' signing secrets, the internal envelope key). The tools
re-verify every envelope before they send it, and the processor verifies it again: a document
written to the archive never becomes a payment. The role itself could make one: it reads the
internal envelope key (to re-verify the platform's own envelopes) and may send to the ingest queue,
so it is trusted as the validator is; keep `operator_principal_arns` to the people who run these
tools.
"""

from __future__ import annotations

import json
from typing import cast

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from constructs.app.platform import Platform
from constructs.core.policy import document


def operator_role(stack: Platform) -> IamRole:
    """The role `names.operator_role` with its inline policy (construct ids `operator-role`,
    `operator-role-policy`)."""
    s, names, keys = stack.settings, stack.names, stack.security.keys
    q, bucket = stack.queueing, stack.storage.bucket.arn
    principals = list(s.operator_principal_arns) or [f"arn:{stack.arns.partition}:iam::{stack.account_id}:root"]
    role = IamRole(stack, "operator-role", name=names.operator_role,
                   description="replay and redrive tools: the only people who may send to the ingest queue",
                   assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                       "Sid": "OperatorsAssume", "Effect": "Allow", "Principal": {"AWS": principals},
                       "Action": "sts:AssumeRole"}]}))
    region = stack.region_name

    def via(service: str) -> list[tuple[str, str, list[str]]]:
        return [("StringEquals", "kms:ViaService", [f"{service}.{region}.amazonaws.com"])]

    queues = [q.ingest.queue.arn, q.notifications.queue.arn]
    dead_letter_queues = [q.ingest.dead_letter_queue.arn, q.notifications.dead_letter_queue.arn]
    if stack.delivery is not None:  # the vendor notifications the fan-out could not take
        queues.append(stack.delivery.events_queue.queue.arn)
        dead_letter_queues.append(stack.delivery.events_queue.dead_letter_queue.arn)
    secret_arns = [*stack.configuration.secret_arns("signing")]
    if stack.configuration.internal_key_secret is not None:
        secret_arns.append(stack.configuration.internal_key_secret.arn)
    statements = [
        {"sid": "Requeue", "actions": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
         "resources": queues},
        {"sid": "DrainDeadLetters", "actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueUrl",
                                                "sqs:GetQueueAttributes", "sqs:ListDeadLetterSourceQueues"],
         "resources": dead_letter_queues},
        {"sid": "ListArchive", "actions": ["s3:ListBucket"], "resources": [bucket],
         "conditions": [("StringLike", "s3:prefix", ["quarantine/*", "parked/*", "raw/*"])]},
        {"sid": "ReadArchive", "actions": ["s3:GetObject"],
         "resources": [f"{bucket}/quarantine/*", f"{bucket}/parked/*", f"{bucket}/raw/*"]},
        {"sid": "MarkReplayed", "actions": ["s3:GetObjectTagging", "s3:PutObjectTagging"],
         "resources": [f"{bucket}/quarantine/*", f"{bucket}/parked/*"]},
        {"sid": "Park", "actions": ["s3:PutObject"], "resources": [f"{bucket}/parked/*"]},
        {"sid": "VerificationSecrets", "actions": ["secretsmanager:GetSecretValue"], "resources": secret_arns},
        {"sid": "QueueKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"], "resources": [keys["sqs"].arn]},
        {"sid": "ArchiveKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"], "resources": [keys["s3"].arn]},
        {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"].arn],
         "conditions": via("secretsmanager")},
        # `ops reconcile` (a backfill) runs the reconciler: only its role signs fetched envelopes
        {"sid": "Backfill", "actions": ["lambda:InvokeFunction"],
         "resources": [stack.processing.functions["reconciler"].function.arn]},
    ]
    policy = document(cast(Construct, stack), "operator-role-document", statements)
    IamRolePolicy(stack, "operator-role-policy", name="replay-and-redrive", role=role.id, policy=policy.json)
    return role
