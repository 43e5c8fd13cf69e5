"""Notification (the fan-out): the pipes read the ledger stream with the shared filters and template, the rule sends
completed payments to the notifications queue, and vendors see only their own sales."""

import json
from dataclasses import replace

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.pipes_pipe import PipesPipe
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription

import stand_ins
from paycore import events as domain_events

from constructs.notification import (
    ArchivePipeOptions,
    BusOptions,
    EventFanout,
    FanoutKeys,
    FilteredSubscription,
    PipeOptions,
    RuleOptions,
    StatusPipeOptions,
    TopicOptions,
    pipe_filter,
)
from infra_synth import by, resources, small_stack, synth


def _pipes(synthesized: str) -> dict[str, dict]:
    return {p["name"]: p for p in resources(synthesized, PipesPipe.TF_RESOURCE_TYPE).values()}


def test_archive_pipe_filters_event_inserts_to_the_archiver():
    pipe = _pipes(synth("dev"))["payments-archive-dev"]
    stream = pipe["source_parameters"]["dynamodb_stream_parameters"]
    assert stream["starting_position"] == "LATEST"
    assert stream["on_partial_batch_item_failure"] == "AUTOMATIC_BISECT"
    assert (stream["batch_size"], stream["maximum_batching_window_in_seconds"], stream["maximum_retry_attempts"],
            stream["maximum_record_age_in_seconds"]) == (100, 60, 3, 86_400)
    assert stream["dead_letter_config"]["arn"].startswith("${aws_sqs_queue.fanout_dlq")
    assert pipe["source_parameters"]["filter_criteria"]["filter"] == [
        {"pattern": pipe_filter(domain_events.PIPE_A_FILTER_PATTERN)}]
    assert pipe["target"].startswith("${aws_lambda_function.") and "archiver" in pipe["target"]


def test_status_pipe_puts_domain_events_on_the_bus_with_the_shared_template():
    # no vendor endpoints: only what the completed-payment rule routes
    pipe = _pipes(synth("dev", delivery={"vendors": {}}))["payments-status-dev"]
    assert pipe["source_parameters"]["filter_criteria"]["filter"] == [
        {"pattern": pipe_filter(domain_events.PIPE_B_FILTER_PATTERN)}]
    stream = pipe["source_parameters"]["dynamodb_stream_parameters"]
    assert stream["batch_size"] == 10 and "maximum_batching_window_in_seconds" not in stream  # vendors do not wait
    target = pipe["target_parameters"]
    assert target["input_template"] == domain_events.PIPE_B_INPUT_TEMPLATE
    assert target["eventbridge_event_bus_parameters"] == {"detail_type": "TransactionStatusChanged",
                                                          "source": "payments.ledger"}
    assert pipe["target"].startswith("${aws_cloudwatch_event_bus.")


def test_status_pipe_sends_the_announcing_state_writes_of_the_routed_kinds_to_the_bus():
    def routed(environment: str, **overrides) -> list[str]:
        pattern = json.loads(_pipes(synth(environment, **overrides))[f"payments-status-{environment}"]
                             ["source_parameters"]["filter_criteria"]["filter"][0]["pattern"])
        return pattern["dynamodb"]["NewImage"]["bus_kinds"]["SS"]

    # by default every announcement and the watch of a refund held for its sale (the notifier tells them all)
    assert routed("prod", delivery={"vendors": {}}) == list(domain_events.PIPE_B_ROUTED_KINDS)
    assert routed("dev") == list(domain_events.PIPE_B_ROUTED_KINDS)
    # fewer kinds configured: plus every kind a vendor endpoint subscribes to (the vendor-delivery rule routes them)
    assert routed("dev", pipes={"status_routed_statuses": ["succeeded"]}) == ["succeeded", "failed", "refunded"]
    assert routed("dev", pipes={"status_routed_statuses": []}) == list(domain_events.PIPE_B_ROUTED_KINDS)


