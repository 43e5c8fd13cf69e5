"""Who may call what, read from a synthesized stack: every hop between the platform's parts (event
source mappings, pipes, rule targets, the bus's DLQ, subscriptions, API integrations, async
destinations, alarm actions, access logging, encrypted log groups and tables, and what each role's
own policy lets it touch), and a small evaluator of the stack's IAM, resource and KMS key policies.

The emulator checks none of these policies, so this module is what checks them: `hops(stack)`
derives the hops, `problems(stack, hop)` says what would be refused on AWS. References between
resources ("${aws_sqs_queue.x.arn}") are resolved to the ARNs AWS gives such resources, for one fake
account and region. What AWS puts into the KMS request context for each service principal is the
`KMS_CONTEXT` table below, each row with the page that documents it.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"

#: (service principal, the key's data class) -> the condition keys that service sends to KMS when it
#: uses a customer managed key on the platform's behalf. Source: the service's own documentation.
KMS_CONTEXT: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("events.amazonaws.com", "sqs"): (("aws:SourceAccount", "aws:SourceArn"),
                                      "SQS Developer Guide, Configure AWS KMS permissions with confused deputy protection "
                                      "(CloudWatch Events supports the source keys for SSE queues)"),
    ("sns.amazonaws.com", "sqs"): (("aws:SourceAccount", "aws:SourceArn"),
                                   "SQS Developer Guide, Configure AWS KMS permissions with confused deputy protection"),
    ("events.amazonaws.com", "sns"): ((), "SNS Developer Guide, Enable compatibility between event sources from AWS "
                                          "services and encrypted topics (source keys not supported for EventBridge)"),
    ("cloudwatch.amazonaws.com", "sns"): (("aws:SourceAccount", "aws:SourceArn"),
                                          "SNS Developer Guide, Enable compatibility between event sources from AWS "
                                          "services and encrypted topics (step 3)"),
    ("events.amazonaws.com", "events"): (("aws:SourceAccount", "aws:SourceArn",
                                          "kms:EncryptionContext:aws:events:event-bus:arn"),
                                         "EventBridge User Guide, Authorizing EventBridge to use a customer managed key"),
    (f"logs.{REGION}.amazonaws.com", "logs"): (("kms:EncryptionContext:aws:logs:arn",),
                                               "CloudWatch Logs User Guide, Encrypt log data using AWS KMS"),
    ("logging.s3.amazonaws.com", "s3"): (("aws:SourceAccount", "aws:SourceArn"),
                                         "S3 User Guide, Enabling Amazon S3 server access logging"),
    ("dynamodb.amazonaws.com", "dynamodb"): ((), "AWS KMS Developer Guide, How Amazon DynamoDB uses AWS KMS"),
}

#: service principal -> what it puts in the STS request context when it assumes one of the
#: platform's roles (the condition keys a trust policy can test), and the page that says so. A
#: positive condition (StringEquals, ArnLike) on a key the service does not send refuses the
#: service: IAM evaluates it false. Services not listed: aws:SourceAccount (lambda, pipes; the
#: stack's trust policies for them condition on it).
ASSUME_ROLE_CONTEXT: dict[str, tuple[dict[str, str], str]] = {
    "apigateway.amazonaws.com": ({}, "an AWS integration's credentials role: API Gateway sends neither aws:SourceAccount "
                                     "nor aws:SourceArn (aws-solutions-library-samples/accelerated-intelligent-document-"
                                     "processing-on-aws pull request 479: with an aws:SourceAccount condition, "
                                     "test-invoke-method on a live stack answered 'API Gateway does not have permission "
                                     "to assume the provided role', every request 500)"),
}

#: role action -> (KMS actions on the resource's key, the service that calls KMS for the role)
KMS_FOR_ACTION: dict[str, tuple[tuple[str, ...], str]] = {
    "sqs:SendMessage": (("kms:GenerateDataKey", "kms:Decrypt"), "sqs"),
    "sqs:ReceiveMessage": (("kms:Decrypt",), "sqs"),
    "sns:Publish": (("kms:GenerateDataKey", "kms:Decrypt"), "sns"),
    "s3:PutObject": (("kms:GenerateDataKey",), "s3"),
    "s3:GetObject": (("kms:Decrypt",), "s3"),
    "dynamodb:PutItem": (("kms:GenerateDataKey", "kms:Decrypt"), "dynamodb"),
    "dynamodb:UpdateItem": (("kms:GenerateDataKey", "kms:Decrypt"), "dynamodb"),
    "dynamodb:DeleteItem": (("kms:Decrypt",), "dynamodb"),
    "dynamodb:GetItem": (("kms:Decrypt",), "dynamodb"),
    "dynamodb:BatchGetItem": (("kms:Decrypt",), "dynamodb"),
    "dynamodb:Query": (("kms:Decrypt",), "dynamodb"),
    "dynamodb:GetRecords": (("kms:Decrypt",), "dynamodb"),
    "secretsmanager:GetSecretValue": (("kms:Decrypt",), "secretsmanager"),
    "events:PutEvents": (("kms:GenerateDataKey",), "events"),
}

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_REFERENCE = re.compile(r"^(data\.)?([a-z0-9_]+)\.([^.]+)\.([a-z_]+)$")
_ELEMENT_OF_SPLIT = re.compile(r'^element\(split\("(.)", (.+)\), (\d+)\)$')
_HCL_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\],=:])|([A-Za-z_][\w.\-]*))')


@dataclass(frozen=True)
class Hop:
    """One call between two parts: `principal` (a role ARN, or a service principal such as
    events.amazonaws.com) does `actions` on `resource`; `context` is what AWS puts in the request
    context (aws:SourceArn ...); `resource_policy` says the resource's own policy must admit it
    (a service principal, or another account); the resource's KMS key must let the principal use
    it (`key_actions`). `page`: the AWS documentation the hop follows."""

    name: str
    principal: str
    actions: tuple[str, ...]
    resource: str
    page: str
    context: tuple[tuple[str, str], ...] = ()
    resource_policy: bool = False
    key_actions: tuple[str, ...] = ()
    trusted_by: str | None = None  # the service that must be able to assume the role


@dataclass
class Statement:
    effect: str
    actions: list[str]
    resources: list[str]
    principals: dict[str, list[str]] | None  # None: an identity policy (the role itself)
    conditions: list[tuple[str, str, list[str]]] = field(default_factory=list)
    sid: str = ""


def hcl_object_to_json(text: str) -> Any:
    """The value of a `${jsonencode({...})}` expression as cdktf writes it: quoted keys, `=`, and
    bare references (`aws_iam_role.x.arn`), which become "${...}" strings (JSON passes unchanged)."""
    out, position = [], 0
    while position < len(text.rstrip()):
        match = _HCL_TOKEN.match(text, position)
        assert match, f"unexpected HCL at {text[position:position + 40]!r}"
        string, punctuation, bare = match.groups()
        out.append(string if string else ":" if punctuation == "=" else punctuation if punctuation else json.dumps("${" + bare + "}"))
        position = match.end()
    return json.loads("".join(out))


class Stack:
    """A synthesized stack (the parsed cdk.tf.json) with its references resolved."""

    def __init__(self, synthesized: dict):
        self.raw = synthesized
        self.resources: dict[str, dict[str, dict]] = synthesized.get("resource", {})
        self.documents: dict[str, dict] = synthesized.get("data", {}).get("aws_iam_policy_document", {})

    # ----- references -------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        return _INTERPOLATION.sub(lambda m: str(self._expression(m.group(1))), value)

    def _expression(self, expression: str) -> str:
        split = _ELEMENT_OF_SPLIT.match(expression)
        if split:
            separator, inner, index = split.groups()
            return self._expression(inner).split(separator)[int(index)]
        match = _REFERENCE.match(expression)
        assert match, f"unresolvable expression {expression!r}"
        data, kind, name, attribute = match.groups()
        if data:
            return {"aws_partition": PARTITION, "aws_region": REGION, "aws_caller_identity": ACCOUNT}[kind]
        return self.attribute(kind, name, attribute)

    def attribute(self, kind: str, name: str, attribute: str) -> str:
        r = self.resources[kind][name]
        p, g, a = PARTITION, REGION, ACCOUNT
        value = lambda key: self.resolve(r[key])  # noqa: E731
        computed = {
            ("aws_sqs_queue", "arn"): lambda: f"arn:{p}:sqs:{g}:{a}:{value('name')}",
            ("aws_sqs_queue", "url"): lambda: f"https://sqs.{g}.amazonaws.com/{a}/{value('name')}",
            ("aws_sns_topic", "arn"): lambda: f"arn:{p}:sns:{g}:{a}:{value('name')}",
            ("aws_lambda_function", "arn"): lambda: f"arn:{p}:lambda:{g}:{a}:function:{value('function_name')}",
            ("aws_lambda_function", "invoke_arn"): lambda: (
                f"arn:{p}:apigateway:{g}:lambda:path/2015-03-31/functions/{self.attribute(kind, name, 'arn')}/invocations"),
            ("aws_lambda_alias", "arn"): lambda: f"arn:{p}:lambda:{g}:{a}:function:{value('function_name')}:{value('name')}",
            ("aws_kms_key", "arn"): lambda: f"arn:{p}:kms:{g}:{a}:key/{name}",
            ("aws_kms_key", "key_id"): lambda: name,
            ("aws_dynamodb_table", "arn"): lambda: f"arn:{p}:dynamodb:{g}:{a}:table/{value('name')}",
            ("aws_dynamodb_table", "stream_arn"): lambda: (
                f"arn:{p}:dynamodb:{g}:{a}:table/{value('name')}/stream/2026-01-01T00:00:00.000"),
            ("aws_s3_bucket", "arn"): lambda: f"arn:{p}:s3:::{value('bucket')}",
            ("aws_s3_bucket", "id"): lambda: value("bucket"),
            ("aws_cloudwatch_event_bus", "arn"): lambda: f"arn:{p}:events:{g}:{a}:event-bus/{value('name')}",
            ("aws_cloudwatch_event_rule", "arn"): lambda: (
                f"arn:{p}:events:{g}:{a}:rule/{value('event_bus_name')}/{value('name')}"),
            ("aws_iam_role", "arn"): lambda: f"arn:{p}:iam::{a}:role/{value('name')}",
            ("aws_iam_role", "id"): lambda: value("name"),
            ("aws_secretsmanager_secret", "arn"): lambda: f"arn:{p}:secretsmanager:{g}:{a}:secret:{value('name')}-AbCdEf",
            ("aws_ssm_parameter", "arn"): lambda: f"arn:{p}:ssm:{g}:{a}:parameter{value('name')}",
            ("aws_api_gateway_rest_api", "id"): lambda: name,
            ("aws_api_gateway_rest_api", "root_resource_id"): lambda: f"{name}-root",
            ("aws_api_gateway_rest_api", "execution_arn"): lambda: f"arn:{p}:execute-api:{g}:{a}:{name}",
            ("aws_api_gateway_resource", "id"): lambda: name,
            ("aws_api_gateway_authorizer", "id"): lambda: name,
            ("aws_cloudwatch_log_group", "arn"): lambda: f"arn:{p}:logs:{g}:{a}:log-group:{value('name')}",
            ("aws_cloudwatch_metric_alarm", "arn"): lambda: f"arn:{p}:cloudwatch:{g}:{a}:alarm:{value('alarm_name')}",
        }
        if (kind, attribute) in computed:
            return computed[(kind, attribute)]()
        assert attribute in r, f"{kind}.{name}.{attribute}: teach hops.Stack.attribute this attribute"
        return value(attribute)

    def find(self, kind: str, attribute: str, value: str) -> tuple[str, dict]:
        """(logical id, resource) of the resource of `kind` whose `attribute` resolves to `value`."""
        found = [(name, r) for name, r in self.resources.get(kind, {}).items()
                 if self.attribute(kind, name, attribute) == value]
        assert len(found) == 1, f"{len(found)} {kind} with {attribute} {value}"
        return found[0]

    def kind_of(self, arn: str) -> tuple[str, str, dict] | None:
        """(type, logical id, resource) of the stack's resource with this ARN, if it has one."""
        for kind in ("aws_sqs_queue", "aws_sns_topic", "aws_lambda_function", "aws_dynamodb_table", "aws_s3_bucket",
                     "aws_cloudwatch_event_bus", "aws_secretsmanager_secret", "aws_iam_role", "aws_lambda_alias"):
            for name in self.resources.get(kind, {}):
                if self.attribute(kind, name, "arn") == arn:
                    return kind, name, self.resources[kind][name]
        return None

    # ----- policies ---------------------------------------------------------------------------
    def policy(self, text: str) -> list[Statement]:
        """The statements of a policy attribute: a policy document data source, a jsonencode
        expression or literal JSON."""
        whole = _INTERPOLATION.fullmatch(text)
        if whole and whole.group(1).startswith("data.aws_iam_policy_document."):
            document = self.documents[whole.group(1).split(".")[2]]
            return [self._terraform_statement(s) for s in document.get("statement", [])]
        if text.startswith("${jsonencode(") and text.endswith(")}"):
            parsed = hcl_object_to_json(text[len("${jsonencode("):-2])
        else:
            parsed = json.loads(text)
        return [self._json_statement(s) for s in self.resolve(parsed)["Statement"]]

    def _terraform_statement(self, s: dict) -> Statement:
        principals = None
        if s.get("principals"):
            principals = {}
            for p in s["principals"]:
                principals.setdefault(p["type"], []).extend(self.resolve(p["identifiers"]))
        return Statement(s.get("effect", "Allow"), list(s["actions"]), self.resolve(list(s["resources"])), principals,
                         [(c["test"], c["variable"], self.resolve(c["values"])) for c in s.get("condition", [])],
                         s.get("sid", ""))

    @staticmethod
    def _json_statement(s: dict) -> Statement:
        def listed(value: Any) -> list[str]:
            return [value] if isinstance(value, str) else list(value)

        principals = None
        if "Principal" in s:
            raw = s["Principal"]
            principals = {"*": ["*"]} if raw == "*" else {k: listed(v) for k, v in raw.items()}
        conditions = [(test, variable, listed(values)) for test, pairs in s.get("Condition", {}).items()
                      for variable, values in pairs.items()]
        return Statement(s["Effect"], listed(s["Action"]), listed(s.get("Resource", "*")), principals, conditions,
                         s.get("Sid", ""))

    def role_statements(self, role_arn: str) -> list[Statement]:
        _, role = self.find("aws_iam_role", "arn", role_arn)
        name = self.resolve(role["name"])
        found: list[Statement] = []
        for policy in self.resources.get("aws_iam_role_policy", {}).values():
            if self.resolve(policy["role"]) == name:
                found.extend(self.policy(policy["policy"]))
        return found

    def role_trusts(self, role_arn: str, service: str, context: dict[str, str] | None = None) -> bool:
        """Whether `service` can assume the role with what it sends to STS (`context`, else
        ASSUME_ROLE_CONTEXT)."""
        _, role = self.find("aws_iam_role", "arn", role_arn)
        trust = self.policy(role["assume_role_policy"])
        context = context or ASSUME_ROLE_CONTEXT.get(service, ({"aws:SourceAccount": ACCOUNT}, ""))[0]
        return any(s.effect == "Allow" and "sts:AssumeRole" in s.actions and service in (s.principals or {}).get("Service", [])
                   and _conditions_hold(s.conditions, context) for s in trust)

    def resource_policy(self, arn: str) -> list[Statement] | None:
        """The resource's own policy (queue, topic, bucket or its objects, Lambda permissions)."""
        bucket_arn = arn.split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else None
        for kind, key, attribute in (("aws_sqs_queue_policy", "queue_url", "url"), ("aws_sns_topic_policy", "arn", "arn"),
                                     ("aws_s3_bucket_policy", "bucket", "id")):
            for policy in self.resources.get(kind, {}).values():
                target = self.resolve(policy[key])
                owner = {"aws_sqs_queue_policy": "aws_sqs_queue", "aws_sns_topic_policy": "aws_sns_topic",
                         "aws_s3_bucket_policy": "aws_s3_bucket"}[kind]
                for name in self.resources.get(owner, {}):
                    if self.attribute(owner, name, attribute) == target and self.attribute(owner, name, "arn") in (
                            arn, bucket_arn):
                        return self.policy(policy["policy"])
        permissions = [p for p in self.resources.get("aws_lambda_permission", {}).values()
                       if self._function_arn(self.resolve(p["function_name"])) == arn]
        if permissions:
            return [Statement("Allow", [p["action"]], [arn], {"Service": [p["principal"]]},
                              [("ArnLike", "aws:SourceArn", [self.resolve(p["source_arn"])])] if "source_arn" in p else [])
                    for p in permissions]
        return None

    def _function_arn(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name_or_arn}"

    def key_of(self, arn: str) -> tuple[str, str] | None:
        """(key ARN, data class) of the KMS key that encrypts the stack resource `arn`."""
        found = self.kind_of(arn.split("/stream/")[0].split("/index/")[0])
        bucket = arn.split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else None
        if found is None and bucket:
            found = self.kind_of(bucket)
        if found is None:
            return None
        kind, name, r = found
        key = {"aws_sqs_queue": lambda: r.get("kms_master_key_id"), "aws_sns_topic": lambda: r.get("kms_master_key_id"),
               "aws_dynamodb_table": lambda: (r.get("server_side_encryption") or {}).get("kms_key_arn"),
               "aws_cloudwatch_event_bus": lambda: r.get("kms_key_identifier"),
               "aws_secretsmanager_secret": lambda: r.get("kms_key_id"),
               "aws_s3_bucket": lambda: self._bucket_key(name)}.get(kind, lambda: None)()
        if not key:
            return None
        key_arn = self.resolve(key)
        key_name = key_arn.rsplit("/", 1)[1]
        data_class = self.resolve(self.resources["aws_kms_key"][key_name]["description"]).split()[1]
        return key_arn, data_class

    def _bucket_key(self, bucket_name: str) -> str | None:
        bucket_id = self.attribute("aws_s3_bucket", bucket_name, "id")
        for config in self.resources.get("aws_s3_bucket_server_side_encryption_configuration", {}).values():
            if self.resolve(config["bucket"]) == bucket_id:
                return config["rule"][0]["apply_server_side_encryption_by_default"].get("kms_master_key_id")
        return None

    def key_policy(self, key_arn: str) -> list[Statement]:
        return self.policy(self.resources["aws_kms_key"][key_arn.rsplit("/", 1)[1]]["policy"])


