"""The AWS quotas the platform leans on, each with its default per region, Service Quotas code,
source and how to raise it; `quota` reads an environment's value (the setting, else the default)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:
    from constructs.app.settings import Settings

LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_RESERVED = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
EVENTBRIDGE_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
SNS_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/sns.html"
SNS_EMAIL = "https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html"
DYNAMODB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
SQS_MESSAGE_QUOTAS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
SQS_FIFO_QUOTAS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html"


# ----- the quotas ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    """One account quota (per region) and how to raise it: `raise_by` "service-quotas" (a request
    with `code`), "support" (a case with AWS Support) or "hard" (it cannot be raised)."""

    key: str
    service: str
    name: str
    unit: str
    default: int
    source: str
    raise_by: Literal["service-quotas", "support", "hard"] = "service-quotas"
    code: str | None = None
    #: region -> default where it differs from `default`
    regions: Mapping[str, int] = field(default_factory=dict)

    def default_for(self, region: str) -> int:
        return self.regions.get(region, self.default)

    def increase(self, value: float) -> str:
        """What to do to have `value`."""
        target = f"{math.ceil(value):,}"
        if self.raise_by == "service-quotas":
            return (f"request a Service Quotas increase of {self.service} '{self.name}' ({self.code}) to {target}, "
                    f"then set quotas.{self.key}: {math.ceil(value)}")
        if self.raise_by == "support":
            return (f"ask AWS Support to raise {self.service} '{self.name}' to {target}, "
                    f"then set quotas.{self.key}: {math.ceil(value)}")
        return f"{self.service} '{self.name}' is a hard limit and cannot be raised"

    @property
    def label(self) -> str:
        return f"{self.service} '{self.name}'" + (f" ({self.code})" if self.code else "")


def _by_region(groups: Mapping[tuple[str, ...], int]) -> dict[str, int]:
    return {region: value for regions, value in groups.items() for region in regions}


#: Every quota the model reads, by its key under the settings' `quotas` (None there: this default).
QUOTAS: dict[str, Quota] = {q.key: q for q in (
    Quota("lambda_concurrent_executions", "Lambda", "Concurrent executions", "concurrent executions", 1_000,
          LAMBDA_QUOTAS, code="L-B99A9384"),
    # Reserved concurrency may take the account's concurrency less this much: functions without a
    # reservation keep it (new accounts with a lower concurrency quota keep less).
    Quota("lambda_unreserved_minimum", "Lambda", "Unreserved account concurrency minimum", "concurrent executions",
          100, LAMBDA_RESERVED, raise_by="hard"),
    Quota("api_gateway_requests_per_second", "API Gateway", "Throttle rate", "requests/s", 10_000, APIGW_QUOTAS,
          code="L-8A5B8E43"),
    Quota("api_gateway_burst_requests", "API Gateway", "Throttle burst rate", "requests", 5_000, APIGW_QUOTAS,
          raise_by="support", code="L-CDF5615A"),
    Quota("eventbridge_put_events_per_second", "EventBridge", "PutEvents throttle limit in transactions per second",
          "entries/s", 400, EVENTBRIDGE_QUOTAS, code="L-9B653E91", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 10_000,
              ("us-east-2", "eu-central-1", "eu-south-2"): 2_400,
              ("us-west-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-west-2"): 1_200,
              ("ap-east-1", "ap-northeast-2", "ap-south-1", "ca-central-1", "eu-north-1", "eu-west-3",
               "sa-east-1"): 600,
          })),
    Quota("eventbridge_invocations_per_second", "EventBridge", "Invocations throttle limit in transactions per second",
          "invocations/s", 750, EVENTBRIDGE_QUOTAS, code="L-5540C5E3", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 18_750,
              ("us-east-2", "eu-central-1", "eu-south-2"): 4_500,
              ("us-west-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-west-2"): 2_250,
              ("ap-east-1", "ap-northeast-2", "ap-south-1", "ca-central-1", "eu-north-1", "eu-west-3",
               "sa-east-1"): 1_100,
          })),
    Quota("sns_publish_per_second", "SNS", "Publish API throttling per account (standard topics)", "messages/s", 300,
          SNS_QUOTAS, raise_by="support", regions=_by_region({
              ("us-east-1",): 30_000,
              ("us-west-2", "eu-west-1"): 9_000,
              ("us-east-2", "us-west-1", "ap-south-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
               "ap-northeast-1", "eu-central-1"): 1_500,
          })),
    # Above it SNS suspends the subscription (PendingConfirmation), it does not queue (SNS_EMAIL).
    Quota("sns_email_per_subscription_per_second", "SNS", "Delivery rate for email messages", "e-mails/s", 10,
          SNS_QUOTAS, raise_by="hard"),
    Quota("dynamodb_table_write_units_per_second", "DynamoDB", "Table-level write throughput limit", "WRU/s", 40_000,
          DYNAMODB_QUOTAS, code="L-AB614373"),
    # One partition of a table or index; a stream has one shard per partition.
    Quota("dynamodb_partition_write_units_per_second", "DynamoDB", "Partition write throughput", "WRU/s", 1_000,
          DYNAMODB_QUOTAS, raise_by="hard"),
    # High throughput mode (the platform's FIFO queues), per API action; 300 per partition.
    Quota("sqs_fifo_requests_per_second", "SQS", "FIFO high throughput transactions per API action", "requests/s",
          2_400, SQS_MESSAGE_QUOTAS, raise_by="support", regions=_by_region({
              ("us-east-1", "us-west-2", "eu-west-1"): 70_000,
              ("us-east-2", "eu-central-1"): 19_000,
              ("ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1"): 9_000,
              ("eu-west-2", "sa-east-1"): 4_500,
          })),
    Quota("sqs_fifo_in_flight_messages", "SQS", "FIFO messages in flight per queue", "messages", 120_000,
          SQS_FIFO_QUOTAS, raise_by="support"),
    Quota("pipes_concurrent_executions", "EventBridge Pipes", "Concurrent pipe executions per account", "executions",
          1_000, EVENTBRIDGE_QUOTAS, raise_by="support",
          regions=_by_region({("us-east-1", "us-west-2", "eu-west-1"): 3_000})),
)}


def quota(settings: Settings, key: str) -> int:
    """The account's value: the setting `quotas.<key>`, else AWS's default for the region."""
    configured = getattr(settings.quotas, key)
    return QUOTAS[key].default_for(settings.region) if configured is None else configured
