"""The local emulator command: `python -m scripts.local.emulator start` runs moto's server in the background,
creates the vendors' capture queues and prints the exports; `status` and a `cdktf ... local` in a
shell that sourced env.sh tell the user what to run when no emulator answers, instead of
"connection refused". `cdktf deploy local`, `cdktf diff local` (no changes) and `cdktf destroy local`
run in tests/test_local_e2e.py, which shares that deployment with the end-to-end run (one
deployment of 283 resources per suite)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from support import ROOT

EMULATOR = [sys.executable, "-m", "scripts.local.emulator"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(state_dir: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PAYMENTS_LOCAL_ENDPOINT"}
    return dict(env, PAYMENTS_EMULATOR_DIR=str(state_dir), **extra)


def emulator(action: str, state_dir: Path, *args: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([*EMULATOR, action, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=_env(state_dir, **extra))


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A background emulator on a free port, stopped (by its recorded pid) at the end."""
    state_dir = tmp_path_factory.mktemp("emulator")
    port = _free_port()
    run = emulator("start", state_dir, "--port", str(port))
    assert run.returncode == 0, run.stderr
    yield state_dir, port, run
    stopped = emulator("stop", state_dir)
    assert stopped.returncode == 0, stopped.stderr


def test_start_prints_the_export_the_local_stack_reads(started):
    _, port, run = started
    assert f"export PAYMENTS_LOCAL_ENDPOINT=http://127.0.0.1:{port}\n" in run.stdout
    # every stdout line is an export or a comment: `eval "$(... start)"` works
    assert all(line.startswith(("export ", "# ")) for line in run.stdout.splitlines())


def test_start_creates_the_vendor_capture_queues_and_messages_reads_them(started):
    state_dir, port, _ = started
    url = f"http://127.0.0.1:{port}"
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    queue = sqs.get_queue_url(QueueName="vendor-capture-vendor-a-local")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Message": "{\"transaction_id\": \"tx-1\"}"}))
    shown = emulator("messages", state_dir)
    assert shown.returncode == 0, shown.stderr
    received = json.loads(shown.stdout)
    assert received["vendor-capture-vendor-a-local"] == [{"Message": "{\"transaction_id\": \"tx-1\"}"}]
    assert received["vendor-capture-vendor-b-local"] == []


def test_status_answers_and_a_second_start_on_the_same_port_is_harmless(started):
    state_dir, port, _ = started
    status = emulator("status", state_dir)
    assert status.returncode == 0 and f"running at http://127.0.0.1:{port}" in status.stderr
    again = emulator("start", state_dir, "--port", str(port))
    assert again.returncode == 0 and "already running" in again.stderr


def test_fails_when_no_emulator_answers_and_says_what_to_run(tmp_path):
    port = _free_port()
    status = emulator("status", tmp_path, PAYMENTS_LOCAL_ENDPOINT=f"http://127.0.0.1:{port}")
    assert status.returncode == 1
    assert f"no emulator answers at http://127.0.0.1:{port}" in status.stderr
    assert f"python -m scripts.local.emulator start --port {port}" in status.stderr


