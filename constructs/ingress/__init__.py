"""Ingress: a REST API whose routes are data, reusable in any stack (`WebhookIngress`, api.py).
Its routes in routes.py, options in options.py, checks in validation.py, stage in stage.py and web
ACL in waf.py."""

from constructs.ingress.api import WEBHOOK_ACCEPTED, WebhookIngress
from constructs.ingress.options import (
    DEFAULT_CORS_ALLOW_HEADERS,
    DEFAULT_STAGE_NAME,
    ApiLogOptions,
    CorsOptions,
    CustomDomainOptions,
    QueueRouteOptions,
    StageOptions,
    WafOptions,
)
from constructs.ingress.routes import LambdaRoute, LambdaTarget, SqsRoute, gated_routes, slug, terraform_literal
from constructs.ingress.stage import ACCESS_LOG_FORMAT
from constructs.ingress.waf import (
    DEFAULT_WAF_LOG_ACTIONS,
    WAF_BODY_INSPECTION_STEPS_KB,
    waf_inspection_limit_kb,
    waf_rules,
)

__all__ = [
    "ACCESS_LOG_FORMAT", "DEFAULT_CORS_ALLOW_HEADERS", "DEFAULT_STAGE_NAME", "DEFAULT_WAF_LOG_ACTIONS",
    "WAF_BODY_INSPECTION_STEPS_KB", "WEBHOOK_ACCEPTED", "ApiLogOptions", "CorsOptions", "CustomDomainOptions",
    "LambdaRoute", "LambdaTarget", "QueueRouteOptions", "SqsRoute", "StageOptions", "WafOptions", "WebhookIngress",
    "gated_routes", "slug", "terraform_literal", "waf_inspection_limit_kb", "waf_rules",
]
