"""The webhook gate (REQUEST authorizer) against moto's Secrets Manager."""
from __future__ import annotations

import pytest
from handler_constants import GATE_KEY, GATE_KEY_PREVIOUS

import authorizer_handler

API = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"


def request(provider="stripe", *, header=None, query=None, header_name="X-Webhook-Key", path=None):
    return {
        "type": "REQUEST",
        "methodArn": f"{API}/POST/webhooks/{path or provider}",
        "resource": "/webhooks/{provider}",
        "path": f"/webhooks/{provider}",
        "httpMethod": "POST",
        "headers": {header_name: header} if header is not None else {"Content-Type": "application/json"},
        "queryStringParameters": {"key": query} if query is not None else None,
        "pathParameters": {"provider": provider},
        "requestContext": {"requestId": "req-auth-1"},
    }


def statement(result):
    return result["policyDocument"]["Statement"][0]


def test_key_in_header_allows_only_that_providers_route(aws, lambda_context):
    result = authorizer_handler.handler(request(header=GATE_KEY), lambda_context)
    assert statement(result) == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{API}/POST/webhooks/stripe"}
    assert result["context"] == {"provider": "stripe"}


def test_key_in_query_is_accepted(aws, lambda_context):
    assert statement(authorizer_handler.handler(request(query=GATE_KEY), lambda_context))["Effect"] == "Allow"


def test_header_name_is_case_insensitive(aws, lambda_context):
    result = authorizer_handler.handler(request(header=GATE_KEY, header_name="x-webhook-key"), lambda_context)
    assert statement(result)["Effect"] == "Allow"


def test_previous_key_is_still_accepted_during_rotation(aws, lambda_context):
    assert statement(authorizer_handler.handler(request(header=GATE_KEY_PREVIOUS), lambda_context))["Effect"] == "Allow"


def test_wrong_key_is_denied(aws, lambda_context):
    result = authorizer_handler.handler(request(header=GATE_KEY + "x"), lambda_context)
    assert statement(result)["Effect"] == "Deny"


def test_another_providers_key_does_not_open_this_route(aws, lambda_context):
    aws.secretsmanager.put_secret_value(SecretId="payment-webhooks/test/paypal/gate-key", SecretString='{"current": "gk_paypal_only_000000"}')
    result = authorizer_handler.handler(request("stripe", header="gk_paypal_only_000000"), lambda_context)
    assert statement(result)["Effect"] == "Deny"


def test_missing_key_raises_unauthorized_for_a_401(aws, lambda_context):
    with pytest.raises(Exception) as caught:
        authorizer_handler.handler(request(), lambda_context)
    assert str(caught.value) == "Unauthorized"


def test_empty_key_counts_as_missing(aws, lambda_context):
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer_handler.handler(request(header="", query=""), lambda_context)


def test_unknown_or_disabled_provider_is_denied(aws, lambda_context):
    for provider in ("adyen", "direct", "../stripe"):
        result = authorizer_handler.handler(request(provider, header=GATE_KEY), lambda_context)
        assert statement(result)["Effect"] == "Deny", provider


def test_unreadable_secret_fails_closed(aws, lambda_context):
    aws.secretsmanager.delete_secret(SecretId="payment-webhooks/test/stripe/gate-key", ForceDeleteWithoutRecovery=True)
    assert statement(authorizer_handler.handler(request(header=GATE_KEY), lambda_context))["Effect"] == "Deny"


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
