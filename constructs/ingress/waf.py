"""The ingress WAF: managed rule groups, a per-IP rate rule and a body-size rule (see the ingress
docstring for why each), with logging that redacts the gate key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclAssociationConfig,
    Wafv2WebAclAssociationConfigRequestBody,
    Wafv2WebAclAssociationConfigRequestBodyApiGateway,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationLoggingFilter,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilter,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition,
    Wafv2WebAclLoggingConfigurationLoggingFilterFilterConditionActionCondition,
    Wafv2WebAclLoggingConfigurationRedactedFields,
)
from constructs import Construct

from constructs.core.limits import WAF_BODY_INSPECTION_STEPS_KB
#: The requests WAF logs by default: what it blocked (constructs.core.WAF_LOG_ACTIONS). COUNT would
#: log nearly every webhook: the anonymous-IP group's HostingProviderIPList rule is overridden to
#: count, and providers send from hosting ranges.
DEFAULT_WAF_LOG_ACTIONS = ("BLOCK",)


def waf_inspection_limit_kb(max_body_bytes: int) -> int:
    """Smallest WAF body inspection step (KB) that covers `max_body_bytes`."""
    for step in WAF_BODY_INSPECTION_STEPS_KB:
        if max_body_bytes <= step * 1024:
            return step
    raise ValueError(f"max_body_bytes must be <= {WAF_BODY_INSPECTION_STEPS_KB[-1] * 1024}, got {max_body_bytes}")


def waf_rules(*, rate_limit: int, max_body_bytes: int, metric_prefix: str) -> list[dict[str, Any]]:
    """The web ACL's rules, in the provider's schema (Terraform JSON block names)."""

    def visibility(name: str) -> list[dict[str, Any]]:
        return [{"cloudwatch_metrics_enabled": True, "metric_name": f"{metric_prefix}-{name}",
                 "sampled_requests_enabled": True}]

    def managed(name: str, priority: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
        statement: dict[str, Any] = {"name": name, "vendor_name": "AWS"}
        if overrides:
            statement["rule_action_override"] = [
                {"name": rule, "action_to_use": [{"count": [{}]}]} for rule in overrides
            ]
        return {"name": name, "priority": priority, "override_action": [{"none": [{}]}],
                "statement": [{"managed_rule_group_statement": [statement]}], "visibility_config": visibility(name)}

    return [
        {"name": "RateLimitPerIp", "priority": 0, "action": [{"block": [{}]}],
         "statement": [{"rate_based_statement": [{"limit": rate_limit, "aggregate_key_type": "IP",
                                                  "evaluation_window_sec": 300}]}],
         "visibility_config": visibility("RateLimitPerIp")},
        managed("AWSManagedRulesAmazonIpReputationList", 10),
        # VPNs, Tor and proxies are blocked; Stripe and PayPal send from cloud hosting ranges: count those.
        managed("AWSManagedRulesAnonymousIpList", 15, overrides=("HostingProviderIPList",)),
        # Webhook bodies are often > 8 KB: count, do not block (the rule below enforces our maximum).
        managed("AWSManagedRulesCommonRuleSet", 20, overrides=("SizeRestrictions_BODY",)),
        managed("AWSManagedRulesKnownBadInputsRuleSet", 30),
        {"name": "BodyTooLarge", "priority": 40,
         "action": [{"block": [{"custom_response": [{"response_code": 413}]}]}],
         "statement": [{"size_constraint_statement": [{
             "comparison_operator": "GT", "size": max_body_bytes,
             "field_to_match": [{"body": [{"oversize_handling": "MATCH"}]}],
             "text_transformation": [{"priority": 0, "type": "NONE"}],
         }]}],
         "visibility_config": visibility("BodyTooLarge")},
    ]


def logging_filter(actions: Sequence[str]) -> Wafv2WebAclLoggingConfigurationLoggingFilter | None:
    """The logging configuration's filter: keep the requests WAF applied one of `actions` to,
    drop the rest; None (log every request) for no actions."""
    if not actions:
        return None
    return Wafv2WebAclLoggingConfigurationLoggingFilter(default_behavior="DROP", filter=[
        Wafv2WebAclLoggingConfigurationLoggingFilterFilter(behavior="KEEP", requirement="MEETS_ANY", condition=[
            Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition(
                action_condition=Wafv2WebAclLoggingConfigurationLoggingFilterFilterConditionActionCondition(
                    action=action))
            for action in actions])])


def attach_web_acl(scope: Construct, *, name: str, stage_arn: str, logs_key: str, retention: int, rate_limit: int,
                   max_body: int, log_group_name: str, description: str,
                   log_actions: Sequence[str] = DEFAULT_WAF_LOG_ACTIONS) -> tuple[Wafv2WebAcl, CloudwatchLogGroup]:
    """A REGIONAL web ACL with `waf_rules`, its encrypted log group (gate keys redacted; only the
    requests with one of `log_actions`, all of them when empty) and its association with the
    stage; created in `scope` (ids web-acl, waf-logs, waf-logging, waf-association)."""
    limit_kb = waf_inspection_limit_kb(max_body)
    web_acl = Wafv2WebAcl(
        scope, "web-acl", name=name, scope="REGIONAL", description=description,
        default_action={"allow": {}},
        visibility_config={"cloudwatch_metrics_enabled": True, "metric_name": name, "sampled_requests_enabled": True},
        association_config=Wafv2WebAclAssociationConfig(request_body=[Wafv2WebAclAssociationConfigRequestBody(
            api_gateway=Wafv2WebAclAssociationConfigRequestBodyApiGateway(
                default_size_inspection_limit=f"KB_{limit_kb}"))]),
    )
    # The rule tree is written in the provider's own block names (one JSON value, checked by
    # terraform validate): the generated binding classes are ten levels of nested names.
    web_acl.add_override("rule", waf_rules(rate_limit=rate_limit, max_body_bytes=max_body, metric_prefix=name))
    log_group = CloudwatchLogGroup(scope, "waf-logs", name=log_group_name, retention_in_days=retention,
                                   kms_key_id=logs_key)
    Wafv2WebAclLoggingConfiguration(
        scope, "waf-logging", resource_arn=web_acl.arn, log_destination_configs=[log_group.arn],
        # the gate key may travel in the query string or X-Webhook-Key: never in a log
        redacted_fields=[
            Wafv2WebAclLoggingConfigurationRedactedFields(query_string={}),
            Wafv2WebAclLoggingConfigurationRedactedFields(single_header={"name": "x-webhook-key"}),
        ],
        logging_filter=logging_filter(log_actions),
    )
    Wafv2WebAclAssociation(scope, "waf-association", resource_arn=stage_arn, web_acl_arn=web_acl.arn)
    return web_acl, log_group
