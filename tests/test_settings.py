"""The settings (schema: constructs/app/settings/; loader: constructs/app/environments.py): every
environment of cdktf.json loads, and every rule has a test showing the exact line a person reads,
`env: key.path: rule, got value`, all problems together, one per line."""

import json

import pytest
from pydantic import ValidationError

from constructs.app.environments import environment_names, load_settings, read_environments
from constructs.app.settings import FUNCTION_NAMES, LOCAL_VENDORS, VENDOR_ID, SettingsError
from support import ROOT

NO_ENV: dict = {}
CERTIFICATE = "arn:aws:acm:{region}:123456789012:certificate/0f3c1d6e-8b1a-4c55-9a3e-2b7d4c9e6f10"


def problems(environment: str, overrides: dict, *, environ: dict | None = None,
             environments: dict | None = None) -> list[str]:
    with pytest.raises(SettingsError) as error:
        load_settings(environment, overrides, environ=NO_ENV if environ is None else environ, environments=environments)
    assert str(error.value) == "\n".join(error.value.problems)
    return error.value.problems


def fails(environment: str, overrides: dict, *lines: str, environ: dict | None = None) -> list[str]:
    found = problems(environment, overrides, environ=environ)
    for line in lines:
        assert line in found, f"{line!r} not in:\n" + "\n".join(found)
    return found


# ----- the environments of cdktf.json ------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", environment_names())
def test_every_environment_loads_and_sizes_every_function(environment):
    s = load_settings(environment, environ=NO_ENV)
    assert tuple(s.functions) == FUNCTION_NAMES
    assert all(f.memory_mb >= 512 for f in s.functions.values())
    assert s.tags["Environment"] == environment
    assert set(s.tags) >= {"Environment", "Project", "CostCenter", "ManagedBy"}
    assert s.name("payment-transactions") == s.names.ledger_table == f"payment-transactions-{environment}"


def test_the_environments_are_the_ones_cdktf_json_lists_in_its_order():
    listed = list(json.loads((ROOT / "cdktf.json").read_text())["context"]["environments"])
    assert environment_names() == list(read_environments()) == listed


def test_prod_processor_has_3008_mb_and_a_custom_domain():
    s = load_settings("prod", environ=NO_ENV)
    assert s.function("processor").memory_mb == 3008
    assert s.custom_domain is not None and s.custom_domain.domain_name == "payments.example.com"
    assert s.api.throttle_rate_limit == 10_000 and s.production and s.protects_data


def test_defaults_region_is_us_east_1_and_any_region_is_accepted():
    assert load_settings("dev", environ=NO_ENV).region == "us-east-1"
    assert load_settings("dev", environ={"PAYMENTS_REGION": "ap-southeast-1"}).region == "ap-southeast-1"
    s = load_settings("prod", environ={"PAYMENTS_REGION": "eu-central-1"})
    assert s.custom_domain is not None and ":acm:eu-central-1:" in s.custom_domain.certificate_arn


def test_backend_comes_from_environment_variables():
    s = load_settings("dev", environ={"PAYMENTS_STATE_BUCKET": "acme-tfstate", "PAYMENTS_STATE_REGION": "us-west-2",
                                      "PAYMENTS_STATE_KEY_PREFIX": "teams/pay", "PAYMENTS_STATE_KMS_KEY_ID": "alias/tf"})
    assert (s.backend.bucket, s.backend.region, s.backend.key, s.backend.kms_key_id) == (
        "acme-tfstate", "us-west-2", "teams/pay/dev/terraform.tfstate", "alias/tf")
    assert s.backend.use_lockfile


def test_local_uses_a_local_backend_and_a_loopback_emulator():
    s = load_settings("local", environ=NO_ENV)
    assert s.backend.kind == "local" and s.emulator
    assert s.local is not None and s.local.endpoint_url.startswith("http://127.0.0.1:")
    assert all(reason for reason in s.disabled_features.values())
    moved = load_settings("local", environ={"PAYMENTS_LOCAL_ENDPOINT": "http://127.0.0.1:4999", "PAYMENTS_REGION": "x"})
    assert moved.local is not None and moved.local.endpoint_url == "http://127.0.0.1:4999"
    assert moved.region == "us-east-1"  # the emulator's stack ignores the AWS variables


def test_local_vendor_subscriptions_stay_on_the_machine():
    s = load_settings("local", environ=NO_ENV)
    assert tuple(v.vendor_id for v in s.vendor_subscriptions) == LOCAL_VENDORS
    assert all(sub.protocol == "sqs" for sub in s.vendor_subscriptions)


def test_local_disables_what_moto_cannot_run_and_dev_keeps_it():
    local, dev = load_settings("local", environ=NO_ENV), load_settings("dev", environ=NO_ENV)
    assert not local.enabled("event_source_mappings") and "Docker" in local.disabled_features["event_source_mappings"]
    assert not local.enabled("sqs_redrive_allow_policy") and not local.enabled("autoscaling")
    assert dev.enabled("event_source_mappings") and dev.enabled("sqs_redrive_allow_policy")
    with pytest.raises(KeyError, match="unknown feature 'teleport'"):
        local.enabled("teleport")


