"""Fetch one pair from the run's source and keep the bars this run should publish.

- Rate limits: a short-window throttle (Alpha Vantage's ``Note`` or burst ``Information``, an exchange's
  HTTP 429 or rate-limit body) is retried with doubling, jittered waits while the run's deadline allows;
  Alpha Vantage's daily quota is not (no wait inside one invocation clears it).
- Only closed bars: sources include the bar still in progress (today's daily bar, the current intraday
  bar). A bar is published once its close time has passed, or once a newer bar exists, so the watermark
  never jumps past a bar whose final values are yet to come.
- Incremental mode asks the source for bars from the watermark on and keeps those newer than it (Alpha
  Vantage asks for ``outputsize=full`` when the watermark is older than a compact answer covers; an
  exchange pages forward from it), so a long outage is filled, not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptostream_model.intervals import SPOT, interval_seconds
from cryptostream_model.record import Quote, format_ts, parse_ts
from cryptostream_runtime.retry import RetryPolicy
from producer.errors import RateLimited
from producer.settings import RunPlan
from producer.sources.alpha_vantage import COMPACT_BARS, needs_full_output
from producer.sources.base import BarQuery, MarketSource

MAX_RATE_LIMIT_WAIT_SECONDS = 60.0
__all__ = ["COMPACT_BARS", "PairFetch", "fetch_pair", "needs_full_output", "rate_limit_policy"]


@dataclass
class PairFetch:
    pair: str
    quotes: list[Quote] = field(default_factory=list)  # to publish, ascending ts
    fetched: int = 0
    invalid: list[str] = field(default_factory=list)
    skipped_seen: int = 0
    skipped_open: int = 0
    out_of_range: int = 0
    rate_limit_retries: int = 0


def rate_limit_policy(
    first_wait_seconds: float, deadline: float, sleep: Callable[[float], None] | None = None
) -> RetryPolicy:
    """Waits after a short-window throttle: retry n waits between half and all of
    ``first_wait_seconds * 2**(n-1)`` (at most 60 s), until a wait would end at ``deadline``
    (a ``time.monotonic()`` value: the Lambda's remaining time minus a reserve)."""
    return RetryPolicy(
        max_attempts=None,
        base_seconds=first_wait_seconds / 2,
        cap_seconds=MAX_RATE_LIMIT_WAIT_SECONDS,
        jitter_floor=0.5,
        deadline=deadline,
        sleep=sleep,
    )


def call_with_rate_limit_retries(
    call: Callable[[], object], policy: RetryPolicy, on_retry: Callable[[], None] = lambda: None
) -> object:
    retry = 0
    while True:
        try:
            return call()
        except RateLimited as exc:
            if exc.daily:
                raise
            retry += 1
            wait = policy.delay(retry)
            if wait is None:
                raise
            on_retry()
            policy.wait(wait)


def fetch_pair(
    source: MarketSource,
    pair: str,
    plan: RunPlan,
    watermark: str | None,
    *,
    rate_limits: RetryPolicy,
    now: float,
) -> PairFetch:
    """Fetch, parse and filter one pair; raises SourceError subclasses on refusal."""
    result = PairFetch(pair=pair)
    fetched_at = format_ts(datetime.fromtimestamp(now, UTC))

    def on_retry() -> None:
        result.rate_limit_retries += 1

    def attempt(call: Callable[[], object]) -> object:
        return call_with_rate_limit_retries(call, rate_limits, on_retry)

    if plan.interval == SPOT:
        parsed = source.fetch_spot(pair, fetched_at, attempt)
    else:
        backfill = plan.mode == "full"
        since = (format_ts(plan.start) if plan.start else None) if backfill else watermark
        until = format_ts(plan.end) if backfill and plan.end else None
        query = BarQuery(pair, plan.interval, since, until, backfill=backfill, now=now, fetched_at=fetched_at)
        parsed = source.fetch_bars(query, attempt)
    result.fetched = len(parsed.quotes)
    result.invalid = parsed.invalid
    keep = _closed(parsed.quotes, plan.interval, now, result)
    if plan.mode == "full":
        start = format_ts(plan.start) if plan.start else ""
        end = format_ts(plan.end) if plan.end else "~"  # "~" sorts after every timestamp
        result.quotes = [quote for quote in keep if start <= quote.ts <= end]
        result.out_of_range = len(keep) - len(result.quotes)
    else:
        result.quotes = [quote for quote in keep if watermark is None or quote.ts > watermark]
        result.skipped_seen = len(keep) - len(result.quotes)
    return result


def _closed(quotes: list[Quote], interval: str, now: float, result: PairFetch) -> list[Quote]:
    if interval == SPOT or not quotes:
        return quotes
    length = interval_seconds(interval)
    newest = quotes[-1]
    if parse_ts(newest.ts).timestamp() + length <= now:
        return quotes
    result.skipped_open = 1
    return quotes[:-1]
