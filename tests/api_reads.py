"""What an API Gateway-facing handler or request template reads from the request, found in its source,
and whether each of those fields exists for a deployed route on AWS.

A handler's reads come from its AST: key chains on the `event` parameter (`event["a"]["b"]`,
`event.get("a")`, `(event.get("a") or {}).get("b")`, local aliases of those), header names
compared with the keys of an event's `headers` (also through a helper taking the name as an
argument), Powertools' `app.current_event.<property>`, `correlation_id_path`, and the resolver's
route rules (`@app.get("/status/<id>")`, whose `<name>` parts are path parameters read from the
path). Constant names resolve through the handler module's namespace. A request template's reads
come from its VTL: `$input.params(...)`, `$context.*`, `$stageVariables.*`.

A read exists for a route when: a path parameter is a `{name}` part of its resource path (the
rule's `<name>` sits where the route has one); a named header or query string is declared in the
method's request parameters; a stage variable is set on the stage; any other field is a key of
the event AWS sends for that route (tests/apigateway_events.py), or a $context variable the mapping
template reference lists (`$context.authorizer.*` only behind an authorizer).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from apigateway_events import DeployedApi, IamCaller, Route, authorizer_event, proxy_event

#: Powertools' event properties (APIGatewayProxyEvent) -> the event keys they read.
POWERTOOLS_PROPERTIES: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {
    ("body",): (("body",),),
    ("decoded_body",): (("body",), ("isBase64Encoded",)),
    ("json_body",): (("body",), ("isBase64Encoded",)),
    ("headers",): (("headers",),),
    ("query_string_parameters",): (("queryStringParameters",),),
    ("path_parameters",): (("pathParameters",),),
    ("stage_variables",): (("stageVariables",),),
    ("request_context", "request_id"): (("requestContext", "requestId"),),
    ("request_context", "request_time_epoch"): (("requestContext", "requestTimeEpoch"),),
    ("request_context", "identity", "source_ip"): (("requestContext", "identity", "sourceIp"),),
    ("request_context", "identity", "user_arn"): (("requestContext", "identity", "userArn"),),
}
#: What APIGatewayRestResolver.resolve itself reads: the method and path to route on, the headers
#: (CORS origin, the response's header form).
RESOLVER_READS = frozenset({("httpMethod",), ("path",), ("headers",), ("multiValueHeaders",)})
#: REST API $context variables of a mapping template (API Gateway mapping template and access logging
#: variable reference, https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
CONTEXT_VARIABLES = frozenset({
    "accountId", "apiId", "awsEndpointRequestId", "deploymentId", "domainName", "domainPrefix", "error.message",
    "error.messageString", "error.responseType", "extendedRequestId", "httpMethod", "identity.accountId",
    "identity.apiKey", "identity.apiKeyId", "identity.caller", "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType", "identity.cognitoIdentityId", "identity.cognitoIdentityPoolId",
    "identity.principalOrgId", "identity.sourceIp", "identity.user", "identity.userAgent", "identity.userArn",
    "isCanaryRequest", "path", "protocol", "requestId", "requestOverride.header", "requestOverride.path",
    "requestOverride.querystring", "responseOverride.header", "responseOverride.status", "requestTime",
    "requestTimeEpoch", "resourceId", "resourcePath", "stage", "wafResponseCode", "webaclArn",
})
_ROUTE_DECORATORS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE", "head": "HEAD"}
_DATA_MAPS = {"pathParameters": "path", "stageVariables": "stage", "queryStringParameters": "querystring",
              "multiValueQueryStringParameters": "querystring", "headers": "header", "multiValueHeaders": "header"}


@dataclass
class Reads:
    """The request fields one handler module reads."""

    fields: set[tuple[str, ...]] = field(default_factory=set)
    rules: set[tuple[str, str]] = field(default_factory=set)  # Powertools routes: (method, "/a/<b>")


def handler_reads(source: str, namespace: Mapping[str, Any] | None = None) -> Reads:
    """The reads of a handler module's source. Constant names (`KEY_QUERY`,
    `direct.IDEMPOTENCY_HEADER`) resolve through the module's imports and literal assignments,
    run without the rest of the module (no client is created); `namespace` adds names."""
    tree = ast.parse(source)
    return _Reader(tree, {**constants(tree), **(namespace or {})}).reads


def constants(tree: ast.Module) -> dict[str, Any]:
    """The names a module's top-level imports and literal assignments bind."""
    namespace: dict[str, Any] = {}
    for node in tree.body:
        literal = isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        if isinstance(node, (ast.Import, ast.ImportFrom)) or literal:
            exec(compile(ast.Module(body=[node], type_ignores=[]), "<constants>", "exec"), namespace)  # noqa: S102
    namespace.pop("__builtins__", None)
    return namespace


