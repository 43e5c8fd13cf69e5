"""A pull-request comment from Terraform plans: per stack, the resources to add / change / destroy
(counted as Terraform's own "Plan:" line counts them), the replaced resources in bold with the
attribute that forces the replacement, and the other changes folded away.

    terraform plan -out=plan.tfplan && terraform show -json plan.tfplan > plan.json
    .venv/bin/python -m scripts.ops.plan_summary dev=cdktf.out/stacks/dev/plan.json prod=... > comment.md

A stack whose plan file is missing or empty (its plan failed) is reported as failed, so the comment
never claims "no changes" for a plan that did not run. Standard library only: it also runs on a CI
runner before any set-up.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "<!-- cdktf-plan-summary -->"
REPLACE = ("delete", "create")


@dataclass
class StackPlan:
    name: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    replaced: list[tuple[str, list[str]]] = field(default_factory=list)  # (address, forcing attributes)
    outputs_changed: list[str] = field(default_factory=list)
    failed: str = ""

    @property
    def to_add(self) -> int:
        return len(self.created) + len(self.replaced)

    @property
    def to_change(self) -> int:
        return len(self.updated)

    @property
    def to_destroy(self) -> int:
        return len(self.deleted) + len(self.replaced)

    @property
    def has_changes(self) -> bool:
        return bool(self.to_add or self.to_change or self.to_destroy)


def _path_text(path: list) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def summarize(name: str, plan: dict) -> StackPlan:
    """Classify the resource changes of one `terraform show -json` plan."""
    stack = StackPlan(name)
    for change in plan.get("resource_changes", []):
        if change.get("mode", "managed") != "managed":
            continue
        actions = change["change"]["actions"]
        address = change["address"]
        if sorted(actions) == sorted(REPLACE):
            forcing = [_path_text(p) for p in change["change"].get("replace_paths", []) or []]
            stack.replaced.append((address, forcing))
        elif actions == ["create"]:
            stack.created.append(address)
        elif actions == ["update"]:
            stack.updated.append(address)
        elif actions == ["delete"]:
            stack.deleted.append(address)
    stack.outputs_changed = sorted(
        key for key, change in (plan.get("output_changes") or {}).items()
        if change.get("actions") not in (["no-op"], None)
    )
    return stack


def load(name: str, path: Path) -> StackPlan:
    try:
        text = path.read_text()
    except OSError:
        return StackPlan(name, failed=f"no plan at {path} (the plan step failed: see the job log)")
    if not text.strip():
        return StackPlan(name, failed="the plan is empty (the plan step failed: see the job log)")
    try:
        return summarize(name, json.loads(text))
    except (ValueError, KeyError) as error:
        return StackPlan(name, failed=f"unreadable plan JSON in {path}: {error}")


def _bullets(addresses: list[str], limit: int) -> list[str]:
    lines = [f"- `{a}`" for a in addresses[:limit]]
    if len(addresses) > limit:
        lines.append(f"- ... and {len(addresses) - limit} more")
    return lines


def render_stack(stack: StackPlan, limit: int = 50) -> str:
    lines = [f"### `{stack.name}`"]
    if stack.failed:
        return "\n".join(lines + ["", f":x: **plan failed**: {stack.failed}"])
    if not stack.has_changes:
        tail = f" (outputs changed: {', '.join(stack.outputs_changed)})" if stack.outputs_changed else ""
        return "\n".join(lines + ["", f"No changes.{tail}"])
    lines += ["", f"**{stack.to_add} to add, {stack.to_change} to change, {stack.to_destroy} to destroy**"
                  + (f" ({len(stack.replaced)} replaced)" if stack.replaced else "")]
    if stack.replaced:
        lines += ["", "Replaced (destroyed and created again):"]
        for address, forcing in stack.replaced[:limit]:
            reason = f" (forced by {', '.join(f'`{f}`' for f in forcing)})" if forcing else ""
            lines.append(f"- **`{address}`**{reason}")
        if len(stack.replaced) > limit:
            lines.append(f"- ... and {len(stack.replaced) - limit} more")
    for title, addresses in (("created", stack.created), ("updated in place", stack.updated),
                             ("destroyed", stack.deleted)):
        if addresses:
            lines += ["", f"<details><summary>{len(addresses)} {title}</summary>", "",
                      *_bullets(addresses, limit), "", "</details>"]
    if stack.outputs_changed:
        lines += ["", f"Outputs changed: {', '.join(f'`{o}`' for o in stack.outputs_changed)}"]
    return "\n".join(lines)


def render(stacks: list[StackPlan], title: str = "cdktf plan", footer: str = "") -> str:
    parts = [MARKER, f"## {title}", ""]
    table = ["| stack | add | change | destroy | replaced |", "|---|---:|---:|---:|---:|"]
    for s in stacks:
        if s.failed:
            table.append(f"| `{s.name}` | - | - | - | plan failed |")
        else:
            table.append(f"| `{s.name}` | {s.to_add} | {s.to_change} | {s.to_destroy} | {len(s.replaced)} |")
    parts += table + [""]
    parts += [render_stack(s) + "\n" for s in stacks]
    if footer:
        parts.append(footer)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ops.plan_summary",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plans", nargs="+", metavar="STACK=PLAN_JSON", help="a stack name and its plan JSON")
    parser.add_argument("--title", default="cdktf plan")
    parser.add_argument("--footer", default="", help="a last line (e.g. the commit and a link to the run)")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    options = parser.parse_args(argv)
    stacks = []
    for item in options.plans:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"expected STACK=PLAN_JSON, got {item!r}")
        stacks.append(load(name, Path(path)))
    text = render(stacks, options.title, options.footer)
    if options.output:
        options.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 1 if any(s.failed for s in stacks) else 0


if __name__ == "__main__":
    sys.exit(main())
