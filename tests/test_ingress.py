"""Ingress: routes are data. The platform's webhook routes go straight to the ingest FIFO queue with
the shared envelope template, the rest is IAM-authenticated Lambda; WAF counts the 8 KB body rule
and enforces our own maximum."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.api_gateway_authorizer import ApiGatewayAuthorizer
from cdktf_cdktf_provider_aws.api_gateway_domain_name import ApiGatewayDomainName
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage
from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation

import stand_ins
from constructs.app.request_models import NOTIFY_REQUEST_SCHEMA, PAYMENT_REQUEST_SCHEMA
from constructs.app.request_templates import render_request_template
from constructs.app.webhook_routes import ROUTES_VARIABLE
from constructs.ingress import (
    ApiLogOptions,
    CorsOptions,
    LambdaRoute,
    LambdaTarget,
    QueueRouteOptions,
    SqsRoute,
    StageOptions,
    WafOptions,
    WebhookIngress,
    gated_routes,
    terraform_literal,
    waf_inspection_limit_kb,
)
from infra_synth import resources, small_stack, stack, synth


def _acl_rules(synthesized: str) -> list[dict]:
    acl = next(iter(resources(synthesized, Wafv2WebAcl.TF_RESOURCE_TYPE).values()))
    return acl["rule"]


def _sqs_integrations(synthesized: str) -> list[dict]:
    return [i for i in resources(synthesized, ApiGatewayIntegration.TF_RESOURCE_TYPE).values() if i["type"] == "AWS"]


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_webhook_method_uses_the_shared_request_template(provider):
    dev = synth("dev")
    template = terraform_literal(render_request_template(provider))
    assert Testing.to_have_resource_with_properties(dev, ApiGatewayIntegration.TF_RESOURCE_TYPE, {
        "type": "AWS",
        "passthrough_behavior": "NEVER",
        "integration_http_method": "POST",
        "request_parameters": {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        "request_templates": {"application/json": template},
    })
    # Terraform reads `$${` back as `${`: the deployed template is the rendered one, byte for byte
    assert template.replace("$${", "${") == render_request_template(provider)


def test_webhooks_go_to_the_ingest_queue_through_the_sqs_service_path():
    integrations = _sqs_integrations(synth("dev"))
    assert len(integrations) == 2
    for integration in integrations:
        assert integration["uri"].startswith("arn:aws:apigateway:us-east-1:sqs:path/${element(split(\":\", ")
        assert integration["credentials"].startswith("${aws_iam_role.ingress_sqs-role")
    role_policy = next(p for p in resources(synth("dev"), "aws_iam_role_policy").values()
                       if p["name"] == "send-to-ingest-queue")
    document = json.loads(role_policy["policy"])
    assert {tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],)
            for s in document["Statement"]} == {("sqs:SendMessage",), ("kms:GenerateDataKey", "kms:Decrypt")}


def test_queue_errors_map_to_5xx_so_providers_retry():
    responses = [r for r in resources(synth("dev"), "aws_api_gateway_integration_response").values()
                 if r.get("selection_pattern")]
    patterns = {(r["selection_pattern"], r["status_code"]) for r in responses}
    assert patterns == {(r"4\d{2}", "500"), (r"5\d{2}", "503")}
    assert Testing.to_have_resource_with_properties(synth("dev"), "aws_api_gateway_integration_response", {
        "status_code": "200", "response_templates": {"application/json": '{"received": true}'}})


def test_webhook_authorizer_is_a_request_authorizer_without_cache():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, ApiGatewayAuthorizer.TF_RESOURCE_TYPE, {
        "type": "REQUEST", "identity_source": "context.resourcePath", "authorizer_result_ttl_in_seconds": 0})
    assert not Testing.to_have_resource_with_properties(dev, ApiGatewayAuthorizer.TF_RESOURCE_TYPE, {
        "identity_source": "method.request.header.X-Webhook-Key"})
    permission = next(p for p in resources(dev, "aws_lambda_permission").values()
                      if "/authorizers/" in p.get("source_arn", ""))
    assert permission["principal"] == "apigateway.amazonaws.com"


def test_every_non_webhook_route_requires_iam():
    methods = resources(synth("dev"), ApiGatewayMethod.TF_RESOURCE_TYPE).values()
    auth = {m["http_method"]: set() for m in methods}
    for m in methods:
        auth[m["http_method"]].add(m["authorization"])
    assert auth["GET"] == {"AWS_IAM"} and auth["OPTIONS"] == {"NONE"}
    assert auth["POST"] == {"AWS_IAM", "CUSTOM"}
    assert sum(1 for m in methods if m["authorization"] == "CUSTOM") == 2
    assert all("request_validator_id" in m for m in methods)


def test_request_models_enforce_p14():
    assert PAYMENT_REQUEST_SCHEMA["properties"]["amount"]["minimum"] == 1
    assert "EUR" in PAYMENT_REQUEST_SCHEMA["properties"]["currency"]["enum"]
    assert NOTIFY_REQUEST_SCHEMA["properties"]["template"]["enum"] == ["receipt", "refund", "reminder"]
    models = {m["name"]: json.loads(m["schema"]) for m in resources(synth("dev"), "aws_api_gateway_model").values()}
    assert models["PaymentRequest"]["additionalProperties"] is False
    assert models["NotifyRequest"]["properties"]["email"]["format"] == "email"


def test_stage_has_tracing_json_access_logs_and_throttling():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, ApiGatewayStage.TF_RESOURCE_TYPE, {
        "stage_name": "v1", "xray_tracing_enabled": True, "cache_cluster_enabled": False})
    stage = next(iter(resources(dev, ApiGatewayStage.TF_RESOURCE_TYPE).values()))
    assert json.loads(stage["access_log_settings"]["format"])["requestId"] == "$context.requestId"
    assert Testing.to_have_resource_with_properties(dev, "aws_api_gateway_method_settings", {
        "method_path": "*/*", "settings": {"throttling_rate_limit": 10000, "caching_enabled": False}})
    prod_stage = next(iter(resources(synth("prod"), ApiGatewayStage.TF_RESOURCE_TYPE).values()))
    assert prod_stage["variables"]["environment"] == "prod"


def test_access_logs_are_infrequent_access_on_prod_only():
    """Nothing reads the access log group with a metric filter or a subscription: the class is
    only valid so (README "Cost per million webhooks")."""
    prod_synth = synth("prod")
    prod = resources(prod_synth, "aws_cloudwatch_log_group")
    access = [key for key, g in prod.items() if g["name"].startswith("/aws/apigateway/") and g["name"].endswith("/access")]
    assert len(access) == 1 and prod[access[0]]["log_group_class"] == "INFREQUENT_ACCESS"
    assert [key for key, g in prod.items() if "log_group_class" in g] == access
    assert not [g for g in resources(synth("dev"), "aws_cloudwatch_log_group").values() if "log_group_class" in g]
    readers = [*resources(prod_synth, "aws_cloudwatch_log_metric_filter").values(),
               *resources(prod_synth, "aws_cloudwatch_log_subscription_filter").values()]
    function_group = next(key for key, g in prod.items() if "processor" in g["name"])
    assert [r for r in readers if f"aws_cloudwatch_log_group.{function_group}." in json.dumps(r)]  # how a reader names its group
    assert not [r for r in readers if f"aws_cloudwatch_log_group.{access[0]}." in json.dumps(r)]


def test_fails_when_the_access_log_class_is_unknown():
    with pytest.raises(ValueError, match="logs.access_log_class must be one of STANDARD, INFREQUENT_ACCESS, got 'COLD'"):
        _api(logs=ApiLogOptions(kms_key_arn="k", access_log_class="COLD"))


def test_deployment_trigger_is_stable_across_synths():
    first = next(iter(resources(synth("dev"), "aws_api_gateway_deployment").values()))
    again = next(iter(resources(synth("dev", api={"waf_rate_limit": 100_001}), "aws_api_gateway_deployment").values()))
    assert first["triggers"]["definition"] == again["triggers"]["definition"]
    assert first["lifecycle"]["create_before_destroy"] is True


def test_waf_counts_the_8kb_body_rule_and_blocks_only_above_our_maximum():
    rules = {r["name"]: r for r in _acl_rules(synth("dev"))}
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"][0]["managed_rule_group_statement"][0]
    assert common["rule_action_override"] == [{"name": "SizeRestrictions_BODY", "action_to_use": [{"count": [{}]}]}]
    body = rules["BodyTooLarge"]["statement"][0]["size_constraint_statement"][0]
    assert body["size"] == 65_536 > 8 * 1024  # a 8 KB+ webhook is not blocked
    assert body["field_to_match"] == [{"body": [{"oversize_handling": "MATCH"}]}]
    assert rules["BodyTooLarge"]["action"] == [{"block": [{"custom_response": [{"response_code": 413}]}]}]
    assert {"AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList",
            "RateLimitPerIp"} <= set(rules)
    rate = rules["RateLimitPerIp"]["statement"][0]["rate_based_statement"][0]
    assert rate["limit"] == 100_000 and rate["aggregate_key_type"] == "IP"
    assert Testing.to_have_resource_with_properties(synth("dev"), Wafv2WebAcl.TF_RESOURCE_TYPE, {
        "association_config": {"request_body": [{"api_gateway": {"default_size_inspection_limit": "KB_64"}}]}})


def test_waf_inspection_limit_covers_the_maximum():
    assert waf_inspection_limit_kb(8_192) == 16 and waf_inspection_limit_kb(16_385) == 32
    assert waf_inspection_limit_kb(65_536) == 64


def test_waf_logs_redact_the_gate_key_and_use_the_required_group_name():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, "aws_cloudwatch_log_group", {
        "name": "aws-waf-logs-payments-dev"})
    logging = next(iter(resources(dev, "aws_wafv2_web_acl_logging_configuration").values()))
    assert {"single_header": {"name": "x-webhook-key"}} in logging["redacted_fields"]
    assert Testing.to_have_resource(dev, Wafv2WebAclAssociation.TF_RESOURCE_TYPE)
    assert Testing.to_have_resource(synth("local"), Wafv2WebAclAssociation.TF_RESOURCE_TYPE)  # moto applies it
    switched_off = synth("dev", disabled_features={"waf": "switched off to test the switch"})
    assert not Testing.to_have_resource(switched_off, Wafv2WebAcl.TF_RESOURCE_TYPE)


def test_waf_logs_only_blocked_requests_unless_the_setting_adds_counted_ones():
    for environment in ("dev", "prod", "local"):
        logging = next(iter(resources(synth(environment), "aws_wafv2_web_acl_logging_configuration").values()))
        assert logging["logging_filter"] == {"default_behavior": "DROP", "filter": [{
            "behavior": "KEEP", "requirement": "MEETS_ANY", "condition": [{"action_condition": {"action": "BLOCK"}}]}]}
    counted = synth("dev", api={"waf_log_actions": ["BLOCK", "COUNT"]})
    logging = next(iter(resources(counted, "aws_wafv2_web_acl_logging_configuration").values()))
    assert logging["logging_filter"]["filter"][0]["condition"] == [
        {"action_condition": {"action": "BLOCK"}}, {"action_condition": {"action": "COUNT"}}]
    every_request = synth("dev", api={"waf_log_actions": []})
    logging = next(iter(resources(every_request, "aws_wafv2_web_acl_logging_configuration").values()))
    assert "logging_filter" not in logging


def test_custom_domain_is_regional_tls_1_2_on_prod_only():
    assert Testing.to_have_resource_with_properties(synth("prod"), ApiGatewayDomainName.TF_RESOURCE_TYPE, {
        "domain_name": "payments.example.com", "security_policy": "TLS_1_2",
        "endpoint_configuration": {"types": ["REGIONAL"]}})
    assert not Testing.to_have_resource(synth("dev"), ApiGatewayDomainName.TF_RESOURCE_TYPE)


def _api(sqs_routes=None, waf_fields: dict | None = None, **overrides):
    """A small API of stand-ins; `sqs_routes` replaces the queue routes, `waf_fields` fields of the WAF options."""
    st = small_stack()
    fn = stand_ins.function(st, "authorizer")
    webhook = SqsRoute(route_id="stripe", path="/webhooks/stripe", request_template="Action=SendMessage",
                       request_parameters={"method.request.querystring.key": False})
    options = dict(name="payments-api-test", region="us-east-1",
                   queue_routes=QueueRouteOptions(routes=sqs_routes or (webhook,),
                                                  queue_arn=stand_ins.queue(st, "webhooks", fifo=True).arn,
                                                  queue_kms_key_arn=stand_ins.key(st, "sqs").arn,
                                                  authorizer=LambdaTarget(fn.function_name, fn.invoke_arn)),
                   logs=ApiLogOptions(kms_key_arn=stand_ins.key(st, "logs").arn),
                   waf=WafOptions(**(waf_fields or {})))
    options.update(overrides)
    return st, WebhookIngress(st, "api", **options)


def test_a_small_api_synthesizes_with_stand_ins():
    st, api = _api()
    out = Testing.synth(st)
    assert Testing.to_have_resource_with_properties(out, "aws_api_gateway_resource", {"path_part": "stripe"})
    assert not Testing.to_have_resource_with_properties(out, "aws_api_gateway_resource", {"path_part": "paypal"})
    assert set(api.route_urls) == {"/webhooks/stripe"}
    # the WAF log group is named after the API unless the options name it
    assert Testing.to_have_resource_with_properties(out, "aws_cloudwatch_log_group",
                                                    {"name": "aws-waf-logs-payments-api-test"})


def test_no_waf_and_no_queue_routes_leave_out_the_web_acl_and_the_authorizer():
    st, api = _api(waf=None, queue_routes=None, lambda_routes=(_route("GET", "/ping"),))
    out = Testing.synth(st)
    assert api.web_acl is None and api.authorizer is None and api.api_role is None
    assert not Testing.to_have_resource(out, "aws_wafv2_web_acl")
    assert not Testing.to_have_resource(out, ApiGatewayAuthorizer.TF_RESOURCE_TYPE)


def _route(method: str, path: str, **options) -> LambdaRoute:
    return LambdaRoute(method=method, path=path, target=LambdaTarget("fn", "arn:aws:lambda:::function:fn"), **options)


def test_fails_when_routes_are_malformed_and_reports_all():
    bad = SqsRoute(route_id="Stripe Webhooks", path="webhooks", request_template="x")
    with pytest.raises(ValueError) as error:
        _api(sqs_routes=(bad,), lambda_routes=(_route("FETCH", "/a", authorization="CUSTOM", request_model="Nope"),
                                               _route("GET", "/b"), _route("GET", "/b")))
    message = str(error.value)
    for fragment in ("route_id must be a lower-case slug", "route path must look like /a/{b}/c, got 'webhooks'",
                     "method must be one of GET, POST", "authorization must be 'AWS_IAM' or 'NONE', got 'CUSTOM'",
                     "request_model 'Nope' is not one of request_models", "must not repeat a method and path"):
        assert fragment in message, message


def test_fails_when_a_queue_route_path_is_templated():
    templated = SqsRoute(route_id="stripe", path="/webhooks/{provider}", request_template="x")
    with pytest.raises(ValueError, match=r"queue_routes.routes: paths must be literal .* got \['/webhooks/\{provider\}'\]"):
        _api(sqs_routes=(templated,))


def test_gated_routes_name_each_queue_route_by_its_resource_path():
    routes = (SqsRoute(route_id="a", path="/in/a", request_template="x"),
              SqsRoute(route_id="b", path="/in/b", request_template="y"))
    assert gated_routes(routes) == {"/in/a": "a", "/in/b": "b"}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_authorizer_knows_exactly_the_webhook_routes_the_api_builds(environment):
    """One declaration per provider: the resource path, the request template's provider and the
    authorizer's route table (its environment) agree for every route the authorizer gates."""
    out = json.loads(synth(environment))
    platform = stack(environment)
    functions = out["resource"]["aws_lambda_function"]
    authorizer_ref = next(iter(resources(synth(environment), ApiGatewayAuthorizer.TF_RESOURCE_TYPE).values()))["authorizer_uri"]
    authorizer = functions[authorizer_ref.split(".")[1]]
    declared = json.loads(authorizer["environment"]["variables"][ROUTES_VARIABLE])
    assert "ENABLED_PROVIDERS" not in authorizer["environment"]["variables"]
    resources_by_id = out["resource"]["aws_api_gateway_resource"]

    def path_of(reference: str) -> str:
        if "aws_api_gateway_rest_api" in reference:
            return ""
        resource = resources_by_id[reference.split(".")[1]]
        return f"{path_of(resource['parent_id'])}/{resource['path_part']}"

    gated = {}
    for method in out["resource"]["aws_api_gateway_method"].values():
        if method["authorization"] == "CUSTOM":
            (integration,) = [i for i in out["resource"]["aws_api_gateway_integration"].values()
                              if (i["resource_id"], i["http_method"]) == (method["resource_id"], method["http_method"])]
            template = integration["request_templates"]["application/json"]
            gated[path_of(method["resource_id"])] = template.split('"provider":"', 1)[1].split('"', 1)[0]
    assert gated == declared == {f"/webhooks/{p}": p for p in platform.settings.providers}
    assert platform.webhook_routes and {r.path: r.route_id for r in platform.webhook_routes} == declared


