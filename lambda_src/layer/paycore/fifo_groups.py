"""The message groups of one SQS FIFO batch, run on threads: each group's records in order, the
groups at once (the processor's payments, the delivery sender's endpoint + payment pairs).

What a group does when one of its records fails (stop, hold the rest) is the caller's: it runs
whole inside ``run_group``.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

Record = TypeVar("Record")
Result = TypeVar("Result")


def by_group(records: Sequence[Record], group_of: Callable[[Record], Hashable]) -> list[list[Record]]:
    """The records of each group, in batch order; the groups in the order of their first record."""
    groups: dict[Hashable, list[Record]] = {}
    for record in records:
        groups.setdefault(group_of(record), []).append(record)
    return list(groups.values())


def run_groups(groups: Sequence[Sequence[Record]], run_group: Callable[[Sequence[Record]], Result], *,
               pool: Executor | None = None, max_workers: int = 10) -> list[Result]:
    """``run_group(group)`` for every group, the groups at once on ``pool``'s threads (or on a pool
    of at most ``max_workers`` made for this call); the results in the order of ``groups``. An
    error ``run_group`` raises is raised here (after the other groups were started)."""
    if not groups:
        return []
    if pool is not None:
        return list(pool.map(run_group, groups))
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(groups))), thread_name_prefix="group") as own:
        return list(own.map(run_group, groups))
