"""Fetched envelopes: a provider event the reconciler read from the provider's events API.

Such an event carries no provider signature: its authenticity is the reconciler's authenticated
TLS call to the provider (an API key or OAuth2 token of ours, over the egress guard). So the
reconciler signs the envelope it enqueues with the internal envelope key, kind ``fetched``
(:mod:`paycore.internal_envelope`: the kind is in the MAC, a ``direct`` signature never verifies
as a fetched one), and the processor verifies that signature instead of the provider's. The event
is then read exactly as its webhook would have been: the same provider's ``normalize`` on the
same event JSON, recorded by the same event id (an event already recorded is a duplicate).

The envelope names the provider it came from; its headers are the provenance, kept on the ledger's
event row (``signature_headers``) and so in the archive:

* :data:`RUN_HEADER` - the reconciler run that fetched it (its presence makes the envelope a
  fetched one: without a valid ``fetched`` signature it is ``internal_signature_mismatch``);
* :data:`AT_HEADER` - when it was fetched (ISO-8601 UTC);
* ``internal-signature`` - the MAC.

Only a provider with a webhook route can have fetched events (``direct`` is ours already).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paycore import internal_envelope
from paycore.envelope import Envelope, build_envelope
from paycore.model import MisconfiguredSecret, Rejected

if TYPE_CHECKING:
    from paycore.model import Ignored, Transaction
    from paycore.providers import ProviderAdapter

KIND = "fetched"
RUN_HEADER = "fetched-run"
AT_HEADER = "fetched-at"


def is_fetched(envelope: Envelope) -> bool:
    """Whether the envelope claims to be a fetched one (it must then carry a fetched signature)."""
    return RUN_HEADER in envelope.headers


def iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


def envelope(*, provider: str, event_id: str, raw: bytes, run_id: str, fetched_at_ms: int) -> Envelope:
    """The unsigned envelope of one fetched event (``request_id`` names the event, so the queue's
    deduplication id is stable across overlapping runs)."""
    return build_envelope(provider=provider, received_at=fetched_at_ms, request_id=f"fetched-{provider}-{event_id}",
                          source_ip="", headers={RUN_HEADER: run_id, AT_HEADER: iso(fetched_at_ms)}, raw=raw)


def sign(unsigned: Envelope, key: Mapping[str, Any] | None) -> Envelope:
    """The envelope signed with the internal key's current value, kind ``fetched``."""
    return internal_envelope.sign(unsigned, KIND, key)


def read(provider: "ProviderAdapter", env: Envelope, key: Mapping[str, Any] | None) -> list["Transaction | Ignored | Rejected"]:
    """The processor's step for a fetched envelope: verify the ``fetched`` MAC, then normalize the
    body as the provider's webhook. ``Rejected`` when it is not ours; ``MisconfiguredSecret``
    when the internal key has no usable value (retried, alarmed)."""
    from paycore import fastdecode

    if not provider.webhook or provider.internal_kind or provider.batch:
        raise Rejected(internal_envelope.REASON)
    if not internal_envelope.usable_keys(key):
        raise MisconfiguredSecret("the internal envelope key has no usable value")
    internal_envelope.verify(env, KIND, key)
    try:
        payload = fastdecode.loads(env.raw)
    except (ValueError, RecursionError) as exc:
        raise Rejected("malformed_body") from exc
    if not isinstance(payload, dict):
        raise Rejected("malformed_body")
    return [provider.normalize(env, payload)]
