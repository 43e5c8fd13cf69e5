"""Least privilege, wired by the app: each function's grant names the exact actions and ARNs it
needs (lambda_src/README.md lists what each handler reads and writes), and the KMS key policies name
the roles that use the keys and the stack's log groups."""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup

from constructs.app.platform import Platform
from constructs.processing import FunctionGroup


def grant_functions(stack: Platform, group: FunctionGroup) -> None:
    """One inline policy per function of the platform (the delivery functions get theirs from
    constructs.delivery)."""
    s = stack.settings
    keys = {name: key.arn for name, key in stack.security.keys.items()}
    table = stack.storage.table.arn
    bucket = stack.storage.bucket.arn
    q = stack.queueing
    secrets = stack.configuration
    fn = group.functions
    read_secrets = ["secretsmanager:GetSecretValue"]
    produce = ["kms:GenerateDataKey", "kms:Decrypt"]
    # secrets are read through Secrets Manager only
    via_secrets = [("StringEquals", "kms:ViaService", [f"secretsmanager.{stack.region_name}.amazonaws.com"])]
    internal_key = [secrets.internal_key_secret.arn] if secrets.internal_key_secret is not None else []
    fn["processor"].grant("ledger-and-quarantine", [
        {"sid": "LedgerWrites", "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"],
         "resources": [table]},
        # the providers' signing secrets, and the key the validator signs direct payments with
        {"sid": "SigningSecrets", "actions": read_secrets, "resources": secrets.secret_arns("signing") + internal_key},
        {"sid": "Quarantine", "actions": ["s3:PutObject"], "resources": [f"{bucket}/quarantine/*"]},
        {"sid": "DataKeys", "actions": produce, "resources": [keys["dynamodb"], keys["s3"]]},
        {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]], "conditions": via_secrets},
    ])
    fn["validator"].grant("enqueue", [
        {"sid": "SendToIngest", "actions": ["sqs:SendMessage"], "resources": [q.ingest.queue.arn]},
        {"sid": "QueueKey", "actions": produce, "resources": [keys["sqs"]]},
        # signs what it enqueues (paycore.internal_envelope)
        {"sid": "InternalKey", "actions": read_secrets, "resources": internal_key},
        {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]], "conditions": via_secrets},
        # an Idempotency-Key stays bound to its first request (paycore.idempotency): the recorded
        # request's hash in the ledger (read only), the queued one's in the request table
        {"sid": "RecordedRequests", "actions": ["dynamodb:Query"], "resources": [table]},
        {"sid": "QueuedRequests", "actions": ["dynamodb:PutItem"], "resources": [stack.storage.idempotency.arn]},
        {"sid": "TableKey", "actions": produce, "resources": [keys["dynamodb"]]},
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
        {"sid": "PublishToVendors", "actions": ["sns:Publish"], "resources": [stack.arns.vendor_topic]},
        {"sid": "NotificationMarkers", "actions": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
                                                   "dynamodb:DeleteItem"], "resources": [stack.storage.markers.arn]},
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


def grant_reconciler(stack: Platform, group: FunctionGroup, reconciliation: Any) -> None:
    """The reconciler (paycore.reconcile): reads the ledger's event claims, keeps its checkpoints,
    reads its provider API secrets and the internal envelope key, sends signed `fetched` envelopes."""
    keys = {name: key.arn for name, key in stack.security.keys.items()}
    secrets = stack.configuration
    internal_key = [secrets.internal_key_secret.arn] if secrets.internal_key_secret is not None else []
    via_secrets = [("StringEquals", "kms:ViaService", [f"secretsmanager.{stack.region_name}.amazonaws.com"])]
    group.functions["reconciler"].grant("reconcile", [
        {"sid": "LedgerClaims", "actions": ["dynamodb:BatchGetItem"], "resources": [stack.storage.table.arn]},
        {"sid": "Checkpoints", "actions": ["dynamodb:GetItem", "dynamodb:PutItem"], "resources": [reconciliation.table.arn]},
        {"sid": "SendFetched", "actions": ["sqs:SendMessage"], "resources": [stack.queueing.ingest.queue.arn]},
        {"sid": "ApiAndInternalKey", "actions": ["secretsmanager:GetSecretValue"],
         "resources": [secret.arn for _, secret in sorted(reconciliation.secrets.items())] + internal_key},
        {"sid": "DataKeys", "actions": ["kms:GenerateDataKey", "kms:Decrypt"], "resources": [keys["sqs"], keys["dynamodb"]]},
        {"sid": "SecretKeys", "actions": ["kms:Decrypt"], "resources": [keys["secrets"]], "conditions": via_secrets},
    ])


def allow_platform_key_use(stack: Platform) -> None:
    """The key policies name the roles that use keys (functions, the API's queue role, the pipes,
    the operator role; not the NAT, flow-log or API Gateway CloudWatch roles) and every log group of the stack (see
    constructs.security)."""
    roles = [fn.role for fn in stack.processing.functions.values()]
    if stack.ingress.api_role is not None:
        roles.append(stack.ingress.api_role)
    roles += [r for r in (stack.notification.archive_pipe_role, stack.notification.status_pipe_role) if r]
    roles.append(stack.operator)
    if stack.reconciliation.scheduler_role is not None:
        roles.append(stack.reconciliation.scheduler_role)  # the schedule dead-letter queue's key
    groups = [c.name_input for c in stack.node.find_all() if isinstance(c, CloudwatchLogGroup)]
    stack.security.allow_platform(role_arns=[role.arn for role in roles], log_group_names=groups)
