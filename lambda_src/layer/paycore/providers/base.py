"""What a provider declares, with its defaults: the base class of every provider adapter.

The infrastructure reads the declarations (route, signature headers, FIFO group rule, the answer
API Gateway gives, secrets); the processor calls the behaviour (``verify``, ``normalize`` and, for
a batch provider, ``items`` + ``verify_item``). Pure data and pure functions: no AWS, no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from paycore.envelope import Envelope
    from paycore.model import Ignored, Transaction

#: A provider's name: the envelope's ``provider``, the route id, a secret name's segment.
NAME = re.compile(r"^[a-z][a-z0-9]{1,31}$")
#: A webhook route: a literal, lower-case resource path (the gate allows exactly its method ARN).
ROUTE_PATH = re.compile(r"^(/[a-z0-9-]{1,64}){1,4}$")
HEADER_NAME = re.compile(r"^[a-z0-9-]{1,64}$")
CONTENT_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")


class VerificationUnavailable(Exception):
    """Whether a message is authentic cannot be decided now: something verification needs is out of
    reach (PayPal's certificate download timed out, its host answered 5xx or something that is not
    a certificate). Nothing about the message is known yet - it may be a forgery naming a real
    payment's group - so the processor retries it once, soon, and then quarantines it as
    ``reason`` (replayable): an unverified message never holds its message group longer."""

    reason: str = "verification_unavailable"


@dataclass(frozen=True)
class SecretSpec:
    """One secret of a provider, ``{SECRET_PREFIX}{provider}/{name}``: a JSON object holding the
    current value and, during a rotation, the previous one (under ``current_key`` / ``previous_key``)."""

    name: str
    current_key: str = "current"
    previous_key: str = "previous"

    def usable(self, secret: Mapping[str, Any] | None) -> list[str]:
        """The non-empty values, current first."""
        if not secret:
            return []
        return [v for v in (secret.get(self.current_key), secret.get(self.previous_key)) if isinstance(v, str) and v]

    def value(self, new: str, old: Mapping[str, Any] | None, *, rotate: bool) -> dict[str, str]:
        """The JSON to store for ``new``; ``rotate`` keeps the replaced current value as previous."""
        previous = (old or {}).get(self.current_key) if rotate else None
        return {self.current_key: new, **({self.previous_key: previous} if previous else {})}


#: The processor verifies signatures with it.
SIGNING = SecretSpec("signing")
#: The webhook gate (the REQUEST authorizer) compares the caller's key with it.
GATE_KEY = SecretSpec("gate-key")


#: What a group rule may name: a rel, or a fixed piece of a link's path (no quotes, no VTL syntax).
LINK_TEXT = re.compile(r"^[A-Za-z0-9/_.-]{1,64}$")


@dataclass(frozen=True)
class GroupRule:
    """Where an unverified body may name its payment (the FIFO message group): the text at ``path``;
    or, with ``link_rel``, ``path`` names a list of links (``{"rel", "href"}``) and the id is the
    last path segment of the href of the link with that rel whose href contains ``href_contains``
    (a PayPal refund names its capture by its ``up`` link). The request template and
    :func:`group_id_of` read the rules the same way."""

    path: str
    link_rel: str = ""
    href_contains: str = ""


@dataclass(frozen=True)
class Response:
    """What API Gateway answers a webhook once the message is on the queue (200)."""

    body: str = '{"received": true}'
    content_type: str = "application/json"


class Provider:
    """A provider adapter. Subclasses set the declarations and implement the behaviour.

    Declarations (class attributes):

    * ``name`` - the ``{provider}`` of the envelope, the route id and the secrets' names;
    * ``webhook`` - whether it has a webhook route (``direct`` payments come through the validator);
    * ``route_path`` - the route's literal resource path (``""``: ``/webhooks/{name}``);
    * ``signature_headers`` - lower-case header names the envelope keeps;
    * ``event_id_path`` / ``group_id_path`` - JSONPath of the event id and of the FIFO message
      group (the payment object's id) in the body; the request template reads the group (no
      value: the request id). A batch provider names the first item's payment: one message per
      request, so one group per request;
    * ``group_id_rules`` - where an event about a refund or dispute names its payment, tried in
      order before ``group_id_path`` (:class:`GroupRule`), so every event of a payment shares its
      group whatever its own id;
    * ``response`` - the 200 answer (body and content type);
    * ``batch`` - one request carries several events (``items``), each verified and recorded on its own;
    * ``secrets`` - the secrets the stack creates for it; ``secret_required``: the processor needs
      the ``signing`` one to verify;
    * ``internal_kind`` - the envelope is the platform's own (no provider signs it): it is
      authenticated by the internal envelope key as this kind (:mod:`paycore.internal_envelope`),
      and ``verify`` receives that key instead of a signing secret;
    * ``transmission_id_header`` - the header naming one transmission of the provider's whose
      signature does not cover the body's exact bytes (PayPal signs a CRC32): the processor binds
      each verified transmission id to its body's SHA-256, so it carries one body only.
    """

    name: ClassVar[str]
    webhook: ClassVar[bool] = True
    route_path: ClassVar[str] = ""
    signature_headers: ClassVar[tuple[str, ...]] = ()
    event_id_path: ClassVar[str | None] = None
    group_id_path: ClassVar[str | None] = None
    group_id_rules: ClassVar[tuple[GroupRule, ...]] = ()
    response: ClassVar[Response] = Response()
    batch: ClassVar[bool] = False
    secrets: ClassVar[tuple[SecretSpec, ...]] = (SIGNING, GATE_KEY)
    secret_required: ClassVar[bool] = True
    internal_kind: ClassVar[str | None] = None
    transmission_id_header: ClassVar[str | None] = None

    @property
    def path(self) -> str | None:
        """The webhook route's resource path, or None for a provider without a route."""
        if not self.webhook:
            return None
        return self.route_path or f"/webhooks/{self.name}"

    def signing_secret(self) -> SecretSpec:
        return next((s for s in self.secrets if s.name == SIGNING.name), SIGNING)

    def usable_secrets(self, secret: Mapping[str, Any] | None) -> list[str]:
        """The usable values of the signing secret (or of the internal key, for an ``internal_kind``);
        none is our misconfiguration (retried)."""
        if self.internal_kind:
            from paycore import internal_envelope

            return internal_envelope.usable_keys(secret)
        return self.signing_secret().usable(secret)

    def transmission_ttl_seconds(self) -> int | None:
        """How long a transmission id stays bound to its body (None: for good): at least as long as a
        message of that transmission can be accepted. Only with ``transmission_id_header``."""
        raise NotImplementedError

    def verify(self, envelope: "Envelope", secret: Mapping[str, Any] | None) -> None:
        """Raise :class:`paycore.model.Rejected` unless the request is authentic (the raw bytes and
        headers; a batch provider checks here what covers the whole request, if anything)."""
        raise NotImplementedError

    def normalize(self, envelope: "Envelope", payload: Mapping[str, Any]) -> "Transaction | Ignored":
        """The event in ``payload`` (a batch provider: one item); ``Rejected`` when unusable."""
        raise NotImplementedError

    def items(self, payload: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        """A batch provider's items, in request order; ``Rejected`` when the body has none."""
        raise NotImplementedError

    def verify_item(self, envelope: "Envelope", item: Mapping[str, Any], secret: Mapping[str, Any] | None) -> None:
        """A batch provider's check of one item's own signature; ``Rejected`` when it fails."""
        raise NotImplementedError


def declaration_problems(provider: Any) -> list[str]:
    """Every problem with a provider's declarations, each naming the attribute (empty: usable)."""
    name = getattr(provider, "name", None)
    problems: list[str] = []
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"name must match {NAME.pattern}, got {name!r}")
    for attribute in ("verify", "normalize", "usable_secrets"):
        if not callable(getattr(provider, attribute, None)):
            problems.append(f"{attribute} must be a method")
    path = getattr(provider, "path", None)
    if getattr(provider, "webhook", False) and not (isinstance(path, str) and ROUTE_PATH.match(path)):
        problems.append(f"route_path must be a literal lower-case resource path ({ROUTE_PATH.pattern}), got {path!r}")
    headers = getattr(provider, "signature_headers", ())
    bad_headers = [h for h in headers if not (isinstance(h, str) and HEADER_NAME.match(h))]
    if bad_headers:
        problems.append(f"signature_headers must be lower-case header names, got {bad_headers!r}")
    for label in ("event_id_path", "group_id_path"):
        value = getattr(provider, label, None)
        if getattr(provider, "webhook", False) and not (isinstance(value, str) and value.startswith("$") and "'" not in value):
            problems.append(f"{label} must be a JSONPath ($...) without quotes for a webhook provider, got {value!r}")
    for index, rule in enumerate(getattr(provider, "group_id_rules", ())):
        path, rel, contains = (getattr(rule, name, None) for name in ("path", "link_rel", "href_contains"))
        if not (isinstance(path, str) and path.startswith("$") and "'" not in path
                and all(isinstance(t, str) and (not t or LINK_TEXT.match(t)) for t in (rel, contains))):
            problems.append(f"group_id_rules[{index}] must be a GroupRule with a JSONPath ($...) without quotes "
                            f"and link texts matching {LINK_TEXT.pattern}, got {rule!r}")
    # Attributes, not isinstance: a process that imports paycore afresh (the local runner) holds two
    # copies of these classes, and a provider of either is as good.
    response = getattr(provider, "response", None)
    body, content_type = getattr(response, "body", None), getattr(response, "content_type", None)
    if (not isinstance(body, str) or not body or any(c in body for c in "$#\\")
            or not isinstance(content_type, str) or not CONTENT_TYPE.match(content_type)):
        problems.append("response must be a Response with a literal body (no $, # or \\: API Gateway renders it as "
                        f"a template) and a content type such as text/plain, got {response!r}")
    secrets = getattr(provider, "secrets", ())
    names = [getattr(s, "name", None) for s in secrets]
    if (not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)
            or not set(names) <= {SIGNING.name, GATE_KEY.name}):
        problems.append(f"secrets must be distinct SecretSpecs named {SIGNING.name} or {GATE_KEY.name}, got {secrets!r}")
    if getattr(provider, "webhook", False) and GATE_KEY.name not in names:
        problems.append(f"secrets must include {GATE_KEY.name}: the gate checks every webhook route's key")
    if bool(getattr(provider, "secret_required", False)) != (SIGNING.name in names):
        problems.append(f"secret_required must be true exactly when secrets include {SIGNING.name}")
    internal_kind = getattr(provider, "internal_kind", None)
    if internal_kind is not None:
        from paycore.internal_envelope import KINDS

        if internal_kind not in KINDS or getattr(provider, "webhook", False) or names:
            problems.append(f"internal_kind must be one of {', '.join(KINDS)}, for a provider without a webhook route "
                            f"or secrets of its own (the internal key authenticates it), got {internal_kind!r}")
    header = getattr(provider, "transmission_id_header", None)
    if header is not None and (header not in headers or not callable(getattr(provider, "transmission_ttl_seconds", None))):
        problems.append(f"transmission_id_header must be one of signature_headers, with transmission_ttl_seconds, "
                        f"got {header!r}")
    if getattr(provider, "batch", False):
        for attribute in ("items", "verify_item"):
            method = getattr(type(provider), attribute, None)
            if not callable(method) or getattr(method, "__qualname__", "") == f"Provider.{attribute}":
                problems.append(f"a batch provider must implement {attribute}")
    return problems