def test_fails_when_queue_routes_name_no_route():
    with pytest.raises(ValueError, match="queue_routes.routes must name at least one route, got none"):
        st, fn = small_stack(), LambdaTarget("gate", "arn:aws:lambda:::function:gate")
        WebhookIngress(st, "api", name="a", region="us-east-1", logs=ApiLogOptions(kms_key_arn="k"),
                       queue_routes=QueueRouteOptions(routes=(), queue_arn="q", queue_kms_key_arn="k", authorizer=fn))


def test_fails_when_the_body_limit_exceeds_what_waf_can_inspect():
    with pytest.raises(ValueError, match="waf.max_body_bytes must be 1024..65536 .* got 262144"):
        _api(waf_fields={"max_body_bytes": 262_144})


def test_fails_when_the_waf_log_group_lacks_the_required_prefix():
    with pytest.raises(ValueError, match="waf.log_group_name must start with 'aws-waf-logs-'"):
        _api(waf_fields={"log_group_name": "payments-waf"})


def test_fails_when_a_waf_log_action_is_unknown():
    with pytest.raises(ValueError, match="waf.log_actions must be among ALLOW, BLOCK, .*got \\['DENY'\\]"):
        _api(waf_fields={"log_actions": ("DENY",)})


def test_fails_when_throttling_is_out_of_range():
    with pytest.raises(ValueError, match="stage.throttle_rate_limit_rps must be 1..100000, got 0"):
        _api(stage=StageOptions(throttle_rate_limit_rps=0))


