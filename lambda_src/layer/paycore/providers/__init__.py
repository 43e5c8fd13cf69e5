"""Provider adapters: a small registry, one module per provider.

Each module in :data:`PROVIDER_MODULES` defines ``PROVIDER``, an object with:

* ``name`` - the ``{provider}`` path segment and envelope ``provider`` value;
* ``signature_headers`` - lower-case header names the envelope keeps;
* ``event_id_path`` / ``group_id_path`` - JSONPath of the event id and the payment object id in
  the body, used by the API Gateway template for the FIFO message ids (``None``: not a webhook
  provider, no template);
* ``secret_required`` - whether ``verify`` needs the ``{SECRET_PREFIX}{name}/signing`` secret;
* ``usable_secrets(secret) -> list`` - the usable values in that secret (only when
  ``secret_required``); none is our misconfiguration (retried), not the sender's fault;
* ``verify(envelope, secret) -> None`` - raises :class:`paycore.model.Rejected` when the message
  is not authentic; ``secret`` is the parsed secret JSON (or ``None``);
* ``normalize(envelope, payload) -> Transaction | Ignored`` - ``payload`` is the parsed JSON body;
  raises ``Rejected("missing_event_id" | "malformed_event")``.

Adding a provider (Adyen) = one module ``providers/adyen.py`` with ``PROVIDER`` + its name here.
Modules are imported on first use, so a handler pays only for the providers it touches.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    from paycore.envelope import Envelope
    from paycore.model import Ignored, Transaction

PROVIDER_MODULES: tuple[str, ...] = ("stripe", "paypal", "direct")

_loaded: dict[str, "Provider"] = {}


class Provider(Protocol):
    name: str
    signature_headers: tuple[str, ...]
    event_id_path: str | None
    group_id_path: str | None
    secret_required: bool

    def usable_secrets(self, secret: Mapping[str, Any] | None) -> list[str]: ...

    def verify(self, envelope: "Envelope", secret: Mapping[str, Any] | None) -> None: ...

    def normalize(self, envelope: "Envelope", payload: Mapping[str, Any]) -> "Transaction | Ignored": ...


class UnknownProvider(KeyError):
    pass


def names() -> tuple[str, ...]:
    """All registered provider names."""
    return PROVIDER_MODULES


def webhook_names() -> tuple[str, ...]:
    """The providers that send webhooks (those with an ``event_id_path``: a route and a template)."""
    return tuple(name for name in PROVIDER_MODULES if get(name).event_id_path is not None)


def get(name: str) -> Provider:
    """The adapter for ``name``; :class:`UnknownProvider` if there is none."""
    provider = _loaded.get(name)
    if provider is None:
        if name not in PROVIDER_MODULES:
            raise UnknownProvider(name)
        provider = importlib.import_module(f"{__name__}.{name}").PROVIDER
        _loaded[name] = provider
    return provider
