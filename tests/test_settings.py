"""Settings (schema: constructs/app/settings.py; loader: constructs/app/environments.py): the environments of cdktf.json's context, and one failure test per validation rule.
Every failure must name the value given; all problems are reported together."""

import dataclasses
import json

import pytest

from constructs.app.environments import environment_names, load_settings, read_environments
from constructs.app.settings import FUNCTION_NAMES, LOCAL_VENDORS, SettingsError

NO_ENV: dict = {}


def fails(environment: str, overrides: dict, *fragments: str, environ: dict | None = None) -> str:
    with pytest.raises(SettingsError) as error:
        load_settings(environment, overrides, environ=NO_ENV if environ is None else environ)
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    return message


@pytest.mark.parametrize("environment", environment_names())
def test_every_environment_loads_and_sizes_every_function(environment):
    s = load_settings(environment, environ=NO_ENV)
    assert set(s.functions) == set(FUNCTION_NAMES)
    assert all(f.memory_mb >= 512 for f in s.functions.values())
    assert s.tags["Environment"] == environment
    assert set(s.tags) >= {"Environment", "Project", "CostCenter", "ManagedBy"}
    assert s.name("payment-transactions") == f"payment-transactions-{environment}"


def test_prod_processor_has_3008_mb_and_a_custom_domain():
    s = load_settings("prod", environ=NO_ENV)
    assert s.function("processor").memory_mb == 3008
    assert s.custom_domain is not None and s.custom_domain.domain_name == "payments.example.com"
    assert s.api.throttle_rate_limit == 10_000


def test_defaults_region_is_us_east_1_and_any_region_is_accepted():
    assert load_settings("dev", environ=NO_ENV).region == "us-east-1"
    assert load_settings("dev", environ={"PAYMENTS_REGION": "ap-southeast-1"}).region == "ap-southeast-1"
    s = load_settings("prod", environ={"PAYMENTS_REGION": "eu-central-1"})
    assert ":acm:eu-central-1:" in s.custom_domain.certificate_arn


def test_backend_comes_from_environment_variables():
    s = load_settings("dev", environ={"PAYMENTS_STATE_BUCKET": "acme-tfstate", "PAYMENTS_STATE_REGION": "us-west-2",
                                      "PAYMENTS_STATE_KEY_PREFIX": "teams/pay"})
    assert (s.backend.bucket, s.backend.region, s.backend.key) == (
        "acme-tfstate", "us-west-2", "teams/pay/dev/terraform.tfstate")
    assert s.backend.use_lockfile


def test_local_uses_a_local_backend_and_loopback_emulator():
    s = load_settings("local", environ=NO_ENV)
    assert s.backend.kind == "local"
    assert s.local.endpoint_url.startswith("http://127.0.0.1:")
    assert all(reason for reason in s.disabled_features.values())


def test_all_problems_are_reported_together():
    message = fails("dev", {"region": "mars-1", "log_retention_days": 8, "alert_email": "nope"},
                    "'mars-1'", "got 8", "'nope'")
    assert message.count("\n  - ") == 3


def test_fails_when_environment_is_unknown():
    fails("staging", {}, "environment must be one of dev, prod, local", "'staging'")


def test_fails_when_region_is_not_a_region():
    fails("dev", {}, "region must be an AWS region", "'Virginia'", environ={"PAYMENTS_REGION": "Virginia"})


def test_fails_when_log_retention_is_not_a_cloudwatch_value():
    fails("dev", {"log_retention_days": 31}, "log_retention_days must be one CloudWatch Logs accepts", "got 31")


def test_fails_when_memory_is_below_512():
    fails("dev", {"functions": {"notifier": {"memory_mb": 256}}}, "functions.notifier.memory_mb must be 512..10240", "got 256")


def test_fails_when_timeout_is_out_of_range():
    fails("dev", {"functions": {"reader": {"timeout_seconds": 901}}}, "functions.reader.timeout_seconds must be 1..900", "got 901")


def test_fails_when_reserved_concurrency_is_zero():
    fails("dev", {"functions": {"status": {"reserved_concurrency": 0}}}, "functions.status.reserved_concurrency", "got 0")


