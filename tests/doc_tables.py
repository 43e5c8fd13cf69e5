"""The docs' generated tables, from the code they describe: the settings reference (the pydantic
schema of constructs/app/settings/ and every environment's values in cdktf.json), the features an
environment switches off, and the resources each stack deploys (the reviewed synth snapshots,
which tests/test_synth.py keeps equal to the synthesized stacks). tests/test_readme.py fails when
a doc's block differs from what this module renders; rewrite the blocks with

    .venv/bin/python -m tests.doc_tables          # --check: exit 1 if a block is stale
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
import types
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_FILE = ROOT / "tests" / "__snapshots__" / "test_synth.ambr"
REGENERATE = ".venv/bin/python -m tests.doc_tables"

# ----- blocks in the docs ----------------------------------------------------------------------

BEGIN = "<!-- generated: {name} ({command}); do not edit -->"
END = "<!-- end generated: {name} -->"


def block_pattern(name: str) -> re.Pattern[str]:
    begin = re.escape(BEGIN.format(name=name, command=REGENERATE))
    return re.compile(rf"({begin}\n)(.*?)(^{re.escape(END.format(name=name))})", re.S | re.M)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with the block `name` holding `content`; a doc without the block is an error."""
    pattern = block_pattern(name)
    if not pattern.search(text):
        raise KeyError(f"no block {name!r}: add the lines {BEGIN.format(name=name, command=REGENERATE)!r} "
                       f"and {END.format(name=name)!r}")
    return pattern.sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(3), text, count=1)


def current_block(text: str, name: str) -> str | None:
    match = block_pattern(name).search(text)
    return match.group(2) if match else None


# ----- which environments the docs describe ---------------------------------------------------

def documented_environments() -> list[str]:
    """The environments of cdktf.json that the README's resource table already names (all of them
    when it names none): an environment a team adds is a cdktf.json change only, and the docs
    describe it once someone regenerates them. A documented environment that cdktf.json no longer
    has makes the blocks stale (the regenerated table leaves it out)."""
    from constructs.app.environments import environment_names

    configured = environment_names()
    block = current_block((ROOT / "README.md").read_text(encoding="utf-8"), "resource-counts") or ""
    named = re.findall(r"^\| `([^`]+)` \|", block, re.M)
    return [name for name in configured if name in named] or configured


# ----- resources per stack ---------------------------------------------------------------------

def snapshot_stacks(environments: list[str]) -> dict[str, dict]:
    """environment -> the stack JSON of its reviewed snapshot, in cdktf.json's order."""
    from syrupy.extensions.amber.serializer import AmberDataSerializer

    stored = {s.name: s.data for s in AmberDataSerializer.read_file(str(SNAPSHOT_FILE))}
    stacks = {}
    for environment in environments:
        data = (stored.get(f"test_stack_json_matches_snapshot[{environment}]") or "").strip()
        if isinstance(data, str) and data.startswith("'''"):
            stacks[environment] = json.loads(data[3:-3])
    return stacks


#: the resource types a reader looks for first, in this order (the total counts every type)
COUNTED_TYPES = {
    "Lambda functions": ("aws_lambda_function",),
    "SQS queues": ("aws_sqs_queue",),
    "DynamoDB tables": ("aws_dynamodb_table",),
    "KMS keys": ("aws_kms_key",),
    "CloudWatch alarms": ("aws_cloudwatch_metric_alarm",),
    "IAM roles": ("aws_iam_role",),
}


def resource_counts(stack: dict) -> dict[str, int]:
    """What `terraform apply` counts for a stack: its managed resources (no resource of this
    project uses count or for_each, so one block is one resource), and some types of them."""
    resources = stack.get("resource", {})
    blocks = [body for bodies in resources.values() for body in bodies.values()]
    assert not any("count" in body or "for_each" in body for body in blocks), "count/for_each: count instances"
    counts = {"resources": len(blocks), "data sources": sum(len(v) for v in stack.get("data", {}).values())}
    for label, types_ in COUNTED_TYPES.items():
        counts[label] = sum(len(resources.get(t, {})) for t in types_)
    return counts


def resource_table(environments: list[str]) -> str:
    stacks = snapshot_stacks(environments)
    counts = {environment: resource_counts(stack) for environment, stack in stacks.items()}
    columns = list(next(iter(counts.values())))
    lines = ["| stack | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| `{environment}` | " + " | ".join(str(c[k]) for k in columns) + " |"
              for environment, c in counts.items()]
    return "\n".join(lines) + "\n"


# ----- the settings reference -----------------------------------------------------------------