def test_cdktf_local_in_a_shell_with_env_sh_says_so_when_no_emulator_answers(tmp_path):
    port = _free_port()
    run = subprocess.run(["bash", "-c", "source scripts/env.sh && cdktf diff local"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60,
                         env=_env(tmp_path, PAYMENTS_LOCAL_ENDPOINT=f"http://127.0.0.1:{port}"))
    assert run.returncode == 1
    assert f"no emulator answers at http://127.0.0.1:{port}" in run.stderr


def test_readme_documents_the_loop_with_commands_that_exist():
    readme = (ROOT / "scripts" / "README.md").read_text()
    section = readme[readme.index("## The cdktf loop against the local emulator"):]
    section = section[:section.index("\n## ", 5)]
    used = set(re.findall(r"-m scripts\.local\.emulator (\w+)", section))
    assert used and used <= {"start", "stop", "status", "env", "messages"}, used
    for command in ("cdktf deploy local", "cdktf diff local", "cdktf output local", "cdktf destroy local",
                    "PAYMENTS_LOCAL_ENDPOINT", "--keep"):
        assert command in section, command


def test_a_bus_rule_delivers_to_an_sns_topic_as_on_aws_and_other_targets_still_get_the_event():
    """moto 5.2 raises NotImplementedError for an SNS rule target (the whole PutEvents fails); the
    emulator publishes the event to the topic, as EventBridge does."""
    from moto import mock_aws

    from scripts.local.emulator import patches as emulator

    emulator.deliver_rule_targets_to_sns()
    with mock_aws():
        region = {"region_name": "us-east-1"}
        sns, sqs, eb = boto3.client("sns", **region), boto3.client("sqs", **region), boto3.client("events", **region)
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queues = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("via-topic", "direct")]
        arns = [sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for q in queues]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arns[0])
        eb.create_event_bus(Name="bus")
        eb.put_rule(Name="alerts", EventBusName="bus", EventPattern=json.dumps({"source": ["payments.delivery"]}))
        eb.put_targets(Rule="alerts", EventBusName="bus", Targets=[{"Id": "topic", "Arn": topic}, {"Id": "q", "Arn": arns[1]}])
        entry = {"Source": "payments.delivery", "DetailType": "DeliveryExhausted", "Detail": '{"endpoint_id": "ep-1"}',
                 "EventBusName": "bus"}
        assert eb.put_events(Entries=[entry, {**entry, "Source": "other"}])["FailedEntryCount"] == 0
        [via_topic] = sqs.receive_message(QueueUrl=queues[0], MaxNumberOfMessages=10)["Messages"]
        [direct] = sqs.receive_message(QueueUrl=queues[1], MaxNumberOfMessages=10)["Messages"]
    event = json.loads(json.loads(via_topic["Body"])["Message"])
    assert (event["detail-type"], event["detail"]) == ("DeliveryExhausted", {"endpoint_id": "ep-1"})
    assert json.loads(direct["Body"])["id"] == event["id"]


