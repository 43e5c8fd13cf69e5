"""paycore.fifo_groups: the records of a message group stay in order, the groups run at once."""
from __future__ import annotations

import threading

from paycore import fifo_groups


def test_groups_keep_their_records_in_batch_order_and_the_order_of_their_first_record():
    records = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)]
    assert fifo_groups.by_group(records, lambda r: r[0]) == [[("b", 1), ("b", 3)], [("a", 2), ("a", 5)], [("c", 4)]]


def test_groups_run_at_once_and_results_come_back_in_group_order():
    started = threading.Event()

    def run(group):
        if group[0] == "waits":  # finishes only once the other group has started: they overlap
            assert started.wait(timeout=30)
        else:
            started.set()
        return [f"done {group[0]}"]

    assert fifo_groups.run_groups([["waits"], ["starts"]], run, max_workers=2) == [["done waits"], ["done starts"]]
    assert fifo_groups.run_groups([], run) == []