def test_fails_when_prod_processor_has_less_than_3008_mb():
    fails("prod", {"functions": {"processor": {"memory_mb": 2048}}}, "must be >= 3008 MB in prod", "got 2048")


def test_fails_when_provisioned_concurrency_is_outside_the_scaling_range():
    fails("dev", {"processor_scaling": {"provisioned_concurrency": 20}}, "must lie within min..max capacity", "got 20")


def test_fails_when_scaling_exceeds_reserved_concurrency():
    fails("dev", {"processor_scaling": {"max_capacity": 50}}, "max_capacity must be <= the processor's reserved concurrency (10)", "got 50")


def test_fails_when_min_capacity_exceeds_max():
    fails("dev", {"processor_scaling": {"min_capacity": 5, "max_capacity": 4, "provisioned_concurrency": 0}},
          "1 <= min_capacity <= max_capacity", "got 5..4")


def test_fails_when_event_source_concurrency_is_out_of_range():
    fails("dev", {"processor_scaling": {"event_source_max_concurrency": 1}}, "event_source_max_concurrency must be 2..1000", "got 1")


def test_fails_when_event_source_concurrency_exceeds_reserved():
    fails("dev", {"processor_scaling": {"event_source_max_concurrency": 20}}, "or messages are throttled back", "got 20")


def test_fails_when_target_utilization_is_out_of_range():
    fails("dev", {"processor_scaling": {"target_utilization": 0.95}}, "target_utilization must be 0.1..0.9", "got 0.95")


def test_fails_when_throttle_rate_is_zero():
    fails("dev", {"api": {"throttle_rate_limit": 0}}, "api.throttle_rate_limit must be 1..100000", "got 0")


def test_fails_when_burst_is_zero():
    fails("dev", {"api": {"throttle_burst_limit": 0}}, "api.throttle_burst_limit", "got 0")


def test_fails_when_waf_rate_limit_is_below_the_aws_minimum():
    fails("dev", {"api": {"waf_rate_limit": 99}}, "api.waf_rate_limit must be 100..2000000000", "got 99")


def test_fails_when_cors_origin_is_plain_http():
    fails("dev", {"api": {"cors_allow_origin": "http://shop.example.com"}}, "cors_allow_origin", "'http://shop.example.com'")


def test_fails_when_webhook_body_limit_exceeds_what_waf_can_inspect():
    fails("dev", {"api": {"max_webhook_body_bytes": 70_000}}, "max_webhook_body_bytes must be 1024..65536", "got 70000")


def test_fails_when_stage_variable_name_is_invalid():
    fails("dev", {"api": {"stage_variables": (("bad name", "x"),)}}, "api.stage_variables", "'bad name'")


def test_fails_when_cidr_is_invalid():
    fails("dev", {"network": {"cidr": "10.0.0.300/16"}}, "network.cidr must be an IPv4 CIDR", "'10.0.0.300/16'")


def test_fails_when_cidr_is_too_small():
    fails("dev", {"network": {"cidr": "10.0.0.0/24"}}, "network.cidr must be /20 or larger", "10.0.0.0/24")


def test_fails_when_az_count_is_out_of_range():
    fails("dev", {"network": {"az_count": 7}}, "network.az_count must be 1..6", "got 7")


def test_fails_when_nat_mode_is_unknown():
    fails("dev", {"network": {"nat_mode": "gateway"}}, "network.nat_mode must be 'single' or 'per_az'", "'gateway'")


def test_fails_when_nat_instance_type_is_not_arm64():
    fails("dev", {"network": {"nat_instance_type": "t3.nano"}}, "nat_instance_type must be an arm64", "'t3.nano'")


def test_fails_when_interface_endpoint_is_unknown():
    fails("dev", {"network": {"interface_endpoints": ("sqs", "dynamodbx")}}, "interface_endpoints: unknown service", "'dynamodbx'")


def test_fails_when_flow_log_retention_is_invalid():
    fails("dev", {"network": {"flow_log_retention_days": 2}}, "network.flow_log_retention_days", "got 2")


def test_fails_when_no_provider_is_enabled():
    fails("dev", {"providers": ()}, "providers must enable at least one")