class _Reader:
    def __init__(self, tree: ast.Module, namespace: dict[str, Any]):
        self.namespace = namespace
        self.reads = Reads()
        self.header_helpers: dict[str, int] = {}  # function -> index of its header-name parameter
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for function in functions:  # helpers first: call sites anywhere may use them
            self._find_header_helper(function)
        for function in functions:
            self._read_function(function)
        if any(isinstance(n, ast.Attribute) and n.attr == "resolve" for n in ast.walk(tree)):
            self.reads.fields |= RESOLVER_READS

    # -- constants ----------------------------------------------------------------------------
    def constant(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.namespace.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.constant(node.value)
            return getattr(owner, node.attr, None) if owner is not None else None
        return None

    # -- event chains -------------------------------------------------------------------------
    def chain(self, node: ast.AST, aliases: Mapping[str, tuple[str, ...]]) -> tuple[str, ...] | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            return self.chain(node.values[0], aliases)
        if isinstance(node, ast.Subscript):
            base, key = self.chain(node.value, aliases), self.constant(node.slice)
            return base + (key,) if base is not None and isinstance(key, str) else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            base, key = self.chain(node.func.value, aliases), self.constant(node.args[0])
            return base + (key,) if base is not None and isinstance(key, str) else None
        return None

    def _powertools(self, node: ast.Attribute) -> tuple[str, ...] | None:
        """`app.current_event.a.b` -> ("a", "b")."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            if node.attr == "current_event":
                return tuple(reversed(parts))
            parts.append(node.attr)
            node = node.value  # type: ignore[assignment]
        return None

    def _read_function(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        aliases: dict[str, tuple[str, ...]] = {a.arg: () for a in function.args.args if a.arg == "event"}
        for node in ast.walk(function):  # aliases: `context = event.get("requestContext") or {}`
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                found = self.chain(node.value, aliases)
                if found is not None:
                    aliases[node.targets[0].id] = found
        for node in ast.walk(function):
            found = self.chain(node, aliases) if isinstance(node, (ast.Subscript, ast.Call)) else None
            if found:
                self.reads.fields.add(found)
            if isinstance(node, ast.Attribute):
                properties = self._powertools(node)
                for key, fields in POWERTOOLS_PROPERTIES.items():
                    if properties is not None and properties[:len(key)] == key:
                        self.reads.fields.update(fields)
            if isinstance(node, ast.For):
                self._header_loop(node, aliases)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.header_helpers:
                index = self.header_helpers[node.func.id]
                name = self.constant(node.args[index]) if len(node.args) > index else None
                if isinstance(name, str):
                    self.reads.fields.add(("headers", name))
            if isinstance(node, ast.keyword) and node.arg == "correlation_id_path":
                path = self.constant(node.value)
                if isinstance(path, str):
                    self.reads.fields.add(tuple(path.split(".")))
        for decorator in function.decorator_list:
            if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in _ROUTE_DECORATORS and decorator.args):
                rule = self.constant(decorator.args[0])
                if isinstance(rule, str):
                    self.reads.rules.add((_ROUTE_DECORATORS[decorator.func.attr], rule))

    def _header_loop(self, loop: ast.For, aliases: Mapping[str, tuple[str, ...]]) -> None:
        """`for name, value in <headers>.items(): if name.lower() == NAME` reads header NAME."""
        iterated = loop.iter
        if not (isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Attribute) and iterated.func.attr == "items"):
            return
        base = self.chain(iterated.func.value, aliases)
        if base != ("headers",) or not isinstance(loop.target, ast.Tuple):
            return
        key = loop.target.elts[0]
        for node in ast.walk(loop):
            if isinstance(node, ast.Compare) and _lowered(node.left, key):
                name = self.constant(node.comparators[0])
                if isinstance(name, str):
                    self.reads.fields.add(("headers", name))

    def _find_header_helper(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """A function comparing the keys of its event's headers with one of its parameters."""
        names = [a.arg for a in function.args.args]
        if "event" not in names:
            return
        for node in ast.walk(function):
            if isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):
                for compare in (n for n in ast.walk(node) if isinstance(n, ast.Compare)):
                    other = compare.comparators[0]
                    if _lowered(compare.left, node.target.elts[0]) and isinstance(other, ast.Name) and other.id in names:
                        self.header_helpers[function.name] = names.index(other.id)


