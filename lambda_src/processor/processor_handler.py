"""Processor: SQS FIFO batch -> verify -> normalize -> ledger (handler ``processor_handler.handler``).

Per record (:func:`process_message`, plain data in, :class:`Outcome` out):

1. parse the envelope; 2. look up the provider (enabled ones + ``direct``); 3. verify the
signature on the raw bytes (tolerance from ``received_at``); 4. parse the JSON body;
5. normalize to a Transaction (or Ignored); 6. write the ledger (idempotent event row, monotonic
state row) or the ignored-event marker. A ``batch`` provider's request carries several items:
steps 5-6 run per item, each checked by its own signature and recorded by its own event id; the
items that fail are quarantined together (one document, the whole envelope) and the others are
recorded (:func:`paycore.providers.read`).

* Rejected - what cannot be verified or parsed (bad signature, stale timestamp, malformed or
  too deeply nested envelope/body, an amount over the cap, unknown provider, a direct payment not
  signed by the validator, a PayPal transmission id that came with another body...): the whole
  message is stored in the quarantine (S3, never logged), ``WebhookRejected{reason}`` is counted
  and the record is acknowledged. ``python -m scripts.ops replay-quarantine`` re-verifies quarantined
  messages with the current secrets and re-enqueues those that now verify.
* The platform's own envelopes (direct payments; events the reconciler fetched from a provider's
  API, :mod:`paycore.fetched`) carry no provider signature: the processor checks the internal
  envelope signature of their kind instead (:mod:`paycore.internal_envelope`).
* A provider transmission whose signature does not pin the body's bytes (PayPal: a CRC32) is bound
  to the body's SHA-256 once verified (:meth:`paycore.ledger.Ledger.bind_transmission`): the same
  id with another body is ``transmission_replayed``.
* Verification that cannot be decided now (:class:`paycore.providers.base.VerificationUnavailable`:
  PayPal's certificate URL timing out or answering 5xx) is retried once, soon: the record fails and
  its visibility (and that of its group's later records in the batch) is set to
  :data:`SHORT_RETRY_SECONDS`; at its next receive it is quarantined (``certificate_unavailable``,
  replayable). Nothing is known of such a message yet - it may be a forgery naming a real payment's
  group - so it never holds that group longer than one short retry, and never reaches the DLQ.
* Once the signature verifies, the event IS recorded: an unusable vendor id, customer id or
  currency is kept raw beside a safe value and counted as ``UnroutableEvent{reason}``
  (``paycore.model.route_fields``); no vendor is notified of it.
* Any other error (DynamoDB throttling after botocore's retries, Secrets Manager or S3 down, an
  unusable signing secret of ours, the PayPal certificate download failing) fails the record and
  the later records of *its message group* only (as Powertools' ``SqsFifoPartialProcessor`` with
  ``skip_group_on_error=True``); other groups of the batch are processed. SQS redelivers the
  failed ones in order (redrive to the DLQ after maxReceiveCount). When every record of a batch
  fails, the handler raises Powertools' ``BatchProcessingError`` (an invocation error: the Lambda
  Errors alarm fires).
* The message groups of a batch run on ``PROCESSOR_PARALLEL_GROUPS`` threads at once (setting
  ``processor_parallel_groups``; 1, the default: one group after the other on the handler's
  thread), each group's records in order, a group stopping at its first failure
  (:mod:`paycore.fifo_groups`); the threads only run :func:`process_message` (its DynamoDB/S3
  round trips overlap), metrics and log lines are written afterwards on the handler's thread, in
  batch order. Powertools' batch package is imported only to raise its error (it weighs on a
  cold start).
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple, Sequence


from paycore import fetched, fifo_groups, obs, providers, sqs_batch
from paycore.envelope import Envelope, parse_envelope
from paycore.ledger import Ledger
from paycore.model import Ignored, MisconfiguredSecret, Rejected, Transaction
from paycore.providers.base import VerificationUnavailable
from paycore.quarantine import Quarantine
from paycore.secrets import SecretStore
from paycore.sqs_batch import SHORT_RETRY_SECONDS, SqsRecord, retry_soon_entries  # noqa: F401 - processor_handler.X as before

logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer

ENABLED_PROVIDERS = frozenset(p.strip() for p in os.environ.get("ENABLED_PROVIDERS", "stripe,paypal").split(",") if p.strip())
ALWAYS_ACCEPTED = frozenset({"direct"})  # from the validator, not a webhook route
TRANSMISSION_REPLAYED = "transmission_replayed"

ledger = Ledger(obs.client("dynamodb"), os.environ.get("TABLE_NAME", ""))
# the quarantine's S3 client at the first rejection: ~40 ms of a cold start for a rare path
quarantine = Quarantine(bucket=os.environ.get("ARCHIVE_BUCKET", ""), new_client=lambda: obs.client("s3"))
secrets = SecretStore(obs.client("secretsmanager"), prefix=os.environ.get("SECRET_PREFIX", ""))
_sqs: Any = None  # created on first use: only a message whose verification could not be decided needs it
PARALLEL_GROUPS = max(1, int(os.environ.get("PROCESSOR_PARALLEL_GROUPS") or 1))
_pool = ThreadPoolExecutor(max_workers=PARALLEL_GROUPS, thread_name_prefix="group") if PARALLEL_GROUPS > 1 else None


class Outcome(NamedTuple):
    """What became of one message (immutable; a NamedTuple is built at a third of the CPU of a
    frozen dataclass, once per record)."""

    kind: str  # "recorded" | "duplicate" | "ignored" | "rejected"
    reason: str = ""
    unroutable: tuple[str, ...] = ()
    provider: str = ""
    transaction_id: str = ""
    event_id: str = ""
    status: str = ""
    state_changed: bool = False
    quarantine_key: str = ""
    request_id: str = ""
    items: tuple["Outcome", ...] = ()  # kind "batch": one outcome per item of the request
    became_succeeded: bool = False  # this event made the payment's sale
    announced: int = 0  # announcements its vendor is told now
    held: int = 0  # announcements held until the payment's sale is told
    conflicts: tuple[str, ...] = ()  # fields contradicting the sale's (kept raw on the state row)


class BatchInterrupted(Exception):
    """A batch request failed part way (a transient error, its ``__cause__``): the message is
    retried, and ``done`` - the items recorded before it - are counted now (the retry finds them
    as duplicates)."""

    def __init__(self, done: tuple[Outcome, ...]):
        super().__init__("batch request interrupted")
        self.done = done


@dataclass
class Deps:
    """Everything :func:`process_message` touches; tests and the benchmark pass stand-ins."""

    ledger: Any
    quarantine: Any
    signing_secret: Callable[[str], Mapping[str, Any] | None]
    enabled: frozenset[str]
    internal_key: Callable[[], Mapping[str, Any] | None] = lambda: None


def default_deps() -> Deps:
    return Deps(ledger=ledger, quarantine=quarantine, signing_secret=secrets.signing, enabled=ENABLED_PROVIDERS,
                internal_key=secrets.internal_key)


def authenticate(envelope: Envelope, deps: Deps) -> list[Transaction | Ignored | Rejected]:
    """Steps 2-5 (no writes): the events an envelope carries (a batch: one per item, a
    ``Rejected`` for an item that fails its own check), or ``Rejected`` for the whole envelope."""
    if envelope.provider not in deps.enabled and envelope.provider not in ALWAYS_ACCEPTED:
        raise Rejected("unknown_provider")
    try:
        provider = providers.get(envelope.provider)
    except providers.UnknownProvider as exc:
        raise Rejected("unknown_provider") from exc
    if fetched.is_fetched(envelope):  # read from the provider's API by the reconciler: its signature, not the provider's
        return fetched.read(provider, envelope, deps.internal_key())
    secret = providers.verification_secret(provider, signing_secret=deps.signing_secret, internal_key=deps.internal_key)
    return providers.read(provider, envelope, secret)


def bind_transmission(envelope: Envelope, deps: Deps) -> None:
    """After verification: one transmission, one body, for a provider whose signature covers only a
    checksum of the body (``transmission_id_header``); ``Rejected("transmission_replayed")`` when the
    verified id came with another body before."""
    provider = providers.get(envelope.provider)
    header = provider.transmission_id_header
    transmission_id = envelope.headers.get(header) if header else None
    if transmission_id and not deps.ledger.bind_transmission(
            provider.name, transmission_id, hashlib.sha256(envelope.raw).hexdigest(),
            ttl_seconds=provider.transmission_ttl_seconds()):
        raise Rejected(TRANSMISSION_REPLAYED)


def process_message(body: str, *, message_id: str, sent_at_ms: int, deps: Deps, receive_count: int = 1) -> Outcome:
    """One SQS message body -> Outcome (a batch envelope: kind ``batch``, one outcome per item).
    Raises only for transient failures (retry: recorded items are duplicates the next time); a
    verification that cannot be decided raises :class:`VerificationUnavailable` at the first
    receive and is quarantined at the next (``receive_count`` >= 2)."""
    envelope: Envelope | None = None
    try:
        envelope = parse_envelope(body)
        try:
            events = authenticate(envelope, deps)
        except VerificationUnavailable as unavailable:
            if receive_count < 2:
                raise  # retried once, soon (the handler shortens its visibility)
            raise Rejected(unavailable.reason) from unavailable
        bind_transmission(envelope, deps)
    except Rejected as rejected:
        return _quarantined(rejected, body, envelope, message_id=message_id, sent_at_ms=sent_at_ms, deps=deps)
    if not providers.get(envelope.provider).batch:
        (event,) = events  # one event; its Rejected was raised
        assert not isinstance(event, Rejected)
        try:
            return _record(event, envelope, deps)
        except Rejected as rejected:  # the ledger refused it (event_id_conflict): kept for a look
            return _quarantined(rejected, body, envelope, message_id=message_id, sent_at_ms=sent_at_ms, deps=deps)

    # A batch: each item recorded by its own event id (a redelivery finds the recorded ones as
    # duplicates); the items that fail their own check are quarantined together, in one document
    # holding the whole envelope, so a replay after a fix records them and skips the others.
    outcomes: list[Outcome] = []
    bad = [(index, event.reason) for index, event in enumerate(events) if isinstance(event, Rejected)]
    try:
        for index, event in enumerate(events):
            if isinstance(event, Rejected):
                continue
            try:
                outcomes.append(_record(event, envelope, deps))
            except Rejected as rejected:  # the ledger refused this item (event_id_conflict)
                bad.append((index, rejected.reason))
        bad.sort()
        if bad:
            key = deps.quarantine.put(
                reason=bad[0][1], provider=envelope.provider, request_id=envelope.request_id,
                received_at=envelope.received_at, sqs_message_id=message_id, message_body=body,
                items=[{"index": index, "reason": reason} for index, reason in bad],
            )
            outcomes += [Outcome("rejected", reason=reason, provider=envelope.provider, quarantine_key=key,
                                 request_id=envelope.request_id) for _, reason in bad]
    except Exception as error:
        raise BatchInterrupted(tuple(outcomes)) from error
    return Outcome("batch", provider=envelope.provider, request_id=envelope.request_id, items=tuple(outcomes))


def _quarantined(rejected: Rejected, body: str, envelope: Envelope | None, *, message_id: str, sent_at_ms: int,
                 deps: Deps) -> Outcome:
    """Store the whole message in the quarantine; the rejected outcome."""
    provider = envelope.provider if envelope else _peek_provider(body)
    request_id = envelope.request_id if envelope else _peek(body, "request_id") or message_id
    received_at = envelope.received_at if envelope else _peek_int(body, "received_at") or sent_at_ms
    key = deps.quarantine.put(
        reason=rejected.reason,
        provider=provider,
        request_id=request_id,
        received_at=received_at,
        sqs_message_id=message_id,
        message_body=body,
    )
    return Outcome("rejected", reason=rejected.reason, provider=provider, quarantine_key=key, request_id=request_id)


def _record(meaning: Transaction | Ignored, envelope: Envelope, deps: Deps) -> Outcome:
    """Step 6 for one event: the ledger write (idempotent by the provider's event id)."""
    if isinstance(meaning, Ignored):
        new = deps.ledger.record_ignored(meaning)
        return Outcome(
            "ignored" if new else "duplicate",
            provider=meaning.provider,
            event_id=meaning.event_id,
            request_id=envelope.request_id,
        )

    txn = meaning
    if txn.provider == "direct" and deps.ledger.get_state(txn.transaction_id):
        # One event per direct payment: a client retry after the queue's 5-minute dedup window
        # carries a new received_at (another sort key), so the state row is the idempotency check.
        return Outcome(
            "duplicate",
            provider=txn.provider,
            transaction_id=txn.transaction_id,
            event_id=txn.event_id,
            request_id=envelope.request_id,
        )
    result = deps.ledger.record(txn, envelope.raw, request_id=envelope.request_id, signature_headers=envelope.headers)
    return Outcome(
        "recorded" if result.event_written else "duplicate",
        provider=txn.provider,
        transaction_id=txn.transaction_id,
        event_id=txn.event_id,
        status=txn.status,
        state_changed=result.state_changed,
        request_id=envelope.request_id,
        unroutable=txn.unroutable if result.event_written else (),
        became_succeeded=result.became_succeeded,
        announced=len(result.announced),
        held=result.held,
        conflicts=result.conflicts,
    )


def _peek(body: str, name: str) -> str:
    """A field of an envelope that failed validation, only if it is a short plain string."""
    try:
        value = json.loads(body).get(name)
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) and 0 < len(value) <= 128 else ""


