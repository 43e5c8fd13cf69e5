"""Read IAM role permissions back out of a synthesized stack: role name -> the actions its inline
policies allow (from the policy documents, literal or DataAwsIamPolicyDocument) and the managed
policies attached to it."""

from __future__ import annotations

import json
import re
from collections import defaultdict

_REF = re.compile(r"^\$\{(data\.)?([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$")


def _ref(value: str) -> tuple[str, str] | None:
    """("aws_iam_role", "logical id") of a "${aws_iam_role.x.id}" style reference."""
    match = _REF.match(value) if isinstance(value, str) else None
    return (match.group(2), match.group(3)) if match else None


def _statement_actions(document: dict) -> list[str]:
    actions: list[str] = []
    for s in document.get("Statement", document.get("statement", [])):
        if s.get("Effect", s.get("effect", "Allow")) != "Allow":
            continue
        found = s.get("Action", s.get("actions", []))
        actions.extend([found] if isinstance(found, str) else found)
    return actions


def role_permissions(stack: dict) -> dict[str, dict[str, set[str]]]:
    """role name -> {"actions": {...}, "managed": {policy ARNs}} for every aws_iam_role."""
    resources = stack.get("resource", {})
    documents = stack.get("data", {}).get("aws_iam_policy_document", {})
    roles = {logical: role["name"] for logical, role in resources.get("aws_iam_role", {}).items()}
    by_name = {name: logical for logical, name in roles.items()}
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"actions": set(), "managed": set()})
    for name in roles.values():
        found[name]  # every role appears, even one without policies

    def role_of(value: str) -> str:
        ref = _ref(value)
        if ref and ref[0] == "aws_iam_role":
            return roles[ref[1]]
        assert value in by_name, f"role {value!r} is neither a reference nor a role of this stack"
        return value

    for policy in resources.get("aws_iam_role_policy", {}).values():
        ref = _ref(policy["policy"])
        document = documents[ref[1]] if ref and ref[0] == "aws_iam_policy_document" else json.loads(policy["policy"])
        found[role_of(policy["role"])]["actions"].update(_statement_actions(document))
    for attachment in resources.get("aws_iam_role_policy_attachment", {}).values():
        found[role_of(attachment["role"])]["managed"].add(attachment["policy_arn"])
    return {name: dict(value) for name, value in found.items()}
