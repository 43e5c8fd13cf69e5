"""What the local stack needs of moto 5.2 beyond what it does: AWS behaviours moto lacks, and
moto's hot spots made cheap with moto's own answers. Each patch is idempotent and cites the AWS
behaviour it gives the emulator; `extend_moto()` applies them all (the background server of
scripts/local/emulator and the in-process emulator of scripts/local/deploy.py alike). They assign
to moto's classes on purpose (pyproject.toml tells mypy so)."""

from __future__ import annotations

import json
import re

def deliver_rule_targets_to_sns() -> None:
    """moto 5.2 evaluates EventBridge rules but cannot deliver to an SNS topic target: it raises
    NotImplementedError, so the whole PutEvents fails (the delivery sender's `DeliveryExhausted`
    and `DeliveryEndpointDisabled` events, whose rule targets the alerts topic). AWS publishes the
    event, as JSON, to the topic: this makes the emulator do the same (the other targets are
    moto's own). Idempotent; the server and the in-process emulator (local_deploy) both call it."""
    import copy

    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
    from moto.events import models
    from moto.events.utils import EventTemplateParser
    from moto.sns import sns_backends
    from moto.utilities.arns import parse_arn

    if getattr(models.Rule, "sns_targets_delivered", False):
        return
    moto_send = models.Rule.send_to_targets

    def send_to_targets(rule, original_event, transform_input=True):
        topics = [t for t in rule.targets if parse_arn(t["Arn"]).service == "sns"]
        if not topics:
            return moto_send(rule, original_event, transform_input)
        if not rule.event_pattern.matches_event(original_event):
            return None
        for target in topics:
            transformer = target.get("InputTransformer", {})
            event = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                              input_paths_map=transformer.get("InputPathsMap", {}), event=original_event)
            if isinstance(event, dict) and "time" in event:
                seconds = float(event["time"])  # moto's epoch number, with a fraction
                event = {**event, "time": iso_8601_datetime_without_milliseconds(utcfromtimestamp(seconds))}  # type: ignore[arg-type]
            arn = parse_arn(target["Arn"])
            sns_backends[arn.account][arn.region].publish(
                event if isinstance(event, str) else json.dumps(event), arn=target["Arn"])
        others = copy.copy(rule)
        others.targets = [t for t in rule.targets if t not in topics]
        return moto_send(others, original_event, transform_input) if others.targets else None

    models.Rule.send_to_targets = send_to_targets
    models.Rule.sns_targets_delivered = True


#: What a rule target without an input transformer receives: the whole event, with the top-level
#: fields of EventBridge's event structure (EventBridge events reference, "Amazon EventBridge
#: event structure": https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html),
#: in moto's template syntax.
WHOLE_EVENT_TEMPLATE = ('{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
                        '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
                        '"detail": <detail>}')


def rule_targets_get_the_whole_event() -> None:
    """A rule target without an input transformer receives the event as it is (EventBridge user
    guide, "Amazon EventBridge targets"; the SQS message body is the event's JSON). moto 5.2's
    default template leaves `account` out, so every notification and delivery event reached its
    queue without a field AWS sends. The emulator's template has every top-level field; moto fills
    it as before (`time` is moto's epoch number, which moto writes as ISO 8601 for SQS and the
    SNS stand-in above). Idempotent."""
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = WHOLE_EVENT_TEMPLATE


