"""The platform's nine functions as data for `constructs.processing.FunctionGroup`: their code
(the deterministic zips of scripts/packaging), handlers, sizing from the settings, and which
configuration values each handler reads (lambda_src/README.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from constructs.app.settings import Settings
from constructs.app.webhook_routes import ROUTES_VARIABLE, authorizer_routes
from constructs.ingress import SqsRoute
from constructs.processing import FunctionSpec
from constructs.queueing import MAX_MESSAGE_SIZE_BYTES
from scripts.packaging import build_all

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_BUILD_DIR = ROOT / "build" / "lambda"
#: the processor's alias, which its event source invokes and provisioned concurrency keeps warm
PROCESSOR_ALIAS = "live"

# Which configuration values each handler reads (lambda_src/README.md); all get the common ones.
FUNCTION_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "authorizer": ("SECRET_PREFIX", "WEBHOOK_ROUTES"),
    "validator": ("INGEST_QUEUE_URL", "INGEST_MAX_MESSAGE_BYTES", "SECRET_PREFIX", "TABLE_NAME", "IDEMPOTENCY_TABLE"),
    "processor": ("TABLE_NAME", "ARCHIVE_BUCKET", "SECRET_PREFIX", "ENABLED_PROVIDERS",
                  "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS", "PAYPAL_MODE", "PROCESSOR_PARALLEL_GROUPS"),
    "archiver": ("TABLE_NAME", "ARCHIVE_BUCKET", "ARCHIVE_KMS_KEY_ARN"),
    "notifier": ("NOTIFY_MARKERS_TABLE", "VENDOR_TOPIC_ARN", "KNOWN_VENDORS", "NOTIFICATIONS_MAX_RECEIVE_COUNT"),
    "reader": ("TABLE_NAME", "SECRET_PREFIX", "API_BASE_PATH"),
    "status": ("TABLE_NAME", "API_BASE_PATH"),
    "notify": ("TABLE_NAME", "VENDOR_TOPIC_ARN", "NOTIFICATIONS_QUEUE_URL", "API_BASE_PATH"),
    "reconciler": ("TABLE_NAME", "INGEST_QUEUE_URL", "SECRET_PREFIX", "CHECKPOINT_TABLE", "RECONCILE_INTERVAL_SECONDS",
                   "RECONCILE_LOOKBACK_SECONDS", "PAYPAL_API_BASE", "ALLOW_LOOPBACK_HTTP"),
}
#: PayPal's REST API host per PayPal mode (PayPal REST API reference: "Base URL(s)").
PAYPAL_API_BASES = {"live": "https://api-m.paypal.com", "sandbox": "https://api-m.sandbox.paypal.com"}
COMMON_ENVIRONMENT = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "AWS_ENDPOINT_URL")
# The code folder (lambda_src/{folder}/{folder}_handler.py, the zip's name) of a function whose
# folder is not its name: `notify` runs the manual notification API, apart from the `notifier`.
FUNCTION_CODE: dict[str, str] = {"notify": "manual_notify"}


def code_folder(name: str) -> str:
    return FUNCTION_CODE.get(name, name)


@lru_cache(maxsize=1)
def lambda_artifacts() -> dict[str, dict[str, Any]]:
    """Build (or reuse, it caches) the deterministic Lambda zips with scripts.packaging and return
    its manifest {name: {path, sha256, source_code_hash, ...}} for the 8 functions and "layer".
    Once per process: every stack of one synth deploys the same zips."""
    manifest: dict[str, dict[str, Any]] = build_all(LAMBDA_BUILD_DIR)
    return manifest


def function_environment(settings: Settings, configuration: Mapping[str, str], *, archive_kms_key_arn: str,
                         webhook_routes: Sequence[SqsRoute]) -> dict[str, str]:
    """Every value the eight functions may read (function_specs gives each only its keys):
    the configuration's, and what the settings, the archive key and the webhook routes decide."""
    environment = {
        **configuration,
        "ARCHIVE_KMS_KEY_ARN": archive_kms_key_arn,
        "INGEST_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_SIZE_BYTES),
        "PAYPAL_MAX_TRANSMISSION_AGE_SECONDS": str(settings.paypal_max_transmission_age_seconds),
        "PAYPAL_MODE": settings.paypal_mode,
        "PROCESSOR_PARALLEL_GROUPS": str(settings.processor_parallel_groups),
        "CHECKPOINT_TABLE": settings.names.reconcile_checkpoints_table,
        "RECONCILE_INTERVAL_SECONDS": str(settings.reconcile.interval_minutes * 60),
        "RECONCILE_LOOKBACK_SECONDS": str(settings.reconcile.lookback_minutes * 60),
        "PAYPAL_API_BASE": PAYPAL_API_BASES[settings.paypal_mode],
        "NOTIFICATIONS_MAX_RECEIVE_COUNT": str(settings.notifications_max_receive_count),
        ROUTES_VARIABLE: authorizer_routes(webhook_routes),
    }
    if settings.emulator:  # the local platform's fake provider APIs answer on loopback http
        environment["ALLOW_LOOPBACK_HTTP"] = "true"
    domain = settings.custom_domain if settings.enabled("custom_domain") else None
    if domain is not None and domain.base_path:
        # on the custom domain API Gateway's `path` starts with the base path mapping
        environment["API_BASE_PATH"] = f"/{domain.base_path}"
    vendors = ",".join(settings.known_vendor_ids)
    if vendors:
        environment["KNOWN_VENDORS"] = vendors
    return environment


