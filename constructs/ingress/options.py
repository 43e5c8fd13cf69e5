"""The options of `WebhookIngress`, grouped by concern: the queue routes and their gate, the API's
logs, the stage, CORS, WAF and a custom domain. Every field without a default is required."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from constructs.ingress.routes import LambdaTarget, SqsRoute
from constructs.ingress.waf import DEFAULT_WAF_LOG_ACTIONS

DEFAULT_STAGE_NAME = "v1"
DEFAULT_CORS_ALLOW_HEADERS = (
    "Content-Type,Authorization,X-Amz-Date,X-Amz-Security-Token,X-Amz-Content-Sha256,Idempotency-Key"
)


@dataclass(frozen=True)
class QueueRouteOptions:
    """Queue routes (`SqsRoute`, at least one) that send to one queue: the API role gets
    SendMessage on `queue_arn` and GenerateDataKey/Decrypt on `queue_kms_key_arn`.

    authorizer: the REQUEST authorizer function that gates them; identity source
    `context.resourcePath`, result TTL 0 (a key may come in a header or the query string, so
    neither can be an identity source, and no cache may hand one caller's Allow to the next). It
    tells the routes apart by `gated_routes(routes)` (resource path -> route id), which the caller
    gives the function (e.g. in its environment): API Gateway sends a literal route's resource
    path, never a path parameter. authorizer_name: default "{api name}-authorizer".
    """

    routes: Sequence[SqsRoute]
    queue_arn: str
    queue_kms_key_arn: str
    authorizer: LambdaTarget
    authorizer_name: str | None = None


@dataclass(frozen=True)
class ApiLogOptions:
    """The API's log groups (access, execution and WAF logs): their KMS key (required), retention
    (a CloudWatch Logs retention, default 30 days) and the access log group's class, "STANDARD"
    (default) or "INFREQUENT_ACCESS" (half the ingestion price; no metric filters, subscriptions or
    Live Tail on it, Logs Insights works; the class of a log group cannot change: switching
    replaces the group, and its logs go with it).

    manage_account_logging: set the account-level CloudWatch role API Gateway logs through. It is
    one setting per account and region (two stacks that both set it overwrite each other, and a
    destroy only forgets it), so it is opt-in: default False; turn it on only in the one stack that
    owns the account's API Gateway logging. Without it the account must already have a CloudWatch
    role set (API Gateway refuses execution/access logging otherwise). account_id: the owning
    account, required with manage_account_logging (the role's trust policy admits API Gateway only
    on behalf of this account, aws:SourceAccount).
    """

    kms_key_arn: str
    retention_in_days: int = 30
    access_log_class: str = "STANDARD"
    manage_account_logging: bool = False
    account_id: str | None = None


@dataclass(frozen=True)
class StageOptions:
    """The stage: name (default "v1"), variables (default none), throttling: rate 1..100000 rps
    (default 10000) and burst 1..100000 (default 5000)."""

    name: str = DEFAULT_STAGE_NAME
    variables: Mapping[str, str] = field(default_factory=dict)
    throttle_rate_limit_rps: int = 10_000
    throttle_burst_limit: int = 5_000


@dataclass(frozen=True)
class CorsOptions:
    """allow_origin: "*" or an https:// origin (default "*"); allow_headers: the
    Access-Control-Allow-Headers value (default DEFAULT_CORS_ALLOW_HEADERS)."""

    allow_origin: str = "*"
    allow_headers: str = DEFAULT_CORS_ALLOW_HEADERS


@dataclass(frozen=True)
class WafOptions:
    """A WAFv2 web ACL on the stage (constructs/ingress/waf.py). log_group_name: must start with
    "aws-waf-logs-" (default "aws-waf-logs-{api name}"). rate_limit_per_5min: requests per 5 min
    per IP, 100..2e9 (default 100000). max_body_bytes: 1024..65536 (default 65536, the most WAF can
    inspect). log_actions: the requests WAF logs, by the action it applied (WAF_LOG_ACTIONS;
    default BLOCK; empty logs every request). description: the web ACL's."""

    log_group_name: str | None = None
    rate_limit_per_5min: int = 100_000
    max_body_bytes: int = 65_536
    log_actions: Sequence[str] = DEFAULT_WAF_LOG_ACTIONS
    description: str = "managed rules, rate limit, body size"


@dataclass(frozen=True)
class CustomDomainOptions:
    """A regional custom domain (TLS 1.2) with its ACM certificate, mapped at `base_path`
    (default "": the domain's root)."""

    domain_name: str
    certificate_arn: str
    base_path: str = ""


#: Defaults of the construct's option arguments (WAF is on unless `waf=None`).
DEFAULT_STAGE = StageOptions()
DEFAULT_CORS = CorsOptions()
DEFAULT_WAF = WafOptions()