def test_fails_when_provider_is_unknown():
    fails("dev", {"providers": ("stripe", "adyen")}, "unknown provider 'adyen'")


def test_fails_when_provider_repeats():
    fails("dev", {"providers": ("stripe", "stripe")}, "providers must not repeat")


def test_fails_when_alert_email_is_invalid():
    fails("dev", {"alert_email": "ops at example"}, "alert_email must be an e-mail address", "'ops at example'")


def test_fails_when_an_alert_email_vendor_id_is_invalid():
    fails("dev", {"alert_email_vendor_ids": ("un known",)}, "alert_email_vendor_ids: each must match", "'un known'")


def test_fails_when_a_waf_log_action_is_unknown():
    fails("dev", {"api": {"waf_log_actions": ["DENY"]}}, "api.waf_log_actions must be among", "['DENY']")


def test_fails_when_the_archive_pipe_batching_is_out_of_range():
    fails("dev", {"pipes": {"archive_batch_size": 0, "archive_batching_window_seconds": 600}},
          "pipes.archive_batch_size must be 1..10000", "got 0", "pipes.archive_batching_window_seconds must be 0..300",
          "got 600")


def test_fails_when_the_status_pipe_drops_what_the_completed_rule_routes():
    fails("dev", {"pipes": {"status_routed_statuses": ["refunded"]}},
          "pipes.status_routed_statuses must include 'succeeded'", "['refunded']")
    fails("dev", {"pipes": {"status_routed_statuses": ["succeeded", "done"]}},
          "pipes.status_routed_statuses: unknown statuses ['done']")


def test_fails_when_the_lambda_system_log_level_is_unknown():
    fails("dev", {"lambda_system_log_level": "ERROR"}, "lambda_system_log_level must be DEBUG, INFO or WARN", "'ERROR'")


def test_fails_when_the_log_level_or_parallel_groups_are_out_of_range():
    fails("dev", {"log_level": "WARN"}, "log_level must be DEBUG, INFO, WARNING or ERROR", "'WARN'")
    fails("dev", {"processor_parallel_groups": 11}, "processor_parallel_groups must be 1..10", "got 11")
    fails("dev", {"api": {"access_log_class": "COLD"}}, "api.access_log_class must be STANDARD or INFREQUENT_ACCESS", "'COLD'")


def test_fails_when_the_ledger_index_projection_is_unknown():
    fails("dev", {"ledger_index_projection": "SOME"}, "ledger_index_projection must be ALL, INCLUDE or KEYS_ONLY", "'SOME'")


def test_fails_when_vendor_subscription_is_invalid():
    from constructs.app.settings import VendorSubscription as V
    message = fails("dev", {"vendor_subscriptions": (V("bad id!", "email", "a@b.co"), V("v1", "https", "http://x.example.com"),
                                                     V("v2", "sms", "+1555"), V("v3", "email", "nope"))},
                    "vendor_id must match", "'bad id!'", "must start with https://", "protocol must be 'email', 'https' or 'sqs'",
                    "e-mail endpoint is not an address")
    assert message.count("\n  - ") == 4


def test_fails_when_sqs_subscription_endpoint_is_not_a_queue_arn():
    from constructs.app.settings import VendorSubscription as V
    fails("dev", {"vendor_subscriptions": (V("v1", "sqs", "https://sqs.example.com/q"),)},
          "sqs endpoint must be a queue ARN", "'https://sqs.example.com/q'")


def test_local_vendor_subscriptions_stay_on_the_machine():
    s = load_settings("local", environ=NO_ENV)
    assert s.vendor_subscriptions and all(sub.protocol == "sqs" for sub in s.vendor_subscriptions)


def test_fails_when_archive_expires_before_transition():
    fails("dev", {"archive": {"transition_days": 100, "expiration_days": 90}}, "expiration_days must be greater than transition_days (100)", "got 90")


def test_fails_when_archive_storage_class_is_unknown():
    fails("dev", {"archive": {"storage_class": "COLD"}}, "archive.storage_class", "'COLD'")


def test_fails_when_archive_transition_is_below_one_day():
    fails("dev", {"archive": {"transition_days": 0}}, "archive.transition_days must be >= 1", "got 0")


