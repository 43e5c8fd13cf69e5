"""The local runner: drives the deployed `local` stack with the real handler code, in-process, the
way AWS would, because the emulator cannot run Lambda (it needs Docker) nor API Gateway
integrations nor pipes.

Everything it needs comes from what was deployed (`terraform show -json` of the local state):

- WAF: the deployed web ACL's body size rule (the managed rule groups and the rate rule are AWS's
  own and are not emulated).
- HTTP: for `POST /webhooks/{provider}` it calls the deployed REQUEST authorizer's handler, then
  renders the deployed integration request template (scripts/apigw_vtl.py) and sends the
  resulting `SendMessage` to the queue named in the integration URI; an SQS error becomes the
  status code of the deployed integration responses (5xx, so the provider retries).
- Event source mappings: polls each mapped queue, invokes the mapped function with a real SQS
  event (batch size and ReportBatchItemFailures from the mapping), deletes what succeeded and
  makes the failures visible again (moto moves a message to the DLQ after maxReceiveCount).
- Pipes: reads the table's DynamoDB stream, applies each pipe's deployed filter, invokes the
  archiver (Pipe A) or applies the deployed input template and puts the event on the deployed bus
  (Pipe B); the emulator evaluates the deployed rules and delivers to the notifications queue.
- SNS: the notifier publishes to the deployed topic; the emulator applies the deployed
  subscription filter policies and delivers to the vendors' capture queues.

The same Lambda environment variables as deployed are set while a handler runs; AWS SDK calls
reach the emulator through AWS_ENDPOINT_URL. Calls are counted per service with botocore event
hooks: `handler_calls` (what the functions call) and `platform_calls` (what API Gateway, the
event sources and the pipes do for them).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import importlib
import io
import json
import os
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambda_src" / "layer"), str(ROOT / "scripts")]

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

import apigw_vtl  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTIONS = ("authorizer", "validator", "processor", "archiver", "notifier", "reader", "status", "notify")


# ----- what was deployed --------------------------------------------------------------------------

def _first(value: Any) -> Any:
    """Terraform state renders nested blocks as lists of one."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}


@dataclass
class Route:
    path: str
    method: str
    integration_type: str
    uri: str
    request_templates: dict[str, str]
    authorizer_function: str | None
    status_for_error: dict[str, str] = field(default_factory=dict)