def _lowered(node: ast.AST, name: ast.AST) -> bool:
    """`name.lower()` (or `name`) for the loop variable `name`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "lower":
        node = node.func.value
    return isinstance(node, ast.Name) and isinstance(name, ast.Name) and node.id == name.id


# ----- VTL ---------------------------------------------------------------------------------------
_VTL_PARAM = re.compile(r"\$input\.params\(\s*['\"]([^'\"]+)['\"]\s*\)")
_VTL_PARAM_MAP = re.compile(r"\$input\.params\(\)\.(path|querystring|header)(?:\.get\(\s*['\"]([^'\"]+)['\"]\s*\)|\.([A-Za-z0-9_-]+))?")
_VTL_CONTEXT = re.compile(r"\$!?\{?context\.([A-Za-z0-9_.]+)")
_VTL_STAGE = re.compile(r"\$!?\{?stageVariables\.([A-Za-z0-9_]+)")


def template_reads(template: str) -> set[tuple[str, ...]]:
    """("param", name) for $input.params('name') (path, query string or header), (location, name)
    for $input.params().location.get('name'), ("context", dotted) and ("stage", name)."""
    reads: set[tuple[str, ...]] = {("param", m.group(1)) for m in _VTL_PARAM.finditer(template)}
    for m in _VTL_PARAM_MAP.finditer(template):
        name = m.group(2) or m.group(3)
        if name and name not in ("keySet", "get", "entrySet", "size"):
            reads.add((m.group(1), name))
    reads |= {("context", m.group(1).rstrip(".")) for m in _VTL_CONTEXT.finditer(template)}
    reads |= {("stage", m.group(1)) for m in _VTL_STAGE.finditer(template)}
    return reads


# ----- the check ---------------------------------------------------------------------------------
def _declared(route: Route, location: str, name: str) -> bool:
    wanted = f"method.request.{location}.{name}"
    if location == "header":
        return any(p.lower() == wanted.lower() for p in route.request_parameters)
    return wanted in route.request_parameters


def _exists_in(event: Any, chain: tuple[str, ...]) -> bool:
    node = event
    for key in chain:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _field_problems(api: DeployedApi, route: Route, who: str, fields: set[tuple[str, ...]], event: Mapping[str, Any]) -> list[str]:
    problems = []
    for chain in sorted(fields):
        where = f"{route.method} {route.resource}: {who} reads {'.'.join(chain)}"
        kind = _DATA_MAPS.get(chain[0])
        if kind and len(chain) > 1:
            name = chain[1]
            if kind == "path" and name not in route.path_variables:
                problems.append(f"{where}, but the route declares path parameters {list(route.path_variables)}")
            elif kind == "stage" and name not in api.stage_variables:
                problems.append(f"{where}, but the stage sets no variable {name!r}")
            elif kind in ("querystring", "header") and not _declared(route, kind, name):
                problems.append(f"{where}, but the method declares no request parameter method.request.{kind}.{name}")
        elif not _exists_in(event, chain):
            problems.append(f"{where}, which AWS does not send to it")
    return problems


def _rule_matches(rule: str, resource: str) -> bool:
    """A Powertools rule serves a resource when their parts agree: `<x>` where the route has `{y}`."""
    want, have = rule.strip("/").split("/"), resource.strip("/").split("/")
    return len(want) == len(have) and all(
        (w.startswith("<") and h.startswith("{")) or w == h for w, h in zip(want, have, strict=True))


def route_problems(api: DeployedApi, reads_of: Mapping[str, Reads]) -> list[str]:
    """Every read of every route's handlers and templates that does not exist on AWS for it;
    `reads_of` maps a handler ("module.function") to its module's reads."""
    problems: list[str] = []
    served: dict[str, list[Route]] = {}
    for route in sorted(api.routes.values(), key=lambda r: (r.resource, r.method)):
        if route.authorizer_handler:
            event = authorizer_event(api, route.resource, method=route.method)
            problems += _field_problems(api, route, route.authorizer_handler, reads_of[route.authorizer_handler].fields, event)
        if route.integration == "AWS_PROXY" and route.handler:
            served.setdefault(route.handler, []).append(route)
            path = "/".join("x" if part.startswith("{") else part for part in route.resource.split("/"))
            event = proxy_event(api, route.method, path, caller=IamCaller() if route.authorization == "AWS_IAM" else None)
            problems += _field_problems(api, route, route.handler, reads_of[route.handler].fields, event)
        for template in route.request_templates.values():
            problems += _template_problems(api, route, template)
    for handler, routes in served.items():
        rules = reads_of[handler].rules
        if not rules:
            continue
        for route in routes:
            if not any(m == route.method and _rule_matches(rule, route.resource) for m, rule in rules):
                problems.append(f"{route.method} {route.resource}: no route of {handler} serves it")
        for method, rule in sorted(rules):
            if not any(method == r.method and _rule_matches(rule, r.resource) for r in routes):
                problems.append(f"{handler} serves {method} {rule}, which no route of the API sends to it (its "
                                f"path parameters {re.findall(r'<([^>]+)>', rule)} are declared by no route)")
    return problems


def _template_problems(api: DeployedApi, route: Route, template: str) -> list[str]:
    problems = []
    where = f"{route.method} {route.resource}: the request template reads"
    for read in sorted(template_reads(template)):
        kind, name = read[0], read[1]
        if kind == "param" and not (name in route.path_variables or _declared(route, "querystring", name)
                                    or _declared(route, "header", name)):
            problems.append(f"{where} $input.params('{name}'), which is no path variable or declared parameter")
        elif kind == "path" and name not in route.path_variables:
            problems.append(f"{where} path parameter {name!r}, but the route declares {list(route.path_variables)}")
        elif kind in ("querystring", "header") and not _declared(route, kind, name):
            problems.append(f"{where} {kind} {name!r}, which the method does not declare")
        elif kind == "context":
            behind_authorizer = route.authorization in ("CUSTOM", "COGNITO_USER_POOLS")
            if not (name in CONTEXT_VARIABLES or (name.startswith("authorizer.") and behind_authorizer)):
                problems.append(f"{where} $context.{name}, which API Gateway does not set for this route")
        elif kind == "stage" and name not in api.stage_variables:
            problems.append(f"{where} $stageVariables.{name}, which the stage does not set")
    return problems
