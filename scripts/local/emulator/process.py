"""The local AWS emulator for the plain cdktf loop: moto's server on loopback, in the background.

    .venv/bin/python -m scripts.local.emulator start [--port 4566]   # prints the exports to eval
    eval "$(.venv/bin/python -m scripts.local.emulator env)"          # the exports again, in a new shell
    cdktf deploy local --auto-approve && cdktf diff local && cdktf output local
    .venv/bin/python -m scripts.local.emulator messages               # what the vendors received
    cdktf destroy local --auto-approve
    .venv/bin/python -m scripts.local.emulator stop
    .venv/bin/python -m scripts.local.emulator status                 # exit 1, with the fix, if none answers

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

from scripts.local.emulator.patches import extend_moto

ROOT = Path(__file__).resolve().parents[3]
STATE_DIR = Path(os.environ.get("PAYMENTS_EMULATOR_DIR", ROOT / ".local"))  # pid file and log (tests: a temp dir)
PID_FILE = STATE_DIR / "emulator.json"
LOG_FILE = STATE_DIR / "emulator.log"
LOCAL_STATE = ROOT / "cdktf.out" / "stacks" / "local" / "terraform.local.tfstate"
DEFAULT_PORT = 4566  # the local stack's default endpoint (the local settings' local.endpoint_url)
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
# what the server process needs: AWS managed policies (e.g. AmazonSSMManagedInstanceCore, attached
# by the stack) exist in moto only on request
SERVER_ENVIRONMENT = {**FAKE_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
# the vendors of the local settings (constructs/app/settings LOCAL_VENDORS); their subscriptions
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
    return (f"no emulator answers at {url}. Start one with `.venv/bin/python -m scripts.local.emulator start"
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
            [sys.executable, "-m", "scripts.local.emulator", "serve", "--port", str(port)],
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
    parser = argparse.ArgumentParser(prog="python -m scripts.local.emulator",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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

