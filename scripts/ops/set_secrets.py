"""`secrets`: set the provider signing secrets, gate keys, the query cursor key and the internal
envelope key in Secrets Manager (lambda_src/README.md, "Secrets"), in the secrets the stack created
for them.

Names: ``{prefix}{provider}/signing``, ``{prefix}{provider}/gate-key``, ``{prefix}query/cursor-key``
and ``{prefix}internal/envelope-key``, prefix the environment's (``payment-webhooks/{env}/``,
constructs/app/names.py). Values are JSON:

* signing, stripe (and any HMAC provider): ``{"current": "whsec_...", "previous": "..."}``;
* signing, paypal: ``{"webhook_id": "...", "previous_webhook_id": "..."}``;
* gate-key: ``{"current": "...", "previous": "..."}``;
* query/cursor-key (the reader's pagination HMAC key, >= 32 characters): ``{"current": "...",
  "previous": "..."}``;
* internal/envelope-key (the HMAC key the validator signs direct payments with and the processor
  verifies them with, paycore.internal_envelope): ``{"current": "...", "previous": "..."}``, always
  generated (``--internal-key generate``): the first time, or ``--internal-key rotate`` (the old key
  stays ``previous``, so the messages it signed still verify; rotate again only once they are
  processed - a message may wait up to 14 days in the queue or its DLQ). Generating a new key over
  a usable one is refused (dry run too): it would reject every direct payment still queued.

``--rotate`` keeps the value being replaced as ``previous`` (both are accepted during a roll);
without it ``previous`` is cleared. Values come from a file (``-`` = stdin, which keeps them out of
the shell history) or are generated; they are checked against the shape the provider documents
before anything is written, and never printed.

    python -m scripts.ops --env dev secrets --provider stripe --signing-secret-file - --generate-gate-key
    python -m scripts.ops --env dev secrets --cursor-key generate --rotate
    python -m scripts.ops --env dev secrets --internal-key generate|rotate
"""
from __future__ import annotations

import argparse
import json
import re
import secrets as random_secrets
from typing import Any

from paycore import internal_envelope, providers
from scripts.ops.command import Command, Targets, UsageError, choice, not_deployed, read_text, webhook_providers

CURSOR_KEY_SECRET = "query/cursor-key"  # paycore.cursor.CURSOR_KEY_SECRET
MIN_CURSOR_KEY_CHARS = 32  # paycore.cursor.MIN_KEY_CHARS
INTERNAL_KEY_SECRET = internal_envelope.KEY_SECRET


class KeyAlreadySet(ValueError):
    """A usable internal envelope key exists and --rotate was not given."""


#: The signing value each provider documents, checked before writing: a value of the wrong kind
#: (a PayPal client secret, a Stripe API key) would make every genuine webhook look forged.
SIGNING_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    # Stripe: "the endpoint's signing secret ... starts with whsec_" (Dashboard > Webhooks)
    "stripe": (re.compile(r"whsec_[!-~]{8,}"), "a Stripe endpoint signing secret (whsec_ followed by its key)"),
    # PayPal: the webhook id, `^[a-zA-Z0-9]+$` in PayPal's verify-webhook-signature request schema
    "paypal": (re.compile(r"[A-Za-z0-9]{1,50}"), "a PayPal webhook id (letters and digits, from the app's Webhooks page)"),
}
#: Any other provider's signing value: one printable word.
ANY_SIGNING = (re.compile(r"[!-~]{1,4096}"), "one word of printable ASCII characters (at most 4096)")
#: A gate key travels in the webhook URL's query (`?key=`): URL-safe characters only, long enough
#: not to be guessed (a generated one has 43).
GATE_KEY_SHAPE = (re.compile(r"[A-Za-z0-9._~-]{20,256}"), "20 to 256 URL-safe characters (A-Z a-z 0-9 . _ ~ -)")


def secret_name(prefix: str, provider: str, kind: str) -> str:
    return f"{prefix}{provider}/{kind}"