def test_archive_pipe_batching_follows_the_settings():
    pipe = _pipes(synth("dev", pipes={"archive_batch_size": 500, "archive_batching_window_seconds": 0}))[
        "payments-archive-dev"]
    stream = pipe["source_parameters"]["dynamodb_stream_parameters"]
    assert stream["batch_size"] == 500 and "maximum_batching_window_in_seconds" not in stream


def test_pipe_roles_are_least_privilege():
    policies = {p["name"]: p for p in resources(synth("dev"), "aws_iam_role_policy").values() if p["name"] == "pipe"}
    assert policies  # both pipes have one
    documents = [d for k, d in resources(synth("dev"), "aws_iam_role").items() if k.startswith("fanout_")]
    assert len(documents) == 2
    for role in documents:
        trust = json.loads(role["assume_role_policy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "pipes.amazonaws.com"}
        assert "aws:SourceAccount" in trust["Statement"][0]["Condition"]["StringEquals"]
    statements = [s for d in json.loads(synth("dev"))["data"]["aws_iam_policy_document"].items()
                  if d[0].startswith("fanout_") and "policy-document" in d[0] for s in d[1]["statement"]]
    assert all("*" not in s["resources"] for s in statements)
    assert {a for s in statements for a in s["actions"]} >= {"lambda:InvokeFunction", "events:PutEvents",
                                                              "dynamodb:GetRecords", "sqs:SendMessage"}


def test_bus_is_encrypted_and_the_rule_sends_completed_payments_to_the_queue():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, CloudwatchEventBus.TF_RESOURCE_TYPE, {"name": "payments-dev"})
    bus = next(iter(resources(dev, CloudwatchEventBus.TF_RESOURCE_TYPE).values()))
    assert bus["kms_key_identifier"].startswith("${aws_kms_key.")
    assert Testing.to_have_resource_with_properties(dev, CloudwatchEventRule.TF_RESOURCE_TYPE, {
        "name": "payment-completed-dev",
        "event_pattern": json.dumps(domain_events.COMPLETED_PAYMENT_RULE_PATTERN, sort_keys=True)})
    target = by(dev, "aws_cloudwatch_event_target", target_id="notifications")
    assert "notifications" in target["arn"] and target["dead_letter_config"]["arn"].startswith("${aws_sqs_queue.fanout")


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_events_the_bus_cannot_encrypt_or_decrypt_go_to_its_own_encrypted_dlq(environment):
    out = json.loads(synth(environment))
    bus = out["resource"]["aws_cloudwatch_event_bus"]["fanout_bus_7AC4F72E"]
    assert bus["dead_letter_config"] == {"arn": "${aws_sqs_queue.fanout_bus-dlq_A9C94BD9.arn}"}
    queue = out["resource"]["aws_sqs_queue"]["fanout_bus-dlq_A9C94BD9"]
    assert queue["name"] == f"payments-bus-dlq-{environment}" and "fifo_queue" not in queue  # standard, as EventBridge needs
    assert queue["kms_master_key_id"] == "${aws_kms_key.security_sqs-key_EFCB80FA.arn}"
    assert queue["message_retention_seconds"] == 14 * 24 * 3600
    [policy] = [p for p in out["resource"]["aws_sqs_queue_policy"].values()
                if p["queue_url"] == "${aws_sqs_queue.fanout_bus-dlq_A9C94BD9.url}"]
    statements = out["data"]["aws_iam_policy_document"][policy["policy"].split(".")[2]]["statement"]
    [allow] = [s for s in statements if s.get("effect", "Allow") == "Allow"]
    assert allow["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert allow["actions"] == ["sqs:SendMessage"]
    assert allow["condition"] == [{"test": "ArnEquals", "variable": "aws:SourceArn",
                                   "values": ["${aws_cloudwatch_event_bus.fanout_bus_7AC4F72E.arn}"]}]
    assert [s["sid"] for s in statements if s.get("effect") == "Deny"] == ["DenyInsecureTransport"]


def test_vendor_subscriptions_filter_on_their_own_vendor_id():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, SnsTopicSubscription.TF_RESOURCE_TYPE, {
        "protocol": "email", "endpoint": "vendor-demo@example.com",
        "filter_policy": json.dumps({"vendor_id": ["vendor-demo"]}), "filter_policy_scope": "MessageAttributes"})


def test_alert_email_receives_unroutable_notifications_not_every_sale():
    for environment in ("dev", "prod"):
        alert = [s for s in resources(synth(environment), SnsTopicSubscription.TF_RESOURCE_TYPE).values()
                 if s["protocol"] == "email" and "vendor-topic" in s["topic_arn"]
                 and s["endpoint"].startswith(("admin@", "payments-oncall@"))]
        assert len(alert) == 1, environment
        assert json.loads(alert[0]["filter_policy"]) == {"vendor_id": [domain_events.UNROUTABLE_VENDOR_ID]}
        assert alert[0]["filter_policy_scope"] == "MessageAttributes"


def test_alert_email_receives_every_sale_when_its_filter_is_emptied():
    dev = synth("dev", alert_email_vendor_ids=())
    alert = [s for s in resources(dev, SnsTopicSubscription.TF_RESOURCE_TYPE).values()
             if s["endpoint"] == "admin@example.com" and "vendor-topic" in s["topic_arn"]]
    assert len(alert) == 1 and "filter_policy" not in alert[0]


def test_vendor_topic_keeps_its_name():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, "aws_sns_topic", {
        "name": "payment-vendor-notifications-dev"})