def test_fails_when_standard_ia_transition_is_under_30_days():
    fails("dev", {"archive": {"storage_class": "STANDARD_IA", "transition_days": 10}}, "must be >= 30 for STANDARD_IA", "got 10")


def test_fails_when_prod_archive_is_kept_under_a_year():
    fails("prod", {"archive": {"transition_days": 30, "expiration_days": 200}}, "PCI DSS 10.5.1", "got 200")


def test_fails_when_noncurrent_expiration_is_zero():
    fails("dev", {"archive": {"noncurrent_expiration_days": 0}}, "noncurrent_expiration_days", "got 0")


def test_fails_when_custom_domain_is_invalid():
    fails("prod", {"custom_domain": {"domain_name": "not a domain", "certificate_arn": "arn:aws:iam::1:role/x", "base_path": "a/b"}},
          "custom_domain.domain_name", "'not a domain'", "custom_domain.certificate_arn must be an ACM certificate ARN",
          "custom_domain.base_path", "'a/b'")


def test_fails_when_certificate_is_in_another_region():
    fails("prod", {"custom_domain": {"certificate_arn":
                                     "arn:aws:acm:eu-west-1:123456789012:certificate/0f3c1d6e-8b1a-4c55-9a3e-2b7d4c9e6f10"}},
          "must be in the stack's region us-east-1")


def test_fails_when_state_bucket_is_invalid():
    fails("dev", {}, "backend.bucket must be an S3 bucket name (set PAYMENTS_STATE_BUCKET)", "'Bad_Bucket'",
          environ={"PAYMENTS_STATE_BUCKET": "Bad_Bucket"})


def test_fails_when_state_region_is_invalid():
    fails("dev", {}, "backend.region must be an AWS region", "'nowhere'", environ={"PAYMENTS_STATE_REGION": "nowhere"})


def test_fails_when_state_key_is_not_a_tfstate():
    fails("dev", {"backend": {"key": "state.json"}}, "backend.key must end with .tfstate", "'state.json'")


def test_fails_when_backend_kind_is_unknown():
    fails("dev", {"backend": {"kind": "consul"}}, "backend.kind must be 's3' or 'local'", "'consul'")


def test_fails_when_dev_uses_a_local_backend():
    fails("dev", {"backend": {"kind": "local", "path": "x.tfstate"}}, "dev must keep its state in S3")


def test_fails_when_local_uses_an_s3_backend():
    fails("local", {"backend": {"kind": "s3", "bucket": "abc", "key": "a.tfstate", "region": "us-east-1"}},
          "the local environment must use the local backend")


def test_fails_when_local_backend_has_no_path():
    fails("local", {"backend": {"path": ""}}, "backend.path must name the local state file")


def test_fails_when_local_endpoint_is_not_loopback():
    fails("local", {}, "local.endpoint_url must be a loopback URL", "'http://10.0.0.5:4566'",
          environ={"PAYMENTS_LOCAL_ENDPOINT": "http://10.0.0.5:4566"})


def test_fails_when_dev_points_at_an_emulator():
    from constructs.app.settings import LocalEmulator

    fails("dev", {"local": LocalEmulator()}, "only an emulator environment (emulator: true, such as local) may point")


def test_fails_when_local_has_no_emulator():
    fails("local", {"local": None}, "local needs a local emulator endpoint")


def test_fails_when_sampling_rate_is_out_of_range():
    fails("dev", {"xray_sampling_rate": 1.5}, "xray_sampling_rate must be within 0..1", "got 1.5")


def test_fails_when_disabled_feature_is_unknown():
    fails("local", {"disabled_features": {"teleport": "no"}}, "unknown feature 'teleport'")


def test_fails_when_disabled_feature_has_no_reason():
    fails("local", {"disabled_features": {"dashboard": " "}}, "disabled_features.dashboard needs a reason")


def test_fails_when_prod_disables_a_feature():
    fails("prod", {"disabled_features": {"waf": "cost"}}, "prod must not disable features", "waf")


