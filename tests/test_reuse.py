"""Proof of reuse: a small stack of its own (an "orders intake", not this platform) built from the
constructs alone, with no settings object and nothing of paycore: ingress -> queueing ->
processing -> storage. It synthesizes and passes `terraform validate` against the real provider
schema. The README's "Use the constructs in your own stack" shows this same code."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.provider import AwsProvider

from constructs.ingress import ApiLogOptions, LambdaRoute, LambdaTarget, QueueRouteOptions, SqsRoute, WebhookIngress
from constructs.processing import FunctionGroup, FunctionSpec
from constructs.queueing import WebhookQueue
from constructs.security import Security
from constructs.storage import LedgerTable
from support import run_terraform

Testing.__test__ = False  # cdktf's helper class, not a pytest test class


def build_orders_stack(scope, zip_path: str) -> TerraformStack:
    # --- README example: begin
    stack = TerraformStack(scope, "orders")
    AwsProvider(stack, "aws", region="eu-west-1")              # providers live in the stack
    account = DataAwsCallerIdentity(stack, "caller").account_id
    keys = Security(stack, "keys", environment="shop", account_id=account, partition="aws",
                    region="eu-west-1", data_classes=("sqs", "dynamodb", "lambda", "logs"))

    orders = LedgerTable(stack, "orders-table", table_name="orders-shop", kms_key_arn=keys.keys["dynamodb"].arn)
    intake = WebhookQueue(stack, "intake", name="orders-intake-shop", kms_key_arn=keys.keys["sqs"].arn,
                          consumer_timeout_seconds=20,     # visibility timeout = 6 x 20 s
                          dlq_max_receive_count=5)         # then the dead-letter queue
    workers = FunctionGroup(
        stack, "workers", lambda_kms_key_arn=keys.keys["lambda"].arn, logs_kms_key_arn=keys.keys["logs"].arn,
        account_id=account, partition="aws", region="eu-west-1",
        functions={
            "consumer": FunctionSpec(function_name="orders-consumer-shop", handler="consumer.handler",
                                     code_path=zip_path, source_code_hash="placeholder=", timeout_seconds=20,
                                     environment={"TABLE_NAME": orders.table.name}),
            "gate": FunctionSpec(function_name="orders-gate-shop", handler="gate.handler",
                                 code_path=zip_path, source_code_hash="placeholder=", timeout_seconds=5),
            "lookup": FunctionSpec(function_name="orders-lookup-shop", handler="lookup.handler",
                                   code_path=zip_path, source_code_hash="placeholder="),
        },
    )
    workers.add_queue_event_source("consumer", queue_arn=intake.queue.arn, queue_kms_key_arn=keys.keys["sqs"].arn)
    workers.functions["consumer"].grant("write-orders", [
        {"sid": "WriteOrders", "actions": ["dynamodb:PutItem"], "resources": [orders.table.arn]},
        {"sid": "OrdersKey", "actions": ["kms:GenerateDataKey", "kms:Decrypt"], "resources": [keys.keys["dynamodb"].arn]},
    ])

    def target(name: str) -> LambdaTarget:
        fn = workers.functions[name].function
        return LambdaTarget(fn.function_name, fn.invoke_arn)

    WebhookIngress(                                          # WAF on by default (aws-waf-logs-orders-api-shop)
        stack, "api", name="orders-api-shop", region="eu-west-1", logs=ApiLogOptions(kms_key_arn=keys.keys["logs"].arn),
        queue_routes=QueueRouteOptions(
            routes=[SqsRoute(route_id="orders", path="/orders",
                             request_template="Action=SendMessage&MessageBody=$util.urlEncode($input.body)")],
            queue_arn=intake.queue.arn, queue_kms_key_arn=keys.keys["sqs"].arn, authorizer=target("gate")),
        lambda_routes=[LambdaRoute(method="GET", path="/orders/{id}", target=target("lookup"),
                                   request_parameters={"method.request.path.id": True})],
    )
    # --- README example: end
    return stack


@pytest.fixture
def code_zip(tmp_path) -> str:
    path = tmp_path / "orders.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for module in ("consumer", "gate", "lookup"):
            archive.writestr(f"{module}.py", "def handler(event, context):\n    return {}\n")
    return str(path)


def test_own_stack_synthesizes_without_settings_or_paycore(code_zip):
    stack = build_orders_stack(Testing.app(), code_zip)
    out = json.loads(Testing.synth(stack))
    resources = out["resource"]
    assert {r["name"] for r in resources["aws_sqs_queue"].values()} == {"orders-intake-shop", "orders-intake-shop-dlq"}
    assert {r["function_name"] for r in resources["aws_lambda_function"].values()} == {
        "orders-consumer-shop", "orders-gate-shop", "orders-lookup-shop"}
    assert sorted(r["path_part"] for r in resources["aws_api_gateway_resource"].values()) == ["orders", "{id}"]
    assert resources["aws_lambda_event_source_mapping"]
    assert {g["name"] for g in resources["aws_cloudwatch_log_group"].values()} >= {"aws-waf-logs-orders-api-shop"}
    assert all(k.startswith(("orders", "keys", "intake", "workers", "api", "caller"))
               for t in resources.values() for k in t)


@pytest.mark.slow
def test_own_stack_passes_terraform_validate(code_zip, tmp_path):
    stack = build_orders_stack(Testing.app(), code_zip)
    outdir = Path(Testing.full_synth(stack))
    work = tmp_path / "orders"
    shutil.copytree(next(outdir.glob("**/stacks/orders")), work)
    init = run_terraform(["init", "-backend=false", "-input=false", "-no-color"], work)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = json.loads(run_terraform(["validate", "-json", "-no-color"], work).stdout)
    assert validate["valid"] is True, json.dumps(validate["diagnostics"], indent=2)


def test_reusable_constructs_import_neither_settings_nor_paycore():
    """The modules this example imports stand alone: checked statically by test_layout; here, by
    importing them in a fresh interpreter and looking at what got loaded."""
    import subprocess
    import sys

    from support import ROOT

    code = ("import sys, main; main.prepare_runtime(); "
            "import constructs.ingress, constructs.processing, constructs.queueing, constructs.storage, "
            "constructs.security, constructs.notification, constructs.observability, constructs.vpc, constructs.delivery; "
            "print(sorted(m for m in sys.modules if m.startswith(('paycore', 'constructs.app.settings', "
            "'constructs.app.stack'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
