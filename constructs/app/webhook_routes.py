"""The webhook routes, one per enabled provider, all from the provider's declarations
(`paycore.providers`): the route id (its name), the resource path (`/webhooks/{provider}` unless
it declares another), the request template and the 200 answer; the REQUEST authorizer reads the
same routes (resource path -> provider) from its environment."""

from __future__ import annotations

import json
from typing import Sequence

from constructs.app.request_templates import render_request_template
from constructs.ingress import SqsRoute, gated_routes
from paycore import providers as registry

#: The gate key may come as a header or in the query string (Stripe and PayPal send no custom headers).
KEY_PARAMETERS = {"method.request.header.X-Webhook-Key": False, "method.request.querystring.key": False}
#: The authorizer's environment variable with `gated_routes` of the webhook routes (JSON).
ROUTES_VARIABLE = "WEBHOOK_ROUTES"


def webhook_routes(providers: Sequence[str]) -> tuple[SqsRoute, ...]:
    """One queue route per provider: route id the provider's name, its declared path, request
    template and answer, the gate key's optional parameters."""
    routes = []
    for name in providers:
        provider = registry.get(name)
        if provider.path is None:
            raise ValueError(f"provider {name!r} has no webhook route (webhook = False)")
        routes.append(SqsRoute(route_id=name, path=provider.path, request_template=render_request_template(name),
                               request_parameters=KEY_PARAMETERS, accepted_body=provider.response.body,
                               accepted_content_type=provider.response.content_type))
    return tuple(routes)


def authorizer_routes(routes: Sequence[SqsRoute]) -> str:
    """The `WEBHOOK_ROUTES` value: `gated_routes` as compact JSON with sorted keys (deterministic)."""
    return json.dumps(gated_routes(routes), sort_keys=True, separators=(",", ":"))