def _peek_int(body: str, name: str) -> int:
    try:
        value = json.loads(body).get(name)
    except (ValueError, AttributeError):
        return 0
    return value if type(value) is int and 0 < value < 10**14 else 0


def _peek_provider(body: str) -> str:
    value = _peek(body, "provider")
    return value if value in providers.names() else "unknown"


@tracer.capture_method(capture_response=False)
def _processed(record: SqsRecord) -> Outcome | Exception:
    """:func:`process_message` for one record: its outcome, or the error it raised (no logging,
    no metrics: this part may run on a group's thread)."""
    try:
        return process_message(
            record.body,
            message_id=record.message_id,
            sent_at_ms=record.sent_timestamp,
            deps=default_deps(),
            receive_count=record.receive_count,
        )
    except Exception as error:  # noqa: BLE001 - reported (and raised) by _observed
        return error


def _observed(record: SqsRecord, result: Outcome | Exception) -> Outcome:
    """Metrics and log lines of one record's result; raises its error (the record fails)."""
    logger.remove_keys(["provider", "transaction_id", "event_id"])
    try:
        if isinstance(result, Exception):
            raise result
        outcome = result
    except MisconfiguredSecret as problem:
        # Ours to fix (set_secrets): retried, then dead-lettered; never "signature mismatch".
        obs.count(obs.SIGNING_SECRET_UNUSABLE)
        logger.error("signing secret unusable: record retried", extra={"problem": str(problem), "sqs_message_id": record.message_id})
        raise
    except VerificationUnavailable as unavailable:
        # Unverified: back once, soon (see the handler), then quarantined; never the DLQ.
        _retry_soon.append(record.message_id)
        logger.warning("verification unavailable: retried once soon, then quarantined",
                       extra={"reason": unavailable.reason, "error": str(unavailable)[:200],
                              "sqs_message_id": record.message_id})
        raise
    except Exception as error:
        for done in error.done if isinstance(error, BatchInterrupted) else ():
            _observe(done, record.message_id)
        cause = error.__cause__ if isinstance(error, BatchInterrupted) else error
        logger.warning("record failed: retried", extra={"error_type": type(cause).__name__, "sqs_message_id": record.message_id})
        raise
    _observe(outcome, record.message_id)
    return outcome


