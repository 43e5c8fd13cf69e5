"""Providers are plug-ins: a provider registered only here (tests/plugins/batchpay.py, several
items per request, each HMAC-signed, answered `[accepted]` as text/plain) and named in the
environment's `providers` gets, from its declarations alone, its webhook route, request template,
gate route, 200 answer, secrets and their grants, and its output; the stack passes terraform
validate. The registry refuses unclear declarations and the settings name what is registered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cdktf import Testing
from infra_synth import by, data_sources, resources
from plugins import batchpay
from test_synth import run_terraform

from constructs.app.environments import load_settings
from constructs.app.settings import SettingsError
from constructs.app.stack import PaymentPlatformStack
from paycore import providers
from paycore.providers import GATE_KEY, Provider, Response

PROVIDERS = ["stripe", "paypal", "batchpay"]


@pytest.fixture(scope="module")
def plugin_stack():
    """A dev stack with batchpay enabled: (stack, synthesized JSON as a dict); batchpay is
    registered only while the stack is built."""
    providers.register(batchpay.PROVIDER)
    try:
        settings = load_settings("dev", {"providers": PROVIDERS}, environ={})
        stack = PaymentPlatformStack(Testing.app(), "dev", settings=settings)
        synthesized = json.loads(Testing.synth(stack))
    finally:
        providers.unregister("batchpay")
    return stack, synthesized


def _function_environment(synthesized: dict, name: str) -> dict:
    return by(json.dumps(synthesized), "aws_lambda_function", function_name=f"payment-{name}-dev")["environment"]["variables"]


def test_the_plugin_gets_its_route_template_and_answer_from_its_declarations(plugin_stack):
    _, synthesized = plugin_stack
    text = json.dumps(synthesized)
    paths = {r["path_part"] for r in resources(text, "aws_api_gateway_resource").values()}
    assert {"stripe", "paypal", "batchpay"} <= paths
    integrations = resources(text, "aws_api_gateway_integration")
    template = next(v for k, v in integrations.items() if k.startswith("ingress_sqs-batchpay"))["request_templates"]["application/json"]
    assert '"provider":"batchpay"' in template and "$!input.path('$.items[0].payment_id')" in template
    responses = resources(text, "aws_api_gateway_integration_response")
    accepted = next(v for k, v in responses.items() if k.startswith("ingress_sqs-batchpay-200"))
    assert accepted["response_templates"] == {"text/plain": "[accepted]"}
    assert accepted["response_parameters"] == {"method.response.header.Content-Type": "'text/plain'"}
    method = next(v for k, v in resources(text, "aws_api_gateway_method_response").items() if k.startswith("ingress_sqs-batchpay-200"))
    assert (method["response_models"], method["response_parameters"]) == (
        {"text/plain": "Empty"}, {"method.response.header.Content-Type": True})
    stripe = next(v for k, v in responses.items() if k.startswith("ingress_sqs-stripe-200"))
    assert stripe["response_templates"] == {"application/json": '{"received": true}'} and "response_parameters" not in stripe


def test_the_gate_the_processor_and_the_outputs_know_the_plugin(plugin_stack):
    _, synthesized = plugin_stack
    routes = json.loads(_function_environment(synthesized, "authorizer")["WEBHOOK_ROUTES"])
    assert routes == {"/webhooks/stripe": "stripe", "/webhooks/paypal": "paypal", "/webhooks/batchpay": "batchpay"}
    assert _function_environment(synthesized, "processor")["ENABLED_PROVIDERS"] == "stripe,paypal,batchpay"
    assert "webhook_url_batchpay" in synthesized["output"]


def test_the_plugin_gets_its_declared_secrets_and_each_function_reads_only_its_own(plugin_stack):
    stack, synthesized = plugin_stack
    names = {s["name"] for s in resources(json.dumps(synthesized), "aws_secretsmanager_secret").values()}
    assert {"payment-webhooks/dev/batchpay/signing", "payment-webhooks/dev/batchpay/gate-key"} <= names
    secrets = stack.configuration.secrets["batchpay"]
    documents = data_sources(json.dumps(synthesized), "aws_iam_policy_document")
    readers = {}
    for key, document in documents.items():
        for statement in document.get("statement", []):
            for kind, secret in secrets.items():
                if f"${{aws_secretsmanager_secret.{secret.friendly_unique_id}.arn}}" in statement.get("resources", []):
                    # compute_{function}_..., or the stack's own operator-role-document
                    readers.setdefault(kind, set()).add(key.split("_")[1] if "_" in key else key.removesuffix("-document"))
    # the operators' replay tools verify what they re-enqueue with the signing secrets too
    assert readers == {"signing": {"processor", "operator-role"}, "gate_key": {"authorizer"}}


@pytest.mark.slow
def test_the_stack_with_the_plugin_passes_terraform_validate(plugin_stack, tmp_path):
    stack, _ = plugin_stack
    outdir = Path(Testing.full_synth(stack))
    work = tmp_path / "dev"
    shutil.copytree(next(outdir.glob("**/stacks/dev")), work)
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = json.loads(run_terraform(["validate", "-json", "-no-color"], work).stdout)
    assert validate["valid"] is True, validate["diagnostics"]


def test_settings_name_a_provider_only_once_it_is_registered():
    with pytest.raises(SettingsError) as refused:
        load_settings("dev", {"providers": PROVIDERS}, environ={})
    assert ("dev: providers[2]: must be a webhook provider of paycore.providers (stripe, paypal; another is its "
            "module paycore.providers.<name> or providers.register()), got 'batchpay'") in str(refused.value)
    providers.register(batchpay.PROVIDER)
    try:
        assert load_settings("dev", {"providers": PROVIDERS}, environ={}).providers == tuple(PROVIDERS)
        assert providers.webhook_names() == ("stripe", "paypal", "batchpay")
    finally:
        providers.unregister("batchpay")
    assert "batchpay" not in providers.names()


def test_register_lists_every_problem_of_a_declaration():
    class Unclear(Provider):
        name = "Bad Name"
        route_path = "/Webhooks/{id}"
        signature_headers = ("X-Sig",)
        group_id_path = "data.id"
        response = Response(body="${oops}", content_type="text plain")
        secrets = ()
        batch = True

    with pytest.raises(ValueError) as refused:
        providers.register(Unclear())
    message = str(refused.value)
    for part in ("name must match", "route_path must be a literal lower-case resource path", "signature_headers",
                 "event_id_path must be a JSONPath", "group_id_path must be a JSONPath", "response must be a Response",
                 "secrets must include gate-key", "secret_required must be true exactly when",
                 "a batch provider must implement items", "a batch provider must implement verify_item"):
        assert part in message, part


def test_register_refuses_an_internal_kind_with_a_webhook_and_a_transmission_header_it_does_not_keep():
    class Confused(batchpay.BatchPayProvider):
        name = "confused"
        internal_kind = "webhook"  # not a kind of paycore.internal_envelope, and the provider has a route
        transmission_id_header = "x-transmission-id"  # not one of its signature headers

    with pytest.raises(ValueError) as refused:
        providers.register(Confused())
    message = str(refused.value)
    assert "internal_kind must be one of direct, fetched, for a provider without a webhook route" in message
    assert "transmission_id_header must be one of signature_headers" in message
    direct, paypal = providers.get("direct"), providers.get("paypal")
    assert (direct.internal_kind, direct.transmission_id_header) == ("direct", None)
    assert (paypal.internal_kind, paypal.transmission_id_header) == (None, "paypal-transmission-id")


def test_a_name_is_registered_once_and_unknown_names_are_refused():
    class Impostor(batchpay.BatchPayProvider):
        name = "stripe"

    with pytest.raises(ValueError, match="name 'stripe' is already registered"):
        providers.register(Impostor())
    assert providers.get("stripe").response == Response()
    for name in ("adyen", "base", "../stripe", "Stripe"):
        with pytest.raises(providers.UnknownProvider):
            providers.get(name)


def test_built_in_providers_declare_their_shapes():
    stripe, paypal, direct = (providers.get(n) for n in ("stripe", "paypal", "direct"))
    assert (stripe.path, paypal.path, direct.path) == ("/webhooks/stripe", "/webhooks/paypal", None)
    assert (stripe.batch, paypal.batch, direct.batch) == (False, False, False)
    assert paypal.signing_secret().value("WH-2", {"webhook_id": "WH-1"}, rotate=True) == {
        "webhook_id": "WH-2", "previous_webhook_id": "WH-1"}
    assert stripe.signing_secret().value("whsec_2", {"current": "whsec_1"}, rotate=False) == {"current": "whsec_2"}
    assert direct.secrets == () and GATE_KEY in stripe.secrets