def _validator_texts() -> dict[Callable[..., Any], str]:
    """What the schema's named validators allow, in a reader's words (closures are read below)."""
    from constructs.app.settings import schema, sections
    from constructs.core import limits

    retention = ", ".join(map(str, limits.LOG_RETENTION_DAYS))
    return {
        sections._retention: f"a CloudWatch Logs retention: {retention}",
        sections._https_origin: "`*` or an `https://` origin",
        sections._ipv4_block: f"an IPv4 CIDR /{limits.VPC_PREFIX_LENGTH.low}../{limits.VPC_PREFIX_LENGTH.high}",
        sections.has_reason: "a reason (not blank)",
        sections.some_distinct: "at least one, none twice",
        sections._routes_completed: "empty (every change) or including `succeeded`",
        sections._at_time: "a UTC date and time `YYYY-MM-DDTHH:MM:SS`",
        schema._webhook_provider: "a webhook provider of `paycore.providers`",
        schema._every_function: "",  # fills in the functions cdktf.json leaves out
    }


def _closure(func: Callable[..., Any]) -> dict[str, Any]:
    names = func.__code__.co_freevars
    return {n: c.cell_contents for n, c in zip(names, func.__closure__ or (), strict=True)}


def _validator_text(func: Callable[..., Any]) -> str:
    known = _validator_texts()
    if func in known:
        return known[func]
    maker = func.__qualname__.split(".<locals>")[0]
    free = _closure(func)
    if maker in ("one_of", "known_key"):
        return "one of " + ", ".join(f"`{v}`" for v in free["values"])
    if maker == "matches":
        return free["what"]
    if maker == "forever_or":
        return f"-1 (forever) or {free['limit']}"
    raise LookupError(f"the docs do not know what validator {func.__module__}.{func.__qualname__} allows: "
                      "add it to tests/doc_tables.py (_validator_texts)")


