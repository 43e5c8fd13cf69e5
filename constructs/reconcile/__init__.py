"""Provider reconciliation: the reconciler's schedules, their role and dead-letter queue, the
checkpoint table and the providers' API secrets (constructs/reconcile/reconciliation.py)."""

from constructs.reconcile.reconciliation import CHECKPOINT_ROW, Reconciliation, ReconcileOptions

__all__ = ["CHECKPOINT_ROW", "Reconciliation", "ReconcileOptions"]
