"""us-east-1 list prices the model uses, with their sources and the date they were checked, and
the billing units (DynamoDB write units, 64 KB chunks)."""
from __future__ import annotations

import math

KB, CHUNK_64K = 1024, 64 * 1024

#: us-east-1 list prices, USD. Checked 2026-11-29 against the pages named in PRICE_SOURCES.
PRICE_DATE = "2026-11-29"
PRICES = {
    "apigw_rest_per_request": 3.50e-6,         # first 333 M requests/month
    "waf_per_request": 0.60e-6,
    "lambda_arm_per_gb_second": 0.0000133334,  # arm64, first 7.5 B GB-s/month
    "lambda_per_request": 0.20e-6,
    "ddb_per_wru": 0.625e-6,                   # on-demand, after the November 2024 price cut
    "ddb_per_rru": 0.125e-6,
    "sqs_fifo_per_request": 0.50e-6,           # per 64 KB chunk
    "sqs_standard_per_request": 0.40e-6,
    "s3_put_per_request": 0.005e-3,            # S3 Standard PUT/COPY/POST/LIST
    "s3_get_per_request": 0.0004e-3,
    "eventbridge_per_event": 1.00e-6,          # custom events, per 64 KB chunk
    "pipes_per_request": 0.40e-6,              # after filtering, per 64 KB chunk
    "logs_per_gb_ingested": 0.50,              # CloudWatch Logs standard class
    "logs_ia_per_gb_ingested": 0.25,           # CloudWatch Logs Infrequent Access class
    "xray_per_trace_recorded": 5.00e-6,
    "sns_per_publish": 0.50e-6,                # per 64 KB chunk
    "sns_per_email": 2.00e-5,                  # $2.00 per 100,000 e-mail notifications
    "sns_per_https": 0.60e-6,
    "secrets_per_call": 0.05e-4,               # $0.05 per 10,000 API calls
    "kms_per_call": 0.03e-4,                   # $0.03 per 10,000 requests
    # Vendor delivery leaves through the NAT *instances* (README "Environments": delivery_egress_ips;
    # DESIGN: NAT instances, not NAT gateways): EC2 data transfer out to the internet, first 10 TB
    # a month. The NAT gateway's $0.045/GB processing charge does not apply to an instance; with
    # nat_mode per_az the sender reaches the NAT of its own AZ (no inter-AZ transfer).
    "data_transfer_out_per_gb": 0.09,
}
PRICE_SOURCES = {
    "API Gateway": "https://aws.amazon.com/api-gateway/pricing/",
    "WAF": "https://aws.amazon.com/waf/pricing/",
    "Lambda": "https://aws.amazon.com/lambda/pricing/",
    "DynamoDB": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "SQS": "https://aws.amazon.com/sqs/pricing/",
    "S3": "https://aws.amazon.com/s3/pricing/",
    "EventBridge, Pipes": "https://aws.amazon.com/eventbridge/pricing/",
    "CloudWatch Logs": "https://aws.amazon.com/cloudwatch/pricing/",
    "X-Ray": "https://aws.amazon.com/xray/pricing/",
    "SNS": "https://aws.amazon.com/sns/pricing/",
    "Secrets Manager": "https://aws.amazon.com/secrets-manager/pricing/",
    "KMS": "https://aws.amazon.com/kms/pricing/",
    "Data transfer out (EC2 NAT instance)": "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
}


def wru(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / KB))