def test_kms_deletion_window_is_7_days_outside_prod_and_30_in_prod():
    assert load_settings("dev", environ=NO_ENV).kms_deletion_window_days == 7
    assert load_settings("prod", environ=NO_ENV).kms_deletion_window_days == 30


def test_receive_counts_default_to_5_for_ingest_and_delivery_events_and_3_for_notifications():
    s = load_settings("dev", environ=NO_ENV)
    assert (s.ingest_max_receive_count, s.notifications_max_receive_count, s.delivery.events_max_receive_count) == (5, 3, 5)


def test_providers_default_to_the_webhook_providers_of_the_registry():
    from paycore import providers

    assert load_settings("dev", environ=NO_ENV).providers == providers.webhook_names() == ("stripe", "paypal")
    assert "direct" in providers.names() and "direct" not in providers.webhook_names()


def test_settings_are_frozen():
    s = load_settings("dev", environ=NO_ENV)
    with pytest.raises(ValidationError):
        s.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.api.throttle_rate_limit = 1  # type: ignore[misc]


def test_overrides_merge_into_sections_and_replace_free_form_maps():
    s = load_settings("dev", {"functions": {"reader": {"memory_mb": 1024}},
                              "delivery": {"vendors": {"vendor-z": {"endpoints": [
                                  {"id": "ep-z-main", "url": "https://z.example.com/p", "event_types": ["payment.failed"]}]}}}},
                      environ=NO_ENV)
    assert (s.function("reader").memory_mb, s.function("reader").timeout_seconds) == (1024, 10)  # dev's 10 s kept
    assert list(s.delivery.vendors) == ["vendor-z"]  # dev's vendor-demo replaced, not merged
    assert s.delivery.sender_max_concurrency == 5  # dev's delivery section otherwise kept


def test_a_new_environment_is_a_config_edit_only():
    environments = {**read_environments(), "staging": {"backend": {"bucket": "acme-tfstate-staging"}}}
    s = load_settings("staging", environ=NO_ENV, environments=environments)
    assert (s.name("payments"), s.backend.bucket, s.backend.key) == (
        "payments-staging", "acme-tfstate-staging", "payment-platform/staging/terraform.tfstate")
    assert environment_names(environments)[-1] == "staging"


# ----- the loader's own mistakes -------------------------------------------------------------------------------------

def test_fails_when_the_environment_is_not_in_cdktf_json():
    assert problems("no-such-env", {}) == [
        f"no-such-env: not an environment of cdktf.json; context.environments has {', '.join(environment_names())}"]


def test_fails_when_an_environment_sets_its_own_name_or_is_not_an_object():
    assert problems("dev", {"environment": "prod"}) == [
        "dev: environment: is the environment's name in cdktf.json, not a setting"]
    assert problems("odd", {}, environments={"odd": ["a"]}) == ["odd: must be an object of settings, got ['a']"]


def test_fails_when_cdktf_json_has_no_environments(tmp_path):
    config = tmp_path / "cdktf.json"
    config.write_text(json.dumps({"context": {}}))
    with pytest.raises(SettingsError, match="cdktf.json: context.environments must map environment names"):
        read_environments(config)


def test_fails_when_a_remote_environment_has_no_state_bucket():
    environments = {**read_environments(), "staging": {}}
    assert problems("staging", {}, environments=environments) == [
        "staging: backend.bucket: is not configured: name the state bucket in cdktf.json "
        "(context.environments.staging.backend.bucket) or set PAYMENTS_STATE_BUCKET"]
    assert load_settings("staging", environ={"PAYMENTS_STATE_BUCKET": "acme-tfstate"},
                         environments=environments).backend.bucket == "acme-tfstate"


# ----- mistakes a person makes in cdktf.json -------------------------------------------------------------------------

def test_fails_when_a_key_is_unknown_and_suggests_the_nearest():
    assert problems("dev", {"log_retention_dys": 30}) == [
        "dev: log_retention_dys: unknown setting; did you mean log_retention_days?"]
    assert problems("dev", {"api": {"throttle_rate": 5}}) == [
        "dev: api.throttle_rate: unknown setting; did you mean throttle_rate_limit?"]
    assert problems("dev", {"delivery": {"sender_timeout": 5}}) == [  # abbreviated
        "dev: delivery.sender_timeout: unknown setting; did you mean sender_timeout_seconds?"]
    assert problems("dev", {"api": {"throttle": 5}}) == [  # two keys start so: no guess
        "dev: api.throttle: unknown setting (the keys: constructs/app/settings/)"]
    assert problems("dev", {"xyzzy": 1}) == ["dev: xyzzy: unknown setting (the keys: constructs/app/settings/)"]


def test_fails_when_a_function_or_feature_is_unknown():
    assert problems("dev", {"functions": {"notifer": {}, "mailer": {}}}) == [
        "dev: functions.notifer: unknown key; did you mean notifier?",
        f"dev: functions.mailer: unknown key; known: {', '.join(FUNCTION_NAMES)}"]
    fails("local", {"disabled_features": {"dashbord": "x"}}, "local: disabled_features.dashbord: unknown key; "
          "did you mean dashboard?")