def test_disabled_pipes_and_email_subscriptions_are_left_out():
    off = synth("dev", disabled_features={"pipes": "test", "email_subscriptions": "test"})
    assert not Testing.to_have_resource(off, PipesPipe.TF_RESOURCE_TYPE)
    assert not Testing.to_have_resource_with_properties(off, SnsTopicSubscription.TF_RESOURCE_TYPE, {"protocol": "email"})


def _fanout(archive: bool = True, pipes: dict | None = None, topic: dict | None = None, **archive_fields):
    """A fan-out of stand-ins; `pipes` / `topic` replace fields of those options, `archive_fields` of Pipe A's."""
    st = small_stack()
    table = stand_ins.stream_table(st)
    archive_options = ArchivePipeOptions(name="payments-archive-test", function_arn=stand_ins.function(st, "archiver").arn,
                                         filter_pattern={"eventName": ["INSERT"]})
    pipe_options = PipeOptions(
        table_stream_arn=table.stream_arn, stream_kms_key_arn=stand_ins.key(st, "dynamodb").arn,
        status=StatusPipeOptions(name="payments-status-test", filter_pattern={"eventName": ["MODIFY"]},
                                 input_template='{"id": <$.dynamodb.Keys.transaction_id.S>}'),
        archive=replace(archive_options, **archive_fields) if archive else None)
    fanout = EventFanout(
        st, "fanout", account_id="123456789012",
        keys=FanoutKeys(events=stand_ins.key(st, "events").arn, sqs=stand_ins.key(st, "sqs").arn,
                        sns=stand_ins.key(st, "sns").arn),
        bus=BusOptions(name="payments-test"),
        rule=RuleOptions(name="payment-completed-test", pattern=domain_events.COMPLETED_PAYMENT_RULE_PATTERN,
                         target_queue_arn=stand_ins.queue(st, "notifications").arn),
        topic=replace(TopicOptions(name="payment-vendor-notifications-test"), **(topic or {})),
        dead_letter_queue_name="payments-fanout-dlq-test",
        pipes=replace(pipe_options, **(pipes or {})))
    return st, fanout


