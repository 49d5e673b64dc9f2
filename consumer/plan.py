"""What to write for a batch: one history item per (pk, sk) and one LATEST candidate per pk.

Pure and in-memory, so the batched writers make the fewest requests and a replayed batch makes the
same choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumer.records import Accepted


@dataclass
class WritePlan:
    bars: dict[tuple[str, str], int] = field(default_factory=dict)  # (pk, sk) -> index of the kept record
    latest: dict[str, int] = field(default_factory=dict)  # pk -> index of its newest record
    duplicates: set[int] = field(default_factory=set)


def plan_writes(accepted: list[tuple[int, Accepted]]) -> WritePlan:
    """``accepted`` in stream order. Within a (pk, sk) the newest ``fetched_at`` wins and ties go to the
    later record (a refetched bar is more complete); the rest are duplicates. Per pk, LATEST is the
    record with the greatest (ts, fetched_at), ties again to the later record: always a kept record."""
    plan = WritePlan()
    bars, latest, duplicates = plan.bars, plan.latest, plan.duplicates
    by_index = dict(accepted)
    for index, record in accepted:
        key = (record.pk, record.ts)
        kept = bars.get(key)
        if kept is None:
            bars[key] = index
        elif record.fetched_at >= by_index[kept].fetched_at:
            duplicates.add(kept)
            bars[key] = index
        else:
            duplicates.add(index)
        newest = latest.get(record.pk)
        if newest is None:
            latest[record.pk] = index
        else:
            current = by_index[newest]
            if (record.ts, record.fetched_at) >= (current.ts, current.fetched_at):
                latest[record.pk] = index
    return plan
