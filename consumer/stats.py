"""What one consumer invocation did with its batch: the figures behind logs, metrics and the local runner."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class BatchStats:
    """Per-batch accounting. Every input record ends in exactly one of: written, duplicates,
    quarantined, failed (reported in ``batchItemFailures`` for Lambda to retry)."""

    records: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    stale_latest_skipped: int = 0
    latest_written: int = 0
    retries: int = 0
    dynamodb_requests: int = 0
    sqs_requests: int = 0
    ingest_lag_ms_max: float = 0.0
    ingest_lag_ms_mean: float = 0.0
    shard_id: str = ""
    first_failed_sequence_number: str | None = None

    @property
    def accounted(self) -> int:
        """Records with a known fate; equals ``records`` after a successful accounting."""
        return self.written + self.duplicates + self.quarantined + self.failed

    def as_dict(self) -> dict[str, object]:
        body = asdict(self)
        body["quarantined_by_reason"] = dict(self.quarantined_by_reason)
        return body


# Called with each batch's stats once the batch is done (the local stack and the bench count with it).
StatsHook = Callable[[BatchStats], None]
