"""The platform's configuration in SSM Parameter Store and its secrets in Secrets Manager
(`Configuration`, parameters.py)."""

from constructs.configuration.parameters import (
    CURSOR_KEY_SECRET,
    DERIVED_NAMES,
    FORBIDDEN_NAMES,
    METRICS_NAMESPACE,
    SECRET_KINDS,
    SERVICE_NAME,
    Configuration,
)

__all__ = ["CURSOR_KEY_SECRET", "DERIVED_NAMES", "FORBIDDEN_NAMES", "METRICS_NAMESPACE", "SECRET_KINDS", "SERVICE_NAME",
           "Configuration"]
