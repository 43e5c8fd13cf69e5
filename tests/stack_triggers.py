"""Every way the synthesized stack invokes a function or feeds a queue a function reads (its
triggers), and those triggers deployed alone in the emulator, with the stack's names, patterns,
templates and batch sizes, so the local runner can be driven over them without `cdktf deploy`
(the state handed to the runner is a `terraform show -json` state of just those resources).

A trigger kind here is one sample-backed path of tests/test_aws_triggers.py; a resource of these
types that fits no known kind fails the inventory test."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from scripts.local.runner.wiring import LAMBDA_SRC

ACCOUNT = "123456789012"  # the emulator's account (the local stack's ARNs name it too)
PARTITION = "aws"
TRIGGER_TYPES = ("aws_lambda_event_source_mapping", "aws_pipes_pipe", "aws_cloudwatch_event_target",
                 "aws_sns_topic_subscription", "aws_lambda_function_event_invoke_config")
_REF = re.compile(r"\$\{((?:data\.)?[\w]+\.[\w-]+)\.(\w+)\}")


@dataclass(frozen=True)
class Trigger:
    """One trigger: `kind` names the sample-backed path, `address` the resource (type.id)."""

    kind: str
    address: str
    function: str | None = None  # the function folder (lambda_src/{function}) it invokes
    source: str = ""  # the queue, stream, rule or topic it reads from (name)
    target: str = ""  # the queue, bus, topic or endpoint it delivers to (name)


class Stack:
    """The synthesized JSON of one stack, with its references resolved to names."""

    def __init__(self, synthesized: dict[str, Any], region: str):
        self.json = synthesized
        self.region = region
        self.resources: dict[str, dict[str, Any]] = synthesized.get("resource", {})

    def get(self, address: str) -> dict[str, Any]:
        kind, name = address.split(".", 1)
        return self.resources[kind][name]

    def referenced(self, value: str) -> str | None:
        """`${type.id.attr}` -> `type.id` (None when `value` is no whole reference)."""
        match = _REF.fullmatch(value or "")
        return match.group(1) if match else None

    def function_code(self, address: str | None) -> str | None:
        """The function folder of an `aws_lambda_function` or of the function an alias points at."""
        if address and address.startswith("aws_lambda_alias."):
            address = self.referenced(self.get(address)["function_name"])
        if not address or not address.startswith("aws_lambda_function."):
            return None
        module = self.get(address)["handler"].rpartition(".")[0]
        [folder] = [p.parent.name for p in LAMBDA_SRC.glob(f"*/{module}.py")]
        return folder

    def name_of(self, value: str) -> str:
        """The name of a referenced queue, table, bus, rule, topic or function, or an ARN's last part."""
        address = self.referenced(value)
        if address is None:
            return self.resolve(value).rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        item = self.get(address)
        return item.get("name") or item.get("function_name") or address

    def resolve(self, value: Any, attributes: dict[str, dict[str, str]] | None = None) -> Any:
        """Every `${...}` in `value` replaced: data sources by the local emulator's values, resources
        by `attributes[type.id][attr]` (what the emulator answered when they were created)."""
        data = {("data.aws_partition.partition", "partition"): PARTITION,
                ("data.aws_region.region", "name"): self.region,
                ("data.aws_caller_identity.caller", "account_id"): ACCOUNT}
        known = attributes or {}

        def one(match: re.Match[str]) -> str:
            key = (match.group(1), match.group(2))
            if key in data:
                return data[key]
            if match.group(1) in known and match.group(2) in known[match.group(1)]:
                return known[match.group(1)][match.group(2)]
            raise KeyError(f"unresolved reference {match.group(0)}")

        if isinstance(value, str):
            return _REF.sub(one, value)
        if isinstance(value, list):
            return [self.resolve(v, attributes) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, attributes) for k, v in value.items()}
        return value

    def triggers(self) -> list[Trigger]:
        found = []
        for name, esm in self.resources.get("aws_lambda_event_source_mapping", {}).items():
            queue = self.referenced(esm["event_source_arn"]) or ""
            fifo = bool(queue and self.get(queue).get("fifo_queue"))
            found.append(Trigger("sqs-fifo-esm" if fifo else "sqs-standard-esm", f"aws_lambda_event_source_mapping.{name}",
                                 self.function_code(self.referenced(esm["function_name"])), self.name_of(esm["event_source_arn"])))
        for name, pipe in self.resources.get("aws_pipes_pipe", {}).items():
            target = self.referenced(pipe["target"]) or ""
            kind = "pipe-stream-to-lambda" if target.startswith("aws_lambda_") else \
                "pipe-stream-to-bus" if target.startswith("aws_cloudwatch_event_bus.") else "unknown"
            found.append(Trigger(kind, f"aws_pipes_pipe.{name}", self.function_code(target),
                                 self.name_of(pipe["source"]), self.name_of(pipe["target"])))
        for name, target in self.resources.get("aws_cloudwatch_event_target", {}).items():
            arn = self.resolve(target["arn"], {}) if not self.referenced(target["arn"]) else target["arn"]
            address = self.referenced(target["arn"]) or ""
            transformed = "input_transformer" in target or "input" in target or "input_path" in target
            kind = ("rule-to-sqs" if address.startswith("aws_sqs_queue.") else
                    "rule-to-sns" if ":sns:" in arn else "unknown") + ("-transformed" if transformed else "")
            found.append(Trigger(kind, f"aws_cloudwatch_event_target.{name}", None, self.name_of(target["rule"]),
                                 self.name_of(target["arn"])))
        for name, subscription in self.resources.get("aws_sns_topic_subscription", {}).items():
            raw = str(subscription.get("raw_message_delivery", "false")).lower() == "true"
            kind = f"sns-to-{subscription['protocol']}" + ("-raw" if raw else "")
            found.append(Trigger(kind, f"aws_sns_topic_subscription.{name}", None, self.name_of(subscription["topic_arn"]),
                                 self.name_of(subscription["endpoint"])))
        for name, schedule in self.resources.get("aws_scheduler_schedule", {}).items():
            target = schedule["target"]
            found.append(Trigger("schedule-to-lambda", f"aws_scheduler_schedule.{name}",
                                 self.function_code(self.referenced(target["arn"])), self.name_of(schedule["name"]),
                                 self.name_of(target["arn"])))
        for name, config in self.resources.get("aws_lambda_function_event_invoke_config", {}).items():
            function = self.referenced(config["function_name"])
            destination = config.get("destination_config", {}).get("on_failure", {}).get("destination", "")
            found.append(Trigger("async-failure-destination", f"aws_lambda_function_event_invoke_config.{name}",
                                 self.function_code(function), "", self.name_of(destination)))
        return found


