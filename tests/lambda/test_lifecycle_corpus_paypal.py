"""The lifecycle corpus for PayPal: every arrival order of one payment's five events, through the
handlers, checked as lifecycle_corpus.py says."""
from __future__ import annotations

import pytest

from lifecycle_corpus import CASES, STEPS, Case, case_id, check, corpus, expected_story  # noqa: F401  (fixture)


@pytest.mark.parametrize("case", CASES["paypal"], ids=case_id)
def test_every_arrival_order_tells_the_vendor_the_story_once_in_order_with_the_right_amounts(
        case, corpus, stripe_envelope, paypal_envelope):
    check(case, corpus, stripe_envelope, paypal_envelope)