def atomic_conditional_writes() -> None:
    """DynamoDB applies a conditional write atomically; moto 5.2 checks the condition and writes
    in two steps, so two requests on the server's threads can both pass it (two senders taking the
    last slot of a rate-limit window, or both disabling an endpoint). One lock around moto's
    PutItem and UpdateItem makes each atomic, as on AWS. Idempotent."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "writes_atomic", False):
        return
    lock = threading.RLock()
    for name in ("put_item", "update_item"):
        moto_write = getattr(DynamoDBBackend, name)

        def write(backend, *args, _moto_write=moto_write, **kwargs):
            with lock:
                return _moto_write(backend, *args, **kwargs)

        setattr(DynamoDBBackend, name, write)
    DynamoDBBackend.writes_atomic = True


def idempotent_vpc_endpoint_deletes() -> None:
    """EC2 deletes a VPC endpoint idempotently: a repeated `DeleteVpcEndpoints` (the SDK retrying a
    call whose answer was lost under load) succeeds. moto 5.2 deletes the gateway endpoint's routes
    again on the repeat and fails it with `InvalidRoute.NotFound`, which failed a whole `cdktf
    destroy local` (seen once in a timing run). The emulator leaves out the endpoints already
    deleted and lets moto delete the rest. Idempotent."""
    from moto.ec2.models.vpcs import VPCBackend

    if getattr(VPCBackend, "endpoint_deletes_idempotent", False):
        return
    moto_delete = VPCBackend.delete_vpc_endpoints

    def delete_vpc_endpoints(backend, vpce_ids=None):
        pending = [i for i in vpce_ids or [] if getattr(backend.vpc_end_points.get(i), "state", "deleted") != "deleted"]
        return moto_delete(backend, pending)

    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints
    VPCBackend.endpoint_deletes_idempotent = True


def backend_lookup_per_host() -> None:
    """moto 5.2's server finds the backend of every request, under one lock, by listing its own
    package folder (~250 stat calls) and trying its ~190 URL patterns in turn: ~1.5 ms a request,
    serialized across the server's threads. The answer depends only on the host name, so the
    emulator keeps it per host (moto's answer, None for a host it does not know). Idempotent."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "backend_lookup_per_host", False):
        return
    moto_lookup = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(app, host):
        known = app.__dict__.setdefault("backends_by_host", {})
        if host not in known:
            known[host] = moto_lookup(app, host)
        return known[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host
    DomainDispatcherApplication.backend_lookup_per_host = True


def retention_check_per_message() -> None:
    """moto 5.2 checks each message it hands out against its queue's retention period by building
    all of the queue's attributes twice, each a pass over every message in the queue (the
    approximate counts): quadratic in the queue's depth, ~10 s of the end-to-end run's CPU. The
    emulator reads the one attribute instead; the answer is moto's. Idempotent."""
    from moto.sqs import models

    if hasattr(models.SQSBackend, "moto_retention_check"):
        return

    def is_message_valid_based_on_retention_period(backend, queue_name, message):
        retention_seconds = backend.get_queue(queue_name).message_retention_period
        return retention_seconds + message.sent_timestamp / 1000 > models.unix_time()

    models.SQSBackend.moto_retention_check = models.SQSBackend.is_message_valid_based_on_retention_period
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def queue_counts_at_one_instant() -> None:
    """moto 5.2 counts a queue's messages (the approximate counts, and the visible messages a
    receive looks through) with one clock read per message, and every read of one queue attribute
    builds all three counts: four times per FIFO send. With a few hundred messages queued that is
    ~8 % of the end-to-end run's Python time. The emulator reads the clock once per count: moto's
    answer, for one instant. Idempotent."""
    from moto.sqs import models

    if hasattr(models.Queue, "moto_messages"):
        return

    def messages(queue):
        now = models.unix_time_millis()  # moto: visible is now > visible_at, delayed is now < delayed_until
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    def not_visible(queue):
        now = models.unix_time_millis()
        return sum(1 for m in queue._messages if not now > m.visible_at)

    def delayed(queue):
        now = models.unix_time_millis()
        return sum(1 for m in queue._messages if now < m.delayed_until)

    models.Queue.moto_messages = models.Queue.messages
    models.Queue.moto_not_visible = models.Queue.approximate_number_of_messages_not_visible
    models.Queue.moto_delayed = models.Queue.approximate_number_of_messages_delayed
    models.Queue.messages = property(messages)
    models.Queue.approximate_number_of_messages_not_visible = property(not_visible)
    models.Queue.approximate_number_of_messages_delayed = property(delayed)


def event_paths_compiled_once() -> None:
    """moto 5.2's EventBridge input transformer compiles each input path of a target again for
    every event it delivers, with a new jsonpath-ng parser whose construction builds ply's parse
    tables (~3 % of the end-to-end run's Python time). Finding values never changes a compiled
    path: the emulator compiles each path once and moto finds with it as before. Idempotent."""
    import functools

    import jsonpath_ng.ext

    if hasattr(jsonpath_ng.ext, "moto_parse"):
        return
    jsonpath_ng.ext.moto_parse = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)


def serializer_keys_per_member() -> None:
    """moto 5.2 serializes every answer by walking its botocore shape, and finds each member of each
    value by asking six alias rules in turn, each a new object (~5 ms for one DynamoDB item of a
    payment's state row, ~40 % of the lifecycle corpus's CPU). For a value that is a plain dict
    (a DynamoDB item, any answer moto builds as a dict) the rules' answer depends only on the
    member's name, its shape and that shape's parent: the emulator asks them once per member and
    picker, then looks the keys up in the dict as moto does (the first present one wins). A picker
    with response transformers, or any other value, goes moto's way. Idempotent."""
    from moto.core import serialize

    if hasattr(serialize.ResponseSerializer, "moto_get_value"):
        return
    keys_of: dict[tuple, tuple[str, ...] | None] = {}

    def get_value(serializer, value, key, shape):
        picker = serializer._value_picker
        if type(value) is not dict or not isinstance(picker, serialize.AttributePicker) or picker.response_transformers:
            return serialize.ResponseSerializer.moto_get_value(serializer, value, key, shape)
        member = (type(picker), tuple(picker.alias_providers), key, shape, getattr(shape, "parent", None))
        if member not in keys_of:
            context = serialize.AttributePickerContext(obj=value, key=key, shape=shape)
            keys = tuple(picker.get_possible_keys(context))
            keys_of[member] = None if any("." in k for k in keys) else keys  # a dotted key is a path: moto's way
        keys = keys_of[member]
        if keys is None:
            return serialize.ResponseSerializer.moto_get_value(serializer, value, key, shape)
        for possible in keys:
            if possible in value:
                return value[possible]
        return None

    serialize.ResponseSerializer.moto_get_value = serialize.ResponseSerializer.get_value
    serialize.ResponseSerializer.get_value = get_value


def queue_attributes_set_alone() -> None:
    """SetQueueAttributes changes the attributes it names and no other. moto 5.2 also resets the
    queue's Policy whenever a call leaves it out, so setting a redrive policy would drop a queue
    policy written just before it, and a stack would have to order the two. The emulator keeps the
    policy a call does not name. Idempotent."""
    from moto.sqs.models import SQSBackend

    if hasattr(SQSBackend, "moto_set_queue_attributes"):
        return

    def set_queue_attributes(backend, queue_name, attributes):
        if "Policy" not in attributes:
            attributes = {**attributes, "Policy": backend.get_queue(queue_name).policy}
        return SQSBackend.moto_set_queue_attributes(backend, queue_name, attributes)

    SQSBackend.moto_set_queue_attributes = SQSBackend.set_queue_attributes
    SQSBackend.set_queue_attributes = set_queue_attributes


#: What SQS takes as a FIFO message's MessageGroupId and MessageDeduplicationId: 1 to 128
#: alphanumeric and punctuation characters (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``), i.e. printable
#: ASCII without the space (SendMessage API reference:
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
FIFO_ID = re.compile(r"[!-~]{1,128}")


def fifo_ids_checked() -> None:
    """SQS refuses a MessageGroupId or MessageDeduplicationId outside :data:`FIFO_ID` with
    InvalidParameterValue; moto 5.2 takes any text. The emulator refuses them too (in a
    SendMessageBatch, through moto's own check of every entry: the whole call). Idempotent."""
    from moto.sqs.exceptions import InvalidParameterValue
    from moto.sqs.models import SQSBackend

    if hasattr(SQSBackend, "moto_validate_message"):
        return

    def validate_message(backend, queue, message_body, delay_seconds, deduplication_id=None, group_id=None,
                         validate_group_id=True):
        for name, value in (("MessageGroupId", group_id), ("MessageDeduplicationId", deduplication_id)):
            if value is not None and not FIFO_ID.fullmatch(value):
                raise InvalidParameterValue(
                    f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
                    "alphanumeric and punctuation characters. 1 to 128 in length.")
        return SQSBackend.moto_validate_message(backend, queue, message_body, delay_seconds, deduplication_id,
                                                group_id, validate_group_id)

    SQSBackend.moto_validate_message = SQSBackend._validate_message
    SQSBackend._validate_message = validate_message


def extend_moto() -> None:
    """What the local stack needs of the emulator beyond moto 5.2: AWS behaviours moto lacks
    (rule targets on SNS, the whole event to a rule target, atomic conditional writes, idempotent
    endpoint deletes, queue attributes set alone, FIFO ids checked), and moto's hot spots made
    cheap with moto's own answers (backend lookup, retention check, queue counts, event input
    paths, response members)."""
    deliver_rule_targets_to_sns()
    rule_targets_get_the_whole_event()
    atomic_conditional_writes()
    idempotent_vpc_endpoint_deletes()
    queue_attributes_set_alone()
    fifo_ids_checked()
    backend_lookup_per_host()
    retention_check_per_message()
    queue_counts_at_one_instant()
    event_paths_compiled_once()
    serializer_keys_per_member()
