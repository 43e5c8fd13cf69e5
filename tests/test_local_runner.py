"""The local runner reads the deployed wiring by resource type and by the references between
resources (a small hand-written `terraform show -json` state), not by physical names."""

from __future__ import annotations

import json

import pytest

from scripts.local.runner.wiring import IntegrationResponse, Wiring, unqualified

ARN = "arn:aws:{service}:us-east-1:123456789012:{rest}"


def fn_arn(name: str) -> str:
    return ARN.format(service="lambda", rest=f"function:{name}")


def queue(name: str) -> dict:
    return {"type": "aws_sqs_queue", "values": {"name": name, "id": f"http://sqs/{name}", "url": f"http://sqs/{name}",
                                                "arn": ARN.format(service="sqs", rest=name),
                                                "fifo_queue": name.endswith(".fifo")}}


def redrive(name: str, dlq: str) -> dict:
    """The stack's redrive policies are their own resources (constructs/queueing)."""
    return {"type": "aws_sqs_queue_redrive_policy", "values": {
        "queue_url": f"http://sqs/{name}",
        "redrive_policy": json.dumps({"deadLetterTargetArn": ARN.format(service="sqs", rest=dlq), "maxReceiveCount": 5})}}


def function(name: str, handler: str, **env: str) -> dict:
    return {"type": "aws_lambda_function", "values": {
        "function_name": name, "arn": fn_arn(name), "handler": handler, "memory_size": 256, "timeout": 10,
        "environment": [{"variables": env}]}}


