"""What one producer run did: the typed summary, and the JSON the Lambda returns for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cryptostream_model.sources import DEFAULT_SOURCE


@dataclass
class RunSummary:
    """Counts of one run. ``failed_pairs`` maps a pair to ``<kind>: <reason>``; ``newest_ts`` is each
    pair's watermark after the run (None when it has none). A run that found the interval's lease held,
    or the day's request budget spent before its first request, has ``skipped`` set and did nothing else."""

    interval: str
    mode: str
    source: str = DEFAULT_SOURCE
    pairs: list[str] = field(default_factory=list)
    fetched: int = 0
    published: int = 0
    skipped_seen: int = 0
    skipped_open: int = 0
    out_of_range: int = 0
    invalid_upstream: int = 0
    failed_pairs: dict[str, str] = field(default_factory=dict)
    # Pairs not requested because the source's daily request budget is spent: not failures, due again tomorrow.
    deferred_pairs: dict[str, str] = field(default_factory=dict)
    source_requests: int = 0  # HTTP requests to the run's source (retries and CCXT's market loading included)
    alphavantage_requests: int = 0  # the same, counted only when the source is Alpha Vantage (25 a day free)
    rate_limit_retries: int = 0
    kinesis_requests: int = 0
    kinesis_retries: int = 0
    newest_ts: dict[str, str | None] = field(default_factory=dict)
    duration_ms: float = 0.0
    skipped: str | None = None  # "lease held by <owner>" or "daily request budget spent: ..."

    def as_event_result(self) -> dict[str, Any]:
        """The Lambda's return value (docs/producer.md, "Summary")."""
        if self.skipped is not None:
            return {"skipped": self.skipped, "source": self.source, "interval": self.interval, "mode": self.mode}
        result = asdict(self)
        del result["skipped"]
        return result
