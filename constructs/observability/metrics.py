"""The metrics and log patterns the observability construct watches, named once."""

from __future__ import annotations

BUSINESS_NAMESPACE = "PaymentWebhooks"
LOG_METRICS_NAMESPACE = "PaymentWebhooks/Logs"
SERVICE_DIMENSION = {"service": "payment-webhooks"}
#: Powertools JSON log lines at ERROR level (or worse).
ERROR_LOG_PATTERN = '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
#: The authorizer's decision lines (lambda_src/authorizer: extra field `decision`).
AUTHORIZER_DENY_PATTERN = '{ ($.decision = "deny") || ($.decision = "unauthorized") }'
XRAY_RULE_PRIORITY = 1000
#: The delivery sender's per-vendor metrics (dimensions service, vendor_id) the dashboard shows.
DELIVERY_METRICS = {"attempts": "DeliveryAttempts", "successes": "DeliverySuccesses", "latency": "DeliveryLatency",
                    "exhausted": "DeliveryExhausted"}
ERROR_LOGS_METRIC = "ErrorLogs"