def group_id_of(provider: Any, payload: Any) -> str | None:
    """The payment a body names by the provider's group rules (as the request template reads them:
    the first rule with a non-empty text, then ``group_id_path``); None when none does, or when the
    text is no SQS MessageGroupId (:func:`is_sqs_group_id`: the template then uses the request id)."""
    from paycore.jsonpath import resolve

    for rule in (*getattr(provider, "group_id_rules", ()), GroupRule(getattr(provider, "group_id_path", None) or "")):
        if not rule.path:
            continue
        value = resolve(payload, rule.path)
        if rule.link_rel:
            value = _linked_id(value, rule)
        if isinstance(value, str) and value:
            return value if is_sqs_group_id(value) else None
    return None


def is_sqs_group_id(text: str) -> bool:
    """What SQS takes as a MessageGroupId: 1 to 128 alphanumeric and punctuation characters, i.e.
    printable ASCII without the space (SendMessage API reference)."""
    return 0 < len(text) <= 128 and text.isascii() and text.isprintable() and " " not in text


def _linked_id(links: Any, rule: GroupRule) -> str | None:
    """The last path segment of the href of the (last) link with ``rule.link_rel`` whose href
    contains ``rule.href_contains``."""
    found = None
    for link in links if isinstance(links, list) else ():
        if isinstance(link, Mapping) and link.get("rel") == rule.link_rel:
            href = link.get("href")
            if isinstance(href, str) and rule.href_contains in href:
                found = href.rsplit("/", 1)[-1]
    return found