def test_fails_when_waf_rate_limit_is_out_of_range():
    with pytest.raises(ValueError, match="waf.rate_limit_per_5min must be 100..2000000000, got 10"):
        _api(waf_fields={"rate_limit_per_5min": 10})


def test_fails_when_cors_origin_is_not_https():
    with pytest.raises(ValueError, match="cors.allow_origin must be '\\*' or an https:// origin, got 'http://x'"):
        _api(cors=CorsOptions(allow_origin="http://x"))


def test_fails_when_log_retention_is_not_a_cloudwatch_value():
    with pytest.raises(ValueError, match="logs.retention_in_days must be a CloudWatch Logs retention such as 30, got 31"):
        _api(logs=ApiLogOptions(kms_key_arn="k", retention_in_days=31))


def test_fails_when_the_account_logging_role_has_no_account():
    with pytest.raises(ValueError, match="logs.manage_account_logging needs logs.account_id"):
        _api(logs=ApiLogOptions(kms_key_arn="k", manage_account_logging=True))


def test_notify_schema_is_the_handlers_definition():
    from paycore import notification

    email = NOTIFY_REQUEST_SCHEMA["properties"]["email"]
    assert email["pattern"] == notification._EMAIL.pattern
    assert NOTIFY_REQUEST_SCHEMA["properties"]["template"]["enum"] == list(notification.TEMPLATES)


