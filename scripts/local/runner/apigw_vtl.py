"""API Gateway mapping templates, rendered locally with `airspeed` (a Velocity engine).

API Gateway renders request templates with Velocity plus its own variables: `$input`, `$util`,
`$context`, `$stageVariables`. This module provides Python stand-ins for the parts the project's
templates use, with API Gateway's documented behaviour:

- `$input.body` the raw payload as a string, `{}` when the payload is empty (as API Gateway renders
  it); `$input.params()` a map with `header`, `querystring` and `path` maps; `$input.path(x)` /
  `$input.json(x)` evaluate a JSONPath on the body (a body that is not JSON yields an empty value
  here: the template then falls back to the request id); what `$input.path` returns renders as
  Java's objects do (a map as `{key=value, ...}`, a list as JSON, a boolean as `true`);
- `$util.escapeJavaScript` (Java StringEscapeUtils: `"` `'` `\\` `/`, control characters, and
  non-ASCII characters as `\\uXXXX` UTF-16 code units), `$util.base64Encode`, `$util.urlEncode`
  (Java URLEncoder: spaces become `+`), `$util.parseJson`;
- `$context.requestId`, `$context.requestTimeEpoch`, `$context.identity.sourceIp`.

Used by the local runner (apigateway.py) to render the *deployed* template for each request, and
by tests.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any, Mapping

import airspeed

from scripts.json_paths import UnsupportedPath, resolve_path


class JavaString(str):
    """A string with the Java methods Velocity templates call on header names."""

    def toLowerCase(self) -> "JavaString":  # noqa: N802 - Java name
        return JavaString(self.lower())

    def toUpperCase(self) -> "JavaString":  # noqa: N802
        return JavaString(self.upper())

    def length(self) -> int:
        return len(self)

    def equals(self, other: Any) -> bool:
        return str(self) == str(other)


def _java_map(values: Mapping[str, str]) -> dict:
    return {JavaString(k): JavaString(v) for k, v in values.items()}


class JavaMap(dict):
    """A JSON object as `$input.path` returns it: a Java map (`{key=value, ...}` as text)."""

    def size(self) -> int:
        return len(self)

    def keySet(self) -> list:  # noqa: N802 - Java name
        return list(self)

    def containsKey(self, key: Any) -> bool:  # noqa: N802
        return key in self

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={value}" for key, value in self.items()) + "}"


class JavaList(list):
    """A JSON array as `$input.path` returns it: a Java list that prints as JSON."""

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"))


class JavaBoolean(int):
    """A JSON boolean as `$input.path` returns it: prints `true` / `false` (Java's Boolean)."""

    def __str__(self) -> str:
        return "true" if self else "false"

    __repr__ = __str__


def _java_value(value: Any) -> Any:
    if isinstance(value, bool):
        return JavaBoolean(value)
    if isinstance(value, str):
        return JavaString(value)
    if isinstance(value, dict):
        return JavaMap((key, _java_value(item)) for key, item in value.items())
    if isinstance(value, list):
        return JavaList(value)  # printed as JSON: its items stay JSON values
    return value


def _json_path(document: Any, path: str) -> Any:
    """API Gateway's `$input.path` for the dot-notation paths the templates use; the same
    resolver the local runner applies to pipe input templates."""
    try:
        return resolve_path(document, path or "$")
    except UnsupportedPath:
        return None


class VtlInput:
    def __init__(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str], path: Mapping[str, str]):
        # API Gateway gives `$input.body` as "{}" for an empty payload (whatever the content type)
        self.body = JavaString(body.decode("utf-8", "replace") or "{}")
        self._params = {"header": _java_map(headers), "querystring": _java_map(query), "path": _java_map(path)}
        try:
            self._document = json.loads(body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than a parser goes
            self._document = None

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for group in ("path", "querystring", "header"):
            if name in self._params[group]:
                return self._params[group][name]
        return ""

    def path(self, expression: str) -> Any:
        return _java_value(_json_path(self._document, expression))

    def json(self, expression: str) -> str:
        return json.dumps(_json_path(self._document, expression))


class VtlUtil:
    @staticmethod
    def escapeJavaScript(text: Any) -> str:  # noqa: N802 - commons-lang StringEscapeUtils.escapeJavaScript
        out = []
        for char in str(text):
            code = ord(char)
            if char in "'\"\\/":
                out.append("\\" + char)
            elif char in "\b\n\t\f\r":
                out.append({"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}[char])
            elif code > 0xFFFF:  # Java escapes UTF-16 code units: a surrogate pair
                high, low = divmod(code - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04X}")
            elif code < 32 or code > 0x7F:
                out.append(f"\\u{code:04X}")
            else:
                out.append(char)
        return "".join(out)

    @staticmethod
    def base64Encode(text: Any) -> str:  # noqa: N802
        return base64.b64encode(str(text).encode("utf-8")).decode("ascii")

    @staticmethod
    def base64Decode(text: Any) -> str:  # noqa: N802
        return base64.b64decode(str(text)).decode("utf-8", "replace")

    @staticmethod
    def urlEncode(text: Any) -> str:  # noqa: N802 - java.net.URLEncoder.encode(text, "UTF-8")
        return urllib.parse.quote_plus(str(text), safe="*").replace("~", "%7E")

    @staticmethod
    def urlDecode(text: Any) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(str(text))

    @staticmethod
    def parseJson(text: Any) -> Any:  # noqa: N802
        return json.loads(str(text))


def render(template: str, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str] | None = None,
           path: Mapping[str, str] | None = None, request_id: str, request_time_ms: int, source_ip: str,
           stage_variables: Mapping[str, str] | None = None) -> str:
    """Render one API Gateway request template for one request."""
    namespace = {
        "input": VtlInput(body, headers, query or {}, path or {}),
        "util": VtlUtil(),
        "context": {"requestId": request_id, "requestTimeEpoch": request_time_ms,
                    "identity": {"sourceIp": source_ip}},
        "stageVariables": dict(stage_variables or {}),
    }
    return airspeed.Template(template).merge(namespace)