def test_fails_when_values_have_the_wrong_type():
    """cdktf.json is validated as JSON, strictly: a quoted number is a mistake, not a number."""
    assert problems("dev", {"log_retention_days": "30", "production": "yes", "api": 5,
                            "functions": {"reader": {"timeout_seconds": 10.5}}, "vendor_subscriptions": [{"vendor_id": "v1"}]}) == [
        "dev: log_retention_days: must be a whole number, got '30'",
        "dev: functions.reader.timeout_seconds: must be a whole number, got 10.5",
        "dev: api: must be an object, got 5",
        "dev: vendor_subscriptions[0].protocol: is required",
        "dev: vendor_subscriptions[0].endpoint: is required",
        "dev: production: must be true or false, got 'yes'"]


def test_all_problems_are_reported_together_one_per_line():
    assert problems("dev", {"region": "mars-1", "log_level": "WARN", "alert_email": "nope"}) == [
        "dev: region: must be an AWS region such as us-east-1, got 'mars-1'",
        "dev: alert_email: must be an e-mail address, got 'nope'",
        "dev: log_level: must be one of DEBUG, INFO, WARNING, ERROR, got 'WARN'; did you mean WARNING?"]


# ----- one rule per field: its range or value set ---------------------------------------------------------------------

FIELD_RULES = [
    ("region", "dev", {}, "dev: region: must be an AWS region such as us-east-1, got 'Virginia'",
     {"PAYMENTS_REGION": "Virginia"}),
    ("log-retention", "dev", {"log_retention_days": 31}, "dev: log_retention_days: must be a CloudWatch Logs retention "
     "(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got 31", None),
    ("memory-below-512", "dev", {"functions": {"notifier": {"memory_mb": 256}}},
     "dev: functions.notifier.memory_mb: must be 512..10240, got 256", None),
    ("timeout", "dev", {"functions": {"reader": {"timeout_seconds": 901}}},
     "dev: functions.reader.timeout_seconds: must be 1..900, got 901", None),
    ("reserved-concurrency", "dev", {"functions": {"status": {"reserved_concurrency": 0}}},
     "dev: functions.status.reserved_concurrency: must be >= 1, got 0", None),
    ("provisioned-concurrency", "dev", {"processor_scaling": {"provisioned_concurrency": -1}},
     "dev: processor_scaling.provisioned_concurrency: must be >= 0, got -1", None),
    ("target-utilization", "dev", {"processor_scaling": {"target_utilization": 0.95}},
     "dev: processor_scaling.target_utilization: must be 0.1..0.9, got 0.95", None),
    ("backlog", "dev", {"processor_scaling": {"backlog_per_instance": 0}},
     "dev: processor_scaling.backlog_per_instance: must be >= 1, got 0", None),
    ("event-source-concurrency", "dev", {"processor_scaling": {"event_source_max_concurrency": 1}},
     "dev: processor_scaling.event_source_max_concurrency: must be 2..1000 (SQS event source limit), got 1", None),
    ("throttle", "dev", {"api": {"throttle_rate_limit": 0}}, "dev: api.throttle_rate_limit: must be 1..100000, got 0", None),
    ("burst", "dev", {"api": {"throttle_burst_limit": 0}}, "dev: api.throttle_burst_limit: must be 1..100000, got 0", None),
    ("waf-rate", "dev", {"api": {"waf_rate_limit": 99}},
     "dev: api.waf_rate_limit: must be 100..2000000000 (requests per 5 min), got 99", None),
    ("cors", "dev", {"api": {"cors_allow_origin": "http://shop.example.com"}},
     "dev: api.cors_allow_origin: must be '*' or an https:// origin, got 'http://shop.example.com'", None),
    ("body-size", "dev", {"api": {"max_webhook_body_bytes": 70_000}},
     "dev: api.max_webhook_body_bytes: must be 1024..65536 (what WAF inspects of an API Gateway body), got 70000", None),
    ("stage-variable", "dev", {"api": {"stage_variables": {"bad name": "x"}}},
     "dev: api.stage_variables.bad name: must match ^[A-Za-z0-9_]{1,64}$, got 'bad name'", None),
    ("waf-log-action", "dev", {"api": {"waf_log_actions": ["DENY"]}},
     "dev: api.waf_log_actions[0]: must be one of ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE, EXCLUDED_AS_COUNT, got 'DENY'", None),
    ("access-log-class", "dev", {"api": {"access_log_class": "COLD"}},
     "dev: api.access_log_class: must be one of STANDARD, INFREQUENT_ACCESS, got 'COLD'", None),
    ("domain-name", "prod", {"custom_domain": {"domain_name": "not a domain"}},
     "prod: custom_domain.domain_name: must be a DNS name such as pay.example.com, got 'not a domain'", None),
    ("certificate", "prod", {"custom_domain": {"certificate_arn": "arn:aws:iam::1:role/x"}},
     "prod: custom_domain.certificate_arn: must be an ACM certificate ARN, got 'arn:aws:iam::1:role/x'", None),
    ("base-path", "prod", {"custom_domain": {"base_path": "a/b"}},
     "prod: custom_domain.base_path: must match ^[A-Za-z0-9._-]*$, got 'a/b'", None),
    ("custom-domain-complete", "dev", {"custom_domain": {"domain_name": "pay.example.com"}},
     "dev: custom_domain.certificate_arn: is required", None),
    ("cidr", "dev", {"network": {"cidr": "10.0.0.300/16"}},
     "dev: network.cidr: must be an IPv4 CIDR such as 10.40.0.0/16, got '10.0.0.300/16'", None),
    ("cidr-size", "dev", {"network": {"cidr": "10.0.0.0/24"}},
     "dev: network.cidr: must be an IPv4 block /16../20 (16 subnets of it), got '10.0.0.0/24'", None),
    ("az-count", "dev", {"network": {"az_count": 7}}, "dev: network.az_count: must be 1..6, got 7", None),
    ("nat-mode", "dev", {"network": {"nat_mode": "gateway"}},
     "dev: network.nat_mode: must be one of single, per_az, got 'gateway'", None),
    ("nat-instance-type", "dev", {"network": {"nat_instance_type": "t3.nano"}},
     "dev: network.nat_instance_type: must be an arm64 (Graviton, e.g. t4g.nano) type, got 't3.nano'", None),
    ("interface-endpoint", "dev", {"network": {"interface_endpoints": ["sqs", "dynamodbx"]}},
     "dev: network.interface_endpoints[1]: must be one of sqs, sns, secretsmanager, ssm, kms, events, xray, lambda, "
     "logs, got 'dynamodbx'", None),
    ("flow-log-retention", "dev", {"network": {"flow_log_retention_days": 2}},
     "dev: network.flow_log_retention_days: must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, "
     "180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got 2", None),
    ("no-provider", "dev", {"providers": []}, "dev: providers: must name at least one, got []", None),
    ("unknown-provider", "dev", {"providers": ["stripe", "strpe"]},
     "dev: providers[1]: must be a webhook provider of paycore.providers (stripe, paypal; another is its module "
     "paycore.providers.<name> or providers.register()), got 'strpe'; did you mean stripe?", None),
    ("direct-is-no-webhook-provider", "dev", {"providers": ["direct"]},
     "dev: providers[0]: must be a webhook provider of paycore.providers (stripe, paypal; direct has no webhook "
     "route), got 'direct'", None),
    ("provider-repeats", "dev", {"providers": ["stripe", "stripe"]},
     "dev: providers: must not repeat an entry, got ['stripe', 'stripe']", None),
    ("alert-email", "dev", {"alert_email": "ops at example"},
     "dev: alert_email: must be an e-mail address, got 'ops at example'", None),
    ("alert-vendor-id", "dev", {"alert_email_vendor_ids": ["un known"]},
     f"dev: alert_email_vendor_ids[0]: must be a vendor id ({VENDOR_ID.pattern}), got 'un known'", None),
    ("subscription-vendor-id", "dev", {"vendor_subscriptions": [{"vendor_id": "bad id!", "protocol": "email",
                                                                 "endpoint": "a@b.co"}]},
     f"dev: vendor_subscriptions[0].vendor_id: must be a vendor id ({VENDOR_ID.pattern}), got 'bad id!'", None),
    ("subscription-protocol", "dev", {"vendor_subscriptions": [{"vendor_id": "v2", "protocol": "sms", "endpoint": "+1555"}]},
     "dev: vendor_subscriptions[0].protocol: must be one of email, https, sqs, got 'sms'; did you mean sqs?", None),
    ("archive-storage-class", "dev", {"archive": {"storage_class": "COLD"}},
     "dev: archive.storage_class: must be one of GLACIER_IR, GLACIER, DEEP_ARCHIVE, STANDARD_IA, INTELLIGENT_TIERING, "
     "got 'COLD'", None),
    ("archive-transition", "dev", {"archive": {"transition_days": 0}},
     "dev: archive.transition_days: must be >= 1, got 0", None),
    ("noncurrent-expiration", "dev", {"archive": {"noncurrent_expiration_days": 0}},
     "dev: archive.noncurrent_expiration_days: must be >= 1, got 0", None),
    ("object-lock-mode", "dev", {"archive": {"object_lock_mode": "LEGAL"}},
     "dev: archive.object_lock_mode: must be one of GOVERNANCE, COMPLIANCE, got 'LEGAL'", None),
    ("backend-kind", "dev", {"backend": {"kind": "consul"}}, "dev: backend.kind: must be one of s3, local, got 'consul'", None),
    ("sampling-rate", "dev", {"xray_sampling_rate": 1.5}, "dev: xray_sampling_rate: must be 0..1, got 1.5", None),
    ("pipe-batch", "dev", {"pipes": {"batch_size": 0}}, "dev: pipes.batch_size: must be 1..10000, got 0", None),
    ("archive-pipe-batch", "dev", {"pipes": {"archive_batch_size": 10_001}},
     "dev: pipes.archive_batch_size: must be 1..10000, got 10001", None),
    ("archive-pipe-window", "dev", {"pipes": {"archive_batching_window_seconds": 600}},
     "dev: pipes.archive_batching_window_seconds: must be 0..300, got 600", None),
    ("pipe-retries", "dev", {"pipes": {"maximum_retry_attempts": -2}},
     "dev: pipes.maximum_retry_attempts: must be -1 (forever) or 0..10000, got -2", None),
    ("pipe-record-age", "dev", {"pipes": {"maximum_record_age_seconds": 30}},
     "dev: pipes.maximum_record_age_seconds: must be -1 (forever) or 60..604800, got 30", None),
    ("routed-status", "dev", {"pipes": {"status_routed_statuses": ["succeeded", "done"]}},
     "dev: pipes.status_routed_statuses[1]: must be one of awaiting_sale, canceled, dispute_lost, dispute_opened, "
     "dispute_won, failed, refund_failed, refunded, reversed, succeeded, got 'done'", None),
    ("completed-status-routed", "dev", {"pipes": {"status_routed_statuses": ["refunded"]}},
     "dev: pipes.status_routed_statuses: must include 'succeeded' (the vendor-notification rule routes it to the "
     "vendor notifications), or be empty (every announcement), got ['refunded']", None),
    ("latency-alarm", "dev", {"alarms": {"api_latency_p99_ms": 30_000}},
     "dev: alarms.api_latency_p99_ms: must be 1..29000 (API Gateway timeout), got 30000", None),
    ("oldest-message-alarm", "dev", {"alarms": {"ingest_oldest_message_seconds": 10}},
     "dev: alarms.ingest_oldest_message_seconds: must be >= 60, got 10", None),
    ("deny-alarm", "dev", {"alarms": {"authorizer_denies_per_5min": 0}},
     "dev: alarms.authorizer_denies_per_5min: must be >= 1, got 0", None),
    ("mismatch-alarm", "dev", {"alarms": {"signature_mismatches_per_5min": 0}},
     "dev: alarms.signature_mismatches_per_5min: must be >= 1, got 0", None),
    ("alarm-period", "dev", {"alarms": {"period_seconds": 90}},
     "dev: alarms.period_seconds: must be a multiple of 60, got 90", None),
    ("kms-window", "dev", {"kms_deletion_window_days": 3}, "dev: kms_deletion_window_days: must be 7..30 (KMS limit), got 3",
     None),
    ("async-retries", "dev", {"lambda_async_max_retry_attempts": 3},
     "dev: lambda_async_max_retry_attempts: must be 0..2 (Lambda async limit), got 3", None),
    ("system-log-level", "dev", {"lambda_system_log_level": "ERROR"},
     "dev: lambda_system_log_level: must be one of DEBUG, INFO, WARN, got 'ERROR'", None),
    ("parallel-groups", "dev", {"processor_parallel_groups": 11},
     "dev: processor_parallel_groups: must be 1..10 (an SQS batch holds at most 10 records), got 11", None),
    ("index-projection", "dev", {"ledger_index_projection": "SOME"},
     "dev: ledger_index_projection: must be one of ALL, INCLUDE, KEYS_ONLY, got 'SOME'", None),
    ("ingest-receive-count", "dev", {"ingest_max_receive_count": 0},
     "dev: ingest_max_receive_count: must be 1..1000 (SQS maxReceiveCount), got 0", None),
    ("notifications-receive-count", "dev", {"notifications_max_receive_count": 1001},
     "dev: notifications_max_receive_count: must be 1..1000 (SQS maxReceiveCount), got 1001", None),
    ("kms-admin", "dev", {"kms_admin_principal_arns": ["admins"]},
     "dev: kms_admin_principal_arns[0]: must be an IAM principal ARN such as arn:aws:iam::123456789012:role/admin, "
     "got 'admins'", None),
    ("paypal-age", "dev", {"paypal_max_transmission_age_seconds": 10},
     "dev: paypal_max_transmission_age_seconds: must be 300..2592000 (the processor's range), got 10", None),
    ("paypal-mode", "dev", {"paypal_mode": "test"}, "dev: paypal_mode: must be one of live, sandbox, got 'test'", None),
    ("operator-principal", "dev", {"operator_principal_arns": ["oncall"]},
     "dev: operator_principal_arns[0]: must be an IAM principal ARN such as arn:aws:iam::123456789012:role/oncall, "
     "got 'oncall'", None),
    ("feature-reason", "local", {"disabled_features": {"dashboard": " "}},
     "local: disabled_features.dashboard: needs a reason, got ' '", None),
    ("emulator-retries", "local", {"local": {"max_retries": -1}}, "local: local.max_retries: must be >= 0, got -1", None),
    ("state-bucket", "dev", {}, "dev: backend.bucket: must be an S3 bucket name (set PAYMENTS_STATE_BUCKET), got 'Bad_Bucket'",
     {"PAYMENTS_STATE_BUCKET": "Bad_Bucket"}),
    ("state-region", "dev", {}, "dev: backend.region: must be an AWS region (set PAYMENTS_STATE_REGION), got 'nowhere'",
     {"PAYMENTS_STATE_REGION": "nowhere"}),
    ("state-key", "dev", {"backend": {"key": "state.json"}}, "dev: backend.key: must end with .tfstate, got 'state.json'", None),
]


