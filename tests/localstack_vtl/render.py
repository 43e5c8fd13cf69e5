"""Renders API Gateway request templates with LocalStack's renderer (localstack-core's
`ApiGatewayVtlTemplate.render_request` on its own engine, airspeed-ext): the second opinion of
tests/test_vtl_second_opinion.py, run in its own process because airspeed-ext installs the module
name `airspeed` too (its directory, .venv/airspeed-ext, is this process's PYTHONPATH).

stdin: a JSON list of requests; stdout: ``{"engine": {...}, "rendered": {id: text or {"error": ...}}}``.

Each request is rendered with the inputs LocalStack's integration-request handler
(`next_gen/execute_api/handlers/integration_request.py`) builds: the body decoded as UTF-8 with
replacement (a non-binary request), the headers as the werkzeug `Headers` its request parser makes,
the query string and path maps, `$context`, empty stage variables. ``"headers_as": "map"`` gives the
headers instead as a plain map, ``"java"`` also lets its engine call `toLowerCase()` on a string, as
Java does: both are LocalStack defects (see the test module) worked around so the rest can be compared.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from importlib import metadata
from typing import Any, Iterator

import airspeed.operators
from werkzeug.datastructures import Headers

from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate
from localstack.services.apigateway.next_gen.execute_api.variables import (
    ContextVariableOverrides,
    ContextVarsRequestOverride,
    ContextVarsResponseOverride,
)


@contextlib.contextmanager
def java_string_methods() -> Iterator[None]:
    """`String.toLowerCase()` for every string, as Velocity on Java has it."""
    methods = airspeed.operators.__additional_methods__[str]
    methods["toLowerCase"] = str.lower
    try:
        yield
    finally:
        del methods["toLowerCase"]


def render(request: dict[str, Any]) -> str:
    body = base64.b64decode(request["body_b64"]).decode("utf-8", errors="replace")
    headers: Any
    if request["headers_as"] == "werkzeug":
        headers = Headers()
        for name, value in request["headers"]:
            headers.add(name, value)
    else:
        headers = dict(request["headers"])
    variables = {
        "context": dict(request["context"]),
        "stageVariables": {},
        "input": {"body": body, "params": {"path": request["path"], "querystring": request["query"],
                                           "header": headers}},
    }
    overrides = ContextVariableOverrides(
        requestOverride=ContextVarsRequestOverride(header={}, querystring={}, path={}),
        responseOverride=ContextVarsResponseOverride(header={}, status=0),
    )
    with java_string_methods() if request["headers_as"] == "java" else contextlib.nullcontext():
        rendered, _ = ApiGatewayVtlTemplate().render_request(request["template"], variables, overrides)
    return rendered


def main() -> None:
    requests = json.load(sys.stdin)
    rendered: dict[str, Any] = {}
    for request in requests:
        try:
            rendered[request["id"]] = render(request)
        except Exception as error:  # reported per request, compared by the test
            rendered[request["id"]] = {"error": f"{type(error).__name__}: {error}"}
    engine = {"airspeed": airspeed.operators.__file__, "airspeed-ext": metadata.version("airspeed-ext"),
              "localstack-core": metadata.version("localstack-core")}
    json.dump({"engine": engine, "rendered": rendered}, sys.stdout)


if __name__ == "__main__":
    main()
