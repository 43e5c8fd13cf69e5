"""Interface endpoints only for the services a function in the VPC calls. The services come from
the code: the boto3 clients and resources (and Powertools' parameter helpers) that each function's
handler folder and the paycore modules it imports create. The functions come from the
synthesized stacks: those with a `vpc_config`. DynamoDB and S3 go through gateway endpoints. Lambda
itself sends the functions' logs (EMF metrics included) and X-Ray traces, and the services make
their own KMS calls (SSE-KMS, Secrets Manager), so no logs, xray or kms endpoint; nothing calls the
Lambda API. Each environment's `network.interface_endpoints`, the schema's default and the
synthesized endpoints must be exactly the services called."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from constructs.app.environments import environment_names, load_settings
from constructs.app.settings import NetworkSettings
from constructs.core.limits import INTERFACE_ENDPOINT_SERVICES
from support import ROOT

LAMBDA_SRC = ROOT / "lambda_src"
PAYCORE = LAMBDA_SRC / "layer" / "paycore"
#: boto3.client(...), boto3.resource(...), obs.client(...), session.client(...): the service is the first argument.
FACTORIES = {"client", "resource"}
#: Powertools helpers that create their own client.
POWERTOOLS = {"get_parameter": "ssm", "get_parameters": "ssm", "get_parameters_by_name": "ssm", "SSMProvider": "ssm",
              "get_secret": "secretsmanager", "get_secrets_by_name": "secretsmanager",
              "SecretsProvider": "secretsmanager", "DynamoDBProvider": "dynamodb", "get_app_config": "appconfigdata",
              "AppConfigProvider": "appconfigdata"}
GATEWAY = {"dynamodb", "s3"}


def services_called(source: str) -> set[str]:
    """The AWS services a module's code creates clients for."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in FACTORIES and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
        elif name in POWERTOOLS:
            found.add(POWERTOOLS[name])
    return found


def _paycore_module(dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    path = PAYCORE.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_paycore_modules(source: str) -> set[Path]:
    """The paycore modules (and their packages) a module imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "paycore"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "paycore":
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    modules = set()
    for name in names:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # a package's __init__ runs too
            module = _paycore_module(".".join(parts[:depth]))
            if module is not None:
                modules.add(module)
    return modules


def services_of_function(folder: str) -> set[str]:
    """What a function's code calls: its folder's modules and every paycore module they reach."""
    todo = list((LAMBDA_SRC / folder).glob("*.py"))
    seen: set[Path] = set()
    services: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        source = path.read_text()
        services |= services_called(source)
        todo += imported_paycore_modules(source) - seen
    return services


def functions_in_vpc(stack: dict) -> dict[str, str]:
    """function name -> its code folder, for the functions of a synthesized stack with a VPC config."""
    return {fn["function_name"]: fn["handler"].removesuffix("_handler.handler")
            for fn in stack.get("resource", {}).get("aws_lambda_function", {}).values() if fn.get("vpc_config")}


def test_the_scanner_finds_clients_resources_and_powertools_helpers():
    source = ('import boto3\nfrom paycore import obs\nsqs = obs.client("sqs")\n'
              'table = boto3.resource("dynamodb").Table("t")\n'
              'def f():\n    from aws_lambda_powertools.utilities import parameters\n'
              '    return parameters.get_parameter("/x"), boto3.client("kms", region_name="us-east-1")\n')
    assert services_called(source) == {"sqs", "dynamodb", "ssm", "kms"}
    assert services_called("x = obs.client(name)\nprint('client')") == set()


def test_each_function_calls_the_services_its_code_creates_clients_for():
    calls = {folder: services_of_function(folder) for folder in (
        "authorizer", "validator", "processor", "archiver", "notifier", "reader", "status", "manual_notify",
        "delivery_fanout", "delivery_sender")}
    assert calls == {
        "authorizer": {"secretsmanager"},
        "validator": {"dynamodb", "secretsmanager", "sqs"},
        "processor": {"dynamodb", "s3", "secretsmanager", "sqs"},
        "archiver": {"s3"},
        "notifier": {"dynamodb", "sns"},
        "reader": {"dynamodb", "secretsmanager"},
        "status": {"dynamodb"},
        "manual_notify": {"dynamodb", "sqs"},
        "delivery_fanout": {"sqs", "ssm"},
        "delivery_sender": {"sqs", "events", "dynamodb", "secretsmanager", "ssm"},
    }


def _with_endpoints(environment: str) -> bool:
    settings = load_settings(environment, environ={})
    return settings.enabled("vpc") and settings.enabled("interface_endpoints")


@pytest.mark.parametrize("environment", [e for e in environment_names() if _with_endpoints(e)])
def test_interface_endpoints_are_the_services_the_functions_in_the_vpc_call(environment, stack_json):
    stack = stack_json(environment)
    functions = functions_in_vpc(stack)
    settings = load_settings(environment, environ={})
    assert functions, "every function runs in the VPC's private subnets"
    called = set().union(*(services_of_function(folder) for folder in functions.values()))
    interface = called - GATEWAY
    assert interface <= set(INTERFACE_ENDPOINT_SERVICES), "a called service has no interface endpoint to offer"
    assert set(settings.network.interface_endpoints) == interface
    endpoints = stack["resource"]["aws_vpc_endpoint"].values()
    synthesized = {re.sub(r"^com\.amazonaws\.[a-z0-9-]+\.", "", e["service_name"]): e["vpc_endpoint_type"]
                   for e in endpoints}
    assert {s for s, kind in synthesized.items() if kind == "Interface"} == interface
    assert {s for s, kind in synthesized.items() if kind == "Gateway"} == called & GATEWAY


def test_the_schemas_default_endpoints_are_the_services_every_function_calls(stack_json):
    called = set().union(*(services_of_function(folder) for folder in functions_in_vpc(stack_json("prod")).values()))
    assert set(NetworkSettings().interface_endpoints) == called - GATEWAY


def test_the_local_environment_switches_the_endpoints_off_with_its_reason(stack_json):
    local = load_settings("local", environ={})
    assert not local.enabled("interface_endpoints") and "in-process" in local.disabled_features["interface_endpoints"]
    endpoints = stack_json("local")["resource"].get("aws_vpc_endpoint", {}).values()
    assert [e["service_name"] for e in endpoints if e["vpc_endpoint_type"] == "Interface"] == []


def test_no_function_logs_or_traces_through_a_client_of_its_own():
    """Lambda carries the functions' stdout (logs, EMF metrics) and X-Ray segments (UDP to the
    runtime's daemon): the code creates no logs, cloudwatch or xray client."""
    everything = set().union(*(services_called(path.read_text()) for path in LAMBDA_SRC.rglob("*.py")))
    assert not everything & {"logs", "cloudwatch", "xray", "lambda", "kms"}, json.dumps(sorted(everything))