@dataclass
class Wiring:
    """The deployed wiring the runner follows, read from the local Terraform state."""

    functions: dict[str, dict]  # short name -> {"name", "arn", "handler", "environment"}
    queues: dict[str, dict]  # queue name -> {"url", "arn", "redrive"}
    routes: dict[tuple[str, str], Route]
    event_sources: list[dict]  # {"queue_url", "function", "batch_size", "report_failures"}
    pipes: list[dict]  # {"name", "stream_arn", "patterns", "target_kind", "target", "template", ...}
    table_name: str
    stream_arn: str
    bucket: str
    topic_arn: str
    bus_name: str
    subscriptions: list[dict]
    api_id: str
    stage: str
    waf_body_rules: list[tuple[str, int, int]] = field(default_factory=list)  # (rule, max bytes, status)

    @classmethod
    def from_state(cls, state: dict) -> "Wiring":
        resources = [r for r in state.get("values", {}).get("root_module", {}).get("resources", [])
                     if r.get("mode") == "managed"]
        by_type: dict[str, list[dict]] = collections.defaultdict(list)
        for resource in resources:
            by_type[resource["type"]].append(resource["values"])

        functions = {}
        for fn in by_type["aws_lambda_function"]:
            short = next((f for f in FUNCTIONS if fn["function_name"].startswith(f"payment-{f}-")), None)
            if short:
                functions[short] = {"name": fn["function_name"], "arn": fn["arn"], "handler": fn["handler"],
                                    "environment": dict(_first(fn.get("environment")).get("variables") or {}),
                                    "memory": fn.get("memory_size"), "timeout": fn.get("timeout")}
        by_arn = {f["arn"]: short for short, f in functions.items()}

        def function_for(arn_or_uri: str) -> str | None:
            return next((short for arn, short in by_arn.items() if arn in (arn_or_uri or "")), None)

        queues = {q["name"]: {"url": q["url"] if q.get("url") else q["id"], "arn": q["arn"],
                              "fifo": q.get("fifo_queue", False)} for q in by_type["aws_sqs_queue"]}

        paths = {r["id"]: r["path"] for r in by_type["aws_api_gateway_resource"]}
        authorizers = {a["id"]: function_for(a.get("authorizer_uri", "")) for a in by_type["aws_api_gateway_authorizer"]}
        methods = {(m["resource_id"], m["http_method"]): m for m in by_type["aws_api_gateway_method"]}
        routes = {}
        for integration in by_type["aws_api_gateway_integration"]:
            path = paths.get(integration["resource_id"], "/")
            method = methods.get((integration["resource_id"], integration["http_method"]), {})
            routes[(integration["http_method"], path)] = Route(
                path=path, method=integration["http_method"], integration_type=integration["type"],
                uri=integration.get("uri", ""), request_templates=dict(integration.get("request_templates") or {}),
                authorizer_function=authorizers.get(method.get("authorizer_id")),
            )
        for response in by_type["aws_api_gateway_integration_response"]:
            path = paths.get(response["resource_id"], "/")
            route = routes.get((response["http_method"], path))
            if route is not None:
                route.status_for_error[response.get("selection_pattern") or ""] = response["status_code"]

        event_sources = []
        for esm in by_type["aws_lambda_event_source_mapping"]:
            queue = next((q for q in queues.values() if q["arn"] == esm["event_source_arn"]), None)
            short = function_for(esm.get("function_arn") or esm.get("function_name", ""))
            if queue and short:
                event_sources.append({"queue_url": queue["url"], "queue_arn": queue["arn"], "function": short,
                                      "batch_size": esm.get("batch_size") or 10,
                                      "report_failures": "ReportBatchItemFailures" in (esm.get("function_response_types") or [])})

        tables = [t for t in by_type["aws_dynamodb_table"] if t["name"].startswith("payment-transactions-")]
        table = tables[0] if tables else {}
        pipes = []
        for pipe in by_type["aws_pipes_pipe"]:
            source = _first(pipe.get("source_parameters"))
            criteria = _first(source.get("filter_criteria"))
            patterns = [json.loads(f["pattern"]) for f in criteria.get("filter", []) if f.get("pattern")]
            stream = _first(source.get("dynamodb_stream_parameters"))
            target_params = _first(pipe.get("target_parameters"))
            bus_params = _first(target_params.get("eventbridge_event_bus_parameters"))
            target = pipe["target"]
            pipes.append({
                "name": pipe["name"], "stream_arn": pipe["source"], "patterns": patterns,
                "batch_size": stream.get("batch_size") or 10,
                "target_kind": "lambda" if ":lambda:" in target else "bus",
                "target": function_for(target) if ":lambda:" in target else target.rsplit("/", 1)[-1],
                "template": target_params.get("input_template") or "",
                "source": bus_params.get("source") or "", "detail_type": bus_params.get("detail_type") or "",
            })
        buckets = [b["bucket"] for b in by_type["aws_s3_bucket"] if b["bucket"].startswith("payment-archive-")]
        topics = [t["arn"] for t in by_type["aws_sns_topic"] if "vendor" in t["name"]]
        buses = [b["name"] for b in by_type["aws_cloudwatch_event_bus"]]
        waf_body_rules = []
        if by_type["aws_wafv2_web_acl_association"]:
            for acl in by_type["aws_wafv2_web_acl"]:
                for rule in acl.get("rule", []):
                    size = _first(_first(rule.get("statement")).get("size_constraint_statement"))
                    block = _first(_first(rule.get("action")).get("block"))
                    if size and block and size.get("comparison_operator") == "GT" and \
                            _first(size.get("field_to_match")).get("body") is not None:
                        status = _first(block.get("custom_response")).get("response_code") or 403
                        waf_body_rules.append((rule["name"], int(size["size"]), int(status)))
        apis = by_type["aws_api_gateway_rest_api"]
        stages = by_type["aws_api_gateway_stage"]
        return cls(
            functions=functions, queues=queues, routes=routes, event_sources=event_sources, pipes=pipes,
            table_name=table.get("name", ""), stream_arn=table.get("stream_arn", ""),
            bucket=buckets[0] if buckets else "", topic_arn=topics[0] if topics else "",
            bus_name=buses[0] if buses else "", subscriptions=by_type["aws_sns_topic_subscription"],
            api_id=apis[0]["id"] if apis else "local", stage=stages[0]["stage_name"] if stages else "v1",
            waf_body_rules=waf_body_rules,
        )

    def queue_url_for_integration(self, uri: str) -> str:
        """`arn:aws:apigateway:{region}:sqs:path/{account}/{queue}` -> that queue's URL."""
        name = uri.rsplit("/", 1)[-1]
        if name not in self.queues:
            raise KeyError(f"integration {uri!r} names no deployed queue")
        return self.queues[name]["url"]


