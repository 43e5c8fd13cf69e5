"""KMS customer-managed keys, one per data class, with service key policies (`Security`, keys.py)."""

from constructs.security.keys import ADMIN_ACTIONS, DATA_CLASSES, KEY_DEFAULTS, USE_ACTIONS, VIA_SERVICE, Security

__all__ = ["ADMIN_ACTIONS", "DATA_CLASSES", "KEY_DEFAULTS", "USE_ACTIONS", "VIA_SERVICE", "Security"]
