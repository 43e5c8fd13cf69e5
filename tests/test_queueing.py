"""The ingest FIFO queue, the notifications queue, their DLQs and policies, and the construct's
checks (visibility >= 6 x the consumer's timeout, FIFO naming, provider limits)."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_allow_policy import SqsQueueRedriveAllowPolicy
from cdktf_cdktf_provider_aws.sqs_queue_redrive_policy import SqsQueueRedrivePolicy

from constructs.queueing import FailureQueue, WebhookQueue
from infra_synth import by, data_sources, named, resources, small_stack, synth

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def test_ingest_queue_is_high_throughput_fifo_without_content_dedup():
    out = synth("dev")
    assert Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "webhooks-dev.fifo", "fifo_queue": True, "content_based_deduplication": False,
        "deduplication_scope": "messageGroup", "fifo_throughput_limit": "perMessageGroupId",
        "message_retention_seconds": 1_209_600, "max_message_size": 262_144,
        "visibility_timeout_seconds": 180,  # 6 x the processor's 30 s
        "kms_data_key_reuse_period_seconds": 3600,
    })
    assert "security_sqs-key" in by(out, SqsQueue.TF_RESOURCE_TYPE, name="webhooks-dev.fifo")["kms_master_key_id"]
    assert not Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "webhooks-dev.fifo", "content_based_deduplication": True})
    # SQS-managed SSE conflicts with a customer-managed key: it must not be set at all
    assert not any("sqs_managed_sse_enabled" in q for q in resources(out, SqsQueue.TF_RESOURCE_TYPE).values())


def test_ingest_dlq_is_fifo_and_redrive_after_5_receives_by_queue():
    out = synth("dev")
    dlq, _ = named(out, SqsQueue.TF_RESOURCE_TYPE, name="webhooks-dev-dlq.fifo", fifo_queue=True)
    ingest, _ = named(out, SqsQueue.TF_RESOURCE_TYPE, name="webhooks-dev.fifo")
    redrive = by(out, SqsQueueRedrivePolicy.TF_RESOURCE_TYPE, queue_url=f"${{aws_sqs_queue.{ingest}.url}}")
    assert redrive["redrive_policy"] == (
        f'${{jsonencode({{"deadLetterTargetArn" = aws_sqs_queue.{dlq}.arn, "maxReceiveCount" = 5}})}}')  # ingest_max_receive_count
    allow = by(out, SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE, queue_url=f"${{aws_sqs_queue.{dlq}.url}}")
    assert '"redrivePermission" = "byQueue"' in allow["redrive_allow_policy"]
    assert f"aws_sqs_queue.{ingest}.arn" in allow["redrive_allow_policy"]
    # the queues themselves carry no redrive JSON (no perpetual diff against the emulator)
    assert not any("redrive_policy" in q for q in resources(out, SqsQueue.TF_RESOURCE_TYPE).values())
    # each queue policy is written beside the redrive policies, not after them: their ~25 s
    # provider waits overlap (the emulator keeps a policy that SetQueueAttributes leaves out, as AWS)
    policies = resources(out, SqsQueuePolicy.TF_RESOURCE_TYPE)
    assert len(policies) >= 6 and not any("depends_on" in p for p in policies.values())


def test_notifications_queue_is_standard_with_long_polling_and_its_dlq():
    out = synth("dev")
    assert Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "payment-notifications-dev", "receive_wait_time_seconds": 20,
        "message_retention_seconds": 1_209_600, "visibility_timeout_seconds": 180})
    assert Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {"name": "payment-notifications-dev-dlq"})
    assert not Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "payment-notifications-dev", "fifo_queue": True})


def test_every_queue_is_kms_encrypted_and_tls_only():
    out = synth("prod")
    queues = {q["name"]: q for q in resources(out, SqsQueue.TF_RESOURCE_TYPE).values()}
    assert {"webhooks-prod.fifo", "webhooks-prod-dlq.fifo", "payment-notifications-prod",
            "payment-notifications-prod-dlq", "payment-lambda-failures-prod"} <= set(queues)
    assert all("security_sqs-key" in q["kms_master_key_id"] for q in queues.values())
    documents = [d for key, d in data_sources(out, "aws_iam_policy_document").items()
                 if key.startswith(("ingest_", "notifications_", "lambda-failures_"))]
    assert len(documents) == 5
    for document in documents:
        tls = document["statement"][0]
        assert tls["sid"] == "DenyInsecureTransport" and tls["effect"] == "Deny"


def test_notifications_queue_admits_eventbridge_only_from_the_completed_payment_rule():
    documents = data_sources(synth("dev"), "aws_iam_policy_document")
    policy = next(d for key, d in documents.items() if key.startswith("notifications_policy-document"))
    allow = policy["statement"][1]
    assert allow["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert allow["actions"] == ["sqs:SendMessage"]
    source = allow["condition"][0]
    assert source["test"] == "ArnEquals" and source["variable"] == "aws:SourceArn"
    assert source["values"][0].endswith(":rule/payments-dev/payment-completed-dev")
    ingest = next(d for key, d in documents.items() if key.startswith("ingest_policy-document"))
    assert [s["effect"] for s in ingest["statement"]] == ["Deny", "Deny"]  # producers reach it through IAM only


def test_ingest_queue_denies_sending_to_every_principal_but_its_three_senders():
    documents = data_sources(synth("dev"), "aws_iam_policy_document")
    ingest = next(d for key, d in documents.items() if key.startswith("ingest_policy-document"))
    [deny] = [s for s in ingest["statement"] if s.get("sid") == "DenySendersNotListed"]
    assert (deny["effect"], deny["actions"], deny["principals"]) == ("Deny", ["sqs:SendMessage"],
                                                                     [{"type": "*", "identifiers": ["*"]}])
    [condition] = deny["condition"]
    assert (condition["test"], condition["variable"]) == ("ArnNotEquals", "aws:PrincipalArn")
    account = "${data.aws_caller_identity.caller.account_id}"
    assert condition["values"] == [f"arn:${{data.aws_partition.partition.partition}}:iam::{account}:role/{name}"
                                   for name in ("payments-api-dev-sqs-send", "payment-validator-dev-role",
                                                "payments-operator-dev", "payment-reconciler-dev-role")]
    # nothing else is denied: the account's administrators still manage the queue (tests/test_hops.py)
    notifications = next(d for key, d in documents.items() if key.startswith("notifications_policy-document"))
    assert not [s for s in notifications["statement"] if s.get("sid") == "DenySendersNotListed"]


def test_fails_when_named_senders_meet_service_senders_or_are_not_arns():
    with pytest.raises(ValueError, match=r"sender_principal_arns cannot be combined with service_senders.*"
                                         r"sender_principal_arns must be IAM principal ARNs, got \['validator'\]"):
        make_queue(sender_principal_arns=["validator"], service_senders={"events.amazonaws.com": "arn:aws:events:x"})


def make_queue(**overrides) -> WebhookQueue:
    args = dict(name="webhooks-test.fifo", fifo=True, kms_key_arn=KEY, consumer_timeout_seconds=30, dlq_max_receive_count=3)
    args.update(overrides)
    return WebhookQueue(small_stack(), "queue", **args)


def test_visibility_defaults_to_6_x_the_consumer_timeout():
    queue = make_queue(consumer_timeout_seconds=45)
    out = Testing.synth(queue.node.scope)
    assert Testing.to_have_resource_with_properties(out, SqsQueue.TF_RESOURCE_TYPE, {
        "name": "webhooks-test.fifo", "visibility_timeout_seconds": 270})


def test_fails_when_visibility_timeout_is_below_6_x_function_timeout():
    with pytest.raises(ValueError, match=r"visibility timeout must be >= 6 x function timeout \(180 s\), got 60 s"):
        make_queue(visibility_timeout_seconds=60)


def test_fails_when_fifo_name_lacks_the_fifo_suffix():
    with pytest.raises(ValueError, match=r"name must end in \.fifo exactly when fifo=True .*'webhooks-test'"):
        make_queue(name="webhooks-test")


def test_fails_when_max_message_size_exceeds_the_provider_limit():
    with pytest.raises(ValueError, match=r"max_message_size_bytes must be 1024\.\.262144 .*got 1048576"):
        make_queue(max_message_size_bytes=1_048_576)


def test_fails_when_retention_wait_reuse_and_receive_count_are_out_of_range_all_at_once():
    with pytest.raises(ValueError) as error:
        make_queue(message_retention_seconds=30, receive_wait_time_seconds=21,
                   kms_data_key_reuse_period_seconds=10, dlq_max_receive_count=0)
    message = str(error.value)
    for fragment in ("message_retention_seconds must be 60..1209600 s (14 days), got 30",
                     "receive_wait_time_seconds must be 0..20 s (long polling), got 21",
                     "kms_data_key_reuse_period_seconds must be 60..86400, got 10",
                     "dlq_max_receive_count must be 1..1000, got 0"):
        assert fragment in message


def test_fails_when_failure_queue_name_is_invalid():
    with pytest.raises(ValueError, match=r"name must be 1\.\.80 characters"):
        FailureQueue(small_stack(), "failures", name="failures queue", kms_key_arn=KEY)


def test_local_leaves_out_the_redrive_allow_policy_the_emulator_cannot_store():
    # ingest, notifications and delivery-events
    assert len(resources(synth("dev"), SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE)) == 3
    assert not resources(synth("local"), SqsQueueRedriveAllowPolicy.TF_RESOURCE_TYPE)
    assert len(resources(synth("local"), SqsQueueRedrivePolicy.TF_RESOURCE_TYPE)) == 3  # the redrive itself stays
