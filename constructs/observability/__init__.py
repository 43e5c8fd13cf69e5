"""Observability: alerts topic, metric filters, alarms, dashboard and the X-Ray sampling rule
(`Observability`, monitoring.py; the dashboard document in dashboard.py, the watched metrics in
metrics.py, the options in options.py)."""

from constructs.observability.dashboard import dashboard_body
from constructs.observability.metrics import (
    AUTHORIZER_DENY_PATTERN,
    BUSINESS_NAMESPACE,
    DELIVERY_METRICS,
    ERROR_LOG_PATTERN,
    ERROR_LOGS_METRIC,
    LOG_METRICS_NAMESPACE,
    SERVICE_DIMENSION,
    XRAY_RULE_PRIORITY,
)
from constructs.observability.monitoring import Observability
from constructs.observability.options import (
    AlarmOptions,
    AlertOptions,
    MetricAlarm,
    WatchedFunction,
    WatchedResources,
)

__all__ = [
    "AUTHORIZER_DENY_PATTERN", "BUSINESS_NAMESPACE", "DELIVERY_METRICS", "ERROR_LOGS_METRIC", "ERROR_LOG_PATTERN",
    "LOG_METRICS_NAMESPACE", "SERVICE_DIMENSION", "XRAY_RULE_PRIORITY", "AlarmOptions", "AlertOptions", "MetricAlarm",
    "Observability", "WatchedFunction", "WatchedResources", "dashboard_body",
]
