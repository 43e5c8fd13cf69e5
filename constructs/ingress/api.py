"""`WebhookIngress`: a REST API whose routes are data, reusable in any stack.

Routes
  `SqsRoute`     POST {path} -> SendMessage to one queue through an AWS service integration (no
                 Lambda in the hot path), with the caller's VTL request template, gated by a Lambda
                 REQUEST authorizer. SQS answers -> caller retries: 200 {"received": true}; a 4xx
                 from SQS (a misconfiguration) -> 500 and a 5xx -> 503, so webhook senders retry.
  `LambdaRoute`  {method} {path} -> a function (AWS_PROXY), AWS_IAM or NONE, optional body model
                 (JSON schema) and required parameters, CORS preflight.
The payment platform's routes (webhooks per provider, /payments, /transactions, /status, notify)
are built from its settings by the app (constructs/app/routes.py, webhook_routes.py), not here.

Decisions
  * Authorizer identity source: `context.resourcePath` (always present), result TTL 0. The gate key
    may come in a header OR the query string (Stripe and PayPal cannot send custom headers), and a
    REQUEST authorizer answers 401 without calling the Lambda when any identity source is missing,
    so neither can be an identity source; a cache keyed without the key would hand one caller's
    Allow to the next. No cache, then: the authorizer keeps the secrets in memory instead.
  * SQS errors carry no more than a status code to select on, so an oversized body is answered
    413 by WAF (waf.py), not by the integration.
  * The deployment's `triggers` are a SHA-256 of the API definition computed at synth from literal
    values (plus the integration URIs, so a replaced function redeploys): the same code plans no
    change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from cdktf import Fn
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
from cdktf_cdktf_provider_aws.api_gateway_model import ApiGatewayModel
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi, ApiGatewayRestApiEndpointConfiguration
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl
from constructs import Construct

from constructs.ingress.options import (
    DEFAULT_CORS,
    DEFAULT_STAGE,
    DEFAULT_WAF,
    ApiLogOptions,
    CorsOptions,
    CustomDomainOptions,
    QueueRouteOptions,
    StageOptions,
    WafOptions,
)
from constructs.ingress.routes import (
    ACCEPTED_BODY,
    JSON,
    LambdaRoute,
    LambdaTarget,
    SqsRoute,
    slug,
    terraform_literal,
)
from constructs.ingress.stage import build_stage
from constructs.ingress.validation import ingress_problems
from constructs.ingress.waf import attach_web_acl

WEBHOOK_ACCEPTED = ACCEPTED_BODY  # the default answer of a queue route


class WebhookIngress(Construct):
    """A REGIONAL REST API whose routes are data: queue routes (`SqsRoute`, API Gateway sends the
    request to an SQS queue, gated by a Lambda REQUEST authorizer) and function routes
    (`LambdaRoute`, AWS_PROXY); with its stage, access and execution logs, throttling, request
    validation, CORS, WAF and an optional custom domain.

    Secure defaults: X-Ray on the stage, access logs (no query string: keys may travel in it) and
    execution logs encrypted and retained, no stage cache, WAF on (managed common, known-bad-inputs,
    IP reputation and anonymous-IP groups, a per-IP rate rule, a body-size rule), TLS 1.2 on the
    custom domain, request parameters validated on every method.

    Keyword arguments (see each option's docstring):
      name: the API's name and prefix of its other names, e.g. "payments-api-dev" (required).
      region: the stack's region (service integration URI) (required).
      logs: ApiLogOptions (key, retention and class of the API's log groups; the account's
        CloudWatch role) (required).
      queue_routes: QueueRouteOptions (queue routes, their queue and the REQUEST authorizer);
        default None (no queue routes).
      lambda_routes: function routes (default none); each function gets one invoke permission.
      request_models: title -> JSON schema (draft 4) of the bodies `LambdaRoute.request_model`
        names (default none).
      description: the API's description (default "REST API"); deployment_description: default
        the same.
      stage: StageOptions (default "v1", 10000 rps, burst 5000). cors: CorsOptions (default "*").
      waf: WafOptions (default on, with its defaults); None attaches no web ACL.
      custom_domain: CustomDomainOptions; default None.

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
        logs: ApiLogOptions,
        queue_routes: QueueRouteOptions | None = None,
        lambda_routes: Sequence[LambdaRoute] = (),
        request_models: Mapping[str, Mapping[str, Any]] | None = None,
        description: str = "REST API",
        deployment_description: str | None = None,
        stage: StageOptions = DEFAULT_STAGE,
        cors: CorsOptions = DEFAULT_CORS,
        waf: WafOptions | None = DEFAULT_WAF,
        custom_domain: CustomDomainOptions | None = None,
    ):
        super().__init__(scope, id_)
        models = dict(request_models or {})
        waf_log_group_name = (waf.log_group_name or f"aws-waf-logs-{name}") if waf is not None else ""
        problems = ingress_problems(queue_routes=queue_routes, lambda_routes=lambda_routes, models=models, logs=logs,
                                    stage=stage, cors=cors, waf=waf, waf_log_group_name=waf_log_group_name)
        if problems:
            raise ValueError("WebhookIngress: " + "; ".join(problems))
        self._cors_origin = cors.allow_origin
        self._cors_headers = cors.allow_headers
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
        sqs_routes = queue_routes.routes if queue_routes is not None else ()
        if queue_routes is not None:
            self._build_queue_routes(name, region, sqs_routes, queue_routes.queue_arn, queue_routes.queue_kms_key_arn,
                                     queue_routes.authorizer, queue_routes.authorizer_name or f"{name}-authorizer")
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
        self.stage, self.access_log_group = build_stage(self, name=name, api_id=api_id,
                                                        deployment_id=self.deployment.id, logs=logs, stage=stage)
        self.invoke_url = self.stage.invoke_url
        self.route_urls = {route.path: f"{self.stage.invoke_url}{route.path}" for route in sqs_routes}

        self.web_acl: Wafv2WebAcl | None = None
        self.waf_log_group: CloudwatchLogGroup | None = None
        if waf is not None:
            self.web_acl, self.waf_log_group = attach_web_acl(
                self, name=name, stage_arn=self.stage.arn, logs_key=logs.kms_key_arn,
                retention=logs.retention_in_days, rate_limit=waf.rate_limit_per_5min, max_body=waf.max_body_bytes,
                log_group_name=waf_log_group_name, description=waf.description, log_actions=waf.log_actions)
        self.domain_name: ApiGatewayDomainName | None = None
        if custom_domain is not None:
            self.domain_name = ApiGatewayDomainName(
                self, "domain", domain_name=custom_domain.domain_name,
                regional_certificate_arn=custom_domain.certificate_arn, security_policy="TLS_1_2",
                endpoint_configuration=ApiGatewayDomainNameEndpointConfiguration(types=["REGIONAL"]),
            )
            ApiGatewayBasePathMapping(self, "base-path", api_id=api_id, stage_name=self.stage.stage_name,
                                      domain_name=self.domain_name.domain_name,
                                      base_path=custom_domain.base_path or None)

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
        # No aws:SourceAccount / aws:SourceArn condition here, unlike the CloudWatch role's: API Gateway
        # does not put them in the STS request context when it assumes an AWS integration's credentials
        # role, and a condition on a missing key refuses it - every webhook would answer 500 (found on a
        # live stack with test-invoke-method: aws-solutions-library-samples/accelerated-intelligent-
        # document-processing-on-aws pull request 479). Another account cannot name this role in its
        # integration (API Gateway answers "Cross-account pass role is not allowed"; in this account it
        # takes iam:PassRole on it), and what the role can do is one SendMessage on one queue, whose
        # policy names this role among its few senders.
        # tests/hops.py models what API Gateway sends (ASSUME_ROLE_CONTEXT); tests/test_hops.py fails a
        # copy with the condition.
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