def test_deployment_redeploys_when_an_integration_target_changes():
    deployment = next(iter(resources(synth("dev"), "aws_api_gateway_deployment").values()))
    trigger = deployment["triggers"]["integrations"]
    assert trigger.startswith("${sha1(jsonencode([aws_sqs_queue.") and trigger.count("${") == 1
    assert trigger.count(".invoke_arn") == 5


def test_query_functions_strip_the_custom_domains_base_path():
    """Through a base path mapping API Gateway's `path` starts with it; the functions that route
    on the path (Powertools) get it, the others do not."""
    domain = {"domain_name": "payments.example.com", "base_path": "payments",
              "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0f3c1d6e-8b1a-4c55-9a3e-2b7d4c9e6f10"}
    functions = resources(synth("prod", custom_domain=domain), "aws_lambda_function").values()
    with_base = {f["handler"] for f in functions if f["environment"]["variables"].get("API_BASE_PATH") == "/payments"}
    assert with_base == {"reader_handler.handler", "status_handler.handler", "manual_notify_handler.handler"}
    plain = resources(synth("prod"), "aws_lambda_function").values()
    assert not any("API_BASE_PATH" in f["environment"]["variables"] for f in plain)


def test_fails_when_the_base_path_is_the_first_part_of_a_query_route():
    domain = {"domain_name": "payments.example.com", "base_path": "status",
              "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0f3c1d6e-8b1a-4c55-9a3e-2b7d4c9e6f10"}
    with pytest.raises(ValueError, match=r"custom_domain.base_path 'status' is the first part of \['GET /status/\{id\}'\]"):
        synth("prod", custom_domain=domain)
