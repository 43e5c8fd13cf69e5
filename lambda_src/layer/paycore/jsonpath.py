"""The JSON paths the providers declare (``$.a.b``, ``$.a[0].b``), read from a parsed body the way
API Gateway's ``$input.path`` reads them in the request template: a missing step gives None."""
from __future__ import annotations

import re
from typing import Any, Mapping

_INDEX = re.compile(r"\[(\d+)\]")


def resolve(document: Any, path: str) -> Any:
    """The value at ``path`` (``$``, ``$.a.b``, ``$.a[0].b``) in ``document``, or None."""
    if path == "$":
        return document
    if not path.startswith("$."):
        raise ValueError(f"unsupported JSON path {path!r}")
    node = document
    for part in _INDEX.sub(r".\1", path)[2:].split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
