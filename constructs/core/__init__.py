"""What every construct of this repository shares, and nothing product-specific:

- `tokens`: `is_token` / `is_literal`, so validation skips values known only at apply time;
- `policy`: IAM policy documents from plain statement dicts;
- `limits`: AWS's own limits and value sets, which the constructs and the settings schema check.

No module here imports the app's settings or the Lambda runtime package (`paycore`).
"""

from __future__ import annotations

from constructs.core.limits import (  # noqa: F401  (re-exported: the constructs import them from here)
    INTERFACE_ENDPOINT_SERVICES,
    LOG_RETENTION_DAYS,
    WAF_LOG_ACTIONS,
)
