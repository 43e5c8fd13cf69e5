"""Vendor delivery: signed outbound webhooks with durable retries, reusable in any stack
(`VendorDelivery`, vendor_delivery.py; its options in options.py)."""

from constructs.delivery.options import (
    DeliveryKeys,
    DeliveryQueueOptions,
    DeliveryRuleOptions,
    DeliveryTableOptions,
    EndpointOptions,
    FunctionBuilder,
    SenderOptions,
)
from constructs.delivery.vendor_delivery import (
    ADVANCED_PARAMETER_BYTES,
    INDEXES,
    STANDARD_PARAMETER_BYTES,
    VendorDelivery,
)

__all__ = [
    "ADVANCED_PARAMETER_BYTES", "INDEXES", "STANDARD_PARAMETER_BYTES", "DeliveryKeys", "DeliveryQueueOptions",
    "DeliveryRuleOptions", "DeliveryTableOptions", "EndpointOptions", "FunctionBuilder", "SenderOptions",
    "VendorDelivery",
]