def test_fails_when_a_function_is_missing_or_unknown():
    from constructs.app.settings import FunctionSettings
    base = load_settings("dev", environ=NO_ENV)
    functions = dict(base.functions)
    functions.pop("notify")
    functions["mailer"] = FunctionSettings()
    with pytest.raises(SettingsError) as error:
        dataclasses.replace(base, functions=functions).validate()
    assert "missing notify" in str(error.value) and "unknown names mailer" in str(error.value)


def test_fails_when_an_override_names_an_unknown_setting():
    fails("dev", {"api": {"throttle": 5}}, "unknown setting 'throttle' in ApiSettings")


def test_unknown_feature_lookup_is_an_error():
    s = load_settings("local", environ=NO_ENV)
    assert s.enabled("dashboard") and s.enabled("waf") and not s.enabled("autoscaling")
    with pytest.raises(KeyError):
        s.enabled("teleport")


def test_kms_deletion_window_is_7_days_outside_prod_and_30_in_prod():
    assert load_settings("dev", environ=NO_ENV).kms_deletion_window_days == 7
    assert load_settings("prod", environ=NO_ENV).kms_deletion_window_days == 30


def test_fails_when_kms_deletion_window_is_outside_7_30():
    fails("dev", {"kms_deletion_window_days": 3}, "kms_deletion_window_days must be 7..30", "got 3")


def test_fails_when_prod_kms_deletion_window_is_below_30():
    fails("prod", {"kms_deletion_window_days": 7}, "kms_deletion_window_days must be 30 in prod", "got 7")


def test_fails_when_lambda_async_retries_exceed_2():
    fails("dev", {"lambda_async_max_retry_attempts": 3}, "lambda_async_max_retry_attempts must be 0..2", "got 3")


def test_local_disables_event_source_mappings_because_moto_would_invoke_lambda():
    s = load_settings("local", environ=NO_ENV)
    assert not s.enabled("event_source_mappings") and "Docker" in s.disabled_features["event_source_mappings"]
    assert load_settings("dev", environ=NO_ENV).enabled("event_source_mappings")


def test_fails_when_pipe_batch_size_is_out_of_range():
    fails("dev", {"pipes": {"batch_size": 0}}, "pipes.batch_size must be 1..10000", "got 0")


def test_fails_when_pipe_retry_attempts_are_out_of_range():
    fails("dev", {"pipes": {"maximum_retry_attempts": -2}}, "pipes.maximum_retry_attempts must be -1 or 0..10000", "got -2")


def test_fails_when_pipe_record_age_is_out_of_range():
    fails("dev", {"pipes": {"maximum_record_age_seconds": 30}}, "pipes.maximum_record_age_seconds must be -1 or 60..604800", "got 30")


def test_fails_when_api_latency_alarm_exceeds_the_api_timeout():
    fails("dev", {"alarms": {"api_latency_p99_ms": 30_000}}, "alarms.api_latency_p99_ms must be 1..29000", "got 30000")


def test_fails_when_oldest_message_alarm_is_below_a_minute():
    fails("dev", {"alarms": {"ingest_oldest_message_seconds": 10}}, "alarms.ingest_oldest_message_seconds must be >= 60", "got 10")


def test_fails_when_authorizer_deny_threshold_is_zero():
    fails("dev", {"alarms": {"authorizer_denies_per_5min": 0}}, "alarms.authorizer_denies_per_5min must be >= 1", "got 0")


def test_fails_when_alarm_period_is_not_whole_minutes():
    fails("dev", {"alarms": {"period_seconds": 90}}, "alarms.period_seconds must be 60 or a multiple of 60", "got 90")


def test_fails_when_availability_zones_are_not_of_the_region():
    fails("dev", {"network": {"availability_zones": ("eu-west-1a", "eu-west-1b", "eu-west-1c")}},
          "network.availability_zones must name az_count (3) distinct zones of us-east-1", "eu-west-1a")


def test_local_disables_the_sqs_redrive_allow_policy_moto_drops():
    assert not load_settings("local", environ=NO_ENV).enabled("sqs_redrive_allow_policy")
    assert load_settings("prod", environ=NO_ENV).enabled("sqs_redrive_allow_policy")