def _observe(outcome: Outcome, message_id: str) -> None:
    """Metrics per event (each item of a batch); a log line (ids, kind, reason - no content) for
    all but the success path."""
    logger.set_correlation_id(outcome.request_id or message_id)
    if outcome.kind == "batch":
        for item in outcome.items:
            _observe(item, message_id)
        return
    fields = {"provider": outcome.provider, "sqs_message_id": message_id}
    if outcome.kind == "rejected":
        obs.count_rejected(outcome.reason)
        logger.warning("webhook rejected", extra={**fields, "reason": outcome.reason, "quarantine_key": outcome.quarantine_key})
        return
    fields.update(transaction_id=outcome.transaction_id, event_id=outcome.event_id)
    # The write that makes the payment's sale counts it: exactly once per transaction, also when
    # a redelivery completes a state a crash left behind.
    if outcome.became_succeeded:
        obs.count(obs.SUCCESSFUL_TRANSACTIONS)
    for reason in outcome.unroutable:
        obs.count_with_reason(obs.UNROUTABLE_EVENT, reason)
    if outcome.held:
        obs.count(obs.LIFECYCLE_HELD, outcome.held)
        logger.info("refund or dispute held until its sale is announced", extra={**fields, "held": outcome.held})
    for name in outcome.conflicts:
        obs.count(obs.LIFECYCLE_CONFLICT)  # what the alarm watches; the field in the next one
        obs.count_with_reason(obs.LIFECYCLE_CONFLICT, name)
        logger.warning("event contradicts its payment's sale: kept raw", extra={**fields, "field": name})
    if outcome.kind == "duplicate":
        obs.count(obs.DUPLICATE_WEBHOOK)
        logger.info("duplicate webhook acknowledged", extra=fields)
    elif outcome.kind == "ignored":
        obs.count(obs.WEBHOOK_IGNORED)
        logger.info("webhook ignored (event type not tracked)", extra=fields)
    else:
        # The success path has no INFO line (one per webhook was the largest part of the log
        # bill): WebhookRecorded counts it; DEBUG (POWERTOOLS_LOG_LEVEL) shows each one.
        obs.count(obs.WEBHOOK_RECORDED)
        if outcome.unroutable:
            logger.warning("transaction event recorded, routed to no vendor",
                           extra={**fields, "unroutable": list(outcome.unroutable)})
        logger.debug(
            "transaction event recorded",
            extra={**fields, "status": outcome.status, "state_changed": outcome.state_changed},
        )


