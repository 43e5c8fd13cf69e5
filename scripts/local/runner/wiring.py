"""The deployed wiring, read from `terraform show -json` of the local state: each resource is found
by its Terraform type and by the ARNs, URLs and names the other resources reference, never by
guessing from physical names."""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
LAMBDA_SRC = ROOT / "lambda_src"


def _first(value: Any) -> Any:
    """Terraform state renders nested blocks as lists of one."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}


def unqualified(function_arn: str) -> str:
    """`arn:aws:lambda:{region}:{account}:function:{name}[:{alias}]` -> without the alias; an API
    Gateway invoke URI (`.../functions/{arn}/invocations`) -> the function's ARN."""
    if "/functions/" in function_arn:
        function_arn = function_arn.split("/functions/", 1)[1].split("/invocations", 1)[0]
    return ":".join(function_arn.split(":")[:7])


@dataclass(frozen=True)
class FunctionWiring:
    """A deployed `aws_lambda_function` and the code it runs (its handler's module file)."""

    code: str  # the function folder: lambda_src/{code}/{module}.py
    name: str
    arn: str
    handler: str  # "{module}.{function}"
    environment: dict[str, str]
    memory_mb: int = 512
    timeout_seconds: int = 30

    @property
    def module_path(self) -> Path:
        return LAMBDA_SRC / self.code / f"{self.handler.rpartition('.')[0]}.py"


@dataclass(frozen=True)
class QueueWiring:
    """A deployed `aws_sqs_queue`; `dead_letter_arn` is its redrive policy's deadLetterTargetArn
    (the `aws_sqs_queue_redrive_policy` of the queue, or the queue's own attribute)."""

    name: str
    url: str
    arn: str
    fifo: bool
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class IntegrationResponse:
    """An integration response of an AWS integration: the method's status, and the body and
    Content-Type its mapping template and header mapping give (static text: the stack's templates
    use no variables; one that does is refused rather than answered wrongly)."""

    status: int
    body: str
    content_type: str

    @classmethod
    def from_state(cls, response: dict[str, Any]) -> "IntegrationResponse":
        templates = response.get("response_templates") or {}
        header = (response.get("response_parameters") or {}).get("method.response.header.Content-Type", "")
        content_type = header.strip("'") if header.startswith("'") else "application/json"
        body = templates.get(content_type, next(iter(templates.values()), ""))
        if "$" in body or "#" in body:
            raise ValueError(f"the local runner answers static integration response templates only, got {body!r}")
        return cls(int(response["status_code"]), body, content_type)


