"""Webhook gate: API Gateway REST ``REQUEST`` authorizer (handler ``authorizer_handler.handler``).

* The route: ``WEBHOOK_ROUTES``, JSON ``{"/webhooks/stripe": "stripe", ...}`` (resource path ->
  provider), written by the stack from the same route declarations that build the API's
  resources and request templates. The webhook resources are literal (no ``{...}``), so API
  Gateway sends no path parameter (``pathParameters`` is ``{}`` or ``null``); the route is the
  event's ``resource``, which must equal ``requestContext.resourcePath`` and the method ARN's
  ``POST`` resource path. Any other route is denied.
* The key comes in header ``X-Webhook-Key`` (any case) or query ``key`` (Stripe and PayPal
  cannot send custom headers); it is compared in constant time with the current and the previous
  ``{SECRET_PREFIX}{provider}/gate-key`` (Secrets Manager, cached in memory for 5 minutes).
* Allow: a policy for exactly that provider's route ``arn:...:{api}/{stage}/POST/webhooks/{provider}``
  (so a cached or replayed policy can never open another provider's route).
* No key at all: ``raise Exception("Unauthorized")`` -> API Gateway answers **401**.
  Wrong key, another provider's key, an undeclared route, or the secret unreadable: a **Deny**
  policy -> **403** (fail closed; the provider retries).

The construct must set the authorizer's result TTL to 0 and no identity source: the key may be in
either of two places, and API Gateway answers 401 before calling the authorizer when a listed
identity source is missing.
"""
from __future__ import annotations

import hmac
import json
import os
import re
from typing import Any, Callable, Mapping, Sequence

from aws_lambda_powertools.logging import correlation_paths

from paycore import obs
from paycore.secrets import SecretStore

logger, tracer = obs.logger, obs.tracer

KEY_HEADER = "x-webhook-key"
KEY_QUERY = "key"
GATED_METHOD = "POST"
_PROVIDER = re.compile(r"^[a-z0-9-]{1,32}$")
_LITERAL_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_METHOD_ARN = re.compile(r"^(arn:[^:]+:execute-api:[^:]+:[^:]+:[^/]+/[^/]+)/")


def load_routes(text: str) -> dict[str, str]:
    """``WEBHOOK_ROUTES`` as a dict; a malformed value fails the cold start (API Gateway answers
    500 and the provider retries) instead of denying every webhook quietly."""
    try:
        routes = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"WEBHOOK_ROUTES must be a JSON object, got {text[:80]!r}") from exc
    if not isinstance(routes, dict):
        raise ValueError(f"WEBHOOK_ROUTES must be a JSON object, got {type(routes).__name__}")
    bad = sorted(f"{path!r}: {provider!r}" for path, provider in routes.items()
                 if not (isinstance(provider, str) and _PROVIDER.match(provider) and _LITERAL_PATH.match(path)))
    if bad:
        raise ValueError(f"WEBHOOK_ROUTES maps literal resource paths to provider ids, got {', '.join(bad)}")
    return routes


WEBHOOK_ROUTES = load_routes(os.environ.get("WEBHOOK_ROUTES", "{}"))

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


def gated_route(event: Mapping[str, Any], routes: Mapping[str, str]) -> tuple[str, str] | None:
    """(provider, route ARN) of the declared route API Gateway called the authorizer for, or
    None. The resource path, the request context's resource path and the method ARN must all name
    the same ``POST`` route; the ARN returned is that route's, built from the declaration."""
    resource = event.get("resource")
    context = event.get("requestContext") or {}
    method_arn = event.get("methodArn") or ""
    provider = routes.get(resource) if isinstance(resource, str) else None
    if provider is None or context.get("resourcePath") != resource or event.get("httpMethod") != GATED_METHOD:
        return None
    match = _METHOD_ARN.match(method_arn)
    route_arn = f"{match.group(1)}/{GATED_METHOD}{resource}" if match else None
    return (provider, route_arn) if route_arn == method_arn else None


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
    routes: Mapping[str, str],
) -> dict[str, Any]:
    """The authorizer decision as plain data (raises :class:`Unauthorized` for a missing key)."""
    method_arn = event.get("methodArn") or ""
    key = presented_key(event)
    if key is None:
        logger.info("webhook gate: no key", extra={"decision": "unauthorized"})
        raise Unauthorized()
    route = gated_route(event, routes)
    if route is None:
        logger.warning("webhook gate: not a declared webhook route", extra={"decision": "deny"})
        return policy("Deny", method_arn or "*", "")
    provider, route_arn = route
    try:
        valid = gate_keys(provider)
    except Exception as exc:  # noqa: BLE001 - fail closed, keep the reason (type only)
        logger.error("webhook gate: gate key unavailable", extra={"decision": "deny", "provider": provider, "error": type(exc).__name__})
        return policy("Deny", route_arn, provider)
    if not valid or not key_matches(key, valid):
        logger.warning("webhook gate: wrong key", extra={"decision": "deny", "provider": provider})
        return policy("Deny", route_arn, provider)
    # No INFO line per allowed webhook (the API access log has every request): DEBUG only.
    logger.debug("webhook gate: allowed", extra={"decision": "allow", "provider": provider})
    return policy("Allow", route_arn, provider)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: Any) -> dict:
    return authorize(event, gate_keys=secrets.gate_keys, routes=WEBHOOK_ROUTES)
