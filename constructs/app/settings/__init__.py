"""The typed settings of the platform, one frozen instance per environment: a pydantic schema of
cdktf.json's `context.environments.<env>` (`schema.Settings`, its parts in `sections`) with the
defaults, ranges, value sets and rules between fields in one place; unknown keys are errors.
AWS's own figures come from `constructs.core.limits`, the runtime's from `paycore`.
`constructs.app.environments.load_settings(name)` reads, overrides and validates; a mistake
raises `SettingsError`, one line per problem (`env: key.path: rule, got value`, errors.py).
"""

from constructs.app.settings.errors import SettingsError
from constructs.app.settings.schema import (
    FEATURES,
    FUNCTION_NAMES,
    LOCAL_ACCOUNT_ID,
    LOCAL_VENDORS,
    Settings,
)
from constructs.app.settings.sections import (
    VENDOR_ID,
    AlarmSettings,
    ApiSettings,
    ArchiveSettings,
    BackendSettings,
    CustomDomain,
    DeliverySettings,
    ReconcileSettings,
    FunctionSettings,
    LocalEmulator,
    NetworkSettings,
    PipeSettings,
    ProcessorScaling,
    QuotaSettings,
    ScheduledPeak,
    VendorSubscription,
)

__all__ = [
    "FEATURES", "FUNCTION_NAMES", "LOCAL_ACCOUNT_ID", "LOCAL_VENDORS", "VENDOR_ID", "AlarmSettings", "ApiSettings",
    "ArchiveSettings", "BackendSettings", "CustomDomain", "DeliverySettings", "FunctionSettings", "LocalEmulator",
    "NetworkSettings", "PipeSettings", "ProcessorScaling", "QuotaSettings", "ReconcileSettings", "ScheduledPeak",
    "Settings", "SettingsError", "VendorSubscription",
]