def deploy(stack: Stack, endpoint_url: str) -> dict[str, Any]:
    """Create the triggers' queues, ledger table, bus, rules, topics and subscriptions in the emulator
    at `endpoint_url` as the stack declares them; returns the `terraform show -json` state the
    runner reads (functions, queues, mappings, table, bus, rules, targets, pipes)."""
    import boto3

    clients = {s: boto3.client(s, endpoint_url=endpoint_url, region_name=stack.region,
                                aws_access_key_id="test", aws_secret_access_key="test")
               for s in ("sqs", "dynamodb", "events", "sns")}
    r = stack.resources
    attributes: dict[str, dict[str, str]] = {}
    state: list[tuple[str, dict[str, Any]]] = []

    for name, fn in r["aws_lambda_function"].items():
        arn = f"arn:{PARTITION}:lambda:{stack.region}:{ACCOUNT}:function:{fn['function_name']}"
        attributes[f"aws_lambda_function.{name}"] = {"arn": arn, "function_name": fn["function_name"]}
        state.append(("aws_lambda_function", {"function_name": fn["function_name"], "arn": arn, "handler": fn["handler"],
                                              "environment": [], "memory_size": fn.get("memory_size"),
                                              "timeout": fn.get("timeout")}))
    for name, alias in r.get("aws_lambda_alias", {}).items():
        function = attributes[stack.referenced(alias["function_name"]) or ""]
        attributes[f"aws_lambda_alias.{name}"] = {"arn": f"{function['arn']}:{alias['name']}"}
    for name, queue in r["aws_sqs_queue"].items():
        fifo = bool(queue.get("fifo_queue"))
        queue_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": str(bool(
            queue.get("content_based_deduplication"))).lower()} if fifo else {}
        url = clients["sqs"].create_queue(QueueName=queue["name"], Attributes=queue_attributes)["QueueUrl"]
        arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes[f"aws_sqs_queue.{name}"] = {"arn": arn, "url": url, "id": url, "name": queue["name"]}
        state.append(("aws_sqs_queue", {"name": queue["name"], "url": url, "id": url, "arn": arn, "fifo_queue": fifo}))
    streamed = {stack.referenced(p["source"]) for p in r.get("aws_pipes_pipe", {}).values()}
    for address in sorted(a for a in streamed if a):
        table = stack.get(address)
        types = {a["name"]: a["type"] for a in table["attribute"]}
        keys = [(table["hash_key"], "HASH")] + ([(table["range_key"], "RANGE")] if table.get("range_key") else [])
        created = clients["dynamodb"].create_table(
            TableName=table["name"], BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": types[k]} for k, _ in keys],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": table["stream_view_type"]})["TableDescription"]
        attributes[address] = {"name": table["name"], "stream_arn": created["LatestStreamArn"], "arn": created["TableArn"]}
        state.append(("aws_dynamodb_table", {"name": table["name"], "stream_arn": created["LatestStreamArn"]}))
    for name, bus in r.get("aws_cloudwatch_event_bus", {}).items():
        arn = clients["events"].create_event_bus(Name=bus["name"])["EventBusArn"]
        attributes[f"aws_cloudwatch_event_bus.{name}"] = {"name": bus["name"], "arn": arn}
        state.append(("aws_cloudwatch_event_bus", {"name": bus["name"], "arn": arn}))
    for name, topic in r.get("aws_sns_topic", {}).items():
        arn = clients["sns"].create_topic(Name=topic["name"])["TopicArn"]
        attributes[f"aws_sns_topic.{name}"] = {"name": topic["name"], "arn": arn}
    for name, rule in r.get("aws_cloudwatch_event_rule", {}).items():
        resolved = stack.resolve(rule, attributes)
        clients["events"].put_rule(Name=resolved["name"], EventBusName=resolved["event_bus_name"],
                                   EventPattern=resolved["event_pattern"])
        attributes[f"aws_cloudwatch_event_rule.{name}"] = {"name": resolved["name"]}
        state.append(("aws_cloudwatch_event_rule", resolved))
    for name, target in r.get("aws_cloudwatch_event_target", {}).items():
        resolved = stack.resolve(target, attributes)
        clients["events"].put_targets(Rule=resolved["rule"], EventBusName=resolved["event_bus_name"],
                                      Targets=[{"Id": resolved["target_id"], "Arn": resolved["arn"]}])
        state.append(("aws_cloudwatch_event_target", resolved))
    for subscription in r.get("aws_sns_topic_subscription", {}).values():
        resolved = stack.resolve(subscription, attributes)
        if resolved["protocol"] != "sqs":
            continue  # e-mail: nothing the emulator delivers
        queue = resolved["endpoint"].rsplit(":", 1)[-1]
        clients["sqs"].create_queue(QueueName=queue)  # the capture queues live outside the stack
        clients["sns"].subscribe(TopicArn=resolved["topic_arn"], Protocol="sqs", Endpoint=resolved["endpoint"],
                                 Attributes={"FilterPolicy": resolved["filter_policy"],
                                             "FilterPolicyScope": resolved["filter_policy_scope"]})
    for esm in r.get("aws_lambda_event_source_mapping", {}).values():
        state.append(("aws_lambda_event_source_mapping", stack.resolve(
            {k: v for k, v in esm.items() if k in ("event_source_arn", "function_name", "batch_size",
                                                   "function_response_types")}, attributes)))
    for pipe in r.get("aws_pipes_pipe", {}).values():
        state.append(("aws_pipes_pipe", stack.resolve({k: copy.deepcopy(v) for k, v in pipe.items()
                                                       if k in ("name", "source", "target", "source_parameters",
                                                                "target_parameters")}, attributes)))
    return {"values": {"root_module": {"resources": [{"mode": "managed", "type": t, "values": v} for t, v in state]}}}


def local_stack() -> Stack:
    """The synthesized `local` stack (synthesized once per test process)."""
    from constructs.app.environments import load_settings
    from infra_synth import synth

    return Stack(json.loads(synth("local")), load_settings("local", {}, environ={}).region)


def stack_of(environment: str) -> Stack:
    """Another environment's synthesized stack (its triggers; not deployable to the emulator)."""
    from constructs.app.environments import load_settings
    from infra_synth import synth

    return Stack(json.loads(synth(environment)), load_settings(environment, {}, environ={}).region)
