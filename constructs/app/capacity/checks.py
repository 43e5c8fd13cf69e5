"""What the settings' rules and the CLI ask of the model: the problems that fail synth, the
warnings it prints, the e-mail subscriptions SNS's e-mail rate bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from constructs.app.capacity.hops import concurrency_claims, design_rate, hops, reservable
from constructs.app.capacity.quotas import QUOTAS, quota
from constructs.app.capacity.traffic import ASSUMPTIONS, TRAFFIC, Assumptions, Traffic

if TYPE_CHECKING:
    from constructs.app.settings import Settings

# ----- what the settings' rules and the CLI ask ------------------------------------------------

@dataclass(frozen=True)
class Subscription:
    """An e-mail subscription of the vendor topic and the share of sales it may receive."""

    key: str
    who: str
    emails_per_second_at_full_share: float
    limit: float

    @property
    def max_share(self) -> float:
        """The largest share of the notifications it can take at the design rate."""
        full = self.emails_per_second_at_full_share
        return min(1.0, self.limit / full) if full else 1.0


def email_subscriptions(settings: Settings, traffic: Traffic = TRAFFIC,
                        rate: float | None = None) -> list[Subscription]:
    """The vendor topic's e-mail subscriptions (the vendors', and the alert address when its
    filter lets every sale through) at `rate` (default: the design rate)."""
    if not settings.enabled("email_subscriptions"):
        return []
    rate = design_rate(settings) if rate is None else rate
    full = traffic.notifications * rate
    limit = quota(settings, "sns_email_per_subscription_per_second")
    found = [Subscription(f"vendor_subscriptions[{i}].protocol", f"{sub.vendor_id} by e-mail", full, limit)
             for i, sub in enumerate(settings.vendor_subscriptions) if sub.protocol == "email"]
    if not settings.alert_email_vendor_ids:
        found.append(Subscription("alert_email_vendor_ids", f"the alert e-mail {settings.alert_email} (every sale)",
                                  full, limit))
    return found


def problems(settings: Settings, traffic: Traffic = TRAFFIC,
             assumptions: Assumptions = ASSUMPTIONS) -> list[tuple[str, str]]:
    """(key, message) for each way the environment cannot apply on its account or cannot carry
    its design rate; one per problem."""
    found: list[tuple[str, str]] = []
    claims = concurrency_claims(settings)
    total, allowed = sum(claims.values()), reservable(settings)
    if total > allowed:
        account = quota(settings, "lambda_concurrent_executions")
        minimum = quota(settings, "lambda_unreserved_minimum")
        parts = ", ".join(f"{name} {value}" for name, value in claims.items())
        found.append(("quotas.lambda_concurrent_executions",
                      f"the functions reserve {total:,} concurrent executions ({parts}), more than the account's "
                      f"{account:,} less the {minimum:,} Lambda keeps unreserved ({allowed:,}): "
                      f"{QUOTAS['lambda_concurrent_executions'].increase(total + minimum)}, "
                      "or lower the functions' reserved concurrency"))
    rate = design_rate(settings)
    for hop in hops(settings, traffic, assumptions):
        limit = hop.limiting
        if limit is None or limit.max_rate >= rate:
            continue
        found.append((limit.key, f"{hop.name} carries at most {limit.max_rate:,.0f} webhooks/s "
                                 f"({limit.describe(with_key=False)}), below the design rate {rate:,.0f}/s "
                                 f"(webhooks_per_minute {settings.webhooks_per_minute:,}): {limit.increase(rate)}"))
    return found


def warnings(settings: Settings, traffic: Traffic = TRAFFIC) -> list[str]:
    """`key: message` lines for what may break at the design rate but need not (it depends on a
    vendor's share of sales): e-mail subscriptions that a large vendor would push over SNS's
    per-subscription e-mail rate."""
    found = []
    for sub in email_subscriptions(settings, traffic):
        if sub.max_share >= 1.0:
            continue
        found.append(f"{sub.key}: {sub.who}: SNS delivers at most {sub.limit:g} e-mails/s per subscription (a hard "
                     f"limit; above it SNS suspends the subscription) and the design rate publishes "
                     f"{sub.emails_per_second_at_full_share:,.1f} notifications/s: a vendor with more than "
                     f"{sub.max_share:.0%} of sales exceeds it; use a signed webhook (delivery.vendors) or an SQS "
                     "subscription")
    return found
