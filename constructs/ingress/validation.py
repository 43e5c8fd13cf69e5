"""The checks of `WebhookIngress`'s arguments: every problem, each naming the option and the value
given (the construct raises them as one ValueError)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from constructs.core.limits import (
    ACCESS_LOG_CLASSES,
    API_THROTTLE,
    LOG_RETENTION_DAYS,
    WAF_BODY_BYTES,
    WAF_LOG_ACTIONS,
    WAF_RATE_LIMIT,
)
from constructs.core.tokens import is_literal
from constructs.ingress.options import ApiLogOptions, CorsOptions, QueueRouteOptions, StageOptions, WafOptions
from constructs.ingress.routes import HTTP_METHODS, LITERAL_PATH, PATH, ROUTE_ID, LambdaRoute


def ingress_problems(*, queue_routes: QueueRouteOptions | None, lambda_routes: Sequence[LambdaRoute],
                     models: Mapping[str, Any], logs: ApiLogOptions, stage: StageOptions, cors: CorsOptions,
                     waf: WafOptions | None, waf_log_group_name: str) -> list[str]:
    p: list[str] = []
    sqs_routes = queue_routes.routes if queue_routes is not None else ()
    if queue_routes is not None and not sqs_routes:
        p.append("queue_routes.routes must name at least one route, got none")
    route_ids = [route.route_id for route in sqs_routes]
    for route_id in route_ids:
        if not ROUTE_ID.match(route_id):
            p.append(f"queue_routes.routes: route_id must be a lower-case slug ({ROUTE_ID.pattern}), got {route_id!r}")
    if len(set(route_ids)) != len(route_ids):
        p.append(f"queue_routes.routes must not repeat a route_id, got {route_ids}")
    templated = [r.path for r in sqs_routes if PATH.match(r.path) and not LITERAL_PATH.match(r.path)]
    if templated:
        p.append(f"queue_routes.routes: paths must be literal (the REQUEST authorizer allows the method ARN of a "
                 f"declared resource path, gated_routes), got {templated}")
    keys = [("POST", r.path) for r in sqs_routes] + [(r.method, r.path) for r in lambda_routes]
    for verb, path in keys:
        if not PATH.match(path):
            p.append(f"route path must look like /a/{{b}}/c, got {path!r}")
    repeated = sorted({f"{v} {path}" for v, path in keys if keys.count((v, path)) > 1})
    if repeated:
        p.append(f"routes must not repeat a method and path, got {repeated} more than once")
    for route in lambda_routes:
        if route.method not in HTTP_METHODS:
            p.append(f"lambda_routes: method must be one of {', '.join(HTTP_METHODS)}, got {route.method!r}")
        if route.authorization not in ("AWS_IAM", "NONE"):
            p.append(f"lambda_routes: authorization must be 'AWS_IAM' or 'NONE', got {route.authorization!r}")
        if route.request_model is not None and route.request_model not in models:
            p.append(f"lambda_routes: request_model {route.request_model!r} is not one of request_models "
                     f"{sorted(models)}")
    if is_literal(logs.retention_in_days) and logs.retention_in_days not in LOG_RETENTION_DAYS:
        p.append(f"logs.retention_in_days must be a CloudWatch Logs retention such as 30, got {logs.retention_in_days}")
    if logs.access_log_class not in ACCESS_LOG_CLASSES:
        p.append(f"logs.access_log_class must be one of {', '.join(ACCESS_LOG_CLASSES)}, got {logs.access_log_class!r}")
    if logs.manage_account_logging and not logs.account_id:
        p.append("logs.manage_account_logging needs logs.account_id (the CloudWatch role's trust is limited to this "
                 "account), got none")
    for label, value in (("stage.throttle_rate_limit_rps", stage.throttle_rate_limit_rps),
                         ("stage.throttle_burst_limit", stage.throttle_burst_limit)):
        if is_literal(value) and value not in API_THROTTLE:
            p.append(f"{label} must be {API_THROTTLE}, got {value}")
    if cors.allow_origin != "*" and not str(cors.allow_origin).startswith("https://"):
        p.append(f"cors.allow_origin must be '*' or an https:// origin, got {cors.allow_origin!r}")
    if waf is not None:
        if is_literal(waf.rate_limit_per_5min) and waf.rate_limit_per_5min not in WAF_RATE_LIMIT:
            p.append(f"waf.rate_limit_per_5min must be {WAF_RATE_LIMIT}, got {waf.rate_limit_per_5min}")
        if not str(waf_log_group_name).startswith("aws-waf-logs-"):
            p.append(f"waf.log_group_name must start with 'aws-waf-logs-' (WAF requires it), got {waf_log_group_name!r}")
        unknown_actions = [a for a in waf.log_actions if a not in WAF_LOG_ACTIONS]
        if unknown_actions:
            p.append(f"waf.log_actions must be among {', '.join(WAF_LOG_ACTIONS)}, got {list(waf.log_actions)}")
        if is_literal(waf.max_body_bytes) and waf.max_body_bytes not in WAF_BODY_BYTES:
            p.append(f"waf.max_body_bytes must be {WAF_BODY_BYTES} (WAF inspects at most {WAF_BODY_BYTES.high // 1024} "
                     f"KB of an API Gateway body), got {waf.max_body_bytes}")
    return p