# ----- environments as configuration (cdktf.json context) ----------------------------------------

def test_environments_and_their_values_come_from_cdktf_json():
    assert environment_names() == list(read_environments()) == ["dev", "prod", "local"]
    assert read_environments()["prod"]["production"] is True
    assert load_settings("local", environ=NO_ENV).emulator
    assert tuple(v.vendor_id for v in load_settings("local", environ=NO_ENV).vendor_subscriptions) == LOCAL_VENDORS


def test_a_new_environment_is_a_config_edit_only():
    environments = {**read_environments(), "staging": {"backend": {"bucket": "acme-tfstate-staging"}}}
    s = load_settings("staging", environ=NO_ENV, environments=environments)
    assert (s.name("payments"), s.backend.bucket, s.backend.key) == (
        "payments-staging", "acme-tfstate-staging", "payment-platform/staging/terraform.tfstate")
    assert environment_names(environments)[-1] == "staging"


def test_fails_when_a_remote_environment_has_no_state_bucket():
    environments = {**read_environments(), "staging": {}}
    with pytest.raises(SettingsError) as error:
        load_settings("staging", environ=NO_ENV, environments=environments)
    assert "backend.bucket is not configured" in str(error.value)
    assert "context.environments.staging.backend.bucket" in str(error.value)
    assert load_settings("staging", environ={"PAYMENTS_STATE_BUCKET": "acme-tfstate"},
                         environments=environments).backend.bucket == "acme-tfstate"


def test_fails_when_config_values_have_wrong_keys_or_types_and_reports_all():
    environments = {"dev": {"backend": {"bucket": "b-dev"}, "log_retention_days": "thirty", "functions": {
        "processor": {"memory": 1024}}, "api": {"stage_variables": {"bad name": "x"}}, "vendor_subscriptions": [
        {"vendor_id": "v1"}]}}
    with pytest.raises(SettingsError) as error:
        load_settings("dev", environ=NO_ENV, environments=environments)
    message = str(error.value)
    for fragment in ("log_retention_days must be a number, got 'thirty'",
                     "unknown setting 'memory' in FunctionSettings (functions.processor)",
                     "api.stage_variables: name must match", "vendor_subscriptions[0] must be {vendor_id, protocol, endpoint}"):
        assert fragment in message, message


def test_cdktf_json_holds_the_environments_in_its_context():
    from support import ROOT

    config = json.loads((ROOT / "cdktf.json").read_text())
    assert set(config["context"]["environments"]) == set(environment_names())


def test_fails_when_a_vendor_is_named_like_the_unroutable_vendor():
    from constructs.app.settings import VendorSubscription as V

    fails("dev", {"vendor_subscriptions": (V("unknown", "email", "ops@example.com"),)},
          "vendor_id 'unknown' is reserved for events whose vendor cannot be identified")


def test_ingest_max_receive_count_defaults_to_5_and_is_checked():
    assert load_settings("dev", environ=NO_ENV).ingest_max_receive_count == 5
    fails("dev", {"ingest_max_receive_count": 0}, "ingest_max_receive_count must be 1..1000", "got 0")
    fails("dev", {"alarms": {"signature_mismatches_per_5min": 0}}, "alarms.signature_mismatches_per_5min must be >= 1")


def test_the_secret_prefix_the_ops_tools_read_is_the_one_the_stack_deploys():
    """settings names secrets without importing the construct (an ops command would start jsii)."""
    import subprocess
    import sys

    from constructs.app import settings as settings_module
    from constructs.configuration import SERVICE_NAME
    from infra_synth import synth, resources

    assert settings_module.SERVICE_NAME == SERVICE_NAME
    prefix = load_settings("dev", environ={}).secret_prefix
    names = [r["name"] for r in resources(synth("dev"), "aws_secretsmanager_secret").values()]
    assert names and all(name.startswith(prefix) for name in names), (prefix, names[:3])
    # and the settings stay light: loading them imports neither cdktf nor the provider bindings
    probe = ("import sys; from constructs.app.environments import load_settings; load_settings('dev').secret_prefix; "
             "print(sorted(m for m in sys.modules if m.startswith('cdktf')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded
