"""The webhook routes, one per provider and each declared once: the route id, the resource path
`/webhooks/{provider}` and the request template all come from the provider's name, and the
REQUEST authorizer reads the same declarations (resource path -> provider) from its environment."""

from __future__ import annotations

import json
from typing import Sequence

from constructs.app.request_templates import render_request_template
from constructs.ingress import SqsRoute, gated_routes

#: The gate key may come as a header or in the query string (Stripe and PayPal send no custom headers).
KEY_PARAMETERS = {"method.request.header.X-Webhook-Key": False, "method.request.querystring.key": False}
#: The authorizer's environment variable with `gated_routes` of the webhook routes (JSON).
ROUTES_VARIABLE = "WEBHOOK_ROUTES"


def webhook_routes(providers: Sequence[str]) -> tuple[SqsRoute, ...]:
    """One queue route per provider: route id the provider, path `/webhooks/{provider}`, the
    provider's request template, the gate key's optional parameters."""
    return tuple(SqsRoute(route_id=provider, path=f"/webhooks/{provider}",
                          request_template=render_request_template(provider), request_parameters=KEY_PARAMETERS)
                 for provider in providers)


def authorizer_routes(routes: Sequence[SqsRoute]) -> str:
    """The `WEBHOOK_ROUTES` value: `gated_routes` as compact JSON with sorted keys (deterministic)."""
    return json.dumps(gated_routes(routes), sort_keys=True, separators=(",", ":"))