@pytest.mark.parametrize("environment, overrides, line, environ",
                         [pytest.param(*case[1:], id=case[0]) for case in FIELD_RULES])
def test_fails_when_a_value_is_outside_its_range_or_set(environment, overrides, line, environ):
    assert problems(environment, overrides, environ=environ) == [line]


# ----- rules between fields (Settings._rules) ------------------------------------------------------------------------

def test_fails_when_prod_processor_has_less_than_3008_mb():
    assert problems("prod", {"functions": {"processor": {"memory_mb": 1024}}}) == [
        "prod: functions.processor.memory_mb: must be >= 3008 in prod (the processor's 3 GB), got 1024"]


def test_fails_when_min_capacity_exceeds_max():
    assert problems("dev", {"processor_scaling": {"min_capacity": 5, "max_capacity": 4, "provisioned_concurrency": 0}}) == [
        "dev: processor_scaling.min_capacity: must be <= max_capacity (4), got 5"]


def test_fails_when_provisioned_concurrency_is_outside_the_scaling_range():
    assert problems("dev", {"processor_scaling": {"provisioned_concurrency": 8, "max_capacity": 5}}) == [
        "dev: processor_scaling.provisioned_concurrency: must lie within min..max capacity (1..5) or be 0, got 8"]


def test_fails_when_scaling_or_the_event_source_exceeds_the_processors_reserved_concurrency():
    assert problems("dev", {"processor_scaling": {"max_capacity": 50, "event_source_max_concurrency": 20}}) == [
        "dev: processor_scaling.max_capacity: must be <= the processor's reserved concurrency (10) or messages are "
        "throttled back to the queue, got 50",
        "dev: processor_scaling.event_source_max_concurrency: must be <= the processor's reserved concurrency (10) or "
        "messages are throttled back to the queue, got 20"]


