"""Ingress: a REST API whose routes are data, reusable in any stack (`WebhookIngress`).

Routes
  `SqsRoute`     POST {path} -> SendMessage to one queue through an AWS service integration (no
                 Lambda in the hot path), with the caller's VTL request template, gated by a Lambda
                 REQUEST authorizer. SQS answers -> caller retries: 200 with the route's accepted
                 body (default {"received": true}; another content type is set explicitly); a 4xx
                 from SQS (a misconfiguration) -> 500 and a 5xx -> 503, so webhook senders retry.
  `LambdaRoute`  {method} {path} -> a function (AWS_PROXY), AWS_IAM or NONE, optional body model
                 (JSON schema) and required parameters, CORS preflight.
The payment platform's routes (webhooks per provider, /payments, /transactions, /status, notify)
are built from its settings by the app (constructs/app/stack.py), not here.

Decisions
  * Authorizer identity source: `context.resourcePath` (always present), result TTL 0. The gate key
    may come in a header OR the query string (Stripe and PayPal cannot send custom headers), and a
    REQUEST authorizer answers 401 without calling the Lambda when any identity source is missing,
    so neither can be an identity source; a cache keyed without the key would hand one caller's
    Allow to the next. No cache, then: the authorizer keeps the secrets in memory instead.
  * SQS errors carry no more than a status code to select on, so an oversized body is answered
    413 by WAF (below), not by the integration.
  * WAF rules: per-IP rate limit, AWS IP reputation, anonymous IPs (its HostingProviderIPList
    counted: providers send from cloud ranges), the common rule set and known bad inputs (Log4j).
  * WAF body size: AWSManagedRulesCommonRuleSet's SizeRestrictions_BODY (blocks > 8 KB) is set to
    COUNT, and our rule blocks bodies > `max_body_bytes` with 413. WAF sees at most the
    first 16/32/48/64 KB of an API Gateway body (web ACL association_config), so the inspection
    limit is raised to the smallest step >= the maximum and the rule uses oversize_handling MATCH:
    a body beyond what WAF can see is beyond the maximum too, so it is blocked, exactly.
  * The deployment's `triggers` are a SHA-256 of the API definition computed at synth from literal
    values (plus the integration URIs, so a replaced function redeploys): the same code plans no
    change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from cdktf import Fn
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_authorizer import ApiGatewayAuthorizer
from cdktf_cdktf_provider_aws.api_gateway_base_path_mapping import ApiGatewayBasePathMapping
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_domain_name import (
    ApiGatewayDomainName,
    ApiGatewayDomainNameEndpointConfiguration,
)
from cdktf_cdktf_provider_aws.api_gateway_gateway_response import ApiGatewayGatewayResponse
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_integration_response import ApiGatewayIntegrationResponse
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_response import ApiGatewayMethodResponse
from cdktf_cdktf_provider_aws.api_gateway_method_settings import (
    ApiGatewayMethodSettings,
    ApiGatewayMethodSettingsSettings,
)
from cdktf_cdktf_provider_aws.api_gateway_model import ApiGatewayModel
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi, ApiGatewayRestApiEndpointConfiguration
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage, ApiGatewayStageAccessLogSettings
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl
from constructs import Construct

from constructs.core.limits import (
    ACCESS_LOG_CLASSES,
    API_THROTTLE,
    LOG_RETENTION_DAYS,
    WAF_BODY_BYTES,
    WAF_LOG_ACTIONS,
    WAF_RATE_LIMIT,
)
from constructs.core.tokens import is_literal
from constructs.ingress.routes import (
    ACCEPTED_BODY,
    HTTP_METHODS,
    JSON,
    LITERAL_PATH,
    PATH,
    ROUTE_ID,
    LambdaRoute,
    LambdaTarget,
    SqsRoute,
    gated_routes,
    slug,
    terraform_literal,
)
from constructs.ingress.waf import (
    DEFAULT_WAF_LOG_ACTIONS,
    WAF_BODY_INSPECTION_STEPS_KB,
    attach_web_acl,
    waf_inspection_limit_kb,
    waf_rules,
)

__all__ = [
    "LambdaRoute", "LambdaTarget", "SqsRoute", "WebhookIngress", "gated_routes", "terraform_literal",
    "waf_inspection_limit_kb",
    "waf_rules", "WAF_BODY_INSPECTION_STEPS_KB",
]

DEFAULT_STAGE_NAME = "v1"
DEFAULT_CORS_ALLOW_HEADERS = (
    "Content-Type,Authorization,X-Amz-Date,X-Amz-Security-Token,X-Amz-Content-Sha256,Idempotency-Key"
)
#: Stage access log line (JSON, compact: the format's spaces would be in every line). No path with
#: query string: a gate key may be in it. No protocol: a REST API answers HTTP/1.1 only.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integrationLatency",
    "responseLatency": "$context.responseLatency",
    "authorizerError": "$context.authorizer.error",
    "wafStatus": "$context.waf.status",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}, sort_keys=True, separators=(",", ":"))
class WebhookIngress(Construct):
    """A REGIONAL REST API whose routes are data: queue routes (`SqsRoute`, API Gateway sends the
    request to an SQS queue, gated by a Lambda REQUEST authorizer) and function routes
    (`LambdaRoute`, AWS_PROXY); with its stage, access and execution logs, throttling, request
    validation, CORS, WAF and an optional custom domain.

    Secure defaults: X-Ray on the stage, access logs (no query string: keys may travel in it) and
    execution logs encrypted and retained, no stage cache, WAF on (managed common, known-bad-inputs,
    IP reputation and anonymous-IP groups, a per-IP rate rule, a body-size rule), TLS 1.2 on the
    custom domain, request parameters validated on every method.

    Keyword arguments:
      name: the API's name and prefix of its other names, e.g. "payments-api-dev" (required).
      region: the stack's region (service integration URI) (required).
      logs_kms_key_arn: key of the access, execution and WAF log groups (required).
      sqs_routes: queue routes (default none); they need `queue_arn`, `queue_kms_key_arn` (the API
        role gets SendMessage on the queue and GenerateDataKey/Decrypt on its key) and
        `request_authorizer`.
      request_authorizer: the REQUEST authorizer function of the queue routes; identity source
        `context.resourcePath`, result TTL 0 (a key may come in a header or the query string, so
        neither can be an identity source, and no cache may hand one caller's Allow to the next).
        It tells the routes apart by `gated_routes(sqs_routes)` (resource path -> route id), which
        the caller gives the function (e.g. in its environment): API Gateway sends a literal
        route's resource path, never a path parameter.
        request_authorizer_name: default "{name}-authorizer".
      lambda_routes: function routes (default none); each function gets one invoke permission.
      request_models: title -> JSON schema (draft 4) of the bodies `LambdaRoute.request_model`
        names (default none).
      description: the API's description (default "REST API"); deployment_description: default
        the same; waf_description: the web ACL's (default "managed rules, rate limit, body size").
      stage_name: default "v1". stage_variables: default none.
      log_retention_in_days: a CloudWatch Logs retention; default 30.
      throttle_rate_limit_rps 1..100000 (default 10000), throttle_burst_limit 1..100000 (default 5000).
      cors_allow_origin: "*" or an https:// origin (default "*"); cors_allow_headers: the
        Access-Control-Allow-Headers value (default DEFAULT_CORS_ALLOW_HEADERS).
      waf: attach a WAFv2 web ACL (default True); waf_rate_limit_per_5min: requests per 5 min per IP
        (100..2e9, default 100000); max_body_bytes: 1024..65536 (default 65536, the most WAF can
        inspect); waf_log_group_name: must start with "aws-waf-logs-" (required with waf);
        waf_log_actions: the requests WAF logs, by the action it applied (WAF_LOG_ACTIONS; default
        BLOCK and COUNT; empty logs every request).
      access_log_class: the access log group's class, "STANDARD" (default) or "INFREQUENT_ACCESS"
        (half the ingestion price; no metric filters, subscriptions or Live Tail on it, Logs
        Insights works). The class of a log group cannot change: switching replaces the group,
        and its logs go with it.
      custom_domain_name / certificate_arn / base_path: optional regional custom domain (TLS 1.2).
      api_logging_account: set the account-level CloudWatch role API Gateway logs through. It is one
        setting per account and region (two stacks that both set it overwrite each other, and a
        destroy only forgets it), so it is opt-in: default False; turn it on only in the one stack
        that owns the account's API Gateway logging. Without it the account must already have a
        CloudWatch role set (API Gateway refuses execution/access logging otherwise).
      account_id: the owning account; required with api_logging_account (the role's trust policy
        admits API Gateway only on behalf of this account, aws:SourceAccount).

    Attributes: rest_api, stage, deployment, authorizer (None without queue routes), route_resources
      (path -> resource), methods ("VERB /path" -> method), api_role (the queue integration's role
      or None), access_log_group, web_acl / waf_log_group (None without WAF), domain_name (None
      without one), invoke_url, route_urls (path of each queue route -> URL), definition_sha256.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        region: str,
        logs_kms_key_arn: str,
        sqs_routes: Sequence[SqsRoute] = (),
        queue_arn: str | None = None,
        queue_kms_key_arn: str | None = None,
        request_authorizer: LambdaTarget | None = None,
        request_authorizer_name: str | None = None,
        lambda_routes: Sequence[LambdaRoute] = (),
        request_models: Mapping[str, Mapping[str, Any]] | None = None,
        description: str = "REST API",
        deployment_description: str | None = None,
        waf_description: str = "managed rules, rate limit, body size",
        stage_name: str = DEFAULT_STAGE_NAME,
        stage_variables: Mapping[str, str] | None = None,
        log_retention_in_days: int = 30,
        throttle_rate_limit_rps: int = 10_000,
        throttle_burst_limit: int = 5_000,
        cors_allow_origin: str = "*",
        cors_allow_headers: str = DEFAULT_CORS_ALLOW_HEADERS,
        waf: bool = True,
        waf_rate_limit_per_5min: int = 100_000,
        max_body_bytes: int = 65_536,
        waf_log_group_name: str = "",
        waf_log_actions: Sequence[str] = DEFAULT_WAF_LOG_ACTIONS,
        access_log_class: str = "STANDARD",
        custom_domain_name: str | None = None,
        certificate_arn: str | None = None,
        base_path: str = "",
        api_logging_account: bool = False,
        account_id: str | None = None,
    ):
        super().__init__(scope, id_)
        if api_logging_account and not account_id:
            raise ValueError("WebhookIngress: api_logging_account needs account_id (the CloudWatch role's "
                             "trust is limited to this account), got none")
        self._account_id = account_id
        models = dict(request_models or {})
        self._validate(
            sqs_routes=sqs_routes, queue_arn=queue_arn, queue_kms_key_arn=queue_kms_key_arn,
            request_authorizer=request_authorizer, lambda_routes=lambda_routes, models=models,
            log_retention_in_days=log_retention_in_days, throttle_rate_limit_rps=throttle_rate_limit_rps,
            throttle_burst_limit=throttle_burst_limit, cors_allow_origin=cors_allow_origin, waf=waf,
            waf_rate_limit_per_5min=waf_rate_limit_per_5min, max_body_bytes=max_body_bytes,
            waf_log_group_name=waf_log_group_name, custom_domain_name=custom_domain_name,
            certificate_arn=certificate_arn, waf_log_actions=waf_log_actions, access_log_class=access_log_class,
        )
        self._cors_origin = cors_allow_origin
        self._cors_headers = cors_allow_headers
        self._stage_name = stage_name
        self._definition: list[Any] = []   # literal description of every route, for the deployment sha
        self._integrations: list[ApiGatewayIntegration] = []
        self._integration_uris: list[str] = []  # what each integration calls (a replaced function redeploys)
        self._depends: list[Any] = []
        self.methods: dict[str, ApiGatewayMethod] = {}
        self._cors_paths: set[str] = set()

        self.rest_api = ApiGatewayRestApi(
            self, "api", name=name, description=description,
            endpoint_configuration=ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            lifecycle={"create_before_destroy": True},
        )
        # Token strings are read once: every attribute read is a round trip to the jsii runtime.
        self._api_id = api_id = self.rest_api.id
        self._execution_arn = self.rest_api.execution_arn
        self._body_validator = ApiGatewayRequestValidator(
            self, "validate-body", rest_api_id=api_id, name="body-and-parameters",
            validate_request_body=True, validate_request_parameters=True)
        self._params_validator = ApiGatewayRequestValidator(
            self, "validate-params", rest_api_id=api_id, name="parameters",
            validate_request_body=False, validate_request_parameters=True)
        self._models = {
            title: ApiGatewayModel(self, f"model-{title}", rest_api_id=api_id, name=title,
                                   content_type="application/json", schema=json.dumps(schema, sort_keys=True))
            for title, schema in models.items()
        }
        self._body_validator_id, self._params_validator_id = self._body_validator.id, self._params_validator.id
        self.route_resources: dict[str, ApiGatewayResource] = {}
        self._resource_ids: dict[str, str] = {"/": self.rest_api.root_resource_id}

        self.authorizer: ApiGatewayAuthorizer | None = None
        self.api_role: IamRole | None = None
        if sqs_routes:
            assert request_authorizer is not None and queue_arn is not None and queue_kms_key_arn is not None
            self._build_queue_routes(name, region, sqs_routes, queue_arn, queue_kms_key_arn, request_authorizer,
                                     request_authorizer_name or f"{name}-authorizer")
        permitted: set[str] = set()
        for route in lambda_routes:
            self._lambda_route(route)
            if route.target.function_name not in permitted:
                permitted.add(route.target.function_name)
                LambdaPermission(
                    self, f"invoke-{len(permitted)}", action="lambda:InvokeFunction",
                    function_name=route.target.function_name, principal="apigateway.amazonaws.com",
                    source_arn=f"{self._execution_arn}/*/*/*",
                )
        self._gateway_responses()

        self.definition_sha256 = hashlib.sha256(
            json.dumps(self._definition, sort_keys=True).encode("utf-8")).hexdigest()
        self.deployment = ApiGatewayDeployment(
            self, "deployment", rest_api_id=api_id, description=deployment_description or description,
            triggers={"definition": self.definition_sha256,
                      "integrations": Fn.sha1(Fn.jsonencode(self._integration_uris))},
            lifecycle={"create_before_destroy": True}, depends_on=self._depends,
        )
        self._build_stage(name, logs_kms_key_arn, log_retention_in_days, throttle_rate_limit_rps,
                          throttle_burst_limit, dict(stage_variables or {}), api_logging_account, access_log_class)
        self.invoke_url = self.stage.invoke_url
        self.route_urls = {route.path: f"{self.stage.invoke_url}{route.path}" for route in sqs_routes}

        self.web_acl: Wafv2WebAcl | None = None
        self.waf_log_group: CloudwatchLogGroup | None = None
        if waf:
            self.web_acl, self.waf_log_group = attach_web_acl(
                self, name=name, stage_arn=self.stage.arn, logs_key=logs_kms_key_arn,
                retention=log_retention_in_days, rate_limit=waf_rate_limit_per_5min, max_body=max_body_bytes,
                log_group_name=waf_log_group_name, description=waf_description, log_actions=waf_log_actions)
        self.domain_name: ApiGatewayDomainName | None = None
        if custom_domain_name:
            self.domain_name = ApiGatewayDomainName(
                self, "domain", domain_name=custom_domain_name, regional_certificate_arn=certificate_arn,
                security_policy="TLS_1_2",
                endpoint_configuration=ApiGatewayDomainNameEndpointConfiguration(types=["REGIONAL"]),
            )
            ApiGatewayBasePathMapping(self, "base-path", api_id=api_id, stage_name=self.stage.stage_name,
                                      domain_name=self.domain_name.domain_name, base_path=base_path or None)

    # ----- validation ---------------------------------------------------------------------------
    @staticmethod
    def _validate(*, sqs_routes: Sequence[SqsRoute], queue_arn: str | None, queue_kms_key_arn: str | None,
                  request_authorizer: LambdaTarget | None, lambda_routes: Sequence[LambdaRoute],
                  models: Mapping[str, Any], log_retention_in_days: int, throttle_rate_limit_rps: int,
                  throttle_burst_limit: int, cors_allow_origin: str, waf: bool, waf_rate_limit_per_5min: int,
                  max_body_bytes: int, waf_log_group_name: str, custom_domain_name: str | None,
                  certificate_arn: str | None, waf_log_actions: Sequence[str] = (),
                  access_log_class: str = "STANDARD") -> None:
        p: list[str] = []
        if sqs_routes:
            missing = [label for label, value in (("queue_arn", queue_arn), ("queue_kms_key_arn", queue_kms_key_arn),
                                                  ("request_authorizer", request_authorizer)) if value is None]
            if missing:
                p.append(f"sqs_routes need {', '.join(missing)} (the queue, its key and the REQUEST authorizer), got None")
        route_ids = [route.route_id for route in sqs_routes]
        for route_id in route_ids:
            if not ROUTE_ID.match(route_id):
                p.append(f"sqs_routes: route_id must be a lower-case slug ({ROUTE_ID.pattern}), got {route_id!r}")
        if len(set(route_ids)) != len(route_ids):
            p.append(f"sqs_routes must not repeat a route_id, got {route_ids}")
        templated = [r.path for r in sqs_routes if PATH.match(r.path) and not LITERAL_PATH.match(r.path)]
        if templated:
            p.append(f"sqs_routes: paths must be literal (the REQUEST authorizer allows the method ARN of a "
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
        if is_literal(log_retention_in_days) and log_retention_in_days not in LOG_RETENTION_DAYS:
            p.append(f"log_retention_in_days must be a CloudWatch Logs retention such as 30, got {log_retention_in_days}")
        for label, value in (("throttle_rate_limit_rps", throttle_rate_limit_rps),
                             ("throttle_burst_limit", throttle_burst_limit)):
            if is_literal(value) and value not in API_THROTTLE:
                p.append(f"{label} must be {API_THROTTLE}, got {value}")
        if cors_allow_origin != "*" and not str(cors_allow_origin).startswith("https://"):
            p.append(f"cors_allow_origin must be '*' or an https:// origin, got {cors_allow_origin!r}")
        if waf:
            if is_literal(waf_rate_limit_per_5min) and waf_rate_limit_per_5min not in WAF_RATE_LIMIT:
                p.append(f"waf_rate_limit_per_5min must be {WAF_RATE_LIMIT}, got {waf_rate_limit_per_5min}")
            if not str(waf_log_group_name).startswith("aws-waf-logs-"):
                p.append(f"waf_log_group_name must start with 'aws-waf-logs-' (WAF requires it), got {waf_log_group_name!r}")
            unknown_actions = [a for a in waf_log_actions if a not in WAF_LOG_ACTIONS]
            if unknown_actions:
                p.append(f"waf_log_actions must be among {', '.join(WAF_LOG_ACTIONS)}, got {list(waf_log_actions)}")
        if access_log_class not in ACCESS_LOG_CLASSES:
            p.append(f"access_log_class must be one of {', '.join(ACCESS_LOG_CLASSES)}, got {access_log_class!r}")
        if is_literal(max_body_bytes) and max_body_bytes not in WAF_BODY_BYTES:
            p.append(
                f"max_body_bytes must be {WAF_BODY_BYTES} (WAF inspects at most {WAF_BODY_BYTES.high // 1024} KB of an "
                f"API Gateway body), got {max_body_bytes}"
            )
        if custom_domain_name and not certificate_arn:
            p.append(f"certificate_arn is required with custom_domain_name {custom_domain_name!r}, got none")
        if p:
            raise ValueError("WebhookIngress: " + "; ".join(p))

    # ----- resources and methods ----------------------------------------------------------------
    def _resource(self, path: str) -> str:
        """Id of the API resource for `path` ("/" is the root), created with its parents."""
        if path not in self._resource_ids:
            parent, _, part = path.rpartition("/")
            self.route_resources[path] = ApiGatewayResource(
                self, f"res-{slug(path)}", rest_api_id=self._api_id, parent_id=self._resource(parent or "/"),
                path_part=part)
            self._resource_ids[path] = self.route_resources[path].id
        return self._resource_ids[path]

    def _method(self, verb: str, path: str, **options: Any) -> ApiGatewayMethod:
        options.setdefault("request_validator_id", self._params_validator_id)
        method = ApiGatewayMethod(self, f"{verb.lower()}-{slug(path)}", rest_api_id=self._api_id,
                                  resource_id=self._resource(path), http_method=verb, **options)
        self.methods[f"{verb} {path}"] = method
        self._depends.append(method)
        return method

    def _build_queue_routes(self, name: str, region: str, routes: Sequence[SqsRoute], queue_arn: str,
                            queue_key_arn: str, authorizer: LambdaTarget, authorizer_name: str) -> None:
        api_id = self._api_id
        self.authorizer = ApiGatewayAuthorizer(
            self, "authorizer", name=authorizer_name, rest_api_id=api_id, type="REQUEST",
            authorizer_uri=authorizer.invoke_arn, identity_source="context.resourcePath",
            authorizer_result_ttl_in_seconds=0,
        )
        authorizer_id = self.authorizer.id
        LambdaPermission(self, "invoke-authorizer", action="lambda:InvokeFunction",
                         function_name=authorizer.function_name, principal="apigateway.amazonaws.com",
                         source_arn=f"{self._execution_arn}/authorizers/{authorizer_id}")
        self.api_role = IamRole(self, "sqs-role", name=f"{name}-sqs-send", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }))
        IamRolePolicy(self, "sqs-send", role=self.api_role.id, name="send-to-ingest-queue", policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "SendToIngestQueue", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
                {"Sid": "EncryptForQueue", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                 "Resource": queue_key_arn},
            ],
        }))
        role_arn = self.api_role.arn
        parts = Fn.split(":", queue_arn)
        queue_uri = f"arn:aws:apigateway:{region}:sqs:path/{Fn.element(parts, 4)}/{Fn.element(parts, 5)}"
        for route in routes:
            path, template = route.path, route.request_template
            method = self._method("POST", path, authorization="CUSTOM", authorizer_id=authorizer_id,
                                  request_parameters=dict(route.request_parameters) or None)
            resource_id = self._resource_ids[path]
            integration = ApiGatewayIntegration(
                self, f"sqs-{route.route_id}", rest_api_id=api_id, resource_id=resource_id,
                http_method="POST", type="AWS", integration_http_method="POST", uri=queue_uri,
                credentials=role_arn, passthrough_behavior="NEVER",
                request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                request_templates={"application/json": terraform_literal(template)},
                depends_on=[method],
            )
            self._integrations.append(integration)
            self._integration_uris.append(queue_arn)  # a plain reference: jsonencode cannot take an interpolated string
            self._depends.append(integration)
            for code, pattern, body, content_type in (
                ("200", None, route.accepted_body, route.accepted_content_type),
                ("500", r"4\d{2}", json.dumps({"received": False, "error": "queue_rejected"}), JSON),
                ("503", r"5\d{2}", json.dumps({"received": False, "error": "queue_unavailable"}), JSON),
            ):
                # API Gateway answers application/json unless the Content-Type header is mapped
                header = {} if content_type == JSON else {"method.response.header.Content-Type": f"'{content_type}'"}
                response = ApiGatewayMethodResponse(
                    self, f"sqs-{route.route_id}-{code}", rest_api_id=api_id, resource_id=resource_id,
                    http_method="POST", status_code=code, response_models={content_type: "Empty"},
                    response_parameters={name: True for name in header} or None, depends_on=[method])
                self._depends.append(ApiGatewayIntegrationResponse(
                    self, f"sqs-{route.route_id}-{code}-integration", rest_api_id=api_id, resource_id=resource_id,
                    http_method="POST", status_code=code, selection_pattern=pattern,
                    response_templates={content_type: body}, response_parameters=header or None,
                    depends_on=[integration, response]))
            answer = [] if (route.accepted_body, route.accepted_content_type) == (ACCEPTED_BODY, JSON) else [
                route.accepted_body, route.accepted_content_type]  # in the definition only when not the default
            self._definition.append(["POST", path, "CUSTOM", "AWS:sqs:SendMessage", template, *answer])

    def _lambda_route(self, route: LambdaRoute) -> None:
        verb, path, params = route.method, route.path, route.request_parameters
        options: dict[str, Any] = dict(authorization=route.authorization, request_parameters=dict(params) or None)
        if route.request_model:
            options.update(request_models={"application/json": self._models[route.request_model].name},
                           request_validator_id=self._body_validator_id)
        method = self._method(verb, path, **options)
        if route.cors and path not in self._cors_paths:
            self._cors_paths.add(path)
            self._cors(path)
        integration = ApiGatewayIntegration(
            self, f"lambda-{verb.lower()}-{slug(path)}",
            rest_api_id=self._api_id, resource_id=self._resource_ids[path], http_method=verb, type="AWS_PROXY",
            integration_http_method="POST", uri=route.target.invoke_arn, depends_on=[method],
        )
        self._integrations.append(integration)
        self._integration_uris.append(route.target.invoke_arn)
        self._depends.append(integration)
        self._definition.append([verb, path, route.authorization, "AWS_PROXY", route.request_model, sorted(params)])

    def _cors(self, path: str) -> None:
        """OPTIONS (MOCK) on every resource with a browser-callable route (not the webhooks:
        providers call server to server)."""
        path_slug = slug(path)
        resource_id = self._resource_ids[path]
        method = ApiGatewayMethod(self, f"options-{path_slug}", rest_api_id=self._api_id, resource_id=resource_id,
                                  http_method="OPTIONS", authorization="NONE",
                                  request_validator_id=self._params_validator_id)
        integration = ApiGatewayIntegration(
            self, f"options-{path_slug}-integration", rest_api_id=self._api_id, resource_id=resource_id,
            http_method="OPTIONS", type="MOCK", request_templates={"application/json": '{"statusCode": 200}'},
            depends_on=[method])
        headers = {
            "method.response.header.Access-Control-Allow-Origin": f"'{self._cors_origin}'",
            "method.response.header.Access-Control-Allow-Headers": f"'{self._cors_headers}'",
            "method.response.header.Access-Control-Allow-Methods": "'GET,POST,OPTIONS'",
        }
        response = ApiGatewayMethodResponse(
            self, f"options-{path_slug}-200", rest_api_id=self._api_id, resource_id=resource_id,
            http_method="OPTIONS", status_code="200", response_parameters={k: True for k in headers},
            depends_on=[method])
        self._depends += [method, integration, ApiGatewayIntegrationResponse(
            self, f"options-{path_slug}-200-integration", rest_api_id=self._api_id, resource_id=resource_id,
            http_method="OPTIONS", status_code="200", response_parameters=headers,
            depends_on=[integration, response])]
        self._definition.append(["OPTIONS", path, self._cors_origin, self._cors_headers])

    def _gateway_responses(self) -> None:
        """API Gateway's own 4xx/5xx answers carry the CORS origin too."""
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
            self._depends.append(ApiGatewayGatewayResponse(
                self, f"gateway-{kind.lower()}", rest_api_id=self._api_id, response_type=kind,
                response_parameters={"gatewayresponse.header.Access-Control-Allow-Origin": f"'{self._cors_origin}'"}))
        self._definition.append(["gateway-responses", self._cors_origin])

    # ----- stage, logging -----------------------------------------------------------------------
    def _build_stage(self, name: str, logs_key: str, retention: int, rate: int, burst: int,
                     variables: dict[str, str], api_logging_account: bool, access_log_class: str) -> None:
        self.access_log_group = CloudwatchLogGroup(
            self, "access-logs", name=f"/aws/apigateway/{name}/access", retention_in_days=retention,
            kms_key_id=logs_key, log_group_class=None if access_log_class == "STANDARD" else access_log_class)
        # API Gateway writes execution logs here; created first so they are encrypted and retained.
        execution_logs = CloudwatchLogGroup(
            self, "execution-logs", name=f"API-Gateway-Execution-Logs_{self._api_id}/{self._stage_name}",
            retention_in_days=retention, kms_key_id=logs_key)
        depends: list[Any] = [execution_logs]
        if api_logging_account:
            role = IamRole(self, "cloudwatch-role", name=f"{name}-cloudwatch", assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                               "Action": "sts:AssumeRole",
                               "Condition": {"StringEquals": {"aws:SourceAccount": self._account_id}}}],
            }))
            IamRolePolicyAttachment(
                self, "cloudwatch-role-logs", role=role.name,
                policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            depends.append(ApiGatewayAccount(self, "account", cloudwatch_role_arn=role.arn))
        self.stage = ApiGatewayStage(
            self, "stage", rest_api_id=self._api_id, deployment_id=self.deployment.id, stage_name=self._stage_name,
            xray_tracing_enabled=True, cache_cluster_enabled=False, variables=variables or None,
            access_log_settings=ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_log_group.arn, format=ACCESS_LOG_FORMAT),
            depends_on=depends,
        )
        ApiGatewayMethodSettings(
            self, "method-settings", rest_api_id=self._api_id, stage_name=self.stage.stage_name, method_path="*/*",
            settings=ApiGatewayMethodSettingsSettings(
                metrics_enabled=True, logging_level="ERROR", data_trace_enabled=False,
                throttling_rate_limit=rate, throttling_burst_limit=burst,
                caching_enabled=False, cache_data_encrypted=True,
            ),
        )