# ----- evaluation -----------------------------------------------------------------------------
def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower()) if "*" in pattern or "?" in pattern else (
        pattern.lower() == value.lower())


def _conditions_hold(conditions: list[tuple[str, str, list[str]]], context: dict[str, str]) -> bool:
    for test, variable, values in conditions:
        present = variable in context
        actual = context.get(variable, "")
        if test.startswith("ForAllValues:"):
            # every value of a multivalued key must match; a key the request lacks holds (IAM user
            # guide, "Condition keys with multiple values"); a one-valued context stands for the set
            if present and not _conditions_hold([(test.split(":", 1)[1], variable, values)], context):
                return False
        elif test == "Null":
            if (values == ["true"]) == present:
                return False
        elif test in ("StringEquals", "ArnEquals", "Bool"):
            if not present or actual not in values:
                return False
        elif test in ("StringLike", "ArnLike"):
            if not present or not any(fnmatch.fnmatchcase(actual, v) for v in values):
                return False
        elif test in ("StringNotEquals", "ArnNotEquals"):
            if present and actual in values:
                return False
        else:
            raise AssertionError(f"condition operator {test} not modelled")
    return True


def _principal_matches(statement: Statement, principal: str, context: dict[str, str]) -> bool:
    if statement.principals is None:
        return True
    if statement.principals.get("*") == ["*"]:
        return True
    if principal.startswith("arn:"):
        aws = statement.principals.get("AWS", [])
        return principal in aws or ROOT in aws
    return principal in statement.principals.get("Service", [])


