"""The physical name of every resource of an environment, in one place: the stack builds with
them, the ops CLI (scripts/ops: deliveries, redrive, replay, secrets) and the cost
model find the deployed resources by them. Plain Python: no settings, cdktf or provider import.

Names are `{resource}-{environment}`; FIFO queues end in `.fifo`. Names the constructs derive
from these (log groups `/aws/lambda/{function}`, alarm names, key aliases) stay theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The first part of every secret's name (`{SECRET_ROOT}/{environment}/...`).
SECRET_ROOT = "payment-webhooks"
#: The queues an operator moves back from their dead-letter queues (`ops.py redrive --queue`).
REDRIVABLE_QUEUES = ("ingest", "notifications", "delivery-events")
#: The vendor delivery table's name before the environment (the cost model sorts a capture's
#: DynamoDB calls by it).
DELIVERIES_TABLE = "deliveries"
#: The internal envelope key's secret after the prefix (paycore.internal_envelope.KEY_SECRET).
INTERNAL_KEY_SECRET = "internal/envelope-key"


@dataclass(frozen=True)
class Names:
    """Every physical name of one environment."""

    environment: str

    def name(self, resource: str) -> str:
        """`{resource}-{environment}`."""
        return f"{resource}-{self.environment}"

    def function(self, name: str) -> str:
        """One of the platform's functions (constructs/app/functions.py): `payment-{name}-{env}`."""
        return self.name(f"payment-{name}")

    def archive_bucket(self, account_id: str, region: str) -> str:
        """Bucket names are global: account and region make it unique and still deterministic."""
        return f"payment-archive-{self.environment}-{account_id}-{region}"

    # ----- storage ----------------------------------------------------------------------------
    @property
    def ledger_table(self) -> str:
        return self.name("payment-transactions")

    @property
    def markers_table(self) -> str:
        return self.name("payment-notification-markers")

    @property
    def idempotency_table(self) -> str:
        """Direct payments' Idempotency-Keys, bound to their request (paycore.idempotency)."""
        return self.name("payment-idempotency")

    # ----- queues -------------------------------------------------------------------------------
    @property
    def ingest_queue(self) -> str:
        return f"{self.name('webhooks')}.fifo"

    @property
    def ingest_dead_letter_queue(self) -> str:
        return f"{self.name('webhooks')}-dlq.fifo"

    @property
    def notifications_queue(self) -> str:
        return self.name("payment-notifications")

    @property
    def notifications_dead_letter_queue(self) -> str:
        return f"{self.notifications_queue}-dlq"

    @property
    def lambda_failures_queue(self) -> str:
        return self.name("payment-lambda-failures")

    @property
    def redrivable_queues(self) -> dict[str, tuple[str, str]]:
        """REDRIVABLE_QUEUES: short name -> (queue, its dead-letter queue)."""
        return {short: (getattr(self, f"{short.replace('-', '_')}_queue"),
                        getattr(self, f"{short.replace('-', '_')}_dead_letter_queue"))
                for short in REDRIVABLE_QUEUES}

    # ----- event fan-out ------------------------------------------------------------------------
    @property
    def event_bus(self) -> str:
        return self.name("payments")

    @property
    def completed_rule(self) -> str:
        return self.name("payment-completed")

    @property
    def vendor_topic(self) -> str:
        return self.name("payment-vendor-notifications")

    @property
    def archive_pipe(self) -> str:
        return self.name("payments-archive")

    @property
    def status_pipe(self) -> str:
        return self.name("payments-status")

    @property
    def fanout_dead_letter_queue(self) -> str:
        return self.name("payments-fanout-dlq")

    @property
    def bus_dead_letter_queue(self) -> str:
        return self.name("payments-bus-dlq")

    # ----- API, network, functions, observability ---------------------------------------------
    @property
    def api(self) -> str:
        return self.name("payments-api")

    @property
    def api_authorizer(self) -> str:
        return f"{self.api}-webhook-key"

    @property
    def waf_log_group(self) -> str:
        """WAF requires the `aws-waf-logs-` prefix."""
        return f"aws-waf-logs-{self.name('payments')}"

    @property
    def network(self) -> str:
        return self.name("payments")

    @property
    def layer(self) -> str:
        return self.name("payment-shared")

    @property
    def alerts_topic(self) -> str:
        return self.name("payment-alerts")

    @property
    def dashboard(self) -> str:
        return self.name("payments")

    @property
    def alarm_prefix(self) -> str:
        return self.name("payments")

    # ----- configuration ------------------------------------------------------------------------
    @property
    def parameter_prefix(self) -> str:
        """Every SSM parameter of the environment is `{parameter_prefix}{name}`."""
        return f"/payments/{self.environment}/"

    @property
    def secret_prefix(self) -> str:
        """Every secret of the environment is `{secret_prefix}...`."""
        return f"{SECRET_ROOT}/{self.environment}/"

    @property
    def internal_key_secret(self) -> str:
        """The HMAC key of the platform's own envelopes (direct payments): the validator signs, the
        processor and the replay tools verify."""
        return f"{self.secret_prefix}{INTERNAL_KEY_SECRET}"

    # ----- provider reconciliation --------------------------------------------------------------
    @property
    def reconcile_checkpoints_table(self) -> str:
        """One row per provider: the reconciler's checkpoint and the page a run is at (paycore.reconcile)."""
        return self.name("reconciler-checkpoints")

    @property
    def reconcile_schedule_group(self) -> str:
        return self.name("payments-reconcile")

    def reconcile_schedule(self, provider: str) -> str:
        return self.name(f"reconcile-{provider}")

    @property
    def reconcile_scheduler_role(self) -> str:
        """The role EventBridge Scheduler assumes to invoke the reconciler."""
        return self.name("payments-reconcile-scheduler")

    @property
    def reconcile_dead_letter_queue(self) -> str:
        """Scheduler's dead-letter queue: invocations it could not make after its retries."""
        return self.name("reconcile-schedule-dlq")

    def provider_api_secret(self, provider: str) -> str:
        """A provider's events-API credentials (paycore.reconcile.aws.API_SECRET)."""
        return f"{self.secret_prefix}{provider}/api"

    # ----- people -------------------------------------------------------------------------------
    @property
    def operator_role(self) -> str:
        """The role the replay tools act as (redrive, replay-quarantine, replay-archive): with the
        API's queue role and the validator's, the only principals that may send to the ingest queue."""
        return self.name("payments-operator")

    # ----- vendor delivery ----------------------------------------------------------------------
    @property
    def delivery_events_queue(self) -> str:
        return self.name("delivery-events")

    @property
    def delivery_events_dead_letter_queue(self) -> str:
        return self.name("delivery-events-dlq")

    @property
    def delivery_alerts_dead_letter_queue(self) -> str:
        """The delivery alerts rule's dead letters (alerts the alerts topic refused for a day)."""
        return self.name("delivery-alerts-dlq")

    @property
    def deliveries_queue(self) -> str:
        return f"{self.name('deliveries')}.fifo"

    @property
    def deliveries_dead_letter_queue(self) -> str:
        return f"{self.name('deliveries-dlq')}.fifo"

    @property
    def deliveries_table(self) -> str:
        return self.name(DELIVERIES_TABLE)

    @property
    def delivery_endpoints_parameter(self) -> str:
        return f"{self.parameter_prefix}delivery-endpoints"

    @property
    def delivery_fanout_function(self) -> str:
        return self.name("delivery-fanout")

    @property
    def delivery_sender_function(self) -> str:
        return self.name("delivery-sender")

    @property
    def delivery_rule(self) -> str:
        return self.name("vendor-delivery")

    @property
    def delivery_alerts_rule(self) -> str:
        return self.name("delivery-alerts")

    @property
    def delivery_ops_policy(self) -> str:
        return self.name("delivery-ops")
