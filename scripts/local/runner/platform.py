"""The facade the scenario code drives: HTTP requests in, `drain()` to run the event sources and
pipes until nothing moves, and the few things a scenario reads back (queues, metrics, a function's
environment). AWS calls are counted per service with botocore event hooks: `handler_calls` (what
the functions call) and `platform_calls` (what API Gateway, the event sources and the pipes do).

Time is the emulator's own: a message a function holds back (the delivery sender's retries, rate
limit and pause) comes back when its visibility ends, so `drain()` waits for it; the `local`
environment's short delivery schedule (a setting) makes the 27-hour schedule a few seconds."""

from __future__ import annotations

import collections
import contextlib
import io
import time
from typing import Any, Callable

import boto3
import botocore.config

from . import event_sources
from .apigateway import ApiGateway, HttpResult, IamCaller
from .functions import REGION, Functions, Handler
from .pipes import Pipes
from .wiring import Wiring

PROCESSOR = "processor"  # the function folder whose PayPal trust the runner points at the test CA
VISIBILITY_OPERATIONS = ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch")


class CallCounter:
    """Calls by `service:operation`, and by whom: `by_caller[who]` with `who()` asked at each call
    (the function being invoked, or the function an event source polls for)."""

    def __init__(self, who: Callable[[], str | None] = lambda: None) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.by_caller: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self._who = who

    def hook(self, **kwargs: Any) -> None:
        model = kwargs.get("model")
        if model is not None:
            key = f"{model.service_model.service_name}:{model.name}"
            self.calls[key] += 1
            self.by_caller[self._who() or "-"][key] += 1

    def by_service(self) -> dict[str, int]:
        out: collections.Counter[str] = collections.Counter()
        for key, value in self.calls.items():
            out[key.split(":")[0]] += value
        return dict(sorted(out.items()))


class LocalPlatform:
    def __init__(self, state: dict[str, Any], endpoint_url: str, *,
                 paypal_fetch: Callable[[str], bytes] | None = None, paypal_trust_store: str | None = None,
                 log_sink: io.StringIO | None = None):
        self.wiring = Wiring.from_state(state)
        self.endpoint_url = endpoint_url
        self.log_sink = log_sink if log_sink is not None else io.StringIO()
        self.polling: str | None = None  # the function whose event source is being polled
        self.handler_calls = CallCounter(lambda: self.functions.current)
        self.platform_calls = CallCounter(lambda: self.polling)
        after_load = {}
        if paypal_fetch is not None:
            def use_test_certificates() -> None:
                from paycore.providers import paypal

                paypal.set_certificate_fetcher(paypal_fetch)
            after_load[PROCESSOR] = use_test_certificates
        self.functions = Functions(
            self.wiring, endpoint_url, log_sink=self.log_sink, after_load=after_load,
            extra_environment={PROCESSOR: {"PAYPAL_TRUST_STORE": paypal_trust_store}} if paypal_trust_store else None)
        # the functions' SDK clients: boto3's default session, counted
        boto3.setup_default_session(region_name=REGION)
        boto3.DEFAULT_SESSION.events.register("before-call", self.handler_calls.hook)
        for operation in VISIBILITY_OPERATIONS:
            boto3.DEFAULT_SESSION.events.register(f"before-parameter-build.sqs.{operation}",
                                                  self.functions.note_visibility_change)
        session = boto3.Session(region_name=REGION)
        session.events.register("before-call", self.platform_calls.hook)
        config = botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"})
        self.sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
        self.api = ApiGateway(self.wiring, self.functions, self.sqs)
        # what the runner asks only to know when to stop waiting: not an AWS call of the platform
        self._probe_sqs = boto3.Session(region_name=REGION).client("sqs", endpoint_url=endpoint_url, config=config)
        self._held: set[str] = set()  # queues where a function held a message back
        self.pipes = Pipes(self.wiring, self.functions,
                           session.client("dynamodbstreams", endpoint_url=endpoint_url, config=config),
                           session.client("events", endpoint_url=endpoint_url, config=config))

    # -- what the scenarios send and read back --
    @property
    def metrics(self) -> collections.Counter[str]:
        return self.functions.metrics

    @property
    def invocations(self) -> collections.Counter[str]:
        return self.functions.invocations

    @property
    def http_status(self) -> collections.Counter[int]:
        return self.api.http_status

    @property
    def ingest_queue_url(self) -> str:
        return self.wiring.ingest_queue().url

    def dead_letter_queue_url(self, queue_url: str) -> str:
        """The DLQ of the deployed queue at `queue_url` (its redrive policy's target)."""
        queue = next((q for q in self.wiring.queues.values() if q.url == queue_url), None)
        if queue is None:
            raise KeyError(f"{queue_url} is not a deployed queue")
        return self.wiring.dead_letter_queue(queue).url

    def environment(self, function: str) -> dict[str, str]:
        """The deployed environment variables of a function (by its code folder)."""
        return dict(self.functions.function(function).environment)

    def env_for(self, function: str) -> contextlib.AbstractContextManager[None]:
        """Run code (an ops tool) with a function's environment, as the handler runs with it."""
        return self.functions.environment(function)

    def http(self, method: str, path: str, *, headers: dict[str, str], query: dict[str, str], body: bytes,
             received_at_ms: int | None = None, source_ip: str = "203.0.113.10",
             caller: IamCaller | None = None) -> HttpResult:
        """A request to the deployed API; `caller` is the SigV4 identity an AWS_IAM route needs."""
        return self.api.request(method, path, headers=headers, query=query, body=body,
                                received_at_ms=received_at_ms, source_ip=source_ip, caller=caller)

    def handler(self, function: str) -> Handler:
        return self.functions.handler(function)

    def invoke(self, function: str, event: Any) -> Any:
        return self.functions.invoke(function, event)

    # -- the whole platform --
    def drain(self, *, max_rounds: int = 200, idle_rounds: int = 2, wait_seconds: float = 600.0,
              poll_interval_seconds: float = 0.2) -> bool:
        """Run the event sources and pipes until nothing moves for `idle_rounds` rounds and no
        message a function held back is left in its queue (waiting for those up to `wait_seconds`,
        looking every `poll_interval_seconds`). `max_rounds` bounds the rounds that move while
        nothing is held back (a message failing over and over); the wait bounds the rest. False
        when it stopped before everything settled."""
        idle, rounds = 0, 0
        deadline = time.monotonic() + wait_seconds
        while rounds < max_rounds:
            moved = 0
            for source in self.wiring.event_sources:
                self.polling = source.function
                while True:
                    count = event_sources.poll(self.sqs, self.functions, source, self._held)
                    moved += count
                    if not count:
                        break
                self.polling = None
            moved += self.pipes.run()
            idle = idle + 1 if not moved else 0
            if moved and not self._held:
                rounds += 1
            elif moved and time.monotonic() > deadline:
                return False
            if idle < idle_rounds:
                continue
            self._held = {name for name in self._held if self._depth(name)}
            if not self._held:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(poll_interval_seconds)  # held messages come back on the emulator's clock
        return False

    def _depth(self, name: str) -> int:
        attributes = self._probe_sqs.get_queue_attributes(
            QueueUrl=self.wiring.queues[name].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attributes.values())

    def queue_depth(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.wiring.queues[name].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def dead_letter_depths(self) -> dict[str, int]:
        """Messages in every deployed dead-letter queue, by queue name."""
        return {q.name: self.queue_depth(q.name) for q in self.wiring.dead_letter_queues()}

