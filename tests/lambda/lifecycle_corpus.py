"""The lifecycle corpus (run by test_lifecycle_corpus_stripe.py and test_lifecycle_corpus_paypal.py,
two modules so the test processes can share them): for each provider, every arrival order of one
payment's sale, partial refund, second partial refund, dispute opened and dispute closed (120 per
provider), with a webhook the provider delivers twice, every fourth batch redelivered by the
queue, and the bus events repeated and reversed on every other order, through the handlers
(lifecycle_platform.py): processor -> ledger -> state rows -> Pipe B -> rules -> notifier (SNS)
and fan-out -> sender (signed webhooks to a vendor server).

For each order: one ledger row per provider event; the final amounts and derived status; and each
vendor channel (the SNS messages, the signed webhooks) tells the story once, sale first, each
announcement with its own amount and the running totals, in the order :func:`expected_story`
derives from the arrival order (what arrives before the sale is told right after it, in the order
it happened; a dispute closure seen first tells the opening before it). Currencies rotate over
USD, JPY (no decimals) and KWD (three); the dispute is lost on even orders, won on odd ones.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

import lifecycle_events as build
from handler_constants import NOW_S
from lifecycle_platform import Platform, platform

STEPS = ("sale", "refund1", "refund2", "opened", "closed")
ORDERS = list(itertools.permutations(STEPS))
CURRENCIES = ("USD", "JPY", "KWD")
SALE, REFUND1, REFUND2, DISPUTE = 10_500, 2_000, 3_000, 5_500  # minor units
T0 = NOW_S - 30 * 86_400  # the sale, a month before the deliveries
#: when each step happened (refunds an hour apart, the dispute a day after the sale, closed a week later)
WHEN = {"sale": T0, "refund1": T0 + 3_600, "refund2": T0 + 7_200, "opened": T0 + 86_400, "closed": T0 + 8 * 86_400}


def iso(epoch_s: int) -> str:
    from paycore.model import iso_from_epoch_ms

    return iso_from_epoch_ms(epoch_s * 1000)


@dataclass(frozen=True)
class Case:
    provider: str
    index: int
    order: tuple[str, ...]

    @property
    def currency(self) -> str:
        return CURRENCIES[self.index % 3]

    @property
    def lost(self) -> bool:
        return self.index % 2 == 0

    @property
    def payment(self) -> str:
        return f"pi_corpus{self.index:03d}" if self.provider == "stripe" else f"CAPCORPUS{self.index:03d}"

    def event_id(self, step: str) -> str:
        return f"evt_{self.payment}_{step}" if self.provider == "stripe" else f"WH-{self.payment}-{step.upper()}"


def stripe_event(case: Case, step: str) -> dict[str, Any]:
    pi, currency, created = case.payment, case.currency.lower(), WHEN[step]
    refund1 = build.stripe_refund_object(f"re_{pi}_1", pi, REFUND1, currency=currency, created=WHEN["refund1"])
    refund2 = build.stripe_refund_object(f"re_{pi}_2", pi, REFUND2, currency=currency, created=WHEN["refund2"])
    if step == "sale":
        return build.stripe_sale(case.event_id(step), pi, SALE, currency=currency, created=created)
    if step in ("refund1", "refund2"):  # the Charge lists the refunds made so far
        refunds = [refund1] if step == "refund1" else [refund1, refund2]
        return build.stripe_charge_refunded(case.event_id(step), pi, SALE, refunds, currency=currency, created=created)
    status, type_ = ("needs_response", "charge.dispute.created") if step == "opened" else (
        "lost" if case.lost else "won", "charge.dispute.closed")
    return build.stripe_dispute(case.event_id(step), pi, f"dp_{pi}", DISPUTE, status, currency=currency,
                                created=created, opened=WHEN["opened"], type_=type_)


def paypal_event(case: Case, step: str) -> dict[str, Any]:
    capture, currency, when = case.payment, case.currency, iso(WHEN[step])
    if step == "sale":
        return build.paypal_capture(case.event_id(step), capture, SALE, currency=currency, when=when)
    if step in ("refund1", "refund2"):
        amount = REFUND1 if step == "refund1" else REFUND2
        return build.paypal_refund(case.event_id(step), capture, f"REF{capture}{step[-1]}", amount, currency=currency,
                                   when=when)
    outcome = None if step == "opened" else ("RESOLVED_BUYER_FAVOUR" if case.lost else "RESOLVED_SELLER_FAVOUR")
    return build.paypal_dispute(case.event_id(step), capture, f"PP-D-{capture}", DISPUTE, currency=currency,
                                when=when, opened=iso(WHEN["opened"]), outcome=outcome)


def expected_steps(case: Case) -> list[str]:
    """What the vendor must hear, in order, from the arrival order: a Stripe refund event lists the
    refunds made so far; a closure seen first opened the dispute first; nothing is told before the
    sale, and what came before it is told right after it, in the order it happened."""
    closed = "dispute_lost" if case.lost else "dispute_won"
    carries = {"sale": ["succeeded"], "refund1": ["refund1"], "opened": ["dispute_opened"],
               "refund2": ["refund1", "refund2"] if case.provider == "stripe" else ["refund2"],
               "closed": ["dispute_opened", closed]}
    order_of = {"succeeded": 0, "refund1": 1, "refund2": 2, "dispute_opened": 3, closed: 4}
    told: list[str] = []
    held: list[str] = []
    for step in case.order:
        for item in carries[step]:
            if item in told or item in held:
                continue
            if item == "succeeded":
                told += ["succeeded"] + sorted(held, key=order_of.__getitem__)
                held = []
            elif "succeeded" in told:
                told.append(item)
            else:
                held.append(item)
    return told


def expected_story(case: Case) -> list[tuple[str, int]]:
    """(kind, own amount) of each announcement of :func:`expected_steps`."""
    amounts = {"succeeded": SALE, "refund1": REFUND1, "refund2": REFUND2}
    return [("refunded" if step.startswith("refund") else step, amounts.get(step, DISPUTE))
            for step in expected_steps(case)]


@pytest.fixture(scope="module")
def corpus(paypal_keys) -> Iterator[Platform]:
    """The platform for one test module (the state rows tapped: see lifecycle_platform.py)."""
    with platform(tap=True) as built:
        yield built


def _bodies(case: Case, stripe_envelope, paypal_envelope) -> list[str]:
    """The webhooks of one order, the one at (index % 5) delivered twice by the provider."""
    make = stripe_event if case.provider == "stripe" else paypal_event
    envelope = stripe_envelope if case.provider == "stripe" else paypal_envelope
    bodies = [envelope(make(case, step)) for step in case.order]
    again = case.index % 5
    bodies.insert(again + 1, envelope(make(case, case.order[again])))  # the provider's retry: a new request
    return bodies


CASES = {provider: [Case(provider, index, order) for index, order in enumerate(ORDERS)] for provider in ("stripe", "paypal")}


def case_id(case: Case) -> str:
    return "-".join(case.order)


def check(case: Case, corpus: Platform, stripe_envelope, paypal_envelope) -> None:
    """One arrival order through the platform; every check of the module docstring."""
    bodies = _bodies(case, stripe_envelope, paypal_envelope)
    assert corpus.process(bodies, case.payment) == {"batchItemFailures": []}
    if case.index % 4 == 0:  # the queue delivers the whole batch again
        assert corpus.process(bodies, case.payment) == {"batchItemFailures": []}
    bus = corpus.bus_events()
    if case.index % 2:
        bus = list(reversed(bus)) + bus[:1]  # the bus reorders and repeats
    assert corpus.tell(bus) == {"notifier": 0, "fanout": 0}

    # the ledger: each provider event once
    assert sorted(corpus.event_ids(case.payment)) == sorted(case.event_id(step) for step in STEPS)
    # the final amounts and status
    lost = DISPUTE if case.lost else 0
    state = corpus.state(case.payment)
    assert state is not None
    assert {k: state[k] for k in ("captured_amount", "refunded_amount", "disputed_amount", "dispute_lost_amount",
                                  "net_amount", "status", "currency")} == {
        "captured_amount": SALE, "refunded_amount": REFUND1 + REFUND2, "disputed_amount": 0, "dispute_lost_amount": lost,
        "net_amount": SALE - REFUND1 - REFUND2 - lost, "status": "dispute_lost" if case.lost else "partially_refunded",
        "currency": case.currency}
    assert state["held"] == []

    story = expected_story(case)
    sns = [m for m in corpus.notifications() if m["transaction_id"] == case.payment]
    hooks = corpus.webhooks(case.payment)
    for channel, told in (("sns", [_as_told(m) for m in sns]), ("webhooks", [_as_told(h["data"], h["type"]) for h in hooks])):
        assert [(t["kind"], t["amount"]) for t in told] == story, channel
        _assert_running_totals(told, case, channel)
    assert corpus.webhook_requests(case.payment) == len(hooks)  # no webhook sent twice


def _as_told(message: dict[str, Any], event_type: str | None = None) -> dict[str, Any]:
    return {**message, "kind": (event_type or message["event_type"]).removeprefix("payment.")}


def _assert_running_totals(told: list[dict[str, Any]], case: Case, channel: str) -> None:
    """Each announcement: its sequence number, its own amount, and the totals of everything told up to it."""
    captured = refunded = disputed = lost = 0
    for number, message in enumerate(told, start=1):
        kind, amount = message["kind"], message["amount"]
        captured += amount if kind == "succeeded" else 0
        refunded += amount if kind == "refunded" else 0
        disputed += amount if kind == "dispute_opened" else -amount if kind in ("dispute_won", "dispute_lost") else 0
        lost += amount if kind == "dispute_lost" else 0
        expected_amount = {"succeeded": SALE, "dispute_opened": DISPUTE, "dispute_won": DISPUTE,
                           "dispute_lost": DISPUTE}.get(kind)
        assert message["sequence"] == number, (channel, message)
        assert expected_amount is None or amount == expected_amount, (channel, message)
        assert message["currency"] == case.currency, (channel, message)
        assert (message["captured_amount"], message["refunded_amount"], message["disputed_amount"],
                message["dispute_lost_amount"], message["net_amount"]) == (
            captured, refunded, disputed, lost, captured - refunded - disputed - lost), (channel, message)
    assert sorted(m["amount"] for m in told if m["kind"] == "refunded") == [REFUND1, REFUND2], channel