def _current(sm: Any, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return None


def put_json(sm: Any, name: str, value: dict[str, Any], kms_key_id: str | None = None) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    try:
        sm.put_secret_value(SecretId=name, SecretString=text)
        return "updated"
    except sm.exceptions.ResourceNotFoundException:
        params = {"Name": name, "SecretString": text}
        if kms_key_id:
            params["KmsKeyId"] = kms_key_id
        sm.create_secret(**params)
        return "created"


def signing_value(provider: str, new: str, old: dict[str, Any] | None, rotate: bool) -> dict[str, Any]:
    """The signing secret's JSON in the shape the provider declares (paycore.providers)."""
    try:
        spec = providers.get(provider).signing_secret()
    except providers.UnknownProvider:
        spec = providers.SIGNING
    return spec.value(new, old, rotate=rotate)


def gate_value(new: str, old: dict[str, Any] | None, rotate: bool) -> dict[str, Any]:
    previous = (old or {}).get("current") if rotate else None
    return {"current": new, **({"previous": previous} if previous else {})}


def set_provider_secrets(sm: Any, *, prefix: str, provider: str, signing: str | None, gate_key: str | None,
                         rotate: bool = False, kms_key_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Write what is given; returns {secret name: {"action", "value"}} (values for --show only)."""
    done: dict[str, dict[str, Any]] = {}
    if signing is not None:
        name = secret_name(prefix, provider, "signing")
        value = signing_value(provider, signing, _current(sm, name), rotate)
        done[name] = {"action": put_json(sm, name, value, kms_key_id), "value": value}
    if gate_key is not None:
        name = secret_name(prefix, provider, "gate-key")
        value = gate_value(gate_key, _current(sm, name), rotate)
        done[name] = {"action": put_json(sm, name, value, kms_key_id), "value": value}
    return done


def set_cursor_key(sm: Any, *, prefix: str, key: str, rotate: bool = False,
                   kms_key_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Write the reader's cursor key; ``--rotate`` keeps the replaced one as ``previous`` so cursors
    already handed out keep paging."""
    if len(key) < MIN_CURSOR_KEY_CHARS:
        raise ValueError(f"the cursor key must have at least {MIN_CURSOR_KEY_CHARS} characters")
    name = f"{prefix}{CURSOR_KEY_SECRET}"
    value = gate_value(key, _current(sm, name), rotate)
    return {name: {"action": put_json(sm, name, value, kms_key_id), "value": value}}


def set_internal_key(sm: Any, *, prefix: str, key: str | None = None, rotate: bool = False,
                     kms_key_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Write a new internal envelope key (random 256 bits unless ``key``); ``rotate`` keeps the
    replaced one as ``previous``. Without ``rotate`` an existing usable key is left alone
    (:class:`KeyAlreadySet`): the messages it signed would no longer verify."""
    key = key or random_secrets.token_urlsafe(32)
    if len(key) < internal_envelope.MIN_KEY_CHARS:
        raise ValueError(f"the internal envelope key must have at least {internal_envelope.MIN_KEY_CHARS} characters")
    name = f"{prefix}{INTERNAL_KEY_SECRET}"
    old = _current(sm, name)
    if not rotate and internal_envelope.usable_keys(old):
        raise KeyAlreadySet(f"{name} already holds a key: rotate it (--rotate keeps it as previous, so the "
                            "direct payments it signed still verify)")
    value = gate_value(key, old, rotate)
    return {name: {"action": put_json(sm, name, value, kms_key_id), "value": value}}



# ----- the `secrets` command -----------------------------------------------------------------------

def shaped(value: str, shape: tuple[re.Pattern[str], str], what: str) -> str:
    pattern, rule = shape
    if not pattern.fullmatch(value):
        raise UsageError(f"{what} must be {rule}; the value given ({len(value)} characters) is not")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", metavar="PROVIDER",
                        help=f"the webhook provider whose signing secret or gate key to set: {', '.join(webhook_providers())}")
    parser.add_argument("--signing-secret-file", metavar="FILE",
                        help="file holding the provider's signing secret (Stripe: whsec_...; PayPal: the webhook id); "
                             "- reads stdin")
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--gate-key-file", metavar="FILE",
                      help="file holding the gate key the webhook URL carries as ?key=; - reads stdin")
    gate.add_argument("--generate-gate-key", action="store_true", help="generate a random 256-bit gate key instead")
    parser.add_argument("--cursor-key", metavar="generate|FILE",
                        help=f"the reader's pagination key: 'generate' (random 256-bit) or a file holding one "
                             f"(>= {MIN_CURSOR_KEY_CHARS} characters); - reads stdin")
    parser.add_argument("--internal-key", choices=("generate", "rotate"),
                        help="the internal envelope key direct payments are signed with (always generated, set on "
                             "its own): 'generate' the first one (refused over a usable key), or 'rotate' it (the "
                             "old one stays 'previous', so the payments it signed still verify)")
    parser.add_argument("--rotate", action="store_true",
                        help="keep each replaced value as 'previous', accepted beside the new one during the roll")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the values and that the secrets exist; write nothing")


def planned_values(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """{kind: (value, option)} of what the command sets, read and checked; UsageError otherwise."""
    choice(args.provider, webhook_providers(), "provider")
    has_provider_value = bool(args.signing_secret_file or args.gate_key_file or args.generate_gate_key)
    if has_provider_value and not args.provider:
        raise UsageError("--signing-secret-file, --gate-key-file and --generate-gate-key need --provider")
    if args.internal_key and (args.provider or args.cursor_key):
        raise UsageError("set --internal-key on its own (its rotate would apply to the other secrets too)")
    if args.internal_key:
        return {"internal-key": (random_secrets.token_urlsafe(32), "--internal-key")}
    if not (args.provider or args.cursor_key):
        raise UsageError("nothing to set: name --provider (with its signing secret or gate key), --cursor-key "
                         "or --internal-key")
    if args.provider and not has_provider_value:
        raise UsageError(f"--provider {args.provider}: give --signing-secret-file, --gate-key-file or --generate-gate-key")
    files = [f for f in (args.signing_secret_file, args.gate_key_file, args.cursor_key) if f == "-"]
    if len(files) > 1:
        raise UsageError("only one value can come from stdin (-); put the others in files")
    values: dict[str, tuple[str, str]] = {}
    if args.signing_secret_file:
        option = "--signing-secret-file"
        value = read_text(args.signing_secret_file, option)
        shape = SIGNING_SHAPES.get(args.provider, ANY_SIGNING)
        values["signing"] = (shaped(value, shape, f"{option}: the {args.provider} signing secret"), option)
    if args.gate_key_file:
        option = "--gate-key-file"
        values["gate-key"] = (shaped(read_text(args.gate_key_file, option), GATE_KEY_SHAPE, f"{option}: the gate key"),
                              option)
    elif args.generate_gate_key:
        values["gate-key"] = (random_secrets.token_urlsafe(32), "--generate-gate-key")
    if args.cursor_key == "generate":
        values["cursor-key"] = (random_secrets.token_urlsafe(32), "--cursor-key")
    elif args.cursor_key:
        key = read_text(args.cursor_key, "--cursor-key")
        if len(key) < MIN_CURSOR_KEY_CHARS:
            raise UsageError(f"--cursor-key: the key must have at least {MIN_CURSOR_KEY_CHARS} characters, "
                             f"got {len(key)}")
        values["cursor-key"] = (key, "--cursor-key")
    return values


def target_name(targets: Targets, provider: str | None, kind: str) -> str:
    if kind == "cursor-key":
        return f"{targets.secret_prefix}{CURSOR_KEY_SECRET}"
    if kind == "internal-key":
        return f"{targets.secret_prefix}{INTERNAL_KEY_SECRET}"
    return secret_name(targets.secret_prefix, str(provider), kind)


def refuse_a_second_internal_key(sm: Any, name: str) -> None:
    """`--internal-key generate` over a usable key (read-only): the payments it signed would fail."""
    try:
        current = _current(sm, name)
    except ValueError:  # not JSON: nothing usable to lose
        return
    if internal_envelope.usable_keys(current):
        raise UsageError(f"{name} already holds a key: `--internal-key rotate` replaces it and keeps it as "
                         "previous, so the direct payments it signed still verify")


def run(targets: Targets, args: argparse.Namespace) -> dict[str, Any]:
    values = planned_values(args)
    names = {kind: target_name(targets, args.provider, kind) for kind in values}
    rotate = args.rotate or args.internal_key == "rotate"
    sm = targets.client("secretsmanager")
    for name in names.values():  # the stack creates every secret: a missing one is a missing deployment
        try:
            sm.describe_secret(SecretId=name)
        except sm.exceptions.ResourceNotFoundException:
            raise not_deployed(targets, f"secret {name}") from None
    if "internal-key" in values and not rotate:
        refuse_a_second_internal_key(sm, names["internal-key"])
    if args.dry_run:
        return {"would_write": list(names.values()), "rotate": rotate, "dry_run": True}
    written: dict[str, str] = {}
    if "internal-key" in values:
        try:
            done = set_internal_key(sm, prefix=targets.secret_prefix, key=values["internal-key"][0], rotate=rotate)
        except KeyAlreadySet as problem:  # set meanwhile
            raise UsageError(str(problem)) from None
        return {"written": {name: outcome["action"] for name, outcome in done.items()}, "rotate": rotate,
                "dry_run": False}
    provider_values = {kind: value for kind, (value, _) in values.items() if kind != "cursor-key"}
    if provider_values:
        done = set_provider_secrets(sm, prefix=targets.secret_prefix, provider=args.provider,
                                    signing=provider_values.get("signing"), gate_key=provider_values.get("gate-key"),
                                    rotate=args.rotate)
        written.update({name: outcome["action"] for name, outcome in done.items()})
    if "cursor-key" in values:
        done = set_cursor_key(sm, prefix=targets.secret_prefix, key=values["cursor-key"][0], rotate=args.rotate)
        written.update({name: outcome["action"] for name, outcome in done.items()})
    return {"written": written, "rotate": args.rotate, "dry_run": False}


COMMAND = Command(
    name="secrets", add_arguments=add_arguments, run=run,
    help="set provider signing secrets, gate keys, the query cursor key or the internal envelope key "
         "(values never printed)",
    description="Set a provider's signing secret and/or gate key, the reader's cursor key, or the internal "
                "envelope key (generate or rotate, on its own), in the secrets the stack created. Values come "
                "from files (- = stdin) or are generated, and are checked against the provider's documented "
                "shape first.",
)
