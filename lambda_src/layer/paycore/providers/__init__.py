"""Provider adapters as plug-ins: each provider declares itself (:class:`Provider`) in one module.

Registered providers:

* the built-in ones, :data:`BUILT_IN` (``stripe``, ``paypal``, ``direct``), modules of this package;
* any other module of this package, found by its name on first use: adding Adyen to the Lambda
  layer is ``providers/adyen.py`` defining ``PROVIDER`` (a :class:`Provider`), its name in the
  environment's ``providers`` in cdktf.json, and its tests - no list to edit;
* a provider registered in-process with :func:`register` (tests; it runs only where registered).

Everything downstream is derived from the declarations: the webhook route, its request template
and the gate's route map, the 200 answer, the secrets, the outputs and the processor's steps.
Modules are imported on first use, so a handler pays only for the providers it touches.
"""
from __future__ import annotations

import importlib
import importlib.util
import threading
from types import ModuleType
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from paycore.model import MisconfiguredSecret, Rejected
from paycore.providers.base import (
    GATE_KEY,
    NAME,
    SIGNING,
    GroupRule,
    Provider,
    Response,
    SecretSpec,
    declaration_problems,
    group_id_of,
)

if TYPE_CHECKING:
    from paycore.envelope import Envelope
    from paycore.model import Ignored, Transaction

__all__ = [
    "BUILT_IN", "GATE_KEY", "SIGNING", "GroupRule", "Provider", "ProviderAdapter", "Response", "SecretSpec",
    "UnknownProvider", "get", "group_id_of", "names", "read", "register", "unregister", "verification_secret",
    "webhook_names",
]

#: The built-in providers, in the order the settings enable them by default.
BUILT_IN: tuple[str, ...] = ("stripe", "paypal", "direct")

_registered: dict[str, "ProviderAdapter"] = {}
_lock = threading.Lock()


class ProviderAdapter(Protocol):
    """What the registry holds (:class:`Provider` subclasses satisfy it)."""

    name: str
    webhook: bool
    signature_headers: tuple[str, ...]
    event_id_path: str | None
    group_id_path: str | None
    group_id_rules: tuple[GroupRule, ...]
    response: Response
    batch: bool
    secrets: tuple[SecretSpec, ...]
    secret_required: bool
    internal_kind: str | None
    transmission_id_header: str | None

    @property
    def path(self) -> str | None: ...

    def signing_secret(self) -> SecretSpec: ...

    def usable_secrets(self, secret: Mapping[str, Any] | None) -> list[str]: ...

    def transmission_ttl_seconds(self) -> int | None: ...

    def verify(self, envelope: "Envelope", secret: Mapping[str, Any] | None) -> None: ...

    def normalize(self, envelope: "Envelope", payload: Mapping[str, Any]) -> "Transaction | Ignored": ...

    def items(self, payload: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]: ...

    def verify_item(self, envelope: "Envelope", item: Mapping[str, Any], secret: Mapping[str, Any] | None) -> None: ...


class UnknownProvider(KeyError):
    pass


def register(provider: "ProviderAdapter") -> "ProviderAdapter":
    """Register ``provider`` under its name (again for the same object: no-op); ``ValueError``
    listing every problem with its declarations, or when the name is taken."""
    problems = declaration_problems(provider)
    name = getattr(provider, "name", None)
    if isinstance(name, str) and NAME.match(name) and name not in _registered:
        module = _module_named(name)  # a built-in or layer provider's name is its module's
        if module is not None and getattr(module, "PROVIDER", None) is not provider:
            problems.append(f"name {name!r} is already registered (module {module.__name__})")
    with _lock:
        if isinstance(name, str) and _registered.get(name, provider) is not provider:
            problems.append(f"name {name!r} is already registered")
        if problems or not isinstance(name, str):
            raise ValueError(f"provider {name!r}: " + "; ".join(problems))
        _registered[name] = provider
    return provider


def _module_named(name: str) -> ModuleType | None:
    """The module ``paycore.providers.{name}``, imported, or None when there is none."""
    module_name = f"{__name__}.{name}"
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


def unregister(name: str) -> None:
    """Forget a provider registered with :func:`register` (tests); built-ins load again on use."""
    with _lock:
        _registered.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered providers: the built-in ones, then those registered or loaded since, in order."""
    return BUILT_IN + tuple(name for name in _registered if name not in BUILT_IN)


def webhook_names() -> tuple[str, ...]:
    """The registered providers that send webhooks (a route each; ``direct`` has none)."""
    return tuple(name for name in names() if get(name).webhook)


def get(name: str) -> "ProviderAdapter":
    """The adapter for ``name``: registered, or the ``PROVIDER`` of module ``paycore.providers.{name}``
    (imported and registered on first use); :class:`UnknownProvider` if there is neither."""
    provider = _registered.get(name)
    if provider is not None:
        return provider
    if not isinstance(name, str) or not NAME.match(name) or name == "base":
        raise UnknownProvider(name)
    module = _module_named(name)  # a missing dependency of an existing module raises (not "unknown")
    if module is None:
        raise UnknownProvider(name)
    return register(module.PROVIDER)


def verification_secret(provider: "ProviderAdapter", *, signing_secret: Callable[[str], Mapping[str, Any] | None],
                        internal_key: Callable[[], Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """What ``provider.verify`` checks an envelope with: the internal envelope key for the
    platform's own envelopes (``internal_kind``), the provider's signing secret when it needs one,
    else nothing. :class:`~paycore.model.MisconfiguredSecret` when that secret has no usable value
    (ours to fix: retried, never a rejection)."""
    if provider.internal_kind:
        secret = internal_key()
        if not provider.usable_secrets(secret):
            raise MisconfiguredSecret("the internal envelope key has no usable value")
        return secret
    if not provider.secret_required:
        return None
    secret = signing_secret(provider.name)
    if not provider.usable_secrets(secret):
        raise MisconfiguredSecret(f"the {provider.name} signing secret has no usable value")
    return secret


def read(provider: "ProviderAdapter", envelope: "Envelope", secret: Mapping[str, Any] | None,
         ) -> list["Transaction | Ignored | Rejected"]:
    """What an envelope says, once authentic: its one event, or each item's event (a batch) with a
    :class:`~paycore.model.Rejected` in place of an item that fails its own check. Raises
    ``Rejected`` when the request as a whole is not authentic or not readable."""
    from paycore import fastdecode

    provider.verify(envelope, secret)
    try:
        payload = fastdecode.loads(envelope.raw)  # json.loads' value and errors, at orjson's speed
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Rejected("malformed_body") from exc
    if not isinstance(payload, dict):
        raise Rejected("malformed_body")
    if not provider.batch:
        return [provider.normalize(envelope, payload)]
    events: list[Transaction | Ignored | Rejected] = []
    for item in provider.items(payload):
        try:
            provider.verify_item(envelope, item, secret)
            events.append(provider.normalize(envelope, item))
        except Rejected as rejected:  # this item only: the others are recorded
            events.append(rejected)
    return events
