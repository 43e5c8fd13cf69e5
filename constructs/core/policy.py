"""IAM policy documents from plain statement dicts (never string literals), shared by the
constructs: `document(scope, id_, statements)` returns a DataAwsIamPolicyDocument, whose `.json`
is what a role, queue or bucket policy takes.

A statement is `{"sid": ..., "effect": "Allow"|"Deny", "actions": [...], "resources": [...],
"principals": {"Service": [...]} | {"AWS": [...]} | {"*": ["*"]}, "conditions": [(test, variable,
[values]), ...]}`; only `actions` and `resources` are required.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from constructs import Construct

Statement = Mapping[str, Any]


def statement(statement_: Statement) -> DataAwsIamPolicyDocumentStatement:
    principals = [
        DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=list(identifiers))
        for kind, identifiers in sorted(statement_.get("principals", {}).items())
    ]
    conditions = [
        DataAwsIamPolicyDocumentStatementCondition(test=test, variable=variable, values=list(values))
        for test, variable, values in statement_.get("conditions", ())
    ]
    return DataAwsIamPolicyDocumentStatement(
        sid=statement_.get("sid"),
        effect=statement_.get("effect", "Allow"),
        actions=list(statement_["actions"]),
        resources=list(statement_["resources"]),
        principals=principals or None,
        condition=conditions or None,
    )


def document(scope: Construct, id_: str, statements: Sequence[Statement]) -> DataAwsIamPolicyDocument:
    return DataAwsIamPolicyDocument(scope, id_, statement=[statement(s) for s in statements])


def deny_insecure_transport(resources: Sequence[str], actions: Sequence[str]) -> Statement:
    """The TLS-only statement every bucket and queue policy starts with."""
    return {
        "sid": "DenyInsecureTransport",
        "effect": "Deny",
        "principals": {"*": ["*"]},
        "actions": list(actions),
        "resources": list(resources),
        "conditions": [("Bool", "aws:SecureTransport", ["false"])],
    }


def wildcard_problems(statements: Sequence[Statement], allowed_star_actions: Sequence[str] = ()) -> list[str]:
    """Least-privilege check for Allow statements of role policies: no '*' or 'service:*' action,
    no '*' resource except for actions AWS cannot scope (listed in `allowed_star_actions`)."""
    problems = []
    for s in statements:
        if s.get("effect", "Allow") != "Allow":
            continue
        name = s.get("sid") or ",".join(s["actions"])
        for action in s["actions"]:
            if action == "*" or action.endswith(":*"):
                problems.append(f"statement {name}: action {action!r} is a wildcard; list the actions needed")
        if "*" in s["resources"] and any(a not in allowed_star_actions for a in s["actions"]):
            problems.append(
                f"statement {name}: resource '*' for {sorted(set(s['actions']) - set(allowed_star_actions))}; "
                "scope it to ARNs"
            )
    return problems
