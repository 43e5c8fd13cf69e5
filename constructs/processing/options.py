"""The options of the processing constructs, grouped by concern: a function as data
(`FunctionSpec`), its VPC placement, its asynchronous invocations and a shared layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence


@dataclass(frozen=True)
class FunctionSpec:
    """One function, as data.

    function_name: the deployed name (1..64 of [A-Za-z0-9_-]). handler: `module.function`.
    code_path: the function's zip (a local file; a `FunctionGroup` makes it an asset). source_code_hash:
    base64 SHA-256 of the zip. memory_size_mb 128..10240 (default 512), timeout_seconds 1..900 (default
    30), reserved_concurrent_executions None (unreserved, default) or >= 1.
    environment: its variables (default none). publish: publish a version, needed for an alias
    (default False).
    """

    function_name: str
    handler: str
    code_path: str
    source_code_hash: str
    memory_size_mb: int = 512
    timeout_seconds: int = 30
    reserved_concurrent_executions: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    publish: bool = False


@dataclass(frozen=True)
class VpcPlacement:
    """The private subnets a function runs in and its security groups (both required)."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


@dataclass(frozen=True)
class AsyncInvokeOptions:
    """Asynchronous invocations (Lambda's event invoke config).

    max_retry_attempts: 0..2 (Lambda limit); default 2. max_event_age_seconds: 60..21600; default 3600.
    failure_queue_arn: the SQS on-failure destination; default None (none).
    failure_queue_arn_by_name: the same queue's ARN built from its name
      (`arn:{partition}:sqs:{region}:{account}:{name}`); when given, the role's policy names it
      instead, so the function does not wait for the queue to be created (the provider waits ~25 s
      for a new queue's attributes). The invoke config keeps the queue's own ARN, and with it the
      order. Default None.
    failure_queue_kms_key_arn: that queue's KMS key (the role may send to it); default None.
    """

    max_retry_attempts: int = 2
    max_event_age_seconds: int = 3600
    failure_queue_arn: str | None = None
    failure_queue_arn_by_name: str | None = None
    failure_queue_kms_key_arn: str | None = None


#: Lambda's own defaults for asynchronous invocations, without an on-failure queue.
DEFAULT_ASYNC_INVOKE = AsyncInvokeOptions()


@dataclass(frozen=True)
class LayerOptions:
    """A layer every function of a group gets (python3.11, arm64): its name, its zip (a local
    file; it becomes an asset), the zip's base64 SHA-256 and an optional description."""

    name: str
    zip_path: str
    source_code_hash: str
    description: str | None = None


@dataclass(frozen=True)
class ScheduledMinimum:
    """A known peak: from `start` to `end` (UTC, `2026-11-27T00:00:00`) the scaling target keeps at
    least `min_capacity` (Application Auto Scaling scheduled actions; target tracking still scales
    above it). `name`: 1..40 of [a-z0-9-], unique per target."""

    name: str
    start: str
    end: str
    min_capacity: int
