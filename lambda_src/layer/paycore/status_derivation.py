"""A payment's totals and the status derived from them (the vendor-facing status of the state row
and of every announcement): pure, shared by :mod:`paycore.lifecycle`'s fold and its readers."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Totals:
    """A payment's amounts (minor units) and how many of its disputes are open, won, lost."""

    captured: int = 0
    refunded: int = 0
    reversed: int = 0
    disputed: int = 0
    dispute_lost: int = 0
    open_disputes: int = 0
    won_disputes: int = 0
    lost_disputes: int = 0

    @property
    def net(self) -> int:
        return self.captured - self.refunded - self.reversed - self.disputed - self.dispute_lost

    def amounts(self) -> dict[str, int]:
        return {"captured_amount": self.captured, "refunded_amount": self.refunded,
                "reversed_amount": self.reversed, "disputed_amount": self.disputed,
                "dispute_lost_amount": self.dispute_lost, "net_amount": self.net}


def derived_status(payment_status: str | None, t: Totals) -> str:
    """The payment's status from its amounts: before the sale, its own status (``awaiting_sale``
    when only a refund or dispute has been seen); after it, what undoes it most."""
    if payment_status != "succeeded":
        return payment_status or "awaiting_sale"
    if t.open_disputes:
        return "disputed"
    if t.lost_disputes:
        return "dispute_lost"
    if t.reversed:
        return "reversed"
    if t.refunded and t.refunded >= t.captured:
        return "refunded"
    if t.refunded:
        return "partially_refunded"
    if t.won_disputes:
        return "dispute_won"
    return "succeeded"
