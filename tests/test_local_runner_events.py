"""The local runner invents no field: for every route of the synthesized `local` stack, the event the
runner gives a function is AWS's published sample filled for the same route and request
(tests/apigateway_events.py) - the same keys at every level, `{}` vs null vs absent, the same JSON
types and values."""

from __future__ import annotations

import collections
import json

import botocore.exceptions
import pytest
from apigateway_events import API_ID, IamCaller, authorizer_event, proxy_event, shape, synthesized_api

from scripts.local.runner.apigateway import ApiGateway
from scripts.local.runner.apigateway import IamCaller as RunnerCaller
from scripts.local.runner.wiring import Wiring

API = synthesized_api("local")
REGION_ARN = f"arn:aws:{{service}}:{API.region}:{API.account}:{{rest}}"
INGEST = "webhooks-local.fifo"
CALLER = IamCaller()
SOURCE_IP = "203.0.113.77"
HEADERS = {"Content-Type": "application/json", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
           "X-Webhook-Key": "k-1"}
PROXY_ROUTES = sorted((r for r in API.routes.values() if r.integration == "AWS_PROXY"), key=lambda r: (r.resource, r.method))


def fn_arn(handler: str) -> str:
    return REGION_ARN.format(service="lambda", rest=f"function:fn-{handler.split('_handler')[0]}")


def invoke_uri(handler: str) -> str:
    return f"arn:aws:apigateway:{API.region}:lambda:path/2015-03-31/functions/{fn_arn(handler)}/invocations"


def deployed_state() -> dict:
    """`terraform show -json` of the synthesized local stack's API, as far as the runner reads it:
    the values AWS assigns (API id, resource ids, account) are the sample builder's."""
    resources: list[dict] = [
        {"type": "aws_lambda_function", "values": {"function_name": f"fn-{h}", "arn": fn_arn(h), "handler": h,
                                                   "environment": [{"variables": env}]}}
        for h, env in API.functions.items() if h.endswith("_handler.handler")
    ]
    resources += [
        {"type": "aws_sqs_queue", "values": {"name": INGEST, "url": f"http://sqs/{INGEST}",
                                             "arn": REGION_ARN.format(service="sqs", rest=INGEST), "fifo_queue": True}},
        {"type": "aws_api_gateway_rest_api", "values": {"id": API_ID}},
        {"type": "aws_api_gateway_stage", "values": {"stage_name": API.stage, "variables": dict(API.stage_variables)}},
    ]
    authorizers = {}
    for route in API.routes.values():
        resources.append({"type": "aws_api_gateway_resource", "values": {"id": route.resource_id, "path": route.resource}})
        if route.authorizer_handler:
            authorizers.setdefault(route.authorizer_handler, f"au-{len(authorizers)}")
        resources.append({"type": "aws_api_gateway_method", "values": {
            "resource_id": route.resource_id, "http_method": route.method, "authorization": route.authorization,
            "authorizer_id": authorizers.get(route.authorizer_handler or "")}})
        uri = (invoke_uri(route.handler) if route.handler else
               f"arn:aws:apigateway:{API.region}:sqs:path/{API.account}/{INGEST}" if route.integration == "AWS" else "")
        resources.append({"type": "aws_api_gateway_integration", "values": {
            "resource_id": route.resource_id, "http_method": route.method, "type": route.integration, "uri": uri,
            "request_templates": dict(route.request_templates)}})
        resources += [{"type": "aws_api_gateway_integration_response", "values": {
            **response, "resource_id": route.resource_id, "http_method": route.method}}
            for response in route.integration_responses]
    resources += [{"type": "aws_api_gateway_authorizer", "values": {"id": ident, "authorizer_uri": invoke_uri(h)}}
                  for h, ident in authorizers.items()]
    return {"values": {"root_module": {"resources": [{"mode": "managed", "id": "x", **r} for r in resources]}}}


