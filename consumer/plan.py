"""What to write for a batch: one history item per (pk, sk), and one LATEST candidate per pk.

Pure and in-memory, so the batched writers make the fewest requests and a replayed batch makes the
same choices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from consumer.records import Accepted


@dataclass
class Dedupe:
    kept: dict[tuple[str, str], int] = field(default_factory=dict)  # (pk, sk) -> index of the kept record
    duplicates: dict[int, tuple[str, str]] = field(default_factory=dict)  # index -> (pk, sk) it duplicates
    first_of_pk: dict[str, int] = field(default_factory=dict)  # pk -> index of its first record in the batch

    def settle(self, first: int) -> int:
        """Lower the first unfinished index to any duplicate before it whose kept copy is not durable
        (at or after it): a duplicate is only done once the copy that replaced it is."""
        while True:
            lowered = min(
                (index for index, key in self.duplicates.items() if index < first <= self.kept[key]), default=first
            )
            if lowered == first:
                return first
            first = lowered


def dedupe(accepted: list[tuple[int, Accepted]]) -> Dedupe:
    """``accepted`` in stream order. Within a (pk, sk) the newest ``fetched_at`` wins and ties go to the
    later record (a refetched bar is more complete); the others are duplicates."""
    result = Dedupe()
    kept, duplicates = result.kept, result.duplicates
    fetched_at: dict[int, str] = {}
    for index, record in accepted:
        result.first_of_pk.setdefault(record.pk, index)
        key = (record.pk, record.ts)
        previous = kept.get(key)
        if previous is None:
            kept[key] = index
        elif record.fetched_at >= fetched_at[previous]:
            duplicates[previous] = key
            kept[key] = index
        else:
            duplicates[index] = key
            continue
        fetched_at[index] = record.fetched_at
    return result


def newest_per_pk(records: dict[int, Accepted], indices: Iterable[int]) -> dict[str, int]:
    """Per pk, the record with the greatest (ts, fetched_at), ties to the later record: LATEST's candidate."""
    newest: dict[str, tuple[str, str, int]] = {}
    for index in indices:
        record = records[index]
        rank = (record.ts, record.fetched_at, index)
        current = newest.get(record.pk)
        if current is None or rank > current:
            newest[record.pk] = rank
    return {pk: rank[2] for pk, rank in newest.items()}
