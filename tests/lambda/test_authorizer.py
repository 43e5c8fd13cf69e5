"""The webhook gate (REQUEST authorizer) against moto's Secrets Manager, with the input AWS sends
(tests/apigateway_events.py: the SAM sample filled for each webhook route of the synthesized dev
stack) and the route declarations the stack gives the function (its WEBHOOK_ROUTES)."""
from __future__ import annotations

import importlib
import json

import pytest
from apigateway_events import authorizer_event, synthesized_api
from handler_constants import GATE_KEY, GATE_KEY_PREVIOUS

import authorizer_handler

API = synthesized_api("dev")
WEBHOOKS = [route.resource for route in API.webhook_routes()]
#: `pathParameters` (and every other empty map) of a literal route: {} as in AWS's sample, or null
EMPTY_FORMS = ["{}", None]
PAYPAL_ONLY_KEY = "gk_paypal_only_000000"


@pytest.fixture(autouse=True)
def deployed_environment(monkeypatch):
    """The handler loaded with the authorizer's environment exactly as the synthesized stack sets it."""
    for name, value in API.functions["authorizer_handler.handler"].items():
        if name.startswith("WEBHOOK_") or name == "ENABLED_PROVIDERS":
            monkeypatch.setenv(name, value)
    importlib.reload(authorizer_handler)