class Recorder:
    """The functions, recording what they are given: the authorizer allows what it is asked."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.metrics: collections.Counter[str] = collections.Counter()

    def invoke(self, code: str, event: dict):
        self.events.append((code, json.loads(json.dumps(event))))
        if event.get("type") == "REQUEST":
            return {"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}
        return {"statusCode": 200, "body": "{}"}


class Sqs:
    """SQS taking every message, or answering each with `status` (an SQS error)."""

    def __init__(self, status: int | None = None):
        self.status = status

    def send_message(self, **_):
        if self.status is not None:
            raise botocore.exceptions.ClientError({"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": self.status}},
                                                  "SendMessage")
        return {"MessageId": "m-1"}


@pytest.fixture
def runner():
    recorder = Recorder()
    return ApiGateway(Wiring.from_state(deployed_state()), recorder, Sqs()), recorder  # type: ignore[arg-type]


def the_difference(runner_event: dict, sample: dict) -> str:
    return json.dumps({"runner": shape(runner_event), "aws_sample": shape(sample)}, indent=1, sort_keys=True)


@pytest.mark.parametrize("query", [{}, {"key": "k-2"}], ids=["no-query", "query"])
@pytest.mark.parametrize("route", API.webhook_routes(), ids=lambda r: r.resource)
def test_runner_gives_the_authorizer_the_event_aws_sends_for_the_webhook_route(runner, route, query):
    api, recorder = runner
    result = api.request("POST", route.resource, headers=HEADERS, query=query, body=b'{"id": "evt_1"}', source_ip=SOURCE_IP)
    assert result.status == 200
    ((code, event),) = [(c, e) for c, e in recorder.events if e.get("type") == "REQUEST"]
    sample = authorizer_event(API, route.resource, headers=HEADERS, query=query,
                              request_id=event["requestContext"]["requestId"], source_ip=SOURCE_IP)
    assert code == "authorizer"
    assert shape(event) == shape(sample), the_difference(event, sample)
    assert event == sample


@pytest.mark.parametrize("route", PROXY_ROUTES, ids=lambda r: f"{r.method} {r.resource}")
def test_runner_gives_each_proxy_function_the_event_aws_sends_for_its_route(runner, route):
    api, recorder = runner
    path = route.resource.replace("{id}", "pi_3MtwBwLkdIwHu7ix28a3tqPa")
    query = {"vendor_id": "vendor-1"} if route.resource == "/transactions" else {}
    body = '{"amount": 1999}' if route.method == "POST" else None
    caller = RunnerCaller(account_id=CALLER.account_id, user=CALLER.user, access_key=CALLER.access_key,
                          user_arn=CALLER.user_arn)
    result = api.request(route.method, path, headers=HEADERS, query=query, body=(body or "").encode(),
                         received_at_ms=1_732_240_000_123, source_ip=SOURCE_IP, caller=caller)
    assert result.status == 200
    ((code, event),) = recorder.events
    sample = proxy_event(API, route.method, path, headers=HEADERS, query=query, body=body, caller=CALLER,
                         request_id=event["requestContext"]["requestId"], request_time_ms=1_732_240_000_123,
                         source_ip=SOURCE_IP, user_agent=HEADERS["User-Agent"])
    assert code == route.handler.split("_handler")[0]
    assert shape(event) == shape(sample), the_difference(event, sample)
    assert event == sample


def test_an_unsigned_request_to_an_iam_route_is_refused_before_the_function(runner):
    api, recorder = runner
    result = api.request("GET", "/status/pi_1", headers={}, query={}, body=b"")
    assert (result.status, json.loads(result.body)) == (403, {"message": "Missing Authentication Token"})
    assert recorder.events == []


def test_an_unknown_resource_is_a_403_as_on_a_rest_api(runner):
    api, _ = runner
    assert api.request("POST", "/webhooks/adyen", headers=HEADERS, query={}, body=b"{}").status == 403


def test_comparison_fails_on_a_field_aws_does_not_send():
    sample = authorizer_event(API, "/webhooks/stripe", headers=HEADERS)
    invented = json.loads(json.dumps(sample))
    invented["pathParameters"] = {"provider": "stripe"}  # what the runner used to send
    assert shape(invented) != shape(sample)
    trimmed = json.loads(json.dumps(sample))
    trimmed["requestContext"]["identity"]["clientCert"] = None
    assert shape(trimmed) != shape(sample)


@pytest.mark.parametrize("route", API.webhook_routes(), ids=lambda r: r.resource)
@pytest.mark.parametrize(("sqs_status", "status", "error"), [(None, 200, None), (400, 500, "queue_rejected"),
                                                              (503, 503, "queue_unavailable")])
def test_a_webhook_route_answers_what_its_deployed_integration_responses_say(route, sqs_status, status, error):
    """The runner answers a queue route with the integration response API Gateway picks for SQS's
    status: the route's declared answer once SQS took the message, the error body otherwise
    (read from the deployed responses, never the runner's own)."""
    recorder = Recorder()
    gateway = ApiGateway(Wiring.from_state(deployed_state()), recorder, Sqs(sqs_status))  # type: ignore[arg-type]
    result = gateway.request("POST", route.resource, headers=HEADERS, query={}, body=b'{"id": "evt_1"}')
    chosen = next(r for r in route.integration_responses if int(r["status_code"]) == status)
    content_type = (chosen.get("response_parameters") or {}).get("method.response.header.Content-Type", "'application/json'")
    assert (result.status, result.body, result.content_type) == (status, chosen["response_templates"][content_type.strip("'")],
                                                                 content_type.strip("'"))
    if error:
        assert json.loads(result.body) == {"received": False, "error": error}