def process_groups(event: Mapping[str, Any], pool: ThreadPoolExecutor | None) -> dict:
    """The batch with its message groups on `pool`'s threads, or one after the other without one
    (records of a group in order, a group stopping at its first failure and failing the rest): the
    same response and errors as Powertools' FIFO processor with skip_group_on_error."""
    records = [SqsRecord.of(raw) for raw in event.get("Records", [])]
    groups = fifo_groups.by_group(range(len(records)),
                                  lambda index: records[index].message_group_id or records[index].message_id)

    def run_group(indexes: Sequence[int]) -> dict[int, Outcome | Exception | None]:
        results: dict[int, Outcome | Exception | None] = {}
        for position, index in enumerate(indexes):
            results[index] = _processed(records[index])
            if isinstance(results[index], Exception):  # the rest of the group waits for the redelivery
                results.update((later, None) for later in indexes[position + 1:])
                break
        return results

    results: dict[int, Outcome | Exception | None] = {}
    for done in (fifo_groups.run_groups(groups, run_group, pool=pool) if pool is not None
                 else map(run_group, groups)):
        results.update(done)
    failures: list[dict[str, str]] = []
    errors = []
    for index, record in enumerate(records):
        result = results[index]
        if result is None:
            failures.append({"itemIdentifier": record.message_id})
            continue
        try:
            _observed(record, result)
        except Exception as error:  # noqa: BLE001 - the record fails; SQS redelivers it
            failures.append({"itemIdentifier": record.message_id})
            errors.append((type(error), error, error.__traceback__))
    if records and len(failures) == len(records):
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        raise BatchProcessingError(msg=f"All records failed processing. {len(errors)} individual errors logged separately below.",
                                   child_exceptions=errors)
    return {"batchItemFailures": failures}


#: message ids of this invocation whose verification could not be decided (handler thread only)
_retry_soon: list[str] = []


def _bring_back_soon(event: Mapping[str, Any], failed: set[str]) -> None:
    sqs_batch.bring_back_soon(sqs_client(), event.get("Records") or [], list(_retry_soon), failed)


def sqs_client() -> Any:
    global _sqs
    if _sqs is None:
        _sqs = obs.client("sqs")
    return _sqs


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    _retry_soon.clear()
    try:
        response = process_groups(event, _pool)
    except Exception:  # every record failed (BatchProcessingError): all of them come back
        if _retry_soon:
            _bring_back_soon(event, {r.get("messageId") for r in event.get("Records") or []})
        raise
    if _retry_soon:
        _bring_back_soon(event, {f["itemIdentifier"] for f in response.get("batchItemFailures", [])})
    return response
