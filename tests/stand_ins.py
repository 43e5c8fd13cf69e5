"""Small stacks for construct tests: a provider and stand-in resources for what a construct
depends on (keys, queues, functions), so one construct synthesizes and validates on its own."""

from __future__ import annotations

import json
from types import SimpleNamespace

from cdktf import App, TerraformStack, Testing
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

ROLE_ARN = "arn:aws:iam::123456789012:role/stand-in"


def stack(name: str = "test") -> TerraformStack:
    app = Testing.app()
    st = TerraformStack(app, name)
    AwsProvider(st, "aws", region="us-east-1")
    return st


def key(st: TerraformStack, name: str) -> KmsKey:
    return KmsKey(st, f"key-{name}", description=name, enable_key_rotation=True)


def queue(st: TerraformStack, name: str, fifo: bool = False) -> SqsQueue:
    return SqsQueue(st, f"queue-{name}", name=f"{name}.fifo" if fifo else name, fifo_queue=fifo or None)


def function(st: TerraformStack, name: str) -> LambdaFunction:
    return LambdaFunction(st, f"fn-{name}", function_name=f"payment-{name}-test", role=ROLE_ARN,
                          runtime="python3.11", handler=f"{name}_handler.handler", filename="stand-in.zip")


def synth(st: TerraformStack) -> str:
    return Testing.synth(st)


def resources(synthesized: str, resource_type: str) -> dict:
    return json.loads(synthesized).get("resource", {}).get(resource_type, {})
