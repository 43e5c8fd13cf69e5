"""API Gateway (REST, v1) events as AWS sends them, for a route of the synthesized stack.

The shapes are AWS's published samples (tests/aws_samples/apigateway/, see SOURCES.md there): each is
rendered from its mustache placeholders with the deployed values (region, account, API id, stage,
resource path, method), then only the request's own data and what AWS documents for the route is
set - never a key the sample does not have:

* ``pathParameters``: the route's ``{name}`` variables. A REQUEST authorizer of a literal resource
  gets ``{}`` (the sample) - AWS has also been seen sending ``null``, so ``empty=None`` builds
  that; a proxy integration gets ``null`` ("pathParameters": null in the proxy input example).
* ``stageVariables``, ``queryStringParameters``, ``multiValueQueryStringParameters``: the stage's
  and the request's, or the sample's empty form as above.
* ``requestContext.identity``: ``clientCert`` only with mutual TLS on the custom domain ("only set
  if using mTLS", AWS Compute Blog, Introducing mutual TLS authentication for Amazon API Gateway);
  ``apiKey`` null on a method that requires no API key ($context.identity.apiKey, API Gateway
  mapping template reference); for ``AWS_IAM`` the SigV4 caller's ``accountId``, ``caller``,
  ``accessKey``, ``userArn``, ``user`` (the proxy input page's AWS_IAM example).
* ``body`` and ``isBase64Encoded``: the body as text, false, unless the API lists binary media
  types (it lists none).

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

SAMPLES = Path(__file__).resolve().parent / "aws_samples" / "apigateway"
AUTHORIZER_SAMPLE = "ApiGatewayRestRequestAuthorizer"
PROXY_SAMPLE = "AwsProxy"
#: Values AWS assigns at deployment (the synthesized stack has only references to them).
API_ID = "a1b2c3d4e5"
ACCOUNT = "123456789012"
#: The `{{{name}}}` placeholders whose value SAM renders as JSON (event-mapping.json "type": "dict").
_JSON_PLACEHOLDERS = {"querystringparameters"}
_PLACEHOLDER = re.compile(r"\{\{\{([A-Za-z_][A-Za-z0-9_-]*)\}\}\}")
_REFERENCE = re.compile(r"^\$\{([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$")
_VARIABLE = re.compile(r"^\{([A-Za-z0-9_]+)\}$")


@dataclass(frozen=True)
class Route:
    """One deployed method: its resource path and what API Gateway does with it."""

    method: str
    resource: str  # e.g. "/transactions/{id}"
    integration: str  # "AWS", "AWS_PROXY", "MOCK"
    authorization: str  # "CUSTOM", "AWS_IAM", "NONE"
    resource_id: str
    request_parameters: Mapping[str, bool] = field(default_factory=dict)
    request_templates: Mapping[str, str] = field(default_factory=dict)
    handler: str | None = None  # the integration's function handler, "reader_handler.handler"
    authorizer_handler: str | None = None  # the method's REQUEST authorizer's handler
    #: the integration responses of an AWS integration as synthesized (selection_pattern,
    #: status_code, response_templates, response_parameters)
    integration_responses: tuple[Mapping[str, Any], ...] = ()

    @property
    def path_variables(self) -> tuple[str, ...]:
        """The `{name}` parts of the resource path: the only path parameters AWS sends."""
        return tuple(m.group(1) for part in self.resource.strip("/").split("/") if (m := _VARIABLE.match(part)))

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` is a request path of this resource, else None."""
        want, got = self.resource.strip("/").split("/"), path.strip("/").split("/")
        if len(want) != len(got):
            return None
        found = {}
        for template, part in zip(want, got, strict=True):
            variable = _VARIABLE.match(template)
            if variable and part:
                found[variable.group(1)] = part
            elif template != part:
                return None
        return found