def _constraints(metadata: list[Any]) -> list[str]:
    parts, low, high = [], None, None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"{item.ge:,}" if isinstance(item.ge, int) else f"{item.ge:g}"
        elif isinstance(item, annotated_types.Gt):
            low = f"> {item.gt}"
        elif isinstance(item, annotated_types.Le):
            high = f"{item.le:,}" if isinstance(item.le, int) else f"{item.le:g}"
        elif isinstance(item, annotated_types.MultipleOf):
            parts.append(f"a multiple of {item.multiple_of}")
        elif isinstance(item, annotated_types.MinLen):
            parts.append(f"at least {item.min_length}")
        elif getattr(item, "pattern", None):
            parts.append(f"`{item.pattern}`")
        elif hasattr(item, "func"):  # After/BeforeValidator
            text = _validator_text(item.func)
            if text:
                parts.append(text)
        elif isinstance(item, FieldInfo):
            parts += _constraints(item.metadata)
    if low is not None and high is not None:
        parts.insert(0, f"{low}..{high}")
    elif low is not None:
        parts.insert(0, low if low.startswith(">") else f">= {low}")
    elif high is not None:
        parts.insert(0, f"<= {high}")
    return parts


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(the type, the metadata of its Annotated layers)."""
    metadata: list[Any] = []
    while getattr(annotation, "__metadata__", None):
        metadata += list(annotation.__metadata__)
        annotation = get_args(annotation)[0]
    return annotation, metadata


def _allowed(annotation: Any, metadata: list[Any]) -> str:
    annotation, inner = _unwrap(annotation)
    parts = _constraints(metadata + inner)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        parts.insert(0, "one of " + ", ".join(f"`{a}`" for a in args))
    elif origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        text = _allowed(rest[0], []) if len(rest) == 1 else ""
        parts.append((text + " or " if text else "") + "`null`")
    elif origin is tuple:
        item = _allowed(args[0], [])
        parts.insert(0, "a list" + (f" of: {item}" if item else ""))
    elif origin is dict:
        key, value = _allowed(args[0], []), _allowed(args[1], [])
        parts.insert(0, "an object" + (f"; keys: {key}" if key else "") + (f"; values: {value}" if value else ""))
    elif annotation is bool:
        parts.insert(0, "`true`, `false`")
    return "; ".join(p for p in parts if p)


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """field -> the comment lines right above its declaration in the class body."""
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above: list[str] = []
            index = node.lineno - 2
            while index >= 0 and lines[index].strip().startswith("#"):
                above.insert(0, lines[index].strip().lstrip("#").strip())
                index -= 1
            if above:
                found[node.target.id] = " ".join(above)
    return found


def _show(value: Any) -> str:
    """A value as a cell: JSON spelling, lists comma-separated, models and maps summarized."""
    if isinstance(value, BaseModel):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.model_dump().items())
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, (tuple, list)):
        if not value:
            return "`[]`"
        if all(isinstance(v, BaseModel) for v in value):
            return "; ".join(_show(v) for v in value)
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return "`{}`" if not value else "{" + ", ".join(f"`{k}`" for k in value) + "}"
    return f"`{value!r}`"


def _vendors(value: dict[str, Any]) -> str:
    if not value:
        return "`{}`"
    return ", ".join(f"`{vendor}` ({len(body.get('endpoints') or ())} endpoint"
                     f"{'s' if len(body.get('endpoints') or ()) != 1 else ''})" for vendor, body in value.items())


SPECIAL_VALUES: dict[str, Callable[[Any], str]] = {
    "delivery.vendors": _vendors,
    "disabled_features": lambda v: "`{}`" if not v else f"{len(v)} features (see below)",
    "vendor_subscriptions": lambda v: "`[]`" if not v else ", ".join(f"`{s.vendor_id}` {s.protocol}" for s in v),
}


def _section_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("model" | "map" | "optional" | "list", the nested model) for a field holding sections."""
    annotation, _ = _unwrap(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and isinstance(rest[0], type) and issubclass(rest[0], BaseModel):
            return "optional", rest[0]
    if origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return "map", args[1]
    if origin is tuple and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    return None


REQUIRED = object()


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return REQUIRED if info.is_required() else info.default


def _cell(path: str, value: Any) -> str:
    if value is REQUIRED:
        return "required"
    return SPECIAL_VALUES[path](value) if path in SPECIAL_VALUES else _show(value)


def _map_cell(values: dict[str, Any], default: Any) -> str:
    """A map of sections (functions) in one cell: the entries that differ from the default."""
    different = {name: value for name, value in values.items() if value != default}
    if not different:
        return ""
    if len(different) == len(values) and len(set(map(repr, different.values()))) == 1:
        return f"all {_show(next(iter(different.values())))}"
    return ", ".join(f"{name} {_show(value)}" for name, value in different.items())


def _get(settings: Any, path: list[str]) -> Any:
    for part in path:
        settings = None if settings is None else getattr(settings, part)
    return settings


def _rows(model: type[BaseModel], prefix: list[str], envs: dict[str, Any],
          sections: list[tuple[type[BaseModel], list[str]]]) -> Iterator[list[str]]:
    """The cells of each setting of `model` (a map of sections, `functions`, as one row per field
    of its section); a nested section is appended to `sections` for a table of its own."""
    comments = _comments(model)
    for name, info in model.model_fields.items():
        if not prefix and name == "environment":
            continue
        path = [*prefix, name]
        nested = _section_of(info.annotation)
        if nested and nested[0] in ("model", "optional"):
            sections.append((nested[1], path))
            continue
        key = ".".join(path)
        if nested and nested[0] == "map":
            section = nested[1]
            for field, field_info in section.model_fields.items():
                default = _default(field_info)
                cells = [_map_cell({n: getattr(s, field) for n, s in _get(e, path).items()}, default)
                         for e in envs.values()]
                yield [f"`{key}.<name>.{field}`", _show(default), *cells,
                       _allowed(field_info.annotation, field_info.metadata),
                       _comments(section).get(field, field_info.description or "")]
            continue
        default = _default(info)
        cells = []
        for settings in envs.values():
            if _get(settings, prefix) is None:  # an optional section this environment leaves out
                cells.append("")
            else:
                value = _get(settings, path)
                cells.append("" if value == default else _cell(key, value))
        allowed = _allowed(info.annotation, info.metadata)
        if nested and nested[0] == "list":
            fields = ", ".join(f"`{f}` ({_allowed(i.annotation, i.metadata) or 'text'})"
                               for f, i in nested[1].model_fields.items())
            allowed = f"a list of {{{fields}}}"
        yield [f"`{key}`", _cell(key, default), *cells, allowed, comments.get(name) or info.description or ""]


def _docstring(model: type[BaseModel]) -> str:
    return " ".join(line.strip() for line in (inspect.getdoc(model) or "").splitlines() if line.strip())


def settings_reference(environments: list[str]) -> str:
    """One table per section of the schema: key, schema default, each environment's value where
    it differs, what is allowed, and the schema's own comment."""
    from constructs.app.environments import load_settings
    from constructs.app.settings import Settings

    envs = {name: load_settings(name, environ={}) for name in environments}
    header = ["key", "default", *(f"`{name}`" for name in envs), "allowed", "notes"]
    out: list[str] = []
    sections: list[tuple[type[BaseModel], list[str]]] = [(Settings, [])]
    while sections:
        model, path = sections.pop(0)
        rows = list(_rows(model, path, envs, sections))
        if not path:
            out += ["#### top level", "One environment; cdktf.json holds only what differs from the defaults."]
        else:
            doc = _docstring(model)
            if (_section_of(Settings.model_fields[path[0]].annotation) or ("",))[0] == "optional":
                used = ", ".join(f"`{n}`" for n, e in envs.items() if _get(e, path) is not None)
                doc += f" Absent (`null`) unless set; set in {used or 'no environment'}."
            out += [f"#### `{'.'.join(path)}`", doc]
        out += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |" for cells in rows]
        out.append("")
    return "\n".join(out)


def _value_text(node: ast.FormattedValue, source: str, namespace: dict[str, Any],
                names: Mapping[str, ast.expr]) -> str:
    """An interpolated value: a module constant's value, a local f-string inlined, else ‹name›."""
    value = node.value
    if isinstance(value, ast.Name) and value.id in names:
        return _message(names[value.id], source, namespace, names)
    if all(isinstance(n, (ast.Name, ast.Attribute, ast.Load)) for n in ast.walk(value)):
        try:
            constant = eval(compile(ast.Expression(value), "<rule>", "eval"), dict(namespace))  # noqa: S307
        except (NameError, AttributeError):
            constant = None
        if isinstance(constant, (str, int, float)):
            return repr(constant) if node.conversion == ord("r") else str(constant)
    segment = ast.get_source_segment(source, value) or "value"
    return f"‹{segment.split('.')[-1]}›"


def _message(node: ast.expr, source: str, namespace: dict[str, Any], names: Mapping[str, ast.expr]) -> str:
    """A rule's path or message as the user reads it."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant)
                       else _value_text(v, source, namespace, names) for v in node.values
                       if isinstance(v, (ast.Constant, ast.FormattedValue)))
    raise ValueError("not a literal")


def rules_between_fields(environments: list[str]) -> str:
    """Each rule of `Settings._rules` whose key and message are written out (its `fail(path,
    message)` calls), in source order."""
    from constructs.app.settings import schema

    source = inspect.getsource(schema)
    lines = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef):
            continue
        names = {t.id: n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.JoinedStr)}
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "fail" and len(node.args) == 2:
                try:
                    path = _message(node.args[0], source, vars(schema), names)
                    message = _message(node.args[1], source, vars(schema), names)
                except ValueError:
                    continue  # a computed key or message (paycore's own checks, below)
                message = re.sub(r",? got ‹[^›]*›$", "", message)
                if not re.sub(r"‹[^›]*›|[ ()]", "", message):
                    continue  # a message that is all computed (the runtime's wording)
                lines.append((node.lineno, f"- `{path}`: {message}".replace("|", "\\|")))
    return "\n".join(line for _, line in sorted(lines)) + "\n"


def disabled_features(environments: list[str]) -> str:
    from constructs.app.environments import load_settings

    reasons: dict[str, dict[str, str]] = {}
    for name in environments:
        for feature, reason in load_settings(name, environ={}).disabled_features.items():
            reasons.setdefault(feature, {})[name] = reason
    lines = ["| feature | off in | why |", "|---|---|---|"]
    for feature, by_env in reasons.items():
        texts = Counter(by_env.values())
        why = "; ".join(f"{text}" for text in texts)
        lines.append(f"| `{feature}` | {', '.join(f'`{e}`' for e in by_env)} | {why} |")
    return "\n".join(lines) + "\n"


# ----- all blocks ----------------------------------------------------------------------------

BLOCKS: dict[tuple[str, str], Callable[[list[str]], str]] = {
    ("README.md", "resource-counts"): resource_table,
    ("constructs/README.md", "settings"): settings_reference,
    ("constructs/README.md", "settings-rules"): rules_between_fields,
    ("constructs/README.md", "disabled-features"): disabled_features,
}


def rendered(environments: list[str] | None = None) -> dict[Path, str]:
    """Each doc with its blocks as the code renders them now, for `environments` (default: every
    environment of cdktf.json)."""
    from constructs.app.environments import environment_names

    environments = environment_names() if environments is None else environments
    docs: dict[Path, str] = {}
    for (doc, name), render in BLOCKS.items():
        path = ROOT / doc
        docs[path] = replace_block(docs.get(path, path.read_text(encoding="utf-8")), name, render(environments))
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.doc_tables", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    args = parser.parse_args(argv)
    from main import prepare_runtime

    prepare_runtime(lazy=False)  # jsii on the project's Node.js (the settings import the constructs library)
    stale = []
    for path, text in rendered(documented_environments() if args.check else None).items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    print(f"{verb}: {', '.join(stale)}" if stale else "every generated block is current")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
