"""Provider reconciliation: recover the events a provider could not push to us (paycore.reconcile.run)."""
