"""The model's parameters (:class:`CostSettings`) and where they come from: the environment's
settings (cdktf.json, ``constructs.app.environments.load_settings``), the deployed access log
format, the secrets each function reads; "now" is what the stack deploys."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

#: Log lines on the success path, one per webhook (or per sale), by function and message: at DEBUG
#: (metrics count the same outcomes), so written only where ``log_level`` is DEBUG. The run logs at
#: the local environment's level (DEBUG).
SUCCESS_LINES = {
    ("processor", "transaction event recorded"),
    ("authorizer", "webhook gate: allowed"),
    ("notifier", "notification published"),
}
LOG_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def line_written(fn: str, kind: str, settings: CostSettings) -> bool:
    """Whether a captured line kind (``LEVEL message``, ``EMF``, ``other``) is written under `settings`."""
    level, _, message = kind.partition(" ")
    if (fn, message) in SUCCESS_LINES:
        return settings.success_info_logs
    if level not in LOG_LEVELS:  # EMF (metrics) and unstructured lines
        return True
    return LOG_LEVELS[level] >= LOG_LEVELS.get(settings.log_level, 20)


@dataclass(frozen=True)
class CostSettings:
    """What the deployed environment does beyond what the local run shows: the model's parameters,
    set from the environment's settings by :func:`deployed_settings`; the defaults are the model's
    assumptions where neither the settings nor the run say."""

    environment: str
    memory_mb: dict = field(default_factory=lambda: {
        "processor": 3008, "authorizer": 512, "archiver": 512, "notifier": 512})
    # Modelled billed duration (ms): per invocation + per record. From the CPU benches
    # (scripts/bench/processor.py) plus AWS round trips (DynamoDB ~4 ms per write, S3 ~20 ms).
    ms_per_invocation: dict = field(default_factory=lambda: {
        "processor": 5.0, "authorizer": 3.0, "archiver": 40.0, "notifier": 5.0,
        "delivery_fanout": 5.0, "delivery_sender": 5.0})
    # (the delivery fan-out: one SendMessageBatch round trip per record; the sender's per record is
    # its DynamoDB round trips as counted + vendor_latency_ms, its message groups in parallel)
    ms_per_record: dict = field(default_factory=lambda: {
        "authorizer": 0.0, "archiver": 1.0, "notifier": 12.0, "delivery_fanout": 10.0})
    # The processor's billed time per record: its CPU (scripts/bench/processor.py, with the ledger's
    # serialization) + its DynamoDB round trips per record as counted in the run x a latency.
    processor_cpu_ms: float = 0.5
    dynamodb_latency_ms: float = 4.0           # one PutItem/UpdateItem in-region, modelled
    processor_parallelism: int = 1             # message groups of a batch processed at once
    xray_sampling_rate: float = 0.1            # settings.xray_sampling_rate (1 trace per sampled webhook)
    access_log_bytes: int = 480                # one API Gateway access log line (deployed: access_log_bytes())
    access_log_class: str = "STANDARD"         # the API access log group: STANDARD | INFREQUENT_ACCESS
    lambda_platform_log_bytes: int = 330       # START + END + REPORT (with X-Ray segment) per invocation
    waf_log_bytes: int = 1500                  # one WAF log record (headers, rule matches), modelled
    waf_logging: str = "all"                   # "all" | "blocked_and_counted" (logging filter)
    waf_blocked_or_counted_share: float = 0.005  # share of requests WAF blocks or counts, modelled
    pipe_a_batch_size: int = 10                # settings.pipes.batch_size
    pipe_a_window_seconds: int = 0             # maximum_batching_window_in_seconds
    pipe_b_routed_only: bool = False           # Pipe B filter: only the statuses a rule routes
    event_row: str = "gzip"                    # "gzip" (raw_gzip rows) | "zd1" (paycore.rawcodec; see realistic_sizes)
    gsi_projection: str = "ALL"                # "ALL" | "INCLUDE" (public state fields, < 1 KB) | "KEYS_ONLY"
    single_state_write: bool = False           # create-or-advance the state row in one conditional write
    redelivery_reads: bool = False             # a redelivery reads the event and state rows before writing
    success_info_logs: bool = True             # one INFO line per webhook per function on the success path
    log_level: str = "INFO"                    # settings.log_level: lines below it are not written
    alert_email_filtered: bool = False         # alert e-mail on the vendor topic with a filter policy
    authorizer_cache_seconds: int = 0          # REQUEST authorizer result TTL (0: every request invokes it)
    authorizer_cache_miss_share: float = 0.05  # with a TTL: share of requests that still invoke it, modelled
    lambda_system_log_level: str = "INFO"      # logging_config.system_log_level; WARN drops START/END/REPORT
    # SQS event source mappings delete a processed batch with one DeleteMessageBatch (the local
    # runner deletes message by message): deletes are counted per invocation, not per message.
    esm_batch_deletes: bool = True
    # The runner polls every queue until a receive comes back empty, and again each round while it
    # waits for a message the delivery sender held back; Lambda's pollers long-poll, and their empty
    # receives are per time (fixed), not per message: receives are counted one per invocation.
    esm_empty_receives: bool = False
    # Time-bound calls are priced at the design rate, over 10,000
    # webhooks a minute at Black Friday peaks - the steady traffic the model assumes elsewhere
    # (full Pipe A batches). Secrets Manager reads are cached per execution environment, so their
    # calls per minute = warm environments x secrets the function reads x 60 / cache seconds.
    webhooks_per_minute: int = 10_000
    # Warm environments per function that reads secrets, modelled: at 10,000/min (~167 per second)
    # and ~50 ms per invocation incl. overhead, Little's law gives ~8 busy at once; 10 rounds up
    # (prod keeps 20 processor environments provisioned, but a batch of 10 serves 10 webhooks).
    warm_environments: int = 10
    secret_cache_seconds: int = 300            # paycore.secrets.DEFAULT_MAX_AGE_SECONDS (see environment_facts)
    # Secrets each function reads per cache period, counted from the settings and the code (see
    # environment_facts): the authorizer a gate key per enabled provider, the processor a signing
    # secret per provider that needs one, the delivery sender one per vendor endpoint.
    secrets_read: dict = field(default_factory=dict)
    # Pipe B's statuses: the completed-payment rule's (pipes.status_routed_statuses: the webhook
    # path) and the ones only vendor delivery routes (Settings.routed_statuses less those: delivery's)
    webhook_statuses: tuple[str, ...] = ("succeeded",)
    delivery_statuses: tuple[str, ...] = ()
    # Vendor delivery (the block after the webhook total): the functions' memory (delivery.memory_mb),
    # a vendor's answer time (modelled: a 2xx from an HTTPS endpoint incl. a new TLS connection
    # from us-east-1), and the bytes one request sends through the NAT (modelled: TCP + TLS
    # handshake ~1.2 KB, headers with the signature ~0.4 KB, the JSON body ~0.5 KB; responses
    # come in, which is free).
    delivery_memory_mb: int = 512
    vendor_latency_ms: float = 200.0
    vendor_request_bytes: int = 2048


def deployed_settings(environment: str, *, overrides: dict | None = None, measured: dict | None = None) -> CostSettings:
    """What the environment deploys, from its settings (cdktf.json; `overrides` in the settings'
    shape, for tests), and what the code does as `measured` (:func:`scripts.cost.inputs.code_as_measured`)
    says, else as :func:`base_settings` assumes."""
    try:
        from constructs.app.environments import load_settings
    except ImportError:
        raise SystemExit("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None

    s = load_settings(environment, overrides, environ={})
    base = base_settings(environment)
    return dataclasses.replace(
        base,
        memory_mb={name: s.function(name).memory_mb for name in base.memory_mb},
        xray_sampling_rate=s.xray_sampling_rate,
        waf_logging="blocked_and_counted" if s.api.waf_log_actions else "all",
        pipe_a_batch_size=s.pipes.archive_batch_size,
        pipe_a_window_seconds=s.pipes.archive_batching_window_seconds,
        pipe_b_routed_only=bool(s.pipes.status_routed_statuses),
        gsi_projection=s.ledger_index_projection,
        alert_email_filtered=bool(s.alert_email_vendor_ids),
        lambda_system_log_level=s.lambda_system_log_level if s.enabled("lambda_logging_config") else "INFO",
        success_info_logs=s.log_level == "DEBUG",
        log_level=s.log_level,
        access_log_class=s.api.access_log_class,
        access_log_bytes=access_log_bytes(),
        processor_parallelism=s.processor_parallel_groups,
        webhook_statuses=s.pipes.status_routed_statuses or base.webhook_statuses,  # empty: unfiltered, unused
        delivery_statuses=tuple(x for x in s.delivery.routed_statuses if x not in s.pipes.status_routed_statuses),
        delivery_memory_mb=s.delivery.memory_mb,
        **(measured or {}),
    )


#: $context values of one webhook request, to render the stage's access log format (the size of a line).
ACCESS_LOG_SAMPLE = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "$context.identity.sourceIp": "54.187.174.169",
    "$context.identity.caller": "-", "$context.requestTime": "29/Nov/2026:05:47:24 +0000",
    "$context.httpMethod": "POST", "$context.resourcePath": "/webhooks/{provider}", "$context.status": "200",
    "$context.protocol": "HTTP/1.1", "$context.responseLength": "77", "$context.integration.status": "200",
    "$context.integrationLatency": "21", "$context.responseLatency": "48", "$context.authorizer.error": "-",
    "$context.waf.status": "200", "$context.error.message": "-",
    "$context.xrayTraceId": "Root=1-67a1b2c3-0123456789abcdef01234567;Sampled=0",
}


def access_log_bytes(log_format: str | None = None) -> int:
    """Bytes of one access log line: the stage's format (constructs.ingress.ACCESS_LOG_FORMAT)
    rendered with :data:`ACCESS_LOG_SAMPLE`, plus the newline."""
    if log_format is None:
        from constructs.ingress import ACCESS_LOG_FORMAT

        log_format = ACCESS_LOG_FORMAT
    line = log_format
    for variable in sorted(ACCESS_LOG_SAMPLE, key=len, reverse=True):  # $context.status before $context.s...
        line = line.replace(variable, ACCESS_LOG_SAMPLE[variable])
    return len(line.encode()) + 1


@functools.lru_cache(maxsize=None)
def environment_facts(environment: str) -> dict:
    """What the model counts from the environment's settings and the code rather than assume:
    the secrets each function reads (the authorizer a gate key per enabled provider,
    ``SecretStore.gate_keys``; the processor a signing secret per enabled provider whose adapter
    has ``secret_required``; the delivery sender a signing secret per configured endpoint), the
    secrets cache period, and the statuses Pipe B puts on the bus only for vendor delivery."""
    try:
        from constructs.app.environments import load_settings
        from paycore import providers
        from paycore.secrets import DEFAULT_MAX_AGE_SECONDS
    except ImportError:
        raise SystemExit("run from the repository after `source scripts/env.sh` (the settings are not importable)") from None

    s = load_settings(environment, None, environ={})
    if s.emulator:
        raise SystemExit(f"{environment} runs on the local emulator: it has no AWS cost to model (try prod or dev)")
    return {
        "secrets_read": {
            "authorizer": len(s.providers),
            "processor": sum(1 for name in s.providers if providers.get(name).secret_required),
            "delivery_sender": len(s.delivery.endpoints(allow_loopback_http=s.emulator)),
        },
        "secret_cache_seconds": DEFAULT_MAX_AGE_SECONDS,
        "delivery_statuses": tuple(x for x in s.delivery.routed_statuses if x not in s.pipes.status_routed_statuses),
    }


def base_settings(environment: str) -> CostSettings:
    """The model's parameters for `environment` before its settings are read: the defaults of
    :class:`CostSettings` and what :func:`environment_facts` counts."""
    return dataclasses.replace(CostSettings(environment), **environment_facts(environment))