@dataclass(frozen=True)
class DeployedApi:
    """The REST API of a synthesized stack, with the values AWS assigns filled by constants."""

    region: str
    stage: str
    stage_variables: Mapping[str, str]
    routes: Mapping[tuple[str, str], Route]  # (method, resource) -> route
    functions: Mapping[str, Mapping[str, str]]  # handler -> environment variables
    mutual_tls: bool = False
    binary_media_types: tuple[str, ...] = ()
    base_path: str = ""  # the custom domain's base path mapping ("" maps the domain's root)
    api_id: str = API_ID
    account: str = ACCOUNT
    partition: str = "aws"

    def route(self, method: str, resource: str) -> Route:
        return self.routes[(method, resource)]

    def route_for(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route serving a request path, literal resources first (as API Gateway matches)."""
        candidates = sorted((r for (m, _), r in self.routes.items() if m == method), key=lambda r: len(r.path_variables))
        for route in candidates:
            params = route.match(path)
            if params is not None:
                return route, params
        raise KeyError(f"no {method} route serves {path}")

    def method_arn(self, method: str, path: str) -> str:
        return (f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/"
                f"{method}/{path.lstrip('/')}")

    def webhook_routes(self) -> list[Route]:
        """The routes gated by a REQUEST authorizer."""
        return sorted((r for r in self.routes.values() if r.authorization == "CUSTOM"), key=lambda r: r.resource)


@dataclass(frozen=True)
class IamCaller:
    """A SigV4 caller as API Gateway fills `requestContext.identity` for an AWS_IAM method."""

    account_id: str = ACCOUNT
    user: str = "AIDAEXAMPLEUSERID0001"
    access_key: str = "AKIAEXAMPLEACCESSKEY"
    user_arn: str = f"arn:aws:iam::{ACCOUNT}:user/payments-client"


# ----- the synthesized stack -------------------------------------------------------------------
def _ref(value: Any) -> tuple[str, str, str] | None:
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    return (match.group(1), match.group(2), match.group(3)) if match else None


def deployed_api(stack: Mapping[str, Any]) -> DeployedApi:
    """The API of a synthesized stack's JSON (`cdk.tf.json` as a dict)."""
    resources = stack.get("resource", {})

    def of(kind: str) -> dict[str, dict[str, Any]]:
        return resources.get(kind, {})

    (api,) = of("aws_api_gateway_rest_api").values()
    (stage,) = of("aws_api_gateway_stage").values()
    functions = of("aws_lambda_function")

    def handler_of(uri: Any) -> str | None:
        ref = _ref(uri)
        return functions[ref[1]]["handler"] if ref and ref[0] == "aws_lambda_function" else None

    paths: dict[str, str] = {}

    def path_of(reference: Any) -> str:
        kind, name, _ = _ref(reference) or ("", "", "")
        if kind == "aws_api_gateway_rest_api":
            return ""
        if name not in paths:
            resource = of("aws_api_gateway_resource")[name]
            paths[name] = f"{path_of(resource['parent_id'])}/{resource['path_part']}"
        return paths[name]

    authorizers = {name: handler_of(a.get("authorizer_uri")) for name, a in of("aws_api_gateway_authorizer").items()}
    integrations = {(i["resource_id"], i["http_method"]): i for i in of("aws_api_gateway_integration").values()}
    responses: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for response in of("aws_api_gateway_integration_response").values():
        responses.setdefault((response["resource_id"], response["http_method"]), []).append(
            {key: response[key] for key in ("selection_pattern", "status_code", "response_templates",
                                            "response_parameters") if key in response})
    routes = {}
    for method in of("aws_api_gateway_method").values():
        resource = path_of(method["resource_id"]) or "/"
        integration = integrations.get((method["resource_id"], method["http_method"]), {})
        authorizer = _ref(method.get("authorizer_id"))
        routes[(method["http_method"], resource)] = Route(
            method=method["http_method"], resource=resource, integration=integration.get("type", ""),
            authorization=method["authorization"],
            resource_id=hashlib.sha256(resource.encode()).hexdigest()[:6],
            request_parameters=dict(method.get("request_parameters") or {}),
            request_templates=dict(integration.get("request_templates") or {}),
            handler=handler_of(integration.get("uri")),
            authorizer_handler=authorizers.get(authorizer[1]) if authorizer else None,
            integration_responses=tuple(responses.get((method["resource_id"], method["http_method"]), ())),
        )
    domains = of("aws_api_gateway_domain_name").values()
    mappings = [m.get("base_path") or "" for m in of("aws_api_gateway_base_path_mapping").values()]
    return DeployedApi(
        region=stack["provider"]["aws"][0]["region"], stage=stage["stage_name"],
        stage_variables=dict(stage.get("variables") or {}), routes=routes,
        functions={f["handler"]: dict((f.get("environment") or {}).get("variables") or {}) for f in functions.values()},
        mutual_tls=any(d.get("mutual_tls_authentication") for d in domains),
        binary_media_types=tuple(api.get("binary_media_types") or ()), base_path=mappings[0] if mappings else "",
    )


@lru_cache(maxsize=None)
def synthesized_api(environment: str = "dev") -> DeployedApi:
    """The API of one environment's synthesized stack (synthesized once per process)."""
    from infra_synth import synth

    return deployed_api(json.loads(synth(environment)))


# ----- the samples ----------------------------------------------------------------------------
def render_sample(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A vendored sample with its placeholders filled: a whole-string placeholder SAM renders as
    JSON (`"{{{querystringparameters}}}"`) takes the value as JSON, any other one the string."""
    text = (SAMPLES / f"{name}.json").read_text()
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise KeyError(f"{name}: no value for the placeholder(s) {missing}")
    for key in _JSON_PLACEHOLDERS & set(values):
        text = text.replace(f'"{{{{{{{key}}}}}}}"', json.dumps(values[key]))
    text = _PLACEHOLDER.sub(lambda m: json.dumps(str(values[m.group(1)]))[1:-1], text)
    return json.loads(text)


def _set(event: dict[str, Any], path: str, value: Any) -> None:
    """Set an existing key (a dotted path) of the sample: the filling never adds a key."""
    *parents, last = path.split(".")
    node = event
    for part in parents:
        node = node[part]
    if last not in node:
        raise KeyError(f"the sample has no {path}: AWS does not send it")
    node[last] = value


def _request_time(epoch_ms: int) -> str:
    """$context.requestTime's CLF format, e.g. 09/Apr/2015:12:34:56 +0000."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms // 1000))


def authorizer_event(api: DeployedApi, resource: str, *, headers: Mapping[str, str] | None = None,
                     query: Mapping[str, str] | None = None, method: str = "POST", request_id: str = "req-auth-1",
                     source_ip: str = "203.0.113.10", empty: Any = "{}") -> dict[str, Any]:
    """The REQUEST authorizer's input for a request to the route `method resource` (a literal
    resource: the path is the resource path). `empty` is the form of an empty map: "{}" (the
    sample) or None."""
    route = api.route(method, resource)
    if route.path_variables:
        raise ValueError(f"{resource}: a gated route is literal (the authorizer allows its method ARN)")

    def mapping(value: Mapping[str, str] | None) -> Any:
        return dict(value) if value else ({} if empty == "{}" else None)

    event = render_sample(AUTHORIZER_SAMPLE, {
        "partition": api.partition, "region": api.region, "account_id": api.account, "restApiId": api.api_id,
        "stage": api.stage, "method": method, "resource": resource.lstrip("/"),
    })
    _set(event, "headers", dict(headers or {}))
    _set(event, "queryStringParameters", mapping(query))
    _set(event, "pathParameters", mapping(None))
    _set(event, "stageVariables", mapping(api.stage_variables))
    for key, value in {"requestId": request_id, "resourceId": route.resource_id}.items():
        _set(event, f"requestContext.{key}", value)
    _set(event, "requestContext.identity.sourceIp", source_ip)
    _set(event, "requestContext.identity.apiKey", None)
    if not api.mutual_tls:
        del event["requestContext"]["identity"]["clientCert"]
    return event


def proxy_event(api: DeployedApi, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                query: Mapping[str, str] | None = None, body: str | None = None, caller: IamCaller | None = None,
                request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", request_time_ms: int = 1_732_240_000_123,
                source_ip: str = "198.51.100.7", user_agent: str = "payments-client/1.0",
                custom_domain: bool = False) -> dict[str, Any]:
    """The AWS_PROXY integration's input for `method path` on the route that serves it; `caller`
    is the SigV4 identity of an AWS_IAM method (required there, refused elsewhere). Through the
    custom domain (`custom_domain`), `path` is the request's path, which starts with the base path
    mapping (Powertools, Event Handler, "Custom Domain API Mappings"); on the execute-api
    endpoint it is the resource path filled in, and requestContext.path starts with the stage."""
    route, params = api.route_for(method, path)
    if route.integration != "AWS_PROXY":
        raise ValueError(f"{method} {route.resource} is a {route.integration} integration, not AWS_PROXY")
    if (route.authorization == "AWS_IAM") != (caller is not None):
        raise ValueError(f"{method} {route.resource}: authorization {route.authorization} with caller {caller}")
    binary = bool(api.binary_media_types)
    event = render_sample(PROXY_SAMPLE, {
        "body": body or "", "resource": route.resource, "path": path.lstrip("/"), "method": method,
        "querystringparameters": dict(query) if query else None, "account_id": api.account, "stage": api.stage,
        "dns_suffix": f"{api.region}.amazonaws.com",
    })
    headers = dict(headers or {})
    if custom_domain:
        request_path = f"/{api.base_path}{path}" if api.base_path else path
        _set(event, "path", request_path)
        _set(event, "requestContext.path", request_path)
    _set(event, "headers", headers)
    _set(event, "multiValueHeaders", {k: [v] for k, v in headers.items()})
    _set(event, "multiValueQueryStringParameters", {k: [v] for k, v in query.items()} if query else None)
    _set(event, "pathParameters", params or None)
    _set(event, "stageVariables", dict(api.stage_variables) or None)
    if body is not None and binary:
        raise NotImplementedError("the API lists binary media types: base64 bodies are not built here")
    _set(event, "body", body)
    _set(event, "isBase64Encoded", False)
    context = {"requestId": request_id, "requestTime": _request_time(request_time_ms),
               "requestTimeEpoch": request_time_ms, "resourceId": route.resource_id, "apiId": api.api_id}
    for key, value in context.items():
        _set(event, f"requestContext.{key}", value)
    identity = {"sourceIp": source_ip, "userAgent": user_agent}
    if caller is not None:
        identity.update(accountId=caller.account_id, caller=caller.user, accessKey=caller.access_key,
                        userArn=caller.user_arn, user=caller.user)
    for key, value in identity.items():
        _set(event, f"requestContext.identity.{key}", value)
    return event


def shape(value: Any) -> Any:
    """The shape of an event: the same keys at every level and each value's JSON type (null,
    bool, number, string, array of shapes, object of shapes)."""
    if isinstance(value, dict):
        return {key: shape(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [shape(inner) for inner in value]
    if value is None or isinstance(value, bool):
        return value if value is None else "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__