def test_a_repeated_vpc_endpoint_delete_succeeds_and_removes_the_gateway_routes_once():
    """The SDK repeats a call whose answer was lost; EC2 answers the repeat of DeleteVpcEndpoints
    with success. moto 5.2 failed it (InvalidRoute.NotFound), and with it a whole local destroy."""
    from moto import mock_aws

    from scripts.local.emulator import patches as emulator

    emulator.idempotent_vpc_endpoint_deletes()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                           VpcEndpointType="Gateway", RouteTableIds=[table])["VpcEndpoint"]["VpcEndpointId"]

        def prefix_list_routes() -> list:
            routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
            return [r for r in routes if r.get("DestinationPrefixListId")]

        assert len(prefix_list_routes()) == 1
        for _ in range(2):
            ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
        assert prefix_list_routes() == []
        states = [e["State"] for e in ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"]]
        assert states in ([], ["deleted"]), states


def test_the_backend_of_a_host_is_moto_s_answer_looked_up_once():
    """moto's server looks each request's backend up by listing its package folder and trying its
    URL patterns (~1.5 ms, under one lock); the emulator keeps moto's answer per host."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.server import create_backend_app

    from scripts.local.emulator import patches as emulator

    hosts = ["dynamodb", "sqs.us-east-1.amazonaws.com", "apigateway.us-east-1.amazonaws.com",
             "events.eu-west-1.amazonaws.com", "moto_api", None, "nothing.example.com"]
    expected = [DomainDispatcherApplication(create_backend_app).get_backend_for_host(h) for h in hosts]
    assert expected[:4] == ["dynamodb", "sqs", "apigateway", "events"] and expected[-1] is None
    emulator.backend_lookup_per_host()
    emulator.backend_lookup_per_host()  # idempotent: one layer
    app = DomainDispatcherApplication(create_backend_app)
    assert [app.get_backend_for_host(h) for h in hosts] == expected
    scans = []
    moto_list = backends.list_of_moto_modules
    backends.list_of_moto_modules = lambda: scans.append(1) or moto_list()
    try:
        assert [app.get_backend_for_host(h) for h in hosts] == expected
    finally:
        backends.list_of_moto_modules = moto_list
    assert scans == [], "a host already looked up is not looked up again"


@pytest.mark.parametrize("age_seconds, kept", [(0, True), (59, True), (61, False)])
def test_a_message_past_its_queue_s_retention_period_is_not_handed_out(monkeypatch, age_seconds, kept):
    """The emulator's retention check reads the queue's period alone; the answer is moto's."""
    from moto import mock_aws
    from moto.sqs import models

    from scripts.local.emulator import patches as emulator

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        backend = models.sqs_backends["123456789012"]["us-east-1"]
        [message] = backend.get_queue("q")._messages
        sent = message.sent_timestamp / 1000
        monkeypatch.setattr(models, "unix_time", lambda: sent + age_seconds)
        emulator.retention_check_per_message()
        emulator.retention_check_per_message()  # idempotent: moto's own stays one layer down
        built = []
        every_attribute = models.Queue.attributes
        monkeypatch.setattr(models.Queue, "attributes", property(lambda queue: built.append(1) or every_attribute.fget(queue)))
        assert models.SQSBackend.moto_retention_check(backend, "q", message) is kept
        assert built, "moto's own check builds every attribute"
        built.clear()
        assert backend.is_message_valid_based_on_retention_period("q", message) is kept
        assert built == [], "the emulator's reads the one attribute"


def test_setting_one_queue_attribute_leaves_the_queue_policy():
    """SetQueueAttributes changes only what it names: a redrive policy set after the queue policy
    leaves the policy (moto's own call resets it), and an empty Policy still removes it. The
    stack's queue policy and redrive policy are written at the same time."""
    from moto import mock_aws
    from moto.sqs.models import SQSBackend, sqs_backends

    from scripts.local.emulator import patches as emulator

    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowSnsSend", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}]}
    with mock_aws():
        emulator.queue_attributes_set_alone()
        emulator.queue_attributes_set_alone()  # idempotent: moto's own stays one layer down
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}

        def attributes() -> dict:
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(redrive)})
        assert json.loads(attributes()["Policy"]) == policy
        assert json.loads(attributes()["RedrivePolicy"]) == redrive
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "40"})
        assert json.loads(attributes()["Policy"]) == policy and attributes()["VisibilityTimeout"] == "40"
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
        assert "Policy" not in attributes()
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        SQSBackend.moto_set_queue_attributes(sqs_backends["123456789012"]["us-east-1"], "q", {"VisibilityTimeout": "50"})
        assert "Policy" not in attributes(), "moto's own call resets the policy it was not given"


def test_a_queue_s_counts_are_moto_s_read_at_one_instant(monkeypatch):
    """Visible, in flight and delayed messages are counted as moto counts them, with one clock
    read per count (moto reads it once per message)."""
    from moto import mock_aws
    from moto.sqs import models

    from scripts.local.emulator import patches as emulator

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="counted")["QueueUrl"]
        for n in range(6):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", DelaySeconds=30 if n < 2 else 0)
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=30, WaitTimeSeconds=0)
        queue = models.sqs_backends["123456789012"]["us-east-1"].get_queue("counted")
        emulator.queue_counts_at_one_instant()
        emulator.queue_counts_at_one_instant()  # idempotent: moto's own stays one layer down
        reads = []
        clock = models.unix_time_millis
        monkeypatch.setattr(models, "unix_time_millis", lambda: reads.append(1) or clock())
        for seconds_later in (0, 31):
            now = clock() + seconds_later * 1000
            monkeypatch.setattr(models, "unix_time_millis", lambda now=now: reads.append(1) or now)
            moto_counts = (len(models.Queue.moto_messages.fget(queue)), models.Queue.moto_not_visible.fget(queue),
                           models.Queue.moto_delayed.fget(queue))
            reads.clear()
            counts = (len(queue.messages), queue.approximate_number_of_messages_not_visible,
                      queue.approximate_number_of_messages_delayed)
            assert counts == moto_counts and len(reads) == 3, (seconds_later, counts, moto_counts, len(reads))
            assert counts == {0: (1, 3, 2), 31: (6, 0, 0)}[seconds_later]  # visible, in flight, delayed
        assert queue.attributes["ApproximateNumberOfMessages"] == 6


