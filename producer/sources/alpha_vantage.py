"""Alpha Vantage as a ``MarketSource``: CRYPTO_INTRADAY, DIGITAL_CURRENCY_DAILY and CURRENCY_EXCHANGE_RATE
through ``producer.alpha_client`` (the ``alpha_vantage`` package with timeouts, retries and typed errors).

A compact answer holds 100 bars; ``outputsize=full`` is asked for when the run backfills or when ``since``
is older than a compact answer reaches, so a long outage is filled, not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptostream_model.intervals import DAILY, INTRADAY_INTERVALS, interval_seconds
from cryptostream_model.record import parse_ts
from cryptostream_model.sources import ALPHA_VANTAGE
from producer.alpha_client import AlphaVantageClient
from producer.bodies import parse_exchange_rate, parse_series
from producer.errors import UnexpectedBody
from producer.settings import Settings
from producer.sources.base import Attempt, BarQuery, Parsed

COMPACT_BARS = 100


def needs_full_output(since: str | None, interval: str, now: float) -> bool:
    """True when a compact answer (100 bars) would not reach back to ``since``."""
    if since is None or interval not in INTRADAY_INTERVALS:
        return False
    return now - parse_ts(since).timestamp() > (COMPACT_BARS - 5) * interval_seconds(interval)


class AlphaVantageSource:
    name = ALPHA_VANTAGE

    def __init__(self, client: AlphaVantageClient) -> None:
        self.client = client

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def fetch_bars(self, query: BarQuery, attempt: Attempt) -> Parsed:
        symbol, market = query.pair.split("-", 1)

        def call() -> Parsed:
            try:
                if query.interval == DAILY:
                    series, meta = self.client.daily(symbol, market)
                else:
                    full = query.backfill or needs_full_output(query.since, query.interval, query.now)
                    series, meta = self.client.intraday(symbol, market, query.interval, "full" if full else "compact")
            except KeyError as exc:  # the library indexes the body itself; a missing part means an odd body
                raise UnexpectedBody(f"body without {exc}") from None
            return parse_series(
                series, meta, symbol=symbol, market=market, interval=query.interval, fetched_at=query.fetched_at
            )

        return attempt(call)

    def fetch_spot(self, pair: str, fetched_at: str, attempt: Attempt) -> Parsed:
        symbol, market = pair.split("-", 1)

        def call() -> Parsed:
            try:
                rate = self.client.exchange_rate(symbol, market)
            except KeyError as exc:
                raise UnexpectedBody(f"body without {exc}") from None
            return parse_exchange_rate(rate, symbol=symbol, market=market, fetched_at=fetched_at)

        return attempt(call)


_sessions: dict[str, Any] = {}


def open_alpha_vantage(
    settings: Settings,
    clients: Any,
    sleep: Callable[[float], None],
    before_request: Callable[[], None] | None = None,
) -> AlphaVantageSource:
    """A client per run; the HTTP session (connection pool) is kept across warm invocations."""
    import requests

    from producer.aws import api_key

    key = api_key(settings, clients)
    session = _sessions.get(settings.base_url)
    if session is None:
        session = _sessions[settings.base_url] = requests.Session()
    client = AlphaVantageClient(
        key,
        base_url=settings.base_url,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        session=session,
        sleep=sleep,
        before_request=before_request,
    )
    return AlphaVantageSource(client)
