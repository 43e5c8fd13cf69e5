"""Stand-in resources for one construct under test (keys, queues, functions, a stream table), in a
small stack from infra_synth.small_stack: the construct synthesizes and validates on its own."""

from __future__ import annotations

from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.dynamodb_table import DynamodbTable
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

ROLE_ARN = "arn:aws:iam::123456789012:role/stand-in"


def key(st: TerraformStack, name: str) -> KmsKey:
    return KmsKey(st, f"key-{name}", description=name, enable_key_rotation=True)


def queue(st: TerraformStack, name: str, fifo: bool = False) -> SqsQueue:
    return SqsQueue(st, f"queue-{name}", name=f"{name}.fifo" if fifo else name, fifo_queue=fifo or None)


def function(st: TerraformStack, name: str) -> LambdaFunction:
    return LambdaFunction(st, f"fn-{name}", function_name=f"payment-{name}-test", role=ROLE_ARN,
                          runtime="python3.11", handler=f"{name}_handler.handler", filename="stand-in.zip")


def stream_table(st: TerraformStack) -> DynamodbTable:
    return DynamodbTable(st, "table", name="payment-transactions-test", hash_key="transaction_id",
                         range_key="timestamp", billing_mode="PAY_PER_REQUEST", stream_enabled=True,
                         stream_view_type="NEW_IMAGE",
                         attribute=[{"name": "transaction_id", "type": "S"}, {"name": "timestamp", "type": "S"}])