PEAK = {"name": "black-friday", "start": "2027-11-25T00:00:00", "end": "2027-12-01T00:00:00", "min_capacity": 5}


def test_prod_keeps_a_small_warm_minimum_and_raises_it_for_its_known_peak():
    s = load_settings("prod", environ=NO_ENV).processor_scaling
    assert (s.provisioned_concurrency, s.min_capacity, s.max_capacity) == (2, 2, 300)
    assert [(p.name, p.start, p.end, p.min_capacity) for p in s.scheduled_peaks] == [
        ("black-friday-2027", "2027-11-25T00:00:00", "2027-12-01T00:00:00", 10)]


def test_fails_when_a_scheduled_peak_ends_before_it_starts_or_sits_outside_the_scaling_range():
    assert problems("dev", {"processor_scaling": {"scheduled_peaks": [
        {**PEAK, "end": "2027-11-24T00:00:00"}, {**PEAK, "name": "too-big", "start": "2028-01-01T00:00:00",
                                                 "end": "2028-01-02T00:00:00", "min_capacity": 11},
        {**PEAK, "name": "too-small", "start": "2028-02-01T00:00:00", "end": "2028-02-02T00:00:00", "min_capacity": 1},
    ]}}) == [
        "dev: processor_scaling.scheduled_peaks[0].end: must be after start (2027-11-25T00:00:00), "
        "got '2027-11-24T00:00:00'",
        "dev: processor_scaling.scheduled_peaks[1].min_capacity: must be above min_capacity (1) and at most "
        "max_capacity (10), got 11",
        "dev: processor_scaling.scheduled_peaks[2].min_capacity: must be above min_capacity (1) and at most "
        "max_capacity (10), got 1"]


