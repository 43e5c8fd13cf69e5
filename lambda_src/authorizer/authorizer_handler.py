"""Webhook gate: API Gateway REST ``REQUEST`` authorizer (handler ``authorizer_handler.handler``).

* The provider is the ``{provider}`` path parameter; it must be in ``ENABLED_PROVIDERS``.
* The key comes in header ``X-Webhook-Key`` (any case) or query ``key`` (Stripe and PayPal
  cannot send custom headers); it is compared in constant time with the current and the previous
  ``{SECRET_PREFIX}{provider}/gate-key`` (Secrets Manager, cached in memory for 5 minutes).
* Allow: a policy for exactly that provider's route ``arn:...:{api}/{stage}/POST/webhooks/{provider}``
  (so a cached policy can never open another provider's route).
* No key at all: ``raise Exception("Unauthorized")`` -> API Gateway answers **401**.
  Wrong key, unknown/disabled provider, or the secret unreadable: a **Deny** policy -> **403**
  (fail closed; the provider retries).

The construct must set the authorizer's result TTL to 0 and no identity source: the key may be in
either of two places, and API Gateway answers 401 before calling the authorizer when a listed
identity source is missing.
"""
from __future__ import annotations

import hmac
import os
import re
from typing import Any, Callable, Mapping, Sequence

from aws_lambda_powertools.logging import correlation_paths

from paycore import obs
from paycore.secrets import SecretStore

logger, tracer = obs.logger, obs.tracer

ENABLED_PROVIDERS = frozenset(p.strip() for p in os.environ.get("ENABLED_PROVIDERS", "stripe,paypal").split(",") if p.strip())
KEY_HEADER = "x-webhook-key"
KEY_QUERY = "key"
_PROVIDER = re.compile(r"^[a-z0-9-]{1,32}$")
_METHOD_ARN = re.compile(r"^(arn:[^:]+:execute-api:[^:]+:[^:]+:[^/]+/[^/]+)/")

secrets = SecretStore(obs.client("secretsmanager"), prefix=os.environ.get("SECRET_PREFIX", ""))


class Unauthorized(Exception):
    """Raised as ``Exception("Unauthorized")``: the message API Gateway turns into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def presented_key(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == KEY_HEADER and value:
            return value
    value = (event.get("queryStringParameters") or {}).get(KEY_QUERY)
    return value or None


def key_matches(presented: str, valid_keys: Sequence[str]) -> bool:
    """Constant-time comparison with every valid key (all are compared, no early exit)."""
    given = presented.encode("utf-8", "replace")
    results = [hmac.compare_digest(given, key.encode("utf-8")) for key in valid_keys]
    return any(results)


def route_arn(method_arn: str, provider: str) -> str | None:
    match = _METHOD_ARN.match(method_arn or "")
    return f"{match.group(1)}/POST/webhooks/{provider}" if match else None


def policy(effect: str, resource: str, provider: str) -> dict[str, Any]:
    return {
        "principalId": f"webhook-{provider}" if _PROVIDER.match(provider or "") else "webhook",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"provider": provider if effect == "Allow" else ""},
    }


def authorize(
    event: Mapping[str, Any],
    *,
    gate_keys: Callable[[str], Sequence[str]],
    enabled: frozenset[str],
) -> dict[str, Any]:
    """The authorizer decision as plain data (raises :class:`Unauthorized` for a missing key)."""
    method_arn = event.get("methodArn") or ""
    provider = (event.get("pathParameters") or {}).get("provider") or ""
    key = presented_key(event)
    if key is None:
        logger.info("webhook gate: no key", extra={"decision": "unauthorized"})
        raise Unauthorized()
    allowed = route_arn(method_arn, provider)
    if not _PROVIDER.match(provider) or provider not in enabled or allowed is None:
        logger.warning("webhook gate: provider not enabled", extra={"decision": "deny"})
        return policy("Deny", method_arn or "*", provider)
    try:
        valid = gate_keys(provider)
    except Exception as exc:  # noqa: BLE001 - fail closed, keep the reason (type only)
        logger.error("webhook gate: gate key unavailable", extra={"decision": "deny", "provider": provider, "error": type(exc).__name__})
        return policy("Deny", method_arn, provider)
    if not valid or not key_matches(key, valid):
        logger.warning("webhook gate: wrong key", extra={"decision": "deny", "provider": provider})
        return policy("Deny", method_arn, provider)
    # No INFO line per allowed webhook (the API access log has every request): DEBUG only.
    logger.debug("webhook gate: allowed", extra={"decision": "allow", "provider": provider})
    return policy("Allow", allowed, provider)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: Any) -> dict:
    return authorize(event, gate_keys=secrets.gate_keys, enabled=ENABLED_PROVIDERS)
