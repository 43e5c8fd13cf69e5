"""What one webhook uses of each hop (measured on the local run's capture) and what the capacity
model assumes rather than measures (durations, batch fill)."""

from __future__ import annotations

from dataclasses import dataclass

#: An SQS event source's batch (constructs.processing.SQS_BATCH_SIZE, the FIFO maximum).
SQS_BATCH = 10
#: Message groups of one batch the delivery sender works on at once (delivery_sender_handler.MAX_PARALLEL_GROUPS).
SENDER_PARALLEL_GROUPS = 10
#: The ledger's global secondary indexes (constructs.storage.LEDGER_GSIS).
LEDGER_INDEXES = 2
#: What the WAF rate rule counts over (seconds).
WAF_RATE_WINDOW_SECONDS = 300


# ----- what one webhook uses, and what the model assumes ---------------------------------------

@dataclass(frozen=True)
class Traffic:
    """Per webhook, what reaches each hop: measured on the local end-to-end run's capture
    (scripts/data/cost_calls_local_e2e.json, its mix of events) the way scripts/cost
    counts it; tests/test_capacity.py recomputes every figure from that capture."""

    ledger_table_wru: float = 2.55       # ledger rows written (event row 986 B = 1 WRU, markers, state)
    ledger_index_wru: float = 0.82       # both GSIs together (KEYS_ONLY, written when a state row is created)
    markers_table_wru: float = 0.64      # the notifier's at-most-once claims
    archive_records: float = 0.82        # Pipe A: new event rows -> archiver
    bus_events: float = 0.41             # Pipe B: state changes the rules route -> PutEvents entries
    rule_invocations: float = 0.73       # rule matches sent to a target (completed 0.32 + vendor delivery 0.41)
    notifications: float = 0.32          # completed payments -> notifier -> one SNS publish each
    delivery_events: float = 0.41        # vendor-delivery rule -> delivery fan-out
    deliveries: float = 0.39             # signed vendor webhooks sent
    deliveries_table_wru: float = 1.90   # the sender's rows (messages, attempts, rate slots, holds)


@dataclass(frozen=True)
class Assumptions:
    """What the model assumes rather than measures; the CLI prints each. Durations are the cost
    model's modelled ones (scripts/cost/settings.py CostSettings: CPU benches plus AWS round trips)."""

    batch_fill: int = SQS_BATCH          # records per event-source batch at sustained traffic (full)
    authorizer_ms: float = 3.0           # per request; every request invokes it (result cache TTL 0)
    processor_batch_ms: float = 5.0      # per invocation
    processor_cpu_ms: float = 0.5        # per record, one at a time (one GIL)
    processor_writes: float = 3.0        # DynamoDB round trips per record: claim marker, event row, state row
    dynamodb_ms: float = 4.0             # one round trip in-region
    archiver_batch_ms: float = 40.0      # per Pipe A batch (an S3 PUT per provider and hour)
    archiver_record_ms: float = 1.0
    pipe_b_batch_ms: float = 50.0        # one PutEvents round trip per Pipe B batch
    notifier_batch_ms: float = 5.0
    notifier_record_ms: float = 12.0     # marker claim + publish + marker done
    fanout_batch_ms: float = 5.0
    fanout_record_ms: float = 10.0       # one SendMessageBatch per record
    sender_batch_ms: float = 5.0
    sender_dynamodb_trips: float = 7.4   # per delivery (the local run's, holds included)
    vendor_ms: float = 200.0             # a vendor's 2xx over a new TLS connection
    source_ips_per_provider: int = 1     # WAF counts per source address: worst case, all from one
    put_events_entries_per_request: int = 1  # each entry counted against PutEvents (Pipes may batch)

    def describe(self) -> list[str]:
        return [
            f"event-source batches hold {self.batch_fill} records (full, at sustained traffic)",
            f"authorizer {self.authorizer_ms:g} ms per request, no result cache (every request invokes it)",
            f"processor {self.processor_batch_ms:g} ms per batch + per record {self.processor_cpu_ms:g} ms CPU and "
            f"{self.processor_writes:g} DynamoDB round trips x {self.dynamodb_ms:g} ms (message groups of a batch "
            f"at once: processor_parallel_groups)",
            f"archiver {self.archiver_batch_ms:g} ms per batch + {self.archiver_record_ms:g} ms per record; Pipe B "
            f"{self.pipe_b_batch_ms:g} ms per batch (one PutEvents); a stream shard per table partition "
            "(1,000 WRU/s each), read by one batch at a time per pipe",
            f"notifier {self.notifier_batch_ms:g} + {self.notifier_record_ms:g} ms per record; fan-out "
            f"{self.fanout_batch_ms:g} + {self.fanout_record_ms:g} ms per record",
            f"sender {self.sender_batch_ms:g} ms per batch + per delivery {self.vendor_ms:g} ms vendor answer and "
            f"{self.sender_dynamodb_trips:g} DynamoDB round trips, {SENDER_PARALLEL_GROUPS} message groups at once",
            f"WAF: a provider sends from {self.source_ips_per_provider} source address(es) (worst case; Stripe and "
            "PayPal publish several)",
            f"EventBridge: {self.put_events_entries_per_request} PutEvents entr"
            f"{'y' if self.put_events_entries_per_request == 1 else 'ies'} per counted transaction (Pipes' batches "
            "not credited)",
        ]


TRAFFIC = Traffic()
ASSUMPTIONS = Assumptions()
