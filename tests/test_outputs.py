"""Outputs: what operators and scripts need, per environment."""

import json

import pytest

from constructs.app.environments import environment_names
from infra_synth import synth

EXPECTED = {
    "api_url", "webhook_url_stripe", "webhook_url_paypal", "table_name", "archive_bucket", "ingest_queue_url",
    "ingest_dlq_url", "notifications_queue_url", "notifications_dlq_url", "vendor_topic_arn", "alerts_topic_arn",
    "event_bus_name", "fanout_dlq_url", "vpc_id", "private_subnet_ids", "public_subnet_ids",
    *(f"function_arn_{n}" for n in ("authorizer", "validator", "processor", "archiver", "notifier", "reader",
                                    "status", "notify")),
}


@pytest.mark.parametrize("environment", environment_names())
def test_stack_outputs_cover_c17(environment):
    outputs = json.loads(synth(environment))["output"]
    assert EXPECTED <= set(outputs)
    assert all(o.get("description") for o in outputs.values())
    assert outputs["webhook_url_stripe"]["value"].endswith("/webhooks/stripe")
    assert outputs["private_subnet_ids"]["value"].startswith("${tolist([aws_subnet.")


def test_only_prod_outputs_the_custom_domain_target():
    assert "custom_domain_target" in json.loads(synth("prod"))["output"]
    assert "custom_domain_target" not in json.loads(synth("dev"))["output"]
