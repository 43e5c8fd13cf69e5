"""Routes against readers: every request field a handler or a request template of the synthesized stack
reads (path parameters, headers, query strings, context fields, stage variables) exists for its
route on AWS (tests/api_reads.py)."""

from __future__ import annotations

import dataclasses

import pytest
from support import ROOT

from api_reads import Reads, handler_reads, route_problems, template_reads
from apigateway_events import DeployedApi, synthesized_api

API = synthesized_api("dev")
LAMBDA_SRC = ROOT / "lambda_src"


def module_reads(handler: str) -> Reads:
    """The reads of a deployed handler's module (lambda_src/<folder>/<module>.py)."""
    (path,) = LAMBDA_SRC.glob(f"*/{handler.split('.')[0]}.py")
    return handler_reads(path.read_text())


def reads_for(api: DeployedApi) -> dict[str, Reads]:
    handlers = {h for r in api.routes.values() for h in (r.handler, r.authorizer_handler) if h}
    return {handler: module_reads(handler) for handler in handlers}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_field_a_handler_or_template_reads_exists_for_its_route(environment):
    api = synthesized_api(environment)
    assert route_problems(api, reads_for(api)) == []


def test_the_reads_found_are_the_ones_the_handlers_make():
    """The scan sees what each handler reads (an empty scan would pass every route)."""
    reads = reads_for(API)
    authorizer = reads["authorizer_handler.handler"].fields
    assert {("resource",), ("methodArn",), ("httpMethod",), ("requestContext", "resourcePath"),
            ("requestContext", "requestId"), ("headers", "x-webhook-key"), ("queryStringParameters", "key")} <= authorizer
    assert not any(chain[0] == "pathParameters" for chain in authorizer)
    validator = reads["validator_handler.handler"].fields
    assert {("body",), ("isBase64Encoded",), ("headers", "idempotency-key"), ("requestContext", "requestTimeEpoch"),
            ("requestContext", "identity", "sourceIp")} <= validator
    assert reads["reader_handler.handler"].rules == {("GET", "/transactions"), ("GET", "/transactions/<transaction_id>")}
    assert ("queryStringParameters",) in reads["reader_handler.handler"].fields
    assert reads["status_handler.handler"].rules == {("GET", "/status/<transaction_id>")}
    assert {("body",), ("requestContext", "requestId")} <= reads["manual_notify_handler.handler"].fields


WRONG_AUTHORIZER = '''
def handler(event, context):
    provider = (event.get("pathParameters") or {}).get("provider")
    return {"principalId": provider}
'''


def test_fails_on_a_handler_reading_a_path_parameter_its_route_does_not_declare():
    reads = {**reads_for(API), "authorizer_handler.handler": handler_reads(WRONG_AUTHORIZER)}
    assert route_problems(API, reads) == [
        f"POST /webhooks/{p}: authorizer_handler.handler reads pathParameters.provider, but the route declares "
        "path parameters []" for p in ("paypal", "stripe")]


def test_fails_on_a_resolver_rule_whose_path_parameter_no_route_declares():
    wrong = '''
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
app = APIGatewayRestResolver()

@app.get("/status/<transaction_id>/<detail>")
def one(transaction_id, detail):
    return {}

def handler(event, context):
    return app.resolve(event, context)
'''
    reads = {**reads_for(API), "status_handler.handler": handler_reads(wrong)}
    assert route_problems(API, reads) == [
        "GET /status/{id}: no route of status_handler.handler serves it",
        "status_handler.handler serves GET /status/<transaction_id>/<detail>, which no route of the API sends to it "
        "(its path parameters ['transaction_id', 'detail'] are declared by no route)"]


def test_fails_on_a_context_field_aws_does_not_send_to_an_authorizer_or_an_undeclared_header():
    wrong = '''
SIGNATURE = "x-signature"

def handler(event, context):
    received = event["requestContext"]["requestTimeEpoch"]
    for name, value in event["headers"].items():
        if name.lower() == SIGNATURE:
            return value
'''
    problems = route_problems(API, {**reads_for(API), "authorizer_handler.handler": handler_reads(wrong)})
    assert problems == [
        f"POST /webhooks/{p}: authorizer_handler.handler reads {what}"
        for p in ("paypal", "stripe") for what in (
            "headers.x-signature, but the method declares no request parameter method.request.header.x-signature",
            "requestContext.requestTimeEpoch, which AWS does not send to it")]


def test_fails_on_a_request_template_reading_what_its_route_does_not_have():
    route = API.route("POST", "/webhooks/stripe")
    template = ("$input.params('provider') $input.params().path.get('provider') $stageVariables.region "
                "$context.requestTimeEpoch $input.params('key') $context.nothing")
    api = dataclasses.replace(API, routes={**API.routes, ("POST", "/webhooks/stripe"): dataclasses.replace(
        route, request_templates={"application/json": template})})
    problems = [p for p in route_problems(api, reads_for(api)) if "/webhooks/stripe" in p]
    assert problems == [
        "POST /webhooks/stripe: the request template reads $context.nothing, which API Gateway does not set for this route",
        "POST /webhooks/stripe: the request template reads $input.params('provider'), which is no path variable or "
        "declared parameter",
        "POST /webhooks/stripe: the request template reads path parameter 'provider', but the route declares []",
        "POST /webhooks/stripe: the request template reads $stageVariables.region, which the stage does not set"]


def test_template_reads_of_the_webhook_template():
    (template,) = API.route("POST", "/webhooks/stripe").request_templates.values()
    assert template_reads(template) == {("context", "requestTimeEpoch"), ("context", "requestId"),
                                        ("context", "identity.sourceIp")}