def test_a_small_fanout_synthesizes_with_stand_ins():
    st, fanout = _fanout()
    out = Testing.synth(st)
    assert len(_pipes(out)) == 2 and fanout.archive_pipe is not None
    _, no_archiver = _fanout(archive=False)
    assert no_archiver.archive_pipe is None and no_archiver.status_pipe is not None


def test_fails_when_batch_size_is_out_of_range():
    with pytest.raises(ValueError, match="pipes.batch_size must be 1..10000, got 0"):
        _fanout(pipes={"batch_size": 0})


def test_fails_when_the_archive_batching_is_out_of_range():
    with pytest.raises(ValueError, match="pipes.archive.batch_size must be 1..10000, got 20000.*"
                                         "pipes.archive.batching_window_seconds must be 0..300, got 301"):
        _fanout(batch_size=20_000, batching_window_seconds=301)


def test_fails_when_retry_attempts_are_out_of_range():
    with pytest.raises(ValueError, match="pipes.maximum_retry_attempts must be -1 or 0..10000, got -5"):
        _fanout(pipes={"maximum_retry_attempts": -5})


def test_fails_when_record_age_is_out_of_range():
    with pytest.raises(ValueError, match="pipes.maximum_record_age_seconds must be -1 or 60..604800, got 10"):
        _fanout(pipes={"maximum_record_age_seconds": 10})


def test_fails_when_the_stream_arn_is_not_a_stream():
    with pytest.raises(ValueError, match="pipes.table_stream_arn must be a DynamoDB stream ARN"):
        _fanout(pipes={"table_stream_arn": "arn:aws:sqs:us-east-1:123456789012:q"})


def test_fails_when_a_vendor_protocol_is_unknown():
    with pytest.raises(ValueError, match="protocol must be 'email', 'https' or 'sqs', got 'sms'"):
        _fanout(topic={"subscriptions": (FilteredSubscription("vendor-v1-0", "sms", "+100", "v1"),)})


def test_fails_when_a_subscription_id_repeats():
    sub = FilteredSubscription("vendor-v1-0", "https", "https://v1.example.com/hook", "v1")
    with pytest.raises(ValueError, match="topic.subscriptions must have distinct ids other than 'alert-email'"):
        _fanout(topic={"subscriptions": (sub, sub)})


def test_fails_with_every_problem_of_the_pipes_and_the_topic_at_once():
    sub = FilteredSubscription("alert-email", "sms", "+100", "v1")
    with pytest.raises(ValueError) as error:
        _fanout(pipes={"batch_size": 0, "maximum_retry_attempts": -5}, topic={"subscriptions": (sub,)},
                batching_window_seconds=301)
    message = str(error.value)
    for fragment in ("pipes.batch_size must be 1..10000, got 0", "pipes.maximum_retry_attempts must be -1",
                     "pipes.archive.batching_window_seconds must be 0..300", "protocol must be 'email', 'https' or 'sqs'",
                     "distinct ids other than 'alert-email'"):
        assert fragment in message


def test_no_pipes_leaves_out_both_pipes_and_their_roles():
    st = small_stack()
    fanout = EventFanout(
        st, "fanout", account_id="123456789012",
        keys=FanoutKeys(events=stand_ins.key(st, "events").arn, sqs=stand_ins.key(st, "sqs").arn,
                        sns=stand_ins.key(st, "sns").arn),
        bus=BusOptions(name="payments-test"),
        rule=RuleOptions(name="r", pattern={"source": ["x"]}, target_queue_arn=stand_ins.queue(st, "n").arn),
        topic=TopicOptions(name="t"), dead_letter_queue_name="dlq")
    out = Testing.synth(st)
    assert fanout.status_pipe is None and fanout.status_pipe_role is None
    assert not Testing.to_have_resource(out, PipesPipe.TF_RESOURCE_TYPE)
    assert Testing.to_have_resource_with_properties(out, "aws_sqs_queue", {"name": "payments-test-bus-dlq"})
