#!/usr/bin/env python
"""The local AWS emulator for the plain cdktf loop: moto's server on loopback, in the background.

    .venv/bin/python scripts/emulator.py start [--port 4566]   # prints the exports to eval
    eval "$(.venv/bin/python scripts/emulator.py env)"          # the exports again, in a new shell
    cdktf deploy local --auto-approve && cdktf diff local && cdktf output local
    .venv/bin/python scripts/emulator.py messages               # what the vendors received
    cdktf destroy local --auto-approve
    .venv/bin/python scripts/emulator.py stop
    .venv/bin/python scripts/emulator.py status                 # exit 1, with the fix, if none answers

`start` runs the server with what the `local` stack needs (AWS managed IAM policies loaded, fake
credentials) and creates the vendors' capture queues: in `local` the vendor subscriptions deliver
to SQS queues `vendor-capture-<vendor>-local` instead of e-mail or HTTPS, so nothing leaves the
machine and `messages` can show what each vendor was sent. The pid, port and log live in `.local/`.
The emulator keeps everything in memory: stopping it loses the deployment, so destroy first (or
delete the local state file, as `stop` tells you).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("PAYMENTS_EMULATOR_DIR", ROOT / ".local"))  # pid file and log (tests: a temp dir)
PID_FILE = STATE_DIR / "emulator.json"
LOG_FILE = STATE_DIR / "emulator.log"
LOCAL_STATE = ROOT / "cdktf.out" / "stacks" / "local" / "terraform.local.tfstate"
DEFAULT_PORT = 4566  # the local stack's default endpoint (constructs/settings.py)
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
# what the server process needs: AWS managed policies (e.g. AmazonSSMManagedInstanceCore, attached
# by the stack) exist in moto only on request
SERVER_ENVIRONMENT = {**FAKE_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
# the vendors of the local settings (constructs/settings.py LOCAL_VENDORS); their subscriptions
# deliver to these queues
LOCAL_VENDORS = ("vendor-a", "vendor-b", "vendor-c")


class EmulatorError(SystemExit):
    """A message for the user and exit status 1."""

    def __init__(self, message: str):
        super().__init__(f"emulator: {message}")


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when a moto server answers at `url` (its /moto-api/ dashboard; data.json is slow)."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def recorded() -> dict:
    try:
        return json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        return {}


def exports(port: int) -> str:
    url = endpoint(port)
    return "\n".join([
        f"export PAYMENTS_LOCAL_ENDPOINT={url}",
        f"# ops tools and the AWS CLI against it: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        f"AWS_DEFAULT_REGION={REGION} ... --endpoint-url {url}",
    ])


def capture_queue_names() -> list[str]:
    return [f"vendor-capture-{vendor}-local" for vendor in LOCAL_VENDORS]


def _sqs(url: str):
    import boto3

    return boto3.client("sqs", endpoint_url=url, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test")


def create_capture_queues(url: str) -> dict[str, str]:
    sqs = _sqs(url)
    return {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in capture_queue_names()}


def no_emulator_message(url: str) -> str:
    return (f"no emulator answers at {url}. Start one with `.venv/bin/python scripts/emulator.py start"
            f"{'' if url == endpoint(DEFAULT_PORT) else ' --port ' + url.rsplit(':', 1)[1]}` and run the "
            f"`export PAYMENTS_LOCAL_ENDPOINT=...` line it prints (the local stack reads PAYMENTS_LOCAL_ENDPOINT, "
            f"default {endpoint(DEFAULT_PORT)})")


def _state_resources() -> int:
    try:
        return len(json.loads(LOCAL_STATE.read_text()).get("resources", []))
    except (OSError, ValueError):
        return 0


def start(port: int, wait_seconds: float = 30.0) -> dict:
    url = endpoint(port)
    running = recorded()
    if running and answers(endpoint(running["port"])):
        if running["port"] == port:
            print(f"emulator: already running at {url} (pid {running['pid']})", file=sys.stderr)
            return running
        raise EmulatorError(f"one is already running at {endpoint(running['port'])} (pid {running['pid']}); stop it first")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise EmulatorError(f"port {port} is taken by another program; choose one with --port")
    STATE_DIR.mkdir(exist_ok=True)
    with open(LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(port)],
            cwd=ROOT, env=dict(os.environ, **SERVER_ENVIRONMENT), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,  # outlives this command and its terminal
        )
    deadline = time.monotonic() + wait_seconds
    while not answers(url, timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise EmulatorError(f"the server did not start on {url}; its log: {LOG_FILE}")
        time.sleep(0.2)
    info = {"pid": process.pid, "port": port, "endpoint": url}
    PID_FILE.write_text(json.dumps(info) + "\n")
    create_capture_queues(url)
    if _state_resources():
        print(f"emulator: note: {LOCAL_STATE.relative_to(ROOT)} lists {_state_resources()} resources of an "
              "earlier emulator, which this fresh one does not have; delete that file before "
              "`cdktf deploy local`", file=sys.stderr)
    return info


def stop() -> bool:
    running = recorded()
    if not running:
        return False
    try:
        os.kill(running["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(running["pid"], 0)
            time.sleep(0.1)
        os.kill(running["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass
    PID_FILE.unlink(missing_ok=True)
    if _state_resources():
        print(f"emulator: stopped; {LOCAL_STATE.relative_to(ROOT)} still lists {_state_resources()} resources "
              "that are gone with it: delete that file (or `cdktf destroy local` before stopping next time)",
              file=sys.stderr)
    return True


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

    def send_to_targets(rule, original_event, transform_input=True):  # type: ignore[no-untyped-def]
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
                event = {**event, "time": iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(event["time"])))}
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

        def write(backend, *args, _moto_write=moto_write, **kwargs):  # type: ignore[no-untyped-def]
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

    def delete_vpc_endpoints(backend, vpce_ids=None):  # type: ignore[no-untyped-def]
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

    def get_backend_for_host(app, host):  # type: ignore[no-untyped-def]
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

    def is_message_valid_based_on_retention_period(backend, queue_name, message):  # type: ignore[no-untyped-def]
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

    def messages(queue):  # type: ignore[no-untyped-def]
        now = models.unix_time_millis()  # moto: visible is now > visible_at, delayed is now < delayed_until
        return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]

    def not_visible(queue):  # type: ignore[no-untyped-def]
        now = models.unix_time_millis()
        return sum(1 for m in queue._messages if not now > m.visible_at)

    def delayed(queue):  # type: ignore[no-untyped-def]
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


def queue_attributes_set_alone() -> None:
    """SetQueueAttributes changes the attributes it names and no other. moto 5.2 also resets the
    queue's Policy whenever a call leaves it out, so setting a redrive policy would drop a queue
    policy written just before it, and a stack would have to order the two. The emulator keeps the
    policy a call does not name. Idempotent."""
    from moto.sqs.models import SQSBackend

    if hasattr(SQSBackend, "moto_set_queue_attributes"):
        return

    def set_queue_attributes(backend, queue_name, attributes):  # type: ignore[no-untyped-def]
        if "Policy" not in attributes:
            attributes = {**attributes, "Policy": backend.get_queue(queue_name).policy}
        return SQSBackend.moto_set_queue_attributes(backend, queue_name, attributes)

    SQSBackend.moto_set_queue_attributes = SQSBackend.set_queue_attributes
    SQSBackend.set_queue_attributes = set_queue_attributes


def extend_moto() -> None:
    """What the local stack needs of the emulator beyond moto 5.2: AWS behaviours moto lacks
    (rule targets on SNS, the whole event to a rule target, atomic conditional writes, idempotent
    endpoint deletes, queue attributes set alone), and moto's hot spots made cheap with moto's own answers (backend lookup, retention
    check, queue counts, event input paths)."""
    deliver_rule_targets_to_sns()
    rule_targets_get_the_whole_event()
    atomic_conditional_writes()
    idempotent_vpc_endpoint_deletes()
    queue_attributes_set_alone()
    backend_lookup_per_host()
    retention_check_per_message()
    queue_counts_at_one_instant()
    event_paths_compiled_once()


def serve(port: int) -> None:
    """The server itself (run by `start` in the background)."""
    from moto.server import ThreadedMotoServer

    extend_moto()
    os.environ.update(SERVER_ENVIRONMENT)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    server.start()
    print(f"moto server on {endpoint(port)}", flush=True)
    stopped.wait()
    server.stop()


def messages(url: str, delete: bool) -> dict[str, list]:
    """Messages in each capture queue: the SNS notifications each vendor received."""
    sqs = _sqs(url)
    found = {}
    for name in capture_queue_names():
        queue = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        received, seen = [], set()
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        VisibilityTimeout=0 if not delete else 30).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                received.append(json.loads(message["Body"]))
                if delete:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        found[name] = received
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "env", "messages", "serve"])
    parser.add_argument("--port", type=int, help=f"start: port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--delete", action="store_true", help="messages: delete what was shown")
    options = parser.parse_args(argv)
    running = recorded()
    port = options.port or running.get("port") or DEFAULT_PORT
    # status/env/messages look where the local stack will look: PAYMENTS_LOCAL_ENDPOINT when set
    exported = os.environ.get("PAYMENTS_LOCAL_ENDPOINT", "")
    if not options.port and exported.rsplit(":", 1)[-1].isdigit():
        port = int(exported.rsplit(":", 1)[-1])
    if options.action == "serve":
        serve(port)
    elif options.action == "start":
        info = start(options.port or DEFAULT_PORT)
        print(f"emulator: running at {info['endpoint']} (pid {info['pid']}, log {LOG_FILE}); "
              f"capture queues: {', '.join(capture_queue_names())}", file=sys.stderr)
        print(exports(info["port"]))
    elif options.action == "stop":
        print("emulator: stopped" if stop() else "emulator: none was started by this command", file=sys.stderr)
    elif options.action in ("status", "env"):
        url = endpoint(port)
        if not answers(url):
            print(f"emulator: {no_emulator_message(url)}", file=sys.stderr)
            return 1
        if options.action == "status":
            print(f"emulator: running at {url}" + (f" (pid {running['pid']})" if running else " (not started here)"),
                  file=sys.stderr)
        print(exports(port))
    elif options.action == "messages":
        url = endpoint(port)
        if not answers(url):
            print(f"emulator: {no_emulator_message(url)}", file=sys.stderr)
            return 1
        print(json.dumps(messages(url, options.delete), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
