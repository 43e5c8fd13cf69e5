"""The deployed functions, run in-process: each handler module is loaded from its file under the
function's deployed environment, invoked with a Lambda context, and its stdout and stderr kept as
its CloudWatch log (as Lambda keeps both), from which the embedded-format (EMF) metrics are counted."""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import time
import uuid
from typing import Any, Callable, Iterator

from .wiring import FunctionWiring, Wiring

REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]


def skeleton(value: Any) -> Any:
    """The shape of a JSON value: objects with their keys, the distinct shapes of an array's
    elements, the type name of each scalar."""
    if isinstance(value, dict):
        return {k: skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if (shape := skeleton(item)) not in shapes:
                shapes.append(shape)
        return shapes
    return type(value).__name__


class LambdaContext:
    def __init__(self, function: FunctionWiring):
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = "local"
        self._deadline = time.time() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class FunctionOutput(io.TextIOBase):
    """What a function writes to stdout is its CloudWatch log. Loggers keep the stream they were
    created with, so the handlers are imported with this proxy as stdout, and each invocation
    points it at a fresh buffer."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()

    def capture(self) -> io.StringIO:
        self._buffer = io.StringIO()
        return self._buffer

    def write(self, text: str) -> int:
        return self._buffer.write(text)

    def writable(self) -> bool:
        return True


def bind_powertools_loggers(stream: io.TextIOBase) -> None:
    """Powertools configures a service's `logging` logger once per process, its handler on the
    stdout of that moment: a paycore module imported outside the runner first (the end-to-end run
    sets the secrets through paycore.providers) would send the handlers' logs to the terminal
    instead of their log. Point those handlers at the function output."""
    from aws_lambda_powertools.logging.constants import LOGGER_ATTRIBUTE_POWERTOOLS_HANDLER

    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and getattr(logger, LOGGER_ATTRIBUTE_POWERTOOLS_HANDLER, None):
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is not stream:
                    handler.setStream(stream)


class Functions:
    """Loads and invokes the deployed functions' handlers with their deployed environment."""

    def __init__(self, wiring: Wiring, endpoint_url: str, *, log_sink: io.StringIO,
                 extra_environment: dict[str, dict[str, str]] | None = None,
                 after_load: dict[str, Callable[[], None]] | None = None):
        self.wiring = wiring
        self.endpoint_url = endpoint_url
        self.log_sink = log_sink
        self.metrics: collections.Counter[str] = collections.Counter()
        self.invocations: collections.Counter[str] = collections.Counter()
        self._extra_environment = extra_environment or {}  # code -> variables the runner adds (local trust)
        self._after_load = after_load or {}  # code -> hook run once its module is loaded
        self._stdout = FunctionOutput()
        self._handlers: dict[str, Handler] = {}
        self._visibility_set: set[str] = set()  # receipt handles whose visibility a function changed
        self.events_by_shape: dict[str, dict[str, Any]] = collections.defaultdict(dict)  # code -> shape -> event
        self.current: str | None = None  # the function being invoked (one at a time; its threads too)
        # Handler modules keep module-level clients and settings: load them fresh, under this
        # deployment's environment, even if this process imported them before (the test suite).
        for name in [n for n in sys.modules if n == "paycore" or n.startswith("paycore.") or n.endswith("_handler")]:
            del sys.modules[name]

    def add_environment(self, code: str, variables: dict[str, str]) -> None:
        """Variables the runner adds to a function's deployed environment (before its first load:
        handlers read their configuration once), e.g. the loopback fake provider APIs' URLs."""
        if code in self._handlers:
            raise RuntimeError(f"{code} is loaded already: add its environment before the first invocation")
        self._extra_environment.setdefault(code, {}).update(variables)

    def function(self, code: str) -> FunctionWiring:
        if code not in self.wiring.functions:
            raise KeyError(f"function {code!r} is not deployed")
        return self.wiring.functions[code]

    @contextlib.contextmanager
    def environment(self, code: str) -> Iterator[None]:
        """The function's deployed environment (and the emulator's endpoint) while the context is open."""
        function = self.function(code)
        saved = dict(os.environ)
        os.environ.update(function.environment)
        os.environ.update(AWS_ENDPOINT_URL=self.endpoint_url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                          AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_LAMBDA_FUNCTION_NAME=function.name,
                          POWERTOOLS_TRACE_DISABLED="true")  # no X-Ray daemon here
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(self._extra_environment.get(code, {}))
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def handler(self, code: str) -> Handler:
        if code not in self._handlers:
            function = self.function(code)
            module_name, _, function_name = function.handler.rpartition(".")
            spec = importlib.util.spec_from_file_location(module_name, function.module_path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {function.module_path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # as an import would (dataclasses, pickling look it up)
            with self.environment(code), self.output():
                spec.loader.exec_module(module)  # loggers bind the proxy stream
            bind_powertools_loggers(self._stdout)  # and those configured before it
            if code in self._after_load:
                self._after_load[code]()
            self._handlers[code] = getattr(module, function_name)
        return self._handlers[code]

    @contextlib.contextmanager
    def output(self) -> Iterator[None]:
        """stdout and stderr (Python's warnings too) into the function's log while it runs."""
        with contextlib.redirect_stdout(self._stdout), contextlib.redirect_stderr(self._stdout):
            yield

    def note_visibility_change(self, params: dict[str, Any], **_: Any) -> None:
        """botocore `before-parameter-build` hook (the API parameters, as the function passed them) on
        the functions' session: `ChangeMessageVisibility[Batch]`. (`before-call` gets the serialized
        request instead, where no `ReceiptHandle` key is found.)"""
        batch = params.get("Entries")
        entries: list[dict[str, Any]] = batch if isinstance(batch, list) else [params]
        self._visibility_set.update(e["ReceiptHandle"] for e in entries if isinstance(e.get("ReceiptHandle"), str))

    def take_visibility_changes(self, receipt_handles: set[str]) -> set[str]:
        """Which of `receipt_handles` a function changed the visibility of (forgotten once asked)."""
        found = self._visibility_set & receipt_handles
        self._visibility_set -= receipt_handles
        return found

    def invoke(self, code: str, event: Any) -> Any:
        """Invoke a function with `event`, which Lambda hands it as JSON: what JSON cannot carry
        (bytes, datetimes) fails here, not in the handler. Each distinct shape of event a function
        got is kept (`events_by_shape`), for the tests that compare them with AWS's samples."""
        event = json.loads(json.dumps(event))
        self.events_by_shape[code].setdefault(json.dumps(skeleton(event), sort_keys=True), event)
        handler = self.handler(code)
        self.invocations[code] += 1
        out = self._stdout.capture()
        outer, self.current = self.current, code
        with self.environment(code), self.output():
            try:
                return handler(event, LambdaContext(self.function(code)))
            finally:
                self.current = outer
                self._collect_output(out.getvalue())

    def _collect_output(self, text: str) -> None:
        """Function stdout is its CloudWatch log: keep it, and read the EMF metrics from it."""
        self.log_sink.write(text)
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "_aws" not in record:
                continue
            for directive in record["_aws"].get("CloudWatchMetrics", []):
                dimensions = [d for group in directive.get("Dimensions", []) for d in group if d != "service"]
                for metric in directive.get("Metrics", []):
                    name = metric["Name"]
                    values = record.get(name, 0)
                    total = sum(values) if isinstance(values, list) else values
                    suffix = "".join(f"[{d}={record.get(d)}]" for d in dimensions)
                    self.metrics[name + suffix] += int(total)