def test_an_event_input_path_is_compiled_once_and_finds_what_moto_finds(monkeypatch):
    import jsonpath_ng.ext
    import jsonpath_ng.ext.parser as jsonpath_parser
    from moto.events.utils import EventTemplateParser

    from scripts.local.emulator import patches as emulator

    emulator.event_paths_compiled_once()
    emulator.event_paths_compiled_once()  # idempotent: moto's own stays one layer down
    compiled_once = jsonpath_ng.ext.parse
    built = []

    class Counted(jsonpath_parser.ExtendedJsonPathParser):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(jsonpath_parser, "ExtendedJsonPathParser", Counted)
    unique = os.urandom(4).hex()  # paths no earlier test compiled
    paths = {"vendor": f"$.detail.vendor_{unique}", "amount": f"$.detail.amount_{unique}"}
    template = '{"vendor": "<vendor>", "amount": <amount>}'
    for number in range(3):
        event = {"detail": {f"vendor_{unique}": f"vendor-{number}", f"amount_{unique}": number},
                 "ingestion-time": "2026-11-29T00:00:00Z"}
        monkeypatch.setattr(jsonpath_ng.ext, "parse", jsonpath_ng.ext.moto_parse)
        motos = EventTemplateParser.parse(template, paths, event)
        monkeypatch.setattr(jsonpath_ng.ext, "parse", compiled_once)
        assert EventTemplateParser.parse(template, paths, event) == motos == {
            "vendor": f"vendor-{number}", "amount": number}
    assert len(built) == 3 * 2 + 2, built  # moto's own: each path for each event; the emulator's: once


def test_a_rule_target_without_an_input_transformer_gets_the_whole_event_and_one_with_it_the_transformed():
    """EventBridge hands a target without an input transformer the event itself (for SQS, the
    message body), with every top-level field of the event structure; moto 5.2 left out `account`.
    A target with an input transformer still gets the transformer's output (moto's)."""
    from moto import mock_aws

    import aws_shapes
    from scripts.local.emulator import patches as emulator

    emulator.rule_targets_get_the_whole_event()
    with mock_aws():
        region = {"region_name": "us-east-1"}
        sqs, eb = boto3.client("sqs", **region), boto3.client("events", **region)
        urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("whole", "transformed")]
        arns = [sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for u in urls]
        eb.put_rule(Name="r", EventPattern=json.dumps({"source": ["payments.ledger"]}))
        eb.put_targets(Rule="r", Targets=[{"Id": "whole", "Arn": arns[0]}, {
            "Id": "transformed", "Arn": arns[1],
            "InputTransformer": {"InputPathsMap": {"t": "$.detail.transaction_id"}, "InputTemplate": '{"id": "<t>"}'}}])
        eb.put_events(Entries=[{"Source": "payments.ledger", "DetailType": "TransactionStatusChanged",
                                "Detail": '{"transaction_id": "pi_1"}'}])
        whole, transformed = (json.loads(sqs.receive_message(QueueUrl=u)["Messages"][0]["Body"]) for u in urls)
    sample = aws_shapes.load("eventbridge/EventBridgeEvent.json", id="i", detail_type="T", source="s",
                             account_id="123456789012", time="2026-12-07T00:00:00Z", region="us-east-1")
    assert aws_shapes.differences(whole, sample, maps={"$.detail": None}) == []
    assert (whole["account"], whole["detail"], re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", whole["time"]) is not None) == \
        ("123456789012", {"transaction_id": "pi_1"}, True)
    assert transformed == {"id": "pi_1"}


@pytest.mark.parametrize(("group", "dedup", "refused"), [
    ("pi_3MtwBwLkdIwHu7ix28a3tqPa", "d", None),
    ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "d", None),  # every punctuation character the reference lists
    ("g" * 128, "d" * 128, None),
    ("g" * 129, "d", "MessageGroupId"),
    ("pi_1 pi_2", "d", "MessageGroupId"),
    ("pi_é", "d", "MessageGroupId"),
    ("pi_1\n", "d", "MessageGroupId"),
    ("g", "d d", "MessageDeduplicationId"),
    ("g", "d" * 129, "MessageDeduplicationId"),
])
def test_a_fifo_id_sqs_refuses_is_refused(group, dedup, refused):
    """SQS takes a MessageGroupId and MessageDeduplicationId of 1 to 128 alphanumeric and
    punctuation characters and refuses others with InvalidParameterValue (SendMessage API
    reference); moto 5.2 takes any text, the emulator refuses them too, in a batch as well."""
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from scripts.local.emulator import patches as emulator

    with mock_aws():
        emulator.fifo_ids_checked()
        emulator.fifo_ids_checked()  # idempotent
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="ids.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sends = [lambda: sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId=group, MessageDeduplicationId=dedup),
                 lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
                     {"Id": "0", "MessageBody": "m", "MessageGroupId": "g", "MessageDeduplicationId": "ok"},
                     {"Id": "1", "MessageBody": "m", "MessageGroupId": group, "MessageDeduplicationId": dedup}])]
        for send in sends:
            if refused is None:
                send()
                continue
            with pytest.raises(ClientError) as error:
                send()
            assert error.value.response["Error"]["Code"] in ("InvalidParameterValue", "AWS.SimpleQueueService.InvalidParameterValue")
            assert f"parameter {refused} is invalid" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(("seconds", "accepted"), [(43_000, True), (43_201, False)])
