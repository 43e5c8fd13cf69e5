"""The platform's capacity, hop by hop: the AWS quotas it leans on (each with its default, Service
Quotas code and source), what one webhook uses of each hop (measured), what the model assumes
(durations), and from an environment's settings the highest sustained webhook rate each hop
carries and what limits it. The settings' rules fail synth when the stack cannot apply or cannot
carry the environment's design rate (`webhooks_per_minute`); `python -m scripts.capacity` prints the
table. Plain Python: no cdktf or provider import.
quotas.py: the quotas; traffic.py: what a webhook uses and what is assumed; hops.py: the
ceilings per hop; checks.py: the synth problems and warnings."""

from constructs.app.capacity.checks import Subscription, email_subscriptions, problems, warnings
from constructs.app.capacity.hops import Hop, Limit, concurrency_claims, design_rate, hops, reservable
from constructs.app.capacity.quotas import QUOTAS, Quota, quota
from constructs.app.capacity.traffic import (
    ASSUMPTIONS,
    LEDGER_INDEXES,
    SENDER_PARALLEL_GROUPS,
    SQS_BATCH,
    TRAFFIC,
    WAF_RATE_WINDOW_SECONDS,
    Assumptions,
    Traffic,
)

__all__ = [
    "ASSUMPTIONS", "LEDGER_INDEXES", "QUOTAS", "SENDER_PARALLEL_GROUPS", "SQS_BATCH", "TRAFFIC",
    "WAF_RATE_WINDOW_SECONDS", "Assumptions", "Hop", "Limit", "Quota", "Subscription", "Traffic",
    "concurrency_claims", "design_rate", "email_subscriptions", "hops", "problems", "quota", "reservable",
    "warnings",
]
