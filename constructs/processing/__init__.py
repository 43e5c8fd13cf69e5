"""Processing: Lambda functions with secure defaults, reusable in any stack.

- `ServerlessFunction` (function.py): one function with its own role, log group and async failure handling.
- `FunctionGroup` (group.py): a shared layer and any number of functions described as data
  (`FunctionSpec`), plus SQS event sources (`add_queue_event_source`).
- `ProvisionedConcurrencyAutoscaling` (scaling.py): an alias, provisioned concurrency and
  Application Auto Scaling for a latency-critical function, with scheduled minimums for known peaks.
- options.py: `FunctionSpec`, `VpcPlacement`, `AsyncInvokeOptions`, `LayerOptions`, `ScheduledMinimum`.
"""

from constructs.processing.function import (
    ARCHITECTURE,
    RUNTIME,
    SYSTEM_LOG_LEVELS,
    UNSCOPABLE_ACTIONS,
    ServerlessFunction,
)
from constructs.processing.group import SQS_BATCH_SIZE, SQS_CONSUME_ACTIONS, FunctionGroup
from constructs.processing.options import (
    AsyncInvokeOptions,
    FunctionSpec,
    LayerOptions,
    ScheduledMinimum,
    VpcPlacement,
)
from constructs.processing.scaling import ProvisionedConcurrencyAutoscaling

__all__ = [
    "ARCHITECTURE", "RUNTIME", "SQS_BATCH_SIZE", "SQS_CONSUME_ACTIONS", "SYSTEM_LOG_LEVELS", "UNSCOPABLE_ACTIONS",
    "AsyncInvokeOptions", "FunctionGroup", "FunctionSpec", "LayerOptions", "ProvisionedConcurrencyAutoscaling",
    "ScheduledMinimum", "ServerlessFunction", "VpcPlacement",
]