def test_a_visibility_above_12_hours_is_refused_as_sqs_refuses_it(seconds, accepted):
    """SQS refuses a ChangeMessageVisibility beyond a total of 12 h (43,200 s; API reference); the
    emulator (moto) refuses it too, with the error the delivery sender handles. moto counts the
    12 h from when the message was sent, SQS from its receive: moto is the stricter."""
    from botocore.exceptions import ClientError
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="held.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="d")
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        try:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds)
            outcome = True
        except ClientError as error:
            assert error.response["Error"]["Code"] in ("InvalidParameterValue", "AWS.SimpleQueueService.InvalidParameterValue")
            outcome = False
    assert outcome is accepted


def test_an_answer_is_serialized_as_moto_serializes_it_with_each_member_s_keys_asked_once(monkeypatch):
    """A DynamoDB item of every attribute type, its table's description and an SQS receive come back
    the same with the emulator's keys per member as with moto's six alias rules asked every time."""
    from moto import mock_aws
    from moto.core import serialize

    from scripts.local.emulator import patches as emulator

    emulator.serializer_keys_per_member()
    emulator.serializer_keys_per_member()  # idempotent: moto's own stays one layer down
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "n": {"N": "12.5"}, "b": {"B": b"\x00\x01"}, "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x"]}, "m": {"M": {"in": {"L": [{"S": "x"}, {"NULL": True}]}}},
            "t": {"BOOL": False}}
    asked = []
    for picker in (serialize.AttributePicker, serialize.XFormedAttributePicker):
        own = picker.__dict__["get_possible_keys"]
        monkeypatch.setattr(picker, "get_possible_keys", lambda self, context, _own=own: asked.append(1) or _own(self, context))

    def answers():
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                   {"AttributeName": "sk", "AttributeType": "S"}])
            ddb.put_item(TableName="t", Item=item)
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"a": {"DataType": "String", "StringValue": "v"}})
            got = [ddb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "s"}})["Item"] for _ in range(3)]
            table = ddb.describe_table(TableName="t")["Table"]
            message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
            return got, {k: v for k, v in table.items() if k != "CreationDateTime"}, {
                k: message[k] for k in ("Body", "MD5OfBody", "MessageAttributes")}

    ours = answers()
    asked_by_ours = len(asked)
    monkeypatch.setattr(serialize.ResponseSerializer, "get_value", serialize.ResponseSerializer.moto_get_value)
    asked.clear()
    assert answers() == ours
    assert ours[0] == [item] * 3
    assert asked_by_ours < len(asked) / 2, (asked_by_ours, len(asked))  # asked once per member, not per value
