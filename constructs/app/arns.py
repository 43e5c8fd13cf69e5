"""ARNs of resources that are built after the constructs that must name them, fixed by their names
(the one place the stack predicts an ARN instead of reading it from a construct):

- the completed-payment rule: the notifications queue's policy admits it, and the rule (built by
  the fan-out, after the queue) targets the queue;
- the vendor topic: the configuration and the notifier's role name it; the fan-out builds it after
  the functions, whose archiver its pipe targets;
- the alerts topic: the delivery's alerts rule targets it; observability builds it last, as it
  watches every function and queue, the delivery's included;
- the async-failure queue: the functions' roles name it by name, so no function waits for the
  queue's creation (the provider's ~25 s wait for a new queue's attributes);
- the roles that may send to the ingest queue (the API's queue role, the validator's role, the
  operator role, the reconciler's role): the queue's policy names them, and they are built after the queue (the API and
  the functions need it). Their names are the constructs' own (`{api}-sqs-send` in WebhookIngress,
  `{function}-role` in ServerlessFunction); tests/test_hops.py fails if a prediction drifts (the
  hop of a role the queue's policy no longer names is refused).
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs.app.names import Names


@dataclass(frozen=True)
class ArnsByName:
    """The ARNs of one environment's late resources in `partition`, `region` and `account_id`
    (tokens of the stack's data sources)."""

    names: Names
    partition: str
    region: str
    account_id: str

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def completed_rule(self) -> str:
        return self._arn("events", f"rule/{self.names.event_bus}/{self.names.completed_rule}")

    @property
    def vendor_topic(self) -> str:
        return self._arn("sns", self.names.vendor_topic)

    @property
    def alerts_topic(self) -> str:
        return self._arn("sns", self.names.alerts_topic)

    @property
    def lambda_failures_queue(self) -> str:
        return self._arn("sqs", self.names.lambda_failures_queue)

    def role(self, name: str) -> str:
        """An IAM role of the account (IAM is global: no region)."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{name}"

    @property
    def ingest_senders(self) -> tuple[str, ...]:
        """The roles that send to the ingest queue: API Gateway's (webhooks), the validator's
        (direct payments), the operators' (replay and redrive tools) and the reconciler's (fetched events)."""
        return (self.role(f"{self.names.api}-sqs-send"), self.role(f"{self.names.function('validator')}-role"),
                self.role(self.names.operator_role), self.role(f"{self.names.function('reconciler')}-role"))
