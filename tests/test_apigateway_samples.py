"""The vendored API Gateway samples are AWS's, unchanged; AWS's documentation and Powertools' event data
classes agree with them; and the events filled for the synthesized stack's routes keep their shape."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent

from apigateway_events import (
    AUTHORIZER_SAMPLE,
    PROXY_SAMPLE,
    SAMPLES,
    IamCaller,
    _set,
    authorizer_event,
    proxy_event,
    render_sample,
    shape,
    synthesized_api,
)

API = synthesized_api("dev")
PROXY_ROUTES = sorted((r for r in API.routes.values() if r.integration == "AWS_PROXY"), key=lambda r: (r.resource, r.method))

#: The keys of AWS's REQUEST authorizer input example (GET /request), as the documentation shows them:
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
DOCUMENTED_AUTHORIZER_KEYS = {
    "type", "methodArn", "resource", "path", "httpMethod", "headers", "queryStringParameters", "pathParameters",
    "stageVariables", "requestContext", "requestContext.path", "requestContext.accountId", "requestContext.resourceId",
    "requestContext.stage", "requestContext.requestId", "requestContext.identity", "requestContext.identity.apiKey",
    "requestContext.identity.sourceIp", "requestContext.identity.clientCert", "requestContext.resourcePath",
    "requestContext.httpMethod", "requestContext.apiId",
}
#: The proxy input's documented top-level fields (Input format of a Lambda function for proxy integration):
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
DOCUMENTED_PROXY_FIELDS = {
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body", "isBase64Encoded",
}
#: $context.identity.* of an AWS_IAM caller, as the same page's AWS_IAM example shows them.
DOCUMENTED_IAM_IDENTITY = {
    "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "sourceIp", "accessKey",
    "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent", "user",
}


def keys(value, prefix=""):
    """Every key path of an object (not inside the request's own data maps)."""
    found = set()
    for key, inner in value.items():
        found.add(prefix + key)
        if isinstance(inner, dict) and key not in {"headers", "multiValueHeaders", "queryStringParameters",
                                                   "multiValueQueryStringParameters", "pathParameters", "stageVariables"}:
            found |= keys(inner, f"{prefix}{key}.")
    return found


@pytest.mark.parametrize("name", [AUTHORIZER_SAMPLE, PROXY_SAMPLE])
def test_vendored_samples_are_the_packages_files_unchanged(name):
    sources = (SAMPLES / "SOURCES.md").read_text()
    digest = hashlib.sha256((SAMPLES / f"{name}.json").read_bytes()).hexdigest()
    assert re.search(rf"`{name}\.json` \|.*\| `{digest}` \|", sources), f"{name}.json differs from SOURCES.md's sha256"


def test_authorizer_sample_has_the_documented_keys():
    sample = render_sample(AUTHORIZER_SAMPLE, {k: "x" for k in ("partition", "region", "account_id", "restApiId",
                                                                 "stage", "method", "resource")})
    assert {k for k in keys(sample) if ".clientCert." not in k} == DOCUMENTED_AUTHORIZER_KEYS
    assert sample["pathParameters"] == {}, "AWS sends no path parameter for a resource without {...}"


def test_proxy_sample_has_the_documented_fields_and_iam_identity():
    sample = render_sample(PROXY_SAMPLE, {k: "x" for k in ("body", "resource", "path", "method", "account_id",
                                                           "stage", "dns_suffix")} | {"querystringparameters": None})
    assert set(sample) == DOCUMENTED_PROXY_FIELDS
    assert set(sample["requestContext"]["identity"]) == DOCUMENTED_IAM_IDENTITY


def test_rendering_fails_on_a_placeholder_without_a_value():
    with pytest.raises(KeyError, match="restApiId"):
        render_sample(AUTHORIZER_SAMPLE, {"partition": "aws"})


def test_filling_never_adds_a_key_the_sample_lacks():
    event = authorizer_event(API, "/webhooks/stripe")
    with pytest.raises(KeyError, match="AWS does not send it"):
        _set(event, "requestContext.requestTimeEpoch", 1)  # not in a REQUEST authorizer's input


@pytest.mark.parametrize("empty", ["{}", None])
@pytest.mark.parametrize("route", API.webhook_routes(), ids=lambda r: r.resource)
def test_powertools_reads_the_filled_authorizer_event_as_the_handler_does(route, empty):
    event = authorizer_event(API, route.resource, headers={"X-Webhook-Key": "k"}, query={"key": "q"}, empty=empty)
    parsed = APIGatewayAuthorizerRequestEvent(event)
    arn = parsed.parsed_arn
    assert (arn.api_id, arn.stage, arn.http_method, "/" + arn.resource) == (API.api_id, API.stage, "POST", route.resource)
    assert parsed.resource == parsed.request_context.resource_path == route.resource
    assert parsed.headers["x-webhook-key"] == "k" and parsed.query_string_parameters == {"key": "q"}
    assert parsed.path_parameters == ({} if empty else None)
    assert parsed.request_context.request_id == "req-auth-1"
    assert "clientCert" not in event["requestContext"]["identity"], "no mutual TLS on this API"
    assert "{{{" not in json.dumps(event)


@pytest.mark.parametrize("route", PROXY_ROUTES, ids=lambda r: f"{r.method} {r.resource}")
def test_powertools_reads_the_filled_proxy_event_of_each_query_and_payment_route(route):
    path = route.resource.replace("{id}", "pi_1")
    body = '{"a": 1}' if route.method == "POST" else None
    event = proxy_event(API, route.method, path, headers={"Content-Type": "application/json"}, body=body,
                        caller=IamCaller(), request_time_ms=1_700_000_000_000)
    parsed = APIGatewayProxyEvent(event)
    assert (parsed.http_method, parsed.path, parsed.resource) == (route.method, path, route.resource)
    assert parsed.path_parameters == ({"id": "pi_1"} if route.path_variables else {})  # Powertools: null -> {}
    assert event["pathParameters"] == ({"id": "pi_1"} if route.path_variables else None)
    assert event["stageVariables"] is None and event["queryStringParameters"] is None
    context = parsed.request_context
    assert (context.stage, context.resource_path, context.request_time_epoch) == (API.stage, route.resource, 1_700_000_000_000)
    assert context.path == f"/{API.stage}{path}"
    assert context.identity.user_arn == IamCaller().user_arn and context.identity.caller == IamCaller().user
    assert parsed.body == body and parsed.is_base64_encoded is False
    assert "clientCert" not in event["requestContext"]["identity"]


def test_a_literal_route_gets_null_path_parameters_and_a_templated_one_its_variables():
    assert proxy_event(API, "GET", "/transactions", caller=IamCaller())["pathParameters"] is None
    assert proxy_event(API, "GET", "/transactions/abc", caller=IamCaller())["pathParameters"] == {"id": "abc"}


def test_proxy_event_refuses_a_route_the_api_does_not_have():
    with pytest.raises(KeyError, match="no GET route serves /transactions/a/b"):
        proxy_event(API, "GET", "/transactions/a/b", caller=IamCaller())


def test_shape_compares_keys_types_and_null():
    assert shape({"a": None, "b": {}, "c": [1, "x"], "d": True}) == {"a": None, "b": {}, "c": ["number", "str"], "d": "bool"}
    assert shape({"a": None}) != shape({"a": {}}) != shape({})