# ----- counting AWS calls -------------------------------------------------------------------------

class CallCounter:
    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def hook(self, **kwargs: Any) -> None:
        model = kwargs.get("model")
        if model is not None:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def by_service(self) -> dict[str, int]:
        out: collections.Counter[str] = collections.Counter()
        for key, value in self.calls.items():
            out[key.split(":")[0]] += value
        return dict(sorted(out.items()))


class LambdaContext:
    def __init__(self, function: dict):
        self.function_name = function["name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = function["arn"]
        self.memory_limit_in_mb = function.get("memory") or 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function['name']}"
        self.log_stream_name = "local"
        self._deadline = time.time() + (function.get("timeout") or 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


# ----- the runner ---------------------------------------------------------------------------------

@dataclass
class HttpResult:
    status: int
    body: str


class LocalPlatform:
    def __init__(self, state: dict, endpoint_url: str, *, paypal_fetch: Callable[[str], bytes] | None = None,
                 paypal_trust_store: str | None = None, log_sink: io.StringIO | None = None):
        self.wiring = Wiring.from_state(state)
        self.endpoint_url = endpoint_url
        self.log_sink = log_sink if log_sink is not None else io.StringIO()
        self.metrics: collections.Counter[str] = collections.Counter()
        self.handler_calls = CallCounter()
        self.platform_calls = CallCounter()
        self.http_status: collections.Counter[int] = collections.Counter()
        self.invocations: collections.Counter[str] = collections.Counter()
        # Handler modules keep module-level clients and settings: load them fresh, under this
        # deployment's environment, even if this process imported them before (the test suite).
        for name in [n for n in sys.modules if n == "paycore" or n.startswith("paycore.") or n.endswith("_handler")]:
            del sys.modules[name]
        # the functions' SDK clients: boto3's default session, counted
        boto3.setup_default_session(region_name=REGION)
        boto3.DEFAULT_SESSION.events.register("before-call", self.handler_calls.hook)
        session = boto3.Session(region_name=REGION)
        session.events.register("before-call", self.platform_calls.hook)
        config = botocore.config.Config(retries={"max_attempts": 2, "mode": "standard"})
        self.sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint_url, config=config)
        self.events = session.client("events", endpoint_url=endpoint_url, config=config)
        self._iterators: dict[str, str] = {}
        self._stdout = _FunctionOutput()
        self._modules: dict[str, Any] = {}
        self._paypal_fetch = paypal_fetch
        self._paypal_trust_store = paypal_trust_store  # the test CA's root: PAYPAL_TRUST_STORE for the processor

    # -- handlers --
    @contextlib.contextmanager
    def _function_env(self, short: str):
        saved = dict(os.environ)
        os.environ.update(self.wiring.functions[short]["environment"])
        os.environ.update(AWS_ENDPOINT_URL=self.endpoint_url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                          AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
                          AWS_LAMBDA_FUNCTION_NAME=self.wiring.functions[short]["name"],
                          POWERTOOLS_TRACE_DISABLED="true")  # no X-Ray daemon here
        os.environ.pop("AWS_SESSION_TOKEN", None)
        if short == "processor" and self._paypal_trust_store:
            os.environ["PAYPAL_TRUST_STORE"] = self._paypal_trust_store
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def handler(self, short: str) -> Callable:
        if short not in self._modules:
            if short not in self.wiring.functions:
                raise KeyError(f"function {short!r} is not deployed")
            module_name, _, function_name = self.wiring.functions[short]["handler"].rpartition(".")
            folder = str(ROOT / "lambda_src" / short)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            with self._function_env(short), contextlib.redirect_stdout(self._stdout):
                module = importlib.import_module(module_name)  # loggers bind the proxy stream
            if short == "processor" and self._paypal_fetch is not None:
                from paycore.providers import paypal

                paypal.set_certificate_fetcher(self._paypal_fetch)
            self._modules[short] = getattr(module, function_name)
        return self._modules[short]

    def invoke(self, short: str, event: Any) -> Any:
        function = self.handler(short)
        self.invocations[short] += 1
        out = self._stdout.capture()
        with self._function_env(short), contextlib.redirect_stdout(self._stdout):
            try:
                return function(event, LambdaContext(self.wiring.functions[short]))
            finally:
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

    # -- API Gateway --
    def http(self, method: str, path: str, *, headers: dict[str, str], query: dict[str, str], body: bytes,
             received_at_ms: int | None = None, source_ip: str = "203.0.113.10") -> HttpResult:
        template_path = path
        path_params = {}
        if path.startswith("/webhooks/"):
            path_params = {"provider": path.rsplit("/", 1)[-1]}
        for rule, max_bytes, status in self.wiring.waf_body_rules:  # the web ACL sees the request first
            if len(body) > max_bytes:
                self.metrics[f"WafBlocked[rule={rule}]"] += 1
                return self._answer(status, {"message": f"blocked by WAF rule {rule}"})
        route = self.wiring.routes.get((method, template_path))
        if route is None:
            return self._answer(404, {"message": "Missing Authentication Token"})
        request_id = str(uuid.uuid4())
        received_at_ms = received_at_ms or int(time.time() * 1000)
        if route.authorizer_function:
            decision = self._authorize(route, method, path, headers, query, path_params, request_id)
            if decision is not None:
                return decision
        if route.integration_type != "AWS" or ":sqs:" not in route.uri:
            return self._answer(501, {"message": f"local runner does not emulate {route.integration_type} here"})
        template = route.request_templates.get("application/json", "")
        form = apigw_vtl.render(template, body=body, headers=headers, query=query, path=path_params,
                                request_id=request_id, request_time_ms=received_at_ms, source_ip=source_ip)
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(form, keep_blank_values=True).items()}
        try:
            self.sqs.send_message(QueueUrl=self.wiring.queue_url_for_integration(route.uri),
                                  MessageBody=fields["MessageBody"], MessageGroupId=fields["MessageGroupId"],
                                  MessageDeduplicationId=fields["MessageDeduplicationId"])
        except botocore.exceptions.ClientError as error:
            return self._integration_error(route, error)
        return self._answer(200, {"received": True})

    def _authorize(self, route: Route, method: str, path: str, headers: dict, query: dict, path_params: dict,
                   request_id: str) -> HttpResult | None:
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.wiring.api_id}/{self.wiring.stage}/{method}{path}"
        event = {
            "type": "REQUEST", "methodArn": method_arn, "resource": route.path, "path": path, "httpMethod": method,
            "headers": dict(headers), "queryStringParameters": dict(query) or None, "pathParameters": path_params,
            "stageVariables": {}, "requestContext": {"requestId": request_id, "stage": self.wiring.stage,
                                                     "resourcePath": route.path, "httpMethod": method,
                                                     "apiId": self.wiring.api_id, "accountId": ACCOUNT},
        }
        try:
            policy = self.invoke(route.authorizer_function, event)
        except Exception as error:  # the authorizer raised: API Gateway answers 401 for "Unauthorized"
            if str(error) == "Unauthorized":
                return self._answer(401, {"message": "Unauthorized"})
            return self._answer(500, {"message": "AuthorizerConfigurationException"})
        statements = policy.get("policyDocument", {}).get("Statement", [])
        allowed = any(s.get("Effect") == "Allow" and _arn_matches(s.get("Resource"), method_arn) for s in statements)
        denied = any(s.get("Effect") == "Deny" and _arn_matches(s.get("Resource"), method_arn) for s in statements)
        if denied or not allowed:
            return self._answer(403, {"message": "User is not authorized to access this resource with an explicit deny"})
        return None

    def _integration_error(self, route: Route, error: botocore.exceptions.ClientError) -> HttpResult:
        """API Gateway picks the integration response whose selection pattern matches the
        integration's HTTP status (for AWS integrations)."""
        import re

        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        chosen = None
        for pattern, code in route.status_for_error.items():
            if pattern and re.fullmatch(pattern, status):
                chosen = int(code)
                break
        return self._answer(chosen or 500, {"message": "could not accept the webhook, retry later",
                                            "error": error.response.get("Error", {}).get("Code", "")})

    def _answer(self, status: int, body: dict) -> HttpResult:
        self.http_status[status] += 1
        return HttpResult(status, json.dumps(body))

    # -- event source mappings --
    def poll_queue(self, source: dict) -> int:
        """One poll of a mapped queue: invoke the function with up to batch_size messages."""
        response = self.sqs.receive_message(QueueUrl=source["queue_url"], MaxNumberOfMessages=source["batch_size"],
                                            AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": source["queue_arn"],
            "awsRegion": REGION,
        } for m in messages]
        try:
            result = self.invoke(source["function"], {"Records": records}) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])} if source["report_failures"] else set()
        except Exception:  # a function error fails the whole batch
            failed = {r["messageId"] for r in records}
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=source["queue_url"], ReceiptHandle=m["ReceiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=source["queue_url"], ReceiptHandle=m["ReceiptHandle"])
        return len(messages)

    # -- pipes --
    def _stream_records(self) -> list[dict]:
        stream_arn = self.wiring.stream_arn
        if not stream_arn:
            return []
        records: list[dict] = []
        shards = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._iterators.get(shard["ShardId"])
            if iterator is None:
                iterator = self.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(page["Records"])
                iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    break
            self._iterators[shard["ShardId"]] = iterator
        return records

    def run_pipes(self) -> int:
        from paycore.events import apply_input_template, matches_pattern

        records = self._stream_records()
        for pipe in self.wiring.pipes:
            matched = [r for r in records if not pipe["patterns"] or any(matches_pattern(p, r) for p in pipe["patterns"])]
            for start in range(0, len(matched), pipe["batch_size"]):
                batch = matched[start:start + pipe["batch_size"]]
                if pipe["target_kind"] == "lambda":
                    self._pipe_to_lambda(pipe, batch)
                else:
                    entries = [{"Source": pipe["source"], "DetailType": pipe["detail_type"],
                                "Detail": json.dumps(apply_input_template(pipe["template"], r), separators=(",", ":")),
                                "EventBusName": pipe["target"]} for r in batch]
                    for chunk in range(0, len(entries), 10):
                        self.events.put_events(Entries=entries[chunk:chunk + 10])
        return len(records)

    def _pipe_to_lambda(self, pipe: dict, batch: list[dict], attempts: int = 3) -> None:
        """Pipes retry the failed records of a partial batch response."""
        pending = batch
        for _ in range(attempts):
            result = self.invoke(pipe["target"], pending) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            pending = [r for r in pending if r["eventID"] in failed]
            if not pending:
                return
        self.metrics[f"PipeFailed[{pipe['name']}]"] += len(pending)

    # -- the whole platform --
    def drain(self, *, max_rounds: int = 200, idle_rounds: int = 2) -> None:
        """Run the event sources and pipes until nothing moves for `idle_rounds` rounds."""
        idle = 0
        for _ in range(max_rounds):
            moved = 0
            for source in self.wiring.event_sources:
                while True:
                    count = self.poll_queue(source)
                    moved += count
                    if not count:
                        break
            moved += self.run_pipes()
            idle = idle + 1 if not moved else 0
            if idle >= idle_rounds:
                return

    def queue_depth(self, name: str) -> int:
        url = self.wiring.queues[name]["url"]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


class _FunctionOutput(io.TextIOBase):
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


def _arn_matches(resource: Any, arn: str) -> bool:
    import fnmatch

    resources = resource if isinstance(resource, list) else [resource]
    return any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