def state(*, deadletter_name: str = "q-one.fifo", pipes_source: str = "stream/ledger") -> dict:
    """Physical names chosen so that no name-based guess (prefixes, "dlq") would find them."""
    resources = [
        function("fn-a", "processor_handler.handler", SECRET_PREFIX="p/"),
        function("fn-b", "archiver_handler.handler", ARCHIVE_BUCKET="bucket-two"),
        function("fn-c", "authorizer_handler.handler"),
        queue("q-zero.fifo"), queue(deadletter_name), queue("q-other"), redrive("q-zero.fifo", deadletter_name),
        queue("q-rules"), {"type": "aws_cloudwatch_event_target", "values": {
            "dead_letter_config": [{"arn": ARN.format(service="sqs", rest="q-rules")}]}},
        {"type": "aws_lambda_event_source_mapping", "values": {
            "event_source_arn": ARN.format(service="sqs", rest="q-zero.fifo"), "function_arn": fn_arn("fn-a") + ":live",
            "batch_size": 5, "function_response_types": ["ReportBatchItemFailures"]}},
        {"type": "aws_dynamodb_table", "values": {"name": "table-markers", "stream_arn": "stream/markers"}},
        {"type": "aws_dynamodb_table", "values": {"name": "table-ledger", "stream_arn": "stream/ledger"}},
        {"type": "aws_s3_bucket", "values": {"bucket": "bucket-one"}},
        {"type": "aws_s3_bucket", "values": {"bucket": "bucket-two"}},
        {"type": "aws_cloudwatch_event_bus", "values": {"name": "bus-x", "arn": ARN.format(service="events",
                                                                                            rest="event-bus/bus-x")}},
        {"type": "aws_pipes_pipe", "values": {"name": "pipe-1", "source": pipes_source, "target": fn_arn("fn-b"),
                                              "source_parameters": [{"dynamodb_stream_parameters": [{"batch_size": 7}]}]}},
        {"type": "aws_pipes_pipe", "values": {
            "name": "pipe-2", "source": pipes_source, "target": ARN.format(service="events", rest="event-bus/bus-x"),
            "source_parameters": [{"filter_criteria": [{"filter": [{"pattern": '{"eventName": ["MODIFY"]}'}]}]}],
            "target_parameters": [{"input_template": "{}", "eventbridge_event_bus_parameters": [
                {"source": "payments", "detail_type": "status"}]}]}},
        {"type": "aws_api_gateway_rest_api", "values": {"id": "api1"}},
        {"type": "aws_api_gateway_stage", "values": {"stage_name": "v1"}},
        {"type": "aws_api_gateway_resource", "values": {"id": "r1", "path": "/webhooks/stripe"}},
        {"type": "aws_api_gateway_authorizer", "values": {
            "id": "au1", "authorizer_uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                           + fn_arn("fn-c") + "/invocations"}},
        {"type": "aws_api_gateway_method", "values": {"resource_id": "r1", "http_method": "POST", "authorizer_id": "au1"}},
        {"type": "aws_api_gateway_integration", "values": {
            "resource_id": "r1", "http_method": "POST", "type": "AWS",
            "uri": "arn:aws:apigateway:us-east-1:sqs:path/123456789012/q-zero.fifo",
            "request_templates": {"application/json": "Action=SendMessage"}}},
        {"type": "aws_api_gateway_integration_response", "values": {
            "resource_id": "r1", "http_method": "POST", "selection_pattern": "5\\d{2}", "status_code": "503",
            "response_templates": {"application/json": '{"later": true}'}}},
        {"type": "aws_api_gateway_integration_response", "values": {
            "resource_id": "r1", "http_method": "POST", "status_code": "200",
            "response_templates": {"text/plain": "[accepted]"},
            "response_parameters": {"method.response.header.Content-Type": "'text/plain'"}}},
        {"type": "aws_wafv2_web_acl", "values": {"arn": "acl1", "rule": [{
            "name": "body-size", "action": [{"block": [{"custom_response": [{"response_code": 413}]}]}],
            "statement": [{"size_constraint_statement": [
                {"comparison_operator": "GT", "size": 262144, "field_to_match": [{"body": [{}]}]}]}]}]}},
        {"type": "aws_wafv2_web_acl_association", "values": {"web_acl_arn": "acl1"}},
    ]
    return {"values": {"root_module": {"resources": [{"mode": "managed", **r} for r in resources]}}}


def test_functions_are_known_by_the_code_their_handler_runs():
    wiring = Wiring.from_state(state())
    assert set(wiring.functions) == {"processor", "archiver", "authorizer"}
    processor = wiring.functions["processor"]
    assert (processor.name, processor.environment, processor.memory_mb) == ("fn-a", {"SECRET_PREFIX": "p/"}, 256)
    assert processor.module_path.is_file()


def test_event_sources_follow_the_mapping_to_an_aliased_function_and_its_queue():
    [source] = Wiring.from_state(state()).event_sources
    assert (source.queue.name, source.function, source.batch_size, source.report_failures) == \
        ("q-zero.fifo", "processor", 5, True)


def test_ingest_queue_is_the_integrations_and_dead_letter_queues_the_targets_of_dead_letter_settings():
    wiring = Wiring.from_state(state(deadletter_name="q-one.fifo"))
    ingest = wiring.ingest_queue()
    assert ingest.name == "q-zero.fifo"
    assert wiring.dead_letter_queue(ingest).name == "q-one.fifo"
    assert [q.name for q in wiring.dead_letter_queues()] == ["q-one.fifo", "q-rules"]
    with pytest.raises(KeyError):
        wiring.dead_letter_queue(wiring.queues["q-other"])


def test_the_bus_dead_letter_queue_is_a_dead_letter_queue_too():
    deployed = state()
    resources = deployed["values"]["root_module"]["resources"]
    [bus] = [r for r in resources if r["type"] == "aws_cloudwatch_event_bus"]
    bus["values"]["dead_letter_config"] = [{"arn": ARN.format(service="sqs", rest="q-bus")}]
    resources.append({"mode": "managed", **queue("q-bus")})
    assert sorted(q.name for q in Wiring.from_state(deployed).dead_letter_queues()) == ["q-bus", "q-one.fifo", "q-rules"]


def test_table_bus_and_bucket_are_the_ones_the_pipes_reference():
    wiring = Wiring.from_state(state())
    assert (wiring.table_name, wiring.stream_arn, wiring.bucket) == ("table-ledger", "stream/ledger", "bucket-two")
    archive, status = wiring.pipes
    assert (archive.target_function, archive.target_bus, archive.batch_size) == ("archiver", None, 7)
    assert (status.target_function, status.target_bus, status.patterns) == (None, "bus-x", [{"eventName": ["MODIFY"]}])
    assert Wiring.from_state(state(pipes_source="stream/markers")).table_name == "table-markers"


def test_routes_carry_their_authorizer_error_statuses_and_the_associated_waf_rule():
    wiring = Wiring.from_state(state())
    route = wiring.routes[("POST", "/webhooks/stripe")]
    assert route.authorizer_function == "authorizer"
    assert route.responses == {"5\\d{2}": IntegrationResponse(503, '{"later": true}', "application/json"),
                               "": IntegrationResponse(200, "[accepted]", "text/plain")}
    assert [(r.name, r.max_bytes, r.status) for r in wiring.waf_body_rules] == [("body-size", 262144, 413)]
    unassociated = state()
    unassociated["values"]["root_module"]["resources"].pop()
    assert Wiring.from_state(unassociated).waf_body_rules == []


def test_unqualified_strips_an_alias_and_an_invoke_uri():
    arn = fn_arn("fn-a")
    assert unqualified(arn + ":live") == arn
    assert unqualified(f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations") == arn


def test_fails_when_a_handler_module_is_in_no_function_folder():
    broken = state()
    broken["values"]["root_module"]["resources"][0]["values"]["handler"] = "missing_handler.handler"
    with pytest.raises(ValueError, match="missing_handler.py"):
        Wiring.from_state(broken)


def test_a_handler_loads_from_its_file_with_its_environment_and_no_sys_path_change():
    import io
    import sys

    from scripts.local.runner.functions import Functions
    from scripts.local.runner.wiring import LAMBDA_SRC

    deployed = state()
    deployed["values"]["root_module"]["resources"].append(
        {"mode": "managed", **function("fn-s", "status_handler.handler", TABLE_NAME="t-1")})
    path_before, modules_before = list(sys.path), dict(sys.modules)
    try:  # the runner loads paycore and the handlers fresh: the suite's copies come back afterwards
        functions = Functions(Wiring.from_state(deployed), "http://127.0.0.1:1", log_sink=io.StringIO())
        assert callable(functions.handler("status"))
        assert sys.modules["status_handler"].__file__ == str(LAMBDA_SRC / "status" / "status_handler.py")
    finally:
        for name in set(sys.modules) - set(modules_before):
            del sys.modules[name]
        sys.modules.update(modules_before)
    assert sys.path == path_before
    with functions.environment("status"):
        import os

        assert (os.environ["TABLE_NAME"], os.environ["AWS_LAMBDA_FUNCTION_NAME"]) == ("t-1", "fn-s")
    assert os.environ.get("AWS_LAMBDA_FUNCTION_NAME") != "fn-s"


def test_vendor_endpoints_are_the_parameter_the_delivery_functions_name():
    deployed = state()
    config = {"vendors": {"vendor-a": {"endpoints": [
        {"id": "ep-a-main", "url": "http://127.0.0.1:18081/hooks/a", "event_types": ["payment.succeeded"],
         "rate_limit_per_second": 2}]}}}
    deployed["values"]["root_module"]["resources"] += [
        {"mode": "managed", **function("fn-d", "delivery_sender_handler.handler", DELIVERY_ENDPOINTS_PARAMETER="/p/ep")},
        {"mode": "managed", "type": "aws_ssm_parameter", "values": {"name": "/p/other", "value": "{}"}},
        {"mode": "managed", "type": "aws_ssm_parameter", "values": {"name": "/p/ep", "value": json.dumps(config)}},
    ]
    assert Wiring.from_state(deployed).vendor_endpoints() == {"ep-a-main": {
        "vendor_id": "vendor-a", "url": "http://127.0.0.1:18081/hooks/a", "event_types": ["payment.succeeded"],
        "rate_limit_per_second": 2}}
    assert Wiring.from_state(state()).vendor_endpoints() == {}


@pytest.fixture
def suite_modules():
    """The runner loads paycore and the handlers fresh: the suite's copies come back afterwards."""
    import sys

    before = dict(sys.modules)
    yield
    for name in set(sys.modules) - set(before):
        del sys.modules[name]
    sys.modules.update(before)


@pytest.fixture(scope="module")
def emulator():
    from scripts.local import deploy as local_deploy

    with local_deploy.LocalEmulator() as running:
        yield running


def deployed_queue(endpoint_url: str, name: str) -> dict:
    """A FIFO queue created in the emulator, mapped to the delivery sender (a state like test's `state()`)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resources = [
        function("fn-d", "delivery_sender_handler.handler"),
        {"type": "aws_sqs_queue", "values": {"name": name, "url": url, "id": url, "arn": arn, "fifo_queue": True}},
        {"type": "aws_lambda_event_source_mapping", "values": {
            "event_source_arn": arn, "function_arn": fn_arn("fn-d"), "batch_size": 10,
            "function_response_types": ["ReportBatchItemFailures"]}},
    ]
    return {"values": {"root_module": {"resources": [{"mode": "managed", **r} for r in resources]}}}


@pytest.mark.parametrize("batch", [False, True], ids=["ChangeMessageVisibility", "ChangeMessageVisibilityBatch"])
def test_a_failure_keeps_the_visibility_its_function_set_and_other_failures_come_back_at_once(
        emulator, monkeypatch, suite_modules, batch):
    """The delivery sender holds a retry in the queue itself (ChangeMessageVisibility through its
    boto3 client): the event source must not undo it; a plain failure is visible again at once (the
    runner's stand-in for the queue's visibility timeout). The hook sees the call through botocore."""
    import boto3

    from scripts.local.runner import event_sources
    from scripts.local.runner.platform import LocalPlatform

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    name = f"held-{'batch' if batch else 'one'}.fifo"
    platform = LocalPlatform(deployed_queue(emulator.endpoint_url, name), emulator.endpoint_url)
    [source] = platform.wiring.event_sources
    for index in range(3):
        platform.sqs.send_message(QueueUrl=source.queue.url, MessageBody=f"m{index}", MessageGroupId=f"g{index}",
                                  MessageDeduplicationId=f"d{index}")

    def handler(event, context):  # m0 delivered, m1 held by the function for 600 s, m2 failed
        records = {r["body"]: r for r in event["Records"]}
        sqs = boto3.client("sqs")  # the function's client: the deployed environment names the emulator
        held = records["m1"]["receiptHandle"]
        if batch:
            sqs.change_message_visibility_batch(QueueUrl=source.queue.url, Entries=[
                {"Id": "0", "ReceiptHandle": held, "VisibilityTimeout": 600}])
        else:
            sqs.change_message_visibility(QueueUrl=source.queue.url, ReceiptHandle=held, VisibilityTimeout=600)
        return {"batchItemFailures": [{"itemIdentifier": records[b]["messageId"]} for b in ("m1", "m2")]}

    platform.functions._handlers["delivery_sender"] = handler
    held: set[str] = set()
    assert event_sources.poll(platform.sqs, platform.functions, source, held) == 3
    assert held == {name}
    again = platform.sqs.receive_message(QueueUrl=source.queue.url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["m2"]  # m1 stays hidden: its group's order is kept by the queue
    assert platform.functions.take_visibility_changes({m["ReceiptHandle"] for m in again}) == set()


def test_a_message_held_back_for_a_pause_is_not_polled_again_until_its_visibility_ends(emulator, monkeypatch,
                                                                                        suite_modules):
    """What the delivery sender does for a paused endpoint (hold the message for the recheck
    period, report it failed) makes one invocation per period, not a tight loop: drain waits on the
    emulator's clock. (With the hook on `before-call` the message was visible again at once: the
    handler here gives up after 20 invocations so that the old runner fails instead of spinning.)"""
    import boto3

    from scripts.local.runner.platform import LocalPlatform

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    platform = LocalPlatform(deployed_queue(emulator.endpoint_url, "paused.fifo"), emulator.endpoint_url)
    [source] = platform.wiring.event_sources
    platform.sqs.send_message(QueueUrl=source.queue.url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="d")

    def paused(event, context):
        [record] = event["Records"]
        sqs = boto3.client("sqs")
        if platform.invocations["delivery_sender"] >= 20:  # spinning: let the drain end
            sqs.delete_message(QueueUrl=source.queue.url, ReceiptHandle=record["receiptHandle"])
            return {"batchItemFailures": []}
        sqs.change_message_visibility(QueueUrl=source.queue.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=30)
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}

    platform.functions._handlers["delivery_sender"] = paused
    assert platform.drain(wait_seconds=1.0, poll_interval_seconds=0.05) is False  # still held when the wait ended
    assert platform.invocations["delivery_sender"] == 1


@pytest.fixture
def vendor_url():
    from scripts.local.deploy import free_port

    return f"http://127.0.0.1:{free_port()}/hooks/ep-test"


def _post(url: str, body: str, secret: str, msg_id: str = "msg_1", timestamp: int | None = None) -> int:
    import time
    import urllib.error
    import urllib.request

    from paycore import delivery

    headers = delivery.headers(msg_id, timestamp or int(time.time()), body, [secret])
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _body(transaction: str, event_type: str = "payment.succeeded") -> str:
    return json.dumps({"type": event_type, "timestamp": None, "data": {"transaction_id": transaction}})


def test_a_vendor_verifies_with_standardwebhooks_records_and_drops_duplicates(vendor_url):
    from scripts.local.runner.vendors import VendorEndpoint, failing_first

    from paycore import delivery

    vendor = VendorEndpoint("ep-test", vendor_url, secret=delivery.generate_secret(), behaviour=failing_first(1)).start()
    try:
        assert _post(vendor_url, _body("pi_1"), vendor.secret, "msg_1") == 500
        assert _post(vendor_url, _body("pi_1"), vendor.secret, "msg_1") == 200
        assert _post(vendor_url, _body("pi_1"), vendor.secret, "msg_1") == 200  # a copy: kept once
        assert _post(vendor_url, _body("pi_1", "payment.refunded"), vendor.secret, "msg_2", 1_700_000_000) == 401
        assert _post(vendor_url, _body("pi_1", "payment.refunded"), delivery.generate_secret(), "msg_2") == 401
    finally:
        vendor.stop()
    assert [(r.webhook_id, r.status, r.verified) for r in vendor.requests] == [
        ("msg_1", 500, True), ("msg_1", 200, True), ("msg_1", 200, True), ("msg_2", 401, False), ("msg_2", 401, False)]
    assert [(r.transaction_id, r.event_type) for r in vendor.delivered()] == [("pi_1", "payment.succeeded")]
    assert (vendor.duplicates(), vendor.unverified()) == (1, 2)


def test_a_vendor_that_is_down_refuses_connections_and_comes_back_on_its_port(vendor_url):
    import urllib.error

    from scripts.local.runner.vendors import VendorEndpoint, answer

    from paycore import delivery

    vendor = VendorEndpoint("ep-test", vendor_url, secret=delivery.generate_secret(), behaviour=answer(410))
    with pytest.raises(urllib.error.URLError):
        _post(vendor_url, _body("pi_2"), vendor.secret)
    vendor.start()
    try:
        assert _post(vendor_url, _body("pi_2"), vendor.secret) == 410
        vendor.stop()
        with pytest.raises(urllib.error.URLError):
            _post(vendor_url, _body("pi_2"), vendor.secret)
        vendor.start()
        assert _post(vendor_url, _body("pi_2"), vendor.secret) == 410
    finally:
        vendor.stop()
    assert len(vendor.requests) == 2 and vendor.delivered() == []


def test_fails_when_a_local_vendor_url_is_not_loopback_http():
    from scripts.local.runner.vendors import VendorEndpoint

    with pytest.raises(ValueError, match="http://127.0.0.1:<port>"):
        VendorEndpoint("ep-x", "https://hooks.example.com/x")


def test_drain_waits_for_messages_a_function_held_back_and_gives_up_at_its_deadline(monkeypatch, suite_modules):
    """A held-back message (a delivery retry) comes back on the emulator's clock: drain keeps
    polling until its queue is empty, and says False when the wait ran out first."""
    import boto3

    from scripts.local.runner import event_sources
    from scripts.local.runner.platform import LocalPlatform

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the platform sets up its own, counted
    platform = LocalPlatform(state(), "http://127.0.0.1:1")
    [source] = platform.wiring.event_sources
    script = {"polls": [2, 0, 0, 0, 1, 0], "depths": [1, 1, 0]}  # held once, comes back, then empty

    def poll(sqs, functions, polled, held):
        moved = script["polls"].pop(0) if script["polls"] else 0
        if moved == 2:
            held.add(polled.queue.name)
        return moved

    monkeypatch.setattr(event_sources, "poll", poll)
    monkeypatch.setattr(platform.pipes, "run", lambda: 0)
    monkeypatch.setattr(platform, "_depth", lambda name: script["depths"].pop(0) if script["depths"] else 0)
    assert platform.drain(poll_interval_seconds=0.01) is True
    assert script == {"polls": [], "depths": []}

    script.update(polls=[2], depths=[1] * 1000)  # never comes back
    assert platform.drain(wait_seconds=0.05, poll_interval_seconds=0.01) is False


def test_a_pipe_batches_by_its_batch_size_and_retries_only_the_failed_records_of_a_batch(suite_modules):
    """Pipes invoke a Lambda target with batches of up to the pipe's batch size; a partial batch
    response makes the pipe retry the failed records (then its dead-letter queue: counted here)."""
    import io

    from scripts.local.runner.functions import Functions
    from scripts.local.runner.pipes import Pipes

    wiring = Wiring.from_state(state())  # pipe-1 -> archiver, batch size 7; pipe-2 -> the bus, MODIFY only
    records = [{"eventID": f"e{i}", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1", "dynamodb": {"Keys": {"k": {"S": str(i)}}, "NewImage": {"k": {"S": str(i)}},
                                                       "SequenceNumber": str(i), "SizeBytes": 1, "StreamViewType": "NEW_IMAGE"}}
               for i in range(16)]

    class Streams:
        def describe_stream(self, **_):
            return {"StreamDescription": {"Shards": [{"ShardId": "s"}]}}

        def get_shard_iterator(self, **_):
            return {"ShardIterator": "it"}

        def get_records(self, ShardIterator, **_):  # noqa: N803 - boto3 names
            return {"Records": records, "NextShardIterator": None} if ShardIterator == "it" else {"Records": []}

    functions = Functions(wiring, "http://127.0.0.1:1", log_sink=io.StringIO())
    batches = []

    def archiver(event, context):
        batches.append([r["eventID"] for r in event])
        return {"batchItemFailures": [{"itemIdentifier": "e3"}]} if "e3" in batches[-1] else {"batchItemFailures": []}

    functions._handlers["archiver"] = archiver
    assert Pipes(wiring, functions, Streams(), events=None).run() == 16
    assert [len(b) for b in batches] == [7, 1, 1, 7, 2]  # e0-e6, e3 retried twice, e7-e13, e14-e15
    assert functions.metrics["PipeFailed[pipe-1]"] == 1
