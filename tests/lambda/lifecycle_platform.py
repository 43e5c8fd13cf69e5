"""The platform from webhook to vendor, in-process, for the lifecycle tests: the real handlers on
moto, wired as the stack wires them, with the runner's stand-ins where AWS decides.

    webhook (signed envelope) -> processor (ledger: moto DynamoDB, stream on)
    -> the stream's records (moto DynamoDB Streams, as a pipe reads them: runner/pipes.py), or,
       with ``tap``, the state rows the processor writes as their NEW_IMAGE records carry them
       (reading moto's stream costs the corpus most of its time; the stream is exercised here
       without ``tap``, by the local end-to-end run and by tests/test_aws_triggers.py)
    -> Pipe B: the deployed filter and input template (paycore.events, runner/eventbridge.py)
    -> the bus rules' patterns -> notifier (SNS topic -> each vendor's queue, filter policy)
                               -> delivery fan-out -> deliveries FIFO -> sender -> vendor server

The bus may reorder and repeat events: :meth:`Platform.tell` takes them in any order, and retries
what a consumer fails (as its queue would) until nothing fails. One instance serves a whole
module (unique payment ids per test), so the corpus runs on one set of resources.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any, Iterator

import boto3
from moto import mock_aws

import handler_constants as hc
from delivery_fixtures import DELIVERY_TABLE, Vendor, create_delivery_table
from downstream_fixtures import FakeContext, fresh
from sqs_event_source import EventSourceStandIn

from paycore import delivery, events
from scripts.local.runner import eventbridge, pipes

VENDOR = "vendor_1"
ENDPOINT = "ep-corpus-1"
MARKERS = "payment-notification-markers-corpus"


def sqs_records(bodies: list[str], *, group_id: str = "", source: str = "queue") -> dict[str, Any]:
    """An SQS event as a queue mapping delivers it (FIFO attributes when ``group_id``)."""
    records = []
    for index, body in enumerate(bodies):
        attributes = {"ApproximateReceiveCount": "1", "SentTimestamp": str(hc.NOW_MS + index), "SenderId": "AROAEXAMPLE",
                      "ApproximateFirstReceiveTimestamp": str(hc.NOW_MS + 50)}
        if group_id:
            attributes.update(SequenceNumber=str(10**19 + index), MessageGroupId=group_id,
                              MessageDeduplicationId=hashlib.sha256(f"{index}{body}".encode()).hexdigest())
        records.append({"messageId": f"m{index}", "receiptHandle": f"rh-{index}", "body": body, "attributes": attributes,
                        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
                        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{hc.REGION}:{hc.ACCOUNT}:{source}",
                        "awsRegion": hc.REGION})
    return {"Records": records}


class Platform:
    def __init__(self, *, tap: bool = False) -> None:
        self.tap = tap
        clients = {name: boto3.client(name, region_name=hc.REGION)
                   for name in ("dynamodb", "dynamodbstreams", "sqs", "sns", "secretsmanager", "events")}
        self.ddb, self.streams, self.sqs = clients["dynamodb"], clients["dynamodbstreams"], clients["sqs"]
        hc.create_ledger_table(self.ddb)
        self.ddb.create_table(TableName=MARKERS, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"},
                                         {"AttributeName": "marker", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"},
                                                    {"AttributeName": "marker", "AttributeType": "S"}])
        create_delivery_table(self.ddb)
        for name, value in hc.SECRETS.items():
            clients["secretsmanager"].create_secret(Name=name, SecretString=json.dumps(value))
        secret = delivery.generate_secret()
        clients["secretsmanager"].create_secret(Name=delivery.secret_name(hc.SECRET_PREFIX, ENDPOINT),
                                                SecretString=json.dumps({"current": secret}))
        self.vendor = Vendor(ENDPOINT, secret).start()
        topic = clients["sns"].create_topic(Name="vendor-notifications-corpus")["TopicArn"]
        self.inbox = self.sqs.create_queue(QueueName=f"inbox-{VENDOR}")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        clients["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn,
                                 Attributes={"FilterPolicy": json.dumps({"vendor_id": [VENDOR]}), "RawMessageDelivery": "true"})
        self.deliveries = self.sqs.create_queue(QueueName="deliveries-corpus.fifo", Attributes={
            "FifoQueue": "true", "VisibilityTimeout": "180"})["QueueUrl"]
        dlq = self.sqs.create_queue(QueueName="deliveries-dlq-corpus.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        clients["events"].create_event_bus(Name="payments-corpus")
        self.environment = {
            "NOTIFY_MARKERS_TABLE": MARKERS, "VENDOR_TOPIC_ARN": topic, "DELIVERY_TABLE_NAME": DELIVERY_TABLE,
            "DELIVERY_QUEUE_URL": self.deliveries, "DELIVERY_DLQ_URL": dlq, "EVENT_BUS_NAME": "payments-corpus",
            "DELIVERY_ALLOW_LOOPBACK_HTTP": "true", "DELIVERY_TIMEOUT_SECONDS": "5",
            "DELIVERY_ENDPOINTS": json.dumps({"vendors": {VENDOR: {"endpoints": [
                {"id": ENDPOINT, "url": self.vendor.url, "event_types": list(delivery.EVENT_TYPES)}]}}}),
        }
        self._written: list[dict[str, Any]] = []
        self._waiting: dict[str, list[str]] = {}
        self.stream_arn = self.ddb.describe_table(TableName=hc.TABLE)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str] = {}

    def start_handlers(self) -> None:
        """Import the handlers once the environment is set (their clients bind to moto)."""
        import processor_handler

        self.processor = processor_handler
        events_of = processor_handler.ledger.client.meta.events
        if self.tap:
            events_of.register("before-parameter-build.dynamodb.PutItem", self._put_requested, unique_id="corpus-put")
            events_of.register("after-call.dynamodb.PutItem", self._put_done, unique_id="corpus-done")
        self.notifier = fresh("notifier_handler")
        self.fanout = fresh("delivery_fanout_handler")
        self.sender = fresh("delivery_sender_handler")
        self.esm = EventSourceStandIn(self.sqs, self.deliveries, self.sender.handler, context=FakeContext())

    # ----------------------------------------------------------------------- the hops

    def process(self, bodies: list[str], group_id: str) -> dict[str, Any]:
        """The processor over one FIFO batch of one message group."""
        return self.processor.handler(sqs_records(bodies, group_id=group_id, source="webhooks-test.fifo"), FakeContext())

    def _put_requested(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["corpus_item"] = params.get("Item")

    def _put_done(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        item = context.get("corpus_item")
        if http_response.status_code == 200 and item and item.get("row_type", {}).get("S") == "state":
            self._written.append(item)

    def bus_events(self) -> list[dict[str, Any]]:
        """What Pipe B puts on the bus from the stream's new records (or, with ``tap``, from the state
        rows written since the last call: NEW_IMAGE is the item put), through the deployed filter
        and template."""
        if self.tap:
            records = [{"eventName": "INSERT" if item["version"]["N"] == "1" else "MODIFY",
                        "eventSource": "aws:dynamodb",
                        "dynamodb": {"NewImage": {k: pipes.attribute_json(v) for k, v in item.items()}}}
                       for item in self._written]
            self._written = []
        else:
            records = self._stream_records()
        return [eventbridge.eventbridge_event(eventbridge.status_changed_detail(r)) for r in records
                if eventbridge.matches_pattern(events.PIPE_B_FILTER_PATTERN, r)]

    def _stream_records(self) -> list[dict[str, Any]]:
        records = []
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._iterators.get(shard["ShardId"]) or self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records += [pipes.stream_record(r, self.stream_arn) for r in page["Records"]]
                iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    break
            self._iterators[shard["ShardId"]] = iterator
        return records

    def tell(self, bus_events: list[dict[str, Any]], *, rounds: int = 6) -> dict[str, int]:
        """Each bus event to the consumers its rules route it to, in the given order, after what
        they failed before; what a consumer fails comes back (its queue's redelivery) for a few
        rounds, and what still fails waits for the next call (a message held in its queue).
        Returns how many messages wait, per consumer."""
        left = {}
        for name, pattern, handler in (("notifier", events.COMPLETED_PAYMENT_RULE_PATTERN, self.notifier.handler),
                                       ("fanout", delivery.DELIVERY_RULE_PATTERN, self.fanout.handler)):
            pending = self._waiting.get(name, []) + [json.dumps(e) for e in bus_events
                                                     if eventbridge.matches_pattern(pattern, e)]
            for _ in range(rounds):
                if not pending:
                    break
                response = handler(sqs_records(pending, source=f"{name}-queue"), FakeContext()) or {}
                failed = {int(f["itemIdentifier"][1:]) for f in response.get("batchItemFailures", [])}
                pending = [body for index, body in enumerate(pending) if index in failed]
            self._waiting[name] = pending
            left[name] = len(pending)
        self.esm.run(lambda: False)  # the deliveries queue, drained: sender -> vendor
        return left

    # ----------------------------------------------------------------------- what came out

    def notifications(self) -> list[dict[str, Any]]:
        """The SNS messages the vendor's queue received since the last call, in order."""
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for message in got:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])

    def webhooks(self, transaction_id: str) -> list[dict[str, Any]]:
        """The signed webhooks the vendor accepted for one payment (verified, once per webhook-id)."""
        return [r["payload"] for r in self.vendor.received() if r["payload"]["data"]["transaction_id"] == transaction_id]

    def webhook_requests(self, transaction_id: str) -> int:
        return sum(r["payload"]["data"]["transaction_id"] == transaction_id for r in self.vendor.requests)

    def event_ids(self, transaction_id: str) -> list[str]:
        from paycore.ledger import Ledger

        return [row["event_id"] for row in Ledger(self.ddb, hc.TABLE).get_events(transaction_id)]

    def state(self, transaction_id: str) -> dict[str, Any] | None:
        from paycore.ledger import Ledger

        return Ledger(self.ddb, hc.TABLE).get_state(transaction_id)


@contextlib.contextmanager
def platform(*, tap: bool = False) -> Iterator[Platform]:
    """A :class:`Platform` on moto, its environment set for the whole block."""
    import pytest

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in hc.ENV.items():
            patch.setenv(name, value)
        built = Platform(tap=tap)
        for name, value in built.environment.items():
            patch.setenv(name, value)
        built.start_handlers()
        try:
            yield built
        finally:
            built.vendor.stop()
            if tap:  # the processor module's client outlives the block
                events_of = built.processor.ledger.client.meta.events
                events_of.unregister("before-parameter-build.dynamodb.PutItem", unique_id="corpus-put")
                events_of.unregister("after-call.dynamodb.PutItem", unique_id="corpus-done")