def test_fails_when_scheduled_peaks_overlap_or_share_a_name():
    assert problems("dev", {"processor_scaling": {"scheduled_peaks": [
        PEAK, {**PEAK, "start": "2027-11-30T00:00:00", "end": "2027-12-02T00:00:00"}]}}) == [
        "dev: processor_scaling.scheduled_peaks: name 'black-friday' is used twice; each peak needs its own name",
        "dev: processor_scaling.scheduled_peaks: 'black-friday' starts (2027-11-30T00:00:00) before 'black-friday' "
        "ends (2027-12-01T00:00:00); peaks must not overlap"]


def test_fails_when_a_scheduled_peak_is_not_a_utc_time_or_has_no_provisioned_concurrency_to_raise():
    assert problems("dev", {"processor_scaling": {"scheduled_peaks": [{**PEAK, "start": "2027-11-31T00:00:00"}]}}) == [
        "dev: processor_scaling.scheduled_peaks[0].start: must be a UTC date and time such as 2026-11-27T00:00:00, "
        "got '2027-11-31T00:00:00'"]
    assert problems("dev", {"processor_scaling": {"provisioned_concurrency": 0, "scheduled_peaks": [PEAK]}}) == [
        "dev: processor_scaling.scheduled_peaks: need provisioned concurrency with autoscaling (a peak raises its "
        "scaling minimum): set processor_scaling.provisioned_concurrency > 0 and keep the provisioned_concurrency and "
        "autoscaling features enabled"]


def test_waf_logs_only_blocked_requests_unless_a_setting_adds_counted_ones():
    assert load_settings("prod", environ=NO_ENV).api.waf_log_actions == ("BLOCK",)
    assert load_settings("dev", {"api": {"waf_log_actions": ["BLOCK", "COUNT"]}},
                         environ=NO_ENV).api.waf_log_actions == ("BLOCK", "COUNT")


