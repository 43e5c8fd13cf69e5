"""What the stack's helper modules (grants, alarms, outputs, local) read of a built platform: the
parts `stack.PaymentPlatformStack` exposes, as a typing Protocol, so they need not import the stack
that calls them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Protocol

from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Node

from constructs.app.arns import ArnsByName
from constructs.app.names import Names
from constructs.app.settings import Settings
from constructs.configuration import Configuration
from constructs.delivery import VendorDelivery
from constructs.ingress import SqsRoute, WebhookIngress
from constructs.notification import EventFanout
from constructs.observability import Observability
from constructs.processing import FunctionGroup
from constructs.reconcile import Reconciliation
from constructs.security import Security
from constructs.vpc import Network


class Platform(Protocol):
    """The built parts of one environment (attributes of PaymentPlatformStack)."""

    settings: Settings
    names: Names
    arns: ArnsByName
    account_id: str
    partition: str
    lambda_environment: dict[str, str]  # what every function reads (configuration, emulator)
    region_name: str
    vpc: Network | None
    security: Security
    storage: SimpleNamespace      # ledger, table, archive, bucket, markers, idempotency
    queueing: SimpleNamespace     # ingest, notifications (WebhookQueue), lambda_failures (FailureQueue)
    configuration: Configuration
    webhook_routes: tuple[SqsRoute, ...]
    processing: FunctionGroup
    ingress: WebhookIngress
    notification: EventFanout
    delivery: VendorDelivery
    observability: Observability
    operator: IamRole             # the replay tools' role (constructs/app/operator.py)
    reconciliation: Reconciliation  # the reconciler's schedules, checkpoints, API secrets

    @property
    def node(self) -> Node: ...
