"""A settings mistake as the person who made it reads it: one line per problem,
`key.path: rule, got value`, with the nearest known key or value for a typo."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

#: The error type of the schema's rules between fields (ctx "problems": (path, message) pairs).
RULES = "settings_rules"
_TYPES = {
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false", "string_type": "must be a string",
    "dict_type": "must be an object", "model_type": "must be an object", "model_attributes_type": "must be an object",
    "tuple_type": "must be a list", "list_type": "must be a list", "json_invalid": "is not JSON",
}


class SettingsError(ValueError):
    """Every problem found, one per line: `env: key.path: rule, got value`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean X?` for the nearest candidate (or the one it abbreviates), or nothing."""
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    longer = [candidate for candidate in candidates if candidate.startswith(word)]
    nearest = close[0] if close else longer[0] if len(longer) == 1 else None
    return f"; did you mean {nearest}?" if nearest else ""


def shown(value: Any) -> str:
    """A value as the user wrote it in cdktf.json."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(list(value) if isinstance(value, tuple) else value)


def describe(error: ValidationError, root: type[BaseModel]) -> list[str]:
    """One `key.path: rule, got value` line per problem of a ValidationError of `root`."""
    lines: list[str] = []
    for item in error.errors():
        loc, kind, ctx = tuple(item["loc"]), item["type"], item.get("ctx") or {}
        path, value = _path(loc), item.get("input")
        if kind == RULES:
            lines += [f"{where}: {message}" for where, message in ctx["problems"]]
        elif kind == "extra_forbidden":
            lines.append(f"{path}: unknown setting" + (suggestion(str(loc[-1]), _keys_at(root, loc[:-1]))
                                                        or f" (the keys: {_folder(root)})"))
        elif kind == "missing":
            lines.append(f"{path}: is required")
        elif kind == "value_error" and loc[-1:] == ("[key]",):  # a map's key: the message says it all
            lines.append(f"{path}: {item['msg'].removeprefix('Value error, ')}")
        else:
            rule, _, hint = _rule(root, loc, kind, ctx, item["msg"], value).partition("; did you mean ")
            lines.append(f"{path}: {rule}, got {shown(value)}" + (f"; did you mean {hint}" if hint else ""))
    return lines


def _rule(root: type[BaseModel], loc: tuple[Any, ...], kind: str, ctx: Mapping[str, Any], message: str,
          value: Any) -> str:
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high, why = _bounds(root, loc)
        if low is not None and high is not None and low != high:
            text = f"must be {low}..{high}"
        elif "ge" in ctx or "gt" in ctx:
            text = f"must be >= {ctx.get('ge', ctx.get('gt'))}"
        else:
            text = f"must be <= {ctx.get('le', ctx.get('lt'))}"
        return f"{text} ({why})" if why else text
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(allowed)}" + (suggestion(value, allowed) if isinstance(value, str) else "")
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "multiple_of":
        return f"must be a multiple of {ctx.get('multiple_of')}"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return _TYPES.get(kind, message[:1].lower() + message[1:])


def _folder(root: type[BaseModel]) -> str:
    return root.__module__.rpartition(".")[0].replace(".", "/") + "/"


def _path(loc: tuple[Any, ...]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc if part != "[key]")
    return text.lstrip(".") or "(environment)"


def _walk(root: type[BaseModel], loc: Iterable[Any]) -> tuple[Any, list[Any]]:
    """The annotation at `loc` below `root` and the constraints met on the way to it."""
    current: Any = root
    found: list[Any] = []
    for part in loc:
        current, found = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            info = current.model_fields.get(part)
            if info is None:
                return None, []
            current, found = info.annotation, list(info.metadata)
        elif get_origin(current) is dict:
            current = get_args(current)[0 if part == "[key]" else 1]
        elif get_origin(current) is tuple:
            current = get_args(current)[0]
        else:
            return None, []
    current, metadata = _unwrap(current)
    return current, found + metadata


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Annotated and Optional; return the inner type and the constraints they carried."""
    metadata: list[Any] = []
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            for item in extra:
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
        elif get_origin(annotation) in (Union, type(int | None)) and type(None) in get_args(annotation):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        else:
            return annotation, metadata


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model, _ = _walk(root, loc)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _keys_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model = _model_at(root, loc)
    return [key for key in model.model_fields if key != "environment"] if model is not None else []


def _bounds(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, Any, str | None]:
    """A numeric field's lower and upper bound and the reason its description gives."""
    _, found = _walk(root, loc)
    low = next((m.ge for m in found if hasattr(m, "ge")), None)
    high = next((m.le for m in found if hasattr(m, "le")), None)
    model = _model_at(root, loc[:-1]) if loc and isinstance(loc[-1], str) else None
    info = model.model_fields.get(loc[-1]) if model is not None else None
    return low, high, info.description if info is not None else None