def test_prod_vendors_hear_by_https_and_signed_webhooks_and_stay_known_to_the_notifier():
    prod = load_settings("prod", environ=NO_ENV)
    assert [(sub.vendor_id, sub.protocol) for sub in prod.vendor_subscriptions] == [("vendor-acme", "https")]
    assert set(prod.delivery.vendors) == {"vendor-acme", "vendor-globex"}
    assert prod.known_vendor_ids == ("vendor-acme", "vendor-globex")
    assert load_settings("dev", environ=NO_ENV).known_vendor_ids == ("vendor-demo",)


def test_fails_when_prod_takes_paypal_sandbox_webhooks():
    assert problems("prod", {"paypal_mode": "sandbox"}) == [
        "prod: paypal_mode: must be 'live' in prod (sandbox webhooks are test money: prod must not take them), "
        "got 'sandbox'"]


def test_paypal_mode_is_live_by_default_and_dev_takes_the_sandbox():
    assert [load_settings(env, environ=NO_ENV).paypal_mode for env in ("dev", "prod", "local")] == [
        "sandbox", "live", "live"]
    assert load_settings("dev", {"paypal_mode": "live"}, environ=NO_ENV).paypal_mode == "live"


def test_fails_when_prod_kms_deletion_window_is_below_30():
    assert problems("prod", {"kms_deletion_window_days": 7}) == [
        "prod: kms_deletion_window_days: must be 30 in prod (time to notice a mistaken key deletion), got 7"]


def test_fails_when_archive_expires_before_transition():
    assert problems("dev", {"archive": {"transition_days": 100, "expiration_days": 90}}) == [
        "dev: archive.expiration_days: must be greater than transition_days (100), got 90"]


def test_fails_when_standard_ia_transition_is_under_30_days():
    assert problems("dev", {"archive": {"storage_class": "STANDARD_IA", "transition_days": 10}}) == [
        "dev: archive.transition_days: must be >= 30 for STANDARD_IA, got 10"]


def test_fails_when_prod_archive_is_kept_under_a_year():
    assert problems("prod", {"archive": {"transition_days": 30, "expiration_days": 200}}) == [
        "prod: archive.expiration_days: must be >= 365 in prod (PCI DSS 10.5.1), got 200"]


def test_fails_when_object_lock_outlasts_the_archive():
    assert problems("dev", {"archive": {"object_lock_retention_days": 9999}}) == [
        "dev: archive.object_lock_retention_days: must be 0 (= expiration_days) .. expiration_days (365), got 9999"]


def test_fails_when_availability_zones_are_not_of_the_region():
    assert problems("dev", {"network": {"availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"]}}) == [
        "dev: network.availability_zones: must name az_count (3) distinct zones of us-east-1 such as us-east-1a, "
        "got ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']"]


def test_fails_when_certificate_is_in_another_region():
    other = CERTIFICATE.format(region="eu-west-1")
    assert problems("prod", {"custom_domain": {"certificate_arn": other}}) == [
        f"prod: custom_domain.certificate_arn: must be in the stack's region us-east-1 (regional endpoint), got {other!r}"]


def test_fails_when_a_subscription_endpoint_does_not_fit_its_protocol():
    subscriptions = [{"vendor_id": "v1", "protocol": "https", "endpoint": "http://x.example.com"},
                     {"vendor_id": "v3", "protocol": "email", "endpoint": "nope"},
                     {"vendor_id": "v4", "protocol": "sqs", "endpoint": "https://sqs.example.com/q"}]
    assert problems("dev", {"vendor_subscriptions": subscriptions}) == [
        "dev: vendor_subscriptions[0].endpoint: must be an https:// URL for protocol https, got 'http://x.example.com'",
        "dev: vendor_subscriptions[1].endpoint: must be an e-mail address for protocol email, got 'nope'",
        "dev: vendor_subscriptions[2].endpoint: must be an SQS queue ARN for protocol sqs, got 'https://sqs.example.com/q'"]


def test_fails_when_a_vendor_is_named_like_the_unroutable_vendor():
    assert problems("dev", {"vendor_subscriptions": [{"vendor_id": "unknown", "protocol": "email",
                                                      "endpoint": "ops@example.com"}]}) == [
        "dev: vendor_subscriptions[0].vendor_id: 'unknown' is reserved for events whose vendor cannot be identified "
        "(they notify no vendor); choose another id"]


def test_vendor_ids_follow_one_rule_in_subscriptions_and_delivery_endpoints():
    """The runtime's rule (paycore.model.SAFE_ID): what a recorded event can carry is what can be subscribed."""
    endpoint = {"id": "ep-acme-main", "url": "https://acme.example.com/p", "event_types": ["payment.failed"]}
    accepted = load_settings("dev", {
        "vendor_subscriptions": [{"vendor_id": "acme.com:eu", "protocol": "email", "endpoint": "ops@acme.example.com"}],
        "delivery": {"vendors": {"acme.com:eu": {"endpoints": [endpoint]}}}}, environ=NO_ENV)
    assert accepted.vendor_subscriptions[0].vendor_id in accepted.delivery.vendors
    found = problems("dev", {"vendor_subscriptions": [{"vendor_id": "-x", "protocol": "email", "endpoint": "a@b.co"}],
                             "delivery": {"vendors": {"-x": {"endpoints": [endpoint]}}}})
    assert found == [f"dev: vendor_subscriptions[0].vendor_id: must be a vendor id ({VENDOR_ID.pattern}), got '-x'"]
    found = problems("dev", {"delivery": {"vendors": {"-x": {"endpoints": [endpoint]}}}})
    assert found == [f"dev: delivery.vendors.-x: vendor id '-x' must match {VENDOR_ID.pattern}"]