def function_specs(settings: Settings, artifacts: Mapping[str, Mapping[str, Any]],
                   environment: Mapping[str, str]) -> dict[str, FunctionSpec]:
    """name -> FunctionSpec of every function the settings size: `payment-{name}-{env}`, the zip
    of its code folder (`code_folder(name)`) and handler `{folder}_handler.handler`, only the
    configuration keys FUNCTION_ENVIRONMENT lists."""
    problems = []
    missing = sorted(({*map(code_folder, settings.functions), "layer"}) - set(artifacts))
    if missing:
        problems.append(f"artifacts has no zip for {missing}: run python -m scripts.packaging")
    unknown = sorted(set(settings.functions) - set(FUNCTION_ENVIRONMENT))
    if unknown:
        problems.append(f"functions has names without an environment contract: {unknown}")
    if problems:
        raise ValueError("function_specs: " + "; ".join(problems))
    specs: dict[str, FunctionSpec] = {}
    for name, sizing in settings.functions.items():
        keys = FUNCTION_ENVIRONMENT[name] + COMMON_ENVIRONMENT
        code = code_folder(name)
        specs[name] = FunctionSpec(
            function_name=settings.names.function(name),
            handler=f"{code}_handler.handler",
            code_path=artifacts[code]["path"],
            source_code_hash=artifacts[code]["source_code_hash"],
            memory_size_mb=sizing.memory_mb,
            timeout_seconds=sizing.timeout_seconds,
            reserved_concurrent_executions=sizing.reserved_concurrency,
            environment={k: environment[k] for k in keys if k in environment},
            publish=name == "processor",
        )
    return specs


# The delivery functions (lambda_src/README.md, "Vendor delivery"): code folder -> the
# configuration keys each reads besides the DELIVERY_* settings and the names the construct adds.
DELIVERY_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "delivery_fanout": (),
    "delivery_sender": ("SECRET_PREFIX",),
}


def delivery_function_specs(settings: Settings, artifacts: Mapping[str, Mapping[str, Any]],
                            environment: Mapping[str, str]) -> dict[str, FunctionSpec]:
    """"fanout" and "sender" -> FunctionSpec (names from `settings.names`, sizing from
    `settings.delivery`); `constructs.delivery.VendorDelivery` adds its queue, table, parameter
    and bus names to their environment."""
    missing = sorted(set(DELIVERY_FUNCTIONS) - set(artifacts))
    if missing:
        raise ValueError(f"delivery_function_specs: artifacts has no zip for {missing}: run python -m scripts.packaging")
    d, names = settings.delivery, settings.names
    runtime = d.runtime_environment(allow_loopback_http=settings.emulator)
    sizing = {"delivery_fanout": (names.delivery_fanout_function, d.fanout_timeout_seconds, d.fanout_reserved_concurrency),
              "delivery_sender": (names.delivery_sender_function, d.sender_timeout_seconds, d.sender_reserved_concurrency)}
    specs = {}
    for code, keys in DELIVERY_FUNCTIONS.items():
        name, timeout, reserved = sizing[code]
        specs[code.removeprefix("delivery_")] = FunctionSpec(
            function_name=name, handler=f"{code}_handler.handler", code_path=artifacts[code]["path"],
            source_code_hash=artifacts[code]["source_code_hash"], memory_size_mb=d.memory_mb,
            timeout_seconds=timeout, reserved_concurrent_executions=reserved,
            environment={**{k: environment[k] for k in keys + COMMON_ENVIRONMENT if k in environment}, **runtime},
        )
    return specs
