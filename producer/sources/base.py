"""The one interface every market data source implements, and what it returns.

A source turns (pair, interval, since) into validated bars, and a pair into a spot snapshot; it raises
the ``producer.errors`` classes (``RateLimited``, ``InvalidSymbol``, ``UpstreamUnavailable``, ...) so the
handler's retry, throttle and ``failed_pairs`` handling is the same whichever source a run uses.
``attempt`` is the run's rate-limit policy: the source passes each upstream request through it, so a
throttled request is retried on its own (a paginated backfill does not start over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cryptostream_model.record import Quote

T = TypeVar("T")
Attempt = Callable[[Callable[[], T]], T]


def direct(call: Callable[[], T]) -> T:
    """An ``attempt`` without retries (tests, one-off calls)."""
    return call()


@dataclass
class Parsed:
    """Valid quotes in ascending ``ts`` order, plus one reason per invalid upstream row."""

    quotes: list[Quote] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BarQuery:
    """Bars of one pair: ``since`` is the oldest bar open time wanted (contract timestamp) or None for the
    source's most recent window; ``until`` bounds a backfill; ``backfill`` asks for as much as the source
    gives in one run (Alpha Vantage's ``outputsize=full``); ``now`` is the run's clock (epoch seconds)."""

    pair: str
    interval: str
    since: str | None
    until: str | None
    backfill: bool
    now: float
    fetched_at: str


class MarketSource(Protocol):
    """A market data source as the producer sees it."""

    name: str  # the record's ``source`` field

    @property
    def requests_made(self) -> int:
        """Upstream HTTP requests this source made since it was opened (retries included)."""
        ...

    def fetch_bars(self, query: BarQuery, attempt: Attempt) -> Parsed:
        """Bars of ``query.pair`` at ``query.interval`` from ``query.since`` on, ascending; raises SourceError."""
        ...

    def fetch_spot(self, pair: str, fetched_at: str, attempt: Attempt) -> Parsed:
        """One spot quote of ``pair`` (price as open/high/low/close, volume 0, bid/ask when known)."""
        ...
