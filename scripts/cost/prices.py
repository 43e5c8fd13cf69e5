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
    # ---- storage (per GB-month) and what it causes
    "ddb_storage_per_gb_month": 0.25,          # DynamoDB Standard table class
    "ddb_pitr_per_gb_month": 0.20,             # continuous backups, on the table's size
    "ddb_stream_read_request": 0.02e-5,        # $0.02 per 100,000 streams read request units (GetRecords)
    "s3_standard_per_gb_month": 0.023,         # first 50 TB
    "s3_glacier_ir_per_gb_month": 0.004,
    "s3_standard_ia_per_gb_month": 0.0125,
    "s3_transition_per_request": 0.02e-3,      # lifecycle transition to Glacier IR, $0.02 per 1,000
    "s3_transition_ia_per_request": 0.01e-3,   # lifecycle transition to Standard-IA, $0.01 per 1,000
    "logs_storage_per_gb_month": 0.03,         # CloudWatch Logs archived (compressed) storage
    "vended_logs_per_gb": 0.50,                # WAF and VPC flow logs delivered to CloudWatch Logs, first 10 TB
}

#: us-east-1 list prices per month (730 hours) of what the stack keeps running, USD; the storage
#: prices above and these written on FIXED_PRICE_DATE from the pages in PRICE_SOURCES.
FIXED_PRICE_DATE = "2026-12-07"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
FIXED_PRICES = {
    "lambda_provisioned_arm_per_gb_second": 0.0000033334,  # provisioned concurrency kept warm, arm64
    "lambda_provisioned_arm_duration_per_gb_second": 0.0000086667,  # duration on provisioned concurrency
    "ebs_gp3_per_gb_month": 0.08,
    "public_ipv4_per_hour": 0.005,             # every public IPv4 address, attached or not (since 2024-02-01)
    "interface_endpoint_per_az_hour": 0.01,    # AWS PrivateLink, per endpoint per AZ
    "interface_endpoint_per_gb": 0.01,         # data processed, first PB
    "waf_web_acl_month": 5.00,
    "waf_rule_month": 1.00,                    # per rule or (AWS managed, non-premium) rule group
    "kms_key_month": 1.00,                     # customer managed key (rotation: first two rotations +$1 each)
    "secret_month": 0.40,
    "alarm_metric_month": 0.10,                # standard resolution, per metric an alarm watches
    "dashboard_month": 3.00,                   # beyond the account's 3 free dashboards
    "custom_metric_month": 0.30,               # first 10,000 metrics
}
#: EC2 Linux on-demand, per hour (the NAT instances' Graviton types).
EC2_PER_HOUR = {"t4g.nano": 0.0042, "t4g.micro": 0.0084, "t4g.small": 0.0168, "t4g.medium": 0.0336, "t4g.large": 0.0672}
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
    "Lambda provisioned concurrency": "https://aws.amazon.com/lambda/pricing/#Provisioned_Concurrency_Pricing",
    "EC2 instances (NAT), EBS gp3": "https://aws.amazon.com/ec2/pricing/on-demand/, https://aws.amazon.com/ebs/pricing/",
    "Public IPv4 addresses": "https://aws.amazon.com/vpc/pricing/ (Public IPv4 Address tab)",
    "Interface endpoints": "https://aws.amazon.com/privatelink/pricing/",
    "WAF web ACL and rules": "https://aws.amazon.com/waf/pricing/",
    "CloudWatch alarms, dashboards, custom metrics, log storage, vended logs": "https://aws.amazon.com/cloudwatch/pricing/",
    "DynamoDB storage, PITR, streams": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "S3 storage and lifecycle transitions": "https://aws.amazon.com/s3/pricing/",
}


def wru(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / KB))