def decision(statements: list[Statement], principal: str, action: str, resource: str, context: dict[str, str]) -> str:
    """"allow", "deny" or "implicit" for one request against one policy."""
    allowed = False
    for s in statements:
        if not (_principal_matches(s, principal, context) and any(_matches(a, action) for a in s.actions)
                and any(_matches(r, resource) for r in s.resources) and _conditions_hold(s.conditions, context)):
            continue
        if s.effect == "Deny":
            return "deny"
        allowed = True
    return "allow" if allowed else "implicit"


# ----- the hops -------------------------------------------------------------------------------
def hops(stack: Stack) -> list[Hop]:
    return sorted(_hops(stack), key=lambda h: (h.name, h.principal, h.actions, h.resource))


def _hops(stack: Stack) -> Iterator[Hop]:
    res = stack.resources
    role_of_function = {stack.attribute("aws_lambda_function", n, "arn"): stack.resolve(f["role"])
                        for n, f in res.get("aws_lambda_function", {}).items()}

    def function_arn(name_or_arn: str) -> str:
        for alias in res.get("aws_lambda_alias", {}):
            if stack.attribute("aws_lambda_alias", alias, "arn") == name_or_arn:
                return stack._function_arn(stack.resolve(res["aws_lambda_alias"][alias]["function_name"]))
        return stack._function_arn(name_or_arn)

    def short(arn: str) -> str:
        return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]

    sqs_send = "sqs:SendMessage"
    for name, mapping in sorted(res.get("aws_lambda_event_source_mapping", {}).items()):
        function, queue = function_arn(stack.resolve(mapping["function_name"])), stack.resolve(mapping["event_source_arn"])
        yield Hop(f"event source mapping {short(queue)} -> {short(function)}", role_of_function[function],
                  ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"), queue,
                  "Lambda Developer Guide, Using Lambda with Amazon SQS (execution role permissions)",
                  key_actions=("kms:Decrypt",), trusted_by="lambda.amazonaws.com")
    for name, schedule in sorted(res.get("aws_scheduler_schedule", {}).items()):
        target, label = schedule["target"], stack.resolve(schedule["name"])
        role = stack.resolve(target["role_arn"])
        # what Scheduler puts in the STS request: the account and the schedule group (Scheduler User
        # Guide, Setting up: the execution role's confused-deputy conditions)
        group = f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule-group/{stack.resolve(schedule['group_name'])}"
        assume = (("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", group))
        yield Hop(f"schedule {label} -> {short(stack._function_arn(stack.resolve(target['arn'])))}", role,
                  ("lambda:InvokeFunction",), stack._function_arn(stack.resolve(target["arn"])),
                  "EventBridge Scheduler User Guide, Templated targets (Lambda Invoke; execution role)",
                  context=assume, trusted_by="scheduler.amazonaws.com")
        dlq = target.get("dead_letter_config", {}).get("arn")
        if dlq:
            yield Hop(f"schedule {label}: dead-letter", role, (sqs_send,), stack.resolve(dlq),
                      "EventBridge Scheduler User Guide, Configuring a dead-letter queue (execution role)",
                      context=assume, key_actions=("kms:GenerateDataKey", "kms:Decrypt"),
                      trusted_by="scheduler.amazonaws.com")
    for name, pipe in sorted(res.get("aws_pipes_pipe", {}).items()):
        role, source, target = (stack.resolve(pipe[k]) for k in ("role_arn", "source", "target"))
        label = stack.resolve(pipe["name"])
        yield Hop(f"pipe {label}: read the stream", role, ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                                                           "dynamodb:GetShardIterator", "dynamodb:ListStreams"), source,
                  "EventBridge User Guide, Amazon DynamoDB stream as a source (execution role)",
                  key_actions=("kms:Decrypt",), trusted_by="pipes.amazonaws.com")
        if ":lambda:" in target:
            yield Hop(f"pipe {label}: invoke the target", role, ("lambda:InvokeFunction",), target,
                      "EventBridge User Guide, Amazon EventBridge Pipes targets (execution role)",
                      trusted_by="pipes.amazonaws.com")
        else:
            yield Hop(f"pipe {label}: put events on the bus", role, ("events:PutEvents",), target,
                      "EventBridge User Guide, Amazon EventBridge Pipes targets; Encrypting event buses with AWS KMS",
                      key_actions=("kms:GenerateDataKey",), trusted_by="pipes.amazonaws.com")
        dlq = pipe["source_parameters"]["dynamodb_stream_parameters"].get("dead_letter_config", {}).get("arn")
        if dlq:
            yield Hop(f"pipe {label}: dead-letter", role, (sqs_send,), stack.resolve(dlq),
                      "EventBridge User Guide, Pipes error handling (execution role)",
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"), trusted_by="pipes.amazonaws.com")
    for name, bus in sorted(res.get("aws_cloudwatch_event_bus", {}).items()):
        bus_arn = stack.attribute("aws_cloudwatch_event_bus", name, "arn")
        if bus.get("kms_key_identifier"):
            yield Hop(f"bus {short(bus_arn)}: encrypt its events", "events.amazonaws.com",
                      ("kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"), stack.resolve(bus["kms_key_identifier"]),
                      "EventBridge User Guide, Authorizing EventBridge to use a customer managed key",
                      context=(("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", bus_arn),
                               ("kms:EncryptionContext:aws:events:event-bus:arn", bus_arn)))
        dlq = (bus.get("dead_letter_config") or {}).get("arn")
        if dlq:
            yield Hop(f"bus {short(bus_arn)}: dead-letter", "events.amazonaws.com", (sqs_send,), stack.resolve(dlq),
                      "EventBridge User Guide, Using dead-letter queues (event bus DLQ permissions)",
                      context=(("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", bus_arn)), resource_policy=True,
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
    for name, target in sorted(res.get("aws_cloudwatch_event_target", {}).items()):
        rule_name, bus_name = stack.resolve(target["rule"]), stack.resolve(target.get("event_bus_name", "default"))
        rule_arn = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{bus_name}/{rule_name}"
        context = (("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", rule_arn))
        arn = stack.resolve(target["arn"])
        assert "role_arn" not in target, "a rule target with a role: model its hop"
        if ":sqs:" in arn:
            yield Hop(f"rule {rule_name} -> {short(arn)}", "events.amazonaws.com", (sqs_send,), arn,
                      "EventBridge User Guide, Amazon SQS permissions; Event bus targets (KMS key policy)",
                      context=context, resource_policy=True, key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
        elif ":sns:" in arn:
            yield Hop(f"rule {rule_name} -> {short(arn)}", "events.amazonaws.com", ("sns:Publish",), arn,
                      "EventBridge User Guide, Amazon SNS permissions; SNS Developer Guide, encrypted topics",
                      context=context, resource_policy=True, key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
        else:
            raise AssertionError(f"rule target {arn}: model its hop")
        dlq = (target.get("dead_letter_config") or {}).get("arn")
        if dlq:
            yield Hop(f"rule {rule_name} -> dead-letter {short(stack.resolve(dlq))}", "events.amazonaws.com", (sqs_send,),
                      stack.resolve(dlq), "EventBridge User Guide, Using dead-letter queues (target DLQ permissions)",
                      context=context, resource_policy=True, key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
    for name, subscription in sorted(res.get("aws_sns_topic_subscription", {}).items()):
        topic, endpoint = stack.resolve(subscription["topic_arn"]), stack.resolve(subscription["endpoint"])
        if subscription["protocol"] == "sqs" and stack.kind_of(endpoint):
            yield Hop(f"topic {short(topic)} -> {short(endpoint)}", "sns.amazonaws.com", (sqs_send,), endpoint,
                      "SNS Developer Guide, Fanout to Amazon SQS queues; SQS Developer Guide, KMS permissions",
                      context=(("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", topic)), resource_policy=True,
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
        elif subscription["protocol"] == "lambda":
            yield Hop(f"topic {short(topic)} -> {short(endpoint)}", "sns.amazonaws.com", ("lambda:InvokeFunction",),
                      endpoint, "SNS Developer Guide, Fanout to Lambda functions",
                      context=(("aws:SourceArn", topic),), resource_policy=True)
    yield from _api_hops(stack, function_arn)
    for name, config in sorted(res.get("aws_lambda_function_event_invoke_config", {}).items()):
        function = stack._function_arn(stack.resolve(config["function_name"]))
        for outcome, destination in sorted((config.get("destination_config") or {}).items()):
            arn = stack.resolve(destination["destination"])
            yield Hop(f"{short(function)} async {outcome}", role_of_function[function], (sqs_send,), arn,
                      "Lambda Developer Guide, Capturing records of asynchronous invocations (execution role)",
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"), trusted_by="lambda.amazonaws.com")
    topics_alarmed: dict[str, list[str]] = {}
    for name, alarm in res.get("aws_cloudwatch_metric_alarm", {}).items():
        for topic in {*stack.resolve(alarm.get("alarm_actions", [])), *stack.resolve(alarm.get("ok_actions", []))}:
            topics_alarmed.setdefault(topic, []).append(stack.attribute("aws_cloudwatch_metric_alarm", name, "arn"))
    for topic, alarms in sorted(topics_alarmed.items()):
        for alarm in sorted(alarms)[:1] + sorted(alarms)[-1:]:  # the first and the last alarm stand for all
            yield Hop(f"alarm {short(alarm)} -> {short(topic)}", "cloudwatch.amazonaws.com", ("sns:Publish",), topic,
                      "CloudWatch User Guide, Using Amazon SNS topics; SNS Developer Guide, encrypted topics",
                      context=(("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", alarm)), resource_policy=True,
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"))
    for name, logging in sorted(res.get("aws_s3_bucket_logging", {}).items()):
        source = f"arn:{PARTITION}:s3:::{stack.resolve(logging['bucket'])}"
        target = f"arn:{PARTITION}:s3:::{stack.resolve(logging['target_bucket'])}/{stack.resolve(logging.get('target_prefix', ''))}log"
        yield Hop(f"access logs {short(source)} -> {stack.resolve(logging['target_bucket'])}", "logging.s3.amazonaws.com",
                  ("s3:PutObject",), target, "S3 User Guide, Enabling Amazon S3 server access logging",
                  context=(("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", source)), resource_policy=True,
                  key_actions=("kms:GenerateDataKey",))
    for name, group in sorted(res.get("aws_cloudwatch_log_group", {}).items()):
        if group.get("kms_key_id"):
            arn = stack.attribute("aws_cloudwatch_log_group", name, "arn")
            yield Hop(f"log group {stack.resolve(group['name'])}", f"logs.{REGION}.amazonaws.com",
                      ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey"),
                      stack.resolve(group["kms_key_id"]), "CloudWatch Logs User Guide, Encrypt log data using AWS KMS",
                      context=(("kms:EncryptionContext:aws:logs:arn", arn),))
    for name, table in sorted(res.get("aws_dynamodb_table", {}).items()):
        key = (table.get("server_side_encryption") or {}).get("kms_key_arn")
        if key:
            yield Hop(f"table {stack.resolve(table['name'])}", "dynamodb.amazonaws.com", ("kms:DescribeKey",),
                      stack.resolve(key), "AWS KMS Developer Guide, How Amazon DynamoDB uses AWS KMS")
    yield from _role_hops(stack)


def _api_hops(stack: Stack, function_arn) -> Iterator[Hop]:
    res = stack.resources
    for name, integration in sorted(res.get("aws_api_gateway_integration", {}).items()):
        if integration["type"] == "MOCK":
            continue
        uri = stack.resolve(integration["uri"])
        if integration["type"] == "AWS" and ":sqs:path/" in uri:
            account, queue = uri.split(":sqs:path/", 1)[1].split("/")
            arn = f"arn:{PARTITION}:sqs:{REGION}:{account}:{queue}"
            yield Hop(f"API {name.split('_')[1]} -> {queue}", stack.resolve(integration["credentials"]), ("sqs:SendMessage",),
                      arn, "API Gateway Developer Guide, Tutorial: Build a REST API as an Amazon SQS proxy",
                      key_actions=("kms:GenerateDataKey", "kms:Decrypt"), trusted_by="apigateway.amazonaws.com")
        elif integration["type"] == "AWS_PROXY":
            method = next(m for m in res["aws_api_gateway_method"].values()
                          if stack.resolve(m["resource_id"]) == stack.resolve(integration["resource_id"])
                          and m["http_method"] == integration["http_method"])
            api = stack.resolve(integration["rest_api_id"])
            source = (f"{stack.attribute('aws_api_gateway_rest_api', api, 'execution_arn')}/prod/{method['http_method']}"
                      f"{_resource_path(stack, stack.resolve(integration['resource_id']))}")
            function = function_arn(uri.split("/functions/")[1].rsplit("/invocations", 1)[0])
            yield Hop(f"API {method['http_method']} {_resource_path(stack, stack.resolve(integration['resource_id']))}",
                      "apigateway.amazonaws.com", ("lambda:InvokeFunction",), function,
                      "API Gateway Developer Guide, Lambda proxy integrations (Lambda resource-based policy)",
                      context=(("aws:SourceArn", source),), resource_policy=True)
        else:
            raise AssertionError(f"integration {name} ({integration['type']}): model its hop")
    for name, authorizer in sorted(res.get("aws_api_gateway_authorizer", {}).items()):
        uri = stack.resolve(authorizer["authorizer_uri"])
        api = stack.resolve(authorizer["rest_api_id"])
        source = f"{stack.attribute('aws_api_gateway_rest_api', api, 'execution_arn')}/authorizers/{name}"
        yield Hop(f"API authorizer {stack.resolve(authorizer['name'])}", "apigateway.amazonaws.com",
                  ("lambda:InvokeFunction",), function_arn(uri.split("/functions/")[1].rsplit("/invocations", 1)[0]),
                  "API Gateway Developer Guide, Lambda authorizers (invoke permission)",
                  context=(("aws:SourceArn", source),), resource_policy=True)


def _resource_path(stack: Stack, resource_id: str) -> str:
    parts = []
    resources = stack.resources["aws_api_gateway_resource"]
    while resource_id in resources:
        parts.append(resources[resource_id]["path_part"])
        resource_id = stack.resolve(resources[resource_id]["parent_id"])
    return "/" + "/".join(reversed(parts))


def _role_hops(stack: Stack) -> Iterator[Hop]:
    """What each role's own policy lets it touch in the stack's encrypted resources: its key must
    let the role use it, and the resource's policy must not refuse it."""
    for name, role in sorted(stack.resources.get("aws_iam_role", {}).items()):
        arn = stack.attribute("aws_iam_role", name, "arn")
        for statement in stack.role_statements(arn):
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                if action not in KMS_FOR_ACTION:
                    continue
                for resource in statement.resources:
                    for target in _stack_arns(stack, resource):
                        yield Hop(f"role {stack.resolve(role['name'])}: {action}", arn, (action,), target,
                                  "the service's KMS permissions for callers (SQS, SNS, S3, DynamoDB, Secrets Manager, "
                                  "EventBridge developer guides)",
                                  key_actions=KMS_FOR_ACTION[action][0])


def _stack_arns(stack: Stack, pattern: str) -> list[str]:
    """The encrypted resources of the stack a role's resource pattern names (an S3 object pattern
    stands for one object in it; an index for its table)."""
    if pattern.startswith("arn:aws:s3:::"):
        return [pattern.replace("*", "object")] if stack.key_of(pattern) else []
    found = []
    for kind in ("aws_sqs_queue", "aws_sns_topic", "aws_dynamodb_table", "aws_cloudwatch_event_bus",
                 "aws_secretsmanager_secret"):
        for name in stack.resources.get(kind, {}):
            arn = stack.attribute(kind, name, "arn")
            for candidate in ([arn, f"{arn}/stream/2026-01-01T00:00:00.000", f"{arn}/index/by-x"]
                              if kind == "aws_dynamodb_table" else [arn]):
                if _matches(pattern, candidate) and stack.key_of(candidate):
                    found.append(candidate)
    return found


# ----- the checks -----------------------------------------------------------------------------
def problems(stack: Stack, hop: Hop) -> list[str]:
    """What AWS would refuse on this hop: the caller's permission, the resource policy, the KMS key."""
    found: list[str] = []
    context = dict(hop.context)
    role = hop.principal if hop.principal.startswith("arn:") else None
    resource_is_key = ":kms:" in hop.resource
    if role:
        identity = stack.role_statements(role)
        for action in hop.actions:
            if decision(identity, role, action, hop.resource, context) != "allow":
                found.append(f"the role's policy does not allow {action} on {hop.resource}")
        assumed = dict(hop.context) if hop.trusted_by == "scheduler.amazonaws.com" else None
        if hop.trusted_by and not stack.role_trusts(role, hop.trusted_by, assumed):
            found.append(f"the role does not trust {hop.trusted_by} (for this account)")
    policy = stack.key_policy(hop.resource) if resource_is_key else stack.resource_policy(hop.resource)
    if resource_is_key:
        service_context = _service_kms_context(stack, hop.principal, hop.resource, context)
        for action in hop.actions:
            if decision(policy, hop.principal, action, hop.resource, service_context) != "allow":
                found.append(f"the key policy does not let {hop.principal} {action} with what it sends "
                             f"({sorted(service_context)})")
        return found
    # a role's session is named by its role's ARN in aws:PrincipalArn (resource policies that allow
    # or deny principals by it: the ingest queue's)
    request = {**context, "aws:SecureTransport": "true", **({"aws:PrincipalArn": role} if role else {})}
    if policy is not None:
        for action in hop.actions:
            verdict = decision(policy, hop.principal, action, hop.resource, request)
            if verdict == "deny" or (hop.resource_policy and verdict != "allow"):
                found.append(f"the resource policy of {hop.resource} does not admit {hop.principal} {action} "
                             f"({verdict})")
    elif hop.resource_policy:
        found.append(f"{hop.resource} has no resource policy admitting {hop.principal}")
    key = stack.key_of(hop.resource)
    if key and hop.key_actions:
        key_arn, data_class = key
        key_policy = stack.key_policy(key_arn)
        if role:
            via = _via_service(hop.actions[0], data_class)
            kms_context = {"aws:PrincipalArn": role, "kms:CallerAccount": ACCOUNT, "kms:ViaService": via}
            for action in hop.key_actions:
                if decision(key_policy, role, action, key_arn, kms_context) != "allow":
                    found.append(f"the {data_class} key policy does not let the role {action}")
                if decision(stack.role_statements(role), role, action, key_arn, kms_context) != "allow":
                    found.append(f"the role's policy does not allow {action} on the {data_class} key")
        else:
            service_context = _service_kms_context(stack, hop.principal, key_arn, context)
            for action in hop.key_actions:
                if decision(key_policy, hop.principal, action, key_arn, service_context) != "allow":
                    found.append(f"the {data_class} key policy does not let {hop.principal} {action} with what it "
                                 f"sends to KMS ({sorted(service_context) or 'no source keys'})")
    elif hop.key_actions and key is None and stack.kind_of(hop.resource.split("/", 1)[0]) is None and not role:
        found.append(f"{hop.resource} is not a resource of this stack")
    return found


def _via_service(action: str, data_class: str) -> str:
    service = KMS_FOR_ACTION.get(action, ((), data_class))[1]
    return f"{service}.{REGION}.amazonaws.com"


def _service_kms_context(stack: Stack, principal: str, key_arn: str, context: dict[str, str]) -> dict[str, str]:
    """What `principal` sends to KMS for this key: the documented condition keys only."""
    data_class = stack.resolve(stack.resources["aws_kms_key"][key_arn.rsplit("/", 1)[1]]["description"]).split()[1]
    assert (principal, data_class) in KMS_CONTEXT, f"{principal} uses the {data_class} key: document what it sends"
    keys, _ = KMS_CONTEXT[(principal, data_class)]
    return {k: v for k, v in context.items() if k in keys}


def broken(synthesized: dict, edit) -> Stack:
    """A deep copy of a synthesized stack with `edit(copy)` applied: a grant taken away."""
    copied = copy.deepcopy(synthesized)
    edit(copied)
    return Stack(copied)
