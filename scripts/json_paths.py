"""JSON paths in the dot notation (`$.a.b.0.c`, an array index also as `a[0]`) that API Gateway's
`$input.path` and EventBridge Pipes' input templates evaluate here: the local runner renders the
deployed templates with it, and the quarantine replay finds a provider's payment object id (its
group-id path) as API Gateway does."""

from __future__ import annotations

import re
from typing import Any, Mapping

_PATH_PART = re.compile(r"^[A-Za-z0-9_\-/]+$")
_INDEX = re.compile(r"\[(\d+)\]")


class UnsupportedPath(ValueError):
    """A path in a syntax this project does not use (only `$`, `$.a.b` and `$.a[0].b`)."""


def resolve_path(document: Any, path: str) -> Any:
    """The value at `path` in `document`; None when it is missing."""
    path = _INDEX.sub(r".\1", path)  # `a[0]`, as API Gateway's JSONPath reads it: `a.0`
    if path == "$":
        return document
    if not path.startswith("$."):
        raise UnsupportedPath(f"unsupported JSON path {path!r}: expected '$.a.b'")
    node = document
    for part in path[2:].split("."):
        if not _PATH_PART.match(part):
            raise UnsupportedPath(f"unsupported JSON path segment {part!r} in {path!r}")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
