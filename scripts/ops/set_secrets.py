"""Set the provider signing secrets, gate keys and the query cursor key in Secrets Manager
(lambda_src/README.md, "Secrets").

Names: ``{prefix}{provider}/signing``, ``{prefix}{provider}/gate-key`` and ``{prefix}query/cursor-key``,
prefix the environment's (``payment-webhooks/{env}/``, constructs/app/names.py). Values are JSON:

* signing, stripe (and any HMAC provider): ``{"current": "whsec_...", "previous": "..."}``;
* signing, paypal: ``{"webhook_id": "...", "previous_webhook_id": "..."}``;
* gate-key: ``{"current": "...", "previous": "..."}``;
* query/cursor-key (the reader's pagination HMAC key, >= 32 characters): ``{"current": "...",
  "previous": "..."}``; ``--generate-cursor-key`` makes a random 256-bit one.

``--rotate`` keeps the value being replaced as ``previous`` (both are accepted during a roll);
without it ``previous`` is cleared. Values come from a file (``-`` = stdin, keeps them out of the
shell history) or are generated (``--generate-gate-key``, and ``--generate-signing-secret`` for
local/test use only). Values are never printed unless ``--show``.

    python -m scripts.ops.set_secrets --env dev --provider stripe --signing-secret-file - --generate-gate-key
    python -m scripts.ops.set_secrets --env dev --generate-cursor-key --rotate
"""
from __future__ import annotations

import argparse
import json
import secrets as random_secrets
import sys
from typing import Any

import boto3

from paycore import providers


CURSOR_KEY_SECRET = "query/cursor-key"  # paycore.cursor.CURSOR_KEY_SECRET
MIN_CURSOR_KEY_CHARS = 32  # paycore.cursor.MIN_KEY_CHARS


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
        raise SystemExit(f"the cursor key must have at least {MIN_CURSOR_KEY_CHARS} characters")
    name = f"{prefix}{CURSOR_KEY_SECRET}"
    value = gate_value(key, _current(sm, name), rotate)
    return {name: {"action": put_json(sm, name, value, kms_key_id), "value": value}}


def _read(path: str | None) -> str | None:
    if path is None:
        return None
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    value = text.strip()
    if not value:
        raise SystemExit(f"empty secret value from {path}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ops.set_secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--provider", help="stripe, paypal, direct, ... (for a signing secret or gate key)")
    parser.add_argument("--secret-prefix", help="default: the environment's (constructs/app/names.py)")
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument("--signing-secret-file", help="file with the signing secret (paypal: webhook id); - = stdin")
    signing.add_argument("--signing-secret", help="the value itself (lands in shell history: prefer the file)")
    signing.add_argument("--generate-signing-secret", action="store_true", help="random whsec_ value (local/test)")
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--gate-key-file", help="file with the gate key; - = stdin")
    gate.add_argument("--gate-key", help="the value itself (lands in shell history: prefer the file)")
    gate.add_argument("--generate-gate-key", action="store_true", help="random 256-bit URL-safe key")
    cursor = parser.add_mutually_exclusive_group()
    cursor.add_argument("--cursor-key-file", help="file with the query cursor key (>= 32 characters); - = stdin")
    cursor.add_argument("--generate-cursor-key", action="store_true", help="random 256-bit query cursor key")
    parser.add_argument("--rotate", action="store_true", help="keep the replaced value as previous")
    parser.add_argument("--kms-key-id", help="KMS key for secrets this creates")
    parser.add_argument("--show", action="store_true", help="print the values written")
    parser.add_argument("--endpoint-url", help="local emulator URL")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)

    signing_secret = args.signing_secret or _read(args.signing_secret_file)
    if args.generate_signing_secret:
        signing_secret = "whsec_" + random_secrets.token_urlsafe(32)
    gate_key = args.gate_key or _read(args.gate_key_file)
    if args.generate_gate_key:
        gate_key = random_secrets.token_urlsafe(32)
    cursor_key = _read(args.cursor_key_file)
    if args.generate_cursor_key:
        cursor_key = random_secrets.token_urlsafe(32)
    if signing_secret is None and gate_key is None and cursor_key is None:
        parser.error("nothing to set: give a signing secret, a gate key and/or a cursor key")
    if (signing_secret is not None or gate_key is not None) and not args.provider:
        parser.error("--provider is required for a signing secret or a gate key")
    if cursor_key is not None and len(cursor_key) < MIN_CURSOR_KEY_CHARS:
        parser.error(f"the cursor key must have at least {MIN_CURSOR_KEY_CHARS} characters")

    sm = boto3.client("secretsmanager", endpoint_url=args.endpoint_url, region_name=args.region)
    from constructs.app.names import Names

    prefix = args.secret_prefix or Names(args.env).secret_prefix
    done = {}
    if args.provider:
        done.update(set_provider_secrets(sm, prefix=prefix, provider=args.provider, signing=signing_secret,
                                         gate_key=gate_key, rotate=args.rotate, kms_key_id=args.kms_key_id))
    if cursor_key is not None:
        done.update(set_cursor_key(sm, prefix=prefix, key=cursor_key, rotate=args.rotate, kms_key_id=args.kms_key_id))
    for name, outcome in done.items():
        shown = json.dumps(outcome["value"]) if args.show else "(value hidden; --show to print)"
        print(f"{outcome['action']:8s} {name} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
