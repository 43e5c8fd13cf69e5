"""The lifecycle corpus for Stripe: every arrival order of one payment's five events, through the
handlers, checked as lifecycle_corpus.py says."""
from __future__ import annotations

import pytest

from lifecycle_corpus import CASES, Case, case_id, check, corpus, expected_steps, expected_story  # noqa: F401


@pytest.mark.parametrize("case", CASES["stripe"], ids=case_id)
def test_every_arrival_order_tells_the_vendor_the_story_once_in_order_with_the_right_amounts(
        case, corpus, stripe_envelope, paypal_envelope):
    check(case, corpus, stripe_envelope, paypal_envelope)

def test_the_story_oracle_holds_what_comes_before_the_sale():
    case = Case("paypal", 0, ("closed", "refund2", "sale", "refund1", "opened"))
    assert expected_steps(case) == ["succeeded", "refund2", "dispute_opened", "dispute_lost", "refund1"]
    stripe = Case("stripe", 1, ("sale", "refund2", "closed", "refund1", "opened"))  # its refund event lists both
    assert expected_steps(stripe) == ["succeeded", "refund1", "refund2", "dispute_opened", "dispute_won"]
    assert expected_story(Case("stripe", 2, ("refund2", "sale", "refund1", "opened", "closed"))) == [
        ("succeeded", 10_500), ("refunded", 2_000), ("refunded", 3_000), ("dispute_opened", 5_500),
        ("dispute_lost", 5_500)]
