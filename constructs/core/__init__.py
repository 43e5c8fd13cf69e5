"""What every construct of this repository shares, and nothing product-specific:

- `tokens`: `is_token` / `is_literal`, so validation skips values known only at apply time;
- `policy`: IAM policy documents from plain statement dicts;
- AWS limits that several constructs check (below).

No module here imports the app's settings or the Lambda runtime package (`paycore`).
"""

from __future__ import annotations

#: CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)
#: Services the VPC construct can reach through an interface endpoint.
INTERFACE_ENDPOINT_SERVICES = (
    "sqs", "sns", "secretsmanager", "ssm", "kms", "events", "xray", "lambda", "logs",
)
#: Actions a WAF logging filter can keep (ActionCondition).
WAF_LOG_ACTIONS = ("ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT")
