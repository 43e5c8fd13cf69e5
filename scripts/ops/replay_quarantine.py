"""`replay-quarantine`: re-verify quarantined webhooks with the current secrets and re-enqueue those that
now verify.

Why: a signing secret rotated at the provider but not yet here makes every genuine event look
forged. The processor quarantines each one with its whole envelope (``quarantine/{provider}/
{yyyy}/{mm}/{dd}/{request_id}.json``, lambda_src/README.md), so once the secret is fixed
(``python -m scripts.ops secrets``) this command recovers them:

1. list the quarantine documents of ``--provider`` (or all) received since ``--since``;
2. re-verify each envelope exactly as the processor does (same code, the current secrets from
   Secrets Manager, the tolerance measured from the original ``received_at``; a direct payment by
   the validator's internal envelope signature, so a quarantine or parked document someone wrote
   never becomes a payment);
3. re-enqueue the ones that verify, unchanged, on the ingest FIFO queue (group = the payment
   object id, dedup id derived from the request id), and tag the document ``replayed``.

Nothing is doubled: the processor's ledger write is idempotent on the provider event id (a copy
the provider retried meanwhile is acknowledged as a duplicate), a re-run skips tagged documents,
and a re-run within SQS's 5-minute window is deduplicated by the queue too. Documents that still
fail stay where they are, counted by reason. ``--parked`` works the same way on the messages
``redrive`` parked (``parked/...``) after the cause is fixed.

    python -m scripts.ops --env dev replay-quarantine --provider stripe --since 2024-11-22T00:00:00Z [--dry-run]
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping

from paycore import providers
from paycore.envelope import Envelope, parse_envelope
from paycore.model import MisconfiguredSecret, Rejected, Transaction
from scripts.ops.command import (
    Command, Targets, UsageError, archive_bucket, as_operator, choice, progress, queue_url, time_ms,
    verifying_as_the_processor,
)

QUARANTINE_PREFIX = "quarantine/"
PARKED_PREFIX = "parked/"
REPLAYED_TAG = "replayed"


def day_prefixes(prefix: str, provider: str | None, since_ms: int, now_ms: int) -> list[str]:
    """The date prefixes to list: one per UTC day from ``since`` to now (or the whole provider)."""
    base = f"{prefix}{provider}/" if provider else prefix
    if provider is None:
        return [base]
    day = datetime.fromtimestamp(since_ms / 1000, tz=timezone.utc).date()
    last = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).date()
    if (last - day).days > 400:  # a wide range: one listing of the provider is cheaper
        return [base]
    out = []
    while day <= last:
        out.append(f"{base}{day:%Y/%m/%d}/")
        day += timedelta(days=1)
    return out


@dataclass
class Report:
    examined: int = 0
    requeued: int = 0
    already_replayed: int = 0
    still_rejected: collections.Counter = field(default_factory=collections.Counter)
    requeued_keys: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "verified_now": self.requeued, "requeued": 0 if self.dry_run else self.requeued,
                "already_replayed": self.already_replayed, "still_rejected": dict(sorted(self.still_rejected.items())),
                "dry_run": self.dry_run}


def verify(envelope: Envelope, signing_secret: Callable[[str], Mapping[str, Any] | None],
           internal_key: Callable[[], Mapping[str, Any] | None] = lambda: None) -> str:
    """Verify as the processor does (a provider's signature with its signing secret, the platform's
    own envelopes with the internal envelope key); returns the FIFO group id (payment object id,
    a direct payment's transaction id, else the request id). Raises ``Rejected`` when it still does
    not verify or parse, ``MisconfiguredSecret`` when the secret it needs has no usable value."""
    provider = providers.get(envelope.provider) if envelope.provider in providers.names() else None
    if provider is None:
        raise Rejected("unknown_provider")
    secret = providers.verification_secret(provider, signing_secret=signing_secret, internal_key=internal_key)
    events = providers.read(provider, envelope, secret)
    for event in events:  # a batch: every item, each checked on its own
        if isinstance(event, Rejected):
            raise event  # an item still rejected: the message stays quarantined
    if provider.internal_kind:  # the validator's group: the transaction id
        return events[0].transaction_id if isinstance(events[0], Transaction) else envelope.request_id
    # the payment's FIFO group as the webhook route's template reads it (the group rules, then the path)
    return providers.group_id_of(provider, json.loads(envelope.raw)) or envelope.request_id


def documents(s3: Any, bucket: str, prefixes: list[str], since_ms: int) -> Iterator[tuple[str, dict]]:
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for summary in page.get("Contents", []):
                document = json.loads(s3.get_object(Bucket=bucket, Key=summary["Key"])["Body"].read())
                if int(document.get("received_at") or 0) >= since_ms:
                    yield summary["Key"], document


def replayed(s3: Any, bucket: str, key: str) -> bool:
    tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    return any(tag["Key"] == REPLAYED_TAG for tag in tags)


def replay(s3: Any, sqs: Any, *, bucket: str, queue_url: str, signing_secret: Callable[[str], Mapping[str, Any] | None],
           internal_key: Callable[[], Mapping[str, Any] | None] = lambda: None,
           provider: str | None = None, since_ms: int = 0, parked: bool = False, dry_run: bool = False,
           now_ms: int | None = None, progress: Callable[[Report], None] | None = None) -> Report:
    """Re-verify and re-enqueue; see the module docstring. Returns the counts."""
    now_ms = now_ms if now_ms is not None else int(datetime.now(timezone.utc).timestamp() * 1000)
    report = Report(dry_run=dry_run)
    prefix = PARKED_PREFIX if parked else QUARANTINE_PREFIX
    for key, document in documents(s3, bucket, day_prefixes(prefix, provider, since_ms, now_ms), since_ms):
        report.examined += 1
        if replayed(s3, bucket, key):
            report.already_replayed += 1
            continue
        body = document.get("message_body", "")
        try:
            envelope = parse_envelope(body)
            if provider and envelope.provider != provider:
                continue
            group = verify(envelope, signing_secret, internal_key)
        except Rejected as still:
            report.still_rejected[still.reason] += 1
            continue
        report.requeued += 1
        report.requeued_keys.append(key)
        if not dry_run:
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId="replay-" + hashlib.sha256(envelope.request_id.encode()).hexdigest()[:48],
                MessageAttributes={"replayed_from": {"DataType": "String", "StringValue": prefix.rstrip("/")}},
            )
            s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [
                {"Key": REPLAYED_TAG, "Value": str(now_ms)}]})
        if progress and report.examined % 100 == 0:
            progress(report)
    return report


# ----- the `replay-quarantine` command ------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", metavar="PROVIDER",
                        help=f"only this provider's documents: {', '.join(providers.names())} (default: all)")
    parser.add_argument("--since", default="1970-01-01", metavar="TIME",
                        help="only documents received at or after TIME (ISO-8601, UTC without an offset; default: all)")
    parser.add_argument("--parked", action="store_true",
                        help="replay the messages `redrive` parked (parked/) instead of the quarantine (quarantine/)")
    parser.add_argument("--dry-run", action="store_true",
                        help="verify with the current secrets (as the operator role) and count; send and tag nothing")


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    from paycore.secrets import SecretStore

    choice(args.provider, providers.names(), "provider")
    since = time_ms(args.since, "--since")
    targets = as_operator(targets)
    queue = queue_url(targets, targets.names.ingest_queue)
    bucket = archive_bucket(targets)
    store = SecretStore(targets.client("secretsmanager"), prefix=targets.secret_prefix, max_age=0)
    try:
        with verifying_as_the_processor(targets):
            report = replay(targets.client("s3"), targets.client("sqs"), bucket=bucket, queue_url=queue,
                            signing_secret=store.signing, internal_key=store.internal_key, provider=args.provider,
                            since_ms=since, parked=args.parked, dry_run=args.dry_run,
                            progress=lambda r: progress(f"examined {r.examined}, verified {r.requeued}"))
    except MisconfiguredSecret as problem:
        raise UsageError(f"{problem}: set it with `python -m scripts.ops --env {targets.env} secrets` first") from None
    return report.as_dict()


COMMAND = Command(
    name="replay-quarantine", add_arguments=add_arguments, run=run,
    help="re-verify quarantined (or parked) webhooks with the current secrets; re-enqueue what verifies",
    description="Re-verify the quarantined webhooks (or the messages redrive parked) with the current signing "
                "secrets, exactly as the processor does, and re-enqueue those that now verify; the others stay, "
                "counted by reason.",
)
