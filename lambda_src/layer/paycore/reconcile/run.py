"""One reconciler run for one provider: list the provider's events of a window, page by page, and
put every event the ledger does not have on the ingest queue as a signed ``fetched`` envelope.

The window: from the provider's checkpoint minus the lookback (events that appear late in the
list) to now. The checkpoint row holds the window and the cursor of the next page while a run is
under way, written after each page is fully handled (its missing events enqueued); a run that
fails resumes at that page, and the checkpoint itself moves to the window's end only after the
last page. Nothing is written twice whatever the overlap: an event the ledger has (its event
claim, ``event#{provider}#{event_id}``) is not enqueued, one enqueued twice is a duplicate at the
processor (the ledger's conditional write), and the queue's deduplication id is the event's.

A call that fails with 429, 5xx or no answer is retried with backoff (``Retry-After`` when the
provider gives one, bounded by the run's time); 401/403 or retries spent end the run as failed
(the checkpoint stays where the last handled page left it; ``ReconcileFailed{reason}`` alarms).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from paycore import fetched, providers
from paycore.model import Ignored, Rejected, Transaction
from paycore.reconcile.sources import Page, SourceError

MAX_ATTEMPTS = 4
MAX_BACKOFF_SECONDS = 30.0
#: A run stops taking pages with less time than this left: its checkpoint row keeps the next page,
#: the next run resumes there (a run killed by its timeout mid-page is safe too, only wasteful).
PAGE_BUDGET_SECONDS = 30.0


class Source(Protocol):
    provider: str

    def page(self, *, start: int, end: int, cursor: str | None) -> Page: ...


class Checkpoints(Protocol):
    def get(self, provider: str) -> Mapping[str, Any] | None: ...

    def save(self, provider: str, row: Mapping[str, Any]) -> None: ...


@dataclass
class Report:
    """What a run did (one log line, EMF metrics)."""

    provider: str
    run_id: str
    window_start: int = 0
    window_end: int = 0
    pages: int = 0
    listed: int = 0
    already_recorded: int = 0
    recovered: int = 0
    ignored: int = 0
    failed: int = 0
    checkpoint: int = 0
    completed: bool = False
    error: str = ""
    dry_run: bool = False
    recovered_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("recovered_ids")
        return out


def _attempt(source: Source, *, start: int, end: int, cursor: str | None, sleep: Callable[[float], None],
             time_left: Callable[[], float]) -> Page:
    """One page, retried while the failure is transient and the run has time."""
    delay = 1.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return source.page(start=start, end=end, cursor=cursor)
        except SourceError as failed:
            wait = min(failed.retry_after if failed.retry_after is not None else delay, MAX_BACKOFF_SECONDS)
            if not failed.transient or attempt == MAX_ATTEMPTS or wait >= time_left():
                raise
            sleep(wait)
            delay *= 2
    raise AssertionError("unreachable")


def reconcile(source: Source, *, checkpoints: Checkpoints | None, recorded: Callable[[str, list[str]], set[str]],
              enqueue: Callable[[list[dict[str, Any]]], None], internal_key: Mapping[str, Any] | None,
              now: int, interval_seconds: int, lookback_seconds: int, since: int | None = None,
              until: int | None = None, dry_run: bool = False, run_id: str | None = None,
              sleep: Callable[[float], None] = time.sleep, time_left: Callable[[], float] = lambda: 600.0) -> Report:
    """Run once (see the module docstring). ``since``/``until``: a manual backfill of that window,
    which leaves the checkpoint alone. ``enqueue`` gets SQS ``SendMessageBatch`` entries (<= 10).
    Raises :class:`SourceError` after recording the failure in the report it attaches (``.report``)."""
    provider = providers.get(source.provider)
    report = Report(provider=source.provider, run_id=run_id or uuid.uuid4().hex, dry_run=dry_run)
    row = dict(checkpoints.get(source.provider) or {}) if checkpoints and since is None else {}
    if since is not None:
        start, end, cursor = since, until or now, None
    elif row.get("cursor"):
        start, end, cursor = int(row["window_start"]), int(row["window_end"]), str(row["cursor"])
    else:
        start = int(row.get("checkpoint") or now - interval_seconds) - lookback_seconds
        end, cursor = now, None
    report.window_start, report.window_end, report.checkpoint = start, end, int(row.get("checkpoint") or 0)
    while True:
        if report.pages and time_left() < PAGE_BUDGET_SECONDS:
            return report  # not completed: the checkpoint row holds the next page
        try:
            page = _attempt(source, start=start, end=end, cursor=cursor, sleep=sleep, time_left=time_left)
        except SourceError as failed:
            report.error = failed.reason
            failed.report = report  # type: ignore[attr-defined]
            raise
        report.pages += 1
        _handle(page.events, provider, report, recorded=recorded, enqueue=enqueue, key=internal_key,
                now_ms=now * 1000, dry_run=dry_run)
        cursor = page.cursor
        if checkpoints is not None and since is None and not dry_run:
            done = cursor is None
            checkpoint = end if done else int(row.get("checkpoint") or 0)
            row = {"checkpoint": checkpoint, "window_start": start, "window_end": end, "cursor": cursor or "",
                   "run_id": report.run_id, "updated_at": int(time.time())}
            checkpoints.save(source.provider, row)
            report.checkpoint = checkpoint
        if cursor is None:
            report.completed = True
            return report


def _handle(events: Iterable[tuple[str, bytes]], provider: providers.ProviderAdapter, report: Report, *,
            recorded: Callable[[str, list[str]], set[str]], enqueue: Callable[[list[dict[str, Any]]], None],
            key: Mapping[str, Any] | None, now_ms: int, dry_run: bool) -> None:
    """One page: normalize each event as its webhook would be, enqueue those the ledger lacks."""
    from paycore import fastdecode

    candidates: list[tuple[str, Any, str | None]] = []
    for event_id, raw in events:
        report.listed += 1
        unsigned = fetched.envelope(provider=provider.name, event_id=event_id, raw=raw, run_id=report.run_id,
                                    fetched_at_ms=now_ms)
        try:
            payload = fastdecode.loads(raw)
            meaning = provider.normalize(unsigned, payload)
        except (Rejected, ValueError):
            report.failed += 1  # the processor would quarantine it as well; the log line counts it
            continue
        if isinstance(meaning, Ignored):
            report.ignored += 1
            continue
        assert isinstance(meaning, Transaction)
        # the payment's FIFO group as the webhook route's template reads it (the group rules, then the path)
        candidates.append((event_id, unsigned, providers.group_id_of(provider, payload) or meaning.transaction_id))
    have = recorded(provider.name, [event_id for event_id, _, _ in candidates]) if candidates else set()
    report.already_recorded += len(have)
    entries: list[dict[str, Any]] = []
    for event_id, unsigned, group in candidates:
        if event_id in have:
            continue
        report.recovered += 1
        report.recovered_ids.append(event_id)
        if not dry_run:
            signed = fetched.sign(unsigned, key)
            entries.append({"Id": str(len(entries)), "MessageBody": signed.to_json(), "MessageGroupId": group,
                            "MessageDeduplicationId": signed.request_id[:128]})
        if len(entries) == 10:
            enqueue(entries)
            entries = []
    if entries:
        enqueue(entries)
