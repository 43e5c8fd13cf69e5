"""Zero-loss scenarios of the local end-to-end run (scripts/local/e2e.py), driven through the
deployed wiring by the local runner, each showing that a genuine event the platform answered 200
for ends up in the ledger - or in a place a documented tool recovers it from:

* unroutable: signed events with an unsafe vendor id (Stripe metadata, a PayPal ``custom_id`` with a
  space) and an unknown currency are recorded, counted (``UnroutableEvent``) and notify no vendor;
* poison: a message that always fails, among healthy ones of other payments (message groups) and
  one that fails only during an outage: only the two failing ones reach the DLQ; redrive recovers
  the outage victim and parks the poison, which ``replay_quarantine --parked`` recovers once
  the cause is fixed;
* wrong secret: the providers' signing secrets rotated without us; every genuine event of that
  window is quarantined; after ``set_secrets`` the quarantine replay recovers all of them, and a
  provider retry that arrived meanwhile is not doubled;
* inbound: what the gate key, one captured PayPal delivery or ``sqs:SendMessage`` allow: a forged
  PayPal body with a colliding CRC32 (``transmission_replayed``), a direct payment without the
  validator's signature (``internal_signature_mismatch``), an unverified PayPal message in a genuine
  payment's group (one short retry, then ``certificate_unavailable``), an Idempotency-Key reused
  with another body (422): nothing forged is recorded, every genuine event is, the DLQ stays empty;
* lifecycle: sales, partial refunds and disputes of Stripe and PayPal payments (USD, KWD, JPY), two
  refunds sent before their sales: the ledger's amounts, and each payment's story as its vendor
  hears it (SNS and signed webhooks), sale first, running totals that add up;
* reconcile: the gate key is wrong for a window (every webhook refused, the providers give up);
  the reconciler, invoked as its schedule does, lists the providers' loopback events APIs and
  recovers every event of the window as a signed ``fetched`` envelope, nothing written twice;
* delivery (when vendor endpoints are deployed): signed webhooks to the vendors' HTTP servers on
  127.0.0.1 through the deployed bus rule, queues and functions: a dead vendor exhausts its
  schedule (the `local` environment's short one) and gets everything through
  ``delivery_ops recover``, while a rate-limited vendor receives at its limit and a healthy one
  is not delayed; a vendor answering 500 for a while receives everything, in order per payment;
  a 410 disables the endpoint (event on the bus).

Faults are injected into the emulator (moto's DynamoDB backend, in this process), nothing is mocked
in the handlers. One module per scenario (``run(ctx)`` returns plain counts), the context they
share (context.py) and the vendors' side (vendors.py); ``run_all`` (suite.py) adds them up.
"""

from scripts.local.scenarios.context import ScenarioContext
from scripts.local.scenarios.suite import run_all
from scripts.local.scenarios.vendors import expected_deliveries, out_of_order, start_vendors

__all__ = ["ScenarioContext", "expected_deliveries", "out_of_order", "run_all", "start_vendors"]