def request(resource="/webhooks/stripe", *, header=None, query=None, header_name="X-Webhook-Key", empty="{}", **kw):
    headers = {"Content-Type": "application/json", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
    if header is not None:
        headers[header_name] = header
    return authorizer_event(API, resource, headers=headers, query={"key": query} if query is not None else None,
                            empty=empty, **kw)


def statement(result):
    (only,) = result["policyDocument"]["Statement"]
    return only


def provider_of(resource):
    return json.loads(API.functions["authorizer_handler.handler"]["WEBHOOK_ROUTES"])[resource]


def test_the_stack_declares_one_gated_route_per_provider():
    assert WEBHOOKS == ["/webhooks/paypal", "/webhooks/stripe"]
    assert all(provider_of(r) == r.rsplit("/", 1)[1] for r in WEBHOOKS)


@pytest.mark.parametrize("empty", EMPTY_FORMS)
@pytest.mark.parametrize("resource", WEBHOOKS)
def test_valid_key_allows_exactly_its_providers_route_when_aws_sends_no_path_parameter(aws, lambda_context, resource, empty):
    event = request(resource, header=GATE_KEY, empty=empty)
    assert event["pathParameters"] == ({} if empty else None)
    result = authorizer_handler.handler(event, lambda_context)
    assert statement(result) == {"Action": "execute-api:Invoke", "Effect": "Allow",
                                 "Resource": API.method_arn("POST", resource)}
    assert result["context"] == {"provider": provider_of(resource)}
    assert result["principalId"] == f"webhook-{provider_of(resource)}"


@pytest.mark.parametrize("empty", EMPTY_FORMS)
@pytest.mark.parametrize("resource", WEBHOOKS)
def test_key_in_query_is_accepted(aws, lambda_context, resource, empty):
    result = authorizer_handler.handler(request(resource, query=GATE_KEY, empty=empty), lambda_context)
    assert statement(result)["Effect"] == "Allow"


@pytest.mark.parametrize("empty", EMPTY_FORMS)
@pytest.mark.parametrize("resource", WEBHOOKS)
def test_wrong_key_is_denied_where_the_right_key_is_allowed(aws, lambda_context, resource, empty):
    assert statement(authorizer_handler.handler(request(resource, header=GATE_KEY, empty=empty), lambda_context))["Effect"] == "Allow"
    result = authorizer_handler.handler(request(resource, header=GATE_KEY + "x", empty=empty), lambda_context)
    assert statement(result) == {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": API.method_arn("POST", resource)}
    assert result["context"] == {"provider": ""}


@pytest.mark.parametrize("empty", EMPTY_FORMS)
def test_another_providers_key_does_not_open_this_route(aws, lambda_context, empty):
    aws.secretsmanager.put_secret_value(SecretId="payment-webhooks/test/paypal/gate-key",
                                        SecretString=json.dumps({"current": PAYPAL_ONLY_KEY}))
    paypal = authorizer_handler.handler(request("/webhooks/paypal", header=PAYPAL_ONLY_KEY, empty=empty), lambda_context)
    assert statement(paypal) == {"Action": "execute-api:Invoke", "Effect": "Allow",
                                 "Resource": API.method_arn("POST", "/webhooks/paypal")}
    stripe = authorizer_handler.handler(request("/webhooks/stripe", header=PAYPAL_ONLY_KEY, empty=empty), lambda_context)
    assert statement(stripe)["Effect"] == "Deny"


@pytest.mark.parametrize("empty", EMPTY_FORMS)
@pytest.mark.parametrize("resource", WEBHOOKS)
def test_missing_key_raises_unauthorized_for_a_401_where_a_key_is_allowed(aws, lambda_context, resource, empty):
    assert statement(authorizer_handler.handler(request(resource, query=GATE_KEY, empty=empty), lambda_context))["Effect"] == "Allow"
    with pytest.raises(Exception) as caught:
        authorizer_handler.handler(request(resource, empty=empty), lambda_context)
    assert str(caught.value) == "Unauthorized"


def test_header_name_is_case_insensitive(aws, lambda_context):
    result = authorizer_handler.handler(request(header=GATE_KEY, header_name="x-webhook-key"), lambda_context)
    assert statement(result)["Effect"] == "Allow"


def test_previous_key_is_still_accepted_during_rotation(aws, lambda_context):
    assert statement(authorizer_handler.handler(request(header=GATE_KEY_PREVIOUS), lambda_context))["Effect"] == "Allow"


def test_empty_key_counts_as_missing(aws, lambda_context):
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer_handler.handler(request(header="", query=""), lambda_context)


def test_an_invented_provider_path_parameter_opens_nothing(aws, lambda_context):
    """What the local runner used to invent: a `provider` path parameter naming another route."""
    event = request("/webhooks/stripe", header=GATE_KEY)
    event["pathParameters"] = {"provider": "paypal"}
    assert statement(authorizer_handler.handler(event, lambda_context))["Resource"] == API.method_arn("POST", "/webhooks/stripe")


@pytest.mark.parametrize("tamper", [
    {"resource": "/webhooks/adyen"},  # an undeclared route
    {"methodArn": API.method_arn("POST", "/webhooks/paypal")},  # the ARN of another route
    {"methodArn": API.method_arn("GET", "/webhooks/stripe")},  # another method
    {"httpMethod": "GET"},
    {"requestContext": {"resourcePath": "/webhooks/paypal"}},
    {"resource": None},
])
def test_event_naming_no_single_declared_route_is_denied(aws, lambda_context, tamper):
    event = request("/webhooks/stripe", header=GATE_KEY)
    for key, value in tamper.items():
        if isinstance(value, dict):
            event[key].update(value)
        else:
            event[key] = value
    assert statement(authorizer_handler.handler(event, lambda_context))["Effect"] == "Deny"


def test_unreadable_secret_fails_closed(aws, lambda_context):
    aws.secretsmanager.delete_secret(SecretId="payment-webhooks/test/stripe/gate-key", ForceDeleteWithoutRecovery=True)
    assert statement(authorizer_handler.handler(request(header=GATE_KEY), lambda_context))["Effect"] == "Deny"


@pytest.mark.parametrize("text", ["not json", "[]", '{"webhooks/stripe": "stripe"}', '{"/webhooks/{p}": "stripe"}',
                                  '{"/webhooks/stripe": "Stripe!"}', '{"/webhooks/stripe": 1}'])
def test_fails_when_the_route_declarations_are_malformed(text):
    with pytest.raises(ValueError, match="WEBHOOK_ROUTES"):
        authorizer_handler.load_routes(text)


def test_gate_keys_are_cached_between_invocations(aws, lambda_context):
    calls = []
    client = authorizer_handler.secrets._provider.client
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: calls.append(1), unique_id="count-gsv")
    try:
        for _ in range(3):
            authorizer_handler.handler(request(header=GATE_KEY), lambda_context)
    finally:
        client.meta.events.unregister("before-call.secrets-manager.GetSecretValue", unique_id="count-gsv")
    assert len(calls) == 1


def test_key_comparison_checks_every_valid_key():
    assert authorizer_handler.key_matches("b", ["a", "b"])
    assert not authorizer_handler.key_matches("c", ["a", "b"])
    assert not authorizer_handler.key_matches("é", ["a"])