@dataclass
class Route:
    """An API Gateway integration with its method's authorizer and its integration responses."""

    path: str  # the resource path, e.g. "/transactions/{id}"
    method: str
    integration_type: str
    uri: str
    request_templates: dict[str, str]
    authorizer_function: str | None  # FunctionWiring.code
    responses: dict[str, "IntegrationResponse"] = field(default_factory=dict)  # selection pattern -> response
    resource_id: str = ""
    authorization: str = "NONE"
    function: str | None = None  # FunctionWiring.code of an AWS_PROXY integration

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` is a request path of this resource (each `{name}` part
        takes one non-empty segment), else None."""
        want, got = self.path.strip("/").split("/"), path.strip("/").split("/")
        if len(want) != len(got):
            return None
        found = {}
        for template, part in zip(want, got, strict=True):
            if template.startswith("{") and template.endswith("}") and part:
                found[template[1:-1]] = part
            elif template != part:
                return None
        return found


@dataclass(frozen=True)
class EventSource:
    """An `aws_lambda_event_source_mapping` from a queue."""

    queue: QueueWiring
    function: str  # FunctionWiring.code
    batch_size: int
    report_failures: bool


@dataclass(frozen=True)
class Pipe:
    """An `aws_pipes_pipe` from the table's stream to a function or to an event bus."""

    name: str
    stream_arn: str
    patterns: list[dict[str, Any]]
    batch_size: int
    target_function: str | None  # FunctionWiring.code, for a Lambda target
    target_bus: str | None  # the bus name, for an EventBridge target
    input_template: str = ""
    source: str = ""
    detail_type: str = ""


@dataclass(frozen=True)
class BusRule:
    """An `aws_cloudwatch_event_rule` with its pattern and the ARNs its targets deliver to (the
    emulator evaluates the rules; scenarios read where an event goes)."""

    name: str
    pattern: dict[str, Any]
    target_arns: tuple[str, ...]


@dataclass(frozen=True)
class WafBodyRule:
    """A blocking size rule on the body, in a web ACL associated with the API stage."""

    name: str
    max_bytes: int
    status: int


@dataclass
class Wiring:
    """The deployed wiring the runner follows, read from the local Terraform state."""

    functions: dict[str, FunctionWiring]  # by code folder
    queues: dict[str, QueueWiring]  # by queue name
    routes: dict[tuple[str, str], Route]  # (method, path) -> route
    event_sources: list[EventSource]
    pipes: list[Pipe]
    table_name: str
    stream_arn: str
    bucket: str
    api_id: str
    stage: str
    account: str = "123456789012"
    stage_variables: dict[str, str] = field(default_factory=dict)
    waf_body_rules: list[WafBodyRule] = field(default_factory=list)
    # dead-letter targets: of the queues' redrive policies, the bus rules' targets, the pipes and the bus
    dead_letter_arns: set[str] = field(default_factory=set)
    # the vendor endpoint configuration (JSON) of the SSM parameter the delivery functions name in
    # DELIVERY_ENDPOINTS_PARAMETER; "" when nothing delivers to vendors
    delivery_endpoints: str = ""
    bus_rules: list[BusRule] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Wiring:
        resources = state.get("values", {}).get("root_module", {}).get("resources", [])
        by_type: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for resource in resources:
            if resource.get("mode") == "managed":
                by_type[resource["type"]].append(resource["values"])

        functions = {f.code: f for f in map(_function, by_type["aws_lambda_function"])}
        by_arn = {f.arn: f.code for f in functions.values()}

        def function_for(arn_or_uri: str | None) -> str | None:
            return by_arn.get(unqualified(arn_or_uri or ""))

        redrive = {p["queue_url"]: p["redrive_policy"] for p in by_type["aws_sqs_queue_redrive_policy"]}
        queues = {q.name: q for q in (_queue(v, redrive) for v in by_type["aws_sqs_queue"])}
        queue_by_arn = {q.arn: q for q in queues.values()}
        event_sources = []
        for esm in by_type["aws_lambda_event_source_mapping"]:
            queue = queue_by_arn.get(esm.get("event_source_arn") or "")
            code = function_for(esm.get("function_arn") or esm.get("function_name"))
            if queue and code:
                event_sources.append(EventSource(
                    queue=queue, function=code, batch_size=esm.get("batch_size") or 10,
                    report_failures="ReportBatchItemFailures" in (esm.get("function_response_types") or [])))

        buses = {b["arn"]: b["name"] for b in by_type["aws_cloudwatch_event_bus"]}
        pipes = [_pipe(p, function_for, buses) for p in by_type["aws_pipes_pipe"]]
        streams = {p.stream_arn for p in pipes}
        tables = [t for t in by_type["aws_dynamodb_table"] if t.get("stream_arn") in streams]
        if len(tables) > 1:
            raise ValueError(f"pipes read the streams of several tables: {sorted(t['name'] for t in tables)}")
        table = tables[0] if tables else {}
        # the archive bucket: the one the functions that the pipes invoke are configured with
        buckets = {b["bucket"] for b in by_type["aws_s3_bucket"]}
        configured = {functions[p.target_function].environment.get("ARCHIVE_BUCKET")
                      for p in pipes if p.target_function}
        archive = sorted(buckets & {b for b in configured if b})

        apis = by_type["aws_api_gateway_rest_api"]
        stages = by_type["aws_api_gateway_stage"]
        accounts = sorted({f.arn.split(":")[4] for f in functions.values()})
        return cls(
            functions=functions, queues=queues, routes=_routes(by_type, function_for),
            event_sources=event_sources, pipes=pipes,
            table_name=table.get("name", ""), stream_arn=table.get("stream_arn", ""),
            bucket=archive[0] if archive else "",
            api_id=apis[0]["id"] if apis else "local", stage=stages[0]["stage_name"] if stages else "v1",
            account=accounts[0] if accounts else "123456789012",
            stage_variables=dict((stages[0].get("variables") or {}) if stages else {}),
            waf_body_rules=_waf_body_rules(by_type),
            dead_letter_arns=_dead_letter_arns(by_type, queues),
            delivery_endpoints=_delivery_endpoints(by_type, functions),
            bus_rules=_bus_rules(by_type),
        )

    def vendor_endpoints(self) -> dict[str, dict[str, Any]]:
        """The configured vendor endpoints by id: `{"vendor_id", "url", "event_types",
        "rate_limit_per_second"?, "paused"?}` (lambda_src/README.md, "Vendor delivery")."""
        if not self.delivery_endpoints:
            return {}
        document = json.loads(self.delivery_endpoints)
        return {endpoint["id"]: {"vendor_id": vendor_id, **{k: v for k, v in endpoint.items() if k != "id"}}
                for vendor_id, vendor in document.get("vendors", {}).items() for endpoint in vendor.get("endpoints", [])}

    def routed_statuses(self) -> set[str] | None:
        """The announcement kinds whose state writes the pipe to the bus forwards (None: every
        announcing write)."""
        found: set[str] = set()
        for pipe in (p for p in self.pipes if p.target_bus):
            for pattern in pipe.patterns or [{}]:
                kinds = pattern.get("dynamodb", {}).get("NewImage", {}).get("bus_kinds", {}).get("SS")
                if kinds is None:
                    return None
                found.update(kinds)
        return found

    def route_for(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving `method path` and its path parameters: a literal resource before a
        templated one, as API Gateway matches them; None when no resource matches."""
        candidates = sorted((r for (m, _), r in self.routes.items() if m == method), key=lambda r: r.path.count("{"))
        for route in candidates:
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def queue_url_for_integration(self, uri: str) -> str:
        """`arn:aws:apigateway:{region}:sqs:path/{account}/{queue}` -> that queue's URL."""
        name = uri.rsplit("/", 1)[-1]
        if name not in self.queues:
            raise KeyError(f"integration {uri!r} names no deployed queue")
        return self.queues[name].url

    def ingest_queue(self) -> QueueWiring:
        """The queue the API's SQS integrations send to."""
        names = {r.uri.rsplit("/", 1)[-1] for r in self.routes.values()
                 if r.integration_type == "AWS" and ":sqs:" in r.uri}
        if len(names) != 1:
            raise KeyError(f"the API's SQS integrations name {sorted(names)}, not one ingest queue")
        return self.queues[names.pop()]

    def dead_letter_queue(self, queue: QueueWiring) -> QueueWiring:
        """The queue named by `queue`'s redrive policy."""
        found = [q for q in self.queues.values() if q.arn == queue.dead_letter_arn]
        if not found:
            raise KeyError(f"queue {queue.name} has no deployed dead-letter queue")
        return found[0]

    def dead_letter_queues(self) -> list[QueueWiring]:
        """Every queue that is a dead-letter target (of a queue, a bus rule's target, a pipe or a bus)."""
        return [q for q in self.queues.values() if q.arn in self.dead_letter_arns]


def _function(values: dict[str, Any]) -> FunctionWiring:
    module = values["handler"].rpartition(".")[0]
    folders = sorted(p.parent.name for p in LAMBDA_SRC.glob(f"*/{module}.py"))
    if len(folders) != 1:
        raise ValueError(f"{values['function_name']}: handler module {module}.py is in {folders or 'no'} "
                         f"folder of {LAMBDA_SRC}, expected one")
    return FunctionWiring(
        code=folders[0], name=values["function_name"], arn=values["arn"], handler=values["handler"],
        environment=dict(_first(values.get("environment")).get("variables") or {}),
        memory_mb=values.get("memory_size") or 512, timeout_seconds=values.get("timeout") or 30)


def _queue(values: dict[str, Any], redrive_policies: dict[str, str]) -> QueueWiring:
    url = values.get("url") or values["id"]
    redrive = json.loads(redrive_policies.get(url) or values.get("redrive_policy") or "{}")
    return QueueWiring(name=values["name"], url=url, arn=values["arn"], fifo=bool(values.get("fifo_queue")),
                       dead_letter_arn=redrive.get("deadLetterTargetArn"))


def _pipe(values: dict[str, Any], function_for: Any, buses: dict[str, str]) -> Pipe:
    source = _first(values.get("source_parameters"))
    criteria = _first(source.get("filter_criteria"))
    stream = _first(source.get("dynamodb_stream_parameters"))
    target_params = _first(values.get("target_parameters"))
    bus_params = _first(target_params.get("eventbridge_event_bus_parameters"))
    target = values["target"]
    function = function_for(target)
    if function is None and target not in buses:
        raise ValueError(f"pipe {values['name']}: target {target} is neither a deployed function nor bus")
    return Pipe(
        name=values["name"], stream_arn=values["source"],
        patterns=[json.loads(f["pattern"]) for f in criteria.get("filter", []) if f.get("pattern")],
        batch_size=stream.get("batch_size") or 10,
        target_function=function, target_bus=None if function else buses[target],
        input_template=target_params.get("input_template") or "",
        source=bus_params.get("source") or "", detail_type=bus_params.get("detail_type") or "")


def _delivery_endpoints(by_type: dict[str, list[dict[str, Any]]], functions: dict[str, FunctionWiring]) -> str:
    names = {f.environment["DELIVERY_ENDPOINTS_PARAMETER"] for f in functions.values()
             if f.environment.get("DELIVERY_ENDPOINTS_PARAMETER")}
    values = {p.get("value") or p.get("insecure_value") or "" for p in by_type["aws_ssm_parameter"] if p.get("name") in names}
    if len(values) > 1:
        raise ValueError(f"the delivery functions name different endpoint parameters: {sorted(names)}")
    return values.pop() if values else ""


def _bus_rules(by_type: dict[str, list[dict[str, Any]]]) -> list[BusRule]:
    targets = collections.defaultdict(list)
    for target in by_type["aws_cloudwatch_event_target"]:
        if target.get("arn"):
            targets[target.get("rule")].append(target["arn"])
    return [BusRule(r["name"], json.loads(r.get("event_pattern") or "{}"), tuple(sorted(targets[r["name"]])))
            for r in by_type["aws_cloudwatch_event_rule"]]


def _dead_letter_arns(by_type: dict[str, list[dict[str, Any]]], queues: dict[str, QueueWiring]) -> set[str]:
    configs = [_first(t.get("dead_letter_config")) for t in by_type["aws_cloudwatch_event_target"]]
    configs += [_first(bus.get("dead_letter_config")) for bus in by_type["aws_cloudwatch_event_bus"]]
    for pipe in by_type["aws_pipes_pipe"]:
        stream = _first(_first(pipe.get("source_parameters")).get("dynamodb_stream_parameters"))
        configs.append(_first(stream.get("dead_letter_config")))
    return {q.dead_letter_arn for q in queues.values() if q.dead_letter_arn} | {c["arn"] for c in configs if c.get("arn")}


def _routes(by_type: dict[str, list[dict[str, Any]]], function_for: Any) -> dict[tuple[str, str], Route]:
    paths = {r["id"]: r["path"] for r in by_type["aws_api_gateway_resource"]}
    authorizers = {a["id"]: function_for(a.get("authorizer_uri")) for a in by_type["aws_api_gateway_authorizer"]}
    methods = {(m["resource_id"], m["http_method"]): m for m in by_type["aws_api_gateway_method"]}
    routes = {}
    for integration in by_type["aws_api_gateway_integration"]:
        path = paths.get(integration["resource_id"], "/")
        method = methods.get((integration["resource_id"], integration["http_method"]), {})
        routes[(integration["http_method"], path)] = Route(
            path=path, method=integration["http_method"], integration_type=integration["type"],
            uri=integration.get("uri") or "", request_templates=dict(integration.get("request_templates") or {}),
            authorizer_function=authorizers.get(method.get("authorizer_id")),
            resource_id=integration["resource_id"], authorization=method.get("authorization") or "NONE",
            function=function_for(integration.get("uri")) if integration["type"] == "AWS_PROXY" else None,
        )
    for response in by_type["aws_api_gateway_integration_response"]:
        route = routes.get((response["http_method"], paths.get(response["resource_id"], "/")))
        if route is not None:
            route.responses[response.get("selection_pattern") or ""] = IntegrationResponse.from_state(response)
    return routes


def _waf_body_rules(by_type: dict[str, list[dict[str, Any]]]) -> list[WafBodyRule]:
    """Blocking body-size rules of the web ACLs associated with a resource (the API stage); the
    managed rule groups and the rate rule are AWS's own and are not emulated."""
    associated = {a["web_acl_arn"] for a in by_type["aws_wafv2_web_acl_association"]}
    rules = []
    for acl in by_type["aws_wafv2_web_acl"]:
        if acl["arn"] not in associated:
            continue
        for rule in acl.get("rule", []):
            size = _first(_first(rule.get("statement")).get("size_constraint_statement"))
            block = _first(_first(rule.get("action")).get("block"))
            if size and block and size.get("comparison_operator") == "GT" and \
                    _first(size.get("field_to_match")).get("body") is not None:
                status = _first(block.get("custom_response")).get("response_code") or 403
                rules.append(WafBodyRule(rule["name"], int(size["size"]), int(status)))
    return rules