def test_fails_when_prod_disables_a_feature():
    assert problems("prod", {"disabled_features": {"waf": "cost"}}) == [
        "prod: disabled_features: prod must not disable features, got waf"]


def test_fails_when_an_aws_environment_uses_a_local_backend():
    assert problems("dev", {"backend": {"kind": "local", "path": "x.tfstate"}}) == [
        "dev: backend.kind: must be 's3' (only an emulator environment keeps its state locally), got 'local'"]


def test_fails_when_the_emulator_environment_uses_an_s3_backend_or_no_state_file():
    assert problems("local", {"backend": {"kind": "s3", "bucket": "abc", "key": "a.tfstate", "region": "us-east-1"}}) == [
        "local: backend.kind: must be 'local' in an emulator environment (its state never leaves the machine), got 's3'"]
    assert problems("local", {"backend": {"path": ""}}) == ["local: backend.path: must name the local state file"]


def test_fails_when_the_emulator_endpoint_is_missing_or_not_loopback():
    assert problems("local", {"local": None}) == [
        "local: local: an emulator environment needs its endpoint (local.endpoint_url)"]
    assert problems("local", {}, environ={"PAYMENTS_LOCAL_ENDPOINT": "http://10.0.0.5:4566"}) == [
        "local: local.endpoint_url: must be a loopback URL such as http://127.0.0.1:4566, got 'http://10.0.0.5:4566'"]


def test_fails_when_an_aws_environment_points_at_an_emulator():
    assert problems("dev", {"local": {}}) == [
        "dev: local: only an emulator environment (emulator: true) may point at an emulator, got 'http://127.0.0.1:4566'"]


# ----- what a person sees: `python main.py` and `cdktf synth` with a mistake in cdktf.json ----------------------------

MISTAKES = {
    "typo": ("dev", {"log_retention_dys": 30}, "dev: log_retention_dys: unknown setting; did you mean log_retention_days?"),
    "out-of-range": ("dev", {"ingest_max_receive_count": 0},
                     "dev: ingest_max_receive_count: must be 1..1000 (SQS maxReceiveCount), got 0"),
    "cross-field": ("prod", {"functions": {"processor": {"memory_mb": 1024}}},
                    "prod: functions.processor.memory_mb: must be >= 3008 in prod (the processor's 3 GB), got 1024"),
    "design-rate": ("local", {"webhooks_per_minute": 15_000},
                    "local: delivery.sender_max_concurrency: delivery sender λ carries at most 219 webhooks/s (event "
                    "source maximum concurrency 2 concurrent executions), below the design rate 250/s "
                    "(webhooks_per_minute 15,000): raise delivery.sender_max_concurrency to 3"),
}


def context_with(*mistakes: str) -> dict:
    """cdktf.json's context with these mistakes made in it."""
    def merged(base: dict, values: dict) -> dict:
        return {**base, **{key: merged(base.get(key, {}), value) if isinstance(value, dict) else value
                           for key, value in values.items()}}

    environments = read_environments()
    for mistake in mistakes:
        environment, values, _ = MISTAKES[mistake]
        environments[environment] = merged(environments[environment], values)
    return {"environments": environments}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_settings_mistake_is_one_line_once_without_a_traceback(mistake, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "PAYMENTS_"))}
    env.update(CDKTF_CONTEXT_JSON=json.dumps(context_with(mistake)), CDKTF_OUTDIR=str(tmp_path / "out"))
    run = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr == MISTAKES[mistake][2] + "\n" and run.stdout == ""  # that line, once, nothing else
    assert not (tmp_path / "out" / "manifest.json").exists()  # nothing synthesized


@pytest.mark.slow
def test_cdktf_synth_shows_each_settings_mistake_once_and_fails(tmp_path):
    """The cdktf CLI prints a failing app's stderr twice (live and in its summary): the app hands it
    the problems as error annotations instead, which it prints once before failing the run."""
    import os
    import re
    import subprocess
    import sys

    config = {"language": "python", "app": f"{sys.executable} {ROOT / 'main.py'}", "sendCrashReports": "false",
              "terraformProviders": [], "terraformModules": [], "context": context_with(*MISTAKES)}
    (tmp_path / "cdktf.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "PAYMENTS_"))}
    run = subprocess.run([str(ROOT / "node_modules" / ".bin" / "cdktf"), "synth"], cwd=tmp_path,
                         env=dict(env, CI="1", CHECKPOINT_DISABLE="1"), capture_output=True, text=True, timeout=300)
    output = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", run.stdout + run.stderr)
    assert run.returncode != 0
    for environment, _, line in MISTAKES.values():
        problem = line.removeprefix(f"{environment}: ")
        assert output.count(problem) == 1, output
        assert f"ERROR [{environment}]: {problem}" in output
    assert "Traceback" not in output
